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
    /// The knowledge base could not be opened, synced or searched.
    #[error("{op}: {source}")]
    Kb {
        /// What was being done, e.g. "rebuild the knowledge base from the store".
        op: String,
        /// Why, from the index or the embedder.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A blocking task (triage, an index rebuild) stopped before it finished.
    #[error("the {task} task stopped: {reason}")]
    Task {
        /// Which task.
        task: &'static str,
        /// The runtime's reason (a panic, a cancellation).
        reason: String,
    },
    /// A message that does not exist (or no longer: erased).
    #[error("message {id} does not exist")]
    NoMessage {
        /// The message id asked for.
        id: i64,
    },
    /// No mailbox has this name: the config or the admin pages must declare it.
    #[error("no mailbox named {name:?}")]
    NoMailbox {
        /// The name asked for.
        name: String,
    },
    /// The address is another mailbox's: one address serves one mailbox.
    #[error("cannot create the mailbox {name:?}: the mailbox {owner:?} already has the address {address}")]
    MailboxAddressTaken {
        /// The mailbox that could not be created.
        name: String,
        /// The mailbox that has the address.
        owner: String,
        /// The address both want.
        address: String,
    },
}
