//! The SMTP outbox: validated replies leave exactly once.
//!
//! # Exactly-once protocol
//! SMTP offers no idempotency key, so "exactly once" rests on knowing, after a
//! crash, whether the previous attempt got the message to the server. The sender
//! keeps a durable **hand-off marker** on the outbox row itself
//! (`outbox.handed_off_at`, set by `Store::mark_outbox_handed_off`), so every
//! sender process on every host sharing the database sees it:
//!
//! 1. `claim_outbox` leases a row (`sending`, lease owner, lease expiry) and
//!    returns it with its marker.
//! 2. If the marker is set, a previous attempt handed the message to the server
//!    and then died (or lost its lease) before `mark_sent`. Whether the server got
//!    the end-of-data dot is unknown, so the sender **checks before retrying**
//!    ([`DeliveryCheck`]): every reply is also sent, as an envelope recipient
//!    only, to the service's own address, and the relay delivers that copy into the
//!    service's IMAP mailbox. An SMTP transaction is accepted for all recipients or
//!    none, so finding the copy (IMAP `SEARCH HEADER Message-ID`, by the reply's
//!    stable Message-ID; or already seen by ingest, which records it as
//!    `delivery_confirmed_at` and never queues it as mail) proves the citizen's
//!    copy was accepted: the row is marked sent without sending again
//!    (`outbox.reconciled`, `verified: true`). No copy yet: retried later. No copy
//!    after the grace period (longer than the relay's local delivery delay): the
//!    dot never arrived, the marker is cleared (`outbox.not_delivered`) and the
//!    reply is sent again, under the same Message-ID. A mailbox without a check
//!    (no IMAP) keeps the older rule: recorded as sent, `verified: false`.
//! 3. Otherwise: connect, `MAIL FROM`, `RCPT TO` (the citizen, then the copy),
//!    `DATA`, stream the whole message. Only when every byte of it is flushed to
//!    the socket is the marker written (one committed database write, durable on
//!    return, and refused unless this sender still holds the lease), and only then
//!    is the terminating `.` sent: before the dot, an SMTP server must discard the
//!    transaction if the client vanishes. If the marker cannot be written (lease
//!    lost, database down) the dot is never sent: the attempt fails before the
//!    hand-off and is safely retried.
//! 4. `250` → `mark_sent` (the marker stays on the row as history). A reply code
//!    after the dot (4xx/5xx) is a known outcome: `mark_failed` clears the marker
//!    (5xx permanent, for an agent to see; 4xx retried with backoff). A network
//!    error after the marker is an unknown outcome: `mark_send_uncertain` keeps
//!    the marker, so the retry goes through the check of step 2.
//!
//! The dot waits for the marker inside the connection's byte stream
//! ([`GatedStream`]): lettre's data hook is a synchronous iterator, which cannot
//! await a database write, so the iterator only *arms* the gate and the next
//! write on the socket — the dot — is held until the marker is committed.
//!
//! What remains, honestly: with a check, a reply is sent twice only if its copy
//! takes longer than the grace period to reach the mailbox (a relay queue stalled
//! for longer than `delivery_check_grace_secs`); the second copy carries the same
//! Message-ID, which mail clients collapse. Without a check, the few milliseconds
//! between the marker's commit and the dot can lose a reply (at most once, never
//! twice). A crash after the server's `5xx` but before `mark_failed` is settled by
//! the check as "not delivered" and retried, which the server refuses again.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use facteur_store::{OutboxItem, Store, StoreResult};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox as Address, Message, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

use crate::config::{ImapConfig, SmtpConfig, TlsMode};
use crate::error::{scrub, ConnectError, ConnectResult};

/// The header naming the agent who validated the text.
pub const VALIDATED_BY_HEADER: &str = "X-Facteur-Validated-By";

/// What a sender can stop at, to prove recovery in tests. Not for production.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After RCPT, before DATA: nothing reached the server.
    BeforeData,
    /// After the server's 250, before `mark_sent`.
    AfterAccept,
    /// After the hand-off marker is durable, before the dot leaves: the one
    /// window only a delivery check can resolve.
    AfterMarker,
}

