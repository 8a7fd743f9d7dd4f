//! What goes in and out of the store. Row structs (`*Row`, crate-private) mirror
//! the tables; the public types carry parsed enums and JSON.

use facteur_core::{
    Candidate, Hit, MailSummary, MessageState, ModelStatus, OutboxState, ParsedMail, PiiKind, Role,
    Route,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Millis;

// ---------------------------------------------------------------- people

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    /// Argon2 PHC string; hashing is the caller's job so the store never sees a password.
    pub password_hash: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: Role,
    pub active: bool,
    pub created_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewMailbox {
    pub name: String,
    pub address: String,
    pub signature: String,
    pub settings: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mailbox {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub signature: String,
    pub settings: Value,
    pub created_at: Millis,
}

/// A login session. `id` is the SHA-256 of the bearer token: the token itself
/// is never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub last_seen_at: Millis,
}

// ---------------------------------------------------------------- messages

#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    pub mailbox_id: i64,
    pub message_id: String,
    pub content_hash: String,
    pub raw: Vec<u8>,
    pub subject: String,
    pub from_name: Option<String>,
    pub from_address: Option<String>,
    /// RFC 3339 from the Date header.
    pub date: Option<String>,
    /// When Facteur received it; `None` = now.
    pub received_at: Option<Millis>,
    pub thread_id: Option<String>,
    /// Attachments, defects, threading and Reply-To, as ingest parsed them.
    pub parsed: MailSummary,
    pub pseudonymised_text: String,
    pub language: Option<String>,
    pub pii_kinds: Vec<PiiKind>,
    pub flags: Vec<String>,
}

impl NewMessage {
    /// Fill what a parsed mail already knows. The thread key is the root of the
    /// References chain (else In-Reply-To, else the message itself), so replies
    /// group under the first message of the conversation.
    pub fn from_parsed(mailbox_id: i64, raw: Vec<u8>, mail: &ParsedMail) -> NewMessage {
        let thread_id = mail
            .references
            .first()
            .or_else(|| mail.in_reply_to.first())
            .cloned()
            .unwrap_or_else(|| mail.message_id.clone());
        let parsed = MailSummary::of(mail);
        NewMessage {
            mailbox_id,
            message_id: mail.message_id.clone(),
            content_hash: mail.content_hash.clone(),
            raw,
            subject: mail.subject.clone(),
            from_name: mail.from.as_ref().and_then(|f| f.name.clone()),
            from_address: mail.from.as_ref().and_then(|f| f.address.clone()),
            date: mail.date.clone(),
            received_at: None,
            thread_id: Some(thread_id),
            parsed,
            pseudonymised_text: String::new(),
            language: None,
            pii_kinds: Vec::new(),
            flags: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted(i64),
    /// Same mailbox, Message-ID and content hash already stored: this id.
    Duplicate(i64),
}

impl InsertOutcome {
    pub fn id(self) -> i64 {
        match self {
            InsertOutcome::Inserted(id) | InsertOutcome::Duplicate(id) => id,
        }
    }
}

/// A stored message without its raw bytes (fetch those with `get_raw`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub id: i64,
    pub mailbox_id: i64,
    pub message_id: String,
    pub content_hash: String,
    pub subject: String,
    pub from_name: Option<String>,
    pub from_address: Option<String>,
    pub date: Option<String>,
    pub received_at: Millis,
    pub thread_id: Option<String>,
    pub parsed: MailSummary,
    /// The pseudonymised new text: what agents see before an audited reveal.
    pub pseudonymised_text: String,
    /// What the classifier read at the latest triage (subject and new text,
    /// personal data removed: `facteur_triage::classify_text`); `None` for a
    /// message triaged before it was recorded (migration 0008) or not triaged yet. Read it through [`Message::training_text`].
    pub classify_text: Option<String>,
    pub language: Option<String>,
    pub state: MessageState,
    pub assigned_to: Option<i64>,
    pub category: Option<String>,
    pub confidence: Option<f32>,
    pub pii_kinds: Vec<PiiKind>,
    pub flags: Vec<String>,
    pub updated_at: Millis,
}

impl Message {
    /// The text a model learns from for this message: what the classifier read
    /// at triage, so that a correction teaches the model the text it is given
    /// live. Messages triaged before that text was recorded fall back to the
    /// pseudonymised body, what training used until then: still no personal
    /// data, only without the subject.
    pub fn training_text(&self) -> &str {
        match self.classify_text.as_deref() {
            Some(t) if !t.trim().is_empty() => t,
            _ => &self.pseudonymised_text,
        }
    }
}

// ---------------------------------------------------------------- queue

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueSort {
    /// Oldest first: backlog age is what the service is judged on.
    #[default]
    Age,
    /// Most confident first: quick validations, unscored last.
    Confidence,
}

/// Position after the last row of a page. Opaque to the UI via `encode`/`decode`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueCursor {
    pub received_at: Millis,
    pub confidence: f64,
    pub id: i64,
}

