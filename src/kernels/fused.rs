//! The fused step of the folded local-complexity pass: one walk over the
//! pre-activations a GEMM has just written that adds the layer's bias,
//! counts, per point, the units whose three-valued sign at some vertex
//! differs from the point's first vertex, and applies the two-piece
//! activation. Each layer's values are read once after their GEMM, while
//! they are in cache, instead of once for the bias, once for the comparison
//! and once for the activation, and no pattern bytes are written (local
//! complexity needs none).
//!
//! The loops are plain slice loops, generic over `f32` and `f64`, compiled
//! inside [`pulp::Arch::dispatch`] so that the compiler vectorises them for
//! the widest instruction set the CPU has. They perform exactly the
//! operations of the unfused passes (`z + b`, the comparisons with zero,
//! `z * slope`; no fused multiply-adds), so the counts and values are
//! bit-identical to them (the tests below check that).

use std::ops::{Add, Mul, Neg};

use pulp::{Arch, Simd, WithSimd};

/// A float the fused step runs on: `f64`, and `f32` for the f32 route.
pub(crate) trait Lane:
    Copy + Default + PartialOrd + Add<Output = Self> + Mul<Output = Self> + Neg<Output = Self> + Send + Sync
{
    /// One.
    const ONE: Self;
}

impl Lane for f64 {
    const ONE: Self = 1.0;
}

impl Lane for f32 {
    const ONE: Self = 1.0;
}

/// What the step does to a layer's pre-activations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LayerStep<'a, T> {
    /// The bias to add first (`None` when the values already include it).
    pub(crate) bias: Option<&'a [T]>,
    /// Whether to count sign changes (an uncounted layer only acts).
    pub(crate) count: bool,
    /// The two-piece slopes `[negative piece, positive piece]` to apply
    /// last, or `None` to leave the values as they are (the output layer).
    pub(crate) slopes: Option<[T; 2]>,
}

/// The per-unit lanes [`layer_step`] keeps while it walks a block: the
/// first vertex's signs (-1, 0, 1) and, per unit, 1 once some vertex's sign
/// differs from it. Same-width lanes as the values, so that the comparisons
/// vectorise as plain selects. Held by the caller (a worker thread's
/// buffers) and grown, never shrunk, so that a step allocates nothing.
#[derive(Debug)]
pub(crate) struct Marks<T> {
    first: Vec<T>,
    changed: Vec<T>,
}

impl<T> Default for Marks<T> {
    fn default() -> Self {
        Marks {
            first: Vec::new(),
            changed: Vec::new(),
        }
    }
}

impl<T: Lane> Marks<T> {
    /// Both lanes with room for `cols` units.
    fn lanes(&mut self, cols: usize) -> (&mut [T], &mut [T]) {
        for lane in [&mut self.first, &mut self.changed] {
            if lane.len() < cols {
                lane.resize(cols, T::default());
            }
        }
        (&mut self.first[..cols], &mut self.changed[..cols])
    }
}

/// Runs `step` on `z`, rows of `cols` values, row-major, cut into blocks of
/// `verts` rows (one point's vertices, the first vertex first), and calls
/// `counted(block, changes)` for each block when `step.count`. `marks` is
/// the working space (reused across calls).
pub(crate) fn layer_step<T: Lane>(
    z: &mut [T],
    cols: usize,
    verts: usize,
    step: LayerStep<'_, T>,
    marks: &mut Marks<T>,
    counted: impl FnMut(usize, u32),
) {
    if cols == 0 || verts == 0 {
        return;
    }
    let (first, changed) = marks.lanes(cols);
    Arch::new().dispatch(Fused {
        z,
        cols,
        verts,
        step,
        first,
        changed,
        counted,
    });
}

