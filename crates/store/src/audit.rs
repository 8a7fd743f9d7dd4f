//! The append-only, hash-chained audit log.
//!
//! Written here rather than taken from a crate because the chain's format is part
//! of what an auditor verifies: hash_n = sha256(hash_{n-1} || canonical(row_n)),
//! where canonical(row) is the compact JSON array
//! `[seq, at, actor, action, target, details]` and `details` is the exact stored
//! string. Changing any byte of a row, or removing a row, breaks the chain.
//!
//! A plain hash chain only proves anything if the attacker cannot recompute it:
//! a review dropped the triggers, changed a reveal into an escalation,
//! recomputed every hash and the head, and `audit verify` said the log was
//! intact. So the chain is keyed: with an [`AuditKey`] (a secret file outside
//! the database), hash_n = HMAC-SHA256(key, hash_{n-1} || canonical(row_n)) for
//! every row after the key's `unkeyed_until` (rows written before the key
//! existed stay plain SHA-256, as they were written). [`Store::audit_head`]
//! gives the head to anchor elsewhere, and [`Store::verify_audit_anchored`]
//! checks the log still leads through it.

use serde::Serialize;
use serde_json::Value;

use crate::error::{OpContext, StoreResult};
use crate::{with_pool, Millis, Store};

/// Hash of "nothing before": 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry of the audit log, as stored and chained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    /// Position in the chain, from 1 with no gap.
    pub seq: i64,
    /// When it was written, Unix milliseconds.
    pub at: Millis,
    /// Who acted, e.g. `user:<id>`, `worker:<name>` or `system`.
    pub actor: String,
    /// What happened, e.g. `message.validate_send` or `user.create`.
    pub action: String,
    /// What it happened to, e.g. `message:<id>` or `mailbox:<id>`.
    pub target: String,
    /// Facts as JSON (states, ids, counts, reason codes); by design never message text or addresses.
    pub details: Value,
    /// Hash of the previous row (the genesis hash for the first).
    pub prev_hash: String,
    /// This row's link: SHA-256, or HMAC-SHA256 once the chain is keyed.
    pub hash: String,
}

/// Result of recomputing the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Rows checked before stopping.
    pub rows: u64,
    /// True when the whole chain up to the head recomputes.
    pub ok: bool,
    /// The first row whose link or hash does not match (or the first missing seq).
    pub first_bad_seq: Option<i64>,
}

/// The secret that keys the audit chain, and the last row written before it
/// existed. Both live in a file outside the database (`audit_key_file`), so
/// that whoever can rewrite the database cannot move the boundary either.
#[derive(Clone)]
pub struct AuditKey {
    /// The HMAC-SHA256 key.
    pub key: [u8; 32],
    /// Rows with `seq <= unkeyed_until` were chained with plain SHA-256.
    pub unkeyed_until: i64,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("unkeyed_until", &self.unkeyed_until)
            .finish_non_exhaustive()
    }
}

/// The last row of the chain: what an operator anchors outside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AuditHead {
    /// Sequence number of the last row.
    pub seq: i64,
    /// That row's hash, 64 lowercase hex digits.
    pub hash: String,
}

