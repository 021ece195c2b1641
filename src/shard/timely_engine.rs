//! Shards on timely dataflow (feature `timely`): worker threads, processes
//! and hosts, with the merge of each pattern on the worker that owns it.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::Array2;

use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use timely::dataflow::{InputHandleVec, ProbeHandle};
use timely::worker::Worker;

use super::merge::{assemble, group, join, sum_stats, whole_setup, Joined};
use super::wire::{Reader, Writer};
use super::{plan, run_shard, Piece, PlanOptions, ShardJob, ShardResult};
use crate::regions::{EnumOptions, EnumStats, Partition};
use crate::run::{Outcome, Progress, RunOptions, SharedPool};
use crate::{Domain, Error, Network, Pattern, Private, Result};

/// Settings of [`timely_run`].
#[derive(Clone, Debug, Default)]
pub struct TimelyOptions {
    /// The number of shards (`0`: four per worker).
    pub shards: usize,
    /// How shards are planned and enumerated ([`PlanOptions::enumerate`]:
    /// the options of every shard run).
    pub plan: PlanOptions,
    /// Progress and cancellation ([`RunOptions::progress`] is called on
    /// worker 0 with the regions found by all workers and the shards left;
    /// [`RunOptions::cancel`] is shared by the whole job: set in one process,
    /// it is set in every process at its workers' next step). Other fields
    /// are not used: each shard runs with [`PlanOptions::enumerate`].
    pub run: RunOptions,
    #[doc(hidden)]
    pub _private: Private,
}

/// What one worker did, and on worker 0 the merged partition.
#[derive(Debug)]
pub struct TimelyReport {
    /// The worker's index among all workers of all processes.
    pub worker: usize,
    /// The number of workers.
    pub peers: usize,
    /// The partition of the whole domain (worker 0 of a complete run only).
    pub partition: Option<Partition>,
    /// How the job ended (the same on every worker).
    pub outcome: Outcome,
    /// The shards this worker enumerated.
    pub shards: Vec<usize>,
    /// Region pieces this worker sent to the owners of their patterns.
    pub pieces_sent: usize,
    /// Bytes of those pieces.
    pub bytes_sent: usize,
    /// Patterns merged on this worker (it owns them).
    pub merged: usize,
    /// Bytes this worker sent to worker 0 for the final assembly.
    pub bytes_gathered: usize,
    /// Time spent enumerating shards.
    pub shard_time: Duration,
    /// Time spent joining pieces (and, on worker 0, assembling).
    pub merge_time: Duration,
}

/// Kinds of messages: the first byte of each payload.
const PIECE: u8 = 0;
const STOP: u8 = 1;
const DONE: u8 = 2;

/// A message: the routing key (a pattern's hash, or a worker's index) and
/// the payload in the crate's binary form.
type Msg = (u64, Vec<u8>);