/// One sending pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SendReport {
    pub sent: u64,
    /// Recognised as already sent by an earlier attempt (hand-off marker).
    pub reconciled: u64,
    /// Handed off by an earlier attempt, but the delivery check found no copy
    /// after the grace period: sent again (counted in `sent` too).
    pub resent_after_check: u64,
    pub retry_later: u64,
    pub failed_permanently: u64,
    pub errors: Vec<String>,
}

/// The outcome of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Sent,
    /// Sent again after a delivery check found the earlier hand-off never
    /// reached the relay.
    Resent,
    Reconciled,
    RetryLater,
    FailedPermanently,
    /// The simulated crash happened (tests only): the row is left leased.
    Crashed,
}

/// A failure as the outbox row keeps it. Relays quote the recipient
/// ("550 5.1.1 <jeanne.martin@example.org>: user unknown"), and the row is
/// shown to every agent of the mailbox and returned by the API: addresses and
/// other personal data are masked before the error is stored, not only when
/// shown (the web masks at display too, for rows stored before this).
fn stored_error(detail: &str) -> String {
    facteur_privacy::Detector::new().pseudonymise(detail).text
}

/// Build the reply exactly as it will leave. Pure, so the format is testable
/// without a server.
///
/// `from` is the mailbox's address (with its display name).
pub fn build_reply(item: &OutboxItem, from: &str) -> Result<Message, String> {
    let from: Address = from
        .parse()
        .map_err(|e| format!("mailbox address is not valid: {e}"))?;
    let to: Address = item
        .to_address
        .parse()
        .map_err(|e| format!("recipient address is not valid: {e}"))?;
    let parent = item
        .in_reply_to
        .as_deref()
        .map(bare_id)
        .filter(|s| !s.is_empty());
    let mut refs: Vec<String> = Vec::new();
    for r in item.references.iter().map(|r| bare_id(r)) {
        if !r.is_empty() && !refs.iter().any(|x| x == r) {
            refs.push(r.to_string());
        }
    }
    if let Some(p) = parent {
        if refs.last().map(String::as_str) != Some(p) {
            refs.retain(|x| x != p);
            refs.push(p.to_string());
        }
    }
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(reply_subject(&item.subject))
        .message_id(Some(format!("<{}>", bare_id(&item.reply_message_id))))
        .date_now();
    if let Some(p) = parent {
        b = b.in_reply_to(format!("<{p}>"));
    }
    if !refs.is_empty() {
        let joined = refs
            .iter()
            .map(|r| format!("<{r}>"))
            .collect::<Vec<_>>()
            .join(" ");
        b = b.references(joined);
    }
    let name = HeaderName::new_from_ascii_str(VALIDATED_BY_HEADER);
    b = b.raw_header(HeaderValue::new(name, item.validated_by_name.clone()));
    let part = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::QuotedPrintable)
        .body(item.body.clone());
    b.singlepart(part)
        .map_err(|e| format!("cannot build the reply: {e}"))
}

/// `Re: ` once, whatever the parent's subject already carries (`RE:`, `Re :`, `TR: Re:`…
/// only a leading reply marker counts).
pub fn reply_subject(subject: &str) -> String {
    let s = subject.trim();
    let lower = s.to_lowercase();
    let already = ["re:", "re :", "ré:", "réf:", "réf :"]
        .iter()
        .any(|p| lower.starts_with(p));
    if already {
        s.to_string()
    } else {
        format!("Re: {s}")
    }
}

fn bare_id(id: &str) -> &str {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
}

type CrashFilter = Arc<dyn Fn(i64) -> bool + Send + Sync>;

/// How a sender proves, after a crash, whether a handed-off reply reached the
/// relay: every reply also goes (envelope recipient only, never a header) to the
/// service's own address; the relay delivers that copy to the service's IMAP
/// mailbox, where it can be searched by the reply's stable Message-ID. One SMTP
/// transaction is accepted for all its recipients or for none, so the copy's
/// presence proves the citizen's copy was accepted too.
#[derive(Debug, Clone)]
pub struct DeliveryCheck {
    /// The service's own mailbox, where the copy lands.
    pub imap: ImapConfig,
    /// The address the copy is sent to (the mailbox's own address).
    pub copy_to: String,
    /// How long after the hand-off a missing copy may still be in transit (the
    /// relay's local delivery delay). After it, a missing copy means the dot never
    /// reached the relay, and the reply is sent again.
    pub grace: Duration,
}

