//! The CUDA kernels' indexing and arithmetic, checked without a GPU: the
//! `.cu` sources are compiled as C++ with a shim for the CUDA built-ins
//! (`scripts/cu_host_check.sh`), launched on the host with small grids, and
//! compared with reference loops written in `scripts/cu_host_check.cpp`.
//! Skips (and says so) where there is no C++ compiler.

use std::path::Path;
use std::process::Command;

#[test]
fn cuda_kernels_match_reference_loops_on_the_host() {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
    if Command::new(&cxx).arg("--version").output().is_err() {
        eprintln!("skipping: no C++ compiler ({cxx}) to emulate the CUDA kernels");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cu_host_check.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("TMPDIR", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("all host-emulated kernel checks passed"), "{text}");
}
