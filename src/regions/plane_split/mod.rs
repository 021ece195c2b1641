//! The 2-D splitter: every region of a network in a 2-D domain by exact
//! polygon splitting, layer by layer and unit by unit, with no LP.
//!
//! The network runs as a straight-line program of steps
//! ([`crate::network::Program`]). Each cell carries the affine rows of the
//! current layer's values in domain coordinates (`d/ds`, `d/dt`, offset), and
//! of every saved residual skip path. Inside a cell every unit of the next
//! nonlinearity is affine, so a two-piece layer cuts the cell by each unit's
//! line in turn, and a max unit clips it into the pieces where each candidate
//! wins. Affine steps are batched matrix products over many cells.
//!
//! Cells are processed depth first in chunks of at most [`CHUNK`] cells, in
//! parallel over chunks and cells; chunks are formed in a fixed order, so the
//! result does not depend on the thread count.

mod cut;
mod polygon;
mod rows;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(test)]
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};

use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;

use self::cut::{line_scale, max_coordinate, split_max, split_two_piece, Cell, Pieces};
use self::polygon::{domain_polygon, region_of};
use self::rows::{finish, into_chunks, Assembly, Batch, Children, Fused, Tally, BLOCKS, CHUNK};
use super::adjacency2d::link_neighbors;
use super::setup::Setup;
use super::table::RegionTable;
use super::{EnumOptions, EnumStats, Method, Partition, ThinCell};
use crate::backend::{dense_blocks_on, Backend};
use crate::lp::LpStats;
use crate::network::eval::{affine_blocks, affine_rows, carry, flow, Carry, Flow};
use crate::network::{AffineStep, Dense, Nonlinearity, Step};
use crate::run::{Outcome, Watch};
use crate::{Domain, Error, Network, Result};

/// One enumeration: the program, the limits and the shared counters.
struct Run<'a> {
    steps: &'a [Step],
    /// Runs every dense layer of the cells' rows.
    backend: &'a dyn Backend,
    /// The backend's error, once one has failed (the run then stops).
    failed: Mutex<Option<Error>>,
    /// For each step with units, its index among such steps.
    unit_step: Vec<Option<usize>>,
    parallel: bool,
    watch: Watch<'a>,
    /// The limit that stopped the run, once one has.
    stopped: Mutex<Option<Outcome>>,
    /// Set with `stopped` (or on overflow): the cheap flag that splits in
    /// progress poll.
    halted: AtomicBool,
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
    regions: Mutex<RegionTable>,
}

/// Runs the splitter.
pub(crate) fn plane_split(net: &Network, domain: &Domain, opts: &EnumOptions) -> Result<Partition> {
    opts.run
        .with_backend_ref(|backend| plane_split_on(backend, net, domain, opts))
}

