//! Row propagation: each cell's affine rows through the network's steps,
//! batched over cells, chunked, and fused with the dense layer after a
//! two-piece layer when corrections per child pay.

use std::collections::HashMap;
use std::sync::Mutex;

use ndarray::{s, Array2, ArrayView2};

use super::cut::{Cell, EdgeTag};
use crate::backend::{dense_blocks_on, Backend};
use crate::kernels::corrections::{add_terms, Term, ROWS};
use crate::network::eval::{choose, scale_pieces, Blocks};
use crate::network::{Dense, Nonlinearity, TwoPiece};
use crate::{Affine, Error, Result};

/// A cell after the last step, with the network's affine map on it.
pub(super) struct FinalCell {
    pub(super) vertices: Vec<[f64; 2]>,
    pub(super) tags: Vec<EdgeTag>,
    pub(super) pattern: Vec<u8>,
    pub(super) affine: Affine,
}

/// Cells with their affine rows: [`BLOCKS`] rows per cell, of the current
/// values and of every saved skip path.
pub(super) struct Batch {
    pub(super) cells: Vec<Cell>,
    pub(super) h: Array2<f64>,
    pub(super) skips: Vec<Array2<f64>>,
}

/// Three rows per cell: `d/ds`, `d/dt`, then the value at `(s, t) = (0, 0)`.
pub(super) const BLOCKS: Blocks = Blocks {
    block: ROWS,
    offset_row: 2,
};

/// The largest number of cells processed as one batch; larger batches are
/// divided and processed depth first, which bounds the memory of the rows.
pub(super) const CHUNK: usize = 256;

/// A two-piece layer and the dense layer right after it, with its weight
/// transposed, and the backend that runs dense layers.
#[derive(Clone, Copy)]
pub(super) struct Fused<'a> {
    pub(super) units: &'a TwoPiece,
    pub(super) dense: &'a Dense,
    pub(super) w_t: &'a Array2<f64>,
    pub(super) backend: &'a dyn Backend,
}

/// The pieces of units `offset..offset + len` of every pattern, a row per
/// pattern (`count` patterns are expected: the buffer's size).
fn layer_choices<'c>(
    patterns: impl IntoIterator<Item = &'c [u8]>,
    count: usize,
    (offset, len): (usize, usize),
) -> Array2<u8> {
    let (mut flat, mut rows) = (Vec::with_capacity(count * len), 0);
    for pattern in patterns {
        flat.extend_from_slice(&pattern[offset..offset + len]);
        rows += 1;
    }
    Array2::from_shape_vec((rows, len), flat).expect("a row per cell")
}

/// How much slower a rank-one correction is assumed to be than the same
/// work inside a matrix product.
const CORRECTION_COST: usize = 10;

/// True when correcting the children of each parent (one rank-one update per
/// unit whose piece differs from the parent's first child) is cheaper than
/// running the dense layer on every child. `choices` holds every child's
/// pieces (borrowed from the cells: a matrix of them all would be the largest
/// buffer of a split of the whole domain).
fn corrections_pay(parents: &[usize], choices: &[&[u8]], first_child: &[usize]) -> bool {
    let units = choices.first().map_or(0, |c| c.len());
    let differing: usize = parents
        .iter()
        .enumerate()
        .map(|(child, &p)| differing(choices[child], choices[first_child[p]]))
        .sum();
    let tally = Tally {
        children: parents.len(),
        differing,
    };
    tally.corrections_pay(first_child.len(), units)
}

/// The children of a batch's parents as the choice between corrections and
/// the dense layer sees them: how many, and how many units in all differ
/// from the parent's first child.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Tally {
    pub(super) children: usize,
    pub(super) differing: usize,
}

impl Tally {
    /// The tally of `children` of one parent whose first child's pieces
    /// (units `offset..offset + len`) are `first`.
    pub(super) fn of(children: &[Cell], first: &[u8], (offset, len): (usize, usize)) -> Tally {
        Tally {
            children: children.len(),
            differing: children
                .iter()
                .map(|c| differing(&c.pattern[offset..offset + len], first))
                .sum(),
        }
    }

    /// Two tallies together.
    pub(super) fn add(self, other: Tally) -> Tally {
        Tally {
            children: self.children + other.children,
            differing: self.differing + other.differing,
        }
    }

