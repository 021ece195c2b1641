// scratch: not committed
#[path = "../benches/common/mod.rs"]
mod bench_common;
use cpwl::plot::{to_svg, PlotOptions};
use cpwl::regions::{enumerate, EnumOptions, Method};
use cpwl::{Domain, Plane, Window};
use std::hash::{Hash, Hasher};
use std::time::Instant;
fn h(s: &str) -> u64 {
    let mut x = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut x);
    x.finish()
}
fn main() -> cpwl::Result<()> {
    let hw: f64 = std::env::args().nth(1).map_or(6.0, |a| a.parse().unwrap());
    let net = bench_common::he_mlp(&[784, 200, 200, 200, 10], 0);
    let points = bench_common::uniform_points(3, 784, 1);
    let plane = Plane::through(points.row(0), points.row(1), points.row(2))?;
    let opts = EnumOptions {
        method: Method::PlaneSplit,
        ..Default::default()
    };
    let part = enumerate(&net, &Domain::plane(plane, Window::square(hw)), &opts)?;
    println!("{} regions", part.len());
    let phase = std::env::var("PHASE").unwrap_or_default();
    if phase == "enum" {
        return Ok(());
    }
    if phase == "boundary" {
        let b = part.decision_boundary()?;
        println!("{}", b.len());
        return Ok(());
    }
    if phase == "cells" {
        let c = cpwl::plot::class_cells(&part)?;
        println!("{}", c.len());
        return Ok(());
    }
    if phase == "svg" {
        let s = to_svg(&part, &PlotOptions::default())?;
        println!("{}", s.len());
        return Ok(());
    }
    if phase == "png" {
        cpwl::plot::render_png(&part, "/tmp/k5plot/x.png", &PlotOptions::default())?;
        return Ok(());
    }
    let t = Instant::now();
    let b = part.decision_boundary()?;
    println!(
        "boundary {:?} {} pieces hash {:x}",
        t.elapsed(),
        b.len(),
        h(&format!("{:?}", b.pieces()))
    );
    let t = Instant::now();
    let c = cpwl::plot::class_cells(&part)?;
    println!(
        "cells {:?} {} hash {:x}",
        t.elapsed(),
        c.len(),
        h(&format!("{:?}", c))
    );
    let t = Instant::now();
    let s = to_svg(&part, &PlotOptions::default())?;
    println!("svg {:?} {} bytes hash {:x}", t.elapsed(), s.len(), h(&s));
    std::fs::write(format!("/tmp/k5plot/w1_{hw}.svg"), &s).unwrap();
    #[cfg(feature = "plot")]
    {
        let t = Instant::now();
        cpwl::plot::render_png(&part, format!("/tmp/k5plot/w1_{hw}.png"), &PlotOptions::default())?;
        println!("png {:?}", t.elapsed());
    }
    Ok(())
}
