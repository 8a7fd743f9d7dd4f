use std::path::PathBuf;

/// Everything that can go wrong in the classifier, each naming the input at fault.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    // The I/O error is part of the message and deliberately not a `source`: the
    // CLI prints the whole chain, which would say it twice.
    #[error("cannot read {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    BadLine {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("no training examples")]
    NoExamples,
    #[error("training needs at least 2 distinct labels, got {0}")]
    TooFewLabels(usize),
    #[error("training needs at most 65535 labels, got {0}")]
    TooManyLabels(usize),
    #[error("{path}: not a Facteur classifier model (bad magic header)")]
    BadMagic { path: PathBuf },
    #[error("{path}: model format version {found} is not supported (this build reads versions 2 to {supported})")]
    UnknownVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: model file is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("the embeddings given for training do not fit: {message}")]
    Embeddings { message: String },
    #[error("cannot calibrate the abstain threshold: {message}")]
    Calibration { message: String },
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}
