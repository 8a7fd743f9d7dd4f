//! Online snapshots for `facteur backup`: SQLite's `VACUUM INTO` writes a
//! consistent copy of the database (one read transaction) while `serve`,
//! imports and senders keep writing through WAL; plus what a restore compares:
//! row counts per table and the audit head.

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::error::{OpContext, StoreError, StoreResult};
use crate::{with_pool, AuditHead, Store};

/// What a snapshot holds: compared after a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Row count of every copied table, in `copied_tables` order.
    pub tables: Vec<(String, i64)>,
    /// Last row of the audit chain when the snapshot was taken.
    pub audit_head: AuditHead,
    /// The highest migration applied.
    pub schema_version: i64,
}

impl Store {
    /// Write a consistent copy of this SQLite store to `path` (which must not
    /// exist) while other connections keep writing. PostgreSQL has `pg_dump`.
    pub async fn snapshot_sqlite_into(&self, path: &Path) -> StoreResult<()> {
        let target = path.to_str().ok_or_else(|| StoreError::Conflict {
            op: "snapshot the database".into(),
            detail: "the backup path is not valid UTF-8".into(),
        })?;
        let op = || format!("snapshot the database into {target}");
        match &self.pool {
            crate::Pool::Sqlite(p) => {
                sqlx::query("VACUUM INTO $1")
                    .bind(target)
                    .execute(p)
                    .await
                    .op(op)?;
                Ok(())
            }
            crate::Pool::Postgres(_) => Err(StoreError::Conflict {
                op: op(),
                detail: "a PostgreSQL database is backed up with pg_dump (see docs/DEPLOY.md)"
                    .into(),
            }),
        }
    }

    /// Counts, audit head and schema version, read in one pass (call it on a
    /// store nobody writes to, such as a snapshot, for figures that agree).
    pub async fn snapshot_info(&self) -> StoreResult<SnapshotInfo> {
        let mut tables = Vec::new();
        for t in crate::copied_tables() {
            tables.push((t.to_string(), self.count_table(t).await?));
        }
        let schema_version: i64 = with_pool!(self, p => {
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
                .fetch_one(p).await.op(|| "read the schema version".to_string())
        })?;
        Ok(SnapshotInfo {
            tables,
            audit_head: self.audit_head().await?,
            schema_version,
        })
    }
}
