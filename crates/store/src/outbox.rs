//! The outbox: validated replies waiting for SMTP, claimed with a lease so that
//! several senders (several processes on PostgreSQL) never send the same reply
//! twice while all are alive, and a crashed sender's claim expires.
//!
//! Claiming is one statement: `UPDATE … WHERE id = (SELECT … LIMIT 1)`; on
//! PostgreSQL the inner select carries `FOR UPDATE SKIP LOCKED` so concurrent
//! claimers pick different rows instead of queueing on the same one.

use std::time::Duration;

use facteur_core::{AgentActionKind, MessageState, OutboxState};
use serde_json::json;

use crate::audit::audit_append;
use crate::error::{OpContext, StoreError, StoreResult};
use crate::messages::parse_state as parse_message_state;
use crate::people::ACCESS_SQL;
use crate::{
    with_pool, Backend, BeginWrite, CancelledSend, Millis, OutboxItem, OutboxListing, Store,
    Undelivered,
};

/// Until when a reply is still held in its send delay (queued, never tried,
/// not yet due): the one rule for "can it be taken back", used by
/// [`Store::cancel_send`] and [`OutboxItem::held_until`].
fn held_until(
    state: OutboxState,
    attempts: i64,
    next_attempt_at: Option<Millis>,
    now: Millis,
) -> Option<Millis> {
    next_attempt_at.filter(|t| state == OutboxState::Queued && attempts == 0 && *t > now)
}

impl OutboxItem {
    /// When the send delay of this reply ends, while it can still be taken back.
    pub fn held_until(&self, now: Millis) -> Option<Millis> {
        held_until(self.state, self.attempts, self.next_attempt_at, now)
    }
}

/// A reply and its message as [`Store::cancel_send`] reads them.
#[derive(sqlx::FromRow)]
struct HeldReply {
    outbox_id: i64,
    body: String,
    state: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    mailbox_id: i64,
    message_state: String,
    /// The `before` of the latest validation: the state to return to.
    validated_before: Option<String>,
}

/// After this many attempts a failure is treated as permanent.
pub const MAX_SEND_ATTEMPTS: i64 = 12;
const BACKOFF_BASE_MS: i64 = 30_000;
const BACKOFF_MAX_MS: i64 = 3_600_000;

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    message_id: i64,
    reply_message_id: String,
    to_address: String,
    subject: String,
    in_reply_to: Option<String>,
    references_hdr: String,
    body: String,
    validated_by: i64,
    validated_by_name: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: Option<i64>,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    sent_at: Option<i64>,
    created_at: i64,
    handed_off_at: Option<i64>,
    delivery_confirmed_at: Option<i64>,
    undelivered_at: Option<i64>,
    undelivered_status: Option<String>,
    undelivered_diagnostic: Option<String>,
    undelivered_by_message: Option<i64>,
}

/// An outbox row joined with the answered message's sender name.
#[derive(sqlx::FromRow)]
struct ListingRow {
    #[sqlx(flatten)]
    row: OutboxRow,
    from_name: Option<String>,
}

const OUTBOX_COLS: &str = "id, message_id, reply_message_id, to_address, subject, in_reply_to, \
    references_hdr, body, validated_by, validated_by_name, state, attempts, last_error, \
    next_attempt_at, lease_owner, lease_until, sent_at, created_at, handed_off_at, delivery_confirmed_at, \
    undelivered_at, undelivered_status, undelivered_diagnostic, undelivered_by_message";

impl OutboxRow {
    fn into_item(self) -> StoreResult<OutboxItem> {
        let state = OutboxState::parse(&self.state).ok_or_else(|| StoreError::Corrupt {
            op: format!("read outbox {}", self.id),
            detail: format!("unknown state '{}'", self.state),
        })?;
        Ok(OutboxItem {
            id: self.id,
            message_id: self.message_id,
            reply_message_id: self.reply_message_id,
            to_address: self.to_address,
            subject: self.subject,
            in_reply_to: self.in_reply_to,
            references: self
                .references_hdr
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            body: self.body,
            validated_by: self.validated_by,
            validated_by_name: self.validated_by_name,
            state,
            attempts: self.attempts,
            last_error: self.last_error,
            next_attempt_at: self.next_attempt_at,
            lease_owner: self.lease_owner,
            lease_until: self.lease_until,
            sent_at: self.sent_at,
            created_at: self.created_at,
            handed_off_at: self.handed_off_at,
            delivery_confirmed_at: self.delivery_confirmed_at,
            undelivered: self.undelivered_at.map(|at| Undelivered {
                at,
                status: self.undelivered_status,
                diagnostic: self.undelivered_diagnostic,
                bounce_message: self.undelivered_by_message,
            }),
        })
    }
}

