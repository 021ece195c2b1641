//! W1: every region of a 2-D slice through three points of the
//! 784-200-200-200-10 ReLU MLP (He init), with polygons, patterns and
//! adjacency, by the 2-D splitter. The square windows are sized for about
//! 1e4 and 1e5 regions. Criterion's "elem/s" is regions per second.

mod common;

use std::time::Duration;

use common::w1::{HALF_WIDTH_1E4, HALF_WIDTH_1E5, W1};
use cpwl::regions::enumerate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Half-widths of the square windows: 10,698 and 99,856 regions.
const HALF_WIDTHS: [f64; 2] = [HALF_WIDTH_1E4, HALF_WIDTH_1E5];

fn bench(c: &mut Criterion) {
    let w1 = W1::new();
    let (net, opts) = (&w1.net, W1::options());
    let mut group = c.benchmark_group("w1_slice");
    group.sample_size(10).warm_up_time(Duration::from_millis(1));
    for h in HALF_WIDTHS {
        let domain = w1.window(h);
        let part = enumerate(net, &domain, &opts).expect("enumeration");
        eprintln!(
            "w1 half-width {h}: {} regions, {} adjacent pairs, per layer {:?}, {:?}",
            part.len(),
            part.adjacency().len(),
            part.layer_counts().unwrap_or_default(),
            part.stats().elapsed
        );
        group.throughput(Throughput::Elements(part.len() as u64));
        group.bench_function(format!("half_width_{h}"), |b| {
            b.iter(|| enumerate(net, &domain, &opts).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
