//! W2: LP enumeration of every region of a d-64-64-64-1 ReLU MLP (PyTorch's
//! default init) in the box [-h, h]^d, for d = 3, 4, 6, 8 with h = 0.1, 0.04,
//! 0.025, 0.015 (the spec's boxes: a few hundred regions each; with He init
//! they hold 1e5 or more). Before timing, one run per case prints the region
//! count and the LPs solved and skipped per region. The side-by-side run
//! with the scipy walk is `benches/peers/w2_lp_walk.py` (twice these widths).
//!
//! The group `w2_skeleton` runs the same cases by [`Method::Skeleton`] (its
//! first run prints whether it fell back to the walk); `cargo bench --bench
//! w2_lp -- w2_skeleton` times it alone.

mod common;

use std::time::Duration;

use cpwl::regions::{enumerate, EnumOptions, Method};
use cpwl::Domain;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const CASES: [(usize, f64); 4] = [(3, 0.1), (4, 0.04), (6, 0.025), (8, 0.015)];

fn bench(c: &mut Criterion) {
    bench_method(c, "w2_lp", Method::Lp);
    bench_method(c, "w2_skeleton", Method::Skeleton);
}

fn bench_method(c: &mut Criterion, name: &str, method: Method) {
    let opts = EnumOptions {
        method,
        ..Default::default()
    };
    let mut group = c.benchmark_group(name);
    group.sample_size(10).warm_up_time(Duration::from_millis(1));
    for (d, h) in CASES {
        let net = common::torch_mlp(&[d, 64, 64, 64, 1], d as u64);
        let domain = Domain::cube(d, -h, h);
        let part = enumerate(&net, &domain, &opts).expect("enumeration");
        let s = part.stats();
        let n = part.len() as f64;
        eprintln!(
            "{name} d = {d}, h = {h} (ran {:?}): {} regions, {} thin, {:.2} LPs solved and {:.2} skipped per region, {:?}",
            s.method,
            part.len(),
            part.rejected_thin(),
            s.lps_solved as f64 / n,
            s.lps_skipped as f64 / n,
            s.elapsed
        );
        group.throughput(Throughput::Elements(part.len() as u64));
        group.bench_function(format!("d{d}_h{h}"), |b| {
            b.iter(|| enumerate(&net, &domain, &opts).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
