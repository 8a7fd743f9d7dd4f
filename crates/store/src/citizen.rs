//! Data-subject rights: find everything about one person (right of access) and
//! erase it (right to erasure), by e-mail address and optionally fiscal number.
//!
//! Matching is done here in Rust rather than in SQL so both backends find the
//! same rows: a message belongs to the person when the address appears (any
//! case) in its sender, its original bytes, its decoded mail or the reply sent
//! to it, or when the fiscal number appears in its decoded mail or original
//! bytes (with or without the usual spaces between digit groups).

use regex::bytes::Regex;
use serde::Serialize;
use sqlx::Row;

use crate::error::{OpContext, StoreError, StoreResult};
use crate::retention::id_list;
use crate::{with_pool, BeginWrite, Millis, Store};

/// Who the request is about.
#[derive(Debug, Clone)]
pub struct Citizen {
    address: String,
    fiscal: Option<Regex>,
}

impl Citizen {
    /// `address` must look like an e-mail address; `fiscal_number` must hold
    /// 13 digits (spaces allowed). The error says which, never the value.
    pub fn new(address: &str, fiscal_number: Option<&str>) -> StoreResult<Citizen> {
        let address = address.trim().to_lowercase();
        if address.len() < 3 || !address.contains('@') || address.contains(char::is_whitespace) {
            return Err(StoreError::Conflict {
                op: "find a citizen's data".into(),
                detail: "the address is not an e-mail address".into(),
            });
        }
        let fiscal = match fiscal_number {
            None => None,
            Some(n) => {
                let digits: Vec<char> = n.chars().filter(|c| !c.is_whitespace()).collect();
                if digits.len() != 13 || !digits.iter().all(char::is_ascii_digit) {
                    return Err(StoreError::Conflict {
                        op: "find a citizen's data".into(),
                        detail: "the fiscal number must have 13 digits".into(),
                    });
                }
                // Digits, each optionally followed by a space (plain, no-break or
                // narrow no-break in UTF-8) or a dot, not inside a longer number.
                let sep = r"(?:[ .]|\xC2\xA0|\xE2\x80\xAF)?";
                let body: Vec<String> = digits.iter().map(|d| d.to_string()).collect();
                let re = format!(r"(?-u)(?:^|[^0-9]){}(?:$|[^0-9])", body.join(sep));
                Some(Regex::new(&re).map_err(|e| StoreError::Corrupt {
                    op: "build the fiscal number pattern".into(),
                    detail: e.to_string(),
                })?)
            }
        };
        Ok(Citizen { address, fiscal })
    }

    fn matches(&self, hay: &[u8]) -> bool {
        let lower = hay.to_ascii_lowercase();
        memfind(&lower, self.address.as_bytes())
            || self.fiscal.as_ref().is_some_and(|re| re.is_match(hay))
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// What an erasure removed (counts only: this is what the audit row says).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErasureReport {
    /// Messages deleted, with their triages, actions and views.
    pub messages: u64,
    /// Outbox replies deleted.
    pub replies: u64,
    /// Model versions flagged for their next review (they may have learnt from
    /// the erased messages).
    pub models_flagged: u64,
    /// Sequence number of the audit row recording the erasure.
    pub audit_seq: i64,
    /// When the erasure ran, Unix milliseconds.
    pub at: Millis,
}

const SCAN_BATCH: i64 = 200;

impl Store {
    /// Ids of every message about `who`, oldest first.
    pub async fn citizen_message_ids(&self, who: &Citizen) -> StoreResult<Vec<i64>> {
        let mut found = Vec::new();
        let mut after = 0i64;
        loop {
            let from = after;
            let op = || format!("scan messages after {from} for a citizen");
            let rows: Vec<(i64, Vec<u8>)> = with_pool!(self, p => {
                let rows = sqlx::query(
                    "SELECT m.id, m.raw, m.parsed, m.subject, m.from_address, m.pseudonymised_text, \
                     o.to_address, o.body FROM messages m LEFT JOIN outbox o ON o.message_id = m.id \
                     WHERE m.id > $1 ORDER BY m.id LIMIT $2",
                )
                .bind(from)
                .bind(SCAN_BATCH)
                .fetch_all(p)
                .await
                .op(op)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let id: i64 = r.try_get(0).op(op)?;
                    let mut hay: Vec<u8> = r.try_get(1).op(op)?;
                    for i in 2..8 {
                        let t: Option<String> = r.try_get(i).op(op)?;
                        hay.push(b'\n');
                        hay.extend_from_slice(t.unwrap_or_default().as_bytes());
                    }
                    out.push((id, hay));
                }
                out
            });
            let Some(last) = rows.last().map(|r| r.0) else {
                break;
            };
            after = last;
            found.extend(rows.iter().filter(|(_, h)| who.matches(h)).map(|r| r.0));
        }
        Ok(found)
    }

