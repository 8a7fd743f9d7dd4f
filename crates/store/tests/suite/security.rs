//! Security properties the store guarantees whatever calls it, checked on SQLite
//! and, when FACTEUR_TEST_PG_URL is set, on PostgreSQL: a password change ends
//! the user's sessions, the audit log cannot be rewritten by an upsert, and
//! errors (which callers log) name no person.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use facteur_testkit::db;

use std::time::Duration;

use facteur_core::Role;
use facteur_store::{Backend, NewMailbox, NewUser};
use facteur_testkit::db::raw_exec;
use serde_json::json;

const T0: i64 = 1_750_000_000_000;

fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: "Jeanne Dupont".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: Role::Agent,
    }
}

const TOKEN_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const TOKEN_C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

/// A new password must lock out whoever holds an old session (a stolen cookie is
/// the usual reason to change it); other users keep theirs.
#[tokio::test]
async fn a_password_change_ends_the_users_sessions() {
    for db in db::backends("facteur_sec_pw", T0).await {
        let s = &db.store;
        let ttl = Duration::from_secs(3600);
        let u = s.create_user(&new_user("jdupont"), None).await.unwrap();
        let other = s.create_user(&new_user("mmartin"), None).await.unwrap();
        s.create_session(TOKEN_A, u, "csrf-a", ttl).await.unwrap();
        s.create_session(TOKEN_B, u, "csrf-b", ttl).await.unwrap();
        s.create_session(TOKEN_C, other, "csrf-c", ttl)
            .await
            .unwrap();
        assert!(s.get_session(TOKEN_A).await.unwrap().is_some());

        s.set_password_hash(u, "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3")
            .await
            .unwrap();
        assert!(
            s.get_session(TOKEN_A).await.unwrap().is_none(),
            "{:?}",
            s.backend()
        );
        assert!(s.get_session(TOKEN_B).await.unwrap().is_none());
        assert!(s.get_session(TOKEN_C).await.unwrap().is_some());
        assert!(s.verify_audit().await.unwrap().ok);
    }
}

/// An administrator's reset is audited in the administrator's name (a change by
/// the user in the user's), says how many sessions ended, and names nobody.
#[tokio::test]
async fn a_password_reset_is_audited_as_done_by_whoever_did_it() {
    for db in db::backends("facteur_sec_pw_by", T0).await {
        let s = &db.store;
        let ttl = Duration::from_secs(3600);
        let u = s.create_user(&new_user("jdupont"), None).await.unwrap();
        let admin = s.create_user(&new_user("radmin"), None).await.unwrap();
        s.create_session(TOKEN_A, u, "csrf-a", ttl).await.unwrap();
        s.create_session(TOKEN_B, u, "csrf-b", ttl).await.unwrap();
        let ended = s
            .set_password_hash_by(u, "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3", Some(admin))
            .await
            .unwrap();
        assert_eq!(ended, 2, "{:?}", s.backend());
        assert!(s.get_session(TOKEN_A).await.unwrap().is_none());
        let rows = s.list_audit(0, 100).await.unwrap();
        let last = rows
            .iter()
            .rev()
            .find(|r| r.action == "user.password")
            .unwrap();
        assert_eq!(last.actor, format!("user:{admin}"));
        assert_eq!(last.target, format!("user:{u}"));
        let details = last.details.to_string();
        assert!(
            !details.contains("jdupont") && !details.contains("argon2"),
            "{details}"
        );
        assert!(
            s.set_password_hash_by(9_999, "x", None).await.is_err(),
            "an unknown user is an error, not a silent no-op"
        );
        assert!(s.verify_audit().await.unwrap().ok);
    }
}

/// An upsert is an UPDATE or a DELETE + INSERT in disguise: SQLite's `INSERT OR
/// REPLACE` deletes the old row without firing delete triggers (unless recursive
/// triggers are on), so the append-only rule must refuse it explicitly.
#[tokio::test]
async fn upserts_cannot_rewrite_the_audit_log() {
    for db in db::backends("facteur_sec_audit", T0).await {
        let s = &db.store;
        for n in 0..3 {
            s.create_mailbox(
                &NewMailbox {
                    name: format!("mb{n}"),
                    address: format!("mb{n}@dgfip.example"),
                    signature: String::new(),
                    settings: json!({}),
                },
                None,
            )
            .await
            .unwrap();
        }
        let before = s.list_audit(0, 10).await.unwrap();
        assert_eq!(before.len(), 3);
        let cols = "seq, at, actor, action, target, details, prev_hash, hash";
        let forged = "SELECT seq, at, 'mallory', action, target, details, prev_hash, hash \
             FROM audit_log WHERE seq = 2";
        let attempts: Vec<String> = match s.backend() {
            Backend::Sqlite => vec![
                format!("INSERT OR REPLACE INTO audit_log ({cols}) {forged}"),
                format!("REPLACE INTO audit_log ({cols}) {forged}"),
                format!(
                    "INSERT INTO audit_log ({cols}) {forged} \
                     ON CONFLICT (seq) DO UPDATE SET actor = 'mallory'"
                ),
            ],
            Backend::Postgres => vec![format!(
                "INSERT INTO audit_log ({cols}) {forged} \
                 ON CONFLICT (seq) DO UPDATE SET actor = 'mallory'"
            )],
        };
        for sql in attempts {
            let r = raw_exec(&db, &sql).await;
            let err = r.expect_err(&sql).to_string();
            assert!(err.contains("append-only"), "{sql}: {err}");
        }
        let after = s.list_audit(0, 10).await.unwrap();
        assert_eq!(
            after.iter().map(|r| r.actor.as_str()).collect::<Vec<_>>(),
            before.iter().map(|r| r.actor.as_str()).collect::<Vec<_>>()
        );
        assert!(s.verify_audit().await.unwrap().ok);
        // Appending still works.
        s.audit("user:1", "login", "user:1", &json!({}))
            .await
            .unwrap();
        assert_eq!(s.verify_audit().await.unwrap().rows, 4);
    }
}

/// Store errors are logged by their callers (the web app logs every unexpected
/// one): they name users by id, never by their login.
#[tokio::test]
async fn errors_do_not_name_users() {
    for db in db::backends("facteur_sec_err", T0).await {
        let s = &db.store;
        s.close().await;
        let e = s
            .create_user(&new_user("jeanne.dupont"), None)
            .await
            .unwrap_err()
            .to_string();
        assert!(!e.contains("jeanne"), "{e}");
        assert!(e.contains("create user"), "{e}");
        let e = s
            .get_user_by_username("jeanne.dupont")
            .await
            .unwrap_err()
            .to_string();
        assert!(!e.contains("jeanne"), "{e}");
    }
}