/// Enumerates `domain` in shards on a timely computation: every worker plans
/// the same shards, runs shards `worker, worker + peers, ...` as ordinary
/// runs, sends each region piece to the worker that owns its pattern (by a
/// hash of the pattern), which joins the pieces of its patterns; worker 0
/// gathers the joined regions and assembles the partition of the whole
/// domain, equal to [`super::merge`]'s.
///
/// `config` comes from [`timely::Config::from_args`] (the command line's
/// `-w` threads, `-n` processes, `-p` this process's index, `-h` hostfile)
/// or [`timely::Config::process`]. The call returns the reports of this
/// process's workers, once every worker of every process is done. Timely
/// has no fault tolerance: a process that dies stops the job (see
/// `docs/distributed.md` for rerunning only the missing shards).
///
/// # Errors
///
/// [`Error::Invalid`] when timely cannot start (a bad configuration, an
/// address in use), or naming the worker that panicked; the first error of a
/// shard run on this process (other workers stop at their next step, and
/// report [`Outcome::Cancelled`]); plan errors.
///
/// # Examples
///
/// ```
/// use cpwl::shard::{timely_run, TimelyOptions};
/// use cpwl::{Domain, Network};
/// use ndarray::array;
/// let net = Network::builder(2)
///     .dense(array![[1.0, 0.3], [-0.2, 1.0]], array![0.1, 0.0])?
///     .relu()
///     .build()?;
/// let opts = TimelyOptions { shards: 4, ..Default::default() };
/// let reports = timely_run(timely::Config::process(2), &net, &Domain::cube(2, -1.0, 1.0), &opts)?;
/// assert_eq!(reports[0].partition.as_ref().map(|p| p.len()), Some(4));
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn timely_run(
    config: timely::Config,
    net: &Network,
    domain: &Domain,
    opts: &TimelyOptions,
) -> Result<Vec<TimelyReport>> {
    opts.run.validate()?;
    let (net, domain, opts) = (net.clone(), domain.clone(), opts.clone());
    let guards = timely::execute(config, move |worker| timely_worker(worker, &net, &domain, &opts))
        .map_err(|e| Error::invalid("timely", e))?;
    let mut reports = Vec::new();
    for (i, r) in guards.join().into_iter().enumerate() {
        reports.push(r.map_err(|e| Error::invalid("timely", format!("local worker {i}: {e}")))??);
    }
    Ok(reports)
}

/// [`timely_run`]'s work on one worker, to call inside your own
/// [`timely::execute()`] (beside other dataflows, such as
/// [`gather_points`]). Every worker of the computation must call it.
///
/// # Errors
///
/// As [`timely_run`].
pub fn timely_worker(
    worker: &mut Worker,
    net: &Network,
    domain: &Domain,
    opts: &TimelyOptions,
) -> Result<TimelyReport> {
    let cancel = (opts.run.cancel.clone())
        .or_else(|| opts.plan.enumerate.run.cancel.clone())
        .unwrap_or_default();
    let job = Job {
        net: net.clone(),
        domain: domain.clone(),
        opts: opts.clone(),
        shard_opts: EnumOptions {
            run: RunOptions {
                cancel: Some(Arc::clone(&cancel)),
                // Each worker builds its own pool of `threads`: a clone
                // would share one pool, and the workers of a process would
                // take turns on its threads.
                pool: SharedPool::default(),
                ..opts.plan.enumerate.run.clone()
            },
            ..opts.plan.enumerate.clone()
        },
        cancel,
    };
    job.work(worker)
}

/// A point-wise job (LC, exact LC, LES) on every worker: worker `i` of `n`
/// computes the rows of range `i` of [`super::point_ranges`]`(points, n)`
/// with `compute`, and worker 0 gets the whole result, the ranges joined in
/// order; the other workers get `None`. Every worker must call it.
///
/// # Errors
///
/// The first error of `compute` on this worker; [`Error::Shape`] when the
/// parts have different widths (on worker 0).
pub fn gather_points(
    worker: &mut Worker,
    points: usize,
    compute: impl FnOnce(Range<usize>) -> Result<Array2<f64>>,
) -> Result<Option<Array2<f64>>> {
    let (index, peers) = (worker.index(), worker.peers());
    let range = super::point_ranges(points, peers)?.swap_remove(index);
    let rows = range.len();
    let mine = compute(range);
    let mut w = Writer::default();
    w.u32(index);
    match &mine {
        Ok(m) if m.nrows() == rows => w.matrix(m),
        // A failed or misshapen part still travels (empty), so that worker 0
        // can finish and report it instead of waiting.
        _ => w.matrix(&Array2::zeros((0, 0))),
    }
    let received = exchange_to_zero(worker, vec![(0, w.bytes)]);
    let mine = mine?;
    if mine.nrows() != rows {
        return Err(Error::shape(
            format!("rows of worker {index}"),
            rows,
            mine.nrows(),
        ));
    }
    if index != 0 {
        return Ok(None);
    }
    let mut parts = vec![None; peers];
    for bytes in received {
        let mut r = Reader::new(&bytes, "gathered rows");
        let i = r.u32()?;
        let m = r.matrix()?;
        r.finish()?;
        if let Some(slot) = parts.get_mut(i) {
            *slot = Some(m);
        }
    }
    let parts: Vec<Array2<f64>> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.ok_or_else(|| Error::invalid("gathered rows", format!("worker {i} sent nothing"))))
        .collect::<Result<_>>()?;
    let views: Vec<_> = parts.iter().filter(|p| p.nrows() > 0).map(|p| p.view()).collect();
    if views.is_empty() {
        return Ok(Some(Array2::zeros((0, parts.first().map_or(0, |p| p.ncols())))));
    }
    super::concat_points(&views).map(Some)
}

