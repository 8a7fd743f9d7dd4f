//! IMAP ingest: incremental by UID, stored before flagged, resilient to reconnects.
//!
//! The invariant that matters: a message is flagged, moved or counted as read on
//! the server only after `insert_message` returned, i.e. after it is durable in
//! the store. The sync position (UIDVALIDITY, last UID), kept in the store so
//! every process sees the same one, is advanced only after that, too. A crash anywhere therefore leaves at worst messages that are stored
//! but not yet flagged, and the next run fetches them again: the idempotent insert
//! turns that re-fetch into `duplicates_skipped`, never into a second copy.
//!
//! When UIDVALIDITY changes (folder recreated, server migrated), UIDs mean nothing
//! any more, so the folder is read again from UID 1; duplicates are skipped for
//! the same reason.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::Fetch;
use facteur_store::{Millis, Store};
use futures::TryStreamExt;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::config::{AfterStore, ImapConfig, TlsMode};
use crate::error::{scrub, ConnectError, ConnectResult};
use crate::ingest::{ingest_batch, Fetched, NoHook, Payload, SharedHook, SyncReport};
use crate::tls;

/// Any byte stream an IMAP session can run over (plain TCP or TLS).
pub trait IoStream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> IoStream for T {}

type Session = async_imap::Session<Box<dyn IoStream>>;

/// What the admin page shows for one mailbox.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MailboxStatus {
    pub mailbox: String,
    pub folder: String,
    pub connected: bool,
    /// Server announced IDLE: changes arrive in seconds rather than per poll.
    pub idle_supported: bool,
    pub last_attempt_at: Option<Millis>,
    pub last_success_at: Option<Millis>,
    /// The last failure, already free of secrets; `None` after a successful sync.
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub last_report: Option<SyncReport>,
    /// Totals since the process started.
    pub total_stored: u64,
}

/// A cheap, clonable read handle on a mailbox's status.
#[derive(Debug, Clone, Default)]
pub struct StatusHandle(Arc<RwLock<MailboxStatus>>);

impl StatusHandle {
    pub fn get(&self) -> MailboxStatus {
        self.0.read().map(|s| s.clone()).unwrap_or_default()
    }
    fn update(&self, f: impl FnOnce(&mut MailboxStatus)) {
        if let Ok(mut s) = self.0.write() {
            f(&mut s);
        }
    }
}

/// One IMAP folder feeding one Facteur mailbox.
pub struct ImapIngest {
    store: Store,
    mailbox_id: i64,
    cfg: ImapConfig,
    /// `(worker, lease)`: `run` syncs only while holding the mailbox's lease.
    sync_lease: Option<(String, Duration)>,
    hook: SharedHook,
    session: Option<Session>,
    idle_supported: bool,
    status: StatusHandle,
}

impl ImapIngest {
    pub fn new(store: Store, mailbox_id: i64, cfg: ImapConfig) -> Self {
        let status = StatusHandle::default();
        status.update(|s| {
            s.mailbox = cfg.mailbox.clone();
            s.folder = cfg.folder.clone();
        });
        ImapIngest {
            store,
            mailbox_id,
            cfg,
            sync_lease: None,
            hook: Arc::new(NoHook),
            session: None,
            idle_supported: false,
            status,
        }
    }

    /// Run `hook` after each newly stored message (e.g. triage).
    pub fn with_hook(mut self, hook: SharedHook) -> Self {
        self.hook = hook;
        self
    }

    /// Several processes (hosts) may run an ingest for the same mailbox: with a
    /// lease, `run` syncs only while `worker` holds the mailbox's sync lease in
    /// the store, the others stand by and take over when it lapses (a crashed
    /// holder) or is released (a clean shutdown). `worker` must be unique per
    /// process; `lease` must exceed a sync pass (the wait for changes is capped
    /// at half of it so the lease is renewed in time).
    pub fn with_sync_lease(mut self, worker: impl Into<String>, lease: Duration) -> Self {
        self.sync_lease = Some((worker.into(), lease));
        self
    }

    pub fn status(&self) -> StatusHandle {
        self.status.clone()
    }

    pub fn config(&self) -> &ImapConfig {
        &self.cfg
    }