impl QueueCursor {
    pub fn encode(&self) -> String {
        format!("{}_{}_{}", self.received_at, self.confidence, self.id)
    }
    pub fn decode(s: &str) -> Option<QueueCursor> {
        let mut it = s.split('_');
        let received_at = it.next()?.parse().ok()?;
        let confidence: f64 = it.next()?.parse().ok()?;
        let id = it.next()?.parse().ok()?;
        if it.next().is_some() || !confidence.is_finite() {
            return None;
        }
        Some(QueueCursor {
            received_at,
            confidence,
            id,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum QueuePage {
    #[default]
    First,
    /// Keyset paging: constant time whatever the depth.
    After(QueueCursor),
    /// Offset paging for "jump to page N"; cost grows with the offset.
    Offset(u32),
}

#[derive(Debug, Clone, Default)]
pub struct QueueQuery {
    /// `None` = every mailbox (supervisors); callers pass the agent's mailboxes.
    pub mailbox_ids: Option<Vec<i64>>,
    /// Empty = all open states.
    pub states: Vec<MessageState>,
    pub category: Option<String>,
    pub assigned_to: Option<i64>,
    /// Words that must all appear in the text agents see (the pseudonymised
    /// body) or in what the classifier read (subject and body, personal data
    /// removed): never in raw text, so a search cannot find a citizen by a name
    /// the page masks. Case-insensitive for ASCII letters.
    pub search: Option<String>,
    /// Received in `[from, until)` (Unix milliseconds).
    pub received: Option<(Millis, Millis)>,
    pub sort: QueueSort,
    pub page: QueuePage,
    /// Clamped to 1..=500.
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueRow {
    pub id: i64,
    pub mailbox_id: i64,
    pub subject: String,
    pub from_name: Option<String>,
    /// Personal data: pages show it masked (`facteur_app::masked_sender`).
    pub from_address: Option<String>,
    pub received_at: Millis,
    pub state: MessageState,
    pub category: Option<String>,
    pub confidence: Option<f32>,
    pub assigned_to: Option<i64>,
    #[serde(skip)]
    pub cursor: QueueCursor,
}

// ---------------------------------------------------------------- triage

#[derive(Debug, Clone)]
pub struct NewTriage {
    pub message_id: i64,
    pub model_version: Option<String>,
    pub category: Option<String>,
    pub confidence: Option<f32>,
    pub route: Route,
    pub answer_id: Option<String>,
    pub answer_version: Option<i64>,
    pub draft_text: Option<String>,
    /// Why the answer was proposed (stored as JSON, handed out typed).
    pub passages: Vec<Hit>,
    pub language: Option<String>,
    pub pseudonymised_text: Option<String>,
    /// What the classifier read (`Triaged::classify_text`), kept with the
    /// message for training from feedback; `None` keeps the stored one. A field
    /// every caller must fill on purpose: leaving it out is how training and
    /// serving drifted apart.
    pub classify_text: Option<String>,
    pub pii_kinds: Vec<PiiKind>,
    pub flags: Vec<String>,
    /// Without a draft: the types the model hesitated between (see
    /// `facteur_core::Candidate`).
    pub candidates: Vec<Candidate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriageResult {
    pub id: i64,
    pub message_id: i64,
    pub model_version: Option<String>,
    pub category: Option<String>,
    pub confidence: Option<f32>,
    pub route: Route,
    pub answer_id: Option<String>,
    pub answer_version: Option<i64>,
    pub draft_text: Option<String>,
    pub passages: Vec<Hit>,
    pub candidates: Vec<Candidate>,
    pub created_at: Millis,
}

// ---------------------------------------------------------------- actions

/// An agent validates a reply: what goes into the outbox.
#[derive(Debug, Clone)]
pub struct ValidateReply {
    pub message_id: i64,
    pub user_id: i64,
    /// Exactly the text that will be sent.
    pub body: String,
    /// Generated once by the caller (e.g. `<uuid@mailbox-domain>`), reused on retries.
    pub reply_message_id: String,
    pub to_address: String,
    pub subject: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// How long the outbox holds the reply before a sender may take it: the
    /// agent's window to take it back ([`Store::cancel_send`](crate::Store::cancel_send)).
    pub send_delay_ms: Millis,
}

/// A reply taken back during its send delay: the text returns to the agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CancelledSend {
    pub action_id: i64,
    pub body: String,
    pub state: MessageState,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRecord {
    pub id: i64,
    pub message_id: i64,
    pub user_id: i64,
    pub at: Millis,
    pub kind: String,
    pub before: Value,
    pub after: Value,
    pub model_version: Option<String>,
}

impl ActionRecord {
    /// The message's latest triage when the action was taken (`before.triage_id`):
    /// row ids only grow, so "did this reject refuse that draft" is an equality,
    /// never a comparison of millisecond timestamps that can tie. `None` for
    /// actions recorded before it was kept, or taken on a message never triaged.
    pub fn triage_id(&self) -> Option<i64> {
        self.before.get("triage_id").and_then(Value::as_i64)
    }
}

// ---------------------------------------------------------------- outbox

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxItem {
    pub id: i64,
    pub message_id: i64,
    pub reply_message_id: String,
    pub to_address: String,
    pub subject: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub body: String,
    pub validated_by: i64,
    pub validated_by_name: String,
    pub state: OutboxState,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<Millis>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Millis>,
    pub sent_at: Option<Millis>,
    pub created_at: Millis,
    /// Set just before the SMTP end-of-data: a later attempt that finds it
    /// reconciles instead of resending (see facteur-connect's smtp module).
    pub handed_off_at: Option<Millis>,
    /// The relay delivered the reply's copy back to the service's own mailbox: the
    /// server-side proof that it left (see facteur-connect's smtp module).
    pub delivery_confirmed_at: Option<Millis>,
    /// A bounce reported the reply as not delivered (state `undelivered`).
    pub undelivered: Option<Undelivered>,
}

/// What a bounce said about a reply: shown as "non distribuée" to the agent who
/// validated it. The diagnostic is stored with personal data masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Undelivered {
    pub at: Millis,
    /// RFC 3463 status, e.g. `5.1.1`.
    pub status: Option<String>,
    /// The remote server's words, personal data masked.
    pub diagnostic: Option<String>,
    /// The stored bounce message.
    pub bounce_message: Option<i64>,
}

/// An outbox row as listed for people to read: with the display name of the
/// sender of the message it answers (None when the mail had none), which the
/// pseudonymiser needs as a known name to mask that name in the subject.
#[derive(Debug, Clone)]
pub struct OutboxListing {
    pub item: OutboxItem,
    pub from_name: Option<String>,
}

// ---------------------------------------------------------------- versions

#[derive(Debug, Clone)]
pub struct NewAnswerVersion {
    pub answer_id: String,
    pub title: String,
    pub language: String,
    pub content: String,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub author_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerVersion {
    pub answer_id: String,
    pub version: i64,
    pub status: facteur_core::AnswerStatus,
    pub title: String,
    pub language: String,
    pub content: String,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub author_id: Option<i64>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    pub id: String,
    pub created_at: Millis,
    pub status: ModelStatus,
    pub metrics: Value,
    pub trained_by: Option<i64>,
    pub promoted_by: Option<i64>,
    pub promoted_at: Option<Millis>,
    /// Promotion + 90 days: past it, suggestions may be switched off.
    pub review_due: Option<Millis>,
}

// ---------------------------------------------------------------- helpers

pub(crate) fn parse_json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

pub(crate) fn conf_out(c: f64) -> Option<f32> {
    if c < 0.0 {
        None
    } else {
        Some(c as f32)
    }
}

pub(crate) fn conf_in(c: Option<f32>) -> f64 {
    match c {
        Some(c) if c.is_finite() && c >= 0.0 => f64::from(c),
        _ => -1.0,
    }
}
