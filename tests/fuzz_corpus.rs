//! Runs every fuzz target (the bodies in `tests/fuzz_targets/`, shared with
//! the cargo-fuzz crate in `fuzz/`) on the committed seed corpus
//! `fuzz/corpus/<target>/`, on prefixes of each seed, and on a fixed number
//! of seeded random mutations and random bytes, so that CI exercises the
//! targets without a fuzzer. No wall clock decides what runs: every machine
//! runs the same inputs, however loaded. A panic anywhere fails the test.

mod fuzz_targets;

use std::path::PathBuf;
use std::sync::Once;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Mutated and random inputs per target (each target bounds its own work by
/// the size of what it decodes, never by time).
const INPUTS: usize = 3000;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!seeds.is_empty(), "no seed in {}", dir.display());
    seeds
}

/// Values that sit on the edges of lengths, counts and signs.
const INTERESTING: [u8; 8] = [0, 1, 0x7f, 0x80, 0xff, b'0', b'{', b'\''];

/// One to four random edits: bit flips, interesting bytes, little-endian
/// lengths, deletions, duplications and insertions.
fn mutate(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = data.len();
        let at = if len == 0 { 0 } else { rng.random_range(0..len) };
        match rng.random_range(0..6) {
            0 if len > 0 => data[at] ^= 1 << rng.random_range(0..8),
            1 if len > 0 => data[at] = INTERESTING[rng.random_range(0..INTERESTING.len())],
            2 if len >= 4 => {
                let at = at.min(len - 4);
                let value: u32 =
                    [0, 1, 0xffff, 0x7fff_ffff, 0xffff_ffff, len as u32 * 2][rng.random_range(0..6)];
                data[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
            3 if len > 0 => {
                let end = (at + rng.random_range(1..=16)).min(len);
                data.drain(at..end);
            }
            4 if len > 0 => {
                let end = (at + rng.random_range(1..=64)).min(len);
                let chunk = data[at..end].to_vec();
                data.splice(at..at, chunk);
            }
            _ => {
                let extra: Vec<u8> = (0..rng.random_range(1..=8)).map(|_| rng.random()).collect();
                data.splice(at..at, extra);
            }
        }
    }
    data
}

/// Every seed, its prefixes, then [`INPUTS`] mutations and random bytes from
/// a fixed seed.
fn inputs(target: &str) -> Vec<Vec<u8>> {
    let seeds = seeds(target);
    let mut inputs = Vec::new();
    for seed in &seeds {
        let step = (seed.len() / 200).max(1);
        inputs.extend((0..=seed.len()).step_by(step).map(|cut| seed[..cut].to_vec()));
    }
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for i in 0..INPUTS {
        let input = if i % 8 == 7 {
            (0..rng.random_range(0..256)).map(|_| rng.random()).collect()
        } else {
            let pick = rng.random_range(0..seeds.len());
            mutate(&mut rng, &seeds[pick])
        };
        inputs.push(input);
    }
    inputs
}

/// Runs every input of `target`; returns how many ran.
fn exercise(target: &str) -> usize {
    let inputs = inputs(target);
    for input in &inputs {
        fuzz_targets::run(target, input);
    }
    let count = inputs.len();
    eprintln!("{target}: {count} inputs, no panic");
    count
}

#[test]
fn npz_target_survives_corpus_and_mutations() {
    assert!(exercise("npz") > 0);
}

#[test]
fn npy_target_survives_corpus_and_mutations() {
    assert!(exercise("npy") > 0);
}

#[cfg(feature = "onnx")]
#[test]
fn onnx_target_survives_corpus_and_mutations() {
    assert!(exercise("onnx") > 0);
}

#[test]
fn safetensors_target_survives_corpus_and_mutations() {
    assert!(exercise("safetensors") > 0);
}

#[test]
fn pattern_target_survives_corpus_and_mutations() {
    assert!(exercise("pattern") > 0);
}

#[test]
fn enumerate_target_survives_corpus_and_mutations() {
    static HOOK: Once = Once::new();
    HOOK.call_once(fuzz_targets::skip_guarded_solver_panics);
    assert!(exercise("enumerate") > 0);
}

#[test]
fn every_target_has_a_test_and_a_corpus() {
    for target in fuzz_targets::TARGETS {
        assert!(!seeds(target).is_empty());
    }
}
