//! Where the test vectors and their case folders are, and how their JSON
//! files are read: shared by the integration tests (`tests/common`) and the
//! crate's unit tests (`src/test_support.rs` includes this file), so the
//! rule lives once.

use std::path::{Path, PathBuf};

/// The test vectors: `$CPWL_VECTORS` when set (for example `../shared/vectors`),
/// else the copy in the repository, `tests/data/vectors`, so a bare clone
/// runs every test.
pub fn vectors() -> PathBuf {
    let dir = std::env::var_os("CPWL_VECTORS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors"),
        PathBuf::from,
    );
    assert!(
        dir.is_dir(),
        "test vectors not found at {} (unset CPWL_VECTORS to use tests/data/vectors)",
        dir.display()
    );
    dir
}

/// A JSON file, parsed.
pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The case folders of a vector family (`forward`, `lc`, ...), sorted.
pub fn cases(family: &str) -> Vec<PathBuf> {
    let root = vectors().join(family);
    let entries = std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}
