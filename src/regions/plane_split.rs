//! The 2-D splitter: every region of a network in a 2-D domain by exact
//! polygon splitting, layer by layer and unit by unit, with no LP.
//!
//! The network runs as a straight-line program of steps
//! ([`crate::network::eval::Step`]). Each cell carries the affine rows of the
//! current layer's values in domain coordinates (`d/ds`, `d/dt`, offset), and
//! of every saved residual skip path. Inside a cell every unit of the next
//! nonlinearity is affine, so a two-piece layer cuts the cell by each unit's
//! line in turn, and a max unit clips it into the pieces where each candidate
//! wins. Affine steps are batched matrix products over many cells.
//!
//! Cells are processed depth first in chunks of at most [`CHUNK`] cells, in
//! parallel over chunks and cells; chunks are formed in a fixed order, so the
//! result does not depend on the thread count.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use ndarray::{s, Array1, Array2, ArrayView2, Axis, CowArray, Ix2};
use rayon::prelude::*;

use super::adjacency2d::link_neighbors;
use super::hrep::RowSource;
use super::options::Watch;
use super::walk::Setup;
use super::{EnumOptions, EnumStats, Method, Partition, Region, ThinCell};
use crate::geometry::predicates::{classify, line_sign, Sign};
use crate::geometry::{cut_piece, cut_piece_into, largest_inscribed_circle, signed_area};
use crate::lp::LpStats;
use crate::network::eval::{affine_blocks, affine_rows, carry, choose, steps, Blocks, Step};
use crate::network::layers::{Layer, NONE};
use crate::{Affine, Domain, Error, Network, Result};

/// An edge of a cell: where its line comes from, and the line as
/// `line[0] s + line[1] t + line[2] <= 0` inside the cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct EdgeTag {
    pub source: RowSource,
    pub line: [f64; 3],
}

/// A convex cell: its vertices (counter-clockwise), a tag per edge (edge `k`
/// runs from vertex `k` to the next) and the pattern of the units so far
/// (only those: the pattern grows layer by layer, so that the copies made
/// when a cell splits are short in the early layers).
#[derive(Clone, Debug)]
struct Cell {
    vertices: Vec<[f64; 2]>,
    tags: Vec<EdgeTag>,
    pattern: Vec<u8>,
}

/// A cell after the last step, with the network's affine map on it.
pub(crate) struct FinalCell {
    pub vertices: Vec<[f64; 2]>,
    pub tags: Vec<EdgeTag>,
    pub pattern: Vec<u8>,
    pub affine: Affine,
}

/// Cells with their affine rows: [`BLOCKS`] rows per cell, of the current
/// values and of every saved skip path. A chunk of a larger batch borrows
/// its rows of the current values rather than copying them.
struct Batch<'a> {
    cells: Vec<Cell>,
    h: CowArray<'a, f64, Ix2>,
    skips: Vec<Array2<f64>>,
}

/// Three rows per cell: `d/ds`, `d/dt`, then the value at `(s, t) = (0, 0)`.
const BLOCKS: Blocks = Blocks {
    block: 3,
    offset_row: 2,
};

/// The largest number of cells processed as one batch; larger batches are
/// divided and processed depth first, which bounds the memory of the rows.
pub(crate) const CHUNK: usize = 256;

/// One enumeration: the program, the limits and the shared counters.
struct Run<'a> {
    steps: Vec<Step<'a>>,
    /// For each step with units, its index among such steps.
    unit_step: Vec<Option<usize>>,
    parallel: bool,
    watch: Watch<'a>,
    finished: AtomicUsize,
    stopped: Mutex<Option<String>>,
    /// Set when a step's values overflow `f64`: the cells' lines are then
    /// meaningless, so the run stops and reports it instead of a partition.
    overflowed: AtomicBool,
    /// The largest coordinate of the domain's polygon: no cell reaches farther.
    reach: f64,
    layer_counts: Vec<AtomicUsize>,
    /// For each dense step, its weight transposed (inputs x outputs).
    transposed: Vec<Option<Array2<f64>>>,
    /// Cells whose inscribed circle is no larger are thin and dropped.
    tol_radius: f64,
    /// Thin cells dropped so far.
    rejected_thin: AtomicUsize,
    /// The thin cells themselves, when the options ask for them.
    thin: Option<Mutex<Vec<ThinCell>>>,
    /// The regions found so far, in the order chunks finish (the partition
    /// sorts them by pattern); one shared vector moves each region once.
    regions: Mutex<Vec<Region>>,
}

