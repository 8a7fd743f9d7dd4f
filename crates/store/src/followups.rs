//! The same citizen writing again: a follow-up, a reminder, the same question
//! sent three times in a week. Each message carries keyed hashes of who wrote it
//! (the normalised sender address, any valid fiscal number quoted), so the
//! message page can show the citizen's history and spot a repeat of an open
//! request, without the store ever holding an identifier it could give back.
//!
//! The key is derived from the audit key, which lives in a file outside the
//! database (`audit_key_file`): a copy of the database alone cannot tell whose
//! messages these are, nor be searched with a guessed address. A store opened
//! without that key links nothing.

use facteur_core::{MessageState, OutboxState};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::json;

use crate::audit::audit_append;
use crate::error::{OpContext, StoreError, StoreResult};
use crate::{with_pool, BeginWrite, Millis, Store};

/// The most messages a history lists: a sender writing daily for a month is
/// still one screen.
const HISTORY_LIMIT: i64 = 50;

/// Another message of the same citizen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CitizenMessage {
    /// Row id in `messages`.
    pub id: i64,
    /// The mailbox it arrived in: pages list only the ones the agent may open.
    pub mailbox_id: i64,
    /// Arrival time, Unix milliseconds.
    pub received_at: Millis,
    /// Where it stands now.
    pub state: MessageState,
    /// Its request type; `None` when unknown.
    pub category: Option<String>,
    /// Subject as written; pages show `subject_pseudonymised` before a reveal.
    pub subject: String,
    /// Subject as triage masked it; `None` before its first triage.
    pub subject_pseudonymised: Option<String>,
    /// Sender's display name, for masking the subject of an untriaged message.
    pub from_name: Option<String>,
    /// The pseudonymised new text, compared to spot a repeat.
    pub pseudonymised_text: String,
    /// The open message it repeats, when it was found to be a duplicate.
    pub duplicate_of: Option<i64>,
    /// The reply it got, when one was validated.
    pub reply: Option<SentReply>,
}

/// The reply a message got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentReply {
    /// Row id in `outbox`.
    pub outbox_id: i64,
    /// Sent, waiting, failed or undelivered.
    pub state: OutboxState,
    /// Exactly the text validated, with the citizen's real values: pages mask it.
    pub body: String,
    /// When the relay accepted it; `None` until then.
    pub sent_at: Option<Millis>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    mailbox_id: i64,
    received_at: i64,
    state: String,
    category: Option<String>,
    subject: String,
    subject_pseudonymised: Option<String>,
    from_name: Option<String>,
    pseudonymised_text: String,
    duplicate_of: Option<i64>,
    outbox_id: Option<i64>,
    outbox_state: Option<String>,
    body: Option<String>,
    sent_at: Option<i64>,
}