/// What a delivery check concluded about a handed-off reply.
enum Verdict {
    /// The relay took it (`verified`: proven by the copy; otherwise assumed, with
    /// no check configured for the mailbox).
    Delivered { verified: bool },
    /// Unknown for now (copy not there yet, IMAP unreachable): retry later, never
    /// resend blindly.
    Wait(String),
    /// No copy after the grace period: the relay never took it.
    NotDelivered(String),
}

/// Sends what is in the outbox.
pub struct Sender {
    store: Store,
    cfg: SmtpConfig,
    worker: String,
    lease: Duration,
    crash: Vec<(CrashPoint, CrashFilter)>,
    /// Per Facteur mailbox id.
    checks: HashMap<i64, DeliveryCheck>,
    /// Per Facteur mailbox id: the IMAP account whose `sent_folder` mirrors
    /// sent replies.
    mirrors: HashMap<i64, ImapConfig>,
}

impl Sender {
    /// `worker` must be unique per running sender (host + pid + random is fine):
    /// the store only lets the lease holder record the outcome.
    pub fn new(store: Store, cfg: SmtpConfig, worker: impl Into<String>) -> Self {
        Sender {
            store,
            cfg,
            worker: worker.into(),
            lease: Duration::from_secs(300),
            crash: Vec::new(),
            checks: HashMap::new(),
            mirrors: HashMap::new(),
        }
    }

    /// Mirror each sent reply of `mailbox_id` into `imap.sent_folder` (no-op when
    /// it is `None`). Best effort: the reply has left whatever happens here, so a
    /// failed mirror is logged, never retried as a send.
    pub fn with_sent_folder(mut self, mailbox_id: i64, imap: ImapConfig) -> Self {
        if imap.sent_folder.is_some() {
            self.mirrors.insert(mailbox_id, imap);
        }
        self
    }