/// Runs the splitter.
pub(crate) fn plane_split(net: &Network, domain: &Domain, opts: &EnumOptions) -> Result<Partition> {
    if domain.dim() != 2 {
        return Err(Error::invalid(
            "method",
            format!(
                "plane splitting needs a 2-D domain, got dimension {}",
                domain.dim()
            ),
        ));
    }
    let mut lp = LpStats::default();
    let setup = Setup::new(domain, opts, &mut lp)?;
    let program = steps(net.layers());
    let unit_step = number_unit_steps(&program);
    let transposed = program
        .iter()
        .map(|step| match step {
            Step::Affine(Layer::Dense { w, .. }) => Some(w.t().to_owned()),
            _ => None,
        })
        .collect();
    let first = first_batch(net, domain, &setup)?;
    let mut run = Run {
        reach: max_coordinate(&first.cells[0].vertices),
        transposed,
        layer_counts: (0..unit_step.iter().flatten().count())
            .map(|_| AtomicUsize::new(0))
            .collect(),
        steps: program,
        unit_step,
        parallel: opts.threads != Some(1),
        watch: Watch::new(opts),
        finished: AtomicUsize::new(0),
        stopped: Mutex::new(None),
        overflowed: AtomicBool::new(false),
        tol_radius: setup.tol_radius,
        rejected_thin: AtomicUsize::new(0),
        thin: opts.record_thin.then(|| Mutex::new(Vec::new())),
        regions: Mutex::new(Vec::new()),
    };
    run.run(0, first);
    let mut regions = std::mem::take(&mut *run.found());
    if run.overflowed.load(Ordering::Relaxed) {
        return Err(overflow_error());
    }
    let rejected_thin = run.rejected_thin.load(Ordering::Relaxed);
    let total = regions.len() + rejected_thin;
    link_neighbors(&mut regions, domain_diameter(&setup), run.parallel);
    let stats = EnumStats {
        rejected_thin,
        elapsed: run.watch.elapsed(),
        method: Method::PlaneSplit,
        lps_solved: lp.lps_solved,
        lps_skipped: lp.lps_skipped,
        ..EnumStats::default()
    };
    let counts = run
        .layer_counts
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    let thin = run
        .thin
        .take()
        .map(|t| t.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()))
        .unwrap_or_default();
    let partition = Partition::assemble(regions, stats, domain.clone(), net.clone())
        .with_layer_counts(counts)
        .with_thin_cells(thin);
    run.watch.report(total, 0, true);
    let limit = run.stop_reason().or_else(|| {
        opts.max_regions
            .filter(|&max| partition.len() > max)
            .map(|max| format!("max_regions = {max}"))
    });
    match limit {
        Some(limit) => Err(Error::Incomplete {
            limit,
            partial: Box::new(partition),
        }),
        None => Ok(partition),
    }
}

/// The error of a run whose values overflow `f64` inside the domain.
fn overflow_error() -> Error {
    Error::invalid(
        "network",
        "its values overflow f64 inside the domain (weights too large for exact splitting)",
    )
}

