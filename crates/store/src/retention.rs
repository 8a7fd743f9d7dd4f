//! Retention of citizens' data: the daily purge.
//!
//! Three stages, each applied to *closed* messages only (`sent` or `closed`:
//! an open or validated message is still being worked on, whatever its age):
//! 1. after `raw_mail_days` from reception, the original mail (`raw`) is emptied;
//! 2. after `message_days` from the last change, everything about the message
//!    goes (subject, sender, parsed mail, drafts, the reply sent) except the
//!    pseudonymised text the classifier read, kept for training;
//! 3. after `training_days` from the last change, the message row itself goes,
//!    with its triage results and agent actions.
//!
//! Work is done in batches (one short transaction each) so a purge never holds
//! the database for long. One audit row per run counts what was removed, with
//! the cutoffs, and never any content: the audit log itself is never purged, so
//! its chain stays verifiable.

use serde::{Deserialize, Serialize};

use crate::error::{OpContext, StoreResult};
use crate::{with_pool, BeginWrite, Millis, Store};

const DAY_MS: i64 = 86_400_000;

/// How long citizens' data is kept, in days. The defaults are the ones the
/// README states; the transparency sheet and `/donnees-personnelles` show the
/// values in force, so this type crosses into the web crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionPolicy {
    /// The original mail as received, of a closed message, counted from its reception.
    pub raw_mail_days: u32,
    /// Everything about a closed message, counted from its last change.
    pub message_days: u32,
    /// The pseudonymised text kept for training, counted from the message's last change.
    pub training_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            raw_mail_days: 90,
            message_days: 365,
            training_days: 730,
        }
    }
}

impl RetentionPolicy {
    /// Each stage removes more than the one before, so its delay must not be
    /// shorter: `0 < raw_mail_days <= message_days <= training_days`.
    pub fn is_ordered(&self) -> bool {
        self.raw_mail_days > 0
            && self.raw_mail_days <= self.message_days
            && self.message_days <= self.training_days
    }
}

/// What one purge run removed (counts only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// Closed messages whose original mail was emptied.
    pub raw_emptied: u64,
    /// Closed messages reduced to their pseudonymised training text.
    pub content_removed: u64,
    /// Closed messages deleted with their triage results and actions.
    pub messages_deleted: u64,
    /// The audit row's seq, when anything was removed.
    pub audit_seq: Option<i64>,
}

impl PurgeReport {
    /// Everything the run changed; zero means nothing was audited.
    pub fn total(&self) -> u64 {
        self.raw_emptied + self.content_removed + self.messages_deleted
    }
}

/// States after which nobody works on a message any more.
const CLOSED: &str = "state IN ('sent', 'closed')";

impl Store {
    /// Apply `policy` now (the store's clock), `batch` messages per transaction.
    /// Idempotent: a second run right after removes nothing and writes no audit row.
    pub async fn purge_expired(
        &self,
        policy: &RetentionPolicy,
        batch: u32,
    ) -> StoreResult<PurgeReport> {
        let now = self.now_ms();
        let cutoff = |days: u32| now.saturating_sub(i64::from(days) * DAY_MS);
        let (raw_cut, content_cut, training_cut) = (
            cutoff(policy.raw_mail_days),
            cutoff(policy.message_days),
            cutoff(policy.training_days),
        );
        let batch = i64::from(batch.max(1));
        let mut report = PurgeReport::default();
        // Deletion first: what goes entirely need not be stripped before.
        loop {
            let ids = self
                .expired_ids("updated_at", training_cut, None, batch)
                .await?;
            if ids.is_empty() {
                break;
            }
            report.messages_deleted += self.delete_messages(&ids).await?;
        }
        loop {
            let ids = self
                .expired_ids("updated_at", content_cut, Some("content_purged_at"), batch)
                .await?;
            if ids.is_empty() {
                break;
            }
            report.content_removed += self.strip_content(&ids, now).await?;
        }
        loop {
            let ids = self
                .expired_ids("received_at", raw_cut, Some("raw_purged_at"), batch)
                .await?;
            if ids.is_empty() {
                break;
            }
            report.raw_emptied += self.empty_raw(&ids, now).await?;
        }
        if report.total() > 0 {
            let details = serde_json::json!({
                "raw_emptied": report.raw_emptied,
                "content_removed": report.content_removed,
                "messages_deleted": report.messages_deleted,
                "raw_received_before": raw_cut,
                "content_changed_before": content_cut,
                "training_changed_before": training_cut,
            });
            report.audit_seq = Some(
                self.audit("system", "retention.purge", "messages", &details)
                    .await?,
            );
        }
        tracing::info!(
            raw = report.raw_emptied,
            content = report.content_removed,
            deleted = report.messages_deleted,
            "retention purge"
        );
        Ok(report)
    }

