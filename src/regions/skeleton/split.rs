//! The layers of a network cut into the skeleton, one unit at a time.
//!
//! Each layer's pre-activations at all current vertices come from one batched
//! product per dense step through the run's [`crate::backend::Backend`]
//! ([`crate::backend::Backend::affine_values`]); a vertex made later in the
//! layer takes the values interpolated along its edge, which are exact because the layer's
//! pre-activations are affine on every cell of the earlier layers and an
//! edge lies in one such cell. At a vertex on an earlier unit's hyperplane
//! both pieces give the same value, so the evaluation needs no choice there.

use ndarray::Array2;

use super::complex::{set, Complex};
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
    let mut cuts = FaceCuts::new(cx.words);
    for layer in layers {
        for dense in &layer.affine {
            values = run.with_backend_ref(|b| affine_values_on(b, dense.w(), dense.b(), values.view()))?;
        }
        let mut cut = LayerCut::new(cx, &values);
        for j in 0..layer.len {
            if let Some(stop) = watch.stop(0) {
                return Err(Fail::Stopped(stop));
            }
            cut.unit(cx, &mut cuts, j, m + layer.offset + j, m)?;
        }
        values = activations(&cut.cols, layer.slopes);
    }
    Ok(())
}

/// The vertices in input space, one per row.
fn input_points(cx: &Complex, frame: &Frame) -> Array2<f64> {
    let y = Array2::from_shape_vec((cx.len(), cx.d), cx.points.clone())
        .unwrap_or_else(|_| unreachable!("d coordinates per vertex"));
    y.dot(&frame.basis) + &frame.origin
}

/// The layer's outputs at every vertex (one row each) from its
/// pre-activation columns.
fn activations(cols: &[Vec<f64>], [neg, pos]: [f64; 2]) -> Array2<f64> {
    let (n, units) = (cols.first().map_or(0, Vec::len), cols.len());
    let mut out = vec![0.0; n * units];
    for (v, row) in out.chunks_exact_mut(units.max(1)).enumerate() {
        for (y, col) in row.iter_mut().zip(cols) {
            let z = col[v];
            *y = if z > 0.0 { pos * z } else { neg * z };
        }
    }
    Array2::from_shape_vec((n, units), out).unwrap_or_else(|_| unreachable!("units values per vertex"))
}

/// One layer being cut into the complex, unit by unit.
///
/// Which edges a unit crosses is known ahead: every vertex carries the sign
/// bits of all the layer's units (`z > 0`, fixed once its values are), and
/// an edge is listed for every later unit whose bits differ at its ends,
/// when the layer starts and whenever an edge gets new ends (a split, a
/// join). A unit then visits its own list, in edge order, instead of every
/// edge; entries left stale by a split are skipped by the same sign test as
/// before, so the same edges are split in the same order.
struct LayerCut {
    /// The pre-activations by unit, one entry per vertex (a unit's scans
    /// read one column).
    cols: Vec<Vec<f64>>,
    /// Per unit, the largest magnitude in its column, kept up as vertices
    /// come in (the scale of its zero test).
    scale: Vec<f64>,
    /// `u64` words of sign bits per vertex.
    words: usize,
    /// Per vertex, `words` words: bit `j` when unit `j`'s value is `> 0`.
    signs: Vec<u64>,
    /// Per unit, the edges that crossed it when listed (ascending after
    /// sorting; stale entries possible).
    crossing: Vec<Vec<usize>>,
}

impl LayerCut {
    /// The layer's pre-activations `values` (vertices x units) at the
    /// vertices of `cx`, and the crossing lists of its edges.
    fn new(cx: &Complex, values: &Array2<f64>) -> LayerCut {
        let units = values.ncols();
        let words = units.div_ceil(64).max(1);
        let cols: Vec<Vec<f64>> = values.columns().into_iter().map(|c| c.to_vec()).collect();
        let mut cut = LayerCut {
            scale: cols
                .iter()
                .map(|col| col.iter().fold(0.0f64, |a, z| a.max(z.abs())))
                .collect(),
            cols,
            words,
            signs: Vec::with_capacity(values.nrows() * words),
            crossing: vec![Vec::new(); units],
        };
        for row in values.outer_iter() {
            push_signs(&mut cut.signs, words, row.iter().copied());
        }
        for (e, &[a, b]) in cx.edges.iter().enumerate() {
            cut.list(e, a as usize, b as usize, 0);
        }
        cut
    }

