//! A fresh store per test, on SQLite or on its own PostgreSQL database, with a
//! manual clock: shared by the store's test binaries.
#![allow(dead_code)] // each test binary uses its own subset

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use facteur_store::{Backend, ManualClock, Store};

pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub clock: Arc<ManualClock>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh SQLite file, its clock starting at `t0`.
pub async fn sqlite_db(t0: i64) -> TestDb {
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

/// A fresh database named `PREFIX_PID_N` on the server of `admin_url`, its clock
/// starting at `t0`.
pub async fn pg_db(admin_url: &str, prefix: &str, t0: i64) -> TestDb {
    let clock = Arc::new(ManualClock::new(t0));
    let url = pg_empty_db(admin_url, prefix).await;
    let store = Store::open(&url).await.expect("open pg store");
    TestDb {
        store: store.with_clock(clock.clone()),
        url,
        clock,
        _dir: None,
    }
}

/// A fresh, empty (unmigrated) database named `PREFIX_PID_N` on the server of
/// `admin_url`; returns its URL.
pub async fn pg_empty_db(admin_url: &str, prefix: &str) -> String {
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let admin = sqlx::PgPool::connect(admin_url)
        .await
        .expect("connect admin");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&admin)
        .await
        .expect("drop db");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create db");
    admin.close().await;
    let base = admin_url.rsplit_once('/').map(|x| x.0).unwrap_or(admin_url);
    format!("{base}/{name}")
}

/// SQLite always; PostgreSQL too when FACTEUR_TEST_PG_URL is set.
pub async fn backends(prefix: &str, t0: i64) -> Vec<TestDb> {
    let mut v = vec![sqlite_db(t0).await];
    match std::env::var("FACTEUR_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => v.push(pg_db(&url, prefix, t0).await),
        // scripts/test.sh runs the store suite once without it (SQLite only),
        // then the workspace with it.
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
