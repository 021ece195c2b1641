//! [`EnumOptions`]: the settings of region enumeration.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Error, Private, Result};

/// The algorithm that enumerates regions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Method {
    /// The 2-D splitter for 2-D domains, the LP walk otherwise.
    #[default]
    Auto,
    /// Breadth-first walk over the adjacency graph with LPs (any dimension).
    Lp,
    /// Exact polygon splitting, layer by layer (2-D domains only, no LP).
    PlaneSplit,
}

/// What a progress callback is told.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EnumProgress {
    /// Regions found so far.
    pub regions: usize,
    /// Cells or patterns still waiting to be processed.
    pub pending: usize,
    /// Time since the start.
    pub elapsed: Duration,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&EnumProgress) + Send + Sync>;

/// Settings of [`super::enumerate`].
///
/// # Examples
///
/// ```
/// use cpwl::regions::{EnumOptions, Method};
/// let opts = EnumOptions { max_regions: Some(10_000), method: Method::Lp, ..Default::default() };
/// assert!(opts.validate().is_ok());
/// ```
#[derive(Clone, Default)]
pub struct EnumOptions {
    /// Cells whose Chebyshev radius is at most this are rejected as thin
    /// (`None`: [`crate::tol::TOL_RADIUS_REL`] times the domain's diameter).
    pub tol_radius: Option<f64>,
    /// Keep the rejected thin cells (pattern, witness point, radius) in
    /// [`super::Partition::thin_cells`]; they are counted either way.
    pub record_thin: bool,
    /// Stop with [`Error::Incomplete`] after this many regions.
    pub max_regions: Option<usize>,
    /// Stop with [`Error::Incomplete`] after this much time.
    pub time_budget: Option<Duration>,
    /// Worker threads (`None`: rayon's pool; `Some(1)`: the calling thread).
    /// Results never depend on it.
    pub threads: Option<usize>,
    /// The algorithm.
    pub method: Method,
    /// Called now and then with the progress.
    pub progress: Option<ProgressFn>,
    /// Set to `true` (from any thread) to stop with [`Error::Incomplete`].
    pub cancel: Option<Arc<AtomicBool>>,
    #[doc(hidden)]
    pub _private: Private,
}

impl std::fmt::Debug for EnumOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnumOptions")
            .field("tol_radius", &self.tol_radius)
            .field("record_thin", &self.record_thin)
            .field("max_regions", &self.max_regions)
            .field("time_budget", &self.time_budget)
            .field("threads", &self.threads)
            .field("method", &self.method)
            .field("progress", &self.progress.is_some())
            .field("cancel", &self.cancel)
            .finish()
    }
}

impl EnumOptions {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a negative or non-finite `tol_radius` or zero threads.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.tol_radius {
            if !(t.is_finite() && t >= 0.0) {
                return Err(Error::invalid(
                    "tol_radius",
                    format!("{t} must be finite and >= 0"),
                ));
            }
        }
        if self.threads == Some(0) {
            return Err(Error::invalid("threads", "must be at least 1"));
        }
        Ok(())
    }
}

/// Budget and cancellation checks during a run.
pub(crate) struct Watch<'a> {
    opts: &'a EnumOptions,
    start: Instant,
    last_report: std::sync::Mutex<Instant>,
}

impl<'a> Watch<'a> {
    pub(crate) fn new(opts: &'a EnumOptions) -> Self {
        let now = Instant::now();
        Watch {
            opts,
            start: now,
            last_report: std::sync::Mutex::new(now),
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The limit that stops the run now, if any.
    pub(crate) fn exceeded(&self, regions: usize) -> Option<String> {
        if let Some(max) = self.opts.max_regions {
            if regions > max {
                return Some(format!("max_regions = {max}"));
            }
        }
        if let Some(budget) = self.opts.time_budget {
            if self.start.elapsed() > budget {
                return Some(format!("time budget of {budget:?}"));
            }
        }
        if self
            .opts
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Some("cancelled".to_string());
        }
        None
    }

    /// Calls the progress callback at most every 100 ms (and when `force`).
    pub(crate) fn report(&self, regions: usize, pending: usize, force: bool) {
        let Some(cb) = &self.opts.progress else { return };
        let now = Instant::now();
        let Ok(mut last) = self.last_report.lock() else {
            return;
        };
        if force || now.duration_since(*last) >= Duration::from_millis(100) {
            *last = now;
            cb(&EnumProgress {
                regions,
                pending,
                elapsed: self.start.elapsed(),
            });
        }
    }
}