    /// Fetch and store everything new once. Never fails as a call: problems are
    /// in `errors` (each naming the mailbox) and in the status. On error the
    /// connection is dropped, so the next call starts from a clean one.
    pub async fn sync_once(&mut self) -> SyncReport {
        let now = self.store.now_ms();
        let mut report = SyncReport::default();
        let result = self.sync_inner(&mut report).await;
        if let Err(e) = result {
            let text = scrub(&e.to_string(), &self.cfg.password);
            tracing::warn!(mailbox = %self.cfg.mailbox, error = %text, "IMAP sync failed");
            report.errors.push(text);
            self.session = None;
        }
        let ok = report.errors.is_empty();
        let connected = self.session.is_some();
        let idle = self.idle_supported;
        self.status.update(|s| {
            s.connected = connected;
            s.idle_supported = idle;
            s.last_attempt_at = Some(now);
            s.total_stored += report.stored;
            if ok {
                s.last_success_at = Some(now);
                s.last_error = None;
                s.consecutive_failures = 0;
            } else {
                s.last_error = report.errors.last().cloned();
                s.consecutive_failures = s.consecutive_failures.saturating_add(1);
            }
            s.last_report = Some(report.clone());
        });
        if ok {
            tracing::info!(mailbox = %self.cfg.mailbox, fetched = report.fetched,
                stored = report.stored, duplicates = report.duplicates_skipped, "IMAP sync done");
        }
        report
    }