/// The linear lane of the f32 neighbourhood pass: `z` holds points in
/// groups of `1 + dirs` rows of `cols` values, a centre row `c` and direction
/// rows `d_1..d_P` that stand for the point's `2P` vertices `c + d_k` then
/// `c - d_k` (vertex 0 is `c + d_1`, the first vertex [`layer_step`] compares
/// with). For each group the step adds `step.bias` to the centre, counts the
/// units whose three-valued sign at some vertex differs from vertex 0's and
/// calls `counted(group, changes)` (for every group, counted layer or not:
/// the caller needs to know which points are still linear). A group without
/// changes lies on one side of every unit, where the two-piece activation
/// is the linear map "multiply unit `u` by its side's slope": with
/// `step.slopes` given, that map is applied to the centre and to every
/// direction, so that the group stands for the activated vertices. A group
/// with changes is left as it is (bias added) for the caller to expand.
///
/// The vertex values `c + d_k` and `c - d_k` it tests are the ones the
/// caller rebuilds for an expanded group, so its counts are theirs.
///
/// Precondition: `dirs >= 1` and `z` holds whole groups of `dirs + 1` rows
/// of `cols` values; with `cols == 0` or `dirs == 0` it does nothing at all
/// (no bias, no `counted` calls).
pub(crate) fn hood_step<T: Lane>(
    z: &mut [T],
    cols: usize,
    dirs: usize,
    step: LayerStep<'_, T>,
    marks: &mut Marks<T>,
    counted: impl FnMut(usize, u32),
) {
    if cols == 0 || dirs == 0 {
        return;
    }
    debug_assert_eq!(z.len() % ((dirs + 1) * cols), 0, "whole groups");
    let (first, changed) = marks.lanes(cols);
    Arch::new().dispatch(Hood {
        z,
        cols,
        dirs,
        step,
        first,
        changed,
        counted,
    });
}

/// [`hood_step`]'s arguments, run by [`pulp`] as [`Fused`] is.
struct Hood<'a, T, F> {
    z: &'a mut [T],
    cols: usize,
    dirs: usize,
    step: LayerStep<'a, T>,
    first: &'a mut [T],
    changed: &'a mut [T],
    counted: F,
}

impl<T: Lane, F: FnMut(usize, u32)> WithSimd for Hood<'_, T, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let Hood {
            z,
            cols,
            dirs,
            step,
            first,
            changed,
            mut counted,
        } = self;
        for (g, group) in z.chunks_mut((dirs + 1) * cols).enumerate() {
            let (centre, directions) = group.split_at_mut(cols);
            add_bias(centre, step.bias);
            // A bias-only step (uncounted, no slopes) has no reader of the
            // changes: neither a count nor an expansion.
            let needed = step.count || step.slopes.is_some();
            let changes = if needed {
                hood_changes(centre, directions, first, changed)
            } else {
                0
            };
            if let (0, Some(slopes)) = (changes, step.slopes) {
                // `changed` is all zeros here: it becomes the slope lane.
                for (s, &f) in changed.iter_mut().zip(first.iter()) {
                    *s = slope_at(f, slopes);
                }
                for row in std::iter::once(centre).chain(directions.chunks_exact_mut(cols)) {
                    for (v, &s) in row.iter_mut().zip(changed.iter()) {
                        *v = *v * s;
                    }
                }
            }
            counted(g, changes);
        }
    }
}

/// The units of one group (centre `c`, directions `d_k`) whose sign at some
/// vertex `c + d_k` or `c - d_k` differs from that of `c + d_1`; leaves the
/// signs of `c + d_1` in `first`.
#[inline(always)]
fn hood_changes<T: Lane>(centre: &[T], directions: &[T], first: &mut [T], changed: &mut [T]) -> u32 {
    let zero = T::default();
    let cols = centre.len();
    for ((f, &c), &d) in first.iter_mut().zip(centre).zip(&directions[..cols]) {
        *f = sign(c + d);
    }
    changed.fill(zero);
    for (k, row) in directions.chunks_exact(cols).enumerate() {
        // `c + d_1` is vertex 0 itself: only `c - d_1` is tested there.
        let plus = k > 0;
        for (((ch, &c), &d), &f) in changed.iter_mut().zip(centre).zip(row).zip(first.iter()) {
            if (plus && sign(c + d) != f) || sign(c + -d) != f {
                *ch = T::ONE;
            }
        }
    }
    changed.iter().filter(|&&c| c != zero).count() as u32
}

/// [`layer_step`]'s arguments, run by [`pulp`] in the widest instruction set
/// (the loops below are inlined into its target-feature function, where
/// the compiler vectorises them).
struct Fused<'a, T, F> {
    z: &'a mut [T],
    cols: usize,
    verts: usize,
    step: LayerStep<'a, T>,
    first: &'a mut [T],
    changed: &'a mut [T],
    counted: F,
}

impl<T: Lane, F: FnMut(usize, u32)> WithSimd for Fused<'_, T, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let Fused {
            z,
            cols,
            verts,
            step,
            first,
            changed,
            mut counted,
        } = self;
        for (b, block) in z.chunks_mut(verts * cols).enumerate() {
            let changes = block_step(block, cols, step, first, changed);
            if step.count {
                counted(b, changes);
            }
        }
    }
}

