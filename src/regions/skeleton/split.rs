//! The layers of a network cut into the skeleton, one unit at a time.
//!
//! Each layer's pre-activations at all current vertices come from one batched
//! product per dense step through the run's [`crate::backend::Backend`]
//! ([`crate::backend::Backend::affine_values`]); a vertex made later in the
//! layer takes the values interpolated along its edge, which are exact because the layer's
//! pre-activations are affine on every cell of the earlier layers and an
//! edge lies in one such cell. At a vertex on an earlier unit's hyperplane
//! both pieces give the same value, so the evaluation needs no choice there.

use ndarray::{Array2, ArrayView1};

use rayon::prelude::*;

use super::complex::{parallel, set, Complex, Split, SPLITS_PER_TASK, VERTICES_PER_TASK};
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
    serial: bool,
) -> Result<(), Fail> {
    let mut values = input_points(cx, frame);
    let mut cuts = FaceCuts::new(cx.words);
    for layer in layers {
        for dense in &layer.affine {
            values = run.with_backend_ref(|b| affine_values_on(b, dense.w(), dense.b(), values.view()))?;
        }
        let mut cut = LayerCut::new(cx, &values, serial);
        for j in 0..layer.len {
            if let Some(stop) = watch.stop(0) {
                return Err(Fail::Stopped(stop));
            }
            cut.unit(cx, &mut cuts, j, m + layer.offset + j, m, serial)?;
        }
        values = activations(&cut.cols, layer.slopes, serial);
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
fn activations(cols: &[Vec<f64>], [neg, pos]: [f64; 2], serial: bool) -> Array2<f64> {
    let (n, units) = (cols.first().map_or(0, Vec::len), cols.len());
    let mut out = vec![0.0; n * units];
    let rows = VERTICES_PER_TASK * units.max(1);
    let fill = |(c, chunk): (usize, &mut [f64])| {
        let first = c * VERTICES_PER_TASK;
        for (i, col) in cols.iter().enumerate() {
            let ys = chunk.iter_mut().skip(i).step_by(units);
            for (y, &z) in ys.zip(&col[first..]) {
                *y = if z > 0.0 { pos * z } else { neg * z };
            }
        }
    };
    if !parallel(serial, n, VERTICES_PER_TASK) {
        out.chunks_mut(rows).enumerate().for_each(fill);
    } else {
        out.par_chunks_mut(rows).enumerate().for_each(fill);
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
    fn new(cx: &Complex, values: &Array2<f64>, serial: bool) -> LayerCut {
        let units = values.ncols();
        let words = units.div_ceil(64).max(1);
        // A column per task, each with its largest magnitude.
        let column = |c: ArrayView1<'_, f64>| {
            let col = c.to_vec();
            let scale = col.iter().fold(0.0f64, |a, z| a.max(z.abs()));
            (col, scale)
        };
        let columns = values.columns().into_iter();
        // A task per column; the items counted are its rows (vertices): one
        // column of fewer than a task of vertices is not worth a hand-off.
        let (cols, scale): (Vec<Vec<f64>>, Vec<f64>) = if parallel(serial, values.nrows(), VERTICES_PER_TASK)
        {
            columns.collect::<Vec<_>>().into_par_iter().map(column).unzip()
        } else {
            columns.map(column).unzip()
        };
        let mut cut = LayerCut {
            scale,
            cols,
            words,
            signs: Vec::new(),
            crossing: vec![Vec::new(); units],
        };
        cut.push_signs(0, serial);
        cut.list_edges(cx, cx.edges.len(), |i| i, 0, serial);
        cut
    }

    /// Appends the sign words of the vertices from `first` on (bit `j` when
    /// unit `j`'s value is `> 0`), a column at a time within each chunk of
    /// vertices (the chunks in parallel unless `serial`).
    fn push_signs(&mut self, first: usize, serial: bool) {
        let (w, cols) = (self.words, &self.cols);
        let n = cols.first().map_or(first, Vec::len);
        self.signs.resize(n * w, 0);
        let fill = |(c, words): (usize, &mut [u64])| {
            let start = first + c * SIGNS_PER_TASK;
            for (i, col) in cols.iter().enumerate() {
                let (k, bit) = (i / 64, 1u64 << (i % 64));
                for (v, &z) in words.chunks_exact_mut(w).zip(&col[start..]) {
                    if z > 0.0 {
                        v[k] |= bit;
                    }
                }
            }
        };
        let words = &mut self.signs[first * w..];
        if !parallel(serial, n - first, SIGNS_PER_TASK) {
            words.chunks_mut(SIGNS_PER_TASK * w).enumerate().for_each(fill);
        } else {
            words
                .par_chunks_mut(SIGNS_PER_TASK * w)
                .enumerate()
                .for_each(fill);
        }
    }

    /// Lists `count` edges (edge `edge(i)` of `cx` for `i < count`) for every
    /// unit from `from` on whose sign differs at its ends, by tasks of
    /// edges (in parallel unless `serial`) joined in task order. The order
    /// within a list does not matter: a unit sorts its list before use.
    fn list_edges(
        &mut self,
        cx: &Complex,
        count: usize,
        edge: impl Fn(usize) -> usize + Sync,
        from: usize,
        serial: bool,
    ) {
        let (signs, words, units) = (&self.signs, self.words, self.crossing.len());
        let list = |start: usize, lists: &mut [Vec<usize>]| {
            for e in (start..count.min(start + EDGES_PER_TASK)).map(&edge) {
                let [a, b] = cx.edges[e];
                crossings(signs, words, e, [a as usize, b as usize], from, lists);
            }
        };
        let starts = (0..count).step_by(EDGES_PER_TASK);
        if !parallel(serial, count, EDGES_PER_TASK) {
            // One thread: straight into the layer's lists, no task lists.
            starts.for_each(|start| list(start, &mut self.crossing[from..]));
            return;
        }
        // Each task keeps lists for the units from `from` on only (those
        // below have crossed already), joined in task order.
        let tasks: Vec<Vec<Vec<usize>>> = starts
            .collect::<Vec<usize>>()
            .into_par_iter()
            .map(|start| {
                let mut lists = vec![Vec::new(); units - from];
                list(start, &mut lists);
                lists
            })
            .collect();
        for lists in tasks {
            for (all, mut part) in self.crossing[from..].iter_mut().zip(lists) {
                all.append(&mut part);
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
        serial: bool,
    ) -> Result<(), Fail> {
        let scale = self.scale[j];
        if scale == 0.0 {
            // Zero at every vertex: zero on the domain, never positive, no cut.
            return Ok(());
        }
        mark_sides(cx, &self.cols[j], h, TOL_SKELETON_ZERO_REL * scale, serial)?;
        let splits = self.splits(cx, j);
        let first = cx.len();
        cx.add_splits(&splits, h, serial)?;
        self.interpolate(&splits, j, serial);
        let mut joins = cuts.joins(cx, first, h, m, serial)?.into_iter().peekable();
        // The edges in the order of the splits, each split's halves then the
        // edges joined at its vertex: the numbering the later units visit.
        let before = cx.edges.len();
        for (k, s) in splits.iter().enumerate() {
            let v = (first + k) as u32;
            cx.halve(s, v);
            while let Some((_, earlier)) = joins.next_if(|&(later, _)| later as usize == k) {
                cx.edges.push([(first + earlier as usize) as u32, v]);
            }
        }
        // Every edge with new ends: the first halves (at their edges'
        // places), then the edges appended.
        let new: Vec<usize> = splits.iter().map(|s| s.e).chain(before..cx.edges.len()).collect();
        self.list_edges(cx, new.len(), |i| new[i], j + 1, serial);
        Ok(())
    }
}

impl LayerCut {
    /// The edges unit `j` crosses strictly, ascending, with where.
    fn splits(&mut self, cx: &Complex, j: usize) -> Vec<Split> {
        let mut edges = std::mem::take(&mut self.crossing[j]);
        edges.sort_unstable();
        edges.dedup();
        let col = &self.cols[j];
        edges
            .into_iter()
            .filter_map(|e| {
                let [a, b] = cx.edges[e];
                let (za, zb) = (col[a as usize], col[b as usize]);
                ((za > 0.0) != (zb > 0.0)).then(|| Split {
                    e,
                    a,
                    b,
                    t: za / (za - zb),
                })
            })
            .collect()
    }

    /// Appends the values of the vertices of `splits` (on unit `j`'s
    /// hyperplane), interpolated along their edges (unit `j`'s is zero),
    /// their sign bits, and the units' scales; a column per task unless
    /// `serial`.
    fn interpolate(&mut self, splits: &[Split], j: usize, serial: bool) {
        let extend = |(i, (col, scale)): (usize, (&mut Vec<f64>, &mut f64))| {
            col.reserve(splits.len());
            for s in splits {
                let value = if i == j {
                    0.0
                } else {
                    let (za, zb) = (col[s.a as usize], col[s.b as usize]);
                    za + s.t * (zb - za)
                };
                col.push(value);
                *scale = scale.max(value.abs());
            }
        };
        let first = self.signs.len() / self.words;
        // A task per column, each of the splits' values; the items counted
        // are the splits (one column's entries): a task's worth when there
        // are more splits than one task of splits.
        if !parallel(serial, splits.len(), SPLITS_PER_TASK) {
            self.cols
                .iter_mut()
                .zip(&mut self.scale)
                .enumerate()
                .for_each(extend);
        } else {
            self.cols
                .par_iter_mut()
                .zip(&mut self.scale)
                .enumerate()
                .for_each(extend);
        }
        self.push_signs(first, serial);
    }
}

/// Vertices per parallel task of [`LayerCut::push_signs`], whose vertices
/// cost a pass over the layer's units each.
const SIGNS_PER_TASK: usize = 256;

/// Marks the vertices of `cx` on the positive side of hyperplane `h` from
/// its values `col`, in parallel unless `serial` (each vertex's bits alone).
///
/// # Errors
///
/// [`Fail::Fallback`] when a vertex lies on the hyperplane (`|z| <= tol`).
fn mark_sides(cx: &mut Complex, col: &[f64], h: usize, tol: f64, serial: bool) -> Result<(), Fail> {
    let w = cx.words;
    let mark = |(signs, &z): (&mut [u64], &f64)| {
        if z.abs() <= tol {
            return Err(Fail::Fallback("a vertex lies on a unit's hyperplane"));
        }
        if z > 0.0 {
            set(&mut signs[..w], h);
        }
        Ok(())
    };
    debug_assert_eq!(cx.signs.len(), 2 * w * col.len(), "one value per vertex");
    if !parallel(serial, col.len(), VERTICES_PER_TASK) {
        cx.signs.chunks_exact_mut(2 * w).zip(col).try_for_each(mark)
    } else {
        cx.signs
            .par_chunks_exact_mut(2 * w)
            .zip(col)
            .with_min_len(VERTICES_PER_TASK)
            .try_for_each(mark)
    }
}

/// Edges per parallel task when a layer lists its edges (all at its start,
/// those with new ends after each unit).
const EDGES_PER_TASK: usize = 2048;

/// Pushes edge `e` (ends `[a, b]`) to the list of every unit from `from` on
/// whose sign bits (`signs`, `w` words per vertex) differ at its ends
/// (`lists[0]` is unit `from`'s).
fn crossings(signs: &[u64], w: usize, e: usize, [a, b]: [usize; 2], from: usize, lists: &mut [Vec<usize>]) {
    for k in from / 64..w {
        let mut differ = signs[a * w + k] ^ signs[b * w + k];
        if k == from / 64 {
            differ &= u64::MAX << (from % 64);
        }
        while differ != 0 {
            let unit = 64 * k + differ.trailing_zeros() as usize;
            differ &= differ - 1;
            lists[unit - from].push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::complex::has;
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// `n` values of each of `units` columns, none near zero (so no vertex
    /// lies on a hyperplane), a few exactly zero where `zeros` (the values of
    /// vertices on a unit's own hyperplane).
    fn columns(units: usize, n: usize, zeros: bool) -> Vec<Vec<f64>> {
        let mut rng = StdRng::seed_from_u64(9);
        (0..units)
            .map(|_| {
                (0..n)
                    .map(|v| match v % 97 {
                        0 if zeros => 0.0,
                        _ => rng.random_range(0.1..1.0) * if rng.random_bool(0.5) { 1.0 } else { -1.0 },
                    })
                    .collect()
            })
            .collect()
    }

    fn bits(x: &Array2<f64>) -> Vec<u64> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn parallel_activations_give_the_serial_bits() {
        // Over three tasks of vertices, so the parallel branch runs: each
        // output is the unit's slope for its side times its value.
        let n = 3 * VERTICES_PER_TASK + 5;
        let cols = columns(3, n, true);
        let slopes = [0.25, 1.5];
        let one = activations(&cols, slopes, true);
        let many = activations(&cols, slopes, false);
        assert_eq!(bits(&one), bits(&many));
        for (v, row) in one.outer_iter().enumerate() {
            for (i, &y) in row.iter().enumerate() {
                let z = cols[i][v];
                assert_eq!(y, if z > 0.0 { 1.5 * z } else { 0.25 * z });
            }
        }
    }

    #[test]
    fn parallel_signs_give_the_serial_bits() {
        // 70 units (two words of sign bits) at more vertices than a task
        // holds, pushed all at once and then from a vertex on: bit `j` of a
        // vertex is set exactly where unit `j`'s value there is positive.
        let (units, n) = (70, 3 * SIGNS_PER_TASK + 7);
        let cut = |serial: bool, first: usize| {
            let mut cut = LayerCut {
                cols: columns(units, n, true),
                scale: vec![1.0; units],
                words: 2,
                signs: Vec::new(),
                crossing: vec![Vec::new(); units],
            };
            if first > 0 {
                cut.signs = vec![0; first * 2];
            }
            cut.push_signs(first, serial);
            cut.signs
        };
        for first in [0, 11] {
            let one = cut(true, first);
            assert_eq!(one, cut(false, first));
            let cols = columns(units, n, true);
            for v in first..n {
                for (j, col) in cols.iter().enumerate() {
                    assert_eq!(has(&one[2 * v..2 * v + 2], j), col[v] > 0.0);
                }
            }
        }
    }

    #[test]
    fn parallel_sides_give_the_serial_bits() {
        // Loose vertices in 2-D, more than a task of them: the sides marked
        // in parallel are the serial ones, set where the value is positive;
        // a value within the tolerance of zero is a degenerate arrangement
        // either way.
        let n = 3 * VERTICES_PER_TASK + 3;
        let col = columns(1, n, false).remove(0);
        let loose = || {
            let mut cx = Complex {
                d: 2,
                words: 2,
                points: Vec::new(),
                signs: Vec::new(),
                edges: Vec::new(),
            };
            for _ in 0..n {
                cx.push_vertex(&[0.0, 0.0], &[0, 0], &[0, 1]).ok().unwrap();
            }
            cx
        };
        let marked = |serial: bool, col: &[f64]| {
            let mut cx = loose();
            mark_sides(&mut cx, col, 70, 1e-3, serial).map(|()| cx.signs)
        };
        let one = marked(true, &col).ok().unwrap();
        assert_eq!(Some(&one), marked(false, &col).ok().as_ref());
        for (v, &z) in col.iter().enumerate() {
            assert_eq!(has(&one[4 * v..4 * v + 2], 70), z > 0.0);
        }
        let mut flat = col.clone();
        flat[2 * VERTICES_PER_TASK + 1] = 1e-4;
        for serial in [true, false] {
            assert!(matches!(marked(serial, &flat), Err(Fail::Fallback(_))));
        }
    }
}