    /// Sync, then wait for changes (IDLE when the server has it, polling
    /// otherwise), until `shutdown` turns true. Failures back off exponentially
    /// from `backoff_min` to `backoff_max`; the loop itself never ends on error.
    pub async fn run(&mut self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = self.cfg.backoff_min;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if let Some((worker, lease)) = self.sync_lease.clone() {
                match self
                    .store
                    .try_lease_mailbox_sync(self.mailbox_id, &worker, lease)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        // Another process syncs this mailbox: stand by, connection closed.
                        if let Some(mut s) = self.session.take() {
                            let _ = tokio::time::timeout(Duration::from_secs(5), s.logout()).await;
                        }
                        self.status.update(|s| s.connected = false);
                        if sleep_or_shutdown(lease / 3, &mut shutdown).await {
                            break;
                        }
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(mailbox = %self.cfg.mailbox, error = %e, "cannot take the sync lease");
                        if sleep_or_shutdown(backoff, &mut shutdown).await {
                            break;
                        }
                        backoff = (backoff * 2).min(self.cfg.backoff_max);
                        continue;
                    }
                }
            }
            let report = self.sync_once().await;
            if *shutdown.borrow() {
                break;
            }
            if report.errors.is_empty() {
                backoff = self.cfg.backoff_min;
                self.wait_for_changes(&mut shutdown).await;
            } else {
                tracing::info!(mailbox = %self.cfg.mailbox, retry_in_ms = backoff.as_millis() as u64, "IMAP retry scheduled");
                if sleep_or_shutdown(backoff, &mut shutdown).await {
                    break;
                }
                backoff = (backoff * 2).min(self.cfg.backoff_max);
            }
        }
        if let Some(mut s) = self.session.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.logout()).await;
        }
        self.status.update(|s| s.connected = false);
        if let Some((worker, _)) = &self.sync_lease {
            // A standby takes over at once instead of waiting for expiry.
            let _ = self
                .store
                .release_mailbox_sync(self.mailbox_id, worker)
                .await;
        }
    }

    /// Block until the server reports a change, the poll interval passes, or
    /// shutdown. Any IDLE failure just drops the session: the next sync reconnects.
    async fn wait_for_changes(&mut self, shutdown: &mut watch::Receiver<bool>) {
        let wait = match &self.sync_lease {
            Some((_, lease)) => self.cfg.poll_interval.min(*lease / 2),
            None => self.cfg.poll_interval,
        };
        if !self.idle_supported || self.session.is_none() {
            sleep_or_shutdown(wait, shutdown).await;
            return;
        }
        let Some(session) = self.session.take() else {
            return;
        };
        let mut handle = session.idle();
        // Bounded like every other step: a server that goes silent as IDLE starts
        // would otherwise hold the loop here for ever (no sync, no shutdown).
        // Either failure drops the session; the next sync reconnects.
        match tokio::time::timeout(self.cfg.io_timeout, handle.init()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(mailbox = %self.cfg.mailbox, error = %e, "IDLE could not start");
                return;
            }
            Err(_) => {
                let e = timeout_err(&self.cfg, "IDLE");
                tracing::warn!(mailbox = %self.cfg.mailbox, error = %e, "IDLE start timed out");
                return;
            }
        }
        let outcome = {
            let (fut, stop) = handle.wait_with_timeout(wait);
            tokio::select! {
                r = fut => Some(r),
                _ = shutdown.changed() => { drop(stop); None }
            }
        };
        if let Some(Err(e)) = &outcome {
            tracing::debug!(mailbox = %self.cfg.mailbox, error = %e, "IDLE ended with an error");
            return;
        }
        if let Some(Ok(IdleResponse::NewData(_))) = &outcome {
            tracing::debug!(mailbox = %self.cfg.mailbox, "IDLE: server reported a change");
        }
        if let Ok(Ok(session)) = tokio::time::timeout(self.cfg.io_timeout, handle.done()).await {
            self.session = Some(session);
        }
    }

    async fn sync_inner(&mut self, report: &mut SyncReport) -> ConnectResult<()> {
        if self.session.is_none() {
            let (session, idle) = connect(&self.cfg).await?;
            self.session = Some(session);
            self.idle_supported = idle;
        }
        let cfg = self.cfg.clone();
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        let mailbox = timed(&cfg, "SELECT", session.select(wire_name(&cfg.folder))).await?;
        let uidvalidity = mailbox.uid_validity.unwrap_or(0);
        let store_err = |source| ConnectError::Store {
            mailbox: cfg.mailbox.clone(),
            source,
        };
        let pos = self
            .store
            .get_sync_position(self.mailbox_id, &cfg.folder)
            .await
            .map_err(store_err)?;
        let start = match pos {
            Some((v, last)) if v == uidvalidity => last.saturating_add(1),
            Some((old, _)) => {
                tracing::warn!(mailbox = %cfg.mailbox, old, new = uidvalidity,
                    "UIDVALIDITY changed: reading the folder again from the start");
                report.full_resync = true;
                1
            }
            None => 1,
        };
        // `N:*` always returns at least the last message, even below N: filter.
        let metas: Vec<Fetch> = timed(&cfg, "FETCH sizes", async {
            session
                .uid_fetch(format!("{start}:*"), "(UID RFC822.SIZE)")
                .await?
                .try_collect()
                .await
        })
        .await?;
        let mut todo: Vec<(u32, u32)> = metas
            .iter()
            .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0))))
            .filter(|(uid, _)| *uid >= start)
            .collect();
        todo.sort_unstable();
        todo.dedup_by_key(|(u, _)| *u);

        let mut last_done = start.saturating_sub(1);
        // The lowest UID the server listed, still has, and did not send.
        let mut hole: Option<u32> = None;
        let mut hole_err: Option<ConnectError> = None;
        let batch = cfg.batch_size.max(1) as usize;
        for chunk in todo.chunks(batch) {
            let (small, big): (Vec<_>, Vec<_>) = chunk
                .iter()
                .partition(|(_, size)| *size <= cfg.max_message_bytes);
            // Each message with the server's arrival time (INTERNALDATE).
            let mut payloads: BTreeMap<u32, (Payload, Option<i64>)> = BTreeMap::new();
            if !small.is_empty() {
                let set = uid_set(small.iter().map(|(u, _)| *u));
                let fetched: Vec<Fetch> = timed(&cfg, "FETCH messages", async {
                    session
                        .uid_fetch(&set, "(UID RFC822.SIZE INTERNALDATE BODY.PEEK[])")
                        .await?
                        .try_collect()
                        .await
                })
                .await?;
                for f in &fetched {
                    if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                        let arrived = f.internal_date().map(|d| d.timestamp_millis());
                        payloads.insert(uid, (Payload::Full(body.to_vec()), arrived));
                    }
                }
            }
            if !big.is_empty() {
                let set = uid_set(big.iter().map(|(u, _)| *u));
                let fetched: Vec<Fetch> = timed(&cfg, "FETCH headers", async {
                    session
                        .uid_fetch(&set, "(UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER])")
                        .await?
                        .try_collect()
                        .await
                })
                .await?;
                for f in &fetched {
                    if let (Some(uid), Some(header)) = (f.uid, f.header()) {
                        let arrived = f.internal_date().map(|d| d.timestamp_millis());
                        payloads.insert(
                            uid,
                            (
                                Payload::HeaderOnly {
                                    header: header.to_vec(),
                                    size: u64::from(f.size.unwrap_or(0)),
                                    limit: u64::from(cfg.max_message_bytes),
                                },
                                arrived,
                            ),
                        );
                    }
                }
            }
            // UIDs listed but not returned were expunged in between — or the
            // connection ended early, or the server answered NO: async-imap ends a
            // FETCH stream quietly on either. Only the server, asked again on a
            // live connection, can tell; a UID it still has is a hole the sync
            // position must not pass, or that message would never be fetched.
            let missing: Vec<u32> = chunk
                .iter()
                .map(|(u, _)| *u)
                .filter(|u| !payloads.contains_key(u))
                .collect();
            if !missing.is_empty() {
                let kept = still_present(session, &cfg, &missing).await?;
                if let Some(first) = kept.first() {
                    tracing::warn!(mailbox = %cfg.mailbox, uids = %uid_set(kept.iter().copied()),
                        "server did not send messages it still has: fetched again next pass");
                    hole = hole.or(Some(*first));
                    hole_err.get_or_insert(ConnectError::Imap {
                        mailbox: cfg.mailbox.clone(),
                        step: "FETCH messages".into(),
                        detail: format!(
                            "the server did not send UID(s) {} although it still has them: they will be fetched again on the next pass",
                            uid_set(kept.iter().copied())
                        ),
                    });
                }
            }
            let uids: Vec<u32> = payloads.keys().copied().collect();
            let items = payloads
                .into_iter()
                .map(|(uid, (payload, arrived))| (Some(uid), Fetched { payload, arrived }))
                .collect();
            let (done, failure) = match ingest_batch(
                &self.store,
                &cfg.mailbox,
                self.mailbox_id,
                items,
                self.hook.as_ref(),
                report,
            )
            .await
            {
                Ok(()) => (uids, None),
                Err(f) => (uids[..f.at].to_vec(), Some(f.error)),
            };
            // Only now, with every message in `done` durable, touch the server.
            if !done.is_empty() {
                apply_after_store(session, &cfg, &done).await?;
            }
            let chunk_max = chunk.last().map(|(u, _)| *u).unwrap_or(last_done);
            last_done = match (&failure, done.last()) {
                (None, _) => chunk_max,
                (Some(_), Some(d)) => *d,
                (Some(_), None) => last_done,
            };
            if let Some(h) = hole {
                // Never past a message the server still owes us.
                last_done = last_done.min(h.saturating_sub(1));
            }
            self.store
                .set_sync_position(self.mailbox_id, &cfg.folder, uidvalidity, last_done)
                .await
                .map_err(store_err)?;
            if let Some(e) = failure {
                return Err(e);
            }
        }
        if todo.is_empty() && pos.map(|p| p.0) != Some(uidvalidity) {
            self.store
                .set_sync_position(self.mailbox_id, &cfg.folder, uidvalidity, last_done)
                .await
                .map_err(store_err)?;
        }
        match hole_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Which of `uids` (sorted) the selected folder still holds. Each step is checked
