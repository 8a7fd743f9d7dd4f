//! What goes in and out of the store. Row structs (`*Row`, crate-private) mirror
//! the tables; the public types carry parsed enums and JSON.

use facteur_core::{
    AttachmentText, Candidate, CloseReason, Hit, MailSummary, MessageState, ModelStatus,
    OutboxState, ParsedMail, PiiKind, Role, Route,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Millis;

// ---------------------------------------------------------------- people

/// An account to create, from the admin page or the CLI.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name, unique across users.
    pub username: String,
    /// Name shown to colleagues, e.g. "consulte ce message" notices.
    pub display_name: String,
    /// Argon2 PHC string; hashing is the caller's job so the store never sees a password.
    pub password_hash: String,
    /// What the account may do; admins can change it later.
    pub role: Role,
}

/// A Facteur account (agent, supervisor or admin), row of `users`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// Row id in `users`: what actions, sessions and assignments refer to.
    pub id: i64,
    /// Login name, unique across users.
    pub username: String,
    /// Name shown to colleagues; copied into the outbox row of each reply they validate.
    pub display_name: String,
    /// Argon2 PHC string; never serialised. Unusable for users created by SSO.
    #[serde(skip)]
    pub password_hash: String,
    /// What the account may do.
    pub role: Role,
    /// False once deactivated: no sign-in, no session, no mailbox access.
    pub active: bool,
    /// When the account was created, Unix milliseconds.
    pub created_at: Millis,
}

/// A shared mailbox to create, from the configuration or the admin page.
#[derive(Debug, Clone)]
pub struct NewMailbox {
    /// Unique name the configuration and the CLI refer to the mailbox by.
    pub name: String,
    /// Address replies leave from; unique per mailbox, compared case-insensitively.
    pub address: String,
    /// Text that closes every draft prepared for this mailbox.
    pub signature: String,
    /// Free-form JSON object; every caller stores `{}` today.
    pub settings: Value,
}

/// A shared mailbox of the service, row of `mailboxes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mailbox {
    /// Row id in `mailboxes`: what messages and access rights refer to.
    pub id: i64,
    /// Unique name the configuration and the CLI refer to the mailbox by.
    pub name: String,
    /// Address replies leave from; unique per mailbox, compared case-insensitively.
    pub address: String,
    /// Text that closes every draft prepared for this mailbox.
    pub signature: String,
    /// The administrator's settings of the mailbox (JSON object, read through
    /// [`Mailbox::send_delay_seconds`] and [`Mailbox::imap_folder`]); `{}` until
    /// an administrator edits them.
    pub settings: Value,
    /// When the mailbox was created, Unix milliseconds.
    pub created_at: Millis,
}

impl Mailbox {
    /// This mailbox's send delay when an administrator set one; `None`: the
    /// service's `send_delay_seconds`.
    pub fn send_delay_seconds(&self) -> Option<u32> {
        self.settings
            .get("send_delay_seconds")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
    }

    /// The IMAP folder to read when an administrator set one; `None`: the
    /// configuration's.
    pub fn imap_folder(&self) -> Option<&str> {
        self.settings
            .get("imap_folder")
            .and_then(Value::as_str)
            .filter(|f| !f.is_empty())
    }
}

/// What an administrator may change of a mailbox from the web app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxUpdate {
    /// The text that closes every draft.
    pub signature: String,
    /// Seconds a validated reply waits before leaving; `None`: the service's.
    pub send_delay_seconds: Option<u32>,
    /// The IMAP folder to read; `None`: the configuration's.
    pub imap_folder: Option<String>,
}

/// A login session. `id` is the SHA-256 of the bearer token: the token itself
/// is never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Hex SHA-256 of the browser's session token.
    pub id: String,
    /// Row id in `users` of the signed-in user.
    pub user_id: i64,
    /// Per-session token that state-changing forms must send back.
    pub csrf_token: String,
    /// Sign-in time, Unix milliseconds.
    pub created_at: Millis,
    /// End of validity, Unix milliseconds; slid forward on each activity.
    pub expires_at: Millis,
    /// Last request seen with this session, Unix milliseconds.
    pub last_seen_at: Millis,
}

// ---------------------------------------------------------------- messages

