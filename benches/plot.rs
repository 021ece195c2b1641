//! Pictures of W1's 1e5-region window (half-width 36 of the slice through
//! three points of the 784-200-200-200-10 ReLU MLP, 99,856 regions): the SVG
//! document, the PNG file (feature `plot`), and the GeoJSON and mesh JSON
//! texts. The target (issue 15, item 4) is under a second for each picture.
//! Criterion's "elem/s" is regions per second.
//!
//! ```text
//! cargo bench --features plot --bench plot
//! ```

mod common;

use std::time::Duration;

use common::w1::{HALF_WIDTH_1E5, W1};
use cpwl::plot::{to_svg, PlotOptions};
use cpwl::regions::{enumerate, GeoJsonOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let w1 = W1::new();
    let domain = w1.window(HALF_WIDTH_1E5);
    let part = enumerate(&w1.net, &domain, &W1::options()).expect("enumeration");
    eprintln!("plot bench: {} regions", part.len());
    let plot = PlotOptions::default();
    let mut group = c.benchmark_group("plot_w1_1e5");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .throughput(Throughput::Elements(part.len() as u64));
    group.bench_function("svg", |b| b.iter(|| to_svg(&part, &plot).unwrap()));
    #[cfg(feature = "plot")]
    {
        let file = std::env::temp_dir().join(format!("cpwl_plot_bench_{}.png", std::process::id()));
        group.bench_function("png", |b| {
            b.iter(|| cpwl::plot::render_png(&part, &file, &plot).unwrap())
        });
        let _ = std::fs::remove_file(&file);
    }
    let json = GeoJsonOptions {
        precision: Some(6),
        ..Default::default()
    };
    group.bench_function("geojson_6_digits", |b| {
        b.iter(|| part.to_geojson_with(&json).unwrap())
    });
    group.bench_function("mesh_json_6_digits", |b| {
        b.iter(|| part.to_mesh_json_with(&json).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