/// against its tagged OK (`NOOP` before, to receive pending expunges, and after, to
/// prove the answer in between was complete): a connection that ended is an
/// error here, never an empty answer.
async fn still_present(
    session: &mut Session,
    cfg: &ImapConfig,
    uids: &[u32],
) -> ConnectResult<Vec<u32>> {
    timed(cfg, "NOOP", session.run_command_and_check_ok("NOOP")).await?;
    let set = uid_set(uids.iter().copied());
    let back: Vec<Fetch> = timed(cfg, "FETCH check", async {
        session.uid_fetch(&set, "(UID)").await?.try_collect().await
    })
    .await?;
    timed(cfg, "NOOP", session.run_command_and_check_ok("NOOP")).await?;
    let back: std::collections::HashSet<u32> = back.iter().filter_map(|f| f.uid).collect();
    Ok(uids.iter().copied().filter(|u| back.contains(u)).collect())
}

/// A folder name as it goes on the wire: IMAP names are modified UTF-7 (RFC 3501
/// §5.1.3), and servers refuse raw UTF-8 ("Mailbox name is not valid mUTF-7"),
/// while administrators write the name their mail client shows ("Réclamations",
/// "Envoyés"). A name that is already valid modified UTF-7 is kept as written, so
/// configurations holding the encoded form keep working.
pub(crate) fn wire_name(name: &str) -> String {
    if is_modified_utf7(name) {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 8);
    let mut run: Vec<u16> = Vec::new();
    let flush = |out: &mut String, run: &mut Vec<u16>| {
        if run.is_empty() {
            return;
        }
        let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&modified_base64(&bytes));
        out.push('-');
        run.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut run);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut run);
    out
}

