//! The one path every incoming message takes into the store, whatever its source
//! (IMAP, files): parse, record defects, insert idempotently, then tell the hook.
//! Keeping one path means IMAP and `facteur import` cannot disagree on what
//! "the same message" is: (mailbox, Message-ID, SHA-256 of the raw bytes).

use std::sync::Arc;

use facteur_core::{Defect, DefectKind, ParsedMail};
use facteur_mail::{parse_message, RawMessage};
use facteur_store::{InsertOutcome, NewMessage, Store};
use futures::future::BoxFuture;
use serde::Serialize;

use crate::error::{ConnectError, ConnectResult};

/// What one sync or import did. Counts only: it is logged and shown to admins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Messages read from the source.
    pub fetched: u64,
    /// Newly stored.
    pub stored: u64,
    /// Already in the store (same Message-ID and content hash).
    pub duplicates_skipped: u64,
    /// Stored messages that carried at least one defect (malformed, oversized…).
    pub defects: u64,
    /// Messages or steps that failed; the sync stops at the first store error so
    /// that nothing after it is flagged on the server.
    pub errors: Vec<String>,
    /// The folder's UIDVALIDITY changed and it was read again from the start.
    pub full_resync: bool,
    /// Copies of Facteur's own sent replies that came back through the mailbox:
    /// recorded as proof of delivery on the outbox row, not stored as new mail.
    pub own_replies: u64,
}

impl SyncReport {
    pub fn merge(&mut self, other: &SyncReport) {
        self.fetched += other.fetched;
        self.stored += other.stored;
        self.duplicates_skipped += other.duplicates_skipped;
        self.defects += other.defects;
        self.errors.extend(other.errors.iter().cloned());
        self.full_resync |= other.full_resync;
        self.own_replies += other.own_replies;
    }
}

/// A message that just became durable.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// Store id.
    pub id: i64,
    pub mailbox_id: i64,
    /// IMAP UID, when it came from IMAP.
    pub uid: Option<u32>,
    pub mail: ParsedMail,
}

/// Called after each *newly* stored message (not duplicates), before the message
/// is flagged or moved on the server, so the caller can triage right away.
/// A hook cannot fail the ingest: the message is already safe in the store, and a
/// triage failure must be retried by the triage side, not by re-fetching mail.
pub trait IngestHook: Send + Sync {
    fn on_stored<'a>(&'a self, msg: &'a StoredMessage) -> BoxFuture<'a, ()>;

    /// The messages of one fetched batch, newly stored together, in order. A
    /// hook that can work on many at once (triage on every core, one commit)
    /// overrides this; by default each goes to [`IngestHook::on_stored`].
    fn on_stored_batch<'a>(&'a self, msgs: &'a [StoredMessage]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            for m in msgs {
                self.on_stored(m).await;
            }
        })
    }
}

/// The hook that does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHook;

