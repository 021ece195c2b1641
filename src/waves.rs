//! Long batch computations in waves: the entry point cuts the batch once into
//! waves that give every worker thread [`RunOptions::chunk`] items, hands each
//! wave to the backend in one call (the backend cuts it into its per-thread
//! chunks), and between waves honours the cancel flag and the time budget and
//! reports progress.

use std::ops::Range;

use crate::run::{Outcome, RunOptions, Watch};
use crate::Result;

/// What [`in_waves`] finished.
pub(crate) struct Waves<T> {
    /// One result per finished wave, in order.
    pub parts: Vec<T>,
    /// Items finished: the first `finished` items of the batch.
    pub finished: usize,
    /// How the run ended.
    pub outcome: Outcome,
}

/// The items per wave: [`RunOptions::chunk_size`] for every thread of the
/// pool the caller runs on (call it inside [`RunOptions::install`]), so
/// that one backend call keeps every thread busy even on small networks.
pub(crate) fn wave_size(run: &RunOptions) -> usize {
    run.chunk_size()
        .saturating_mul(rayon::current_num_threads().max(1))
}

/// Runs `f` on consecutive ranges `0..n` of at most `wave` items, checking
/// for a stop before every wave and reporting progress after it.
///
/// # Errors
///
/// The first error of `f`.
pub(crate) fn in_waves<T>(
    watch: &Watch<'_>,
    n: usize,
    wave: usize,
    mut f: impl FnMut(Range<usize>) -> Result<T>,
) -> Result<Waves<T>> {
    let wave = wave.max(1);
    let mut parts = Vec::with_capacity(n.div_ceil(wave));
    let mut start = 0;
    while start < n {
        if let Some(outcome) = watch.stop(0) {
            watch.report(start, Some(n - start), true);
            return Ok(Waves {
                parts,
                finished: start,
                outcome,
            });
        }
        let end = (start + wave).min(n);
        parts.push(f(start..end)?);
        start = end;
        watch.report(start, Some(n - start), start == n);
    }
    Ok(Waves {
        parts,
        finished: n,
        outcome: Outcome::Complete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    #[test]
    fn waves_cover_the_batch_in_order() {
        let run = RunOptions::default();
        let watch = Watch::new(&run);
        let done = in_waves(&watch, 10, 4, Ok).unwrap();
        assert_eq!(done.parts, vec![0..4, 4..8, 8..10]);
        assert_eq!((done.finished, done.outcome), (10, Outcome::Complete));
    }

    #[test]
    fn a_cancel_during_a_wave_stops_before_the_next() {
        // The flag is set by the second wave itself: a deterministic trigger.
        let cancel = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let run = RunOptions {
            cancel: Some(cancel.clone()),
            progress: Some(Arc::new(move |p| sink.lock().unwrap().push(p.done))),
            ..Default::default()
        };
        let watch = Watch::new(&run);
        let done = in_waves(&watch, 10, 3, |r| {
            if r.start == 3 {
                cancel.store(true, Ordering::Relaxed);
            }
            Ok(r.len())
        })
        .unwrap();
        assert_eq!(done.parts, vec![3, 3]);
        assert_eq!((done.finished, done.outcome), (6, Outcome::Cancelled));
        assert_eq!(seen.lock().unwrap().last(), Some(&6));
    }
}