/// A received mail to store, as ingest prepared it; stored in state `new`.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    /// Row id in `mailboxes` of the mailbox it arrived in.
    pub mailbox_id: i64,
    /// Message-ID without brackets, derived from the content hash when missing.
    pub message_id: String,
    /// Hex SHA-256 of the raw bytes: with mailbox and Message-ID, the idempotency key.
    pub content_hash: String,
    /// The bytes exactly as received (only the header for an oversized mail).
    pub raw: Vec<u8>,
    /// Decoded Subject header; empty when missing.
    pub subject: String,
    /// Sender's display name; personal data, masked on pages until a reveal.
    pub from_name: Option<String>,
    /// Sender's address as written; decides where the reply goes.
    pub from_address: Option<String>,
    /// RFC 3339 from the Date header.
    pub date: Option<String>,
    /// When Facteur received it; `None` = now.
    pub received_at: Option<Millis>,
    /// Message-ID at the root of the conversation: messages sharing it are one thread.
    pub thread_id: Option<String>,
    /// Attachments, defects, threading and Reply-To, as ingest parsed them.
    pub parsed: MailSummary,
    /// Body with personal data replaced by placeholders; empty until triage fills it.
    pub pseudonymised_text: String,
    /// ISO 639-1 code of the text; usually `None` at ingest, triage detects it.
    pub language: Option<String>,
    /// Kinds of personal data found in the text.
    pub pii_kinds: Vec<PiiKind>,
    /// Codes set at ingest, e.g. `oversized`; triage replaces them with its sensitivity flags.
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

/// What `insert_message` did: ingest counts new and duplicate mails apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored for the first time under this row id.
    Inserted(i64),
    /// Same mailbox, Message-ID and content hash already stored: this id.
    Duplicate(i64),
}

impl InsertOutcome {
    /// Row id of the message in `messages`, new or existing.
    pub fn id(self) -> i64 {
        match self {
            InsertOutcome::Inserted(id) | InsertOutcome::Duplicate(id) => id,
        }
    }
}

/// A stored message without its raw bytes (fetch those with `get_raw`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Row id in `messages`; what triages, actions and the outbox refer to.
    pub id: i64,
    /// Row id in `mailboxes` of the mailbox it arrived in.
    pub mailbox_id: i64,
    /// Message-ID without brackets (derived from the content hash when the mail had none).
    pub message_id: String,
    /// Hex SHA-256 of the raw bytes as received.
    pub content_hash: String,
    /// Decoded Subject header; may carry personal data, so pages mask it until a reveal.
    pub subject: String,
    /// The subject as the latest triage masked it (placeholders, like
    /// `pseudonymised_text`); `None` before the first triage.
    pub subject_pseudonymised: Option<String>,
    /// The open message of the same citizen this one repeats; `None` otherwise.
    pub duplicate_of: Option<i64>,
    /// Sender's display name; personal data, masked on pages until a reveal.
    pub from_name: Option<String>,
    /// Sender's address as written: where the reply goes unless Reply-To says otherwise.
    pub from_address: Option<String>,
    /// RFC 3339 from the Date header, as the sender's system claimed.
    pub date: Option<String>,
    /// Arrival time, Unix milliseconds: what the backlog age and the default queue order count.
    pub received_at: Millis,
    /// Message-ID at the root of the conversation: messages sharing it are one thread.
    pub thread_id: Option<String>,
    /// Attachments, defects, threading and Reply-To as ingest parsed them.
    pub parsed: MailSummary,
    /// The pseudonymised new text: what agents see before an audited reveal.
    pub pseudonymised_text: String,
    /// What the classifier read at the latest triage (subject and new text,
    /// personal data removed: `facteur_triage::classify_text`); `None` for a
    /// message triaged before it was recorded (migration 0008) or not triaged yet. Read it through [`Message::training_text`].
    pub classify_text: Option<String>,
    /// ISO 639-1 code of the text as last detected; `None` until known.
    pub language: Option<String>,
    /// Where the message is in its life: decides which queue shows it.
    pub state: MessageState,
    /// Row id in `users` of the agent it was assigned to; `None` when unassigned.
    pub assigned_to: Option<i64>,
    /// Request-type id, from the latest triage or an agent's correction; `None` when unknown.
    pub category: Option<String>,
    /// Calibrated confidence of the latest triage in [0, 1]; `None` when not scored.
    pub confidence: Option<f32>,
    /// Kinds of personal data found in the text at the latest triage.
    pub pii_kinds: Vec<PiiKind>,
    /// Sensitivity codes of the latest triage (`complaint`, `distress`, …), or ingest's `oversized`.
    pub flags: Vec<String>,
    /// Last write by triage or an agent action, Unix milliseconds.
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

/// Order of a queue listing, chosen by the agent.
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
    /// Arrival time of the last row, Unix milliseconds.
    pub received_at: Millis,
    /// Stored confidence of the last row, `-1` when it was not scored.
    pub confidence: f64,
    /// Row id of the last row: the tie-break.
    pub id: i64,
}

