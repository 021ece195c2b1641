//! Where the examples write their pictures and tables.

use std::path::PathBuf;

/// `target/NAME` in the package directory (created when missing).
pub fn output_path(name: &str) -> std::io::Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join(name))
}
