//! Errors name the operation and the entity (by internal id, never by personal
//! data) so a log line is actionable without exposing a citizen.

/// `op` strings look like `"validate message 42 by user 3"`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or connected to.
    #[error("open database '{url}': {source}")]
    Open {
        /// The URL with any password removed.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database URL is neither `sqlite:` nor `postgres://`.
    #[error("unsupported database URL scheme '{scheme}' (expected sqlite: or postgres://)")]
    UnsupportedUrl {
        /// The scheme found, before `:`.
        scheme: String,
    },
    /// Bringing the schema up to date failed when the store was opened.
    #[error("migrate {backend} database: {source}")]
    Migrate {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A newer Facteur already upgraded this database: running an older one
    /// against it could misread its rows.
    #[error("the database has migration {version}, unknown to this version of Facteur (which knows up to {latest_known}): it was upgraded by a newer Facteur; install that version or newer, or restore the backup taken before the upgrade")]
    DatabaseNewer {
        /// The highest migration the database has.
        version: i64,
        /// The highest migration this build knows.
        latest_known: i64,
    },
    /// Any other database failure during `op`.
    #[error("{op}: {source}")]
    Db {
        /// The operation that failed, with internal ids only.
        op: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The row the operation names (message, user, model version…) does not exist.
    #[error("{op}: not found")]
    NotFound {
        /// The operation that failed, with internal ids only.
        op: String,
    },
    /// The user may not act on this mailbox (or is deactivated), or the assignee may not.
    #[error("{op}: forbidden")]
    Forbidden {
        /// The operation that failed, with internal ids only.
        op: String,
    },
    /// The message (or its reply) is no longer in a state that allows the action.
    #[error("{op}: message is in state '{state}'")]
    InvalidState {
        /// The operation that failed, with internal ids only.
        op: String,
        /// The state code found, e.g. the message's `sent` or the reply's `sending`.
        state: String,
    },
    /// Another mailbox already has this address (compared as
    /// `mailbox_address_key`): replies must never leave two mailboxes under the
    /// same sender. Enforced by a unique index, so it holds under concurrent
    /// creations too.
    #[error("{op}: another mailbox already has this address")]
    MailboxAddressTaken {
        /// The operation that failed, with internal ids only.
        op: String,
    },
    /// A uniqueness violation, a lease this worker no longer holds, or a refused input.
    #[error("{op}: conflict: {detail}")]
    Conflict {
        /// The operation that failed, with internal ids only.
        op: String,
        /// What clashed, in words; never personal data.
        detail: String,
    },
    /// The reply may not be sent as it is (blank, or fields left to complete).
    #[error("{op}: {problem}")]
    ReplyRefused {
        /// The operation that failed, with internal ids only.
        op: String,
        /// What is wrong with the reply text.
        problem: facteur_core::reply::ReplyProblem,
    },
    /// The last mail from the reply's recipient was written by a machine (an
    /// auto-reply): sending risks a mail loop, so an agent must confirm
    /// (`Store::validate_and_queue_confirmed`).
    #[error("{op}: the last mail from this recipient was an auto-reply; an agent must confirm")]
    RecipientAutomatic {
        /// The operation that failed, with internal ids only.
        op: String,
    },
    /// A standard answer's version may not be validated by its own author (four
    /// eyes): another supervisor must read it first.
    #[error("{op}: the author of a version cannot validate it")]
    FourEyes {
        /// The operation that failed, with internal ids only.
        op: String,
    },
    /// The change would leave no active administrator: nobody could then manage
    /// accounts from the web app. Checked inside the transaction.
    #[error("{op}: this is the last active administrator")]
    LastAdmin {
        /// The operation that failed, with internal ids only.
        op: String,
    },
    /// A stored value cannot be read back (unknown state or status code…).
    #[error("{op}: stored value is corrupt: {detail}")]
    Corrupt {
        /// The operation that failed, with internal ids only.
        op: String,
        /// What could not be read.
        detail: String,
    },
}

/// The result of every store operation.
pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub(crate) fn open(url: &str, source: sqlx::Error) -> Self {
        StoreError::Open {
            url: redact_url(url),
            source,
        }
    }

    /// True when the failure is a uniqueness violation (a caller may treat it as
    /// "already done").
    pub fn is_conflict(&self) -> bool {
        match self {
            StoreError::Conflict { .. } | StoreError::MailboxAddressTaken { .. } => true,
            StoreError::Db { source, .. } => is_unique_violation(source),
            _ => false,
        }
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Attach the operation name to a sqlx error. A uniqueness violation becomes
/// `Conflict` so callers need not inspect driver errors.
pub(crate) trait OpContext<T> {
    fn op(self, op: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> OpContext<T> for Result<T, sqlx::Error> {
    fn op(self, op: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|source| {
            let op = op();
            if is_unique_violation(&source) {
                let detail = match &source {
                    sqlx::Error::Database(d) => d.message().to_string(),
                    other => other.to_string(),
                };
                StoreError::Conflict { op, detail }
            } else {
                StoreError::Db { op, source }
            }
        })
    }
}

fn redact_url(url: &str) -> String {
    // postgres://user:password@host/db -> postgres://user:***@host/db
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.split_once('@') {
            let user = creds.split(':').next().unwrap_or_default();
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_password_is_redacted() {
        assert_eq!(
            redact_url("postgres://me:s3cret@127.0.0.1:5432/db"),
            "postgres://me:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact_url("sqlite:/tmp/x.db"), "sqlite:/tmp/x.db");
    }
}
