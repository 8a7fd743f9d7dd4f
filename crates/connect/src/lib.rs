//! Mailbox connectors: IMAP ingest (incremental by UID, stored before flagged) and the
//! SMTP outbox (exactly once), on top of the store.
//!
//! - [`ImapIngest`]: one IMAP folder into one Facteur mailbox. `sync_once` for a
//!   single pass, `run` for the long-running loop (IDLE or polling, reconnect with
//!   exponential backoff; with `with_sync_lease`, one process per mailbox syncs
//!   while the others stand by), [`StatusHandle`] for the admin page.
//! - [`import_raw`]: the same ingest path for files (`facteur import`).
//! - [`Sender`]: drains the outbox through SMTP; the exactly-once protocol is in
//!   the [`smtp`] module documentation.
//!
//! Durable connector state (IMAP sync position, SMTP hand-off marker) lives in
//! the store, not in files, so several processes on several hosts share it.
//!
//! Secrets: configs hold the resolved password but never print it, and every error
//! text is scrubbed of it before it leaves the crate.

mod config;
mod error;
mod imap;
mod ingest;
pub mod smtp;
mod tls;

pub use config::{AfterStore, ImapConfig, SmtpConfig, TlsMode};
pub use error::{scrub, ConnectError, ConnectResult};
pub use imap::{
    append_once, message_id_present, ImapIngest, IoStream, MailboxStatus, StatusHandle,
};
pub use ingest::{import_raw, FnHook, IngestHook, NoHook, SharedHook, StoredMessage, SyncReport};
#[doc(hidden)]
pub use smtp::CrashPoint;
pub use smtp::{
    build_reply, reply_subject, DeliveryCheck, SendOutcome, SendReport, Sender, VALIDATED_BY_HEADER,
};
