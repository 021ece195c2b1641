//! The layers of a network cut into the skeleton, one unit at a time.
//!
//! Each layer's pre-activations at all current vertices come from one batched
//! product per dense step through the run's [`crate::backend::Backend`]
//! ([`crate::backend::Backend::affine_values`]); a vertex made later in the layer takes the
//! values interpolated along its edge, which are exact because the layer's
//! pre-activations are affine on every cell of the earlier layers and an
//! edge lies in one such cell. At a vertex on an earlier unit's hyperplane
//! both pieces give the same value, so the evaluation needs no choice there.

use ndarray::Array2;

use super::complex::Complex;
use super::faces::FaceCuts;
use super::Fail;
use crate::backend::affine_values_on;
use crate::network::{AffineStep, Dense, Nonlinearity, Step};
use crate::regions::setup::Frame;
use crate::run::{RunOptions, Watch};
use crate::tol::TOL_SKELETON_ZERO_REL;
use crate::Network;

/// One layer of two-piece units and the dense steps before it.
pub(super) struct Layer<'a> {
    /// The dense steps since the previous layer.
    affine: Vec<&'a Dense>,
    /// The slopes `[z <= 0, z > 0]`.
    slopes: [f64; 2],
    /// The first unit's pattern index.
    offset: usize,
    /// The number of units.
    len: usize,
}

/// The layers of a network made of dense steps and two-piece units (steps
/// after the last nonlinearity do not cut the domain and are skipped).
///
/// # Errors
///
/// [`Fail::Fallback`] for any other step (max units, convolutions, residual
/// blocks): the skeleton does not handle them yet.
pub(super) fn layers(net: &Network) -> Result<Vec<Layer<'_>>, Fail> {
    let mut layers = Vec::new();
    let mut pending = Vec::new();
    for step in net.program().steps() {
        match step {
            Step::Affine(AffineStep::Dense(dense)) => pending.push(dense),
            Step::Nonlinear(Nonlinearity::TwoPiece(units)) => layers.push(Layer {
                affine: std::mem::take(&mut pending),
                slopes: units.slopes(),
                offset: units.offset(),
                len: units.len(),
            }),
            _ => return Err(Fail::Fallback("a step other than dense or two-piece")),
        }
    }
    Ok(layers)
}

/// Cuts every layer into the complex of the domain (`m` domain facets).
///
/// # Errors
///
/// [`Fail::Fallback`] for a degenerate arrangement; [`Fail::Stopped`] when
/// a budget or the cancel flag stops the run; backend failures.
pub(super) fn cut_layers(
    cx: &mut Complex,
    layers: &[Layer<'_>],
    frame: &Frame,
    m: usize,
    run: &RunOptions,
    watch: &Watch<'_>,
) -> Result<(), Fail> {
    let mut values = input_points(cx, frame);
    for layer in layers {
        for dense in &layer.affine {
            values = run.with_backend_ref(|b| affine_values_on(b, dense.w(), dense.b(), values.view()))?;
        }
        let mut cols: Vec<Vec<f64>> = values.columns().into_iter().map(|c| c.to_vec()).collect();
        for j in 0..layer.len {
            if let Some(stop) = watch.stop(0) {
                return Err(Fail::Stopped(stop));
            }
            cut_unit(cx, &mut cols, j, m + layer.offset + j, m)?;
        }
        values = activations(&cols, layer.slopes);
    }
    Ok(())
}

/// The vertices in input space, one per row.
fn input_points(cx: &Complex, frame: &Frame) -> Array2<f64> {
    let y = Array2::from_shape_vec((cx.len(), cx.d), cx.points.clone())
        .unwrap_or_else(|_| unreachable!("d coordinates per vertex"));
    y.dot(&frame.basis) + &frame.origin
}

/// The layer's outputs at every vertex from its pre-activation columns.
fn activations(cols: &[Vec<f64>], [neg, pos]: [f64; 2]) -> Array2<f64> {
    let n = cols.first().map_or(0, Vec::len);
    Array2::from_shape_fn((n, cols.len()), |(v, j)| {
        let z = cols[j][v];
        if z > 0.0 {
            pos * z
        } else {
            neg * z
        }
    })
}

/// Cuts unit `j` of the layer (hyperplane `h`) into the complex: marks the
/// vertices on its positive side, splits every edge it crosses strictly,
/// joins the new vertices inside each 2-face it cuts.
///
/// # Errors
///
/// [`Fail::Fallback`] when a vertex lies on the hyperplane (within
/// [`TOL_SKELETON_ZERO_REL`] of the unit's largest value) or a face is cut
/// other than twice.
fn cut_unit(cx: &mut Complex, cols: &mut [Vec<f64>], j: usize, h: usize, m: usize) -> Result<(), Fail> {
    let scale = cols[j].iter().fold(0.0f64, |a, z| a.max(z.abs()));
    if scale == 0.0 {
        // Zero at every vertex: zero on the domain, never positive, no cut.
        return Ok(());
    }
    let tol = TOL_SKELETON_ZERO_REL * scale;
    for (v, &z) in cols[j].iter().enumerate() {
        if z.abs() <= tol {
            return Err(Fail::Fallback("a vertex lies on a unit's hyperplane"));
        }
        if z > 0.0 {
            cx.set_pos(v, h);
        }
    }
    let mut cuts = FaceCuts::default();
    for e in 0..cx.edges.len() {
        let [a, b] = cx.edges[e].map(|v| v as usize);
        let (za, zb) = (cols[j][a], cols[j][b]);
        if (za > 0.0) == (zb > 0.0) {
            continue;
        }
        let t = za / (za - zb);
        let v = cx.split_edge(e, t, h)?;
        for col in cols.iter_mut() {
            let value = col[a] + t * (col[b] - col[a]);
            col.push(value);
        }
        cols[j][v as usize] = 0.0;
        cuts.add(cx, v, h, m)?;
    }
    cuts.finish()
}
