//! Shared helpers for weft's integration tests.

use std::path::PathBuf;

/// The folder holding the committed reference fixtures.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}
