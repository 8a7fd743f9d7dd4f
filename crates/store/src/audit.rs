//! The append-only, hash-chained audit log.
//!
//! Written here rather than taken from a crate because the chain's format is part
//! of what an auditor verifies: hash_n = sha256(hash_{n-1} || canonical(row_n)),
//! where canonical(row) is the compact JSON array
//! `[seq, at, actor, action, target, details]` and `details` is the exact stored
//! string. Changing any byte of a row, or removing a row, breaks the chain.

use serde::Serialize;
use serde_json::Value;

use crate::error::{OpContext, StoreResult};
use crate::{with_pool, Millis, Store};

/// Hash of "nothing before": 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Result of recomputing the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub rows: u64,
    pub ok: bool,
    /// The first row whose link or hash does not match (or the first missing seq).
    pub first_bad_seq: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditDbRow {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    target: String,
    details: String,
    prev_hash: String,
    hash: String,
}

pub(crate) fn chain_hash(
    prev: &str,
    seq: i64,
    at: Millis,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
) -> String {
    let canonical = serde_json::json!([seq, at, actor, action, target, details]).to_string();
    crate::sha256_hex(&[prev.as_bytes(), canonical.as_bytes()])
}

/// Append one audit row inside the caller's transaction `$tx` (a
/// `sqlx::Transaction`). Evaluates to `Result<i64 /*seq*/, sqlx::Error>`.
/// The head row update comes first in the append so concurrent appenders queue
/// on it (row lock on PostgreSQL) instead of forking the chain.
macro_rules! audit_append {
    ($tx:expr, $now:expr, $actor:expr, $action:expr, $target:expr, $details:expr) => {{
        let now: i64 = $now;
        let actor: String = $actor;
        let action: &str = $action;
        let target: String = $target;
        let details: String = $details.to_string();
        async {
            let (seq, prev): (i64, String) = sqlx::query_as(
                "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
            )
            .fetch_one(&mut *$tx)
            .await?;
            let hash =
                $crate::audit::chain_hash(&prev, seq, now, &actor, action, &target, &details);
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(seq)
            .bind(now)
            .bind(&actor)
            .bind(action)
            .bind(&target)
            .bind(&details)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *$tx)
            .await?;
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                .bind(&hash)
                .execute(&mut *$tx)
                .await?;
            Ok::<i64, sqlx::Error>(seq)
        }
        .await
    }};
}
pub(crate) use audit_append;

const VERIFY_BATCH: i64 = 5_000;

impl Store {
    /// Append an audit row on its own (for events that change no other table,
    /// e.g. a login or an export). Details must not hold personal data.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        details: &Value,
    ) -> StoreResult<i64> {
        let now = self.now_ms();
        let op = || format!("append audit '{action}' on {target}");
        with_pool!(self, p => {
            let mut tx = crate::BeginWrite::begin_write(p).await.op(op)?;
            let seq = audit_append!(tx, now, actor.to_string(), action, target.to_string(), details).op(op)?;
            tx.commit().await.op(op)?;
            Ok(seq)
        })
    }

    /// Audit rows after `after_seq`, oldest first.
    pub async fn list_audit(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRow>> {
        let rows = self
            .audit_batch(after_seq, i64::from(limit.min(10_000)))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditRow {
                seq: r.seq,
                at: r.at,
                actor: r.actor,
                action: r.action,
                target: r.target,
                details: crate::types::parse_json(&r.details),
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
            .collect())
    }

    async fn audit_batch(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditDbRow>> {
        let op = || format!("read audit log after seq {after_seq}");
        with_pool!(self, p => {
            sqlx::query_as::<_, AuditDbRow>(
                "SELECT seq, at, actor, action, target, details, prev_hash, hash \
                 FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after_seq)
            .bind(limit)
            .fetch_all(p)
            .await
            .op(op)
        })
    }

    /// Recompute the whole chain. Also compares with the head counter, so rows
    /// cut off the end are detected too.
    pub async fn verify_audit(&self) -> StoreResult<AuditReport> {
        let head_seq: i64 = with_pool!(self, p => {
            sqlx::query_scalar::<_, i64>("SELECT seq FROM audit_head WHERE id = 1")
                .fetch_one(p)
                .await
                .op(|| "read audit head".to_string())
        })?;
        let mut rows = 0u64;
        let mut prev = GENESIS_HASH.to_string();
        let mut expected_seq = 1i64;
        let mut after = 0i64;
        loop {
            let batch = self.audit_batch(after, VERIFY_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for r in &batch {
                rows += 1;
                let recomputed = chain_hash(
                    &prev, r.seq, r.at, &r.actor, &r.action, &r.target, &r.details,
                );
                if r.seq != expected_seq || r.prev_hash != prev || r.hash != recomputed {
                    tracing::warn!(seq = r.seq, "audit chain broken");
                    return Ok(AuditReport {
                        rows,
                        ok: false,
                        first_bad_seq: Some(r.seq.min(expected_seq)),
                    });
                }
                prev = recomputed;
                expected_seq += 1;
                after = r.seq;
            }
        }
        if expected_seq - 1 != head_seq {
            tracing::warn!(head_seq, last = expected_seq - 1, "audit log truncated");
            return Ok(AuditReport {
                rows,
                ok: false,
                first_bad_seq: Some(expected_seq),
            });
        }
        Ok(AuditReport {
            rows,
            ok: true,
            first_bad_seq: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_hash_depends_on_every_field() {
        let base = chain_hash(GENESIS_HASH, 1, 10, "user:1", "validate", "message:2", "{}");
        assert_eq!(base.len(), 64);
        assert_ne!(
            base,
            chain_hash(GENESIS_HASH, 2, 10, "user:1", "validate", "message:2", "{}")
        );
        assert_ne!(
            base,
            chain_hash(GENESIS_HASH, 1, 11, "user:1", "validate", "message:2", "{}")
        );
        assert_ne!(
            base,
            chain_hash(GENESIS_HASH, 1, 10, "user:2", "validate", "message:2", "{}")
        );
        assert_ne!(
            base,
            chain_hash(GENESIS_HASH, 1, 10, "user:1", "reject", "message:2", "{}")
        );
        assert_ne!(
            base,
            chain_hash(GENESIS_HASH, 1, 10, "user:1", "validate", "message:3", "{}")
        );
        assert_ne!(
            base,
            chain_hash(
                GENESIS_HASH,
                1,
                10,
                "user:1",
                "validate",
                "message:2",
                "{ }"
            )
        );
        assert_ne!(
            base,
            chain_hash(&base, 1, 10, "user:1", "validate", "message:2", "{}")
        );
        // Field boundaries are unambiguous: moving a character between fields changes the hash.
        assert_ne!(
            chain_hash(GENESIS_HASH, 1, 10, "ab", "c", "t", "{}"),
            chain_hash(GENESIS_HASH, 1, 10, "a", "bc", "t", "{}")
        );
    }
}
