//! One mailbox per sender address, enforced by the database (migration 0006):
//! on SQLite always, and on PostgreSQL too when FACTEUR_TEST_PG_URL is set.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use facteur_testkit::db;

use std::path::Path;
use std::sync::Arc;

use facteur_store::{mailbox_address_key, Backend, NewMailbox, Store, StoreError};
use serde_json::json;

const T0: i64 = 1_780_000_000_000;

fn mb(name: &str, address: &str) -> NewMailbox {
    NewMailbox {
        name: name.into(),
        address: address.into(),
        signature: String::new(),
        settings: json!({}),
    }
}

#[test]
fn the_key_trims_and_folds_ascii_case_only() {
    assert_eq!(
        mailbox_address_key(" \tSIP.Lyon@Impots.Example\r\n"),
        "sip.lyon@impots.example"
    );
    // Non-ASCII is left as is, exactly as SQLite's lower() and the PostgreSQL
    // migration's translate() leave it.
    assert_eq!(mailbox_address_key("ÉCOLE@X.example"), "École@x.example");
}

#[tokio::test]
async fn a_second_mailbox_with_the_same_address_is_refused() {
    for db in db::backends("facteur_mbaddr", T0).await {
        let s = &db.store;
        let b = s.backend();
        let first = s
            .create_mailbox(&mb("SIP Lyon", "sip.lyon@impots.example"), None)
            .await
            .unwrap();
        // Same address, other case and surrounding blanks: still the same sender.
        let err = s
            .create_mailbox(&mb("SIP Lyon bis", "  SIP.Lyon@Impots.Example "), None)
            .await
            .expect_err("duplicate address accepted");
        assert!(
            matches!(err, StoreError::MailboxAddressTaken { .. }),
            "{b:?}: {err:?}"
        );
        assert!(err.is_conflict(), "{b:?}");
        // A duplicate name is still the generic conflict, not the address one.
        let err = s
            .create_mailbox(&mb("SIP Lyon", "autre@impots.example"), None)
            .await
            .expect_err("duplicate name accepted");
        assert!(matches!(err, StoreError::Conflict { .. }), "{b:?}: {err:?}");
        // Nothing half-written: one mailbox, its audit row only.
        let all = s.list_mailboxes().await.unwrap();
        assert_eq!(
            all.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![first],
            "{b:?}"
        );
        assert!(
            s.mailboxes_sharing_an_address().await.unwrap().is_empty(),
            "{b:?}"
        );
        // Another address is fine.
        s.create_mailbox(&mb("SIP Nantes", "sip.nantes@impots.example"), None)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_creations_of_one_address_leave_one_mailbox() {
    for db in db::backends("facteur_mbrace", T0).await {
        let s = Arc::new(db.store.clone());
        let b = s.backend();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    s.create_mailbox(&mb(&format!("SIP {i}"), "sip@impots.example"), None)
                        .await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::MailboxAddressTaken { .. }) => {}
                Err(e) => panic!("{b:?}: unexpected {e:?}"),
            }
        }
        assert_eq!(ok, 1, "{b:?}");
        assert_eq!(s.list_mailboxes().await.unwrap().len(), 1, "{b:?}");
    }
}

/// Migrations 0001–0005 only: a database as the previous release left it.
async fn migrate_up_to_5(url: &str, backend: Backend) {
    let dir = match backend {
        Backend::Sqlite => "migrations/sqlite",
        Backend::Postgres => "migrations/postgres",
    };
    let mut m = sqlx::migrate::Migrator::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .await
        .unwrap();
    m.migrations = m
        .migrations
        .iter()
        .filter(|x| x.version <= 5)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    assert_eq!(m.migrations.len(), 5);
    // Three mailboxes share one address (in three spellings); one is alone.
    let seed = "INSERT INTO mailboxes (id, name, address, created_at) VALUES \
        (1, 'a', 'sip@impots.example', 1), \
        (2, 'b', ' SIP@impots.example', 2), \
        (3, 'c', 'autre@impots.example', 3), \
        (4, 'd', 'Sip@Impots.Example', 4)";
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
                .await
                .unwrap();
            m.run(&pool).await.unwrap();
            sqlx::raw_sql(seed).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            m.run(&pool).await.unwrap();
            sqlx::raw_sql(seed).execute(&pool).await.unwrap();
            sqlx::raw_sql("SELECT setval('mailboxes_id_seq', 4)")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

#[tokio::test]
async fn the_migration_keeps_existing_duplicates_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![(
        format!("sqlite:{}", dir.path().join("old.db").display()),
        Backend::Sqlite,
    )];
    match std::env::var("FACTEUR_TEST_PG_URL") {
        Ok(admin) if !admin.is_empty() => urls.push((
            facteur_testkit::pg::fresh_db(&admin, "facteur_mbmig"),
            Backend::Postgres,
        )),
        _ => eprintln!("PostgreSQL case SKIPPED: FACTEUR_TEST_PG_URL unset"),
    }
    for (url, b) in urls {
        migrate_up_to_5(&url, b).await;
        // The migration does not fail on duplicates…
        let s = Store::open(&url)
            .await
            .expect("migrate a database with duplicates");
        // …keeps every mailbox (messages refer to them), the oldest of each
        // address owning it, and names the later duplicates.
        assert_eq!(s.list_mailboxes().await.unwrap().len(), 4, "{b:?}");
        assert_eq!(
            s.mailboxes_sharing_an_address().await.unwrap(),
            vec![2, 4],
            "{b:?}"
        );
        // From now on the address is taken, in any spelling.
        let err = s
            .create_mailbox(&mb("e", "sip@IMPOTS.example"), None)
            .await
            .expect_err("duplicate address accepted after the migration");
        assert!(
            matches!(err, StoreError::MailboxAddressTaken { .. }),
            "{b:?}: {err:?}"
        );
        let err = s
            .create_mailbox(&mb("f", "AUTRE@impots.example"), None)
            .await
            .expect_err("duplicate address accepted after the migration");
        assert!(
            matches!(err, StoreError::MailboxAddressTaken { .. }),
            "{b:?}: {err:?}"
        );
        s.create_mailbox(&mb("g", "neuve@impots.example"), None)
            .await
            .unwrap();
    }
}