/// Exponential backoff after `attempts` tries: 30 s, 1 min, 2 min… capped at 1 h.
pub fn retry_delay_ms(attempts: i64) -> Millis {
    let shift = attempts.saturating_sub(1).clamp(0, 20) as u32;
    BACKOFF_BASE_MS
        .saturating_mul(1i64 << shift)
        .min(BACKOFF_MAX_MS)
}

impl Store {
    /// Take the next due reply (queued, retryable failure whose time has come, or
    /// a sending one whose lease expired) and lease it to `worker`.
    pub async fn claim_outbox(
        &self,
        worker: &str,
        lease: Duration,
    ) -> StoreResult<Option<OutboxItem>> {
        let now = self.now_ms();
        let until = now.saturating_add(lease.as_millis() as i64);
        let skip = match self.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE outbox SET state = 'sending', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1 \
             WHERE id = (SELECT id FROM outbox WHERE \
               (state IN ('queued', 'failed') AND next_attempt_at IS NOT NULL AND next_attempt_at <= $3) \
               OR (state = 'sending' AND lease_until < $3) \
             ORDER BY id LIMIT 1{skip}) \
             RETURNING {OUTBOX_COLS}"
        );
        let op = || format!("claim outbox for worker '{worker}'");
        let row: Option<OutboxRow> = with_pool!(self, p => {
            sqlx::query_as(&sql)
                .bind(worker)
                .bind(until)
                .bind(now)
                .fetch_optional(p)
                .await
                .op(op)
        })?;
        row.map(OutboxRow::into_item).transpose()
    }

    /// One outbox row by its id; `None` when unknown.
    pub async fn get_outbox(&self, id: i64) -> StoreResult<Option<OutboxItem>> {
        let row: Option<OutboxRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {OUTBOX_COLS} FROM outbox WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
                .op(|| format!("get outbox {id}"))
        })?;
        row.map(OutboxRow::into_item).transpose()
    }

    /// The reply validated for a message, if any: there is at most one.
    pub async fn get_outbox_for_message(&self, message_id: i64) -> StoreResult<Option<OutboxItem>> {
        let row: Option<OutboxRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {OUTBOX_COLS} FROM outbox WHERE message_id = $1"))
                .bind(message_id)
                .fetch_optional(p)
                .await
                .op(|| format!("get outbox of message {message_id}"))
        })?;
        row.map(OutboxRow::into_item).transpose()
    }

    /// Take back a validated reply while the outbox still holds it (queued, never
    /// tried, its send delay not over): the outbox row goes, the message returns
    /// to the state it had before the validation, and the text goes back to the
    /// agent in the action row (never in the audit log). One transaction, and the
    /// row is locked like a sender's claim, so a reply is either taken back or
    /// sent, never both. `InvalidState` when it is too late.
    pub async fn cancel_send(&self, message_id: i64, user_id: i64) -> StoreResult<CancelledSend> {
        let now = self.now_ms();
        let op = || format!("take back the reply to message {message_id} by user {user_id}");
        let lock = self.row_lock_suffix();
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let row: Option<HeldReply> =
                sqlx::query_as(&format!(
                    "SELECT o.id AS outbox_id, o.body, o.state, o.attempts, o.next_attempt_at, m.mailbox_id, \
                     m.state AS message_state, \
                     (SELECT a.before FROM agent_actions a WHERE a.message_id = m.id AND a.kind = 'validate_send' \
                      ORDER BY a.id DESC LIMIT 1) AS validated_before \
                     FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.message_id = $1{lock}"
                ))
                .bind(message_id)
                .fetch_optional(&mut *tx)
                .await
                .op(op)?;
            let Some(HeldReply { outbox_id, body, state, attempts, next_attempt_at: next_at, mailbox_id, message_state: msg_state, validated_before: before }) = row else {
                return Err(StoreError::NotFound { op: op() });
            };
            let allowed: i64 = sqlx::query_scalar(ACCESS_SQL)
                .bind(user_id)
                .bind(mailbox_id)
                .fetch_one(&mut *tx)
                .await
                .op(op)?;
            if allowed == 0 {
                tx.rollback().await.op(op)?;
                return Err(StoreError::Forbidden { op: op() });
            }
            let held = OutboxState::parse(&state)
                .is_some_and(|st| held_until(st, attempts, next_at, now).is_some());
            if !held {
                // Release the row lock now: a dropped transaction rolls back
                // only when its connection is next used, and meanwhile a
                // sender's `SKIP LOCKED` claim would pass over the due reply.
                tx.rollback().await.op(op)?;
                return Err(StoreError::InvalidState { op: op(), state });
            }
            let validated = parse_message_state(&msg_state, message_id)?;
            // Back to where the validation found it; a message validated from an
            // unknown state goes back to the agents' "to validate" tab.
            let restored = before
                .as_deref()
                .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
                .and_then(|b| b.get("state").and_then(|s| s.as_str()).and_then(MessageState::parse))
                .filter(|s| s.is_open())
                .unwrap_or(MessageState::ReadyToValidate);
            let gone = sqlx::query("DELETE FROM outbox WHERE id = $1 AND state = 'queued' AND attempts = 0")
                .bind(outbox_id)
                .execute(&mut *tx)
                .await
                .op(op)?;
            if gone.rows_affected() != 1 {
                return Err(StoreError::InvalidState { op: op(), state: "sending".into() });
            }
            sqlx::query("UPDATE messages SET state = $1, updated_at = $2 WHERE id = $3")
                .bind(restored.as_str())
                .bind(now)
                .bind(message_id)
                .execute(&mut *tx)
                .await
                .op(op)?;
            let before = json!({"state": validated.as_str(), "outbox_id": outbox_id});
            let after = json!({"state": restored.as_str(), "text": body});
            let action_id: i64 = sqlx::query_scalar(
                "INSERT INTO agent_actions (message_id, user_id, at, kind, before, after, model_version) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL) RETURNING id",
            )
            .bind(message_id)
            .bind(user_id)
            .bind(now)
            .bind(AgentActionKind::UndoSend.as_str())
            .bind(before.to_string())
            .bind(after.to_string())
            .fetch_one(&mut *tx)
            .await
            .op(op)?;
            // States and ids only: the text stays out of the audit log.
            let details = json!({
                "kind": AgentActionKind::UndoSend.as_str(),
                "action_id": action_id,
                "outbox_id": outbox_id,
                "before": {"state": validated.as_str()},
                "after": {"state": restored.as_str()},
            });
            audit_append!(self, tx, now, format!("user:{user_id}"), "message.undo_send",
                format!("message:{message_id}"), details).op(op)?;
            tx.commit().await.op(op)?;
            Ok(CancelledSend { action_id, body, state: restored })
        })
    }

    /// The SMTP server accepted the reply. Only the current lease holder may say
    /// so: a worker whose lease expired and was taken over gets `Conflict`.
    pub async fn mark_sent(&self, outbox_id: i64, worker: &str) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("mark outbox {outbox_id} sent by worker '{worker}'");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let message_id: Option<i64> = sqlx::query_scalar(
                "UPDATE outbox SET state = 'sent', sent_at = $1, lease_owner = NULL, lease_until = NULL, \
                 next_attempt_at = NULL, last_error = NULL \
                 WHERE id = $2 AND state = 'sending' AND lease_owner = $3 RETURNING message_id",
            )
            .bind(now)
            .bind(outbox_id)
            .bind(worker)
            .fetch_optional(&mut *tx)
            .await
            .op(op)?;
            let Some(message_id) = message_id else {
                return Err(StoreError::Conflict { op: op(), detail: "not leased by this worker".into() });
            };
            sqlx::query("UPDATE messages SET state = $1, updated_at = $2 WHERE id = $3")
                .bind(MessageState::Sent.as_str())
                .bind(now)
                .bind(message_id)
                .execute(&mut *tx)
                .await
                .op(op)?;
            audit_append!(self, tx, now, format!("worker:{worker}"), "outbox.sent",
                format!("outbox:{outbox_id}"), json!({"message": message_id})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    /// The attempt failed with a known outcome (the server refused, or nothing
    /// was handed off): the hand-off marker is cleared. A retryable failure is
    /// rescheduled with backoff; a permanent one (or too many attempts) stays
    /// `failed` with no next attempt, for a person to look at. `error` is kept on
    /// the row, never logged.
    pub async fn mark_failed(
        &self,
        outbox_id: i64,
        worker: &str,
        permanent: bool,
        error: &str,
    ) -> StoreResult<()> {
        self.fail_outbox(outbox_id, worker, permanent, error, true)
            .await
    }

    /// The attempt failed *after* the hand-off marker was set and before the
    /// server answered: the reply may have been delivered. It is rescheduled like
    /// a retryable failure but the marker is kept, so the retry reconciles
    /// instead of sending a second copy.
    pub async fn mark_send_uncertain(
        &self,
        outbox_id: i64,
        worker: &str,
        error: &str,
    ) -> StoreResult<()> {
        self.fail_outbox(outbox_id, worker, false, error, false)
            .await
    }

    async fn fail_outbox(
        &self,
        outbox_id: i64,
        worker: &str,
        permanent: bool,
        error: &str,
        clear_marker: bool,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("mark outbox {outbox_id} failed by worker '{worker}'");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let attempts: Option<i64> = sqlx::query_scalar(
                "SELECT attempts FROM outbox WHERE id = $1 AND state = 'sending' AND lease_owner = $2",
            )
            .bind(outbox_id)
            .bind(worker)
            .fetch_optional(&mut *tx)
            .await
            .op(op)?;
            let Some(attempts) = attempts else {
                return Err(StoreError::Conflict { op: op(), detail: "not leased by this worker".into() });
            };
            let permanent = permanent || attempts >= MAX_SEND_ATTEMPTS;
            let next: Option<i64> = if permanent { None } else { Some(now.saturating_add(retry_delay_ms(attempts))) };
            sqlx::query(
                "UPDATE outbox SET state = 'failed', last_error = $1, next_attempt_at = $2, \
                 lease_owner = NULL, lease_until = NULL, \
                 handed_off_at = CASE WHEN $4 THEN NULL ELSE handed_off_at END WHERE id = $3",
            )
            .bind(error)
            .bind(next)
            .bind(outbox_id)
            .bind(clear_marker)
            .execute(&mut *tx)
            .await
            .op(op)?;
            audit_append!(self, tx, now, format!("worker:{worker}"), "outbox.failed",
                format!("outbox:{outbox_id}"), json!({"permanent": permanent, "attempts": attempts, "uncertain": !clear_marker})).op(op)?;
            tx.commit().await.op(op)?;
            tracing::warn!(outbox = outbox_id, attempts, permanent, "send attempt failed");
            Ok(())
        })
    }

    /// Record that the complete reply of `outbox_id` is about to be committed to
    /// the SMTP server (the end-of-data dot goes next). Only the lease holder may
    /// (`Conflict` otherwise). Durable on return: on SQLite this one write is
    /// made with `synchronous = FULL` (the pool runs NORMAL, which may lose the
    /// last commits on power loss); PostgreSQL commits are durable already.
    pub async fn mark_outbox_handed_off(&self, outbox_id: i64, worker: &str) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("mark outbox {outbox_id} handed off by worker '{worker}'");
        const SQL: &str = "UPDATE outbox SET handed_off_at = $1 \
             WHERE id = $2 AND state = 'sending' AND lease_owner = $3";
        let n = match &self.pool {
            crate::Pool::Sqlite(p) => {
                let mut conn = p.acquire().await.op(op)?;
                sqlx::query("PRAGMA synchronous = FULL")
                    .execute(&mut *conn)
                    .await
                    .op(op)?;
                let r = sqlx::query(SQL)
                    .bind(now)
                    .bind(outbox_id)
                    .bind(worker)
                    .execute(&mut *conn)
                    .await;
                let reset = sqlx::query("PRAGMA synchronous = NORMAL")
                    .execute(&mut *conn)
                    .await;
                if reset.is_err() {
                    // A connection left in FULL is only slower; do not return it.
                    conn.detach();
                }
                r.op(op)?.rows_affected()
            }
            crate::Pool::Postgres(p) => sqlx::query(SQL)
                .bind(now)
                .bind(outbox_id)
                .bind(worker)
                .execute(p)
                .await
                .op(op)?
                .rows_affected(),
        };
        if n == 0 {
            return Err(StoreError::Conflict {
                op: op(),
                detail: "not leased by this worker".into(),
            });
        }
        Ok(())
    }

    /// The outbox row whose reply carries this Message-ID (given with or without
    /// angle brackets, stored either way).
    pub async fn find_outbox_by_reply_id(
        &self,
        message_id: &str,
    ) -> StoreResult<Option<OutboxItem>> {
        let bare = message_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        if bare.is_empty() {
            return Ok(None);
        }
        let bracketed = format!("<{bare}>");
        let row: Option<OutboxRow> = with_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {OUTBOX_COLS} FROM outbox WHERE reply_message_id IN ($1, $2) LIMIT 1"
            ))
            .bind(bare)
            .bind(&bracketed)
            .fetch_optional(p)
            .await
            .op(|| "find outbox by reply Message-ID".to_string())
        })?;
        row.map(OutboxRow::into_item).transpose()
    }

    /// Record the server-side proof that a reply left: its copy came back through
    /// the service's own mailbox (`how` says where it was seen). Idempotent: `true`
    /// only the first time, which is also the only time it is audited.
    pub async fn confirm_outbox_delivery(
        &self,
        outbox_id: i64,
        actor: &str,
        how: &str,
    ) -> StoreResult<bool> {
        let now = self.now_ms();
        let op = || format!("confirm delivery of outbox {outbox_id}");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let n = sqlx::query(
                "UPDATE outbox SET delivery_confirmed_at = $1 \
                 WHERE id = $2 AND delivery_confirmed_at IS NULL",
            )
            .bind(now)
            .bind(outbox_id)
            .execute(&mut *tx)
            .await
            .op(op)?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            audit_append!(self, tx, now, actor.to_string(), "outbox.delivery_confirmed",
                format!("outbox:{outbox_id}"), json!({"seen": how})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(true)
        })
    }

    /// A bounce reported this reply as not delivered: the row becomes
    /// `undelivered` ("non distribuée") with the status and the diagnostic (the
    /// caller masks its personal data), linked to the stored bounce message.
    /// Only a reply that left (or was handed off) can bounce. Idempotent: `true`
    /// only the first time, which is also the only time it is audited (status
    /// only: the diagnostic may name the recipient).
    pub async fn mark_outbox_undelivered(
        &self,
        outbox_id: i64,
        status: Option<&str>,
        diagnostic: Option<&str>,
        bounce_message: i64,
    ) -> StoreResult<bool> {
        let now = self.now_ms();
        let op = || format!("mark outbox {outbox_id} undelivered by message {bounce_message}");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let n = sqlx::query(
                "UPDATE outbox SET state = $1, undelivered_at = $2, undelivered_status = $3, \
                 undelivered_diagnostic = $4, undelivered_by_message = $5, lease_owner = NULL, \
                 lease_until = NULL, next_attempt_at = NULL \
                 WHERE id = $6 AND undelivered_at IS NULL \
                 AND (state = $7 OR handed_off_at IS NOT NULL)",
            )
            .bind(OutboxState::Undelivered.as_str())
            .bind(now)
            .bind(status)
            .bind(diagnostic)
            .bind(bounce_message)
            .bind(outbox_id)
            .bind(OutboxState::Sent.as_str())
            .execute(&mut *tx)
            .await
            .op(op)?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            audit_append!(self, tx, now, "system".to_string(), "outbox.undelivered",
                format!("outbox:{outbox_id}"),
                json!({"status": status, "bounce_message": bounce_message})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(true)
        })
    }

    /// A delivery check found no copy of a handed-off reply after the grace
    /// period: the end-of-data dot never reached the server. The lease holder
    /// clears the hand-off marker (audited with `reason`) and may send again.
    pub async fn clear_outbox_hand_off(
        &self,
        outbox_id: i64,
        worker: &str,
        reason: &str,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("clear hand-off of outbox {outbox_id} by worker '{worker}'");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let n = sqlx::query(
                "UPDATE outbox SET handed_off_at = NULL \
                 WHERE id = $1 AND state = 'sending' AND lease_owner = $2 \
                 AND delivery_confirmed_at IS NULL",
            )
            .bind(outbox_id)
            .bind(worker)
            .execute(&mut *tx)
            .await
            .op(op)?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict {
                    op: op(),
                    detail: "not leased by this worker, or its delivery is confirmed".into(),
                });
            }
            audit_append!(self, tx, now, format!("worker:{worker}"), "outbox.not_delivered",
                format!("outbox:{outbox_id}"), json!({"reason": reason})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    /// Outbox rows, newest first. `mailbox_ids: None` = all mailboxes
    /// (supervisors); agents pass theirs.
    pub async fn list_outbox(
        &self,
        mailbox_ids: Option<&[i64]>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        Ok(self
            .list_outbox_with_senders(mailbox_ids, limit)
            .await?
            .into_iter()
            .map(|l| l.item)
            .collect())
    }

    /// Outbox rows as the outbox page and API show them, newest first: each with
    /// the sender's display name of the message it answers, so its subject is
    /// pseudonymised with the same known name as on the message page.
    pub async fn list_outbox_with_senders(
        &self,
        mailbox_ids: Option<&[i64]>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxListing>> {
        self.outbox_listing(mailbox_ids, None, limit).await
    }

    /// Outbox rows in one state, newest first, at most `limit`. The filter is in the
    /// query: filtering a newest-first page afterwards (as `facteur outbox --state`
    /// once did) hides an old failed reply behind `limit` newer sent ones.
    pub async fn list_outbox_in_state(
        &self,
        state: OutboxState,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        Ok(self
            .outbox_listing(None, Some(state), limit)
            .await?
            .into_iter()
            .map(|l| l.item)
            .collect())
    }

    /// The one outbox listing query, newest first: optionally only some mailboxes'
    /// replies, optionally only one state.
    async fn outbox_listing(
        &self,
        mailbox_ids: Option<&[i64]>,
        state: Option<OutboxState>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxListing>> {
        let limit = i64::from(limit.clamp(1, 1000));
        let cols = OUTBOX_COLS
            .split(", ")
            .map(|c| format!("o.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        // $1 is the limit, then the state if any, then the mailbox ids.
        let mut filters = Vec::new();
        let mut next = 2;
        if state.is_some() {
            filters.push(format!("o.state = ${next}"));
            next += 1;
        }
        match mailbox_ids {
            None => {}
            Some([]) => return Ok(Vec::new()),
            Some(ids) => {
                let ph = (next..next + ids.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                filters.push(format!("m.mailbox_id IN ({ph})"));
            }
        }
        let filter = if filters.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filters.join(" AND "))
        };
        let sql = format!(
            "SELECT {cols}, m.from_name AS from_name FROM outbox o JOIN messages m ON m.id = o.message_id\
             {filter} ORDER BY o.id DESC LIMIT $1"
        );
        let op = || match state {
            Some(st) => format!("list outbox in state {st}"),
            None => "list outbox".to_string(),
        };
        let rows: Vec<ListingRow> = with_pool!(self, p => {
            let mut q = sqlx::query_as::<_, ListingRow>(&sql).bind(limit);
            if let Some(st) = state {
                q = q.bind(st.as_str());
            }
            for id in mailbox_ids.unwrap_or_default() {
                q = q.bind(*id);
            }
            q.fetch_all(p).await.op(op)
        })?;
        rows.into_iter()
            .map(|r| {
                Ok(OutboxListing {
                    item: r.row.into_item()?,
                    from_name: r.from_name,
                })
            })
            .collect()
    }

    /// Count of outbox rows per state (dashboards, health checks).
    pub async fn outbox_count(&self, state: OutboxState) -> StoreResult<i64> {
        with_pool!(self, p => {
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = $1")
                .bind(state.as_str())
                .fetch_one(p)
                .await
                .op(|| format!("count outbox in state {state}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps() {
        assert_eq!(retry_delay_ms(1), 30_000);
        assert_eq!(retry_delay_ms(2), 60_000);
        assert_eq!(retry_delay_ms(3), 120_000);
        assert_eq!(retry_delay_ms(50), BACKOFF_MAX_MS);
        assert_eq!(retry_delay_ms(0), 30_000);
    }
}
