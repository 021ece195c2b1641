//! The parity checks of one backend against the reference, case by case.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ndarray::{s, Array1, Array2, ArrayView2, Axis};

use super::cases::{Case, Rng};
use super::Check;
use crate::backend::{Backend, CpuBackend, Keep, Neighbourhood};
use crate::network::{AffineStep, Step};
use crate::{Error, Network, Result};

/// What one comparison found: the worst relative difference of the values,
/// or why the answers differ.
type Found = std::result::Result<f64, String>;

/// Runs the checks and collects their results.
pub(super) struct Checker<'a> {
    backend: &'a dyn Backend,
    reference: CpuBackend,
    rtol: f64,
    pub(super) checks: Vec<Check>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(backend: &'a dyn Backend, rtol: f64) -> Self {
        Checker {
            backend,
            reference: CpuBackend::serial(),
            rtol,
            checks: Vec::new(),
        }
    }

    /// Records a check; a panic inside `run` is a failure, not a crash.
    fn record(&mut self, name: String, run: impl FnOnce() -> Result<Found>) -> Result<()> {
        let found = catch_unwind(AssertUnwindSafe(run))
            .unwrap_or_else(|_| Ok(Err("the backend panicked".to_string())))?;
        let rtol = self.rtol;
        let (passed, worst, detail) = match found {
            Ok(w) if w <= rtol => (true, w, String::new()),
            Ok(w) => (
                false,
                w,
                format!("values differ by {w:e} relative (at most {rtol:e})"),
            ),
            Err(why) => (false, f64::INFINITY, why),
        };
        self.checks.push(Check {
            name,
            passed,
            worst,
            detail,
        });
        Ok(())
    }

    /// Every network kernel on one case: forward (all three keeps),
    /// Jacobians, sign changes (with and without the output layer), the
    /// first layer as an affine map and on blocks of rows when it is dense
    /// and, when its shape
    /// tiles the outputs, the LES Gram matrices.
    pub(super) fn case(&mut self, case: &Case) -> Result<()> {
        let (b, r) = (self.backend, self.reference);
        let (net, x) = (&case.net, case.points.view());
        for keep in [Keep::Outputs, Keep::Patterns, Keep::PreActivations] {
            self.record(format!("forward {keep:?}: {}", case.name), || {
                forward_parity(b.forward(net, x, keep), r.forward(net, x, keep)?)
            })?;
        }
        self.record(format!("jacobians: {}", case.name), || {
            let (got, want) = (b.jacobians(net, x), r.jacobians(net, x)?);
            got.map_or_else(failed, |got| {
                Ok((|| {
                    same("patterns", got.patterns.view(), want.patterns.view())?;
                    Ok(close(got.outputs.view(), want.outputs.view())?
                        .max(close3(&got.jacobians, &want.jacobians)?))
                })())
            })
        })?;
        for count_output in [true, false] {
            let hood = Neighbourhood {
                directions: case.directions.view(),
                radius: case.radius,
                count_output,
            };
            self.record(
                format!("sign changes (output counted: {count_output}): {}", case.name),
                || {
                    let (got, want) = (b.sign_changes(net, x, hood), r.sign_changes(net, x, hood)?);
                    got.map_or_else(failed, |got| Ok(same("counts", got.view(), want.view())))
                },
            )?;
        }
        if let Some(Step::Affine(AffineStep::Dense(dense))) = net.program().steps().first() {
            self.record(format!("affine map (first layer): {}", case.name), || {
                let (w, c) = (dense.w(), dense.b());
                let (got, want) = (b.affine_values(w, c, x), r.affine_values(w, c, x)?);
                got.map_or_else(failed, |got| Ok(close(got.view(), want.view())))
            })?;
            // The points' whole blocks of three as affine rows (d/ds, d/dt,
            // offset): the bias on every third row only.
            let rows = x.slice(s![..x.nrows() / 3 * 3, ..]);
            self.record(format!("dense blocks (first layer): {}", case.name), || {
                let (w, c) = (dense.w(), dense.b());
                let (got, want) = (
                    b.dense_blocks(w, c, rows, (3, 2)),
                    r.dense_blocks(w, c, rows, (3, 2))?,
                );
                got.map_or_else(failed, |got| Ok(close(got.view(), want.view())))
            })?;
        }
        let (l, v) = case.les_shape;
        if l * v == net.output_dim() {
            self.record(format!("LES Gram matrices ({l} x {v}): {}", case.name), || {
                let (got, want) = (b.les_grams(net, x, l, v), r.les_grams(net, x, l, v)?);
                got.map_or_else(failed, |got| {
                    Ok(close(got.outputs.view(), want.outputs.view())
                        .and_then(|o| close3(&got.grams, &want.grams).map(|g| o.max(g))))
                })
            })?;
        }
        Ok(())
    }

    /// Affine maps at random points: a few shapes, an empty batch, a
    /// function with `k = 0` rows, and one with large offsets.
    pub(super) fn affine_maps(&mut self, rng: &mut Rng) -> Result<()> {
        let (b, r) = (self.backend, self.reference);
        for (k, d, n, offset) in [
            (7, 3, 40, 1.0),
            (1, 1, 5, 1.0),
            (12, 5, 0, 1.0),
            (0, 4, 3, 1.0),
            (9, 6, 25, 1e6),
        ] {
            let a = rng.matrix(k, d, 1.0);
            let c = Array1::from_shape_simple_fn(k, || offset * rng.normal());
            let points = rng.matrix(n, d, 1.0);
            self.record(format!("affine map {k} x {d}, {n} points"), || {
                let (got, want) = (
                    b.affine_values(a.view(), c.view(), points.view()),
                    r.affine_values(a.view(), c.view(), points.view())?,
                );
                got.map_or_else(failed, |got| Ok(close(got.view(), want.view())))
            })?;
        }
        Ok(())
    }

    /// Empty batches give empty answers of the right width; arguments of the
    /// wrong shape give [`Error::Shape`] (never a panic).
    pub(super) fn shapes(&mut self, net: &Network) -> Result<()> {
        let b = self.backend;
        let d = net.input_dim();
        let empty = Array2::<f64>::zeros((0, d));
        let wrong = Array2::<f64>::zeros((2, d + 1));
        let dirs = Array2::<f64>::eye(d);
        let hood = |directions| Neighbourhood {
            directions,
            radius: 0.1,
            count_output: true,
        };
        self.record("empty batches".to_string(), || {
            let f = b.forward(net, empty.view(), Keep::Patterns);
            let j = b.jacobians(net, empty.view());
            let s = b.sign_changes(net, empty.view(), hood(dirs.view()));
            let m = net.output_dim();
            let ok = match (f, j, s) {
                (Ok(f), Ok(j), Ok(s)) => {
                    (f.outputs.dim(), j.jacobians.dim(), s.nrows()) == ((0, m), (0, m, d), 0)
                }
                _ => false,
            };
            Ok(if ok {
                Ok(0.0)
            } else {
                Err("wrong or failed answers for empty batches".to_string())
            })
        })?;
        let bad_dirs = Array2::<f64>::eye(d + 1);
        let points = Array2::<f64>::zeros((1, d));
        self.record("bad shapes are Error::Shape".to_string(), || {
            let verdicts = [
                ("forward", is_shape(b.forward(net, wrong.view(), Keep::Outputs))),
                ("jacobians", is_shape(b.jacobians(net, wrong.view()))),
                (
                    "sign changes",
                    is_shape(b.sign_changes(net, points.view(), hood(bad_dirs.view()))),
                ),
                (
                    "LES Gram matrices",
                    is_shape(b.les_grams(net, points.view(), net.output_dim() + 1, 1)),
                ),
                (
                    "affine map",
                    is_shape(b.affine_values(
                        Array2::zeros((2, d)).view(),
                        Array1::zeros(3).view(),
                        points.view(),
                    )),
                ),
                (
                    "dense blocks",
                    is_shape(b.dense_blocks(
                        Array2::zeros((2, d)).view(),
                        Array1::zeros(2).view(),
                        Array2::zeros((4, d)).view(),
                        (3, 2),
                    )),
                ),
            ];
            let bad: Vec<&str> = verdicts
                .iter()
                .filter(|(_, ok)| !ok)
                .map(|(name, _)| *name)
                .collect();
            Ok(if bad.is_empty() {
                Ok(0.0)
            } else {
                Err(format!("no Error::Shape from {}", bad.join(", ")))
            })
        })
    }
}

