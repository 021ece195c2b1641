//! [`RunOptions`]: how every long-running computation runs, and [`Outcome`]:
//! how it ended.
//!
//! One options type serves every long-running entry point (region
//! enumeration, both local-complexity variants, the ScaLES / LES scores): the
//! [`Backend`] of the heavy kernels, the worker threads, the chunk size, a
//! progress callback, a cancel flag and the budgets. A stop at a budget or a
//! cancel is not an error: the result says how the run ended ([`Outcome`]),
//! as a solver reports `MaxTime` rather than failing.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use crate::backend::Precision;
use crate::backend::{Backend, CpuBackend};
use crate::{Error, Private, Result};

/// What a progress callback is told.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Items finished so far (regions, points, latents).
    pub done: usize,
    /// Items still waiting, when known (cells or patterns queued, points left).
    pub pending: Option<usize>,
    /// Time since the run started.
    pub elapsed: Duration,
}

/// A progress callback, called from the thread that drives the run.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How a long-running computation ended.
///
/// A run that stops at a limit returns what it finished before the stop,
/// together with the limit that stopped it: this is an outcome, not an
/// [`Error`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Outcome {
    /// Everything was computed.
    #[default]
    Complete,
    /// [`RunOptions::max_regions`] regions were found and the run stopped
    /// (never more than that many are returned).
    RegionBudget,
    /// [`RunOptions::time_budget`] ran out.
    TimeBudget,
    /// The [`RunOptions::cancel`] flag was set.
    Cancelled,
}

impl Outcome {
    /// True when the run computed everything.
    pub fn is_complete(self) -> bool {
        self == Outcome::Complete
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Complete => "complete",
            Outcome::RegionBudget => "stopped at the region budget",
            Outcome::TimeBudget => "stopped at the time budget",
            Outcome::Cancelled => "cancelled",
        })
    }
}

/// The items per chunk when [`RunOptions::chunk`] is `None`: the CPU
/// backend's default ([`CpuBackend::DEFAULT_CHUNK`]).
pub const DEFAULT_CHUNK: usize = CpuBackend::DEFAULT_CHUNK;

/// How a long-running computation runs: backend, threads, chunking, progress,
/// cancellation and budgets.
///
/// Build it with struct-update syntax; the hidden field lets it grow without
/// breaking callers.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cpwl::run::RunOptions;
/// let run = RunOptions { threads: Some(2), time_budget: Some(Duration::from_secs(5)), ..Default::default() };
/// assert!(run.validate().is_ok());
/// assert!(RunOptions { max_regions: Some(0), ..Default::default() }.validate().is_err());
/// ```
#[derive(Clone, Default)]
pub struct RunOptions {
    /// The backend of the heavy batched kernels (`None`: [`CpuBackend`]).
    pub backend: Option<Arc<dyn Backend>>,
    /// Worker threads: `None` uses rayon's global pool, `Some(1)` the calling
    /// thread only, `Some(n)` a pool of `n` threads built on first use and
    /// shared by every clone of these options. Results never depend on it.
    /// Clones running computations at the same time take turns on that one
    /// pool: give each concurrent computation [`RunOptions::with_own_pool`].
    pub threads: Option<usize>,
    /// Items per chunk of a batch computation (`None`: [`DEFAULT_CHUNK`]);
    /// memory grows with the chunk, never with the batch.
    pub chunk: Option<usize>,
    /// Called now and then: at the first report point, then at most every
    /// 100 ms, and at the end.
    pub progress: Option<ProgressFn>,
    /// Set to `true` from any thread to stop the run ([`Outcome::Cancelled`]).
    pub cancel: Option<Arc<AtomicBool>>,
    /// Stop after this much time ([`Outcome::TimeBudget`]).
    pub time_budget: Option<Duration>,
    /// Stop once this many regions are found ([`Outcome::RegionBudget`]);
    /// region enumeration only.
    pub max_regions: Option<usize>,
    /// The precision of the batched forward kernels of the default CPU
    /// backend: [`Precision::F64`] (the default) or [`Precision::F32`] for
    /// activation patterns ([`crate::Network::pattern_batch_with`]) and
    /// sampled local complexity ([`crate::lc::local_complexity`]); f32 signs
    /// can differ from f64 at near-ties (see [`Precision`]). The exact
    /// geometry (exact local complexity, LES and ScaLES) refuses `F32` with
    /// [`Error::Invalid`]; region enumeration always runs in f64 and does not
    /// read it. With an explicit [`RunOptions::backend`] the precision is the
    /// backend's own ([`CpuBackend::with_precision`]): `F32` here together
    /// with a backend is refused.
    pub precision: Precision,
    /// The pool of `threads`, built once (public only so that struct-update
    /// syntax works outside the crate; its contents are private).
    #[doc(hidden)]
    pub pool: SharedPool,
    #[doc(hidden)]
    pub _private: Private,
}

