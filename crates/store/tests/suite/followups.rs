//! The same citizen writing again: keyed citizen hashes kept with each triage,
//! the history they give, duplicates, and closing without a reply. On SQLite,
//! and on PostgreSQL when FACTEUR_TEST_PG_URL is set.

use facteur_core::{CloseReason, MessageState, Route};
use facteur_store::{
    AuditKey, NewMailbox, NewMessage, NewTriage, NewUser, Store, StoreError, ValidateReply,
};
use facteur_testkit::db;
use serde_json::json;

const T0: i64 = 1_750_000_000_000;
const DAY: i64 = 24 * 3_600_000;

fn keyed(s: &Store) -> Store {
    s.clone().with_audit_key(AuditKey {
        key: [7; 32],
        unkeyed_until: 0,
    })
}

async fn setup(s: &Store) -> (i64, i64) {
    let mb = s
        .create_mailbox(
            &NewMailbox {
                name: "sip".into(),
                address: "sip@dgfip.example".into(),
                signature: "Le service".into(),
                settings: json!({}),
            },
            None,
        )
        .await
        .unwrap();
    let agent = s
        .create_user(
            &NewUser {
                username: "agent".into(),
                display_name: "Agent".into(),
                password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                role: facteur_core::Role::Agent,
            },
            None,
        )
        .await
        .unwrap();
    s.set_mailbox_access(agent, mb, true, None).await.unwrap();
    (mb, agent)
}

/// A triaged message from `from`, received `at`, quoting `ids` as its citizen's.
async fn arrive(s: &Store, mb: i64, n: u32, at: i64, from: &str, ids: &[&str]) -> i64 {
    let id = s
        .insert_message(&NewMessage {
            mailbox_id: mb,
            message_id: format!("c{n}@example.test"),
            content_hash: format!("{:064x}", n),
            raw: format!("From: {from}\r\nSubject: q{n}\r\n\r\nBonjour").into_bytes(),
            subject: format!("question {n}"),
            from_address: Some(from.into()),
            received_at: Some(at),
            ..Default::default()
        })
        .await
        .unwrap()
        .id();
    s.record_triage(&NewTriage {
        message_id: id,
        model_version: None,
        category: Some("avis".into()),
        confidence: Some(0.9),
        route: Route::NeedsResearch,
        answer_id: None,
        answer_version: None,
        draft_text: None,
        passages: Vec::new(),
        language: Some("fr".into()),
        pseudonymised_text: Some(format!("Bonjour, question {n}")),
        subject_pseudonymised: None,
        classify_text: None,
        pii_kinds: vec![],
        flags: vec![],
        candidates: Vec::new(),
        close_suggestion: None,
        citizen_ids: ids.iter().map(|i| i.to_string()).collect(),
        attachment_texts: Vec::new(),
    })
    .await
    .unwrap();
    id
}

fn ids(v: &[facteur_store::CitizenMessage]) -> Vec<i64> {
    v.iter().map(|m| m.id).collect()
}