const MUTF7_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Printable ASCII where every `&` opens a shift (`&-`, or base64 then `-`).
fn is_modified_utf7(name: &str) -> bool {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(0x20..=0x7e).contains(&c) {
            return false;
        }
        if c == b'&' {
            let Some(end) = b[i + 1..].iter().position(|&x| x == b'-') else {
                return false;
            };
            if !b[i + 1..i + 1 + end]
                .iter()
                .all(|x| MUTF7_ALPHABET.contains(x))
            {
                return false;
            }
            i += end + 2;
        } else {
            i += 1;
        }
    }
    true
}

/// Base64 with the IMAP alphabet (`,` for `/`) and no padding (RFC 3501 §5.1.3).
fn modified_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    const MUTF7: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::IMAP_MUTF7,
        base64::engine::general_purpose::NO_PAD,
    );
    MUTF7.encode(bytes)
}

async fn apply_after_store(
    session: &mut Session,
    cfg: &ImapConfig,
    uids: &[u32],
) -> ConnectResult<()> {
    let set = uid_set(uids.iter().copied());
    match &cfg.after_store {
        AfterStore::Leave => Ok(()),
        AfterStore::FlagSeen => {
            timed(cfg, "STORE \\Seen", async {
                let _: Vec<Fetch> = session
                    .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                    .await?
                    .try_collect()
                    .await?;
                Ok(())
            })
            .await
        }
        AfterStore::Move(folder) => {
            let moved = timed(cfg, "MOVE", session.uid_mv(&set, wire_name(folder))).await;
            if moved.is_ok() {
                return Ok(());
            }
            // No MOVE extension: the RFC 3501 way. COPY first, so a crash leaves
            // a copy in both folders rather than in none.
            timed(cfg, "COPY", session.uid_copy(&set, wire_name(folder))).await?;
            timed(cfg, "STORE \\Deleted", async {
                let _: Vec<Fetch> = session
                    .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                    .await?
                    .try_collect()
                    .await?;
                Ok(())
            })
            .await?;
            timed(cfg, "UID EXPUNGE", async {
                let _: Vec<u32> = session.uid_expunge(&set).await?.try_collect().await?;
                Ok(())
            })
            .await
        }
    }
}

/// Is a message with this Message-ID in the mailbox's folder (or in the folder
/// ingest moves messages to)? This is how a sender that crashed after handing a
/// reply to the relay learns whether the relay took it: the relay delivers the
/// reply's copy to the service's own address (see the smtp module). Read-only:
/// `EXAMINE`, never `SELECT`, so nothing is flagged.
pub async fn message_id_present(cfg: &ImapConfig, message_id: &str) -> ConnectResult<bool> {
    let bare = search_safe_id(cfg, message_id)?;
    let (mut session, _) = connect(cfg).await?;
    let mut folders = vec![cfg.folder.clone()];
    if let AfterStore::Move(f) = &cfg.after_store {
        folders.push(f.clone());
    }
    let mut found = false;
    for folder in &folders {
        match timed(cfg, "EXAMINE", session.examine(wire_name(folder))).await {
            Ok(_) => {}
            // The move folder may not exist yet: nothing was moved there.
            Err(_) if folder != &cfg.folder => continue,
            Err(e) => return Err(e),
        }
        let query = format!("HEADER Message-ID \"<{bare}>\"");
        let uids = timed(cfg, "SEARCH Message-ID", session.uid_search(&query)).await?;
        if !uids.is_empty() {
            found = true;
            break;
        }
    }
    let _ = tokio::time::timeout(cfg.io_timeout, session.logout()).await;
    Ok(found)
}

