//! Local-complexity counting through the backend (the W3 kernel, scaled
//! down to fit a criterion sample): 500 points, P = 25, the W1 network
//! (784-200-200-200-10 ReLU), radius 0.05. The bench times
//! `Backend::sign_changes`: neighbourhood vertices, a forward pass keeping
//! pre-activations, and the sign comparison against each point's first vertex.

mod common;

use cpwl::backend::{Backend, CpuBackend, Neighbourhood};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ndarray::Array2;

const WIDTHS: [usize; 5] = [784, 200, 200, 200, 10];
const POINTS: usize = 500;
const P: usize = 25;

/// Unit directions, one per row.
fn directions(p: usize, dim: usize, seed: u64) -> Array2<f64> {
    let mut rng = common::Rng::new(seed);
    let mut d = Array2::from_shape_simple_fn((p, dim), || rng.normal());
    for mut row in d.rows_mut() {
        let norm = row.dot(&row).sqrt();
        row /= norm;
    }
    d
}

fn bench(c: &mut Criterion) {
    let net = common::he_mlp(&WIDTHS, 0);
    let x = common::uniform_points(POINTS, WIDTHS[0], 1);
    let dirs = directions(P, WIDTHS[0], 2);
    let hood = Neighbourhood {
        directions: dirs.view(),
        radius: 0.05,
        count_output: true,
    };
    let cpu = CpuBackend::default();
    let mut group = c.benchmark_group("lc");
    group.sample_size(10);
    let macs: usize = WIDTHS.windows(2).map(|w| w[0] * w[1]).sum();
    group.throughput(Throughput::Elements((2 * POINTS * 2 * P * macs) as u64));
    group.bench_function("sign_changes_500x25", |b| {
        b.iter(|| cpu.sign_changes(&net, x.view(), hood).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
