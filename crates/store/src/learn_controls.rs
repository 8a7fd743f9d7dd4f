//! The supervisors' safety controls over learning and drafting: kill switches
//! (draft suggestions off for the whole service, a mailbox or a request type) and
//! training exclusions (an agent-feedback example never learned from).
//!
//! They live here rather than in files of one node's data directory because a
//! safety control must reach every `facteur serve` / `facteur worker` process that
//! shares the database: a switch pulled on node A and ignored by node B is no
//! switch. Every change is audited in its own transaction.

use serde::Serialize;
use serde_json::json;

use crate::audit::audit_append;
use crate::error::{OpContext, StoreResult};
use crate::people::actor_of;
use crate::{with_pool, BeginWrite, Millis, Store};

/// A kill switch as stored. `scope_kind` is `all` (value empty), `mailbox` (value
/// = the mailbox id) or `request_type` (value = the type id); the learn crate maps
/// it to its `SwitchScope`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StoredSwitch {
    /// `all`, `mailbox` or `request_type`: how wide the switch reaches.
    pub scope_kind: String,
    /// Which mailbox id or request-type id; empty for `all`.
    pub scope_value: String,
    /// Why suggestions were switched off, as the supervisor wrote it; kept out of the audit log.
    pub reason: String,
    /// Row id in `users` of who pulled it (not a foreign key, so imported switches are never refused).
    pub set_by: i64,
    /// When it was pulled, Unix milliseconds.
    pub set_at: Millis,
}

/// A training exclusion as stored: the example id is the agent action's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StoredExclusion {
    /// Id of the agent action the example comes from (row id in `agent_actions`).
    pub example_id: i64,
    /// Why it was excluded, as the supervisor wrote it; kept out of the audit log.
    pub reason: String,
    /// Row id in `users` of the supervisor who excluded it.
    pub excluded_by: i64,
    /// When it was excluded, Unix milliseconds.
    pub excluded_at: Millis,
}

/// What an import of legacy (per-node file) controls added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportedControls {
    /// Kill switches added (those already in the store are kept as they were).
    pub switches: u64,
    /// Training exclusions added (those already in the store are kept as they were).
    pub exclusions: u64,
}

/// The scope kinds the schema accepts (its CHECK constraint says the same).
pub const SWITCH_SCOPE_KINDS: &[&str] = &["all", "mailbox", "request_type"];

/// Audit target of a switch: `mailbox:3`, `request_type:deces`, `all` (the
/// names the web app audited before the switches moved here).
fn switch_target(kind: &str, value: &str) -> String {
    if value.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}:{value}")
    }
}

impl Store {
    /// Every kill switch in force, oldest first.
    pub async fn list_kill_switches(&self) -> StoreResult<Vec<StoredSwitch>> {
        let op = || "list kill switches".to_string();
        with_pool!(self, p => {
            sqlx::query_as(
                "SELECT scope_kind, scope_value, reason, set_by, set_at FROM kill_switches \
                 ORDER BY set_at, scope_kind, scope_value",
            )
            .fetch_all(p)
            .await
            .op(op)
        })
    }

    /// Switch suggestions off for a scope, by a user, with a reason. Replaces the
    /// reason, author and time of an existing switch on the same scope (upsert).
    pub async fn switch_off(
        &self,
        scope_kind: &str,
        scope_value: &str,
        reason: &str,
        by: i64,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("switch suggestions off for {scope_kind}:{scope_value} by user {by}");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            sqlx::query(
                "INSERT INTO kill_switches (scope_kind, scope_value, reason, set_by, set_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope_kind, scope_value) DO UPDATE SET \
                 reason = excluded.reason, set_by = excluded.set_by, set_at = excluded.set_at",
            )
            .bind(scope_kind)
            .bind(scope_value)
            .bind(reason)
            .bind(by)
            .bind(now)
            .execute(&mut *tx)
            .await
            .op(op)?;
            // The reason is free text: only its length goes to the audit log.
            audit_append!(self, tx, now, actor_of(Some(by)), "kill_switch.off",
                switch_target(scope_kind, scope_value), json!({"reason_len": reason.len()})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    /// Switch suggestions back on for a scope. Returns false (and audits nothing)
    /// when no switch was set on it.
    pub async fn switch_on(
        &self,
        scope_kind: &str,
        scope_value: &str,
        by: i64,
    ) -> StoreResult<bool> {
        let now = self.now_ms();
        let op = || format!("switch suggestions on for {scope_kind}:{scope_value} by user {by}");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let n = sqlx::query("DELETE FROM kill_switches WHERE scope_kind = $1 AND scope_value = $2")
                .bind(scope_kind)
                .bind(scope_value)
                .execute(&mut *tx)
                .await
                .op(op)?
                .rows_affected();
            if n > 0 {
                audit_append!(self, tx, now, actor_of(Some(by)), "kill_switch.on",
                    switch_target(scope_kind, scope_value), json!({})).op(op)?;
            }
            tx.commit().await.op(op)?;
            Ok(n > 0)
        })
    }

