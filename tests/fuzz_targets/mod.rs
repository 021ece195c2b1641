//! The bodies of the fuzz targets, shared by the cargo-fuzz crate in `fuzz/`
//! (through `#[path]`) and by `tests/fuzz_corpus.rs`, which runs them on the
//! committed seed corpus and on seeded random inputs.
//!
//! A target may return errors of any kind; it must never panic, and what it
//! loads must be usable (evaluating it must not panic either). The few
//! `assert!`s here state properties that must hold for every input.
#![allow(dead_code)]

mod decode;

use cpwl::io::{ArchLayer, Architecture};
use cpwl::network::Activation;
use cpwl::regions::{enumerate as enumerate_regions, EnumOptions, Method, Partition};
use cpwl::{Domain, Network, Pattern};
use ndarray::Array1;

/// The names of every target, in the order of `fuzz/Cargo.toml`.
pub const TARGETS: [&str; 6] = ["npz", "npy", "onnx", "safetensors", "pattern", "enumerate"];

/// Runs the target called `name` (`onnx` only with the feature).
pub fn run(name: &str, data: &[u8]) {
    match name {
        "npz" => npz(data),
        "npy" => npy(data),
        #[cfg(feature = "onnx")]
        "onnx" => onnx(data),
        "safetensors" => safetensors(data),
        "pattern" => pattern(data),
        "enumerate" => enumerate(data),
        _ => {}
    }
}

/// Bytes as an `.npz` archive of an MLP.
pub fn npz(data: &[u8]) {
    if let Ok(net) = Network::from_npz_bytes(data) {
        exercise(&net);
    }
}

/// Bytes as an `.npy` array.
pub fn npy(data: &[u8]) {
    if let Ok(a) = cpwl::io::load_npy_bytes(data) {
        assert_eq!(a.len(), a.shape().iter().product::<usize>());
    }
}

/// Bytes as an ONNX model.
#[cfg(feature = "onnx")]
pub fn onnx(data: &[u8]) {
    if let Ok(net) = Network::from_onnx_bytes(data) {
        exercise(&net);
    }
}

/// Bytes as a safetensors file, read with a fixed MLP architecture (PyTorch
/// `nn.Sequential` names) and with the `.npz` names.
pub fn safetensors(data: &[u8]) {
    let listed = Architecture::new(vec![
        ArchLayer::dense("0"),
        ArchLayer::Relu,
        ArchLayer::dense("2"),
        ArchLayer::LeakyRelu(0.1),
        ArchLayer::dense("4"),
    ]);
    let npz_names = Architecture::npz_names(Activation::Abs);
    for arch in [listed, npz_names] {
        if let Ok(net) = Network::from_safetensors_bytes(data, &arch) {
            exercise(&net);
        }
    }
}

/// Text as an activation pattern: what parses prints back as itself.
pub fn pattern(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = text.parse::<Pattern>() {
        assert_eq!(p.to_string(), text);
        assert_eq!(p.len(), text.chars().count());
        let values = p.to_values();
        assert_eq!(Pattern::from_values(&values).ok().as_ref(), Some(&p));
        if !p.is_empty() {
            let flipped = p.with(0, 1 - values[0].min(1));
            assert!(flipped.is_ok());
        }
    }
}

/// Bytes as a small network (2-3 inputs, widths up to 6, weights including
/// zeros, repeats, huge and tiny values, all finite) and a box or slice
/// domain, enumerated with a region cap (no time budget: what a run checks
/// must not depend on the machine's speed).
pub fn enumerate(data: &[u8]) {
    let Some((net, domain)) = decode::case(data) else {
        return;
    };
    let opts = EnumOptions {
        run: cpwl::run::RunOptions {
            max_regions: Some(MAX_REGIONS),
            threads: Some(1),
            ..Default::default()
        },
        ..Default::default()
    };
    check_partition(&net, &domain, enumerate_regions(&net, &domain, &opts));
    if domain.dim() == 2 {
        // Auto split the slice; the LP walk must survive it too.
        let walk = EnumOptions {
            method: Method::Lp,
            ..opts
        };
        check_partition(&net, &domain, enumerate_regions(&net, &domain, &walk));
    }
}

/// The region budget of the fuzzed enumerations.
const MAX_REGIONS: usize = 64;

/// A successful enumeration holds at least one region unless a limit stopped
/// it (a domain always has an interior), never more than the budget, each
/// with a full pattern.
fn check_partition(net: &Network, domain: &Domain, result: cpwl::Result<Partition>) {
    if let Ok(partition) = result {
        let stats = partition.stats();
        assert!(partition.len() <= MAX_REGIONS, "{} regions", partition.len());
        assert!(
            !partition.is_empty() || !partition.outcome().is_complete(),
            "an Ok partition without regions: {}-D domain, {:?}, {} thin cells rejected",
            domain.dim(),
            stats.method,
            stats.rejected_thin
        );
        for region in partition.regions() {
            assert_eq!(region.pattern().len(), net.unit_count());
        }
        if domain.dim() == 2 {
            let _ = partition.to_geojson();
        }
    }
}

/// Makes the current panic hook skip panics raised inside the LP solver
/// (microlp). `cpwl` runs each solve under `catch_unwind` and turns a solver
/// panic into [`cpwl::Error::Lp`], so those are answers, not crashes; but
/// libFuzzer's hook aborts on every panic, even a caught one (and the default
/// hook prints each). A solver panic that escaped `cpwl` would still reach
/// libFuzzer's own `catch_unwind` (or the test) and fail.
pub fn skip_guarded_solver_panics() {
    let aborting = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_solver = info.location().is_some_and(|l| l.file().contains("/microlp-"));
        if !in_solver {
            aborting(info);
        }
    }));
}

/// Evaluates a loaded network at the origin (outputs may overflow to
/// infinity for huge weights; they must not panic). A file can declare an
/// input of 2^40 values through empty weights (shape `(0, 2^40)`): such
/// networks load, but the caller would have to supply the input, so the
/// target does not allocate it.
fn exercise(net: &Network) {
    if net.input_dim() > 1 << 16 {
        return;
    }
    let x = Array1::zeros(net.input_dim());
    let _ = net.forward(x.view());
    if let Ok(p) = net.pattern(x.view()) {
        assert_eq!(p.len(), net.unit_count());
        let _ = net.affine_of(&p);
    }
}