/// Sends every message to worker 0 and, once all workers are done, returns
/// what this worker received (everything on worker 0, nothing elsewhere).
fn exchange_to_zero(worker: &mut Worker, messages: Vec<Msg>) -> Vec<Vec<u8>> {
    let received: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let mut input: InputHandleVec<u64, Msg> = InputHandleVec::new();
    let probe = ProbeHandle::new();
    let sink = Rc::clone(&received);
    worker.dataflow(|scope| {
        scope
            .input_from(&mut input)
            .container::<Vec<_>>()
            .exchange(|m: &Msg| m.0)
            .inspect(move |m: &Msg| sink.borrow_mut().push(m.1.clone()))
            .probe_with(&probe);
    });
    for m in messages {
        input.send(m);
    }
    input.close();
    while !probe.done() {
        worker.step_or_park(Some(PARK));
    }
    received.take()
}

/// How long an idle worker parks before looking for messages again.
const PARK: Duration = Duration::from_millis(10);

/// What every worker shares.
struct Job {
    net: Network,
    domain: Domain,
    opts: TimelyOptions,
    /// The options of every shard run, polling the job's cancel flag.
    shard_opts: EnumOptions,
    cancel: Arc<AtomicBool>,
}

/// The hash that picks the worker owning a pattern (the same in every
/// process of one build).
fn owner_key(p: &Pattern) -> u64 {
    let mut h = DefaultHasher::new();
    p.hash(&mut h);
    h.finish()
}

/// What worker 0 learns about the shards as they finish.
#[derive(Default)]
struct Tally {
    shards_done: usize,
    regions: usize,
}

impl Job {
    fn work(&self, worker: &mut Worker) -> Result<TimelyReport> {
        let (index, peers) = (worker.index(), worker.peers());
        let shards = match self.opts.shards {
            0 => 4 * peers,
            k => k,
        };
        let jobs = plan(&self.net, &self.domain, shards, &self.opts.plan)?;
        let mut report = TimelyReport {
            worker: index,
            peers,
            partition: None,
            outcome: Outcome::Complete,
            shards: Vec::new(),
            pieces_sent: 0,
            bytes_sent: 0,
            merged: 0,
            bytes_gathered: 0,
            shard_time: Duration::ZERO,
            merge_time: Duration::ZERO,
        };
        let (mut owned, first_error) = self.scatter(worker, &jobs, &mut report);
        if let Some(e) = first_error {
            return Err(e);
        }
        // Every worker received the same stop messages: all of them stop here
        // together, or none does (a worker leaving alone would hang the rest).
        if owned.stopped {
            report.outcome = Outcome::Cancelled;
            return Ok(report);
        }
        let merge_start = Instant::now();
        let tol = jobs.first().map_or(0.0, |j| j.tol_radius);
        let joined = match owned.error.take() {
            Some(e) => Err(e),
            None => self.join_owned(owned.pieces, tol, &mut report),
        };
        if let Some(joined) = self.gather(worker, joined, &mut report)? {
            let stats = sum_stats(&owned.stats);
            report.partition = Some(assemble(joined, stats, &self.domain, &self.net));
        }
        report.merge_time = merge_start.elapsed();
        Ok(report)
    }