/// Mirror a sent reply into `folder` (created when missing), once: a reply
/// already there under its Message-ID is not appended again, so a retried mirror
/// after a crash leaves one copy. `Ok(false)` = it was already there.
pub async fn append_once(
    cfg: &ImapConfig,
    folder: &str,
    message_id: &str,
    bytes: &[u8],
) -> ConnectResult<bool> {
    let bare = search_safe_id(cfg, message_id)?;
    let (mut session, _) = connect(cfg).await?;
    let wire = wire_name(folder);
    if timed(cfg, "EXAMINE sent folder", session.examine(&wire))
        .await
        .is_err()
    {
        timed(cfg, "CREATE sent folder", session.create(&wire)).await?;
        timed(cfg, "EXAMINE sent folder", session.examine(&wire)).await?;
    }
    let query = format!("HEADER Message-ID \"<{bare}>\"");
    let uids = timed(cfg, "SEARCH Message-ID", session.uid_search(&query)).await?;
    let appended = if uids.is_empty() {
        timed(
            cfg,
            "APPEND sent reply",
            session.append(&wire, Some("(\\Seen)"), None, bytes),
        )
        .await?;
        true
    } else {
        false
    };
    let _ = tokio::time::timeout(cfg.io_timeout, session.logout()).await;
    Ok(appended)
}

/// The bare Message-ID, refused when it could break out of a quoted IMAP string
/// (our own reply ids are `local@domain` tokens).
fn search_safe_id<'a>(cfg: &ImapConfig, message_id: &'a str) -> ConnectResult<&'a str> {
    let bare = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    if bare.is_empty()
        || bare
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        return Err(ConnectError::Config {
            mailbox: cfg.mailbox.clone(),
            detail: format!("cannot search for the Message-ID {bare:?}"),
        });
    }
    Ok(bare)
}