/// [`layer_step`] on one point's block; returns its count (0 when not counting).
#[inline(always)]
fn block_step<T: Lane>(
    block: &mut [T],
    cols: usize,
    step: LayerStep<'_, T>,
    first: &mut [T],
    changed: &mut [T],
) -> u32 {
    let zero = T::default();
    let mut rows = block.chunks_exact_mut(cols);
    let Some(row0) = rows.next() else {
        return 0;
    };
    add_bias(row0, step.bias);
    for (f, &v) in first.iter_mut().zip(row0.iter()) {
        *f = sign(v);
    }
    changed.fill(zero);
    activate(row0, step.slopes);
    for row in rows {
        add_bias(row, step.bias);
        if step.count {
            mark_changes(row, first, changed);
        }
        activate(row, step.slopes);
    }
    changed.iter().filter(|&&c| c != zero).count() as u32
}

/// The three-valued sign as a float: 1 above zero, -1 below, 0 for both
/// zeros and NaN.
#[inline(always)]
fn sign<T: Lane>(v: T) -> T {
    let zero = T::default();
    if v > zero {
        T::ONE
    } else if v < zero {
        -T::ONE
    } else {
        zero
    }
}

#[inline(always)]
fn add_bias<T: Lane>(row: &mut [T], bias: Option<&[T]>) {
    if let Some(bias) = bias {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v = *v + b;
        }
    }
}

/// Sets `changed[u]` to 1 where the sign of `row[u]` differs from
/// `first[u]` (the first vertex's sign).
#[inline(always)]
fn mark_changes<T: Lane>(row: &[T], first: &[T], changed: &mut [T]) {
    for ((c, &v), &f) in changed.iter_mut().zip(row).zip(first) {
        if sign(v) != f {
            *c = T::ONE;
        }
    }
}

/// The slope of the two-piece activation at `v`: `slopes[v > 0]` (the
/// one rule of [`activate`] and the linear neighbourhoods' slope lane).
#[inline(always)]
fn slope_at<T: Lane>(v: T, [lo, hi]: [T; 2]) -> T {
    if v > T::default() {
        hi
    } else {
        lo
    }
}

