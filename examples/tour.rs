//! A tour of cpwl on embedded data: a small classifier, its activation
//! patterns, exact local maps and the region of a point.
//!
//! Run with `cargo run --release --example tour`.

use cpwl::{Domain, Network};
use ndarray::{array, Array1, Array2};

/// A deterministic 2-16-16-3 leaky-ReLU classifier (weights from a fixed formula).
fn classifier() -> cpwl::Result<Network> {
    let weights = |rows: usize, cols: usize, salt: f64| {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * cols + j) as f64 * 0.7548 + salt).sin() * 1.3
        })
    };
    let bias = |n: usize, salt: f64| Array1::from_shape_fn(n, |i| (i as f64 * 1.618 + salt).cos() * 0.5);
    Network::builder(2)
        .dense(weights(16, 2, 0.1), bias(16, 0.2))?
        .leaky_relu(0.05)
        .dense(weights(16, 16, 0.3), bias(16, 0.4))?
        .leaky_relu(0.05)
        .dense(weights(3, 16, 0.5), bias(3, 0.6))?
        .build()
}

fn main() -> cpwl::Result<()> {
    let net = classifier()?;
    println!(
        "network: {} inputs, {} hidden units, {} outputs",
        net.input_dim(),
        net.unit_count(),
        net.output_dim()
    );
    let domain = Domain::cube(2, -2.0, 2.0);
    for x in [array![0.3, -0.7], array![1.5, 1.2], array![-1.0, 0.25]] {
        let pattern = net.pattern(x.view())?;
        let map = net.local_affine(x.view())?;
        let region = net.region_at(x.view(), &domain)?;
        println!("x = {x}: pattern {pattern}");
        println!("  output {} = A x + b with A = {}", net.forward(x.view())?, map.a);
        println!(
            "  region: {} constraints, ball of radius {:.4} around x inside",
            region.polytope().len(),
            region.radius()
        );
    }
    Ok(())
}