    /// Lists edge `e` (ends `a`, `b`) for every unit from `from` on whose
    /// sign differs at its ends.
    fn list(&mut self, e: usize, a: usize, b: usize, from: usize) {
        let w = self.words;
        for k in from / 64..w {
            let mut differ = self.signs[a * w + k] ^ self.signs[b * w + k];
            if k == from / 64 {
                differ &= u64::MAX << (from % 64);
            }
            while differ != 0 {
                let unit = 64 * k + differ.trailing_zeros() as usize;
                differ &= differ - 1;
                self.crossing[unit].push(e);
            }
        }
    }

    /// Cuts unit `j` of the layer (hyperplane `h`) into the complex: marks
    /// the vertices on its positive side, splits every edge it crosses
    /// strictly, joins the new vertices inside each 2-face it cuts.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] when a vertex lies on the hyperplane (within
    /// [`TOL_SKELETON_ZERO_REL`] of the unit's largest value) or a face is
    /// cut other than twice.
    fn unit(
        &mut self,
        cx: &mut Complex,
        cuts: &mut FaceCuts,
        j: usize,
        h: usize,
        m: usize,
    ) -> Result<(), Fail> {
        let scale = self.scale[j];
        if scale == 0.0 {
            // Zero at every vertex: zero on the domain, never positive, no cut.
            return Ok(());
        }
        let tol = TOL_SKELETON_ZERO_REL * scale;
        for (v, &z) in self.cols[j].iter().enumerate() {
            if z.abs() <= tol {
                return Err(Fail::Fallback("a vertex lies on a unit's hyperplane"));
            }
            if z > 0.0 {
                cx.set_pos(v, h);
            }
        }
        let mut edges = std::mem::take(&mut self.crossing[j]);
        edges.sort_unstable();
        edges.dedup();
        cuts.clear();
        for &e in &edges {
            let [a, b] = cx.edges[e].map(|v| v as usize);
            let (za, zb) = (self.cols[j][a], self.cols[j][b]);
            if (za > 0.0) == (zb > 0.0) {
                continue;
            }
            let t = za / (za - zb);
            let v = cx.split_edge(e, t, h)? as usize;
            self.interpolate(a, b, t, j);
            self.list(e, a, v, j + 1);
            self.list(cx.edges.len() - 1, v, b, j + 1);
            let joined = cx.edges.len();
            cuts.add(cx, v as u32, h, m)?;
            for f in joined..cx.edges.len() {
                let [p, q] = cx.edges[f];
                self.list(f, p as usize, q as usize, j + 1);
            }
        }
        cuts.finish()
    }
}

impl LayerCut {
    /// Appends the vertex at `a + t (b - a)` on unit `j`'s hyperplane: its
    /// values interpolated (unit `j`'s is zero), their sign bits, and the
    /// units' scales.
    fn interpolate(&mut self, a: usize, b: usize, t: f64, j: usize) {
        let start = self.signs.len();
        self.signs.resize(start + self.words, 0);
        for (i, (col, scale)) in self.cols.iter_mut().zip(&mut self.scale).enumerate() {
            let value = if i == j {
                0.0
            } else {
                col[a] + t * (col[b] - col[a])
            };
            col.push(value);
            *scale = scale.max(value.abs());
            if value > 0.0 {
                set(&mut self.signs[start..], i);
            }
        }
    }
}

/// Appends to `signs` the sign bits (`words` words) of a vertex with values `z`.
fn push_signs(signs: &mut Vec<u64>, words: usize, z: impl Iterator<Item = f64>) {
    let start = signs.len();
    signs.resize(start + words, 0);
    for (j, z) in z.enumerate() {
        if z > 0.0 {
            set(&mut signs[start..], j);
        }
    }
}