/// The two-piece activation `z * slopes[z > 0]`, in place.
#[inline(always)]
fn activate<T: Lane>(row: &mut [T], slopes: Option<[T; 2]>) {
    if let Some(slopes) = slopes {
        for v in row.iter_mut() {
            *v = *v * slope_at(*v, slopes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{simd, single};
    use ndarray::{s, Array1, Array2, Axis};
    use proptest::prelude::*;

    use crate::kernels::simd::tests::value;

    /// A case: `points` blocks of `verts` rows of `cols` values, a bias and slopes.
    fn case() -> impl Strategy<Value = (Array2<f64>, usize, Array1<f64>, [f64; 2])> {
        (1..4usize, 1..6usize, 1..23usize).prop_flat_map(|(points, verts, cols)| {
            (
                proptest::collection::vec(value(), points * verts * cols),
                proptest::collection::vec(value(), cols),
                prop_oneof![Just([0.0, 1.0]), (-1.0..1.0f64).prop_map(|a| [a, 1.0])],
            )
                .prop_map(move |(z, b, s)| {
                    let z = Array2::from_shape_vec((points * verts, cols), z).expect("sized");
                    (z, verts, Array1::from(b), s)
                })
        })
    }

    /// The unfused passes: the bias added row by row, the count of each
    /// block, then the activation.
    fn unfused(
        z: &Array2<f64>,
        verts: usize,
        bias: Option<&Array1<f64>>,
        slopes: [f64; 2],
    ) -> (Array2<f64>, Vec<u32>) {
        let mut z = z.clone();
        if let Some(b) = bias {
            z += b;
        }
        let counts = z
            .axis_chunks_iter(Axis(0), verts)
            .map(simd::first_row_changes)
            .collect();
        let mut choices = Array2::zeros(z.dim());
        simd::two_piece_record(z.view_mut(), choices.view_mut(), slopes);
        (z, counts)
    }

    fn fused<T: Lane>(z: &Array2<T>, verts: usize, step: LayerStep<'_, T>) -> (Array2<T>, Vec<u32>) {
        let mut z = z.clone();
        let cols = z.ncols();
        let mut counts = vec![u32::MAX; z.nrows().div_ceil(verts.max(1))];
        layer_step(
            z.as_slice_mut().expect("standard layout"),
            cols,
            verts,
            step,
            &mut Marks::default(),
            |b, c| counts[b] = c,
        );
        (z, counts)
    }

    fn bits(a: &Array2<f64>) -> Vec<u64> {
        a.iter().map(|v| v.to_bits()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn fused_step_matches_the_unfused_passes((z, verts, b, slopes) in case()) {
            for bias in [Some(&b), None] {
                let step = LayerStep { bias: bias.map(|b| b.as_slice().expect("contiguous")), count: true, slopes: Some(slopes) };
                let (got, got_counts) = fused(&z, verts, step);
                let (want, want_counts) = unfused(&z, verts, bias, slopes);
                prop_assert_eq!(bits(&got), bits(&want));
                prop_assert_eq!(got_counts, want_counts);
            }
        }

        #[test]
        fn output_step_counts_without_acting((z, verts, b, _s) in case()) {
            let step = LayerStep { bias: Some(b.as_slice().expect("contiguous")), count: true, slopes: None };
            let (got, got_counts) = fused(&z, verts, step);
            let want = &z + &b;
            prop_assert_eq!(bits(&got), bits(&want));
            let want_counts: Vec<u32> = want.axis_chunks_iter(Axis(0), verts).map(simd::first_row_changes).collect();
            prop_assert_eq!(got_counts, want_counts);
        }

        #[test]
        fn f32_step_matches_the_f32_passes((z, verts, b, slopes) in case()) {
            let z = z.mapv(|v| v as f32);
            let b = b.mapv(|v| v as f32);
            let slopes = slopes.map(|s| s as f32);
            let step = LayerStep { bias: Some(b.as_slice().expect("contiguous")), count: true, slopes: Some(slopes) };
            let (got, got_counts) = fused(&z, verts, step);
            let mut want = &z + &b;
            // Signs survive the exact conversion to f64.
            let wide = want.mapv(f64::from);
            let want_counts: Vec<u32> = wide.axis_chunks_iter(Axis(0), verts).map(simd::first_row_changes).collect();
            let mut choices = Array2::zeros(want.dim());
            single::bias_two_piece_record(want.view_mut(), None, choices.view_mut(), slopes);
            prop_assert_eq!(got.mapv(f32::to_bits), want.mapv(f32::to_bits));
            prop_assert_eq!(got_counts, want_counts);
        }
    }

    /// A case of the linear lane: `points` groups of a centre row and
    /// `dirs` direction rows (scaled by `shrink`, so that some groups stay
    /// on one side of every unit), and a bias.
    fn hood_case() -> impl Strategy<Value = (Array2<f64>, usize, Array1<f64>)> {
        (
            1..4usize,
            1..5usize,
            1..23usize,
            prop_oneof![Just(1.0), Just(1e-6)],
        )
            .prop_flat_map(|(points, dirs, cols, shrink)| {
                let rows = points * (dirs + 1);
                (
                    proptest::collection::vec(value(), rows * cols),
                    proptest::collection::vec(value(), cols),
                )
                    .prop_map(move |(z, b)| {
                        let mut z = Array2::from_shape_vec((rows, cols), z).expect("sized");
                        for (i, mut row) in z.outer_iter_mut().enumerate() {
                            if i % (dirs + 1) != 0 {
                                row *= shrink;
                            }
                        }
                        (z, dirs, Array1::from(b))
                    })
            })
    }

    /// The `2P` vertex rows `c + d_k`, then `c - d_k`, of every group.
    fn hood_vertices(z: &Array2<f64>, dirs: usize) -> Array2<f64> {
        let cols = z.ncols();
        let mut rows = Vec::new();
        for group in z.axis_chunks_iter(Axis(0), dirs + 1) {
            let c = group.row(0);
            for sign in [1.0, -1.0] {
                for d in group.outer_iter().skip(1) {
                    rows.extend(c.iter().zip(&d).map(|(&c, &d)| c + sign * d));
                }
            }
        }
        Array2::from_shape_vec((rows.len() / cols.max(1), cols), rows).expect("sized")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The linear lane counts what the vertex lane counts on the vertices
        /// it stands for, and a group without changes, activated, stands
        /// for the activated vertices (the same values: the slopes are
        /// powers of two, so `s c +- s d` and `s (c +- d)` round alike).
        #[test]
        fn hood_step_counts_and_acts_as_the_vertex_step(
            (z, dirs, b) in hood_case(),
            slopes in prop_oneof![Just([0.0, 1.0]), Just([-1.0, 1.0]), Just([0.5, 1.0])],
        ) {
            let bias = b.as_slice().expect("contiguous");
            let mut centred = z.clone();
            for mut c in centred.axis_chunks_iter_mut(Axis(0), dirs + 1) {
                let mut row = c.row_mut(0);
                row += &b;
            }
            let (want, want_counts) = fused(&hood_vertices(&centred, dirs), 2 * dirs, LayerStep {
                bias: None,
                count: true,
                slopes: Some(slopes),
            });
            let mut got = z.clone();
            let mut got_counts = vec![u32::MAX; z.nrows() / (dirs + 1)];
            let step = LayerStep { bias: Some(bias), count: true, slopes: Some(slopes) };
            let cols = z.ncols();
            hood_step(got.as_slice_mut().expect("standard layout"), cols, dirs, step, &mut Marks::default(), |g, c| got_counts[g] = c);
            prop_assert_eq!(&got_counts, &want_counts);
            let rebuilt = hood_vertices(&got, dirs);
            for (g, &changes) in got_counts.iter().enumerate() {
                let rows = g * (dirs + 1)..(g + 1) * (dirs + 1);
                if changes == 0 {
                    let verts = g * 2 * dirs..(g + 1) * 2 * dirs;
                    prop_assert_eq!(rebuilt.slice(s![verts.clone(), ..]), want.slice(s![verts, ..]));
                } else {
                    prop_assert_eq!(bits(&got.slice(s![rows.clone(), ..]).to_owned()), bits(&centred.slice(s![rows, ..]).to_owned()));
                }
            }
        }
    }

    /// One [`Marks`] carried through steps of different widths (stale lanes
    /// longer or shorter than the next step's) gives what fresh ones give.
    #[test]
    fn reused_marks_give_what_fresh_marks_give() {
        let mut shared = Marks::default();
        for (points, verts, cols) in [(2, 3, 7), (3, 2, 3), (1, 5, 11), (2, 4, 7)] {
            let z = Array2::from_shape_fn((points * verts, cols), |(i, j)| {
                ((i * 7 + j * 3) % 5) as f64 - 2.0 + 0.25 * j as f64
            });
            let bias: Vec<f64> = (0..cols).map(|j| 0.5 - 0.125 * j as f64).collect();
            let step = LayerStep {
                bias: Some(&bias),
                count: true,
                slopes: Some([0.1, 1.0]),
            };
            let run = |marks: &mut Marks<f64>| {
                let mut z = z.clone();
                let mut counts = vec![u32::MAX; points];
                let values = z.as_slice_mut().expect("standard layout");
                layer_step(values, cols, verts, step, marks, |b, c| counts[b] = c);
                (bits(&z), counts)
            };
            assert_eq!(run(&mut shared), run(&mut Marks::default()));
        }
    }

    /// A block of one group that stays linear (activated in place) and one
    /// whose unit 0 changes sign (left for the caller, bias added), worked
    /// by hand with the leaky slopes `[0.5, 1]` and one direction each.
    #[test]
    fn hood_step_acts_on_the_linear_group_only() {
        let mut z = vec![
            0.5, -2.5, 0.25, 0.5, // group 0: 1 +- 0.25 > 0, -2 +- 0.5 < 0
            0.5, -2.5, 2.0, 0.5, // group 1: 1 + 2 > 0 > 1 - 2
        ];
        let bias = [0.5, 0.5];
        let step = LayerStep {
            bias: Some(&bias),
            count: true,
            slopes: Some([0.5, 1.0]),
        };
        let mut counts = vec![u32::MAX; 2];
        hood_step(&mut z, 2, 1, step, &mut Marks::default(), |g, c| counts[g] = c);
        assert_eq!(counts, vec![0, 1]);
        assert_eq!(z, vec![1.0, -1.0, 0.25, 0.25, 1.0, -2.0, 2.0, 0.5]);
    }

    #[test]
    fn an_uncounted_step_reports_nothing() {
        let mut z = vec![1.0, -2.0, -3.0, 4.0];
        let mut seen = 0;
        let step = LayerStep {
            bias: None,
            count: false,
            slopes: Some([0.0, 1.0]),
        };
        layer_step(&mut z, 2, 2, step, &mut Marks::default(), |_, _| seen += 1);
        assert_eq!(seen, 0);
        assert_eq!(z, vec![1.0, 0.0, 0.0, 4.0]);
    }
}
