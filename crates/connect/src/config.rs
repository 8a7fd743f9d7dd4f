//! Connector settings. Passwords arrive already resolved (from an environment
//! variable or a file) by the caller: this crate never reads secrets itself, and
//! never prints them (`Debug` is redacted).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain TCP: loopback tests only.
    None,
    /// Plain TCP upgraded with STARTTLS before login.
    Starttls,
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    #[default]
    Tls,
}

/// What to do on the server once a message is durably stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "action", content = "folder")]
pub enum AfterStore {
    /// Set `\Seen` (the default: agents using a mail client see what Facteur took).
    #[default]
    FlagSeen,
    /// Move to another folder (UID MOVE, else COPY + `\Deleted` + UID EXPUNGE).
    Move(String),
    /// Touch nothing on the server.
    Leave,
}

/// One IMAP mailbox to ingest.
#[derive(Clone, Serialize, Deserialize)]
pub struct ImapConfig {
    /// The mailbox name in Facteur (used in every error and status).
    pub mailbox: String,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: String,
    #[serde(skip_serializing)]
    pub password: String,
    /// Folder to read, `INBOX` by default.
    pub folder: String,
    /// Where sent replies are mirrored (IMAP APPEND, flagged `\Seen`), so agents
    /// using a mail client see them; `None` = no mirror. Never searched by the
    /// delivery check: a copy we appended ourselves proves nothing.
    pub sent_folder: Option<String>,
    pub after_store: AfterStore,
    /// Messages above this size are stored as headers only, with an `Oversized` defect.
    pub max_message_bytes: u32,
    /// Extra trust anchor (PEM), for private CAs and tests.
    pub ca_file: Option<PathBuf>,
    /// How many messages one FETCH asks for (bounds memory).
    pub batch_size: u32,
    /// Polling period when the server has no IDLE, and the longest IDLE wait.
    pub poll_interval: Duration,
    /// Timeout of each network step.
    pub io_timeout: Duration,
    /// Reconnect backoff: starts at `backoff_min`, doubles, capped at `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl ImapConfig {
    /// Sensible defaults around the few things that must be given.
    pub fn new(mailbox: &str, host: &str, port: u16, user: &str, password: &str) -> Self {
        ImapConfig {
            mailbox: mailbox.to_string(),
            host: host.to_string(),
            port,
            tls: TlsMode::Tls,
            user: user.to_string(),
            password: password.to_string(),
            folder: "INBOX".to_string(),
            sent_folder: None,
            after_store: AfterStore::FlagSeen,
            max_message_bytes: 25 * 1024 * 1024,
            ca_file: None,
            batch_size: 100,
            poll_interval: Duration::from_secs(60),
            io_timeout: Duration::from_secs(60),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }

    pub(crate) fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl std::fmt::Debug for ImapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapConfig")
            .field("mailbox", &self.mailbox)
            .field("server", &self.server())
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &"***")
            .field("folder", &self.folder)
            .field("after_store", &self.after_store)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish_non_exhaustive()
    }
}

/// The SMTP relay the outbox sends through.
#[derive(Clone, Serialize, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// `None` = no AUTH (a relay that trusts the host).
    pub user: Option<String>,
    #[serde(skip_serializing)]
    pub password: Option<String>,
    pub ca_file: Option<PathBuf>,
    /// Name sent in EHLO.
    pub hello_name: String,
    pub io_timeout: Duration,
}

impl SmtpConfig {
    pub fn new(host: &str, port: u16) -> Self {
        SmtpConfig {
            host: host.to_string(),
            port,
            tls: TlsMode::Starttls,
            user: None,
            password: None,
            ca_file: None,
            hello_name: "facteur.localhost".to_string(),
            io_timeout: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("server", &format!("{}:{}", self.host, self.port))
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let c = ImapConfig::new("impots", "imap.example", 993, "bal", "s3cr3t-pw");
        assert!(!format!("{c:?}").contains("s3cr3t-pw"));
        let mut s = SmtpConfig::new("smtp.example", 587);
        s.password = Some("s3cr3t-pw".into());
        assert!(!format!("{s:?}").contains("s3cr3t-pw"));
        assert!(!serde_json::to_string(&c).unwrap().contains("s3cr3t-pw"));
    }
}