    /// [`corrections_pay`] for `parents` parents of `units` units.
    fn corrections_pay(self, parents: usize, units: usize) -> bool {
        if self.children == 0 {
            // No child (an empty batch): nothing to correct, and no
            // `children - parents` to take.
            return false;
        }
        CORRECTION_COST * self.differing < (self.children - parents) * units
    }
}

/// The number of units whose pieces differ between two children.
fn differing(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).map(|(x, y)| usize::from(x != y)).sum()
}

/// Calls `f(j)` for every `j` with `a[j] != b[j]`, in increasing order. A
/// child differs from its parent's first child in a few units (those whose
/// lines cross the parent) out of hundreds, so eight bytes are compared at
/// once and only the words that differ are looked into.
fn for_each_difference(a: &[u8], b: &[u8], mut f: impl FnMut(usize)) {
    debug_assert_eq!(a.len(), b.len());
    const WORD: usize = 8;
    let (words, other) = (a.chunks_exact(WORD), b.chunks_exact(WORD));
    let tail = words.len() * WORD;
    for (w, (x, y)) in words.zip(other).enumerate() {
        let word = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
        let mut diff = word(x) ^ word(y);
        while diff != 0 {
            // The lowest differing byte (little-endian: the first in memory).
            let byte = diff.trailing_zeros() as usize / 8;
            f(w * WORD + byte);
            diff &= !(0xff << (8 * byte));
        }
    }
    (tail..a.len()).filter(|&j| a[j] != b[j]).for_each(f);
}

/// The first child of every parent (a two-piece layer leaves every parent at
/// least one child).
fn first_children(parents: &[usize], parent_count: usize) -> Vec<usize> {
    let mut first = vec![0; parent_count];
    for (child, &p) in parents.iter().enumerate().rev() {
        first[p] = child;
    }
    first
}

/// The parents' rows after a two-piece layer, with the pieces of each
/// parent's first child (`reference`, a row per parent), and the dense layer
/// that follows it (on the backend): what [`corrected`] starts every child's
/// rows from.
fn fused_base(fused: &Fused<'_>, h: ArrayView2<f64>, reference: ArrayView2<u8>) -> Result<Array2<f64>> {
    let scaled = scale_pieces(fused.units, h.to_owned(), BLOCKS, reference);
    let (w, b) = (fused.dense.w(), fused.dense.b());
    let base = dense_blocks_on(
        fused.backend,
        (w, b),
        scaled.view(),
        (BLOCKS.block, BLOCKS.offset_row),
    )?;
    // A fresh product is in standard layout already: no copy then.
    Ok(if base.is_standard_layout() {
        base
    } else {
        base.as_standard_layout().into_owned()
    })
}

/// The rows after a two-piece layer and the dense layer that follows it, for
/// children (`parents`, `choices`: a row per child) of parents whose rows
/// are `h`: the parent's `base` rows (see [`fused_base`]), and a rank-one
/// correction per unit whose piece differs from that of the parent's first
/// child (only units whose line crosses the parent can differ).
fn corrected(
    fused: &Fused<'_>,
    (h, base): (ArrayView2<f64>, &Array2<f64>),
    reference: ArrayView2<u8>,
    parents: &[usize],
    choices: ArrayView2<u8>,
) -> Array2<f64> {
    let slopes = fused.units.slopes();
    let base = base.as_slice().expect("standard layout");
    let w_t = fused.w_t.as_standard_layout();
    let w_t = w_t.as_slice().expect("standard layout");
    let width = fused.w_t.ncols();
    let block = BLOCKS.block * width;
    let mut terms: Vec<Term> = Vec::new();
    // Each child's block is corrected right after it is copied, while it is
    // still in cache.
    let mut out = Vec::with_capacity(parents.len() * block);
    for (child, &p) in parents.iter().enumerate() {
        let start = out.len();
        out.extend_from_slice(&base[p * block..(p + 1) * block]);
        let (own, refs) = (choices.row(child), reference.row(p));
        let own = own.as_slice().expect("standard layout");
        let refs = refs.as_slice().expect("standard layout");
        terms.clear();
        for_each_difference(own, refs, |j| {
            let delta = slopes[own[j] as usize] - slopes[refs[j] as usize];
            terms.push((j, std::array::from_fn(|k| delta * h[[BLOCKS.block * p + k, j]])));
        });
        add_terms(&mut out[start..], w_t, width, &terms);
    }
    Array2::from_shape_vec((parents.len() * BLOCKS.block, width), out).expect("whole blocks")
}

