//! Security properties the store guarantees whatever calls it, checked on SQLite
//! and, when FACTEUR_TEST_PG_URL is set, on PostgreSQL: a password change ends
//! the user's sessions.

mod common;

use std::time::Duration;

use facteur_core::Role;
use facteur_store::NewUser;

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
    for db in common::backends("facteur_sec_pw", T0).await {
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
