//! Fuzz target `enumerate`: see `tests/fuzz_targets/mod.rs` for what it checks.
#![no_main]

#[path = "../../tests/fuzz_targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(
    init: targets::skip_guarded_solver_panics(),
    |data: &[u8]| targets::enumerate(data)
);