/// The children of a split batch and how they get their rows: computed from
/// their parents' rows for a run of consecutive children when that run is
/// processed, so that a split into many children (the first layer's, of the
/// whole domain) never holds every child's rows at once.
pub(super) struct Children<'p> {
    /// The parent of every child, in order.
    parents: Vec<usize>,
    step: &'p Nonlinearity,
    /// The layer's units: `offset..offset + len`.
    units: (usize, usize),
    /// The parents' rows of the current values and of every skip path.
    h: ArrayView2<'p, f64>,
    skips: &'p [Array2<f64>],
    /// With the dense layer after the step applied too: the layer, each
    /// parent's [`fused_base`] rows and its first child's pieces.
    fused: Option<(Fused<'p>, Array2<f64>, Array2<u8>)>,
}

impl<'p> Children<'p> {
    /// The children of parents whose rows are `h` (and `skips`),
    /// split by `step` (units `offset..offset + len`); `children[i]` holds
    /// parent `i`'s. Given the dense layer that follows, it is applied too
    /// when corrections per child pay.
    ///
    /// # Errors
    ///
    /// The backend's, from the dense layer on the parents' rows.
    pub(super) fn new(
        children: &[Vec<Cell>],
        step: &'p Nonlinearity,
        (offset, len): (usize, usize),
        (h, skips): (ArrayView2<'p, f64>, &'p [Array2<f64>]),
        dense: Option<Fused<'p>>,
    ) -> Result<Children<'p>> {
        let parents: Vec<usize> = children
            .iter()
            .enumerate()
            .flat_map(|(parent, kids)| std::iter::repeat_n(parent, kids.len()))
            .collect();
        let fused = dense
            .and_then(|f| {
                let choices: Vec<&[u8]> = children
                    .iter()
                    .flatten()
                    .map(|c| &c.pattern[offset..offset + len])
                    .collect();
                let first_child = first_children(&parents, children.len());
                corrections_pay(&parents, &choices, &first_child).then(|| {
                    let firsts = first_child.iter().map(|&c| choices[c]);
                    with_base(f, h, layer_choices(firsts, first_child.len(), (0, len)))
                })
            })
            .transpose()?;
        Ok(Children {
            parents,
            step,
            units: (offset, len),
            h,
            skips,
            fused,
        })
    }

    /// [`Children::new`] for the children of one parent (block 0 of `h`)
    /// made piece by piece: `tally` is theirs and `first` the first child's
    /// pieces of the layer (those of [`Children::new`] given every child at
    /// once). Their rows come from [`Children::rows_of_one`].
    ///
    /// # Errors
    ///
    /// As [`Children::new`].
    pub(super) fn of_one(
        step: &'p Nonlinearity,
        units: (usize, usize),
        (h, skips): (ArrayView2<'p, f64>, &'p [Array2<f64>]),
        dense: Option<Fused<'p>>,
        (tally, first): (Tally, &[u8]),
    ) -> Result<Children<'p>> {
        let fused = dense
            .filter(|_| tally.corrections_pay(1, units.1))
            .map(|f| with_base(f, h, layer_choices([first], 1, (0, units.1))))
            .transpose()?;
        Ok(Children {
            parents: Vec::new(),
            step,
            units,
            h,
            skips,
            fused,
        })
    }

    /// True when the dense layer after the step is applied too.
    pub(super) fn fused(&self) -> bool {
        self.fused.is_some()
    }

    /// The rows (current values, skip paths) of the children `start..` that
    /// are `cells`.
    pub(super) fn rows(&self, start: usize, cells: &[Cell]) -> (Array2<f64>, Vec<Array2<f64>>) {
        self.rows_of(&self.parents[start..start + cells.len()], cells)
    }

    /// [`Children::rows`] of children made by [`Children::of_one`].
    pub(super) fn rows_of_one(&self, cells: &[Cell]) -> (Array2<f64>, Vec<Array2<f64>>) {
        self.rows_of(&vec![0; cells.len()], cells)
    }

    /// The rows of children `cells` of `parents` (one each).
    fn rows_of(&self, parents: &[usize], cells: &[Cell]) -> (Array2<f64>, Vec<Array2<f64>>) {
        let patterns = cells.iter().map(|c| c.pattern.as_slice());
        let choices = layer_choices(patterns, cells.len(), self.units);
        let skips = self
            .skips
            .iter()
            .map(|m| gather_blocks(m.view(), parents))
            .collect();
        let h = match &self.fused {
            Some((f, base, reference)) => {
                corrected(f, (self.h, base), reference.view(), parents, choices.view())
            }
            None => choose(self.step, gather_blocks(self.h, parents), BLOCKS, choices.view()),
        };
        (h, skips)
    }
}