    /// Runs this worker's shards and routes every piece to its owner; returns
    /// what this worker received and the first error of its own shards.
    fn scatter(
        &self,
        worker: &mut Worker,
        jobs: &[ShardJob],
        report: &mut TimelyReport,
    ) -> (Received, Option<Error>) {
        let received = Rc::new(RefCell::new(Received::default()));
        let tally = Rc::new(RefCell::new(Tally::default()));
        let mut input: InputHandleVec<u64, Msg> = InputHandleVec::new();
        let probe = ProbeHandle::new();
        let sink = Rc::clone(&received);
        let cancel = Arc::clone(&self.cancel);
        let progress = self.progress_fn(jobs.len(), Rc::clone(&tally));
        worker.dataflow(|scope| {
            scope
                .input_from(&mut input)
                .container::<Vec<_>>()
                .exchange(|m: &Msg| m.0)
                .inspect(move |m: &Msg| {
                    sink.borrow_mut().take(m, &cancel);
                    progress(m);
                })
                .probe_with(&probe);
        });
        let (index, peers) = (report.worker, report.peers);
        let mut first_error = None;
        let mut round = 0;
        for job in jobs.iter().skip(index).step_by(peers) {
            if self.cancel.load(Ordering::Relaxed) {
                break;
            }
            let start = Instant::now();
            let result = run_shard(&self.net, &self.domain, job, &self.shard_opts);
            report.shard_time += start.elapsed();
            match result {
                Ok(r) => self.send_pieces(&mut input, r, report),
                Err(e) => {
                    // Everyone stops: a partial shard would give a wrong
                    // merge. A cancelled shard is a stop, not an error.
                    self.cancel.store(true, Ordering::Relaxed);
                    if !matches!(e, Error::Budget { .. }) {
                        for w in 0..peers {
                            input.send((w as u64, vec![STOP]));
                        }
                        first_error = Some(e);
                    }
                    break;
                }
            }
            round += 1;
            input.advance_to(round);
            // Deliver what arrived (pieces, stops) without waiting for others.
            worker.step();
        }
        if self.cancel.load(Ordering::Relaxed) && first_error.is_none() {
            // A local cancel becomes a stop message, which every worker gets
            // before the scatter ends: the decision to stop is the same
            // everywhere.
            for w in 0..peers {
                input.send((w as u64, vec![STOP]));
            }
        }
        input.close();
        while !probe.done() {
            worker.step_or_park(Some(PARK));
        }
        (received.take(), first_error)
    }

    /// Sends the pieces of one shard result to their owners and its counters
    /// to worker 0.
    fn send_pieces(&self, input: &mut InputHandleVec<u64, Msg>, r: ShardResult, report: &mut TimelyReport) {
        report.shards.push(r.index);
        let mut done = Writer::tagged(&[DONE]);
        done.stats(&r.stats);
        done.u32(r.pieces.len());
        for p in &r.pieces {
            let mut w = Writer::tagged(&[PIECE]);
            w.piece(p);
            report.pieces_sent += 1;
            report.bytes_sent += w.bytes.len();
            input.send((owner_key(&p.region.pattern), w.bytes));
        }
        input.send((0, done.bytes));
    }