    /// Every training exclusion, by example id.
    pub async fn list_training_exclusions(&self) -> StoreResult<Vec<StoredExclusion>> {
        let op = || "list training exclusions".to_string();
        with_pool!(self, p => {
            sqlx::query_as(
                "SELECT example_id, reason, excluded_by, excluded_at FROM training_exclusions \
                 ORDER BY example_id",
            )
            .fetch_all(p)
            .await
            .op(op)
        })
    }

    /// Exclude a feedback example from training. Idempotent: excluding it again
    /// keeps the first exclusion and returns false, auditing nothing.
    pub async fn exclude_from_training(
        &self,
        example_id: i64,
        reason: &str,
        by: i64,
    ) -> StoreResult<bool> {
        let now = self.now_ms();
        let op = || format!("exclude example {example_id} from training by user {by}");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let n = sqlx::query(
                "INSERT INTO training_exclusions (example_id, reason, excluded_by, excluded_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (example_id) DO NOTHING",
            )
            .bind(example_id)
            .bind(reason)
            .bind(by)
            .bind(now)
            .execute(&mut *tx)
            .await
            .op(op)?
            .rows_affected();
            if n > 0 {
                audit_append!(self, tx, now, actor_of(Some(by)), "feedback.exclude",
                    format!("example:{example_id}"), json!({"reason_len": reason.len()})).op(op)?;
            }
            tx.commit().await.op(op)?;
            Ok(n > 0)
        })
    }

    /// Bring controls kept by an older version in a node's files into the store,
    /// keeping who set them and when. Rows already in the store win (a later
    /// decision taken through the store is never overwritten by an old file), so
    /// importing twice — or from two nodes — is harmless. One audit row
    /// `learn.import` names `source` (a file name, no personal data) and the counts.
    pub async fn import_learn_controls(
        &self,
        switches: &[StoredSwitch],
        exclusions: &[StoredExclusion],
        source: &str,
    ) -> StoreResult<ImportedControls> {
        let now = self.now_ms();
        let op = || format!("import learn controls from {source}");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let mut done = ImportedControls::default();
            for s in switches {
                done.switches += sqlx::query(
                    "INSERT INTO kill_switches (scope_kind, scope_value, reason, set_by, set_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope_kind, scope_value) DO NOTHING",
                )
                .bind(&s.scope_kind)
                .bind(&s.scope_value)
                .bind(&s.reason)
                .bind(s.set_by)
                .bind(s.set_at)
                .execute(&mut *tx)
                .await
                .op(op)?
                .rows_affected();
            }
            for e in exclusions {
                done.exclusions += sqlx::query(
                    "INSERT INTO training_exclusions (example_id, reason, excluded_by, excluded_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (example_id) DO NOTHING",
                )
                .bind(e.example_id)
                .bind(&e.reason)
                .bind(e.excluded_by)
                .bind(e.excluded_at)
                .execute(&mut *tx)
                .await
                .op(op)?
                .rows_affected();
            }
            audit_append!(self, tx, now, "system".to_string(), "learn.import", source.to_string(),
                json!({
                    "switches": done.switches,
                    "exclusions": done.exclusions,
                    "offered_switches": switches.len(),
                    "offered_exclusions": exclusions.len(),
                })).op(op)?;
            tx.commit().await.op(op)?;
            tracing::info!(switches = done.switches, exclusions = done.exclusions, source, "legacy learn controls imported into the store");
            Ok(done)
        })
    }
}