/// A fused layer with the parents' base rows from `reference` (a row of
/// pieces per parent), as [`Children`] keeps it.
fn with_base<'p>(
    f: Fused<'p>,
    h: ArrayView2<f64>,
    reference: Array2<u8>,
) -> Result<(Fused<'p>, Array2<f64>, Array2<u8>)> {
    let base = fused_base(&f, h, reference.view())?;
    Ok((f, base, reference))
}

/// The [`BLOCKS`] rows of block `parents[i]` of `h` as block `i`, for every
/// `i`: one contiguous copy per block (ndarray's `select` copies row by row).
fn gather_blocks(h: ArrayView2<f64>, parents: &[usize]) -> Array2<f64> {
    let (block, cols) = (BLOCKS.block, h.ncols());
    let mut out = Vec::with_capacity(parents.len() * block * cols);
    for &p in parents {
        let rows = h.slice(s![block * p..block * (p + 1), ..]);
        match rows.as_slice() {
            Some(flat) => out.extend_from_slice(flat),
            None => out.extend(rows.iter()),
        }
    }
    Array2::from_shape_vec((parents.len() * block, cols), out).expect("whole blocks of h's width")
}

/// Divides cells into consecutive chunks of at most [`CHUNK`] cells, each
/// with the index of its first cell.
pub(super) fn into_chunks(cells: Vec<Cell>) -> Vec<(usize, Vec<Cell>)> {
    let mut chunks = Vec::with_capacity(cells.len().div_ceil(CHUNK));
    let mut cells = cells.into_iter();
    let mut start = 0;
    loop {
        let chunk: Vec<Cell> = cells.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            return chunks;
        }
        let next = start + chunk.len();
        chunks.push((start, chunk));
        start = next;
    }
}

/// The chunks of [`CHUNK`] consecutive children (as [`into_chunks`] cuts
/// them) of children that arrive piece by piece, in any order: a chunk is
/// handed out once all of its cells have arrived.
pub(super) struct Assembly {
    /// The index of each piece's first child, and the number of children.
    starts: Vec<usize>,
    /// The number of pieces whose children fall in each chunk.
    parts: Vec<usize>,
    /// The chunks that span pieces, by index, until they are whole.
    open: Mutex<HashMap<usize, Partial>>,
}

/// A chunk that spans pieces: the parts so far (with their pieces) and the
/// number of parts still missing.
type Partial = (Vec<(usize, Vec<Cell>)>, usize);