impl IngestHook for NoHook {
    fn on_stored<'a>(&'a self, _msg: &'a StoredMessage) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// A synchronous closure as a hook (enough for counting or queueing work).
pub struct FnHook<F>(pub F);

impl<F: Fn(&StoredMessage) + Send + Sync> IngestHook for FnHook<F> {
    fn on_stored<'a>(&'a self, msg: &'a StoredMessage) -> BoxFuture<'a, ()> {
        (self.0)(msg);
        Box::pin(async {})
    }
}

pub type SharedHook = Arc<dyn IngestHook>;

/// How a message arrived: complete, or only its header because it was too big.
pub(crate) enum Payload {
    Full(Vec<u8>),
    /// Header bytes and the real size announced by the server.
    HeaderOnly {
        header: Vec<u8>,
        size: u64,
        limit: u64,
    },
}

/// How far back a Date header is believed: the sender writes it, and an
/// ancient one would put the mail first in every "oldest first" queue.
const DATE_HEADER_TRUSTED_MS: i64 = 90 * 24 * 3600 * 1000;

/// When a message arrived, as agents count its age: the mail server's arrival
/// time (IMAP INTERNALDATE) when there is one, else the Date header when it is
/// recent and not in the future (a file import of the last weeks' mail), else
/// now. Never later than now.
///
/// INTERNALDATE counts whole seconds: a mail that arrived during second `t` is
/// put at the end of that second. Otherwise it would sort before what Facteur
/// timed itself to the millisecond earlier in the same second (a mail imported
/// from a file), and "the last mail from this address" — which decides whether
/// a reply goes to an auto-responder — would pick the wrong one.
pub(crate) fn received_at(now: i64, arrived: Option<i64>, header: Option<i64>) -> i64 {
    let header = header.filter(|h| *h <= now && now - h <= DATE_HEADER_TRUSTED_MS);
    arrived
        .map(|t| t.saturating_add(999))
        .or(header)
        .unwrap_or(now)
        .min(now)
}

/// A message as a source hands it over.
pub(crate) struct Fetched {
    pub payload: Payload,
    /// When the mail server received it (IMAP INTERNALDATE), if it says.
    pub arrived: Option<i64>,
}

/// A fetched message, parsed and ready to store.
struct Prepared {
    uid: Option<u32>,
    mail: ParsedMail,
    new: NewMessage,
    oversized: bool,
}

/// Parse one message into what the store takes.
fn prepare(now: i64, mailbox_id: i64, uid: Option<u32>, fetched: Fetched) -> Prepared {
    let Fetched { payload, arrived } = fetched;
    let (raw, oversized) = match payload {
        Payload::Full(raw) => (raw, None),
        Payload::HeaderOnly {
            header,
            size,
            limit,
        } => (header, Some((size, limit))),
    };
    let mut mail = parse_message(&raw);
    if let Some((size, limit)) = oversized {
        mail.defects.push(Defect::new(
            DefectKind::Oversized,
            format!("{size} bytes exceeds the {limit}-byte limit: only the header was stored"),
        ));
        mail.raw_size = usize::try_from(size).unwrap_or(usize::MAX);
    }
    let mut new = NewMessage::from_parsed(mailbox_id, raw, &mail);
    new.received_at = Some(received_at(now, arrived, mail.date_ms));
    if oversized.is_some() {
        new.flags.push("oversized".to_string());
        new.parsed.truncated = true;
    }
    Prepared {
        uid,
        mail,
        new,
        oversized: oversized.is_some(),
    }
}

/// Where a batch stopped: messages before `at` are safely stored (or were
/// copies of our own replies); `at` failed with `error`, and `rest` (what came
/// after it) was not stored.
pub(crate) struct BatchFailure {
    pub at: usize,
    pub error: ConnectError,
    rest: Vec<Prepared>,
}

/// Parse and store a batch of messages, in order, with one commit, then hand the
/// newly stored ones to the hook together.
pub(crate) async fn ingest_batch(
    store: &Store,
    mailbox_name: &str,
    mailbox_id: i64,
    items: Vec<(Option<u32>, Fetched)>,
    hook: &dyn IngestHook,
    report: &mut SyncReport,
) -> Result<(), BatchFailure> {
    let now = store.now_ms();
    // Parsing is CPU work: off the runtime's threads.
    let prepared = tokio::task::spawn_blocking(move || {
        items
            .into_iter()
            .map(|(uid, f)| prepare(now, mailbox_id, uid, f))
            .collect::<Vec<_>>()
    })
    .await;
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            return Err(BatchFailure {
                at: 0,
                error: ConnectError::Config {
                    mailbox: mailbox_name.to_string(),
                    detail: format!("parsing a fetched batch failed: {e}"),
                },
                rest: Vec::new(),
            })
        }
    };
    report.fetched += prepared.len() as u64;
    store_prepared(store, mailbox_name, mailbox_id, prepared, hook, report).await
}

/// Store parsed messages with one commit. On any error it starts the batch again
/// one message at a time (both steps are idempotent: a duplicate is recognised,
/// a delivery confirmed twice counts once), so it stops exactly at the message
/// that fails, as a message-by-message ingest would.
async fn store_prepared(
    store: &Store,
    mailbox_name: &str,
    mailbox_id: i64,
    prepared: Vec<Prepared>,
    hook: &dyn IngestHook,
    report: &mut SyncReport,
) -> Result<(), BatchFailure> {
    let mut own = vec![false; prepared.len()];
    let mut fast = true;
    for (i, p) in prepared.iter().enumerate() {
        if p.oversized {
            continue;
        }
        match is_own_reply(store, mailbox_name, mailbox_id, &p.mail).await {
            Ok(o) => own[i] = o,
            Err(_) => {
                fast = false;
                break;
            }
        }
    }
    if fast {
        let news: Vec<&NewMessage> = prepared
            .iter()
            .zip(&own)
            .filter(|(_, o)| !**o)
            .map(|(p, _)| &p.new)
            .collect();
        if let Ok(outcomes) = store.insert_messages(&news).await {
            report.own_replies += own.iter().filter(|o| **o).count() as u64;
            let kept = prepared
                .into_iter()
                .zip(own)
                .filter(|(_, o)| !o)
                .map(|(p, _)| p);
            hand_over(kept.zip(outcomes), hook, report).await;
            return Ok(());
        }
    }
    let mut rest = prepared.into_iter().enumerate();
    while let Some((i, p)) = rest.next() {
        let own = if p.oversized {
            Ok(false)
        } else {
            is_own_reply(store, mailbox_name, mailbox_id, &p.mail).await
        };
        let outcome = match own {
            Ok(true) => {
                report.own_replies += 1;
                continue;
            }
            Ok(false) => store
                .insert_message(&p.new)
                .await
                .map_err(|source| ConnectError::Store {
                    mailbox: mailbox_name.to_string(),
                    source,
                }),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(o) => hand_over(std::iter::once((p, o)), hook, report).await,
            Err(error) => {
                return Err(BatchFailure {
                    at: i,
                    error,
                    rest: rest.map(|(_, p)| p).collect(),
                })
            }
        }
    }
    Ok(())
}

