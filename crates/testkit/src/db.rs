//! A fresh store per test, on SQLite or on a PostgreSQL database of its own, with a
//! manual clock, so that expiry, retention and drift are tested without waiting.

use std::sync::Arc;

use facteur_store::{Backend, ManualClock, Store};

/// A store, its URL (for raw SQL behind its back) and its clock.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub clock: Arc<ManualClock>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// The test's clock now, in milliseconds since the Unix epoch.
    pub fn clock_now(&self) -> i64 {
        use facteur_store::Clock;
        self.clock.now_ms()
    }
}

/// A fresh SQLite file, its clock starting at `t0`.
pub async fn sqlite(t0: i64) -> TestDb {
    let clock = Arc::new(ManualClock::new(t0));
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("facteur.db").display());
    let store = Store::open(&url).await.expect("open sqlite store");
    TestDb {
        store: store.with_clock(clock.clone()),
        url,
        clock,
        _dir: Some(dir),
    }
}

/// A fresh database on the server of `admin_url`, its clock starting at `t0`.
pub async fn postgres(admin_url: &str, prefix: &str, t0: i64) -> TestDb {
    let clock = Arc::new(ManualClock::new(t0));
    let url = crate::pg::fresh_db(admin_url, prefix);
    let store = Store::open(&url).await.expect("open pg store");
    TestDb {
        store: store.with_clock(clock.clone()),
        url,
        clock,
        _dir: None,
    }
}

/// SQLite always; PostgreSQL too when `FACTEUR_TEST_PG_URL` is set. Unlike other
/// services, PostgreSQL is optional here even under CI: `scripts/test.sh` runs the
/// store's suite once without it (the embedded default), then with it.
pub async fn backends(prefix: &str, t0: i64) -> Vec<TestDb> {
    let mut v = vec![sqlite(t0).await];
    match std::env::var("FACTEUR_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => v.push(postgres(&url, prefix, t0).await),
        _ => eprintln!("PostgreSQL case SKIPPED: FACTEUR_TEST_PG_URL unset"),
    }
    v
}

/// Raw SQL behind the store's back (tampering, bulk seeding): the rows affected.
pub async fn raw_exec(db: &TestDb, sql: &str) -> Result<u64, sqlx::Error> {
    match db.store.backend() {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await?;
            let r = sqlx::raw_sql(sql).execute(&pool).await;
            pool.close().await;
            r.map(|r| r.rows_affected())
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await?;
            let r = sqlx::raw_sql(sql).execute(&pool).await;
            pool.close().await;
            r.map(|r| r.rows_affected())
        }
    }
}
