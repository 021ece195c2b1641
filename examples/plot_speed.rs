//! Times the pictures and the JSON exports of one W1 window (the slice
//! through three points of the 784-200-200-200-10 ReLU MLP): enumeration
//! once, then the decision boundary and the arg-max cells alone, SVG, PNG
//! (feature `plot`), GeoJSON and the indexed mesh JSON, each timed and
//! sized. The argument is the window's half-width (36: about 1e5 regions, the
//! issue's target of under a second per picture; 2 for a quick check).
//!
//! ```text
//! cargo run --release --features plot --example plot_speed -- 36
//! ```

#[path = "../benches/common/mod.rs"]
mod bench_common;

use std::time::Instant;

use cpwl::plot::{to_svg, PlotOptions};
use cpwl::regions::{enumerate, EnumOptions, GeoJsonOptions, Method};
use cpwl::{Domain, Plane, Window};

fn main() -> cpwl::Result<()> {
    let half_width: f64 = std::env::args()
        .nth(1)
        .map_or(36.0, |a| a.parse().expect("the half-width is a number"));
    let net = bench_common::he_mlp(&[784, 200, 200, 200, 10], 0);
    let points = bench_common::uniform_points(3, 784, 1);
    let plane = Plane::through(points.row(0), points.row(1), points.row(2))?;
    let opts = EnumOptions {
        method: Method::PlaneSplit,
        ..Default::default()
    };
    let started = Instant::now();
    let part = enumerate(&net, &Domain::plane(plane, Window::square(half_width)), &opts)?;
    println!(
        "half-width {half_width}: {} regions enumerated in {:.2?}",
        part.len(),
        started.elapsed()
    );
    // The two parts of a picture that cost most, alone (a picture runs them
    // on two threads where there are).
    let started = Instant::now();
    let boundary = part.decision_boundary()?;
    println!(
        "decision boundary: {:.2?}, {} pieces",
        started.elapsed(),
        boundary.len()
    );
    let started = Instant::now();
    let cells = cpwl::plot::class_cells(&part)?;
    println!("arg-max cells: {:.2?}, {} cells", started.elapsed(), cells.len());
    let plot = PlotOptions::default();
    let started = Instant::now();
    let svg = to_svg(&part, &plot)?;
    println!("svg: {:.2?}, {} bytes", started.elapsed(), svg.len());
    #[cfg(feature = "plot")]
    {
        let file = std::env::temp_dir().join(format!("cpwl_plot_speed_{}.png", std::process::id()));
        let started = Instant::now();
        cpwl::plot::render_png(&part, &file, &plot)?;
        let elapsed = started.elapsed();
        let bytes = std::fs::metadata(&file).map_or(0, |m| m.len());
        let _ = std::fs::remove_file(&file);
        println!("png: {elapsed:.2?}, {bytes} bytes");
    }
    for precision in [None, Some(6)] {
        let json = GeoJsonOptions {
            precision,
            ..Default::default()
        };
        let started = Instant::now();
        let geo = part.to_geojson_with(&json)?;
        let geo_time = started.elapsed();
        let started = Instant::now();
        let mesh = part.to_mesh_json_with(&json)?;
        println!(
            "precision {precision:?}: geojson {geo_time:.2?} {} bytes; mesh json {:.2?} {} bytes",
            geo.len(),
            started.elapsed(),
            mesh.len()
        );
    }
    Ok(())
}