/// Count what was stored and hand the newly stored messages to the hook.
async fn hand_over(
    stored: impl Iterator<Item = (Prepared, InsertOutcome)>,
    hook: &dyn IngestHook,
    report: &mut SyncReport,
) {
    let mut fresh = Vec::new();
    for (p, outcome) in stored {
        match outcome {
            InsertOutcome::Inserted(id) => {
                report.stored += 1;
                if !p.mail.defects.is_empty() {
                    report.defects += 1;
                }
                fresh.push(StoredMessage {
                    id,
                    mailbox_id: p.new.mailbox_id,
                    uid: p.uid,
                    mail: p.mail,
                });
            }
            InsertOutcome::Duplicate(_) => report.duplicates_skipped += 1,
        }
    }
    if !fresh.is_empty() {
        hook.on_stored_batch(&fresh).await;
    }
}

/// Is this the copy of one of our own sent replies, delivered back to the service's
/// address by the relay? Then it is recorded as the reply's proof of delivery and
/// not stored: it must not reach the agents' queue as a citizen's message.
///
/// The Message-ID alone is not enough: a citizen's client may reuse the id of the
/// reply it answers, and that mail must never be dropped. The text must also be the
/// validated text, and the message must belong to this mailbox.
async fn is_own_reply(
    store: &Store,
    mailbox_name: &str,
    mailbox_id: i64,
    mail: &ParsedMail,
) -> ConnectResult<bool> {
    if mail.message_id.trim().is_empty() {
        return Ok(false);
    }
    let store_err = |source| ConnectError::Store {
        mailbox: mailbox_name.to_string(),
        source,
    };
    let Some(reply) = store
        .find_outbox_by_reply_id(&mail.message_id)
        .await
        .map_err(store_err)?
    else {
        return Ok(false);
    };
    if squash(&reply.body) != squash(&mail.body_text) {
        return Ok(false);
    }
    let parent = store
        .get_message(reply.message_id)
        .await
        .map_err(store_err)?;
    if parent.map(|m| m.mailbox_id) != Some(mailbox_id) {
        return Ok(false);
    }
    let first = store
        .confirm_outbox_delivery(reply.id, &format!("ingest:{mailbox_name}"), "mailbox")
        .await
        .map_err(store_err)?;
    tracing::info!(
        outbox = reply.id,
        first,
        "copy of a sent reply came back: delivery confirmed"
    );
    Ok(true)
}

/// Whitespace-insensitive form of a text: transfer encodings and line wrapping may
/// change line ends and trailing spaces, never the words.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Store messages read from files (`facteur import`): same idempotency and report
/// as IMAP. A store error on one message is reported and the import goes on with
/// the next (files stay where they are, so nothing is lost by continuing).
pub async fn import_raw(
    store: &Store,
    mailbox_id: i64,
    messages: impl IntoIterator<Item = RawMessage>,
    hook: &dyn IngestHook,
) -> SyncReport {
    let mut report = SyncReport::default();
    let name = format!("#{mailbox_id}");
    let mut batch: Vec<(String, Fetched)> = Vec::with_capacity(IMPORT_BATCH);
    for m in messages {
        // A file can hold a message of any size: keep a huge one as IMAP sync
        // does, its header stored with an `Oversized` defect (the file keeps the rest).
        let limit = facteur_mail::DEFAULT_MAX_MESSAGE_BYTES;
        let payload = if m.bytes.len() > limit {
            Payload::HeaderOnly {
                header: facteur_mail::header_block(&m.bytes).to_vec(),
                size: m.bytes.len() as u64,
                limit: limit as u64,
            }
        } else {
            Payload::Full(m.bytes)
        };
        batch.push((
            m.origin,
            Fetched {
                payload,
                arrived: None,
            },
        ));
        if batch.len() == IMPORT_BATCH {
            import_batch(
                store,
                &name,
                mailbox_id,
                std::mem::take(&mut batch),
                hook,
                &mut report,
            )
            .await;
        }
    }
    import_batch(store, &name, mailbox_id, batch, hook, &mut report).await;
    report
}

