//! The local-complexity pass of plain MLPs in both precisions, linear while
//! the neighbourhood is: a point's `2P` vertices `x +- r v_k` are held as one centre row and
//! `P` direction rows instead of `2P` vertex rows.
//!
//! After the folded first layer the vertex values of a point are `c +- d_k`
//! (the centre `c = W x + b`, the directions `d_k = r W v_k`). When no unit
//! of a two-piece layer changes sign over the vertices (on W3 about nine
//! points in ten at every layer: the counts are this rare), the activation
//! is the same linear map at every vertex (each unit times its side's
//! slope), so the activated vertices are again `c' +- d'_k` and the next
//! dense layer needs only the `P + 1` rows `W c'` and `W d'_k`: about half of
//! the `2P` vertex rows the folded pass ([`super::vertices::FoldedMlp`])
//! multiplies. A point whose units do change sign is expanded there into
//! its `2P` activated vertex rows and goes on in a second lane, exactly as
//! the folded pass runs it.
//!
//! The counts are those of the folded pass up to rounding: a vertex value is
//! summed as `W c + b` plus or minus `W d_k` rather than as `W (c +- d_k) + b`,
//! and a slope multiplies `c` and `d_k` apart rather than `c +- d_k`, so its
//! rounding scales with `|c| + |d_k|` and a unit within rounding of zero (a near-tie, see
//! [`crate::backend::Precision`]) can take another sign. In `f64` that margin
//! is about `1e-16` of the row's magnitude: on all 10,000 W3 points every
//! per-layer count equals the folded pass's and the PyTorch peer's (which
//! sums in yet another order), and the shared LC vectors pass unchanged.
//! The folded pass stays as the tests' oracle.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use super::real::gemm_into;
use super::scratch::{sized, view, Buffers, Scratch};
use super::vertices::{walk_layers, FoldedMlp, LayerOp};
use crate::kernels::fused::{self, LayerStep};
use crate::network::UnitLayer;
use crate::Network;

/// The linear neighbourhood pass of a plain MLP (see the module notes).
pub(super) struct LinearHood<'a, T: Buffers> {
    folded: FoldedMlp<'a, T>,
    /// The folded first layer's moves `r W v_k` rounded to `T`, row-major
    /// (P x width): every point's first direction rows.
    moves: Vec<T>,
}

impl<'a, T: Buffers> LinearHood<'a, T> {
    /// The linear pass of `net`, or `None` when `net` is not a plain MLP
    /// with a dense first layer.
    pub(super) fn new(net: &'a Network, dirs: ArrayView2<f64>, radius: f64) -> Option<Self> {
        let folded = FoldedMlp::new(net, dirs, radius)?;
        let moves = folded.moves.iter().map(|&m| T::from_f64(m)).collect();
        Some(LinearHood { folded, moves })
    }

    /// Per point and counted layer (then the output when `count_output`),
    /// the units whose sign at some vertex differs from the first vertex's.
    pub(super) fn count_changes(
        &self,
        points: ArrayView2<f64>,
        counted: &[(usize, UnitLayer)],
        count_output: bool,
    ) -> Array2<u32> {
        // A point holds `P + 1` linear rows and, once expanded, `2P` vertex
        // rows besides (the linear buffers are not shrunk): size for both so
        // that a block stays within the byte budget.
        let per_block = self.folded.points_per_block(3 * self.dirs() + 1);
        let columns = counted.len() + usize::from(count_output);
        self.folded
            .in_blocks(points, columns, per_block, |s, at, counts| {
                self.count_block(s, at, counted, count_output, counts)
            })
    }

    /// The number of directions `P`.
    fn dirs(&self) -> usize {
        self.folded.moves.nrows()
    }

    /// [`Self::count_changes`] of the points whose first-layer values are
    /// `at_points`, in `s`, into `counts` (their rows). The linear lane
    /// (`s.rows`, points `s.linear`) holds `P + 1` rows per point, the vertex
    /// lane (`s.side`, points `s.expanded`) `2P`.
    fn count_block(
        &self,
        s: &mut Scratch<T>,
        at_points: ArrayView2<f64>,
        counted: &[(usize, UnitLayer)],
        count_output: bool,
        mut counts: ArrayViewMut2<u32>,
    ) {
        let (group, verts) = (self.dirs() + 1, 2 * self.dirs());
        let mut width = self.folded.moves.ncols();
        self.fill(sized(&mut s.rows, at_points.nrows() * group * width), at_points);
        s.linear.clear();
        s.linear.extend(0..at_points.nrows());
        s.expanded.clear();
        walk_layers(&self.folded.rest, counted, count_output, |op| match op {
            LayerOp::Gemm(w) => {
                let (rows, side) = (s.linear.len() * group, s.expanded.len() * verts);
                let out = w.nrows();
                gemm_into(view(&s.rows, rows, width), w.t(), sized(&mut s.next, rows * out));
                gemm_into(
                    view(&s.side, side, width),
                    w.t(),
                    sized(&mut s.side_next, side * out),
                );
                std::mem::swap(&mut s.rows, &mut s.next);
                std::mem::swap(&mut s.side, &mut s.side_next);
                width = out;
            }
            LayerOp::Step(step, slot) => self.step(s, width, step, slot, &mut counts),
        });
    }

