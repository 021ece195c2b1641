//! The benches' alternated timing (`benches/common/gemm.rs`): which runs
//! first changes every round, and every run is timed once per round.

#[allow(dead_code)]
#[path = "../benches/common/gemm.rs"]
mod gemm;

use std::cell::RefCell;

use gemm::{alternated_ratios, round_order};

#[test]
fn the_base_and_the_variants_take_turns_going_first() {
    assert_eq!(round_order(0, 2), [None, Some(0), Some(1)]);
    assert_eq!(round_order(1, 2), [Some(1), Some(0), None]);
    assert_eq!(round_order(4, 0), [None]);
    assert_eq!(round_order(7, 0), [None]);
}

#[test]
fn alternated_ratios_runs_each_once_per_round_in_that_order() {
    // Names record the calls: the warm-up round and three timed rounds.
    let log = RefCell::new(Vec::new());
    let mut a = || log.borrow_mut().push('a');
    let mut b = || log.borrow_mut().push('b');
    let mut variants: Vec<&mut dyn FnMut()> = vec![&mut a, &mut b];
    let ratios = alternated_ratios(3, || log.borrow_mut().push('B'), &mut variants);
    // One ratio per variant (their values are timings: not checked).
    assert_eq!(ratios.len(), 2);
    let runs: String = log.into_inner().into_iter().collect();
    assert_eq!(runs, "BabbaBBabbaB");
}