/// A lazily built thread pool shared by clones of one [`RunOptions`].
#[doc(hidden)]
#[derive(Clone, Default)]
pub struct SharedPool(Arc<OnceLock<std::result::Result<rayon::ThreadPool, String>>>);

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("backend", &self.backend.as_ref().map(|b| b.name().to_string()))
            .field("threads", &self.threads)
            .field("chunk", &self.chunk)
            .field("progress", &self.progress.is_some())
            .field("cancel", &self.cancel)
            .field("time_budget", &self.time_budget)
            .field("max_regions", &self.max_regions)
            .field("precision", &self.precision)
            .finish()
    }
}

impl RunOptions {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for zero threads, a zero chunk, `max_regions:
    /// Some(0)`, or [`Precision::F32`] together with an explicit backend.
    pub fn validate(&self) -> Result<()> {
        if self.precision == Precision::F32 && self.backend.is_some() {
            return Err(Error::invalid(
                "precision",
                "F32 selects the default CPU backend's f32 route; with an explicit backend set its own \
                 precision (CpuBackend::with_precision) and leave this F64",
            ));
        }
        if self.threads == Some(0) {
            return Err(Error::invalid("threads", "must be at least 1"));
        }
        if self.chunk == Some(0) {
            return Err(Error::invalid("chunk", "must be at least 1"));
        }
        if self.max_regions == Some(0) {
            return Err(Error::invalid(
                "max_regions",
                "must be at least 1 (None means no limit)",
            ));
        }
        Ok(())
    }

    /// [`RunOptions::validate`] for an exact geometric computation (`what`),
    /// which runs in f64 only.
    ///
    /// # Errors
    ///
    /// As [`RunOptions::validate`], and [`Error::Invalid`] naming `what`
    /// when [`RunOptions::precision`] or the backend's precision is
    /// [`Precision::F32`].
    pub(crate) fn validate_f64(&self, what: &str) -> Result<()> {
        self.validate()?;
        let backend_precision = self.backend.as_ref().map_or(Precision::F64, |b| b.precision());
        if self.precision == Precision::F32 || backend_precision == Precision::F32 {
            return Err(Error::invalid(
                "precision",
                format!("{what} is exact geometry and runs in f64 only; use Precision::F64"),
            ));
        }
        Ok(())
    }

    /// The same options on another backend.
    pub fn with_backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The items per chunk.
    pub fn chunk_size(&self) -> usize {
        self.chunk.unwrap_or(DEFAULT_CHUNK).max(1)
    }

    /// Runs `f` with the chosen backend ([`CpuBackend`] with chunks of
    /// [`RunOptions::chunk_size`] points when none is set).
    pub(crate) fn with_backend_ref<T>(&self, f: impl FnOnce(&dyn Backend) -> T) -> T {
        match &self.backend {
            Some(b) => f(b.as_ref()),
            None => f(&CpuBackend::default()
                .with_chunk(self.chunk_size())
                .with_precision(self.precision)),
        }
    }

    /// A copy of these options with a pool of its own (built on first use,
    /// like every pool of [`RunOptions::threads`]): for callers that run
    /// several computations at once (one per engine worker, or one per
    /// thread of their own), which would otherwise take turns on the threads
    /// of the one pool that clones share.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::run::RunOptions;
    /// let run = RunOptions { threads: Some(2), ..Default::default() };
    /// let per_worker: Vec<RunOptions> = (0..3).map(|_| run.with_own_pool()).collect();
    /// assert!(per_worker.iter().all(|w| w.threads == Some(2)));
    /// ```
    pub fn with_own_pool(&self) -> RunOptions {
        RunOptions {
            pool: SharedPool::default(),
            ..self.clone()
        }
    }

    /// Runs `f` on the chosen threads: rayon's global pool, the calling
    /// thread, or the pool of `threads` (built once, reused by every call).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the pool cannot be built.
    pub(crate) fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let Some(n) = self.threads.and_then(NonZeroUsize::new) else {
            return Ok(f());
        };
        // A pool even for one thread keeps nested rayon calls on it.
        let pool = self.pool.0.get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.get())
                .build()
                .map_err(|e| e.to_string())
        });
        match pool {
            Ok(pool) => Ok(pool.install(f)),
            Err(e) => Err(Error::invalid("threads", e.clone())),
        }
    }
}