    /// One step after a GEMM on both lanes ([`fused::layer_step`] on the
    /// vertex lane, [`fused::hood_step`] on the linear one), the counts
    /// written to column `slot`; then the linear points that changed sign
    /// under a two-piece step move to the vertex lane.
    fn step(
        &self,
        s: &mut Scratch<T>,
        width: usize,
        step: LayerStep<'_, T>,
        slot: Option<usize>,
        counts: &mut ArrayViewMut2<u32>,
    ) {
        let (p, verts) = (self.dirs(), 2 * self.dirs());
        let Scratch {
            rows,
            side,
            marks,
            linear,
            expanded,
            changes,
            ..
        } = s;
        // The vertex lane steps before `expand` adds rows to it: the rows
        // it adds are activated already and must not be stepped twice.
        let z = &mut side[..expanded.len() * verts * width];
        fused::layer_step(z, width, verts, step, marks, |i, c| {
            if let Some(slot) = slot {
                counts[[expanded[i], slot]] = c;
            }
        });
        changes.clear();
        changes.resize(linear.len(), 0);
        let z = &mut rows[..linear.len() * (p + 1) * width];
        fused::hood_step(z, width, p, step, marks, |g, c| changes[g] = c);
        if let Some(slot) = slot {
            for (&point, &c) in linear.iter().zip(changes.iter()) {
                counts[[point, slot]] = c;
            }
        }
        if let Some(slopes) = step.slopes {
            self.expand(s, width, slopes);
        }
    }

    /// Moves the linear points with sign changes (`s.changes`) to the vertex
    /// lane: their `2P` vertices `c + d_k`, then `c - d_k`, activated with
    /// `slopes`. The others close ranks in the linear lane.
    fn expand(&self, s: &mut Scratch<T>, width: usize, slopes: [T; 2]) {
        let (p, verts) = (self.dirs(), 2 * self.dirs());
        let size = (p + 1) * width;
        let first_new = s.expanded.len();
        let mut kept = 0;
        for g in 0..s.linear.len() {
            let at = g * size;
            if s.changes[g] == 0 {
                if kept < g {
                    s.rows.copy_within(at..at + size, kept * size);
                }
                s.linear[kept] = s.linear[g];
                kept += 1;
                continue;
            }
            let start = s.expanded.len() * verts * width;
            let out = &mut sized(&mut s.side, start + verts * width)[start..];
            let (centre, dirs) = s.rows[at..at + size].split_at(width);
            for (k, d) in dirs.chunks_exact(width).enumerate() {
                let (plus, minus) = out.split_at_mut(p * width);
                let plus = &mut plus[k * width..(k + 1) * width];
                let minus = &mut minus[k * width..(k + 1) * width];
                for (((a, b), &c), &m) in plus.iter_mut().zip(minus).zip(centre).zip(d) {
                    *a = c + m;
                    *b = c + -m;
                }
            }
            s.expanded.push(s.linear[g]);
        }
        s.linear.truncate(kept);
        // All new vertex rows activated in one step (the step acts row by
        // row, so one call gives what one per point gives).
        let act = LayerStep {
            bias: None,
            count: false,
            slopes: Some(slopes),
        };
        let new_rows = &mut s.side[first_new * verts * width..s.expanded.len() * verts * width];
        fused::layer_step(new_rows, width, verts, act, &mut s.marks, |_, _| {});
    }

    /// Writes each point's centre row (its first-layer values, rounded to
    /// `T`) and the direction rows `r W v_k` into `rows`.
    fn fill(&self, rows: &mut [T], at_points: ArrayView2<f64>) {
        let width = at_points.ncols();
        let size = (self.dirs() + 1) * width;
        for (z, group) in at_points.outer_iter().zip(rows.chunks_exact_mut(size)) {
            let (centre, dirs) = group.split_at_mut(width);
            for (c, &v) in centre.iter_mut().zip(z) {
                *c = T::from_f64(v);
            }
            dirs.copy_from_slice(&self.moves);
        }
    }
}