fn is_shape<T>(r: Result<T>) -> bool {
    matches!(r, Err(Error::Shape { .. }))
}

/// A backend error where the reference answered.
fn failed<T>(e: Error) -> Result<std::result::Result<T, String>> {
    Ok(Err(format!("the backend failed: {e}")))
}

fn forward_parity(
    got: Result<crate::backend::ForwardBatch>,
    want: crate::backend::ForwardBatch,
) -> Result<Found> {
    let got = match got {
        Ok(got) => got,
        Err(e) => return failed(e),
    };
    Ok((|| {
        if got.patterns.is_some() != want.patterns.is_some()
            || got.pre_activations.is_some() != want.pre_activations.is_some()
        {
            return Err("kept other parts than asked".to_string());
        }
        if let (Some(g), Some(w)) = (&got.patterns, &want.patterns) {
            same("patterns", g.view(), w.view())?;
        }
        let mut worst = close(got.outputs.view(), want.outputs.view())?;
        if let (Some(g), Some(w)) = (&got.pre_activations, &want.pre_activations) {
            if g.len() != w.len() {
                return Err(format!("{} pre-activation layers, expected {}", g.len(), w.len()));
            }
            for (g, w) in g.iter().zip(w) {
                worst = worst.max(close(g.view(), w.view())?);
            }
        }
        Ok(worst)
    })())
}

