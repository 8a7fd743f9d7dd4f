//! Which migrations a database has, compared with the ones this build knows:
//! `facteur migrate --check` before an upgrade, and the refusal to run against a
//! database that a newer Facteur already upgraded (its rows may mean things this
//! version does not know).

use serde::Serialize;
use sqlx::migrate::{MigrateError, Migrator};
use std::str::FromStr;

use crate::error::{OpContext, StoreError, StoreResult};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// One migration this build knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationInfo {
    /// Its number, the `NNNN` prefix of the file name.
    pub version: i64,
    /// Its description, from the file name (`triage candidates`).
    pub description: String,
}

/// A database's schema against this build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaStatus {
    /// Versions the database has applied.
    pub applied: Vec<i64>,
    /// Known migrations the next start (or `facteur migrate`) will apply, in order.
    pub pending: Vec<MigrationInfo>,
    /// Applied versions this build does not know: a newer Facteur upgraded it.
    pub unknown: Vec<i64>,
    /// The highest version this build knows.
    pub latest_known: i64,
}

impl SchemaStatus {
    fn new(migrator: &Migrator, applied: Vec<i64>) -> SchemaStatus {
        let known: Vec<i64> = migrator.iter().map(|m| m.version).collect();
        SchemaStatus {
            pending: migrator
                .iter()
                .filter(|m| !applied.contains(&m.version))
                .map(|m| MigrationInfo {
                    version: m.version,
                    description: m.description.to_string(),
                })
                .collect(),
            unknown: applied
                .iter()
                .copied()
                .filter(|v| !known.contains(v))
                .collect(),
            latest_known: known.iter().copied().max().unwrap_or(0),
            applied,
        }
    }
}

/// Read the applied migrations of `database_url` without changing anything (a
/// SQLite file that does not exist yet has every migration pending).
pub async fn schema_status(database_url: &str) -> StoreResult<SchemaStatus> {
    const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    const HAS_TABLE_SQLITE: &str =
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'";
    const HAS_TABLE_PG: &str = "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'";
    let op = || "read the applied migrations".to_string();
    use sqlx::Connection;
    if database_url.starts_with("sqlite:") {
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(database_url)
            .map_err(|e| StoreError::open(database_url, e))?
            .read_only(true);
        let Ok(mut conn) = sqlx::SqliteConnection::connect_with(&opts).await else {
            // No file yet: a fresh service.
            return Ok(SchemaStatus::new(&SQLITE, Vec::new()));
        };
        let has: i64 = sqlx::query_scalar(HAS_TABLE_SQLITE)
            .fetch_one(&mut conn)
            .await
            .op(op)?;
        let applied = if has > 0 {
            sqlx::query_scalar(APPLIED)
                .fetch_all(&mut conn)
                .await
                .op(op)?
        } else {
            Vec::new()
        };
        let _ = conn.close().await;
        Ok(SchemaStatus::new(&SQLITE, applied))
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        let mut conn = sqlx::PgConnection::connect(database_url)
            .await
            .map_err(|e| StoreError::open(database_url, e))?;
        let has: i64 = sqlx::query_scalar(HAS_TABLE_PG)
            .fetch_one(&mut conn)
            .await
            .op(op)?;
        let applied = if has > 0 {
            sqlx::query_scalar(APPLIED)
                .fetch_all(&mut conn)
                .await
                .op(op)?
        } else {
            Vec::new()
        };
        let _ = conn.close().await;
        Ok(SchemaStatus::new(&POSTGRES, applied))
    } else {
        Err(StoreError::UnsupportedUrl {
            scheme: database_url
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string(),
        })
    }
}

/// The migrator's error as a store error; a database migrated by a newer build
/// gets its own error that says what to do.
pub(crate) fn migrate_error(backend: &'static str, e: MigrateError) -> StoreError {
    let migrator = if backend == "sqlite" {
        &SQLITE
    } else {
        &POSTGRES
    };
    match e {
        MigrateError::VersionMissing(version) => StoreError::DatabaseNewer {
            version,
            latest_known: migrator.iter().map(|m| m.version).max().unwrap_or(0),
        },
        source => StoreError::Migrate { backend, source },
    }
}