/// Budget, cancellation and progress bookkeeping during one run.
///
/// Algorithms call [`Watch::stop`] every few cells, regions or points (often
/// enough that a stop lands within 50 ms of its deadline or flag) and
/// [`Watch::report`] as they go.
pub(crate) struct Watch<'a> {
    run: &'a RunOptions,
    start: Instant,
    /// When the callback was last called (`None`: not yet, so that the
    /// first report point always calls it).
    last_report: Mutex<Option<Instant>>,
}

impl<'a> Watch<'a> {
    /// Starts the clock.
    pub(crate) fn new(run: &'a RunOptions) -> Self {
        let now = Instant::now();
        Watch {
            run,
            start: now,
            last_report: Mutex::new(None),
        }
    }

    /// The options being watched.
    pub(crate) fn options(&self) -> &RunOptions {
        self.run
    }

    /// Time since the start.
    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The limit that stops the run now, given the regions found so far
    /// (`0` outside region enumeration): the region budget when `regions`
    /// has reached it, then cancellation, then the time budget.
    pub(crate) fn stop(&self, regions: usize) -> Option<Outcome> {
        if self.run.max_regions.is_some_and(|max| regions >= max) {
            return Some(Outcome::RegionBudget);
        }
        if self.cancelled() {
            return Some(Outcome::Cancelled);
        }
        if self.run.time_budget.is_some_and(|b| self.start.elapsed() >= b) {
            return Some(Outcome::TimeBudget);
        }
        None
    }

    /// True when the cancel flag is set.
    pub(crate) fn cancelled(&self) -> bool {
        self.run
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Calls the progress callback at the first report point, then at most
    /// every 100 ms (always when `force`).
    pub(crate) fn report(&self, done: usize, pending: Option<usize>, force: bool) {
        let Some(cb) = &self.run.progress else { return };
        let now = Instant::now();
        let Ok(mut last) = self.last_report.lock() else {
            return;
        };
        if force || last.is_none_or(|at| now.duration_since(at) >= PROGRESS_INTERVAL) {
            *last = Some(now);
            drop(last);
            cb(&Progress {
                done,
                pending,
                elapsed: self.start.elapsed(),
            });
        }
    }
}

/// The shortest time between two progress reports.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_pool_and_with_own_pool_does_not() {
        let thread_of = |run: &RunOptions| run.install(std::thread::current).map(|t| t.id()).unwrap();
        let run = RunOptions {
            threads: Some(1),
            ..Default::default()
        };
        let first = thread_of(&run);
        assert_ne!(first, std::thread::current().id());
        assert_eq!(thread_of(&run.clone()), first);
        let own = run.with_own_pool();
        assert_ne!(thread_of(&own), first);
        assert_eq!(own.threads, Some(1));
    }

    #[test]
    fn validate_rejects_zero_limits_naming_the_option() {
        assert!(RunOptions::default().validate().is_ok());
        for (bad, option) in [
            (
                RunOptions {
                    threads: Some(0),
                    ..Default::default()
                },
                "threads",
            ),
            (
                RunOptions {
                    chunk: Some(0),
                    ..Default::default()
                },
                "chunk",
            ),
            (
                RunOptions {
                    max_regions: Some(0),
                    ..Default::default()
                },
                "max_regions",
            ),
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::Invalid { ref what, .. }) if what == option),
                "{option}"
            );
        }
    }

    #[test]
    fn watch_stops_at_region_budget_then_cancel() {
        let cancel = Arc::new(AtomicBool::new(false));
        let run = RunOptions {
            max_regions: Some(3),
            cancel: Some(cancel.clone()),
            ..Default::default()
        };
        let watch = Watch::new(&run);
        assert_eq!(watch.stop(2), None);
        assert_eq!(watch.stop(3), Some(Outcome::RegionBudget));
        cancel.store(true, Ordering::Relaxed);
        assert_eq!(watch.stop(0), Some(Outcome::Cancelled));
    }

    #[test]
    fn pool_is_built_once_and_shared_by_clones() {
        let run = RunOptions {
            threads: Some(2),
            ..Default::default()
        };
        let copy = run.clone();
        assert_eq!(run.install(rayon::current_num_threads).unwrap(), 2);
        assert_eq!(copy.install(rayon::current_num_threads).unwrap(), 2);
        assert!(Arc::ptr_eq(&run.pool.0, &copy.pool.0));
        let serial = RunOptions {
            threads: Some(1),
            ..Default::default()
        };
        assert_eq!(serial.install(rayon::current_num_threads).unwrap(), 1);
    }
}