fn number_unit_steps(program: &[Step<'_>]) -> Vec<Option<usize>> {
    let mut next = 0;
    program
        .iter()
        .map(|s| {
            s.units().map(|_| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

fn domain_diameter(setup: &Setup) -> f64 {
    setup
        .bbox
        .as_ref()
        .map_or(1.0, |(lo, hi)| (hi - lo).mapv(|v| v * v).sum().sqrt())
}

/// The domain as one cell, with the rows of the input coordinates.
fn first_batch(net: &Network, domain: &Domain, setup: &Setup) -> Result<Batch<'static>> {
    let (vertices, tags) = domain_polygon(domain, setup)?;
    let (basis, origin) = domain.embedding();
    Ok(Batch {
        cells: vec![Cell {
            vertices,
            tags,
            pattern: Vec::with_capacity(net.unit_count()),
        }],
        h: affine_rows(basis.view(), &origin).into(),
        skips: Vec::new(),
    })
}

/// The domain's polygon with its edges tagged by the domain's rows: a slice's
/// window as given, a box or polytope as its bounding box cut by every row.
fn domain_polygon(domain: &Domain, setup: &Setup) -> Result<(Vec<[f64; 2]>, Vec<EdgeTag>)> {
    let cons = domain.constraints()?;
    let tag = |i: usize| EdgeTag {
        source: RowSource::Domain(i),
        line: [cons.a[[i, 0]], cons.a[[i, 1]], -cons.b[i]],
    };
    if let Some(window) = domain.window_polygon()? {
        let n = window.len();
        let tags = (0..n)
            .map(|k| tag(row_along(&cons, window[k], window[(k + 1) % n])))
            .collect();
        return Ok((window, tags));
    }
    let (lo, hi) = setup
        .bbox
        .as_ref()
        .ok_or_else(|| Error::invalid("domain", "unbounded"))?;
    let margin = 1.0 + (hi - lo).iter().fold(0.0f64, |m, v| m.max(*v));
    let (l, h) = ([lo[0] - margin, lo[1] - margin], [hi[0] + margin, hi[1] + margin]);
    let outside = EdgeTag {
        source: RowSource::Domain(usize::MAX),
        line: [0.0; 3],
    };
    let mut vertices = vec![l, [h[0], l[1]], h, [l[0], h[1]]];
    let mut tags = vec![outside; 4];
    for i in 0..cons.len() {
        let t = tag(i);
        let a = [t.line[0], t.line[1]];
        let scale = line_scale(a, t.line[2], max_coordinate(&vertices));
        let signs: Vec<(f64, Sign)> = vertices
            .iter()
            .map(|&p| line_sign(a, t.line[2], p, scale))
            .collect();
        if !signs.iter().any(|s| s.1 == Sign::Positive) {
            continue;
        }
        (vertices, tags) = cut_piece(&vertices, &tags, &signs, Sign::Negative, t)
            .ok_or_else(|| Error::invalid("domain", "empty or without area"))?;
    }
    if tags.contains(&outside) {
        return Err(Error::invalid("domain", "unbounded"));
    }
    Ok((corners_of(&tags).unwrap_or(vertices), tags))
}

/// The row of `cons` whose boundary line holds the edge `p q` (the smallest
/// distance of the two end points from the line): the domain's rows need not
/// follow the order of its polygon's edges.
fn row_along(cons: &crate::Polytope, p: [f64; 2], q: [f64; 2]) -> usize {
    let miss = |i: usize| {
        let (a, b) = (cons.a.row(i), cons.b[i]);
        let norm = a[0].hypot(a[1]);
        ((a[0] * p[0] + a[1] * p[1] - b).abs() + (a[0] * q[0] + a[1] * q[1] - b).abs()) / norm
    };
    (0..cons.len())
        .min_by(|&i, &j| miss(i).total_cmp(&miss(j)))
        .unwrap_or(0)
}

/// The vertices recomputed as the crossings of consecutive edge lines (exact
/// for axis-aligned boxes); `None` when two consecutive lines are parallel.
fn corners_of(tags: &[EdgeTag]) -> Option<Vec<[f64; 2]>> {
    let n = tags.len();
    (0..n)
        .map(|k| {
            let (p, q) = (tags[(k + n - 1) % n].line, tags[k].line);
            let det = p[0] * q[1] - p[1] * q[0];
            (det != 0.0).then(|| {
                [
                    (-p[2] * q[1] + q[2] * p[1]) / det,
                    (-p[0] * q[2] + q[0] * p[2]) / det,
                ]
            })
        })
        .collect()
}

/// The largest coordinate magnitude of the vertices: with it,
/// [`line_scale`] bounds the terms of `a . p + c` at every vertex.
fn max_coordinate(vertices: &[[f64; 2]]) -> f64 {
    vertices
        .iter()
        .map(|p| p[0].abs().max(p[1].abs()))
        .fold(0.0, f64::max)
}

impl Run<'_> {
    /// Maps `f` over `items`, in parallel unless the run is serial; order is kept.
    fn map<T: Send, U: Send>(&self, items: Vec<T>, f: impl Fn(T) -> U + Sync + Send) -> Vec<U> {
        if self.parallel {
            items.into_par_iter().map(f).collect()
        } else {
            items.into_iter().map(f).collect()
        }
    }

    fn stop_reason(&self) -> Option<String> {
        self.stopped.lock().ok().and_then(|s| s.clone())
    }

    /// Records the limit that stops the run, if one is reached.
    fn check_limits(&self) -> bool {
        if self.stop_reason().is_some() || self.overflowed.load(Ordering::Relaxed) {
            return true;
        }
        let done = self.finished.load(Ordering::Relaxed);
        match self.watch.exceeded(done) {
            Some(limit) => {
                if let Ok(mut s) = self.stopped.lock() {
                    s.get_or_insert(limit);
                }
                true
            }
            None => false,
        }
    }

    /// The regions found so far (a panic elsewhere leaves them usable).
    fn found(&self) -> std::sync::MutexGuard<'_, Vec<Region>> {
        self.regions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs the program from step `from` on a batch and adds the regions of
    /// its final cells that are not thin, made as soon as a chunk is done so
    /// that its cells' rows and byte patterns are freed early.
    fn run(&self, from: usize, mut batch: Batch<'_>) {
        if self.check_limits() {
            return;
        }
        let mut index = from;
        while index < self.steps.len() {
            if !self.rows_are_finite(&batch) {
                return;
            }
            let step = &self.steps[index];
            let Some(units) = step.units() else {
                batch.h = carry(step, batch.h.into_owned(), &mut batch.skips, BLOCKS).into();
                index += 1;
                continue;
            };
            let (next, fused) = self.split_batch(step, units, batch, self.fused_dense(index));
            batch = next;
            if let Some(k) = self.unit_step[index] {
                self.layer_counts[k].fetch_add(batch.cells.len(), Ordering::Relaxed);
            }
            index += if fused { 2 } else { 1 };
            if batch.cells.len() > CHUNK {
                let Batch { cells, h, skips } = batch;
                self.map(into_chunks(cells, h.view(), &skips), |chunk| {
                    self.run(index, chunk)
                });
                return;
            }
        }
        if !self.rows_are_finite(&batch) {
            return;
        }
        let done = finish(batch);
        let total_cells = done.len();
        let total = self.finished.fetch_add(done.len(), Ordering::Relaxed) + done.len();
        self.watch.report(total, 0, false);
        let (regions, thin): (Vec<_>, Vec<_>) = done
            .into_iter()
            .map(|c| region_of(c, self.tol_radius))
            .partition(|r| r.is_ok());
        self.rejected_thin
            .fetch_add(total_cells - regions.len(), Ordering::Relaxed);
        if let Some(kept) = &self.thin {
            let mut kept = kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            kept.extend(thin.into_iter().filter_map(|r| r.err()));
        }
        self.found().extend(regions.into_iter().filter_map(|r| r.ok()));
    }

    /// False, and the run marked as overflowed, when a value of the batch's
    /// affine rows can overflow `f64` somewhere in the domain (huge weights
    /// on a large domain): the splitter's side tests would then see
    /// infinities and NaN. An empty batch has nothing left to compute, which
    /// also ends its run.
    fn rows_are_finite(&self, batch: &Batch) -> bool {
        if batch.cells.is_empty() {
            return false;
        }
        let h = batch.h.as_standard_layout();
        let cols = h.ncols();
        let flat = h.as_slice().expect("standard layout");
        // No early exit inside a block, so that the loop vectorises.
        let finite = flat.chunks_exact(BLOCKS.block * cols).all(|rows| {
            let (ds, rest) = rows.split_at(cols);
            let (dt, offset) = rest.split_at(cols);
            ds.iter().zip(dt).zip(offset).fold(true, |ok, ((a0, a1), c)| {
                ok & line_scale([*a0, *a1], *c, self.reach).is_finite()
            })
        });
        if !finite {
            self.overflowed.store(true, Ordering::Relaxed);
        }
        finite
    }

    /// The dense layer right after the two-piece layer at step `index`, with
    /// its weight transposed, when there is one.
    fn fused_dense(&self, index: usize) -> Option<(&Layer, &Array2<f64>)> {
        let w_t = self.transposed.get(index + 1)?.as_ref()?;
        match (self.steps[index], self.steps[index + 1]) {
            (Step::TwoPiece { .. }, Step::Affine(layer)) => Some((layer, w_t)),
            _ => None,
        }
    }

    /// Splits every cell of the batch by a nonlinearity (units
    /// `offset..offset + len`) and applies it to the children's rows. Given
    /// the dense layer that follows, applies that too when corrections per
    /// child pay, and says so.
    fn split_batch<'b>(
        &self,
        step: &Step<'_>,
        (offset, len): (usize, usize),
        batch: Batch<'_>,
        dense: Option<(&Layer, &Array2<f64>)>,
    ) -> (Batch<'b>, bool) {
        let parent_count = batch.cells.len();
        let h = batch.h.view();
        let split_one = |(i, cell): (usize, Cell)| {
            let rows = h.slice(s![3 * i..3 * i + 3, ..]);
            match *step {
                Step::TwoPiece { .. } => split_two_piece(cell, rows, offset, len),
                Step::Max { width, cand, .. } => split_max(&cell, rows, width, cand, offset),
                _ => unreachable!("only nonlinearities split cells"),
            }
        };
        let children = self.map(batch.cells.into_iter().enumerate().collect(), split_one);
        let parents: Vec<usize> = children
            .iter()
            .enumerate()
            .flat_map(|(parent, kids)| std::iter::repeat_n(parent, kids.len()))
            .collect();
        let cells: Vec<Cell> = children.into_iter().flatten().collect();
        let choices = layer_choices(&cells, offset, len);
        let skips = batch
            .skips
            .iter()
            .map(|m| gather_blocks(m.view(), &parents))
            .collect();
        let fused = dense.filter(|_| corrections_pay(&parents, choices.view(), parent_count));
        let h = match fused {
            Some((layer, w_t)) => through_dense(step, h, &parents, choices.view(), layer, w_t),
            None => choose(step, gather_blocks(h, &parents), BLOCKS, choices.view()),
        };
        (
            Batch {
                h: h.into(),
                cells,
                skips,
            },
            fused.is_some(),
        )
    }
}

/// The pieces of units `offset..offset + len` of every cell, a row per cell.
fn layer_choices(cells: &[Cell], offset: usize, len: usize) -> Array2<u8> {
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
fn corrections_pay(parents: &[usize], choices: ArrayView2<u8>, parent_count: usize) -> bool {
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
fn through_dense(
    step: &Step<'_>,
    h: ArrayView2<f64>,
    parents: &[usize],
    choices: ArrayView2<u8>,
    dense: &Layer,
    w_t: &Array2<f64>,
) -> Array2<f64> {
    let Step::TwoPiece { act, .. } = *step else {
        unreachable!("only two-piece layers are fused with a dense layer")
    };
    let slopes = act.slopes();
    let first_child = first_children(parents, h.nrows() / 3);
    let reference = choices.select(Axis(0), &first_child);
    let base = affine_blocks(
        dense,
        choose(step, h.to_owned(), BLOCKS, reference.view()).view(),
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

/// Divides a batch's cells into consecutive chunks of at most [`CHUNK`]
/// cells; each chunk borrows its rows of `h`.
fn into_chunks<'a>(cells: Vec<Cell>, h: ArrayView2<'a, f64>, skips: &[Array2<f64>]) -> Vec<Batch<'a>> {
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
fn finish(batch: Batch<'_>) -> Vec<FinalCell> {
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

/// The tolerance scale of `a . p + c` over a cell whose vertex coordinates
/// are at most `reach` in magnitude: `(|a_0| + |a_1|) reach + |c|`, a bound
/// of the terms summed at every vertex, the same for the whole cell.
fn line_scale(a: [f64; 2], c: f64, reach: f64) -> f64 {
    (a[0].abs() + a[1].abs()) * reach + c.abs()
}

/// Where a cell lies relative to a line.
enum Side {
    /// Wholly in `a . p + c <= 0` (every vertex on the line included).
    Negative,
    /// Wholly in `a . p + c >= 0`, some vertex strictly positive.
    Positive,
    /// Vertices strictly on both sides.
    Both,
}

fn side_of(vertices: &[[f64; 2]], a: [f64; 2], c: f64, scale: f64, signs: &mut Vec<(f64, Sign)>) -> Side {
    signs.clear();
    signs.extend(vertices.iter().map(|&p| line_sign(a, c, p, scale)));
    let has = |sign| signs.iter().any(|&(_, s)| s == sign);
    match (has(Sign::Negative), has(Sign::Positive)) {
        (_, false) => Side::Negative,
        (false, true) => Side::Positive,
        (true, true) => Side::Both,
    }
}

/// Cuts a cell by the lines of two-piece units `offset..offset + len` (rows:
/// their pre-activations on the cell) and sets each piece's bits: `1` where
/// the pre-activation is positive. A line that misses the cell, touches it at
/// a vertex or runs along an edge leaves it whole, and so does a unit whose
/// line repeats an earlier one (its bit comes from the side the cell is on);
/// a dead unit (zero row) has the bit of its constant.
fn split_two_piece(mut cell: Cell, rows: ArrayView2<f64>, offset: usize, len: usize) -> Vec<Cell> {
    let reach = max_coordinate(&cell.vertices);
    let mut scratch = Scratch::default();
    let sides = UnitSides::new(cell.vertices.clone());
    cell.pattern.resize(offset + len, 0);
    let mut pieces = vec![cell];
    for j in 0..len {
        let (a, c) = ([rows[[0, j]], rows[[1, j]]], rows[[2, j]]);
        let scale = line_scale(a, c, reach);
        let unit = offset + j;
        match sides.side(a, c, scale) {
            Side::Negative => pieces.iter_mut().for_each(|p| p.pattern[unit] = 0),
            Side::Positive => pieces.iter_mut().for_each(|p| p.pattern[unit] = 1),
            Side::Both => {
                let mut next = Vec::with_capacity(pieces.len() + 1);
                for piece in pieces {
                    cut_by_unit(piece, (a, c, scale), unit, &mut scratch, &mut next);
                }
                pieces = next;
            }
        }
    }
    pieces
}

/// Rounding errors of a bound below are at most a few `f64::EPSILON` of
/// the terms involved (all within a few times a line's scale); widening the
/// bound by this much more makes it hold despite them.
const ROUNDING_MARGIN: f64 = 64.0 * f64::EPSILON;

/// Where a cell lies relative to the lines of its units: first from the
/// value at one vertex and a bound of the change across the cell, which
/// settles most units, those whose lines pass far from the cell; else from
/// the value at every vertex, computed as [`line_sign`] computes it. The
/// bound is widened past every rounding error and [`classify`] is monotone,
/// so the first way never decides otherwise than the second.
struct UnitSides {
    vertices: Vec<[f64; 2]>,
    /// The largest coordinate difference between a vertex and the first one.
    spread: f64,
}

impl UnitSides {
    fn new(vertices: Vec<[f64; 2]>) -> UnitSides {
        let anchor = vertices[0];
        let spread = vertices
            .iter()
            .map(|p| (p[0] - anchor[0]).abs().max((p[1] - anchor[1]).abs()))
            .fold(0.0, f64::max);
        UnitSides { vertices, spread }
    }

    /// The side of the cell for the line `a . p + c` (tolerance scale `scale`).
    fn side(&self, a: [f64; 2], c: f64, scale: f64) -> Side {
        let anchor = self.vertices[0];
        let at_anchor = a[0] * anchor[0] + a[1] * anchor[1] + c;
        let change =
            (a[0].abs() + a[1].abs()) * self.spread * (1.0 + ROUNDING_MARGIN) + ROUNDING_MARGIN * scale;
        if classify(at_anchor + change, scale) != Sign::Positive {
            return Side::Negative;
        }
        if classify(at_anchor - change, scale) == Sign::Positive {
            return Side::Positive;
        }
        let (lo, hi) = self
            .vertices
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                let v = a[0] * p[0] + a[1] * p[1] + c;
                (lo.min(v), hi.max(v))
            });
        side_of_range(lo, hi, scale)
    }
}

/// Where a cell lies relative to a line whose values at the vertices range
/// over `[lo, hi]`: [`side_of`] without the per-vertex signs.
fn side_of_range(lo: f64, hi: f64, scale: f64) -> Side {
    match (
        classify(lo, scale) == Sign::Negative,
        classify(hi, scale) == Sign::Positive,
    ) {
        (_, false) => Side::Negative,
        (false, true) => Side::Positive,
        (true, true) => Side::Both,
    }
}

/// Scratch space of one cell's split, reused from cut to cut.
#[derive(Default)]
struct Scratch {
    /// The value and side of every vertex of the piece being cut.
    signs: Vec<(f64, Sign)>,
    /// A polygon's vectors: the lower piece is cut into them, and they then
    /// trade places with the piece's old ones.
    vertices: Vec<[f64; 2]>,
    tags: Vec<EdgeTag>,
}

/// Cuts one piece by a unit's line (`a . p + c`, tolerance scale `scale`),
/// pushing the piece(s) with the unit's bit.
fn cut_by_unit(
    mut piece: Cell,
    (a, c, scale): ([f64; 2], f64, f64),
    unit: usize,
    scratch: &mut Scratch,
    out: &mut Vec<Cell>,
) {
    let signs = &mut scratch.signs;
    let whole = |mut piece: Cell, bit: u8, out: &mut Vec<Cell>| {
        piece.pattern[unit] = bit;
        out.push(piece);
    };
    match side_of(&piece.vertices, a, c, scale, signs) {
        Side::Negative => whole(piece, 0, out),
        Side::Positive => whole(piece, 1, out),
        Side::Both => {
            let source = RowSource::Unit(unit);
            let below = EdgeTag {
                source,
                line: [a[0], a[1], c],
            };
            let above = EdgeTag {
                source,
                line: [-a[0], -a[1], -c],
            };
            let (vertices, tags) = (&piece.vertices, &piece.tags);
            let neg = cut_piece_into(
                vertices,
                tags,
                signs,
                Sign::Negative,
                below,
                (&mut scratch.vertices, &mut scratch.tags),
            );
            let pos = cut_piece(vertices, tags, signs, Sign::Positive, above);
            match (neg, pos) {
                (true, Some((pv, pt))) => {
                    let mut upper = Cell {
                        vertices: pv,
                        tags: pt,
                        pattern: piece.pattern.clone(),
                    };
                    upper.pattern[unit] = 1;
                    std::mem::swap(&mut piece.vertices, &mut scratch.vertices);
                    std::mem::swap(&mut piece.tags, &mut scratch.tags);
                    piece.pattern[unit] = 0;
                    out.push(piece);
                    out.push(upper);
                }
                (false, _) => whole(piece, 1, out),
                (_, None) => whole(piece, 0, out),
            }
        }
    }
}

/// Clips a cell into the pieces where each candidate of max units
/// `offset..` wins (`cand`: `width` input indices per unit, [`NONE`] for
/// padding), setting each piece's unit to the winner's window position. Ties
/// go to the lowest position: a candidate that equals a lower one on the
/// whole piece gets nothing.
fn split_max(cell: &Cell, rows: ArrayView2<f64>, width: usize, cand: &[u32], offset: usize) -> Vec<Cell> {
    let mut pieces = vec![cell.clone()];
    pieces[0].pattern.resize(offset + cand.len() / width, 0);
    let mut signs = Vec::with_capacity(cell.vertices.len() + 4);
    for (j, taps) in cand.chunks_exact(width).enumerate() {
        let unit = offset + j;
        let mut next = Vec::with_capacity(pieces.len());
        for piece in &pieces {
            for (k, &tk) in taps.iter().enumerate().filter(|(_, &t)| t != NONE) {
                if let Some((vertices, tags)) =
                    winner_piece(piece, rows, taps, k, tk as usize, unit, &mut signs)
                {
                    let mut pattern = piece.pattern.clone();
                    pattern[unit] = k as u8;
                    next.push(Cell {
                        vertices,
                        tags,
                        pattern,
                    });
                }
            }
        }
        pieces = next;
    }
    pieces
}

/// The part of `piece` where candidate `k` (input `tk`) of a max unit wins.
fn winner_piece(
    piece: &Cell,
    rows: ArrayView2<f64>,
    taps: &[u32],
    k: usize,
    tk: usize,
    unit: usize,
    signs: &mut Vec<(f64, Sign)>,
) -> Option<(Vec<[f64; 2]>, Vec<EdgeTag>)> {
    let radius = max_coordinate(&piece.vertices);
    let mut vertices = piece.vertices.clone();
    let mut tags = piece.tags.clone();
    for (r, &tr) in taps.iter().enumerate().filter(|&(r, &t)| t != NONE && r != k) {
        let tr = tr as usize;
        // Rival r beats k where z_r - z_k > 0 (or >= 0 when r comes first).
        let line = [
            rows[[0, tr]] - rows[[0, tk]],
            rows[[1, tr]] - rows[[1, tk]],
            rows[[2, tr]] - rows[[2, tk]],
        ];
        let a = [line[0], line[1]];
        let scale = line_scale(a, line[2], radius);
        match side_of(&vertices, a, line[2], scale, signs) {
            Side::Negative if r < k && signs.iter().all(|&(_, s)| s == Sign::Zero) => return None,
            Side::Negative => {}
            Side::Positive => return None,
            Side::Both => {
                let tag = EdgeTag {
                    source: RowSource::MaxRival { unit, rival: r as u8 },
                    line,
                };
                (vertices, tags) = cut_piece(&vertices, &tags, signs, Sign::Negative, tag)?;
            }
        }
    }
    Some((vertices, tags))
}

/// The region of a final cell, or the thin cell when it is thin: its edges
/// merged into one row per line, its inscribed circle, polygon and area.
fn region_of(cell: FinalCell, tol_radius: f64) -> std::result::Result<Region, ThinCell> {
    let (vertices, tags) = merge_collinear(cell.vertices, cell.tags);
    let rows: Vec<([f64; 2], f64)> = tags
        .iter()
        .map(|t| ([t.line[0], t.line[1]], -t.line[2]))
        .collect();
    let (center, radius) = largest_inscribed_circle(&rows, &vertices);
    if radius <= tol_radius {
        return Err(ThinCell {
            pattern: crate::Pattern::from_checked(&cell.pattern),
            center: Array1::from(center.to_vec()),
            radius,
        });
    }
    let mut a = Array2::zeros((rows.len(), 2));
    let mut b = Array1::zeros(rows.len());
    for (i, (n, beta)) in rows.iter().enumerate() {
        a[[i, 0]] = n[0];
        a[[i, 1]] = n[1];
        b[i] = *beta;
    }
    Ok(Region {
        pattern: crate::Pattern::from_checked(&cell.pattern),
        polytope: crate::Polytope { a, b },
        sources: tags.iter().map(|t| t.source).collect(),
        center: Array1::from(center.to_vec()),
        radius,
        affine: cell.affine,
        neighbors: Vec::new(),
        volume: Some(signed_area(&vertices)),
        polygon: Some(vertices),
    })
}

/// Drops the vertices in the middle of an edge (between two edges on the
/// same line, which carry the same tag).
fn merge_collinear(mut vertices: Vec<[f64; 2]>, mut tags: Vec<EdgeTag>) -> (Vec<[f64; 2]>, Vec<EdgeTag>) {
    let n = vertices.len();
    let starts_edge = |k: usize, tags: &[EdgeTag]| tags[(k + n - 1) % n] != tags[k];
    if (0..n).filter(|&k| starts_edge(k, &tags)).count() < 3 {
        return (vertices, tags);
    }
    // Compacted in place: `previous` keeps the tag read before it was
    // overwritten.
    let mut previous = tags[n - 1];
    let mut kept = 0;
    for k in 0..n {
        let tag = tags[k];
        if tag != previous {
            vertices[kept] = vertices[k];
            tags[kept] = tag;
            kept += 1;
        }
        previous = tag;
    }
    vertices.truncate(kept);
    tags.truncate(kept);
    (vertices, tags)
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    fn tag(unit: usize) -> EdgeTag {
        EdgeTag {
            source: RowSource::Unit(unit),
            line: [unit as f64, 1.0, 0.0],
        }
    }

    #[test]
    fn overflowing_values_are_an_error_not_a_panic_or_lost_cells() {
        // Each unit's value reaches 2 * 1e308 * 4 on the box: infinite.
        let huge = 1e308;
        let net = Network::builder(2)
            .dense(array![[huge, huge], [-huge, huge]], array![0.0, 0.0])
            .unwrap()
            .relu()
            .dense(array![[huge, huge]], array![0.0])
            .unwrap()
            .relu()
            .dense(array![[1.0]], array![0.0])
            .unwrap()
            .build()
            .unwrap();
        let opts = EnumOptions {
            method: Method::PlaneSplit,
            threads: Some(1),
            ..EnumOptions::default()
        };
        let err = plane_split(&net, &Domain::cube(2, -4.0, 4.0), &opts).unwrap_err();
        assert!(
            matches!(err, Error::Invalid { ref what, .. } if what == "network"),
            "{err:?}"
        );
    }

    #[test]
    fn box_corners_are_exact() {
        let domain = Domain::polytope(
            array![[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [1.0, 1.0]],
            array![0.3, 0.7, 0.1, 0.9, 10.0],
        );
        let mut lp = LpStats::default();
        let setup = Setup::new(&domain, &EnumOptions::default(), &mut lp).unwrap();
        let (vertices, tags) = domain_polygon(&domain, &setup).unwrap();
        assert_eq!(vertices.len(), 4);
        for corner in [[-0.7, -0.9], [0.3, -0.9], [0.3, 0.1], [-0.7, 0.1]] {
            assert!(vertices.contains(&corner), "{corner:?} in {vertices:?}");
        }
        // The redundant row 4 bounds no edge.
        assert!(tags.iter().all(|t| t.source != RowSource::Domain(4)));
    }

    #[test]
    fn window_edges_find_their_rows_in_any_order() {
        // Box rows are x <= hi, -x <= -lo, y <= hi, -y <= -lo; the polygon's
        // edges run bottom, right, top, left.
        let cons = crate::Polytope {
            a: array![[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]],
            b: array![1.0, 2.0, 3.0, 4.0],
        };
        let square = [[-2.0, -4.0], [1.0, -4.0], [1.0, 3.0], [-2.0, 3.0]];
        let rows: Vec<usize> = (0..4)
            .map(|k| row_along(&cons, square[k], square[(k + 1) % 4]))
            .collect();
        assert_eq!(rows, [3, 0, 2, 1]);
    }

    #[test]
    fn merging_drops_vertices_inside_edges() {
        let vertices = vec![[0.0, 0.0], [0.5, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let tags = vec![tag(0), tag(0), tag(1), tag(2)];
        let (v, t) = merge_collinear(vertices, tags);
        assert_eq!(v, [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]);
        assert_eq!(t, [tag(0), tag(1), tag(2)]);
    }

    #[test]
    fn repeated_and_dead_units_get_bits_without_cuts() {
        let cell = Cell {
            vertices: vec![[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]],
            tags: (0..4).map(tag).collect(),
            pattern: vec![0; 4],
        };
        // Units: x, x again, the constant 0.5 and the constant 0.
        let rows = array![[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0]];
        let pieces = split_two_piece(cell, rows.view(), 0, 4);
        assert_eq!(pieces.len(), 2);
        let mut bits: Vec<Vec<u8>> = pieces.iter().map(|p| p.pattern.clone()).collect();
        bits.sort();
        assert_eq!(bits, [vec![0, 0, 1, 0], vec![1, 1, 1, 0]]);
        let total: f64 = pieces.iter().map(|p| signed_area(&p.vertices)).sum();
        assert_eq!(total, 4.0);
    }

    #[test]
    fn the_quick_side_test_agrees_with_every_vertex() {
        let vertices = vec![[0.3, -1.2], [2.5, -0.7], [2.1, 1.9], [-0.4, 0.6]];
        let sides = UnitSides::new(vertices.clone());
        let reach = max_coordinate(&vertices);
        let mut seed = 12345u64;
        let mut uniform = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let name = |side: Side| match side {
            Side::Negative => 0,
            Side::Positive => 1,
            Side::Both => 2,
        };
        for k in 0..2000 {
            let a = [uniform(), uniform()];
            // Offsets through the cell, near it and far from it; every tenth
            // line passes exactly through a vertex.
            let mut c = 4.0 * uniform();
            if k % 10 == 0 {
                let p = vertices[k % vertices.len()];
                c = -(a[0] * p[0] + a[1] * p[1]);
            }
            let scale = line_scale(a, c, reach);
            let values: Vec<f64> = vertices.iter().map(|p| a[0] * p[0] + a[1] * p[1] + c).collect();
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(
                name(sides.side(a, c, scale)),
                name(side_of_range(lo, hi, scale)),
                "line {a:?}, {c}"
            );
        }
    }

    #[test]
    fn max_units_clip_to_winners() {
        let cell = Cell {
            vertices: vec![[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]],
            tags: (0..4).map(tag).collect(),
            pattern: vec![0],
        };
        // Candidates x, y and x again (never wins: it ties candidate 0).
        let rows = array![[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]];
        let pieces = split_max(&cell, rows.view(), 3, &[0, 1, 2], 0);
        let winners: Vec<u8> = pieces.iter().map(|p| p.pattern[0]).collect();
        assert_eq!(winners, [0, 1]);
        for p in &pieces {
            assert_eq!(signed_area(&p.vertices), 2.0);
            let cut = p
                .tags
                .iter()
                .find(|t| matches!(t.source, RowSource::MaxRival { .. }))
                .unwrap();
            let expected = if p.pattern[0] == 0 { 1 } else { 0 };
            assert_eq!(
                cut.source,
                RowSource::MaxRival {
                    unit: 0,
                    rival: expected
                }
            );
        }
    }
}