impl QueueCursor {
    /// The cursor as an opaque URL-safe token for the next-page link.
    pub fn encode(&self) -> String {
        format!("{}_{}_{}", self.received_at, self.confidence, self.id)
    }
    /// Reads a token from `encode`; `None` for anything malformed.
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

/// Which page of a queue listing to return.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum QueuePage {
    /// The first page.
    #[default]
    First,
    /// Keyset paging: constant time whatever the depth.
    After(QueueCursor),
    /// Offset paging for "jump to page N"; cost grows with the offset.
    Offset(u32),
}

/// Filters, order and page of a queue listing.
#[derive(Debug, Clone, Default)]
pub struct QueueQuery {
    /// `None` = every mailbox (supervisors); callers pass the agent's mailboxes.
    pub mailbox_ids: Option<Vec<i64>>,
    /// Empty = all open states.
    pub states: Vec<MessageState>,
    /// Only messages of this request-type id.
    pub category: Option<String>,
    /// Only messages assigned to this user (row id in `users`).
    pub assigned_to: Option<i64>,
    /// Words that must all appear in the text agents see (the pseudonymised
    /// body) or in what the classifier read (subject and body, personal data
    /// removed): never in raw text, so a search cannot find a citizen by a name
    /// the page masks. Case-insensitive for ASCII letters.
    pub search: Option<String>,
    /// Received in `[from, until)` (Unix milliseconds).
    pub received: Option<(Millis, Millis)>,
    /// Oldest first or most confident first.
    pub sort: QueueSort,
    /// Where the page starts.
    pub page: QueuePage,
    /// Clamped to 1..=500.
    pub limit: u32,
}

/// One message as a queue listing shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueRow {
    /// Row id in `messages`.
    pub id: i64,
    /// Row id in `mailboxes` of the mailbox it arrived in.
    pub mailbox_id: i64,
    /// Decoded Subject header; pages mask personal data in it.
    pub subject: String,
    /// The subject as the latest triage masked it; `None` before the first
    /// triage (pages then mask it themselves).
    pub subject_pseudonymised: Option<String>,
    /// Sender's display name; personal data, masked on pages.
    pub from_name: Option<String>,
    /// Personal data: pages show it masked (`facteur_app::masked_sender`).
    pub from_address: Option<String>,
    /// Arrival time, Unix milliseconds.
    pub received_at: Millis,
    /// The queue it is in.
    pub state: MessageState,
    /// Request-type id; `None` when unknown.
    pub category: Option<String>,
    /// Calibrated confidence in [0, 1]; `None` when not scored.
    pub confidence: Option<f32>,
    /// Row id in `users` of the assignee; `None` when unassigned.
    pub assigned_to: Option<i64>,
    /// Where a next page starting after this row begins; not serialised.
    #[serde(skip)]
    pub cursor: QueueCursor,
}

// ---------------------------------------------------------------- triage

/// What the triage pipeline decided for a message, to record with `record_triage`.
#[derive(Debug, Clone)]
pub struct NewTriage {
    /// Row id in `messages` of the triaged message.
    pub message_id: i64,
    /// Id of the model version that classified it; `None` without a model.
    pub model_version: Option<String>,
    /// Request-type id the message is filed under; `None` when the model abstained and no agent chose.
    pub category: Option<String>,
    /// Calibrated confidence in [0, 1]; `None` when no model scored it.
    pub confidence: Option<f32>,
    /// Where the message goes; its new state follows from it.
    pub route: Route,
    /// Id of the standard answer the draft was built from; `None` without a draft.
    pub answer_id: Option<String>,
    /// Version of that standard answer, to spot drafts built on a retired one.
    pub answer_version: Option<i64>,
    /// The prepared reply with the citizen's real values filled in; pages mask it until a reveal.
    pub draft_text: Option<String>,
    /// Why the answer was proposed (stored as JSON, handed out typed).
    pub passages: Vec<Hit>,
    /// ISO 639-1 code detected at triage; `None` keeps the stored one.
    pub language: Option<String>,
    /// Body with personal data replaced by placeholders; `None` keeps the stored one.
    pub pseudonymised_text: Option<String>,
    /// Subject with personal data replaced by placeholders, as triage found it
    /// in the whole message; `None` keeps the stored one.
    pub subject_pseudonymised: Option<String>,
    /// What the classifier read (`Triaged::classify_text`), kept with the
    /// message for training from feedback; `None` keeps the stored one. A field
    /// every caller must fill on purpose: leaving it out is how training and
    /// serving drifted apart.
    pub classify_text: Option<String>,
    /// Kinds of personal data found; replaces the stored list.
    pub pii_kinds: Vec<PiiKind>,
    /// Sensitivity flag codes (`complaint`, `legal_deadline`, `distress`, `threat`); replaces the stored list.
    pub flags: Vec<String>,
    /// Without a draft: the types the model hesitated between (see
    /// `facteur_core::Candidate`).
    pub candidates: Vec<Candidate>,
    /// Triage suggests closing without a reply (a thanks-only mail); an agent
    /// confirms it.
    pub close_suggestion: Option<CloseReason>,
    /// The citizen's identifiers in clear (`address:…`, `fiscal:…`), which the
    /// store keeps only as keyed hashes, to find the same citizen's other
    /// messages. Empty keeps the stored ones.
    pub citizen_ids: Vec<String>,
    /// The text triage read from the attachments (masked), written in the same
    /// transaction as the triage, so a crash between the two cannot leave a
    /// triaged message without them (a triaged message is not triaged again).
    /// Empty keeps the stored ones.
    pub attachment_texts: Vec<AttachmentText>,
}

