use std::path::PathBuf;

/// Everything that can go wrong while learning, each naming the version, user or
/// file at fault (never a message's text).
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error(transparent)]
    Store(#[from] facteur_store::StoreError),
    #[error("model version {version}: {source}")]
    Classify {
        version: String,
        #[source]
        source: facteur_classify::ClassifyError,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    BadFile { path: PathBuf, detail: String },
    #[error("stored kill switch has an unknown scope {kind}:{value}")]
    BadSwitch { kind: String, value: String },
    #[error("{action} refused: a named supervisor is required")]
    NoSupervisor { action: &'static str },
    #[error("{action} refused: user {user_id} is not an active supervisor or administrator")]
    NotSupervisor { action: &'static str, user_id: i64 },
    #[error("model version '{0}' is not registered")]
    UnknownVersion(String),
    #[error("model version '{version}' is {status}: {detail}")]
    WrongStatus {
        version: String,
        status: String,
        detail: &'static str,
    },
    #[error("rollback refused: there is no previously active model to restore")]
    NothingToRollBack,
    #[error("training set is empty after merging base data and feedback")]
    EmptyTrainingSet,
    #[error("evaluation set is empty: a model cannot be judged without it")]
    EmptyEvalSet,
    #[error("embed {count} texts for model version {version}: {detail}")]
    Embedding {
        version: String,
        count: usize,
        detail: String,
    },
}

pub type LearnResult<T> = Result<T, LearnError>;

pub(crate) fn io_err(
    op: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> LearnError {
    let path = path.to_path_buf();
    move |source| LearnError::Io { op, path, source }
}