/// [`plane_split`] with the dense layers on `backend`.
fn plane_split_on(
    backend: &dyn Backend,
    net: &Network,
    domain: &Domain,
    opts: &EnumOptions,
) -> Result<Partition> {
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
    let setup = Setup::new(domain, opts.tol_radius, &mut lp)?;
    let program = net.program().steps();
    let unit_step = number_unit_steps(program);
    let transposed = program
        .iter()
        .map(|step| match step {
            Step::Affine(AffineStep::Dense(d)) => Some(d.w().t().to_owned()),
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
        backend,
        failed: Mutex::new(None),
        unit_step,
        parallel: opts.run.threads != Some(1),
        watch: Watch::new(&opts.run),
        stopped: Mutex::new(None),
        halted: AtomicBool::new(false),
        overflowed: AtomicBool::new(false),
        tol_radius: setup.tol_radius,
        rejected_thin: AtomicUsize::new(0),
        thin: opts.record_thin.then(|| Mutex::new(Vec::new())),
        regions: Mutex::new(Partition::table_for(domain, net)),
    };
    run.run(0, first);
    let outcome = run.stop_reason().unwrap_or(Outcome::Complete);
    // Moved out of the run: nothing adds regions any more.
    let mut regions = run
        .regions
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(err) = run
        .failed
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
    {
        return Err(err);
    }
    if run.overflowed.load(Ordering::Relaxed) {
        return Err(overflow_error());
    }
    let rejected_thin = run.rejected_thin.load(Ordering::Relaxed);
    let found = regions.len();
    link_neighbors(&mut regions, setup.diameter(), run.parallel)?;
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
    run.watch.report(found, Some(0), true);
    Ok(Partition::from_table(regions, stats, domain.clone(), net.clone())
        .with_layer_counts(counts)
        .with_thin_cells(thin)
        .with_outcome(outcome))
}

/// The error of a run whose values overflow `f64` inside the domain.
fn overflow_error() -> Error {
    Error::invalid(
        "network",
        "its values overflow f64 inside the domain (weights too large for exact splitting)",
    )
}

fn number_unit_steps(program: &[Step]) -> Vec<Option<usize>> {
    let mut next = 0;
    program
        .iter()
        .map(|s| {
            matches!(s, Step::Nonlinear(_)).then(|| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

/// The domain as one cell, with the rows of the input coordinates.
fn first_batch(net: &Network, domain: &Domain, setup: &Setup) -> Result<Batch> {
    let (vertices, tags) = domain_polygon(domain, setup)?;
    let (basis, origin) = (&setup.frame.basis, &setup.frame.origin);
    Ok(Batch {
        cells: vec![Cell {
            vertices,
            tags,
            pattern: Vec::with_capacity(net.unit_count()),
        }],
        h: affine_rows(basis.view(), origin),
        skips: Vec::new(),
    })
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

    fn stop_reason(&self) -> Option<Outcome> {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the limit that stops the run (the first one recorded stays).
    fn stop(&self, outcome: Outcome) {
        // A poisoned lock still holds a valid Option: keep the reason.
        self.stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(outcome);
        self.halted.store(true, Ordering::Relaxed);
    }

    /// True when the run has stopped or a value overflowed: what is split
    /// from then on is dropped.
    fn cut_short(&self) -> bool {
        self.halted.load(Ordering::Relaxed) || self.overflowed.load(Ordering::Relaxed)
    }

    /// True when the run has stopped or must stop now for the cancel flag or
    /// the time budget: polled inside splits, so a stop lands within
    /// milliseconds rather than at the end of a layer. The region budget is
    /// settled where regions are added.
    fn interrupted(&self) -> bool {
        if self.cut_short() {
            return true;
        }
        match self.watch.stop(0) {
            Some(outcome) => {
                self.stop(outcome);
                true
            }
            None => false,
        }
    }

    /// Records the limit that stops the run, if one is reached.
    fn check_limits(&self) -> bool {
        if self.stop_reason().is_some() || self.overflowed.load(Ordering::Relaxed) {
            return true;
        }
        let found = self.found().len();
        match self.watch.stop(found) {
            Some(outcome) => {
                self.stop(outcome);
                true
            }
            None => false,
        }
    }

    /// The regions found so far (a panic elsewhere leaves them usable).
    fn found(&self) -> std::sync::MutexGuard<'_, RegionTable> {
        self.regions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs the program from step `from` on a batch and adds the regions of
    /// its final cells that are not thin, made as soon as a chunk is done so
    /// that its cells' rows and byte patterns are freed early.
    fn run(&self, from: usize, mut batch: Batch) {
        let mut index = from;
        while index < self.steps.len() {
            // A check per step of a chunk: every few hundred cells.
            if self.check_limits() || !self.rows_are_finite(&batch) {
                return;
            }
            let step = match flow(&self.steps[index]) {
                Flow::Units(nl) => nl,
                Flow::Carry(c) => {
                    let Some(h) = self.carry(c, batch.h, &mut batch.skips) else {
                        return;
                    };
                    batch.h = h;
                    index += 1;
                    continue;
                }
            };
            let units = (step.offset(), step.len());
            if batch.cells.len() == 1 && self.splits_the_domain(index, step) {
                self.run_one_cell(index, step, batch);
                return;
            }
            let parents = (batch.h.view(), batch.skips.as_slice());
            let Some((cells, children)) =
                self.split_batch(step, units, batch.cells, parents, self.fused_dense(index))
            else {
                // Stopped inside the split: its cells are unfinished.
                return;
            };
            if let Some(k) = self.unit_step[index] {
                self.layer_counts[k].fetch_add(cells.len(), Ordering::Relaxed);
            }
            index += if children.fused() { 2 } else { 1 };
            if cells.len() > CHUNK {
                // Each chunk's rows are made when the chunk runs: the
                // parents' rows are kept once instead of every child's.
                self.map(into_chunks(cells), |(start, cells)| {
                    let (h, skips) = children.rows(start, &cells);
                    self.run(index, Batch { cells, h, skips })
                });
                return;
            }
            let (h, skips) = children.rows(0, &cells);
            batch = Batch { cells, h, skips };
        }
        if !self.rows_are_finite(&batch) {
            return;
        }
        self.keep_regions(finish(batch));
    }

    /// True when `step` (at `index`) is the program's first nonlinearity and
    /// a two-piece one: its one batch is the whole domain, split piece by
    /// piece ([`Run::run_one_cell`]). Other one-cell batches (a last chunk of
    /// one cell, a cell a layer did not cut) are split as a list: the piece
    /// path would pay its double split for a few children.
    fn splits_the_domain(&self, index: usize, step: &Nonlinearity) -> bool {
        matches!(step, Nonlinearity::TwoPiece(_))
            && self.steps[..index]
                .iter()
                .all(|s| matches!(flow(s), Flow::Carry(_)))
    }

    /// Applies a step without units to the rows, its dense layers on the
    /// backend; `None` when the backend failed (the run then stops).
    fn carry(&self, step: Carry<'_>, h: Array2<f64>, skips: &mut Vec<Array2<f64>>) -> Option<Array2<f64>> {
        match step {
            Carry::Affine(a) => self.affine(a, h.view()),
            Carry::Fork(Some(projection)) => {
                skips.push(self.affine(projection, h.view())?);
                Some(h)
            }
            other => Some(carry(other, h, skips, BLOCKS)),
        }
    }

    /// An affine step on the rows: a dense layer on the backend, the other
    /// (structured) steps by the frozen evaluators' loops.
    fn affine(&self, step: &AffineStep, h: ArrayView2<f64>) -> Option<Array2<f64>> {
        match step {
            AffineStep::Dense(d) => self.dense(d, h),
            _ => Some(affine_blocks(step, h, BLOCKS)),
        }
    }

    /// A dense layer on the rows, through the backend; `None` (and the run
    /// stopped with the error) when the backend fails.
    fn dense(&self, d: &Dense, h: ArrayView2<f64>) -> Option<Array2<f64>> {
        dense_blocks_on(self.backend, (d.w(), d.b()), h, (BLOCKS.block, BLOCKS.offset_row))
            .map_err(|err| self.fail(err))
            .ok()
    }

    /// Records the backend's error (the first one stays) and stops the run.
    fn fail(&self, err: Error) {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(err);
        self.halted.store(true, Ordering::Relaxed);
    }

    /// [`Run::run`] from the two-piece layer `step` (at `index`) on a batch
    /// of one cell, piece by piece: each piece's children go through the
    /// rest of the program as soon as their chunk is whole (on rayon's
    /// threads, a few pieces at a time), so that the layer's children are
    /// never all held at once (W1b's first layer has 110,000; held together
    /// they left over 100 MB of freed heap behind). Every child gets the
    /// rows [`Run::split_batch`] would give it, from the same choice between
    /// corrections and the dense layer, and the chunks are the same
    /// [`CHUNK`] consecutive children (a chunk decides the next layer's
    /// choice): that needs every child, so a first pass over the pieces
    /// tallies them and keeps none.
    fn run_one_cell(&self, index: usize, step: &Nonlinearity, batch: Batch) {
        let units = (step.offset(), step.len());
        let halt = || self.interrupted();
        let Batch { cells, h, skips } = batch;
        let Some(cell) = cells.into_iter().next() else {
            return;
        };
        let Some(pieces) = Pieces::new(cell, h.view(), units, &halt) else {
            return;
        };
        let (tallies, first) = self.tally(&pieces, units);
        if self.cut_short() {
            return;
        }
        let tally = tallies.iter().copied().fold(Tally::default(), Tally::add);
        let dense = self.fused_dense(index);
        let children = match Children::of_one(step, units, (h.view(), &skips), dense, (tally, &first)) {
            Ok(children) => children,
            Err(err) => return self.fail(err),
        };
        if let Some(k) = self.unit_step[index] {
            self.layer_counts[k].fetch_add(tally.children, Ordering::Relaxed);
        }
        let next = index + if children.fused() { 2 } else { 1 };
        let chunks = Assembly::new(tallies.iter().map(|t| t.children));
        self.map((0..pieces.len()).collect(), |k| {
            let cells = pieces.refine(k);
            if self.cut_short() {
                return;
            }
            let whole = match chunks.add(k, cells) {
                Ok(whole) => whole,
                Err(err) => return self.fail(err),
            };
            self.map(whole, |cells| {
                let (h, skips) = children.rows_of_one(&cells);
                self.run(next, Batch { cells, h, skips })
            });
        });
    }

    /// The tally of each piece's children among `pieces` (of the units
    /// `units`), and the first child's pieces of the layer, without keeping
    /// the children.
    fn tally<H>(&self, pieces: &Pieces<'_, H>, (offset, len): (usize, usize)) -> (Vec<Tally>, Vec<u8>)
    where
        H: Fn() -> bool + Sync + ?Sized,
    {
        // Piece 0 is refined once: its first child is the reference of
        // every other piece's tally.
        let children = pieces.refine(0);
        let first = match children.first() {
            Some(child) => child.pattern[offset..offset + len].to_vec(),
            None => return (Vec::new(), Vec::new()),
        };
        let mut tallies = vec![Tally::of(&children, &first, (offset, len))];
        drop(children);
        tallies.extend(self.map((1..pieces.len()).collect(), |k| {
            Tally::of(&pieces.refine(k), &first, (offset, len))
        }));
        (tallies, first)
    }

    /// Adds the regions of final cells that are not thin, up to the region
    /// budget, and records the thin ones.
    fn keep_regions(&self, done: Vec<rows::FinalCell>) {
        let total_cells = done.len();
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
        let mut regions: Vec<_> = regions.into_iter().filter_map(|r| r.ok()).collect();
        let found = {
            let mut found = self.found();
            let room = self
                .watch
                .options()
                .max_regions
                .map_or(usize::MAX, |max| max - found.len());
            if regions.len() > room {
                // The region budget is exact: the regions beyond it are dropped.
                regions.truncate(room);
                self.stop(Outcome::RegionBudget);
            }
            // Each region is moved into the table's buffers and freed.
            for r in regions {
                found.push(r);
            }
            found.len()
        };
        self.watch.report(found, None, false);
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
    fn fused_dense(&self, index: usize) -> Option<Fused<'_>> {
        let w_t = self.transposed.get(index + 1)?.as_ref()?;
        match (&self.steps[index], &self.steps[index + 1]) {
            (Step::Nonlinear(Nonlinearity::TwoPiece(units)), Step::Affine(AffineStep::Dense(dense))) => {
                Some(Fused {
                    units,
                    dense,
                    w_t,
                    backend: self.backend,
                })
            }
            _ => None,
        }
    }

    /// Splits every cell by a nonlinearity (units `offset..offset + len`);
    /// `parents` holds the cells' rows and skip paths. Returns the children,
    /// and what makes their rows: the nonlinearity and, given the dense layer
    /// that follows, that layer too when corrections per child pay. `None`
    /// when the run stopped, overflowed or the backend failed during the split.
    fn split_batch<'p>(
        &self,
        step: &'p Nonlinearity,
        (offset, len): (usize, usize),
        cells: Vec<Cell>,
        parents: (ArrayView2<'p, f64>, &'p [Array2<f64>]),
        dense: Option<Fused<'p>>,
    ) -> Option<(Vec<Cell>, Children<'p>)> {
        let h = parents.0;
        let halt = || self.interrupted();
        // Fewer cells than threads (the domain, at the first layer): the
        // cells' pieces are spread over the threads instead.
        let fan_out = self.parallel && cells.len() < rayon::current_num_threads();
        let split_one = |(i, cell): (usize, Cell)| {
            if halt() {
                return Vec::new();
            }
            let rows = h.slice(s![3 * i..3 * i + 3, ..]);
            match step {
                Nonlinearity::TwoPiece(_) => split_two_piece(cell, rows, (offset, len), fan_out, &halt),
                Nonlinearity::Max(m) => split_max(&cell, rows, (m.width(), m.candidates()), offset, &halt),
            }
        };
        let children = self.map(cells.into_iter().enumerate().collect(), split_one);
        // An overflow in another chunk also cuts this split short (its unstarted
        // cells have no children), and the run ends with the overflow error.
        if self.cut_short() {
            return None;
        }
        let rows = Children::new(&children, step, (offset, len), parents, dense)
            .map_err(|err| self.fail(err))
            .ok()?;
        Some((children.into_iter().flatten().collect(), rows))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{array, Array1, ArrayView1};

    use super::*;
    use crate::backend::{CpuBackend, ForwardBatch, JacobianBatch, Keep, Neighbourhood};
    use crate::regions::enumerate;
    use crate::run::RunOptions;

    /// The CPU backend, counting its dense-block calls (and those of the
    /// 8 x 8 middle layer), failing them from the `fail_from`-th on, and
    /// answering a layer of weight shape `misshape` with a row too many.
    struct Counting {
        calls: AtomicUsize,
        middle: AtomicUsize,
        fail_from: usize,
        misshape: Option<(usize, usize)>,
    }

    impl Counting {
        fn new(fail_from: usize, misshape: Option<(usize, usize)>) -> Arc<Counting> {
            Arc::new(Counting {
                calls: AtomicUsize::new(0),
                middle: AtomicUsize::new(0),
                fail_from,
                misshape,
            })
        }
    }

    impl Backend for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        fn forward(&self, net: &Network, x: ArrayView2<f64>, keep: Keep) -> Result<ForwardBatch> {
            CpuBackend::default().forward(net, x, keep)
        }
        fn jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch> {
            CpuBackend::default().jacobians(net, x)
        }
        fn sign_changes(
            &self,
            net: &Network,
            x: ArrayView2<f64>,
            hood: Neighbourhood<'_>,
        ) -> Result<Array2<u32>> {
            CpuBackend::default().sign_changes(net, x, hood)
        }
        fn affine_values(
            &self,
            a: ArrayView2<f64>,
            c: ArrayView1<f64>,
            points: ArrayView2<f64>,
        ) -> Result<Array2<f64>> {
            CpuBackend::default().affine_values(a, c, points)
        }
        fn dense_blocks(
            &self,
            w: ArrayView2<f64>,
            b: ArrayView1<f64>,
            rows: ArrayView2<f64>,
            blocks: (usize, usize),
        ) -> Result<Array2<f64>> {
            if self.calls.fetch_add(1, Ordering::Relaxed) >= self.fail_from {
                return Err(Error::Backend {
                    name: "counting".into(),
                    source: "refused".into(),
                });
            }
            if w.dim() == (8, 8) {
                self.middle.fetch_add(1, Ordering::Relaxed);
            }
            let y = CpuBackend::default().dense_blocks(w, b, rows, blocks)?;
            if self.misshape == Some(w.dim()) {
                return Ok(Array2::zeros((y.nrows() + 1, y.ncols())));
            }
            Ok(y)
        }
    }

    #[test]
    fn every_dense_layer_runs_on_the_backend_and_its_errors_end_the_run() {
        // 2 -> 8 -> 8 -> 1: the first and last dense layers on the rows, the
        // middle one fused or not (either way on the backend).
        let net = Network::builder(2)
            .dense(
                Array2::from_shape_fn((8, 2), |(i, j)| ((3 * i + 5 * j) % 7) as f64 - 3.0),
                Array1::from_shape_fn(8, |i| i as f64 * 0.25 - 1.0),
            )
            .unwrap()
            .relu()
            .dense(
                Array2::from_shape_fn((8, 8), |(i, j)| ((i * j + 2) % 5) as f64 - 2.0),
                Array1::from_shape_fn(8, |i| 0.5 - (i % 3) as f64),
            )
            .unwrap()
            .relu()
            .dense(Array2::ones((1, 8)), array![0.0])
            .unwrap()
            .build()
            .unwrap();
        let domain = Domain::cube(2, -2.0, 2.0);
        let options = |backend: Option<Arc<dyn Backend>>| EnumOptions {
            method: Method::PlaneSplit,
            run: RunOptions {
                threads: Some(1),
                backend,
                ..Default::default()
            },
            ..EnumOptions::default()
        };
        let plain = enumerate(&net, &domain, &options(None)).unwrap();
        let counting = Counting::new(usize::MAX, None);
        let routed = enumerate(&net, &domain, &options(Some(counting.clone()))).unwrap();
        // The first layer (one batch), the middle one (fused or not) and the
        // last one after each split.
        assert!(counting.calls.load(Ordering::Relaxed) >= 3);
        assert!(counting.middle.load(Ordering::Relaxed) >= 1);
        assert_eq!(plain.len(), routed.len());
        for (p, r) in plain.regions().iter().zip(routed.regions().iter()) {
            assert_eq!(p.pattern(), r.pattern());
            assert_eq!(p.affine().b, r.affine().b);
            assert_eq!(p.polygon(), r.polygon());
        }
        for fail_from in [0, 1] {
            let failing = Counting::new(fail_from, None);
            let err = enumerate(&net, &domain, &options(Some(failing))).unwrap_err();
            assert!(
                matches!(err, Error::Backend { ref name, .. } if name == "counting"),
                "{err:?}"
            );
        }
        // A wrong-shaped answer for any one layer (the middle one fused or
        // not) is a shape error, not a panic.
        for layer in [(8, 2), (8, 8), (1, 8)] {
            let misshaped = Counting::new(usize::MAX, Some(layer));
            let err = enumerate(&net, &domain, &options(Some(misshaped))).unwrap_err();
            assert!(
                matches!(err, Error::Shape { ref what, .. } if what == "backend dense blocks"),
                "{layer:?}: {err:?}"
            );
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
            run: crate::run::RunOptions {
                threads: Some(1),
                ..Default::default()
            },
            ..EnumOptions::default()
        };
        let err = plane_split(&net, &Domain::cube(2, -4.0, 4.0), &opts).unwrap_err();
        assert!(
            matches!(err, Error::Invalid { ref what, .. } if what == "network"),
            "{err:?}"
        );
    }
}