    /// The progress callback of worker 0: regions found by every worker so
    /// far and the shards left.
    fn progress_fn(&self, shards: usize, tally: Rc<RefCell<Tally>>) -> impl Fn(&Msg) + 'static {
        let callback = self.opts.run.progress.clone();
        let start = Instant::now();
        move |m: &Msg| {
            let (Some(cb), Some(&DONE)) = (&callback, m.1.first()) else {
                return;
            };
            let Ok((_, regions)) = read_done(&m.1) else { return };
            let mut t = tally.borrow_mut();
            t.shards_done += 1;
            t.regions += regions;
            cb(&Progress {
                done: t.regions,
                pending: Some(shards - t.shards_done.min(shards)),
                elapsed: start.elapsed(),
            });
        }
    }

    /// Joins the pieces of the patterns this worker owns.
    fn join_owned(&self, pieces: Vec<Piece>, tol: f64, report: &mut TimelyReport) -> Result<Vec<Joined>> {
        let setup = whole_setup(&self.domain, tol)?;
        let groups = group(pieces);
        report.merged = groups.len();
        let mut joined = Vec::with_capacity(groups.len());
        for g in groups {
            joined.extend(join(&self.net, &self.domain, &setup, g)?);
        }
        Ok(joined)
    }

    /// Sends the joined regions (or a failure) to worker 0, which gets them
    /// all back; every worker takes part even after a failure, so that none
    /// waits forever.
    fn gather(
        &self,
        worker: &mut Worker,
        joined: Result<Vec<Joined>>,
        report: &mut TimelyReport,
    ) -> Result<Option<Vec<Joined>>> {
        let (messages, failure) = match joined {
            Ok(joined) => (joined.iter().map(joined_message).collect(), None),
            Err(e) => (vec![(0, vec![STOP])], Some(e)),
        };
        report.bytes_gathered = messages.iter().map(|m: &Msg| m.1.len()).sum();
        let received = exchange_to_zero(worker, messages);
        if let Some(e) = failure {
            return Err(e);
        }
        if report.worker != 0 {
            return Ok(None);
        }
        if received.iter().any(|b| b.first() == Some(&STOP)) {
            return Err(Error::invalid(
                "timely",
                "another worker failed to join its regions",
            ));
        }
        received
            .iter()
            .map(|b| read_joined(b))
            .collect::<Result<_>>()
            .map(Some)
    }
}

/// A joined region for worker 0: its piece form and its LP counters.
fn joined_message(j: &Joined) -> Msg {
    let mut w = Writer::tagged(&[PIECE]);
    w.piece(&Piece {
        region: j.region.clone(),
        neighbors: j.neighbors.clone(),
        border: false,
    });
    w.u64(j.lp.0 as u64);
    w.u64(j.lp.1 as u64);
    (0, w.bytes)
}

/// What a worker received in the scatter: the pieces of the patterns it owns,
/// and, on worker 0, the counters of every shard.
#[derive(Default)]
struct Received {
    pieces: Vec<Piece>,
    stats: Vec<EnumStats>,
    stopped: bool,
    error: Option<Error>,
}

impl Received {
    fn take(&mut self, m: &Msg, cancel: &AtomicBool) {
        let bytes = &m.1;
        match bytes.first() {
            Some(&PIECE) => {
                let mut r = Reader::new(&bytes[1..], "region piece");
                match r.piece().and_then(|p| r.finish().map(|_| p)) {
                    Ok(p) => self.pieces.push(p),
                    Err(e) => self.fail(e),
                }
            }
            Some(&DONE) => match read_done(bytes) {
                Ok((stats, _)) => self.stats.push(stats),
                Err(e) => self.fail(e),
            },
            _ => {
                self.stopped = true;
                cancel.store(true, Ordering::Relaxed);
            }
        }
    }

    /// A message that cannot be read: reported after the scatter (all
    /// workers go on to the gather, where worker 0 learns of it).
    fn fail(&mut self, e: Error) {
        self.error.get_or_insert(e);
    }
}

/// The counters and piece count of a shard-done message.
fn read_done(bytes: &[u8]) -> Result<(EnumStats, usize)> {
    let mut r = Reader::new(&bytes[1..], "shard done message");
    let stats = r.stats()?;
    let pieces = r.u32()?;
    r.finish()?;
    Ok((stats, pieces))
}

/// A joined region sent to worker 0.
fn read_joined(bytes: &[u8]) -> Result<Joined> {
    let mut r = Reader::new(&bytes[1..], "joined region");
    let p = r.piece()?;
    let lp = (r.u64()? as usize, r.u64()? as usize);
    r.finish()?;
    Ok(Joined {
        region: p.region,
        neighbors: p.neighbors,
        lp,
    })
}