/// Identical arrays, or where they first differ.
fn same<T: PartialEq + Copy + std::fmt::Debug>(what: &str, got: ArrayView2<T>, want: ArrayView2<T>) -> Found {
    if got.dim() != want.dim() {
        return Err(format!(
            "{what}: shape {:?}, expected {:?}",
            got.dim(),
            want.dim()
        ));
    }
    match got.indexed_iter().find(|(ix, g)| **g != want[*ix]) {
        None => Ok(0.0),
        Some((ix, g)) => Err(format!("{what} differ at {ix:?}: {g:?}, expected {:?}", want[ix])),
    }
}

/// The largest difference relative to the reference's largest magnitude.
fn close(got: ArrayView2<f64>, want: ArrayView2<f64>) -> Found {
    if got.dim() != want.dim() {
        return Err(format!("shape {:?}, expected {:?}", got.dim(), want.dim()));
    }
    let scale = want.iter().fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()));
    Ok(got.iter().zip(&want).fold(0.0, |m: f64, (g, w)| {
        let diff = if g == w { 0.0 } else { (g - w).abs() / scale };
        // A NaN difference (a non-finite answer) counts as infinitely far.
        m.max(if diff.is_nan() { f64::INFINITY } else { diff })
    }))
}

/// [`close`] point by point for `points x r x c` arrays.
fn close3(got: &ndarray::Array3<f64>, want: &ndarray::Array3<f64>) -> Found {
    if got.dim() != want.dim() {
        return Err(format!("shape {:?}, expected {:?}", got.dim(), want.dim()));
    }
    got.axis_iter(Axis(0))
        .zip(want.axis_iter(Axis(0)))
        .try_fold(0.0, |m: f64, (g, w)| close(g, w).map(|c| m.max(c)))
}
