//! The application layer's errors. Like the store's, they name the failing
//! operation, never personal data.

use facteur_learn::LearnError;
use facteur_store::StoreError;

/// What can fail in the application rules.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The kill switches could not be read from the store.
    #[error("cannot read the kill switches: {0}")]
    KillSwitches(#[source] LearnError),
    /// The model registry could not be listed (for the review status).
    #[error("cannot read the model registry: {0}")]
    Registry(#[source] LearnError),
    /// Any other store operation.
    #[error(transparent)]
    Store(#[from] StoreError),
}
