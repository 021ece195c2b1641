//! Row propagation: each cell's affine rows through the network's steps,
//! batched over cells, chunked, and fused with the dense layer after a
//! two-piece layer when corrections per child pay.

use ndarray::{s, Array2, ArrayView2, Axis, CowArray, Ix2};

use super::cut::{Cell, EdgeTag};
use crate::network::eval::{affine_blocks, scale_pieces, Blocks};
use crate::network::{AffineStep, TwoPiece};
use crate::Affine;

/// A cell after the last step, with the network's affine map on it.
pub(super) struct FinalCell {
    pub(super) vertices: Vec<[f64; 2]>,
    pub(super) tags: Vec<EdgeTag>,
    pub(super) pattern: Vec<u8>,
    pub(super) affine: Affine,
}

/// Cells with their affine rows: [`BLOCKS`] rows per cell, of the current
/// values and of every saved skip path. A chunk of a larger batch borrows
/// its rows of the current values rather than copying them.
pub(super) struct Batch<'a> {
    pub(super) cells: Vec<Cell>,
    pub(super) h: CowArray<'a, f64, Ix2>,
    pub(super) skips: Vec<Array2<f64>>,
}

/// Three rows per cell: `d/ds`, `d/dt`, then the value at `(s, t) = (0, 0)`.
pub(super) const BLOCKS: Blocks = Blocks {
    block: 3,
    offset_row: 2,
};

/// The largest number of cells processed as one batch; larger batches are
/// divided and processed depth first, which bounds the memory of the rows.
pub(super) const CHUNK: usize = 256;

/// A two-piece layer and the affine step right after it, with the step's
/// weight transposed (it is a dense layer).
#[derive(Clone, Copy)]
pub(super) struct Fused<'a> {
    pub(super) units: &'a TwoPiece,
    pub(super) dense: &'a AffineStep,
    pub(super) w_t: &'a Array2<f64>,
}

/// The pieces of units `offset..offset + len` of every cell, a row per cell.
pub(super) fn layer_choices(cells: &[Cell], offset: usize, len: usize) -> Array2<u8> {
    let mut flat = Vec::with_capacity(cells.len() * len);
    for cell in cells {
        flat.extend_from_slice(&cell.pattern[offset..offset + len]);
    }
    Array2::from_shape_vec((cells.len(), len), flat).expect("a row per cell")
}

/// How much slower a rank-one correction is assumed to be than the same
/// work inside a matrix product.
const CORRECTION_COST: usize = 10;

/// True when correcting the children of each parent (one rank-one update per
/// unit whose piece differs from the parent's first child) is cheaper than
/// running the dense layer on every child.
pub(super) fn corrections_pay(parents: &[usize], choices: ArrayView2<u8>, parent_count: usize) -> bool {
    let first_child = first_children(parents, parent_count);
    let differing: usize = parents
        .iter()
        .enumerate()
        .map(|(child, &p)| {
            let reference = choices.row(first_child[p]);
            choices
                .row(child)
                .iter()
                .zip(reference)
                .filter(|(a, b)| a != b)
                .count()
        })
        .sum();
    CORRECTION_COST * differing < (parents.len() - parent_count) * choices.ncols()
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

/// The rows after a two-piece layer and the dense layer that follows it, for
/// children whose parents' rows are `h`: the dense layer runs once per parent
/// (with the pieces of its first child), and each child adds a rank-one
/// correction per unit whose piece differs from that first child's (only
/// units whose line crosses the parent can differ).
pub(super) fn through_dense(
    fused: &Fused<'_>,
    h: ArrayView2<f64>,
    parents: &[usize],
    choices: ArrayView2<u8>,
) -> Array2<f64> {
    let Fused { units, dense, w_t } = *fused;
    let slopes = units.slopes();
    let first_child = first_children(parents, h.nrows() / 3);
    let reference = choices.select(Axis(0), &first_child);
    let base = affine_blocks(
        dense,
        scale_pieces(units, h.to_owned(), BLOCKS, reference.view()).view(),
        BLOCKS,
    );
    let base = base.as_standard_layout();
    let base = base.as_slice().expect("standard layout");
    let w_t = w_t.as_standard_layout();
    let (width, block) = (w_t.ncols(), BLOCKS.block * w_t.ncols());
    // Each child's block is corrected right after it is copied, while it is
    // still in cache.
    let mut out = Vec::with_capacity(parents.len() * block);
    for (child, &p) in parents.iter().enumerate() {
        let start = out.len();
        out.extend_from_slice(&base[p * block..(p + 1) * block]);
        let rows = &mut out[start..];
        let (own, refs) = (choices.row(child), reference.row(p));
        for (j, (&c, &r)) in own.iter().zip(refs).enumerate().filter(|(_, (c, r))| c != r) {
            let delta = slopes[c as usize] - slopes[r as usize];
            let w_row = w_t.row(j);
            let w_row = w_row.as_slice().expect("standard layout");
            for (k, row) in rows.chunks_exact_mut(width).enumerate() {
                let coef = delta * h[[3 * p + k, j]];
                // As ndarray's `scaled_add`: y + (coef x).
                row.iter_mut().zip(w_row).for_each(|(y, x)| *y += coef * x);
            }
        }
    }
    Array2::from_shape_vec((parents.len() * BLOCKS.block, width), out).expect("whole blocks")
}

/// The [`BLOCKS`] rows of block `parents[i]` of `h` as block `i`, for every
/// `i`: one contiguous copy per block (ndarray's `select` copies row by row).
pub(super) fn gather_blocks(h: ArrayView2<f64>, parents: &[usize]) -> Array2<f64> {
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

/// Divides a batch's cells into consecutive chunks of at most [`CHUNK`]
/// cells; each chunk borrows its rows of `h`.
pub(super) fn into_chunks<'a>(
    cells: Vec<Cell>,
    h: ArrayView2<'a, f64>,
    skips: &[Array2<f64>],
) -> Vec<Batch<'a>> {
    let n = cells.len();
    let mut cells = cells.into_iter();
    (0..n)
        .step_by(CHUNK)
        .map(|start| {
            let end = (start + CHUNK).min(n);
            let rows = s![3 * start..3 * end, ..];
            Batch {
                cells: cells.by_ref().take(end - start).collect(),
                h: h.slice_move(rows).into(),
                skips: skips.iter().map(|m| m.slice(rows).to_owned()).collect(),
            }
        })
        .collect()
}

/// The final cells with the affine maps read off their rows.
pub(super) fn finish(batch: Batch<'_>) -> Vec<FinalCell> {
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
