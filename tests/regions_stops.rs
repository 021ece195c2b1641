//! Region enumeration stopped by a budget or a cancel: the partition comes
//! back with the regions found so far and the outcome that stopped it, for
//! both methods. Every stop is triggered deterministically (a region count,
//! a flag set before the run or by the n-th progress call, a zero budget),
//! so no test depends on the machine's speed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::{assert_subset, Counted};
use cpwl::regions::{enumerate, EnumOptions, Method, Partition};
use cpwl::run::{Outcome, Progress, RunOptions};
use cpwl::{Domain, Error, Network};
use ndarray::{Array1, Array2};

const METHODS: [Method; 2] = [Method::PlaneSplit, Method::Lp];

/// A deterministic 2-24-24-1 ReLU network: a few hundred regions in the square.
fn network() -> Network {
    let weights = |rows: usize, cols: usize, salt: f64| {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * cols + j) as f64 * 0.7548 + salt).sin()
        })
    };
    let bias = |n: usize, salt: f64| Array1::from_shape_fn(n, |i| (i as f64 * 1.618 + salt).cos() * 0.5);
    Network::builder(2)
        .dense(weights(24, 2, 0.1), bias(24, 0.2))
        .unwrap()
        .relu()
        .dense(weights(24, 24, 0.3), bias(24, 0.4))
        .unwrap()
        .relu()
        .dense(weights(1, 24, 0.5), bias(1, 0.6))
        .unwrap()
        .build()
        .unwrap()
}

fn domain() -> Domain {
    Domain::cube(2, -2.0, 2.0)
}

fn run(method: Method, run: RunOptions) -> Partition {
    let opts = EnumOptions {
        method,
        run,
        ..Default::default()
    };
    enumerate(&network(), &domain(), &opts).unwrap()
}

fn serial() -> RunOptions {
    RunOptions {
        threads: Some(1),
        ..Default::default()
    }
}

#[test]
fn a_region_budget_of_k_returns_exactly_k_regions_of_the_full_partition() {
    for method in METHODS {
        let full = run(method, RunOptions::default());
        assert_eq!(full.outcome(), Outcome::Complete);
        assert!(full.len() > 300, "{method:?}: {} regions", full.len());
        for k in [1, 7, 300] {
            for threads in [Some(1), None] {
                let part = run(
                    method,
                    RunOptions {
                        max_regions: Some(k),
                        threads,
                        ..Default::default()
                    },
                );
                let what = format!("{method:?}, k = {k}, threads {threads:?}");
                assert_eq!(part.outcome(), Outcome::RegionBudget, "{what}");
                assert_eq!(part.len(), k, "{what}");
                assert_subset(&part, &full, &what);
            }
        }
        let roomy = run(
            method,
            RunOptions {
                max_regions: Some(full.len()),
                ..Default::default()
            },
        );
        assert_eq!(roomy.len(), full.len(), "{method:?}");
    }
}

