//! How often the f32 route (`Precision::F32`) takes another sign than f64
//! on the W3 workload: local complexity of 10,000 points with P = 25
//! reference-compatible directions at radius 0.005 through the
//! 784-200-200-200-10 ReLU MLP.
//!
//! For every layer it prints how many (vertex, unit) signs differ between
//! f32 and f64 out of all, and how many points' local-complexity counts
//! differ (and by how much in total). Differences come only from near-ties,
//! units whose pre-activation is within rounding of zero (see
//! `cpwl::backend::Precision`).
//!
//! ```text
//! cargo run --release --example f32_ties                      # generated W3 (bench network and points)
//! cargo run --release --example f32_ties -- target/peers/w3   # the peers' W3 files (mlp.npz, points.npy, directions.npy)
//! cargo run --release --example f32_ties -- - 2000            # fewer points
//! ```

#[path = "../benches/common/mod.rs"]
mod bench_common;

use std::path::Path;

use cpwl::backend::{Backend, CpuBackend, Keep, Neighbourhood, Precision};
use cpwl::lc::Directions;
use cpwl::Network;
use ndarray::{s, Array2, ArrayView2, Ix2};

const WIDTHS: [usize; 5] = [784, 200, 200, 200, 10];
const POINTS: usize = 10_000;
const P: usize = 25;
const DIRECTION_SEED: u64 = 0;
const RADIUS: f64 = 0.005;
/// Points per batch of vertices (batch x 2P vertices are kept at once).
const BATCH: usize = 100;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// The workload: from the peers' files when `dir` is given, else generated.
fn workload(dir: Option<&Path>, n: usize) -> Fallible<(Network, Array2<f64>, Array2<f64>)> {
    let (net, points, dirs) = match dir {
        Some(dir) => {
            let net = Network::from_npz(dir.join("mlp.npz"))?;
            let points = cpwl::io::load_npy(dir.join("points.npy"))?.into_dimensionality::<Ix2>()?;
            let dirs = cpwl::io::load_npy(dir.join("directions.npy"))?.into_dimensionality::<Ix2>()?;
            (net, points, dirs)
        }
        None => {
            let dirs = Directions::ReferenceCompatible {
                count: P,
                seed: DIRECTION_SEED,
            }
            .resolve(WIDTHS[0])?;
            let net = bench_common::he_mlp(&WIDTHS, 0);
            (net, bench_common::uniform_points(n, WIDTHS[0], 1), dirs)
        }
    };
    let points = points.slice(s![..n.min(points.nrows()), ..]).to_owned();
    Ok((net, points, dirs))
}

/// The 2P vertices `x + r v_k`, then `x - r v_k`, of every point, point-major.
fn vertices(points: ArrayView2<f64>, dirs: ArrayView2<f64>) -> Array2<f64> {
    let p = dirs.nrows();
    let mut verts = Array2::zeros((points.nrows() * 2 * p, points.ncols()));
    for (i, x) in points.outer_iter().enumerate() {
        for (k, v) in dirs.outer_iter().enumerate() {
            verts.row_mut(i * 2 * p + k).assign(&(&x + &(&v * RADIUS)));
            verts.row_mut(i * 2 * p + p + k).assign(&(&x - &(&v * RADIUS)));
        }
    }
    verts
}

fn sign(v: f64) -> i8 {
    i8::from(v > 0.0) - i8::from(v < 0.0)
}

/// Per layer (hidden layers, then the output), the signs that differ.
fn differing_signs(a: &[Array2<f64>], b: &[Array2<f64>]) -> Vec<u64> {
    a.iter()
        .zip(b)
        .map(|(za, zb)| za.iter().zip(zb).filter(|(x, y)| sign(**x) != sign(**y)).count() as u64)
        .collect()
}

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).filter(|a| a.as_str() != "-").map(Path::new);
    let n: usize = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(POINTS);
    let (net, points, dirs) = workload(dir, n)?;
    let cpu64 = CpuBackend::default();
    let cpu32 = cpu64.with_precision(Precision::F32);
    let layers = net.unit_layers().len() + 1;
    let (mut differ, mut total) = (vec![0u64; layers], vec![0u64; layers]);
    for start in (0..points.nrows()).step_by(BATCH) {
        let verts = vertices(
            points.slice(s![start..(start + BATCH).min(points.nrows()), ..]),
            dirs.view(),
        );
        let per = |fwd: cpwl::backend::ForwardBatch| -> Vec<Array2<f64>> {
            let mut z = fwd.pre_activations.unwrap_or_default();
            z.push(fwd.outputs);
            z
        };
        let z64 = per(cpu64.forward(&net, verts.view(), Keep::PreActivations)?);
        let z32 = per(cpu32.forward(&net, verts.view(), Keep::PreActivations)?);
        for (l, d) in differing_signs(&z64, &z32).into_iter().enumerate() {
            differ[l] += d;
            total[l] += z64[l].len() as u64;
        }
    }
    let hood = Neighbourhood {
        directions: dirs.view(),
        radius: RADIUS,
        count_output: true,
    };
    let lc64 = cpu64.sign_changes(&net, points.view(), hood)?;
    let lc32 = cpu32.sign_changes(&net, points.view(), hood)?;
    println!(
        "f32 vs f64 on W3: {} points, P = {}, radius {RADIUS}, {} vertices{}",
        points.nrows(),
        dirs.nrows(),
        points.nrows() * 2 * dirs.nrows(),
        dir.map_or(String::from(" (generated)"), |d| format!(" ({})", d.display()))
    );
    println!("layer   units   signs_differ / signs_total   lc_points_differ   lc_abs_diff");
    for l in 0..layers {
        let (a, b) = (lc64.column(l), lc32.column(l));
        let points_differ = a.iter().zip(b).filter(|(x, y)| x != y).count();
        let abs_diff: u64 = a.iter().zip(b).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
        let name = if l + 1 == layers {
            "output".to_string()
        } else {
            (l + 1).to_string()
        };
        let units = if l + 1 == layers {
            net.output_dim()
        } else {
            net.unit_layers()[l].len
        };
        println!(
            "{name:>6} {units:>7} {:>14} / {:<13} {points_differ:>16} {abs_diff:>13}",
            differ[l], total[l]
        );
    }
    Ok(())
}