/// Open, protect and log in. Returns the session and whether IDLE is offered.
pub(crate) async fn connect(cfg: &ImapConfig) -> ConnectResult<(Session, bool)> {
    let server = cfg.server();
    let tcp = match tokio::time::timeout(
        cfg.io_timeout,
        TcpStream::connect((cfg.host.as_str(), cfg.port)),
    )
    .await
    {
        Err(_) => return Err(timeout_err(cfg, "connect")),
        Ok(Err(e)) => {
            return Err(ConnectError::Connect {
                mailbox: cfg.mailbox.clone(),
                server,
                detail: e.to_string(),
            })
        }
        Ok(Ok(t)) => t,
    };
    let tls_err = |detail: String| ConnectError::Tls {
        mailbox: cfg.mailbox.clone(),
        server: cfg.server(),
        detail,
    };
    let ca = cfg.ca_file.as_deref();
    let (stream, greeted): (Box<dyn IoStream>, bool) = match cfg.tls {
        TlsMode::None => (Box::new(tcp), false),
        TlsMode::Tls => {
            let s = tokio::time::timeout(cfg.io_timeout, tls::handshake(tcp, &cfg.host, ca))
                .await
                .map_err(|_| timeout_err(cfg, "TLS handshake"))?
                .map_err(tls_err)?;
            (Box::new(s), false)
        }
        TlsMode::Starttls => {
            let mut client = async_imap::Client::new(tcp);
            timed(cfg, "greeting", async {
                client.read_response().await?;
                Ok(())
            })
            .await?;
            timed(
                cfg,
                "STARTTLS",
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            let tcp = client.into_inner();
            let s = tokio::time::timeout(cfg.io_timeout, tls::handshake(tcp, &cfg.host, ca))
                .await
                .map_err(|_| timeout_err(cfg, "TLS handshake"))?
                .map_err(tls_err)?;
            (Box::new(s), true)
        }
    };
    let mut client = async_imap::Client::new(stream);
    if !greeted {
        timed(cfg, "greeting", async {
            match client.read_response().await? {
                Some(_) => Ok(()),
                None => Err(async_imap::error::Error::ConnectionLost),
            }
        })
        .await?;
    }
    let login = tokio::time::timeout(cfg.io_timeout, client.login(&cfg.user, &cfg.password))
        .await
        .map_err(|_| timeout_err(cfg, "LOGIN"))?;
    let mut session = login.map_err(|(e, _)| ConnectError::Auth {
        mailbox: cfg.mailbox.clone(),
        user: cfg.user.clone(),
        detail: scrub(&e.to_string(), &cfg.password),
    })?;
    let caps = timed(cfg, "CAPABILITY", session.capabilities()).await?;
    Ok((session, caps.has_str("IDLE")))
}

/// Run one IMAP step under the I/O timeout, naming the step in any error.
async fn timed<T>(
    cfg: &ImapConfig,
    step: &str,
    fut: impl Future<Output = async_imap::error::Result<T>>,
) -> ConnectResult<T> {
    match tokio::time::timeout(cfg.io_timeout, fut).await {
        Err(_) => Err(timeout_err(cfg, step)),
        Ok(Err(e)) => Err(ConnectError::Imap {
            mailbox: cfg.mailbox.clone(),
            step: step.to_string(),
            detail: scrub(&e.to_string(), &cfg.password),
        }),
        Ok(Ok(v)) => Ok(v),
    }
}

fn timeout_err(cfg: &ImapConfig, step: &str) -> ConnectError {
    ConnectError::Timeout {
        mailbox: cfg.mailbox.clone(),
        step: step.to_string(),
        secs: cfg.io_timeout.as_secs(),
    }
}

/// `true` when shutdown was requested.
async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        r = shutdown.changed() => r.is_err() || *shutdown.borrow(),
    }
}

/// Compact IMAP sequence set from sorted UIDs: `1:3,7,9:10`.
pub(crate) fn uid_set(uids: impl IntoIterator<Item = u32>) -> String {
    let mut out = String::new();
    let mut run: Option<(u32, u32)> = None;
    let flush = |out: &mut String, (a, b): (u32, u32)| {
        if !out.is_empty() {
            out.push(',');
        }
        if a == b {
            out.push_str(&a.to_string());
        } else {
            out.push_str(&format!("{a}:{b}"));
        }
    };
    for u in uids {
        run = match run {
            Some((a, b)) if u == b.saturating_add(1) => Some((a, u)),
            Some(r) => {
                flush(&mut out, r);
                Some((u, u))
            }
            None => Some((u, u)),
        };
    }
    if let Some(r) = run {
        flush(&mut out, r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_go_out_in_modified_utf7() {
        assert_eq!(wire_name("INBOX"), "INBOX");
        assert_eq!(wire_name("Réclamations"), "R&AOk-clamations");
        assert_eq!(wire_name("Traités"), "Trait&AOk-s");
        assert_eq!(wire_name("Impôts & taxes"), "Imp&APQ-ts &- taxes");
        // RFC 3501 §5.1.3's own example.
        assert_eq!(
            wire_name("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        // Outside the BMP: a surrogate pair in one shift.
        assert_eq!(wire_name("a😀"), "a&2D3eAA-");
        // Already encoded, or plain ASCII with a valid shift: unchanged.
        assert_eq!(wire_name("R&AOk-clamations"), "R&AOk-clamations");
        assert_eq!(wire_name("A &- B"), "A &- B");
        // A bare `&` is not valid modified UTF-7: encoded.
        assert_eq!(wire_name("A & B"), "A &- B");
        assert_eq!(wire_name("a&b"), "a&-b");
    }

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set([1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set([5]), "5");
        assert_eq!(uid_set([]), "");
        assert_eq!(
            uid_set([u32::MAX - 1, u32::MAX]),
            format!("{}:{}", u32::MAX - 1, u32::MAX)
        );
    }
}
