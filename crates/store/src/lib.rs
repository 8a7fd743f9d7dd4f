//! Storage: the only crate that knows SQL. SQLite is the embedded default (one data
//! directory, no setup); PostgreSQL sits behind the same API for several instances
//! sharing the work.
//!
//! Design choices that matter to callers:
//! - Every state change of a message runs in ONE transaction together with its
//!   agent-action row and its audit row: there is never a validated message without
//!   its outbox row, nor an action without its audit entry.
//! - The audit log is append-only (triggers refuse UPDATE/DELETE) and hash-chained,
//!   so `verify_audit` detects a row changed behind the application's back.
//! - Queries are written once with `$N` placeholders, which both SQLite and
//!   PostgreSQL accept; the `with_pool!` macro expands each body once per backend so
//!   each copy is type-checked against its own driver. Only the few statements that
//!   genuinely differ (row locking) branch on the backend.
//! - Work shared by several processes (outbox sending, generic jobs, IMAP sync
//!   of a mailbox) is claimed with expiring leases, so a crashed process's work
//!   is taken over; see the `jobs` and `outbox` modules.
//! - Timestamps are Unix milliseconds (`i64`) everywhere: the same binds work on
//!   both backends and ordering is exact.
#![warn(missing_docs)]

mod attachments;
mod audit;
mod backup;
mod citizen;
mod error;
mod followups;
mod jobs;
mod learn_controls;
mod messages;
mod migrate;
mod outbox;
mod people;
mod presence;
mod queue;
mod retention;
mod schema;
mod sso;
mod types;
mod versions;

use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use audit::{AuditHead, AuditKey, AuditReport, AuditRow};
pub use backup::SnapshotInfo;
pub use citizen::{Citizen, ErasureReport};
pub use error::{StoreError, StoreResult};
pub use followups::{CitizenMessage, SentReply};
pub use jobs::{Job, JobState};
pub use learn_controls::{ImportedControls, StoredExclusion, StoredSwitch, SWITCH_SCOPE_KINDS};
pub use migrate::{copied_columns, copied_tables, CopyReport, TableCount};
pub use outbox::{retry_delay_ms, MAX_SEND_ATTEMPTS};
pub use people::mailbox_address_key;
pub use presence::{Viewer, VIEW_TTL_MS};
pub use retention::{PurgeReport, RetentionPolicy};
pub use schema::{schema_status, MigrationInfo, SchemaStatus};
pub use sso::{OidcPending, SsoOutcome, SsoSignIn, SSO_PASSWORD_HASH};
pub use types::*;
pub use versions::{KbListener, KB_CHANNEL};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Source of "now". Injected so leases, session expiry and backoff can be tested
/// without sleeping.
pub trait Clock: Send + Sync + 'static {
    /// The current time, Unix milliseconds.
    fn now_ms(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        let now = time::OffsetDateTime::now_utc();
        (now.unix_timestamp_nanos() / 1_000_000) as i64
    }
}

/// A clock that only moves when told to (tests, simulations).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `start` (Unix milliseconds).
    pub fn new(start: Millis) -> Self {
        Self(AtomicI64::new(start))
    }
    /// Moves the clock to `t`, forward or back.
    pub fn set(&self, t: Millis) {
        self.0.store(t, Ordering::SeqCst);
    }
    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One embedded SQLite file: the default, a single node.
    Sqlite,
    /// PostgreSQL, for several instances sharing the work.
    Postgres,
}

/// Expand `$body` once per backend with `$p` bound to the concrete pool.
macro_rules! with_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($p) => $body,
            $crate::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

/// `$first, …, $(first + n - 1)`: the placeholders of an `IN (…)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, …, $width), ($width + 1, …), …`: `rows` rows for a multi-row `VALUES`.
pub(crate) fn value_rows(width: usize, rows: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(r * width + 1, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per-backend way to open a write transaction. On SQLite it is `BEGIN IMMEDIATE`:
/// a deferred transaction that reads then writes can fail with SQLITE_BUSY when
/// another writer got in between, and busy_timeout cannot save it. On PostgreSQL
/// row locks do that job.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// The handle every other crate uses. Cheap to clone (a pool handle and a clock).
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    pub(crate) clock: Arc<dyn Clock>,
    /// The audit chain's key (see [`audit::AuditKey`]); `None`: plain SHA-256.
    pub(crate) audit_key: Option<Arc<audit::AuditKey>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish()
    }
}