/// Messages stored per commit by `facteur import`, as IMAP stores a fetched batch.
const IMPORT_BATCH: usize = 100;

/// One batch of an import. A message the store refuses is reported and the
/// import goes on with the next (files stay where they are, so nothing is lost
/// by continuing).
async fn import_batch(
    store: &Store,
    name: &str,
    mailbox_id: i64,
    batch: Vec<(String, Fetched)>,
    hook: &dyn IngestHook,
    report: &mut SyncReport,
) {
    let (mut origins, items): (Vec<String>, Vec<_>) =
        batch.into_iter().map(|(o, f)| (o, (None, f))).unzip();
    let mut outcome = ingest_batch(store, name, mailbox_id, items, hook, report).await;
    while let Err(f) = outcome {
        report
            .errors
            .push(format!("{}: {}", origins[f.at], f.error));
        origins.drain(..=f.at);
        outcome = store_prepared(store, name, mailbox_id, f.rest, hook, report).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use facteur_store::NewMailbox;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn store() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("db.sqlite").display());
        let store = Store::open(&url).await.unwrap();
        let id = store
            .create_mailbox(
                &NewMailbox {
                    name: "sip".into(),
                    address: "sip@example.test".into(),
                    signature: String::new(),
                    settings: serde_json::json!({}),
                },
                None,
            )
            .await
            .unwrap();
        (dir, store, id)
    }

    fn raw(i: usize, origin: &str) -> RawMessage {
        RawMessage {
            origin: origin.into(),
            bytes: format!(
                "Message-ID: <m{i}@example.test>\r\nSubject: Demande {i}\r\nFrom: a@example.test\r\n\r\nBonjour {i}\r\n"
            )
            .into_bytes(),
        }
    }

    #[tokio::test]
    async fn import_is_idempotent_and_calls_the_hook_once_per_new_message() {
        let (_d, store, mb) = store().await;
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let hook = FnHook(move |_m: &StoredMessage| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        let r1 = import_raw(&store, mb, (0..5).map(|i| raw(i, "a.eml")), &hook).await;
        assert_eq!((r1.fetched, r1.stored, r1.duplicates_skipped), (5, 5, 0));
        assert!(r1.errors.is_empty());
        let r2 = import_raw(&store, mb, (3..8).map(|i| raw(i, "b.eml")), &hook).await;
        assert_eq!((r2.fetched, r2.stored, r2.duplicates_skipped), (5, 3, 2));
        assert_eq!(calls.load(Ordering::SeqCst), 8);
        assert_eq!(store.count_messages(Some(mb)).await.unwrap(), 8);
    }

    #[tokio::test]
    async fn an_oversized_file_message_is_stored_from_its_header_with_a_defect() {
        let (_d, store, mb) = store().await;
        let limit = facteur_mail::DEFAULT_MAX_MESSAGE_BYTES;
        let mut bytes = raw(1, "big.eml").bytes;
        bytes.extend(std::iter::repeat_n(b'A', limit));
        let r = import_raw(
            &store,
            mb,
            [RawMessage {
                origin: "big.eml".into(),
                bytes,
            }],
            &NoHook,
        )
        .await;
        assert_eq!((r.stored, r.defects), (1, 1), "{:?}", r.errors);
        // The only message of a fresh database.
        let m = store.get_message(1).await.unwrap().unwrap();
        assert_eq!(m.subject, "Demande 1");
        assert!(m.flags.iter().any(|f| f == "oversized"), "{:?}", m.flags);
        let defects = &m.parsed.defects;
        assert!(
            defects
                .iter()
                .any(|d| d.kind == facteur_core::DefectKind::Oversized),
            "{defects:?}"
        );
        assert!(m.parsed.truncated);
        let stored = store.get_raw(m.id).await.unwrap().unwrap();
        assert!(
            stored.len() < 200,
            "only the header is stored: {}",
            stored.len()
        );
    }

    /// Records the size of each batch it is handed.
    struct Batches(std::sync::Mutex<Vec<usize>>);

    impl IngestHook for Batches {
        fn on_stored<'a>(&'a self, _msg: &'a StoredMessage) -> BoxFuture<'a, ()> {
            Box::pin(async { panic!("a batch hook is handed batches") })
        }
        fn on_stored_batch<'a>(&'a self, msgs: &'a [StoredMessage]) -> BoxFuture<'a, ()> {
            self.0.lock().unwrap().push(msgs.len());
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn an_import_is_stored_and_handed_over_a_batch_at_a_time() {
        let (_d, store, mb) = store().await;
        let hook = Batches(Default::default());
        let r = import_raw(&store, mb, (0..250).map(|i| raw(i, "a.mbox")), &hook).await;
        assert_eq!((r.fetched, r.stored), (250, 250), "{:?}", r.errors);
        assert_eq!(*hook.0.lock().unwrap(), [100, 100, 50]);
    }

    /// A message the database refuses in the middle of a batch is reported
    /// with its origin; those before and after it are stored, and only they
    /// reach the hook.
    #[tokio::test]
    async fn a_refused_message_costs_its_batch_nothing_else() {
        let (d, store, mb) = store().await;
        let url = format!("sqlite:{}", d.path().join("db.sqlite").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse_two BEFORE INSERT ON messages WHEN NEW.subject = 'Demande 2' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        let hook = Batches(Default::default());
        let msgs = (1..=4).map(|i| raw(i, &format!("{i}.eml")));
        let r = import_raw(&store, mb, msgs, &hook).await;
        assert_eq!((r.fetched, r.stored), (4, 3));
        assert_eq!(r.errors.len(), 1);
        assert!(r.errors[0].starts_with("2.eml: "), "{:?}", r.errors);
        assert_eq!(hook.0.lock().unwrap().iter().sum::<usize>(), 3);
        let subjects: Vec<String> =
            futures::future::join_all((1..=3).map(|id| store.get_message(id)))
                .await
                .into_iter()
                .map(|m| m.unwrap().unwrap().subject)
                .collect();
        assert_eq!(subjects, ["Demande 1", "Demande 3", "Demande 4"]);
    }

    #[tokio::test]
    async fn import_reports_store_errors_with_the_origin() {
        let (_d, store, _mb) = store().await;
        // Mailbox 999 does not exist: the foreign key refuses the row.
        let r = import_raw(&store, 999, [raw(1, "x/y.eml")], &NoHook).await;
        assert_eq!(r.stored, 0);
        assert_eq!(r.errors.len(), 1);
        assert!(r.errors[0].starts_with("x/y.eml: "), "{:?}", r.errors);
    }
}

#[cfg(test)]
mod received_tests {
    use super::received_at;

    const NOW: i64 = 1_760_000_000_000;
    const DAY: i64 = 24 * 3600 * 1000;

    #[test]
    fn the_servers_arrival_wins_then_a_recent_date_header_then_now() {
        assert_eq!(
            received_at(NOW, Some(NOW - 5 * DAY), Some(NOW - DAY)),
            NOW - 5 * DAY + 999
        );
        assert_eq!(received_at(NOW, None, Some(NOW - 3 * DAY)), NOW - 3 * DAY);
        assert_eq!(received_at(NOW, None, None), NOW);
    }

    #[test]
    fn a_server_arrival_in_whole_seconds_sorts_after_what_was_timed_earlier_in_that_second() {
        // A file imported at t+700 ms, then a mail the server stamped t (whole
        // seconds) fetched at t+1300 ms: the mail comes last, and not after now.
        let t = NOW - 5_000;
        let imported = received_at(t + 700, None, None);
        let fetched = received_at(t + 1_300, Some(t), None);
        assert!(fetched > imported, "{fetched} <= {imported}");
        assert_eq!(received_at(t + 300, Some(t), None), t + 300);
    }

    #[test]
    fn a_forged_date_header_cannot_jump_the_queue_or_come_from_the_future() {
        assert_eq!(received_at(NOW, None, Some(0)), NOW);
        assert_eq!(received_at(NOW, None, Some(NOW - 400 * DAY)), NOW);
        assert_eq!(received_at(NOW, None, Some(NOW + DAY)), NOW);
        assert_eq!(received_at(NOW, Some(NOW + DAY), None), NOW);
    }
}
