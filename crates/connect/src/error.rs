//! Errors name the mailbox (or outbox row) and the step that failed, so an admin
//! can act on them; they never carry a password (see [`scrub`]) nor mail content.

/// What went wrong in a connector. `mailbox` is the configured mailbox name.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("mailbox '{mailbox}': cannot reach {server}: {detail}")]
    Connect {
        mailbox: String,
        server: String,
        detail: String,
    },
    #[error("mailbox '{mailbox}': TLS with {server} failed: {detail}")]
    Tls {
        mailbox: String,
        server: String,
        detail: String,
    },
    #[error("mailbox '{mailbox}': login refused for user '{user}': {detail}")]
    Auth {
        mailbox: String,
        user: String,
        detail: String,
    },
    #[error("mailbox '{mailbox}': IMAP {step} failed: {detail}")]
    Imap {
        mailbox: String,
        step: String,
        detail: String,
    },
    #[error("mailbox '{mailbox}': {step} timed out after {secs} s")]
    Timeout {
        mailbox: String,
        step: String,
        secs: u64,
    },
    #[error("mailbox '{mailbox}': store: {source}")]
    Store {
        mailbox: String,
        #[source]
        source: facteur_store::StoreError,
    },
    #[error("configuration of mailbox '{mailbox}': {detail}")]
    Config { mailbox: String, detail: String },
    #[error("outbox {outbox_id}: {detail}")]
    Smtp {
        outbox_id: i64,
        detail: String,
        /// 5xx reply: retrying will not help.
        permanent: bool,
    },
    #[error("outbox {outbox_id}: store: {source}")]
    OutboxStore {
        outbox_id: i64,
        #[source]
        source: facteur_store::StoreError,
    },
}

pub type ConnectResult<T> = Result<T, ConnectError>;

/// Remove every occurrence of the secret from a server or library message before
/// it goes into an error: some servers echo the failed command, and the caller's
/// error text ends up in logs and on the admin page.
pub fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    text.replace(secret, "***")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_the_secret_everywhere() {
        assert_eq!(
            scrub("LOGIN bob hunter2 hunter2", "hunter2"),
            "LOGIN bob *** ***"
        );
        assert_eq!(scrub("nothing here", ""), "nothing here");
    }
}