    /// Delete every message about `who` with its triage results, agent actions
    /// and reply, in one transaction; flag every model version for review; one
    /// audit row with the supervisor's name, the reason and the counts (never
    /// the address). On SQLite the freed pages are overwritten (`secure_delete`)
    /// and the write-ahead log is checkpointed, so the database file keeps no
    /// copy of the erased bytes.
    pub async fn erase_citizen(
        &self,
        who: &Citizen,
        supervisor: &str,
        reason: &str,
    ) -> StoreResult<ErasureReport> {
        let op = || "erase a citizen's data".to_string();
        if supervisor.trim().is_empty() || reason.trim().is_empty() {
            return Err(StoreError::Conflict {
                op: op(),
                detail: "a supervisor's name and a reason are required".into(),
            });
        }
        if who.matches(reason.as_bytes()) || who.matches(supervisor.as_bytes()) {
            return Err(StoreError::Conflict {
                op: op(),
                detail: "the reason must not contain the person's address or number: the audit log keeps it forever".into(),
            });
        }
        let ids = self.citizen_message_ids(who).await?;
        let now = self.now_ms();
        let list = if ids.is_empty() {
            "NULL".to_string()
        } else {
            id_list(&ids)
        };
        let mut report = ErasureReport {
            at: now,
            ..Default::default()
        };
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            if matches!(self.backend(), crate::Backend::Sqlite) {
                sqlx::query("PRAGMA secure_delete = ON").execute(&mut *tx).await.op(op)?;
            }
            report.replies = sqlx::query(&format!("DELETE FROM outbox WHERE message_id IN ({list})"))
                .execute(&mut *tx).await.op(op)?.rows_affected();
            for t in ["triage_results", "agent_actions", "message_views", "citizen_keys", "attachment_texts"] {
                sqlx::query(&format!("DELETE FROM {t} WHERE message_id IN ({list})"))
                    .execute(&mut *tx).await.op(op)?;
            }
            report.messages = sqlx::query(&format!("DELETE FROM messages WHERE id IN ({list})"))
                .execute(&mut *tx).await.op(op)?.rows_affected();
            report.models_flagged = sqlx::query(
                "UPDATE model_versions SET erasure_flagged_at = $1 WHERE erasure_flagged_at IS NULL",
            )
            .bind(now).execute(&mut *tx).await.op(op)?.rows_affected();
            let details = serde_json::json!({
                "supervisor": supervisor.trim(),
                "reason": reason.trim(),
                "messages": report.messages,
                "replies": report.replies,
                "models_flagged": report.models_flagged,
            });
            report.audit_seq = crate::audit::audit_append!(self, tx, now, format!("supervisor:{}", supervisor.trim()),
                "citizen.erase", "citizen".to_string(), details).op(op)?;
            tx.commit().await.op(op)?;
            if let crate::Pool::Sqlite(pool) = &self.pool {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await.op(op)?;
            }
            Ok::<(), StoreError>(())
        })?;
        tracing::info!(
            messages = report.messages,
            replies = report.replies,
            "citizen data erased"
        );
        Ok(report)
    }

    /// Model versions flagged by an erasure and not reviewed since, with the
    /// erasure time: `(version, flagged_at)`.
    pub async fn models_flagged_by_erasure(&self) -> StoreResult<Vec<(String, Millis)>> {
        let op = || "list models flagged by an erasure".to_string();
        with_pool!(self, p => {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT id, erasure_flagged_at FROM model_versions \
                 WHERE erasure_flagged_at IS NOT NULL ORDER BY created_at, id",
            )
            .fetch_all(p).await.op(op)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_matches_any_case_and_fiscal_number_any_grouping() {
        let c = Citizen::new("Jeanne.Martin@Example.FR", Some("1234 567 890 123")).unwrap();
        assert!(c.matches(b"From: JEANNE.MARTIN@example.fr"));
        assert!(c.matches("numéro fiscal : 12 34 567 890 123.".as_bytes()));
        assert!(c.matches(b"n=1234567890123"));
        assert!(c.matches("1234\u{a0}567\u{a0}890\u{a0}123".as_bytes()));
        assert!(!c.matches(b"91234567890123"), "inside a longer number");
        assert!(!c.matches(b"jeanne.martin@example.org"));
    }

    #[test]
    fn bad_inputs_are_refused_without_echoing_them() {
        let e = Citizen::new("not an address", None)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("not an address"));
        let e = Citizen::new("a@b.fr", Some("12345"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("12345"), "{e}");
    }
}