    /// Ids of closed messages with `time_col < cutoff` (and `not_done_col IS NULL`).
    async fn expired_ids(
        &self,
        time_col: &str,
        cutoff: Millis,
        not_done_col: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<i64>> {
        let pending = not_done_col
            .map(|c| format!(" AND {c} IS NULL"))
            .unwrap_or_default();
        let sql = format!(
            "SELECT id FROM messages WHERE {CLOSED} AND {time_col} < $1{pending} ORDER BY id LIMIT $2"
        );
        let op = || format!("list messages with {time_col} before {cutoff}");
        with_pool!(self, p => {
            sqlx::query_scalar::<_, i64>(&sql).bind(cutoff).bind(limit).fetch_all(p).await.op(op)
        })
    }

    /// Delete messages with everything that refers to them (outbox rows first:
    /// their key has no cascade). Returns the messages deleted.
    pub(crate) async fn delete_messages(&self, ids: &[i64]) -> StoreResult<u64> {
        let list = id_list(ids);
        let op = || format!("delete {} expired messages", ids.len());
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            for sql in [
                format!("DELETE FROM outbox WHERE message_id IN ({list})"),
                format!("DELETE FROM triage_results WHERE message_id IN ({list})"),
                format!("DELETE FROM agent_actions WHERE message_id IN ({list})"),
                format!("DELETE FROM message_views WHERE message_id IN ({list})"),
                format!("DELETE FROM citizen_keys WHERE message_id IN ({list})"),
                format!("DELETE FROM attachment_texts WHERE message_id IN ({list})"),
            ] {
                sqlx::query(&sql).execute(&mut *tx).await.op(op)?;
            }
            let n = sqlx::query(&format!("DELETE FROM messages WHERE id IN ({list})"))
                .execute(&mut *tx).await.op(op)?.rows_affected();
            tx.commit().await.op(op)?;
            Ok(n)
        })
    }

    async fn strip_content(&self, ids: &[i64], now: Millis) -> StoreResult<u64> {
        let list = id_list(ids);
        let op = || format!("remove the content of {} expired messages", ids.len());
        // What stays: ids, mailbox, dates, state, category, flags, the agents'
        // actions (states and categories only) and the pseudonymised text the
        // classifier read. The Message-ID header may name the sender's domain.
        let update = format!(
            "UPDATE messages SET raw = $1, raw_purged_at = COALESCE(raw_purged_at, $2), \
             content_purged_at = $2, message_id = 'purged:' || id, subject = '', subject_pseudonymised = NULL, \
             from_name = NULL, from_address = NULL, date = NULL, thread_id = NULL, parsed = '{{}}', \
             pseudonymised_text = CASE WHEN classify_text IS NULL THEN pseudonymised_text ELSE '' END \
             WHERE id IN ({list})"
        );
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            for sql in [
                format!("DELETE FROM outbox WHERE message_id IN ({list})"),
                format!("DELETE FROM triage_results WHERE message_id IN ({list})"),
                // Who wrote it goes with the content, and what the attachments said.
                format!("DELETE FROM citizen_keys WHERE message_id IN ({list})"),
                format!("DELETE FROM attachment_texts WHERE message_id IN ({list})"),
                // A reply taken back keeps its text in its action row: it goes
                // with the rest of the content, who did it and when stay.
                format!("UPDATE agent_actions SET after = '{{}}' WHERE kind = 'undo_send' AND message_id IN ({list})"),
            ] {
                sqlx::query(&sql).execute(&mut *tx).await.op(op)?;
            }
            let n = sqlx::query(&update).bind(Vec::<u8>::new()).bind(now)
                .execute(&mut *tx).await.op(op)?.rows_affected();
            tx.commit().await.op(op)?;
            Ok(n)
        })
    }

    async fn empty_raw(&self, ids: &[i64], now: Millis) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE messages SET raw = $1, raw_purged_at = $2 WHERE id IN ({})",
            id_list(ids)
        );
        let op = || format!("empty the original mail of {} messages", ids.len());
        with_pool!(self, p => {
            sqlx::query(&sql).bind(Vec::<u8>::new()).bind(now)
                .execute(p).await.op(op).map(|r| r.rows_affected())
        })
    }
}

/// `1,2,3`: ids are integers read from the database, never user input.
pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_ordered_and_disorder_is_refused() {
        assert!(RetentionPolicy::default().is_ordered());
        let bad = RetentionPolicy {
            raw_mail_days: 400,
            ..Default::default()
        };
        assert!(!bad.is_ordered());
        assert!(!RetentionPolicy {
            raw_mail_days: 0,
            ..Default::default()
        }
        .is_ordered());
    }

    #[test]
    fn id_lists_are_plain_integers() {
        assert_eq!(id_list(&[3, 10, -1]), "3,10,-1");
    }
}