    /// Append the reply to its mailbox's sent folder, once.
    async fn mirror(&self, item: &OutboxItem) {
        if self.mirrors.is_empty() {
            return;
        }
        let (from, mailbox_id) = match self.sender_address(item).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(outbox = item.id, error = %e, "sent-folder mirror skipped");
                return;
            }
        };
        let Some(imap) = self.mirrors.get(&mailbox_id) else {
            return;
        };
        let Some(folder) = imap.sent_folder.as_deref() else {
            return;
        };
        let bytes = match build_reply(item, &from) {
            Ok(m) => m.formatted(),
            Err(e) => {
                tracing::warn!(outbox = item.id, error = %e, "sent-folder mirror skipped");
                return;
            }
        };
        if let Err(e) = crate::imap::append_once(imap, folder, &item.reply_message_id, &bytes).await
        {
            tracing::warn!(outbox = item.id, error = %e, "sent-folder mirror failed");
        }
    }

    /// Send a copy of each reply of `mailbox_id` to its own address and use it to
    /// settle crashed attempts (see [`DeliveryCheck`]). Without a check, a reply
    /// whose attempt died after the hand-off marker is recorded as sent unverified.
    pub fn with_delivery_check(mut self, mailbox_id: i64, check: DeliveryCheck) -> Self {
        self.checks.insert(mailbox_id, check);
        self
    }

    /// How long a claim is held. Must exceed the slowest SMTP transaction, or a
    /// second sender would take over a live one (it would then reconcile via the
    /// marker rather than resend, but the first one's `mark_sent` gets refused).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    #[doc(hidden)]
    pub fn with_simulated_crash(
        mut self,
        at: CrashPoint,
        when: impl Fn(i64) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.crash.push((at, Arc::new(when)));
        self
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Send everything due now, one row at a time, until nothing is claimable.
    pub async fn drain(&self) -> SendReport {
        let mut report = SendReport::default();
        loop {
            let item = match self.store.claim_outbox(&self.worker, self.lease).await {
                Ok(Some(i)) => i,
                Ok(None) => break,
                Err(e) => {
                    report.errors.push(format!("claim outbox: {e}"));
                    break;
                }
            };
            match self.process(&item).await {
                Ok(SendOutcome::Sent) => report.sent += 1,
                Ok(SendOutcome::Resent) => {
                    report.sent += 1;
                    report.resent_after_check += 1;
                }
                Ok(SendOutcome::Reconciled) => report.reconciled += 1,
                Ok(SendOutcome::RetryLater) => report.retry_later += 1,
                Ok(SendOutcome::FailedPermanently) => report.failed_permanently += 1,
                Ok(SendOutcome::Crashed) => {}
                Err(e) => report.errors.push(e.to_string()),
            }
        }
        report
    }

    /// `drain` every `interval` until shutdown.
    pub async fn run(&self, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let r = self.drain().await;
            if r.sent + r.reconciled + r.failed_permanently > 0 || !r.errors.is_empty() {
                tracing::info!(
                    sent = r.sent,
                    reconciled = r.reconciled,
                    retry = r.retry_later,
                    failed = r.failed_permanently,
                    errors = r.errors.len(),
                    "outbox pass"
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                r = shutdown.changed() => if r.is_err() { break },
            }
        }
    }

    /// Handle one claimed row (see the protocol in the module doc).
    pub async fn process(&self, item: &OutboxItem) -> ConnectResult<SendOutcome> {
        let id = item.id;
        let store_err = |source| ConnectError::OutboxStore {
            outbox_id: id,
            source,
        };
        let mut resent = false;
        if item.handed_off_at.is_some() {
            match self.check_delivery(item).await {
                Verdict::Delivered { verified } => {
                    self.store
                        .mark_sent(id, &self.worker)
                        .await
                        .map_err(store_err)?;
                    self.mirror(item).await;
                    let _ = self
                        .store
                        .audit(
                            &format!("worker:{}", self.worker),
                            "outbox.reconciled",
                            &format!("outbox:{id}"),
                            &serde_json::json!({"attempts": item.attempts, "verified": verified}),
                        )
                        .await;
                    if verified {
                        tracing::info!(
                            outbox = id,
                            "reply handed off by an earlier attempt and its copy was delivered: not resent"
                        );
                    } else {
                        tracing::warn!(
                            outbox = id,
                            "reply handed off by an earlier attempt: recorded as sent without proof (no delivery check for its mailbox)"
                        );
                    }
                    return Ok(SendOutcome::Reconciled);
                }
                Verdict::Wait(why) => {
                    self.store
                        .mark_send_uncertain(id, &self.worker, &stored_error(&why))
                        .await
                        .map_err(store_err)?;
                    return Ok(SendOutcome::RetryLater);
                }
                Verdict::NotDelivered(why) => {
                    self.store
                        .clear_outbox_hand_off(id, &self.worker, &why)
                        .await
                        .map_err(store_err)?;
                    tracing::warn!(
                        outbox = id,
                        "handed-off reply never reached the relay: sending it again"
                    );
                    resent = true;
                }
            }
        }
        match self.transmit(item).await {
            Ok(Some(_)) => Ok(SendOutcome::Crashed),
            Ok(None) => {
                self.store
                    .mark_sent(id, &self.worker)
                    .await
                    .map_err(store_err)?;
                self.mirror(item).await;
                Ok(if resent {
                    SendOutcome::Resent
                } else {
                    SendOutcome::Sent
                })
            }
            Err(TransmitError {
                detail,
                permanent,
                marker_written,
            }) => {
                let detail = stored_error(&detail);
                if marker_written && !permanent {
                    // The dot may have reached the server: never resend blindly.
                    // Keep the marker; the retry will reconcile.
                    self.store
                        .mark_send_uncertain(id, &self.worker, &detail)
                        .await
                        .map_err(store_err)?;
                    return Ok(SendOutcome::RetryLater);
                }
                // Known outcome: mark_failed clears any marker.
                self.store
                    .mark_failed(id, &self.worker, permanent, &detail)
                    .await
                    .map_err(store_err)?;
                let after = self.store.get_outbox(id).await.map_err(store_err)?;
                let final_failure = after
                    .map(|a| a.next_attempt_at.is_none())
                    .unwrap_or(permanent);
                Ok(if final_failure {
                    SendOutcome::FailedPermanently
                } else {
                    SendOutcome::RetryLater
                })
            }
        }
    }

    /// Settle a reply an earlier attempt handed off (marker set, not recorded
    /// as sent). Never concludes "not delivered" without positive evidence of
    /// absence: the copy missing from the mailbox after the grace period.
    async fn check_delivery(&self, item: &OutboxItem) -> Verdict {
        if item.delivery_confirmed_at.is_some() {
            return Verdict::Delivered { verified: true };
        }
        let mailbox_id = match self.store.get_message(item.message_id).await {
            Ok(Some(m)) => m.mailbox_id,
            Ok(None) => return Verdict::Delivered { verified: false },
            Err(e) => return Verdict::Wait(format!("delivery check: store: {e}")),
        };
        let Some(check) = self.checks.get(&mailbox_id) else {
            return Verdict::Delivered { verified: false };
        };
        match crate::imap::message_id_present(&check.imap, &item.reply_message_id).await {
            Ok(true) => {
                let actor = format!("worker:{}", self.worker);
                if let Err(e) = self
                    .store
                    .confirm_outbox_delivery(item.id, &actor, "imap search")
                    .await
                {
                    return Verdict::Wait(format!("delivery check: store: {e}"));
                }
                Verdict::Delivered { verified: true }
            }
            Ok(false) => {
                let since = item.handed_off_at.unwrap_or(0);
                let age_ms = self.store.now_ms().saturating_sub(since);
                let grace_ms = i64::try_from(check.grace.as_millis()).unwrap_or(i64::MAX);
                if age_ms < grace_ms {
                    Verdict::Wait(format!(
                        "delivery not confirmed yet ({} s after hand-off, grace {} s)",
                        age_ms / 1000,
                        grace_ms / 1000
                    ))
                } else {
                    Verdict::NotDelivered(format!(
                        "no copy in mailbox '{}' {} s after hand-off",
                        check.imap.mailbox,
                        age_ms / 1000
                    ))
                }
            }
            Err(e) => Verdict::Wait(format!("delivery check: {e}")),
        }
    }

    /// One SMTP transaction. `Ok(Some(p))` = the simulated crash `p` happened.
    async fn transmit(&self, item: &OutboxItem) -> Result<Option<CrashPoint>, TransmitError> {
        let fail = |detail: String, permanent: bool| TransmitError {
            detail,
            permanent,
            marker_written: false,
        };
        let (from, mailbox_id) = self
            .sender_address(item)
            .await
            .map_err(|e| fail(e, false))?;
        let copy_to = self.checks.get(&mailbox_id).map(|c| c.copy_to.clone());
        let msg = build_reply(item, &from).map_err(|e| fail(e, true))?;
        let envelope = msg.envelope().clone();
        let bytes = msg.formatted();
        let pw = self.cfg.password.clone().unwrap_or_default();
        let smtp_err = |e: lettre::transport::smtp::Error| TransmitError {
            permanent: e.is_permanent(),
            detail: scrub(
                &format!("SMTP {}:{}: {e}", self.cfg.host, self.cfg.port),
                &pw,
            ),
            marker_written: false,
        };
        let crash_here = |p: CrashPoint| {
            self.crash
                .iter()
                .any(|(at, when)| *at == p && when(item.id))
        };

        let hello = ClientId::Domain(self.cfg.hello_name.clone());
        let tls = |host: &str| -> Result<TlsParameters, TransmitError> {
            let mut b = TlsParameters::builder(host.to_string());
            if let Some(ca) = &self.cfg.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| fail(format!("CA file '{}': {e}", ca.display()), false))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| fail(format!("CA file '{}': {e}", ca.display()), false))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls()
                .map_err(|e| fail(format!("TLS setup: {e}"), false))
        };
        // Our own socket under lettre, so the dot can wait for the marker.
        let gate = Arc::new(Gate::default());
        if crash_here(CrashPoint::AfterMarker) {
            gate.crash_after_marker();
        }
        let connect_err = |detail: String| fail(detail, false);
        let server = format!("{}:{}", self.cfg.host, self.cfg.port);
        // lettre bounds only the TCP connect: a relay that stops answering would
        // hold this sender, and every reply queued behind it, forever. Every
        // step is bounded by `io_timeout`.
        let limit = self.cfg.io_timeout;
        let late = |step: &str| {
            fail(
                format!(
                    "SMTP {server}: no answer within {} s ({step})",
                    limit.as_secs()
                ),
                false,
            )
        };
        let tcp = tokio::time::timeout(
            self.cfg.io_timeout,
            tokio::net::TcpStream::connect((self.cfg.host.as_str(), self.cfg.port)),
        )
        .await
        .map_err(|_| connect_err(format!("SMTP {server}: connection timed out")))?
        .map_err(|e| connect_err(format!("SMTP {server}: {e}")))?;
        let peer = tcp
            .peer_addr()
            .map_err(|e| connect_err(format!("SMTP {server}: {e}")))?;
        let io: Box<dyn SmtpIo> = match self.cfg.tls {
            TlsMode::Tls => Box::new(
                tokio::time::timeout(
                    limit,
                    crate::tls::handshake(tcp, &self.cfg.host, self.cfg.ca_file.as_deref()),
                )
                .await
                .map_err(|_| late("TLS handshake"))?
                .map_err(|e| connect_err(format!("SMTP {server}: TLS: {e}")))?,
            ),
            _ => Box::new(tcp),
        };
        let stream = GatedStream {
            inner: io,
            peer,
            gate: gate.clone(),
        };
        let mut conn = tokio::time::timeout(
            limit,
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello),
        )
        .await
        .map_err(|_| late("greeting"))?
        .map_err(smtp_err)?;
        if self.cfg.tls == TlsMode::Starttls {
            if !conn.can_starttls() {
                return Err(fail(
                    format!(
                        "SMTP {}:{} does not offer STARTTLS",
                        self.cfg.host, self.cfg.port
                    ),
                    false,
                ));
            }
            tokio::time::timeout(limit, conn.starttls(tls(&self.cfg.host)?, &hello))
                .await
                .map_err(|_| late("STARTTLS"))?
                .map_err(smtp_err)?;
        }
        if let (Some(user), Some(password)) = (&self.cfg.user, &self.cfg.password) {
            let creds = Credentials::new(user.clone(), password.clone());
            tokio::time::timeout(
                limit,
                conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds),
            )
            .await
            .map_err(|_| late("AUTH"))?
            .map_err(smtp_err)?;
        }
        let mut params = Vec::new();
        // An address with a non-ASCII local part or domain (RFC 6531: a citizen's
        // "élodie@…") must be declared with SMTPUTF8, or a strict relay (Postfix)
        // refuses it; a relay without the extension cannot carry it at all, which
        // no retry changes: a permanent failure that says why.
        let utf8_addresses: Vec<String> = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .map(|a| a.to_string())
            .chain(copy_to.iter().cloned())
            .filter(|a| !a.is_ascii())
            .collect();
        if !utf8_addresses.is_empty() {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                let _ = tokio::time::timeout(limit, conn.abort()).await;
                return Err(fail(
                    format!(
                        "SMTP {server} does not accept internationalised addresses (no SMTPUTF8): {} cannot be reached through this relay; correct the address or use a relay with SMTPUTF8",
                        utf8_addresses.join(", ")
                    ),
                    true,
                ));
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        tokio::time::timeout(
            limit,
            conn.command(Mail::new(envelope.from().cloned(), params)),
        )
        .await
        .map_err(|_| late("MAIL FROM"))?
        .map_err(smtp_err)?;
        for to in envelope.to() {
            tokio::time::timeout(limit, conn.command(Rcpt::new(to.clone(), vec![])))
                .await
                .map_err(|_| late("RCPT TO"))?
                .map_err(smtp_err)?;
        }
        if let Some(copy) = &copy_to {
            let addr: lettre::Address = copy.parse().map_err(|e| {
                fail(
                    format!("delivery-check address '{copy}' is not valid: {e}"),
                    true,
                )
            })?;
            let copied = tokio::time::timeout(limit, conn.command(Rcpt::new(addr, vec![])))
                .await
                .map_err(|_| late("RCPT TO copy"))?;
            copied.map_err(|e| {
                let mut err = smtp_err(e);
                err.detail = format!(
                    "{} (the relay refused the delivery-check copy to {copy}: let the relay accept it, or turn delivery_check off)",
                    err.detail
                );
                err
            })?;
        }
        if crash_here(CrashPoint::BeforeData) {
            conn.abort().await;
            return Ok(Some(CrashPoint::BeforeData));
        }
        tokio::time::timeout(limit, conn.command(Data))
            .await
            .map_err(|_| late("DATA"))?
            .map_err(smtp_err)?;
        let store = self.store.clone();
        let worker = self.worker.clone();
        let outbox_id = item.id;
        let mut marker = MarkerIter {
            body: Some(bytes),
            gate: &gate,
            mark: Some(Box::pin(async move {
                store.mark_outbox_handed_off(outbox_id, &worker).await
            })),
        };
        let sent = tokio::time::timeout(limit, conn.message_iter(&mut marker)).await;
        let written = gate.marker_written();
        if written && gate.crashed() {
            // A killed process says nothing more: the server is still in DATA
            // (a QUIT would be read as message text), so just drop the socket.
            drop(conn);
            return Ok(Some(CrashPoint::AfterMarker));
        }
        let Ok(sent) = sent else {
            // No answer to the message: if the marker is durable the dot may have
            // arrived, an unknown outcome the delivery check settles.
            let mut err = late("end of data");
            err.marker_written = written;
            return Err(err);
        };
        match sent {
            Ok(_) => {
                let _ = tokio::time::timeout(limit, conn.quit()).await;
                if crash_here(CrashPoint::AfterAccept) {
                    return Ok(Some(CrashPoint::AfterAccept));
                }
                Ok(None)
            }
            Err(e) => {
                // A reply code is a known outcome; a network error after the
                // marker is not.
                let known = e.status().is_some();
                let mut err = smtp_err(e);
                err.marker_written = written && !known;
                Err(err)
            }
        }
    }

    /// The mailbox's From (display name and address) and its id.
    async fn sender_address(&self, item: &OutboxItem) -> Result<(String, i64), String> {
        let msg = self
            .store
            .get_message(item.message_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("message {} of the reply is gone", item.message_id))?;
        let mb = self
            .store
            .get_mailbox(msg.mailbox_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("mailbox {} of the reply is gone", msg.mailbox_id))?;
        let name = mb.name.replace(['"', '\\', '\r', '\n'], " ");
        Ok((format!("\"{name}\" <{}>", mb.address), mb.id))
    }
}