#[test]
fn a_zero_region_budget_is_rejected() {
    let opts = EnumOptions {
        run: RunOptions {
            max_regions: Some(0),
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(matches!(opts.validate(), Err(Error::Invalid { .. })));
    assert!(matches!(
        enumerate(&network(), &domain(), &opts),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn a_flag_set_before_the_run_cancels_it_before_any_region() {
    for method in METHODS {
        let part = run(
            method,
            RunOptions {
                cancel: Some(Arc::new(AtomicBool::new(true))),
                ..Default::default()
            },
        );
        assert_eq!(part.outcome(), Outcome::Cancelled, "{method:?}");
        assert!(part.is_empty(), "{method:?}: {} regions", part.len());
    }
}

#[test]
fn a_zero_time_budget_stops_before_any_region() {
    for method in METHODS {
        let part = run(
            method,
            RunOptions {
                time_budget: Some(Duration::ZERO),
                ..Default::default()
            },
        );
        assert_eq!(part.outcome(), Outcome::TimeBudget, "{method:?}");
        assert!(part.is_empty(), "{method:?}");
    }
}

/// Options that set the cancel flag at the `n`-th progress call, and the
/// count of calls.
fn cancel_at_call(n: usize) -> (RunOptions, Arc<AtomicUsize>) {
    let cancel = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let (flag, count) = (Arc::clone(&cancel), Arc::clone(&calls));
    let progress = move |_: &Progress| {
        if count.fetch_add(1, Ordering::Relaxed) + 1 == n {
            flag.store(true, Ordering::Relaxed);
        }
    };
    let run = RunOptions {
        cancel: Some(cancel),
        progress: Some(Arc::new(progress)),
        ..serial()
    };
    (run, calls)
}

#[test]
fn a_flag_set_during_the_run_stops_it_with_the_regions_found_so_far() {
    for method in METHODS {
        let full = run(method, serial());
        // The first report point always calls back: cancelling there leaves
        // what the first few cells or the first chunk found.
        let (first, _) = cancel_at_call(1);
        let part = run(method, first);
        assert_eq!(part.outcome(), Outcome::Cancelled, "{method:?}");
        assert!(
            !part.is_empty() && part.len() < full.len(),
            "{method:?}: {} of {}",
            part.len(),
            full.len()
        );
        assert_subset(&part, &full, &format!("{method:?}"));
        // A flag no call reaches leaves the run complete, with one call at
        // the end at least.
        let (never, calls) = cancel_at_call(usize::MAX);
        let whole = run(method, never);
        assert_eq!(whole.outcome(), Outcome::Complete, "{method:?}");
        assert_eq!(whole.len(), full.len(), "{method:?}");
        assert!(calls.load(Ordering::Relaxed) >= 2, "{method:?}");
    }
}

#[test]
fn progress_reports_regions_found() {
    for method in METHODS {
        let last = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&last);
        let part = run(
            method,
            RunOptions {
                progress: Some(Arc::new(move |p: &Progress| {
                    seen.store(p.done, Ordering::Relaxed)
                })),
                ..Default::default()
            },
        );
        assert_eq!(last.load(Ordering::Relaxed), part.len(), "{method:?}");
    }
}

#[test]
fn the_walk_reaches_the_backend_and_stops_inside_a_wave_when_it_cancels() {
    let full = run(Method::Lp, serial());
    // A backend that never cancels sees every seed and witness batch.
    let counting = Arc::new(Counted::cpu());
    let whole = run(
        Method::Lp,
        RunOptions {
            backend: Some(counting.clone()),
            ..serial()
        },
    );
    assert_eq!(whole.len(), full.len());
    let calls = counting.total();
    // One batch of seeds, then at least one batch per region with a facet inside.
    assert!(
        calls > full.len(),
        "{calls} backend calls for {} regions",
        full.len()
    );
    // Cancelled by the backend during its 20th call, in the middle of a wave
    // of cells: the regions analysed before it come back.
    let tripwire = Arc::new(Counted::cpu().cancelling_at(20).preferring_grams(false));
    let part = run(
        Method::Lp,
        RunOptions {
            cancel: Some(tripwire.cancel.clone()),
            backend: Some(tripwire.clone()),
            ..serial()
        },
    );
    assert_eq!(part.outcome(), Outcome::Cancelled);
    assert!(
        !part.is_empty() && part.len() < full.len(),
        "{} of {}",
        part.len(),
        full.len()
    );
    assert!(part.len() <= 20, "{} regions after 20 calls", part.len());
    assert_subset(&part, &full, "cancelled walk");
    // The stop is noticed within the cell that made the call. A serial walk
    // is deterministic, so the cancelled run's calls are the first calls of
    // the whole run. Each cell reads all its facets' first witnesses in one
    // batch, then single points where a step overshoots; the seeds are one
    // batch too. So a call of several points after the 20th would be a new
    // cell started after the stop.
    let rows = tripwire.rows_per_call();
    let whole_rows = counting.rows_per_call();
    assert_eq!(rows.len(), tripwire.total());
    assert!(rows.len() >= 20 && rows.len() < whole_rows.len());
    assert_eq!(rows[..], whole_rows[..rows.len()]);
    assert!(
        rows[20..].iter().all(|&n| n == 1),
        "calls after the stop: {:?}",
        &rows[20..]
    );
}