impl Store {
    /// The keyed hashes of `ids` (`address:…`, `fiscal:…`), deduplicated; empty
    /// without an audit key. Why HMAC rather than a plain hash: an address is
    /// guessable, and a plain SHA-256 of it is a lookup away from the address.
    pub(crate) fn citizen_hashes(&self, ids: &[String]) -> Vec<String> {
        let Some(key) = &self.audit_key else {
            if !ids.is_empty() {
                tracing::debug!("no audit key: the citizen's messages are not linked");
            }
            return Vec::new();
        };
        let Ok(mut derive) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key.key) else {
            return Vec::new();
        };
        derive.update(b"facteur/citizen-key/v1");
        let citizen_key = derive.finalize().into_bytes();
        let mut out: Vec<String> = ids
            .iter()
            .filter_map(|id| {
                let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&citizen_key).ok()?;
                m.update(id.as_bytes());
                Some(hex::encode(m.finalize().into_bytes()))
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The other messages sharing a citizen key with `message_id`, received
    /// within `window_ms` before or after it, oldest first, each with the reply
    /// it got. Empty when the message has no keys (no audit key, or triaged
    /// before keys were kept).
    pub async fn same_citizen(
        &self,
        message_id: i64,
        window_ms: Millis,
    ) -> StoreResult<Vec<CitizenMessage>> {
        let op = || format!("list the other messages of message {message_id}'s citizen");
        // This message's few keys first, then the index on (key_hash,
        // received_at) for each: on PostgreSQL a LATERAL join says so (`OFFSET 0`
        // keeps the planner from flattening it), for a planner misled by a table
        // that grew faster than its statistics (during a bulk ingest it chose a
        // hash join over the whole table, per message: 3.9 ms against 0.4 ms at
        // 9,000 keys, and growing). SQLite's planner walks the keys that way by
        // itself.
        let others = match self.backend() {
            crate::Backend::Sqlite => {
                "SELECT k.message_id FROM citizen_keys k \
                 JOIN citizen_keys mine ON mine.key_hash = k.key_hash AND mine.message_id = $1 \
                 WHERE k.message_id <> $1 \
                 AND k.received_at >= mine.received_at - $2 AND k.received_at <= mine.received_at + $2"
            }
            crate::Backend::Postgres => {
                "SELECT k.message_id FROM citizen_keys mine CROSS JOIN LATERAL \
                 (SELECT message_id FROM citizen_keys k WHERE k.key_hash = mine.key_hash \
                  AND k.received_at >= mine.received_at - $2 AND k.received_at <= mine.received_at + $2 \
                  AND k.message_id <> $1 OFFSET 0) k \
                 WHERE mine.message_id = $1"
            }
        };
        let sql = format!(
            "SELECT m.id, m.mailbox_id, m.received_at, m.state, m.category, m.subject, \
             m.subject_pseudonymised, m.from_name, m.pseudonymised_text, m.duplicate_of, \
             o.id AS outbox_id, o.state AS outbox_state, o.body, o.sent_at \
             FROM messages m LEFT JOIN outbox o ON o.message_id = m.id \
             WHERE m.id IN ({others}) \
             ORDER BY m.received_at, m.id LIMIT $3"
        );
        let rows: Vec<Row> = with_pool!(self, p => {
            sqlx::query_as(&sql)
            .bind(message_id)
            .bind(window_ms)
            .bind(HISTORY_LIMIT)
            .fetch_all(p)
            .await
            .op(op)
        })?;
        rows.into_iter()
            .map(|r| {
                let state = crate::messages::parse_state(&r.state, r.id)?;
                let reply = match (r.outbox_id, r.outbox_state) {
                    (Some(outbox_id), Some(s)) => Some(SentReply {
                        outbox_id,
                        state: OutboxState::parse(&s).ok_or_else(|| StoreError::Corrupt {
                            op: op(),
                            detail: format!("unknown outbox state '{s}'"),
                        })?,
                        body: r.body.unwrap_or_default(),
                        sent_at: r.sent_at,
                    }),
                    _ => None,
                };
                Ok(CitizenMessage {
                    id: r.id,
                    mailbox_id: r.mailbox_id,
                    received_at: r.received_at,
                    state,
                    category: r.category,
                    subject: r.subject,
                    subject_pseudonymised: r.subject_pseudonymised,
                    from_name: r.from_name,
                    pseudonymised_text: r.pseudonymised_text,
                    duplicate_of: r.duplicate_of,
                    reply,
                })
            })
            .collect()
    }

    /// Records that `message_id` repeats the open message `of` (audited, by the
    /// system: the rule decided it, an agent confirms by answering).
    pub async fn mark_duplicate(&self, message_id: i64, of: i64) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("mark message {message_id} as a duplicate of {of}");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let n = sqlx::query("UPDATE messages SET duplicate_of = $1, updated_at = $2 WHERE id = $3")
                .bind(of)
                .bind(now)
                .bind(message_id)
                .execute(&mut *tx)
                .await
                .op(op)?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound { op: op() });
            }
            audit_append!(self, tx, now, "system".to_string(), "message.duplicate",
                format!("message:{message_id}"), json!({"of": of})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    /// The open messages that repeat `message_id` or that it repeats, and the
    /// other repeats of the same one: what answering `message_id` may close.
    pub async fn open_duplicates(&self, message_id: i64) -> StoreResult<Vec<i64>> {
        let op = || format!("list the open duplicates of message {message_id}");
        let open: Vec<&str> = MessageState::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| s.as_str())
            .collect();
        let states = open
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT d.id FROM messages d, messages m WHERE m.id = $1 AND d.id <> $1 \
             AND d.state IN ({states}) AND (d.duplicate_of = m.id OR d.id = m.duplicate_of \
             OR (m.duplicate_of IS NOT NULL AND d.duplicate_of = m.duplicate_of)) ORDER BY d.id"
        );
        with_pool!(self, p => {
            sqlx::query_scalar(&sql)
                .bind(message_id)
                .fetch_all(p)
                .await
                .op(op)
        })
    }
}