#[tokio::test]
async fn messages_of_one_citizen_are_linked_by_keyed_hashes_within_the_window() {
    for tdb in db::backends("facteur_followups", T0).await {
        let s = keyed(&tdb.store);
        let (mb, agent) = setup(&s).await;
        let jean = "address:jean@example.org";
        let a = arrive(&s, mb, 1, T0, "jean@example.org", &[jean]).await;
        let b = arrive(&s, mb, 2, T0 + 3 * DAY, "jean@example.org", &[jean]).await;
        // Another address, but the same fiscal number as c: the same citizen.
        let c = arrive(
            &s,
            mb,
            3,
            T0 + 4 * DAY,
            "x@example.org",
            &["address:x@example.org", "fiscal:1234567890123"],
        )
        .await;
        let d = arrive(
            &s,
            mb,
            4,
            T0 + 5 * DAY,
            "jean@example.org",
            &[jean, "fiscal:1234567890123"],
        )
        .await;
        // Someone else, and Jean again but two months later.
        let other = arrive(
            &s,
            mb,
            5,
            T0 + DAY,
            "marie@example.org",
            &["address:marie@example.org"],
        )
        .await;
        let late = arrive(&s, mb, 6, T0 + 65 * DAY, "jean@example.org", &[jean]).await;
        let month = 30 * DAY;
        assert_eq!(ids(&s.same_citizen(a, month).await.unwrap()), vec![b, d]);
        assert_eq!(ids(&s.same_citizen(d, month).await.unwrap()), vec![a, b, c]);
        assert_eq!(ids(&s.same_citizen(c, month).await.unwrap()), vec![d]);
        assert!(s.same_citizen(other, month).await.unwrap().is_empty());
        assert!(s.same_citizen(late, month).await.unwrap().is_empty());
        assert_eq!(
            ids(&s.same_citizen(late, 90 * DAY).await.unwrap()),
            vec![a, b, d]
        );

        // The history carries the reply a message got.
        s.validate_and_queue(&ValidateReply {
            message_id: a,
            user_id: agent,
            body: "Bonjour Jean,\nVoici votre avis.".into(),
            reply_message_id: "r1@dgfip.example".into(),
            to_address: "jean@example.org".into(),
            subject: "Re: question 1".into(),
            in_reply_to: None,
            references: vec![],
            send_delay_ms: 0,
        })
        .await
        .unwrap();
        let h = s.same_citizen(b, month).await.unwrap();
        let first = h.iter().find(|m| m.id == a).unwrap();
        assert_eq!(first.state, MessageState::Validated);
        assert_eq!(
            first.reply.as_ref().unwrap().body,
            "Bonjour Jean,\nVoici votre avis."
        );

        // Only keyed hashes are stored: neither the address nor the number.
        let hashes: Vec<String> = match s.backend() {
            facteur_store::Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&tdb.url).await.unwrap();
                let v = sqlx::query_scalar("SELECT key_hash FROM citizen_keys")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                v
            }
            facteur_store::Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&tdb.url).await.unwrap();
                let v = sqlx::query_scalar("SELECT key_hash FROM citizen_keys")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                v
            }
        };
        assert!(!hashes.is_empty());
        for h in &hashes {
            assert_eq!(h.len(), 64, "{h}");
            assert!(!h.contains("jean") && !h.contains("1234567890123"));
        }
        // A store without the key (a stolen database copy) links nothing new.
        let unkeyed = tdb.store.clone();
        let e = arrive(&unkeyed, mb, 7, T0 + 2 * DAY, "jean@example.org", &[jean]).await;
        assert!(unkeyed.same_citizen(e, month).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn duplicates_are_marked_and_closed_without_a_reply() {
    for tdb in db::backends("facteur_duplicates", T0).await {
        let s = keyed(&tdb.store);
        let (mb, agent) = setup(&s).await;
        let k = ["address:jean@example.org"];
        let first = arrive(&s, mb, 1, T0, "jean@example.org", &k).await;
        let second = arrive(&s, mb, 2, T0 + DAY, "jean@example.org", &k).await;
        let third = arrive(&s, mb, 3, T0 + 2 * DAY, "jean@example.org", &k).await;
        s.mark_duplicate(second, first).await.unwrap();
        s.mark_duplicate(third, first).await.unwrap();
        assert_eq!(
            s.get_message(second).await.unwrap().unwrap().duplicate_of,
            Some(first)
        );
        assert_eq!(s.open_duplicates(first).await.unwrap(), vec![second, third]);
        assert_eq!(s.open_duplicates(second).await.unwrap(), vec![first, third]);
        assert!(matches!(
            s.mark_duplicate(9_999, first).await,
            Err(StoreError::NotFound { .. })
        ));

        s.close_without_reply(second, agent, CloseReason::Duplicate, Some(first))
            .await
            .unwrap();
        let m = s.get_message(second).await.unwrap().unwrap();
        assert_eq!(m.state, MessageState::Closed);
        let act = s.list_actions(second).await.unwrap().pop().unwrap();
        assert_eq!(act.kind, "close");
        assert_eq!(act.after["reason"], "duplicate");
        assert_eq!(act.after["answered_by"], first);
        // Closed is not open: no second close, and no longer a duplicate to close.
        assert!(matches!(
            s.close_without_reply(second, agent, CloseReason::Thanks, None)
                .await,
            Err(StoreError::InvalidState { .. })
        ));
        assert_eq!(s.open_duplicates(first).await.unwrap(), vec![third]);
        assert!(s.verify_audit().await.unwrap().ok);
    }
}