struct TransmitError {
    detail: String,
    permanent: bool,
    /// The hand-off marker exists: the outcome is uncertain.
    marker_written: bool,
}

type MarkFuture = Pin<Box<dyn Future<Output = StoreResult<()>> + Send>>;

/// Yields the message, then — when lettre asks for the next part, i.e. after the
/// whole body was written and flushed, right before it writes the dot — arms
/// the [`Gate`] with the marker write.
struct MarkerIter<'a> {
    body: Option<Vec<u8>>,
    gate: &'a Gate,
    mark: Option<MarkFuture>,
}

impl Iterator for MarkerIter<'_> {
    type Item = Vec<u8>;
    fn next(&mut self) -> Option<Vec<u8>> {
        if let Some(b) = self.body.take() {
            return Some(b);
        }
        if let Some(mark) = self.mark.take() {
            self.gate.arm(mark);
        }
        None
    }
}

/// Holds the next write on the socket (the end-of-data dot) until the armed
/// marker future has completed; a failed marker fails that write, so the dot
/// never leaves without a durable marker.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    pending: Option<MarkFuture>,
    written: bool,
    /// Tests: fail the dot's write once the marker is durable, as a process
    /// killed in that window would.
    crash_after_marker: bool,
    crashed: bool,
}

impl Gate {
    fn arm(&self, mark: MarkFuture) {
        if let Ok(mut s) = self.state.lock() {
            s.pending = Some(mark);
        }
    }