/// One recorded triage, row of `triage_results`; a message keeps every one of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriageResult {
    /// Row id in `triage_results`; grows with each retriage, so the highest is the latest.
    pub id: i64,
    /// Row id in `messages` of the triaged message.
    pub message_id: i64,
    /// Id of the model version that classified it; `None` without a model.
    pub model_version: Option<String>,
    /// Request-type id chosen; `None` when the model abstained.
    pub category: Option<String>,
    /// Calibrated confidence in [0, 1]; `None` when no model scored it.
    pub confidence: Option<f32>,
    /// Where triage sent the message.
    pub route: Route,
    /// Id of the standard answer the draft was built from; `None` without a draft.
    pub answer_id: Option<String>,
    /// Version of that standard answer; a retired one makes the draft stale.
    pub answer_version: Option<i64>,
    /// The prepared reply with the citizen's real values; pages mask it until a reveal.
    pub draft_text: Option<String>,
    /// Knowledge-base documents that matched, shown as the reasons for the draft.
    pub passages: Vec<Hit>,
    /// Without a draft: the request types the model hesitated between; empty otherwise.
    pub candidates: Vec<Candidate>,
    /// Triage's suggestion to close without a reply; `None` when a reply is needed.
    pub close_suggestion: Option<CloseReason>,
    /// When triage ran, Unix milliseconds.
    pub created_at: Millis,
}

// ---------------------------------------------------------------- actions

/// An agent validates a reply: what goes into the outbox.
#[derive(Debug, Clone)]
pub struct ValidateReply {
    /// Row id in `messages` of the message answered.
    pub message_id: i64,
    /// Row id in `users` of the validating agent, who must have access to the mailbox.
    pub user_id: i64,
    /// Exactly the text that will be sent.
    pub body: String,
    /// Generated once by the caller (e.g. `<uuid@mailbox-domain>`), reused on retries.
    pub reply_message_id: String,
    /// Recipient: the sender, or a usable Reply-To.
    pub to_address: String,
    /// Subject of the reply.
    pub subject: String,
    /// Message-ID answered, without brackets; `None` when the original had only a made-up one.
    pub in_reply_to: Option<String>,
    /// `References` of the reply, without brackets: the original's, then its Message-ID.
    pub references: Vec<String>,
    /// How long the outbox holds the reply before a sender may take it: the
    /// agent's window to take it back ([`Store::cancel_send`](crate::Store::cancel_send)).
    pub send_delay_ms: Millis,
}

/// A reply taken back during its send delay: the text returns to the agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CancelledSend {
    /// Row id in `agent_actions` of the `undo_send` action.
    pub action_id: i64,
    /// The reply text as validated, for the agent to edit again.
    pub body: String,
    /// The open state the message went back to.
    pub state: MessageState,
}

/// One row of `agent_actions`: what an agent did, for the timeline and for training.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRecord {
    /// Row id in `agent_actions`; training examples from feedback are keyed by it.
    pub id: i64,
    /// Row id in `messages` acted on.
    pub message_id: i64,
    /// Row id in `users` of the agent who acted.
    pub user_id: i64,
    /// When, Unix milliseconds.
    pub at: Millis,
    /// The `AgentActionKind` code, kept as stored.
    pub kind: String,
    /// What the action started from, as JSON: state, category, assignee, latest triage id.
    pub before: Value,
    /// What it left, as JSON: state, category, assignee, plus the kind's facts (reason, `edited`, outbox id…).
    pub after: Value,
    /// Model version of the latest triage when the action was taken.
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