impl Store {
    /// Open (creating if needed) and migrate. Accepts `sqlite:PATH` (the file is
    /// created if missing; WAL, foreign keys, busy timeout) and
    /// `postgres://…` / `postgresql://…`.
    pub async fn open(database_url: &str) -> StoreResult<Store> {
        let pool = if database_url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(database_url)
                .map_err(|e| StoreError::open(database_url, e))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await
                .map_err(|e| StoreError::open(database_url, e))?;
            sqlx::migrate!("migrations/sqlite")
                .run(&pool)
                .await
                .map_err(|e| schema::migrate_error("sqlite", e))?;
            Pool::Sqlite(pool)
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            // One plain connection first: the pool retries a refused connection until
            // its 30 s acquire timeout and then reports only "pool timed out", which
            // hides the cause (server down, wrong port, bad password, no database).
            {
                use sqlx::Connection;
                let conn = sqlx::PgConnection::connect(database_url)
                    .await
                    .map_err(|e| StoreError::open(database_url, e))?;
                let _ = conn.close().await;
            }
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .connect(database_url)
                .await
                .map_err(|e| StoreError::open(database_url, e))?;
            let migrator = sqlx::migrate!("migrations/postgres");
            // A runtime role that may not alter the schema (see
            // docs/SECURITY.md) can still open an up-to-date database: migrations
            // run only when some are pending, and then need the owner role.
            if !pg_migrations_applied(&pool, &migrator).await {
                migrator
                    .run(&pool)
                    .await
                    .map_err(|e| schema::migrate_error("postgres", e))?;
            }
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl {
                scheme: database_url
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            });
        };
        tracing::info!(backend = ?backend_of(&pool), "store opened and migrated");
        let store = Store {
            pool,
            clock: Arc::new(SystemClock),
            audit_key: None,
        };
        // Duplicates older than the unique address index stay usable (migration
        // 0006): say so at every start until an administrator sorts them out.
        match store.mailboxes_sharing_an_address().await {
            Ok(ids) if !ids.is_empty() => tracing::warn!(
                mailboxes = ?ids,
                "mailboxes share their address with an older mailbox: replies leave several mailboxes under one sender; rename or retire them"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not check mailbox addresses"),
        }
        Ok(store)
    }

    /// Replace the clock (tests, simulations).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Store {
        self.clock = clock;
        self
    }

    /// Key the audit chain from now on (the CLI loads the key from
    /// `audit_key_file`, outside the database).
    pub fn with_audit_key(mut self, key: audit::AuditKey) -> Store {
        self.audit_key = Some(Arc::new(key));
        self
    }

    /// Which database this store talks to: the few backend-specific statements branch on it.
    pub fn backend(&self) -> Backend {
        backend_of(&self.pool)
    }

    /// Now, from the store's clock (Unix milliseconds): every timestamp the store writes.
    pub fn now_ms(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Close the pool (waits for connections to be returned). SQLite's write-ahead
    /// log is checkpointed into the database file first: sqlx closes each
    /// connection on its own worker thread, and a process that exits right after
    /// `close` could leave the last rows in the log, so that a copy of the
    /// database file alone would miss them (a CI run read an empty demo that way).
    pub async fn close(&self) {
        if let Pool::Sqlite(p) = &self.pool {
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(p)
                .await
            {
                tracing::warn!(error = %e, "checkpoint before close failed");
            }
        }
        with_pool!(self, p => p.close().await)
    }
}

/// True when every migration of `migrator` is recorded as applied (read with
/// SELECT only); false when some are pending or the table cannot be read.
async fn pg_migrations_applied(pool: &PgPool, migrator: &sqlx::migrate::Migrator) -> bool {
    let applied: Vec<i64> =
        match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
        {
            Ok(v) => v,
            Err(_) => return false,
        };
    let known = |v: &i64| migrator.iter().any(|m| m.version == *v);
    // A version this build does not know means a newer Facteur upgraded the
    // database: run the migrator, which refuses it (`StoreError::DatabaseNewer`).
    applied.iter().all(known)
        && migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .all(|m| applied.contains(&m.version))
}

fn backend_of(pool: &Pool) -> Backend {
    match pool {
        Pool::Sqlite(_) => Backend::Sqlite,
        Pool::Postgres(_) => Backend::Postgres,
    }
}

/// Hex SHA-256, used for session ids and the audit chain.
pub(crate) fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}
