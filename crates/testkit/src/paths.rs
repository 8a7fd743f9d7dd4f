//! Where the repository and the shared data are, wherever a test runs from.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's `answers/` folder: the demo standard answers and taxonomy.
pub fn answers_dir() -> PathBuf {
    repo().join("answers")
}

/// The shared data folder: `$FACTEUR_SHARED_DATA`, else `../shared/data` beside
/// the repository (where CI's clean clone finds it).
pub fn shared_data() -> PathBuf {
    std::env::var_os("FACTEUR_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data"))
}