/// A validated reply in the outbox, row of `outbox`: at most one per message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxItem {
    /// Row id in `outbox`.
    pub id: i64,
    /// Row id in `messages` of the message answered.
    pub message_id: i64,
    /// Message-ID of the reply, generated once and reused on every retry.
    pub reply_message_id: String,
    /// Recipient address.
    pub to_address: String,
    /// Subject of the reply.
    pub subject: String,
    /// Message-ID answered, without brackets.
    pub in_reply_to: Option<String>,
    /// `References` of the reply, without brackets, oldest first.
    pub references: Vec<String>,
    /// Exactly the validated text.
    pub body: String,
    /// Row id in `users` of the agent who validated it.
    pub validated_by: i64,
    /// That agent's display name at validation time.
    pub validated_by_name: String,
    /// Where the reply is in the outbox.
    pub state: OutboxState,
    /// Send attempts so far, counted when a sender claims the reply.
    pub attempts: i64,
    /// Error of the last failed attempt, as the relay gave it (may quote an address).
    pub last_error: Option<String>,
    /// When a sender may next take it, Unix milliseconds; `None` once sent or failed for good.
    pub next_attempt_at: Option<Millis>,
    /// Name of the worker holding the reply while sending; `None` when not claimed.
    pub lease_owner: Option<String>,
    /// When that lease lapses and another worker may take over, Unix milliseconds.
    pub lease_until: Option<Millis>,
    /// When the SMTP server accepted it, Unix milliseconds.
    pub sent_at: Option<Millis>,
    /// When it was validated and queued, Unix milliseconds.
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
    /// When the bounce was recorded, Unix milliseconds.
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
    /// The outbox row.
    pub item: OutboxItem,
    /// Display name of the answered mail's sender; `None` when it had none.
    pub from_name: Option<String>,
}

// ---------------------------------------------------------------- versions

/// A new version of a standard answer to store, from the answer editor or a CLI import.
#[derive(Debug, Clone)]
pub struct NewAnswerVersion {
    /// Id of the standard answer, shared by its versions and language variants.
    pub answer_id: String,
    /// Title shown to agents and supervisors.
    pub title: String,
    /// ISO 639-1 code of this variant (`fr`, `en`).
    pub language: String,
    /// The whole answer file: TOML front matter and Markdown body.
    pub content: String,
    /// First day the answer may be proposed, `YYYY-MM-DD`.
    pub valid_from: Option<String>,
    /// Last day the answer may be proposed (inclusive), `YYYY-MM-DD`.
    pub valid_until: Option<String>,
    /// Row id in `users` of the author; `None` for an import by the CLI.
    pub author_id: Option<i64>,
}

/// One stored version of a standard answer, row of `answer_versions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerVersion {
    /// Id of the standard answer, shared by its versions and language variants.
    pub answer_id: String,
    /// Version number, from 1, counted per answer across languages.
    pub version: i64,
    /// Draft, validated (in force) or retired.
    pub status: facteur_core::AnswerStatus,
    /// Title shown to agents and supervisors.
    pub title: String,
    /// ISO 639-1 code of this variant (`fr`, `en`).
    pub language: String,
    /// The whole answer file: TOML front matter and Markdown body.
    pub content: String,
    /// First day the answer may be proposed, `YYYY-MM-DD`.
    pub valid_from: Option<String>,
    /// Last day the answer may be proposed (inclusive), `YYYY-MM-DD`.
    pub valid_until: Option<String>,
    /// Row id in `users` of the author; `None` for an import by the CLI.
    pub author_id: Option<i64>,
    /// When this version was stored, Unix milliseconds.
    pub created_at: Millis,
    /// When its author submitted it for validation; `None` while it is a draft
    /// being written (and for versions imported by the CLI).
    pub submitted_at: Option<Millis>,
}

/// A trained classifier version, row of `model_versions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    /// Version name, `m<YYYYMMDD-HHMMSS>-<hash>`: also its folder under the models directory.
    pub id: String,
    /// When it was registered, Unix milliseconds.
    pub created_at: Millis,
    /// Candidate, active (used by triage) or retired.
    pub status: ModelStatus,
    /// The training record as JSON: example counts, taxonomy, evaluation.
    pub metrics: Value,
    /// Row id in `users` of who trained it; `None` when no user was named (e.g. a CLI run without one).
    pub trained_by: Option<i64>,
    /// Row id in `users` of who last promoted it.
    pub promoted_by: Option<i64>,
    /// When it was last promoted, Unix milliseconds.
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