    fn crash_after_marker(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.crash_after_marker = true;
        }
    }

    fn crashed(&self) -> bool {
        self.state.lock().map(|s| s.crashed).unwrap_or(false)
    }

    fn marker_written(&self) -> bool {
        self.state.lock().map(|s| s.written).unwrap_or(false)
    }

    /// Ready(Ok) when writes may go on.
    fn poll_open(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let Ok(mut s) = self.state.lock() else {
            return Poll::Ready(Err(std::io::Error::other("hand-off gate poisoned")));
        };
        let Some(fut) = s.pending.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        match fut.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                s.pending = None;
                match r {
                    Ok(()) if s.crash_after_marker => {
                        s.written = true;
                        s.crashed = true;
                        Poll::Ready(Err(std::io::Error::other(
                            "simulated crash after the hand-off marker",
                        )))
                    }
                    Ok(()) => {
                        s.written = true;
                        Poll::Ready(Ok(()))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "SMTP hand-off marker not recorded: the reply is not committed");
                        Poll::Ready(Err(std::io::Error::other(format!(
                            "hand-off marker not recorded, end of data withheld: {e}"
                        ))))
                    }
                }
            }
        }
    }
}

/// What the SMTP connection runs over: plain TCP, or TLS for implicit TLS
/// (STARTTLS is layered on top by lettre).
trait SmtpIo: AsyncRead + AsyncWrite + Send + Sync + Unpin + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + std::fmt::Debug> SmtpIo for T {}