impl std::fmt::Display for AuditHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl std::str::FromStr for AuditHead {
    type Err = String;
    /// `SEQ:HASH`, as [`AuditHead`]'s `Display` writes it.
    fn from_str(s: &str) -> Result<Self, String> {
        let (seq, hash) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not SEQ:HASH"))?;
        let seq = seq
            .parse()
            .map_err(|_| format!("{seq:?} is not a number"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{hash:?} is not a 64-hex-digit hash"));
        }
        Ok(AuditHead {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// The hash of row `seq`: keyed when a key covers that row.
#[allow(clippy::too_many_arguments)] // the row's fields, as chain_hash takes them
pub(crate) fn row_hash(
    key: Option<&AuditKey>,
    prev: &str,
    seq: i64,
    at: Millis,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
) -> String {
    match key.filter(|k| seq > k.unkeyed_until) {
        Some(k) => {
            use hmac::{Hmac, Mac};
            let canonical =
                serde_json::json!([seq, at, actor, action, target, details]).to_string();
            let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&k.key)
                .expect("HMAC takes any key length");
            m.update(prev.as_bytes());
            m.update(canonical.as_bytes());
            hex::encode(m.finalize().into_bytes())
        }
        None => chain_hash(prev, seq, at, actor, action, target, details),
    }
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
    ($store:expr, $tx:expr, $now:expr, $actor:expr, $action:expr, $target:expr, $details:expr) => {{
        let row: [(String, String); 1] = [($target, $details.to_string())];
        $crate::audit::audit_append_many!($store, $tx, $now, $actor, $action, &row)
    }};
}
pub(crate) use audit_append;

/// [`audit_append!`] for many rows of one actor and action, in the caller's
/// transaction, with three statements whatever their number: bulk triage writes a
/// batch's rows at once, and holds the head's row lock (taken by the first
/// statement) only for those three. `$rows` is a slice of `(target, details)`.
/// Evaluates to `Result<i64 /*the last row's seq; 0 for no rows*/, sqlx::Error>`.
macro_rules! audit_append_many {
    ($store:expr, $tx:expr, $now:expr, $actor:expr, $action:expr, $rows:expr) => {{
        let key: Option<std::sync::Arc<$crate::audit::AuditKey>> = $store.audit_key.clone();
        let now: i64 = $now;
        let actor: String = $actor;
        let action: &str = $action;
        let rows: &[(String, String)] = $rows;
        async {
            if rows.is_empty() {
                return Ok::<i64, sqlx::Error>(0);
            }
            let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
            let (last, mut prev): (i64, String) = sqlx::query_as(
                "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash",
            )
            .bind(n)
            .fetch_one(&mut *$tx)
            .await?;
            let mut values = Vec::with_capacity(rows.len());
            for (i, (target, details)) in rows.iter().enumerate() {
                let seq = last - n + 1 + i as i64;
                let hash = $crate::audit::row_hash(
                    key.as_deref(),
                    &prev,
                    seq,
                    now,
                    &actor,
                    action,
                    target,
                    details,
                );
                values.push((seq, target, details, std::mem::replace(&mut prev, hash.clone()), hash));
            }
            // 8 parameters a row; a batch stays far below either database's limit.
            let placeholders = $crate::value_rows(8, values.len());
            let sql = format!(
                "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) VALUES {placeholders}"
            );
            let mut q = sqlx::query(&sql);
            for (seq, target, details, prev_hash, hash) in &values {
                q = q
                    .bind(*seq)
                    .bind(now)
                    .bind(&actor)
                    .bind(action)
                    .bind(*target)
                    .bind(*details)
                    .bind(prev_hash)
                    .bind(hash);
            }
            q.execute(&mut *$tx).await?;
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                .bind(&prev)
                .execute(&mut *$tx)
                .await?;
            Ok(last)
        }
        .await
    }};
}
pub(crate) use audit_append_many;

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
            let seq = audit_append!(self, tx, now, actor.to_string(), action, target.to_string(), details).op(op)?;
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

    /// The chain's last row, to anchor outside the database (`facteur audit head`).
    pub async fn audit_head(&self) -> StoreResult<AuditHead> {
        let (seq, hash): (i64, String) = with_pool!(self, p => {
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(p)
                .await
                .op(|| "read audit head".to_string())
        })?;
        Ok(AuditHead { seq, hash })
    }

    /// The hash the chain's last row must have under this store's key, when
    /// that row is keyed: `Some(false)` means the key is not the one the chain
    /// was written with (a node given another node's database but not its key
    /// file). Checks one row, so it is cheap enough for every start.
    pub async fn audit_key_matches(&self) -> StoreResult<Option<bool>> {
        let Some(key) = self.audit_key.as_deref() else {
            return Ok(None);
        };
        let head = self.audit_head().await?;
        if head.seq <= key.unkeyed_until {
            return Ok(None);
        }
        let rows = self.audit_batch(head.seq - 1, 1).await?;
        Ok(rows.first().map(|r| {
            r.hash
                == row_hash(
                    Some(key),
                    &r.prev_hash,
                    r.seq,
                    r.at,
                    &r.actor,
                    &r.action,
                    &r.target,
                    &r.details,
                )
        }))
    }

    /// Whether the chain's last row is plain SHA-256 (or there is none): false
    /// means it was keyed, so a node without the key file must not start a new
    /// key over it.
    pub async fn audit_last_row_is_plain(&self) -> StoreResult<bool> {
        let head = self.audit_head().await?;
        if head.seq == 0 {
            return Ok(true);
        }
        let rows = self.audit_batch(head.seq - 1, 1).await?;
        Ok(rows.first().is_none_or(|r| {
            r.hash
                == chain_hash(
                    &r.prev_hash,
                    r.seq,
                    r.at,
                    &r.actor,
                    &r.action,
                    &r.target,
                    &r.details,
                )
        }))
    }

    /// [`Self::verify_audit`], and also that the chain still leads through
    /// `anchor` (a head printed earlier by `facteur audit head` and kept outside
    /// the database): a log rewritten before that point fails here even if the
    /// rewriter knew the key.
    pub async fn verify_audit_anchored(&self, anchor: &AuditHead) -> StoreResult<AuditReport> {
        let mut report = self.verify_audit().await?;
        if !report.ok {
            return Ok(report);
        }
        let row = self.audit_batch(anchor.seq - 1, 1).await?;
        let through = row
            .first()
            .is_some_and(|r| r.seq == anchor.seq && r.hash.eq_ignore_ascii_case(&anchor.hash));
        if !through {
            tracing::warn!(
                seq = anchor.seq,
                "audit chain does not lead through the anchored head"
            );
            report.ok = false;
            report.first_bad_seq = Some(anchor.seq.max(1));
        }
        Ok(report)
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
                let recomputed = row_hash(
                    self.audit_key.as_deref(),
                    &prev,
                    r.seq,
                    r.at,
                    &r.actor,
                    &r.action,
                    &r.target,
                    &r.details,
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
    fn keyed_rows_need_the_key_and_older_rows_stay_plain() {
        let k = AuditKey {
            key: [7; 32],
            unkeyed_until: 1,
        };
        let plain = chain_hash(GENESIS_HASH, 2, 10, "a", "b", "c", "{}");
        let keyed = row_hash(Some(&k), GENESIS_HASH, 2, 10, "a", "b", "c", "{}");
        assert_ne!(plain, keyed);
        let other = AuditKey {
            key: [8; 32],
            ..k.clone()
        };
        assert_ne!(
            keyed,
            row_hash(Some(&other), GENESIS_HASH, 2, 10, "a", "b", "c", "{}")
        );
        assert_eq!(
            row_hash(Some(&k), GENESIS_HASH, 1, 10, "a", "b", "c", "{}"),
            chain_hash(GENESIS_HASH, 1, 10, "a", "b", "c", "{}")
        );
        let head: AuditHead = format!("12:{}", keyed.to_uppercase()).parse().unwrap();
        assert_eq!(head.to_string(), format!("12:{keyed}"));
        assert!("12".parse::<AuditHead>().is_err());
        assert!("x:ab".parse::<AuditHead>().is_err());
    }

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