impl Assembly {
    /// The chunks of pieces with `counts` children each.
    pub(super) fn new(counts: impl Iterator<Item = usize>) -> Assembly {
        let mut starts = vec![0];
        for count in counts {
            starts.push(starts[starts.len() - 1] + count);
        }
        let total = starts[starts.len() - 1];
        let mut parts = vec![0; total.div_ceil(CHUNK)];
        // A piece with children counts once in every chunk its children
        // reach.
        for w in starts.windows(2).filter(|w| w[0] < w[1]) {
            for part in &mut parts[w[0] / CHUNK..=(w[1] - 1) / CHUNK] {
                *part += 1;
            }
        }
        Assembly {
            starts,
            parts,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Adds the children of piece `k` (all of them, in order) and returns
    /// the chunks made whole, in order.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when piece `k` brings another number of children
    /// than its count in [`Assembly::new`] (a second split of the piece that
    /// differs from the first: the chunks would lose or mix up cells).
    pub(super) fn add(&self, k: usize, cells: Vec<Cell>) -> Result<Vec<Vec<Cell>>> {
        let (mut start, stop) = (self.starts[k], self.starts[k + 1]);
        if start + cells.len() != stop {
            return Err(Error::invalid(
                "plane split",
                format!(
                    "piece {k} made {} children where its first split made {} (an internal invariant)",
                    cells.len(),
                    stop - start
                ),
            ));
        }
        let mut whole = Vec::new();
        let mut cells = cells.into_iter();
        while start < stop {
            let c = start / CHUNK;
            let end = ((c + 1) * CHUNK).min(stop);
            let part: Vec<Cell> = cells.by_ref().take(end - start).collect();
            start = end;
            match self.parts[c] {
                1 => whole.push(part),
                parts => whole.extend(self.join(c, parts, k, part)),
            }
        }
        Ok(whole)
    }

    /// Adds piece `k`'s part of chunk `c` (of `parts` parts); the chunk once
    /// it is whole.
    fn join(&self, c: usize, parts: usize, k: usize, part: Vec<Cell>) -> Option<Vec<Cell>> {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = open.entry(c).or_insert_with(|| (Vec::new(), parts));
        entry.0.push((k, part));
        entry.1 -= 1;
        if entry.1 > 0 {
            return None;
        }
        let (mut got, _) = open.remove(&c)?;
        got.sort_by_key(|(k, _)| *k);
        Some(got.into_iter().flat_map(|(_, cells)| cells).collect())
    }
}

/// The final cells with the affine maps read off their rows.
pub(super) fn finish(batch: Batch) -> Vec<FinalCell> {
    batch
        .cells
        .into_iter()
        .enumerate()
        .map(|(i, cell)| FinalCell {
            vertices: cell.vertices,
            tags: cell.tags,
            pattern: cell.pattern,
            affine: Affine {
                a: batch.h.slice(s![3 * i..3 * i + 2, ..]).t().to_owned(),
                b: batch.h.row(3 * i + 2).to_owned(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Axis};

    use super::*;
    use crate::backend::CpuBackend;
    use crate::network::eval::{affine_blocks, affine_rows};
    use crate::network::{AffineStep, Network, Step};
    use crate::regions::plane_split::cut::tests::random_lines;
    use crate::regions::plane_split::cut::tests::{tag, uniform};
    use crate::regions::plane_split::cut::{split_two_piece, EdgeTag, Pieces};

    /// 2 -> 40 leaky ReLU -> 7 dense, seeded weights in [-1, 1).
    fn network() -> Network {
        let mut seed = 2026u64;
        let mut draw = |r: usize, c: usize| Array2::from_shape_simple_fn((r, c), || uniform(&mut seed));
        let (w1, b1, w2, b2) = (draw(40, 2), draw(40, 1), draw(7, 40), draw(7, 1));
        Network::builder(2)
            .dense(w1, b1.column(0).to_owned())
            .unwrap()
            .leaky_relu(0.1)
            .dense(w2, b2.column(0).to_owned())
            .unwrap()
            .build()
            .unwrap()
    }

    /// 64 squares tiling [-1, 1]^2 (small: few lines cross each, so that
    /// corrections pay).
    fn squares() -> Vec<Cell> {
        let side = 0.25;
        (0..64)
            .map(|k| {
                let (x, y) = (-1.0 + side * (k % 8) as f64, -1.0 + side * (k / 8) as f64);
                Cell {
                    vertices: vec![[x, y], [x + side, y], [x + side, y + side], [x, y + side]],
                    tags: (0..4).map(tag).collect(),
                    pattern: Vec::new(),
                }
            })
            .collect()
    }

    #[test]
    fn a_chunks_rows_equal_the_rows_of_the_whole_batch() {
        let net = network();
        let steps = net.program().steps();
        let (Step::Affine(first), Step::Nonlinear(nl), Step::Affine(dense)) =
            (&steps[0], &steps[1], &steps[2])
        else {
            panic!("dense, leaky ReLU, dense: {steps:?}");
        };
        let (Nonlinearity::TwoPiece(units), AffineStep::Dense(d)) = (nl, dense) else {
            panic!("{steps:?}");
        };
        let w_t = d.w().t().to_owned();
        let cpu = CpuBackend::default();
        // Every parent's rows: the first layer's values in (s, t) coordinates.
        let one = affine_blocks(
            first,
            affine_rows(Array2::eye(2).view(), &Array1::zeros(2)).view(),
            BLOCKS,
        );
        let parents = squares();
        let h = ndarray::concatenate(Axis(0), &vec![one.view(); parents.len()]).unwrap();
        let (offset, len) = (nl.offset(), nl.len());
        let children: Vec<Vec<Cell>> = parents
            .into_iter()
            .enumerate()
            .map(|(i, cell)| {
                split_two_piece(
                    cell,
                    h.slice(s![3 * i..3 * i + 3, ..]),
                    (offset, len),
                    false,
                    &|| false,
                )
            })
            .collect();
        let cells: Vec<Cell> = children.iter().flatten().cloned().collect();
        assert!(cells.len() > 2 * children.len(), "{} children", cells.len());
        for fuse in [false, true] {
            let fused = fuse.then_some(Fused {
                units,
                dense: d,
                w_t: &w_t,
                backend: &cpu,
            });
            let made = Children::new(&children, nl, (offset, len), (h.view(), &[]), fused).unwrap();
            assert_eq!(made.fused(), fuse);
            let (whole, skips) = made.rows(0, &cells);
            assert!(skips.is_empty());
            // Chunks of any size, bit for bit the rows of the whole batch.
            for chunk in [1, 3, 7, 50] {
                for start in (0..cells.len()).step_by(chunk) {
                    let end = (start + chunk).min(cells.len());
                    let (part, _) = made.rows(start, &cells[start..end]);
                    assert_eq!(
                        part,
                        whole.slice(s![3 * start..3 * end, ..]),
                        "cells {start}..{end}"
                    );
                }
            }
            // And each child's rows by hand from its own pieces: the first
            // layer's rows times the pieces' slopes, then (fused) the dense layer.
            for (i, cell) in cells.iter().enumerate() {
                let mut want = one.clone();
                for (j, mut column) in want.columns_mut().into_iter().enumerate() {
                    column *= units.slopes()[cell.pattern[offset + j] as usize];
                }
                if fuse {
                    want = want.dot(&d.w().t());
                    want.row_mut(2).scaled_add(1.0, &d.b());
                }
                let got = whole.slice(s![3 * i..3 * i + 3, ..]);
                let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                let error = (&got - &want).iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(error <= 1e-13 * scale, "child {i}: {error:e}");
            }
        }
    }

    #[test]
    fn one_parents_children_made_piece_by_piece_get_the_same_rows() {
        let net = network();
        let steps = net.program().steps();
        let (Step::Affine(first), Step::Nonlinear(nl), Step::Affine(AffineStep::Dense(d))) =
            (&steps[0], &steps[1], &steps[2])
        else {
            panic!("dense, leaky ReLU, dense: {steps:?}");
        };
        let Nonlinearity::TwoPiece(units) = nl else {
            panic!("{steps:?}");
        };
        let w_t = d.w().t().to_owned();
        let cpu = CpuBackend::default();
        let h = affine_blocks(
            first,
            affine_rows(Array2::eye(2).view(), &Array1::zeros(2)).view(),
            BLOCKS,
        );
        let (offset, len) = (nl.offset(), nl.len());
        // The whole square (many lines: the dense layer runs) and smaller
        // ones (fewer lines: corrections pay).
        let mut fused_seen = [false, false];
        for side in [2.0, 0.5, 0.25, 0.125] {
            let (x, y) = (-side / 2.0, -side / 2.0);
            let parent = Cell {
                vertices: vec![[x, y], [x + side, y], [x + side, y + side], [x, y + side]],
                tags: (0..4).map(tag).collect(),
                pattern: Vec::new(),
            };
            let children = split_two_piece(parent, h.view(), (offset, len), false, &|| false);
            let fused = Some(Fused {
                units,
                dense: d,
                w_t: &w_t,
                backend: &cpu,
            });
            let whole = Children::new(
                std::slice::from_ref(&children),
                nl,
                (offset, len),
                (h.view(), &[]),
                fused,
            )
            .unwrap();
            let first_pieces = &children[0].pattern[offset..offset + len];
            // Tallied in two parts, as pieces are.
            let half = children.len() / 2;
            let tally = Tally::of(&children[..half], first_pieces, (offset, len)).add(Tally::of(
                &children[half..],
                first_pieces,
                (offset, len),
            ));
            assert_eq!(tally.children, children.len());
            let by_pieces =
                Children::of_one(nl, (offset, len), (h.view(), &[]), fused, (tally, first_pieces)).unwrap();
            assert_eq!(whole.fused(), by_pieces.fused());
            fused_seen[usize::from(whole.fused())] = true;
            let bits = |rows: Array2<f64>| rows.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            for (start, part) in [(0, &children[..half]), (half, &children[half..])] {
                assert_eq!(
                    bits(whole.rows(start, part).0),
                    bits(by_pieces.rows_of_one(part).0)
                );
            }
        }
        assert_eq!(fused_seen, [true, true], "both ways exercised");
    }

    #[test]
    fn differences_are_found_in_order_in_every_word_and_the_tail() {
        // 21 bytes: two whole words and a tail of five; differences at both
        // ends of a word, three in one word, and in the tail.
        let a = vec![0u8; 21];
        let mut b = a.clone();
        let at = [0, 7, 8, 9, 15, 17, 20];
        for &j in &at {
            b[j] = 1;
        }
        let mut seen = Vec::new();
        for_each_difference(&a, &b, |j| seen.push(j));
        assert_eq!(seen, at);
        seen.clear();
        for_each_difference(&a, &a, |j| seen.push(j));
        assert!(seen.is_empty());
    }

    #[test]
    fn pieces_in_any_order_make_the_chunks_of_the_whole_list() {
        // Children numbered in order (the number in the pattern's two bytes).
        let counts = [100, 300, 1, 40, 600, 200, 3];
        let mut next = 0u16;
        let pieces: Vec<Vec<Cell>> = counts
            .iter()
            .map(|&n| {
                (0..n)
                    .map(|_| {
                        next += 1;
                        Cell {
                            vertices: Vec::new(),
                            tags: Vec::new(),
                            pattern: (next - 1).to_le_bytes().to_vec(),
                        }
                    })
                    .collect()
            })
            .collect();
        let numbers = |cells: &[Cell]| -> Vec<u16> {
            cells
                .iter()
                .map(|c| u16::from_le_bytes([c.pattern[0], c.pattern[1]]))
                .collect()
        };
        let want: Vec<Vec<u16>> = into_chunks(pieces.concat())
            .into_iter()
            .map(|(_, cells)| numbers(&cells))
            .collect();
        let assembly = Assembly::new(counts.into_iter());
        let mut got = Vec::new();
        for k in [4, 0, 6, 2, 5, 1, 3] {
            got.extend(
                assembly
                    .add(k, pieces[k].clone())
                    .unwrap()
                    .iter()
                    .map(|c| numbers(c)),
            );
        }
        got.sort();
        assert_eq!(got, want);
        // Pieces fed in order give the chunks in order.
        let assembly = Assembly::new(counts.into_iter());
        let mut in_order = Vec::new();
        for (k, piece) in pieces.iter().enumerate() {
            in_order.extend(assembly.add(k, piece.clone()).unwrap().iter().map(|c| numbers(c)));
        }
        assert_eq!(in_order, want);
        // A piece with another number of children than counted is an error.
        let err = Assembly::new(counts.into_iter())
            .add(0, pieces[1].clone())
            .unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    }

    #[test]
    fn pieces_and_their_assembly_give_the_chunks_of_the_whole_split() {
        // Real cells: the faces of 60 random lines in the square, several
        // chunks of them.
        let n = 60;
        let (rows, square) = random_lines(n);
        let halt = || false;
        let list = split_two_piece(square.clone(), rows.view(), (0, n), false, &halt);
        assert!(list.len() > 2 * CHUNK, "{} faces", list.len());
        let key = |cells: &[Cell]| -> Vec<(Vec<u64>, Vec<u8>, Vec<EdgeTag>)> {
            cells
                .iter()
                .map(|c| {
                    let bits = c.vertices.iter().flatten().map(|v| v.to_bits()).collect();
                    (bits, c.pattern.clone(), c.tags.clone())
                })
                .collect()
        };
        let want: Vec<_> = into_chunks(list).iter().map(|(_, c)| key(c)).collect();
        let pieces = Pieces::new(square, rows.view(), (0, n), &halt).unwrap();
        let children: Vec<Vec<Cell>> = (0..pieces.len()).map(|k| pieces.refine(k)).collect();
        let assembly = || Assembly::new(children.iter().map(Vec::len));
        // In order: the whole list's chunks, in order, bit for bit.
        let forward = assembly();
        let mut got = Vec::new();
        for (k, cells) in children.iter().enumerate() {
            got.extend(forward.add(k, cells.clone()).unwrap().iter().map(|c| key(c)));
        }
        assert_eq!(got, want);
        // Backwards: the same chunks.
        let backward = assembly();
        let mut got = Vec::new();
        for (k, cells) in children.iter().enumerate().rev() {
            got.extend(backward.add(k, cells.clone()).unwrap().iter().map(|c| key(c)));
        }
        got.sort_by_key(|chunk| want.iter().position(|w| w == chunk));
        assert_eq!(got, want);
    }
}
