//! [`BatchOptions`]: chunking, backend choice, progress and cancellation of
//! long batch computations (local complexity over many points, LES over many
//! latents).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::backend::{Backend, CpuBackend};
use crate::{Error, Result};

/// A progress callback: `(items done, items in all)`.
pub type BatchProgressFn = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// How a long batch computation runs.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use cpwl::batch::BatchOptions;
/// let opts = BatchOptions { chunk: 128, progress: Some(Arc::new(|done, all| eprintln!("{done}/{all}"))), ..Default::default() };
/// assert_eq!(opts.chunk, 128);
/// ```
#[derive(Clone)]
pub struct BatchOptions {
    /// Items per chunk: memory grows with the chunk, never with the batch.
    pub chunk: usize,
    /// The backend of the heavy kernels (`None`: [`CpuBackend`]).
    pub backend: Option<Arc<dyn Backend>>,
    /// Called after every chunk.
    pub progress: Option<BatchProgressFn>,
    /// Set to `true` from any thread to stop with [`Error::Budget`].
    pub cancel: Option<Arc<AtomicBool>>,
    #[doc(hidden)]
    pub _private: crate::Private,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            chunk: 256,
            backend: None,
            progress: None,
            cancel: None,
            _private: Default::default(),
        }
    }
}

impl std::fmt::Debug for BatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchOptions")
            .field("chunk", &self.chunk)
            .field("backend", &self.backend.as_ref().map(|b| b.name().to_string()))
            .field("progress", &self.progress.is_some())
            .field("cancel", &self.cancel)
            .finish()
    }
}

impl BatchOptions {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a zero chunk.
    pub fn validate(&self) -> Result<()> {
        if self.chunk == 0 {
            return Err(Error::invalid("chunk", "must be at least 1"));
        }
        Ok(())
    }

    /// Runs `f(start, end, backend)` on consecutive chunks of `0..n`, reporting
    /// progress and honouring the cancel flag between chunks.
    pub(crate) fn run<T>(
        &self,
        n: usize,
        f: impl Fn(usize, usize, &dyn Backend) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.validate()?;
        let cpu = CpuBackend::default();
        let backend: &dyn Backend = self.backend.as_deref().unwrap_or(&cpu);
        let mut out = Vec::with_capacity(n.div_ceil(self.chunk));
        for start in (0..n).step_by(self.chunk) {
            if self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(Error::Budget {
                    limit: format!("cancelled after {start} of {n} items"),
                });
            }
            let end = (start + self.chunk).min(n);
            out.push(f(start, end, backend)?);
            if let Some(cb) = &self.progress {
                cb(end, n);
            }
        }
        Ok(out)
    }
}