/// The socket under lettre's SMTP connection, with the hand-off [`Gate`] in
/// its write path.
struct GatedStream {
    inner: Box<dyn SmtpIo>,
    peer: std::net::SocketAddr,
    gate: Arc<Gate>,
}

impl std::fmt::Debug for GatedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatedStream")
            .field("peer", &self.peer)
            .finish()
    }
}

impl AsyncRead for GatedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GatedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.gate.poll_open(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for GatedStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        Ok(self.peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use facteur_core::OutboxState;

    fn item() -> OutboxItem {
        OutboxItem {
            id: 1,
            message_id: 1,
            reply_message_id: "<r1@sip.example>".into(),
            to_address: "Jean Dupont <jean@example.test>".into(),
            subject: "RE: Prélèvement".into(),
            in_reply_to: Some("parent@example.test".into()),
            references: vec!["<root@example.test>".into(), "parent@example.test".into()],
            body: "Bonjour,\n\nVoici la réponse : ligne très longue ".repeat(3)
                + "\n\nCordialement",
            validated_by: 3,
            validated_by_name: "Hélène Martin".into(),
            state: OutboxState::Sending,
            attempts: 1,
            last_error: None,
            next_attempt_at: None,
            lease_owner: None,
            lease_until: None,
            sent_at: None,
            created_at: 0,
            handed_off_at: None,
            delivery_confirmed_at: None,
            undelivered: None,
        }
    }

    #[test]
    fn subject_gets_one_re() {
        assert_eq!(reply_subject("Prélèvement"), "Re: Prélèvement");
        assert_eq!(reply_subject("RE: Prélèvement"), "RE: Prélèvement");
        assert_eq!(reply_subject("Re : x"), "Re : x");
        assert_eq!(
            reply_subject("Retard de paiement"),
            "Re: Retard de paiement"
        );
    }

    #[test]
    fn reply_threads_and_keeps_the_exact_text() {
        let it = item();
        let msg = build_reply(&it, "\"SIP Paris\" <sip@example.test>").unwrap();
        let raw = msg.formatted();
        let parsed = facteur_mail::parse_message(&raw);
        assert_eq!(parsed.message_id, "r1@sip.example");
        assert_eq!(parsed.in_reply_to, vec!["parent@example.test".to_string()]);
        assert_eq!(
            parsed.references,
            vec![
                "root@example.test".to_string(),
                "parent@example.test".to_string()
            ]
        );
        assert_eq!(parsed.subject, "RE: Prélèvement");
        assert_eq!(
            parsed.body_text.replace("\r\n", "\n").trim_end(),
            it.body.trim_end()
        );
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("X-Facteur-Validated-By: "), "{text}");
        assert!(text.contains("charset=utf-8"));
    }

    #[test]
    fn parent_is_appended_to_references_once() {
        let mut it = item();
        it.references = vec!["root@x".into()];
        let raw = build_reply(&it, "sip@example.test").unwrap().formatted();
        let parsed = facteur_mail::parse_message(&raw);
        assert_eq!(
            parsed.references,
            vec!["root@x".to_string(), "parent@example.test".to_string()]
        );
    }

    #[test]
    fn bad_recipient_is_a_clear_error() {
        let mut it = item();
        it.to_address = "not an address".into();
        let e = build_reply(&it, "sip@example.test").unwrap_err();
        assert!(e.contains("recipient"), "{e}");
    }
}
