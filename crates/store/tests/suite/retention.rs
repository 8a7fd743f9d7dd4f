//! Retention and data-subject rights on both backends, with a manual clock:
//! the daily purge's three stages, an erasure leaving no trace of the person in
//! any table (nor, on SQLite, in the database file), and schema upgrades: a
//! database made by the previous release (migrations 0001-0008, tag v0.1.0)
//! upgrades with its data, and a database newer than this build is refused.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use facteur_testkit::db;

use std::time::Duration;

use facteur_core::workflow::Role;
use facteur_store::{
    schema_status, Citizen, NewMailbox, NewMessage, NewUser, RetentionPolicy, Store, StoreError,
    ValidateReply,
};
use serde_json::json;

const T0: i64 = 1_750_000_000_000;
const DAY: Duration = Duration::from_secs(86_400);
const ADDR: &str = "jeanne.martin@example.fr";
const FISCAL: &str = "1234567890123";

struct Seeded {
    agent: i64,
    mailbox: i64,
}

async fn seed(s: &Store) -> Seeded {
    let mailbox = s
        .create_mailbox(
            &NewMailbox {
                name: "sip".into(),
                address: "sip@service.test".into(),
                signature: String::new(),
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
                display_name: "Agent Test".into(),
                password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into(),
                role: Role::Agent,
            },
            None,
        )
        .await
        .unwrap();
    s.set_mailbox_access(agent, mailbox, true, None)
        .await
        .unwrap();
    Seeded { agent, mailbox }
}

async fn message(s: &Store, mb: i64, n: u32, from: &str, body: &str) -> i64 {
    let raw =
        format!("From: {from}\r\nSubject: demande {n}\r\nMessage-ID: <m{n}@x>\r\n\r\n{body}\r\n");
    s.insert_message(&NewMessage {
        mailbox_id: mb,
        message_id: format!("<m{n}@x>"),
        content_hash: format!("h{n}"),
        raw: raw.into_bytes(),
        subject: format!("demande {n}"),
        from_name: Some("Jeanne Martin".into()),
        from_address: Some(from.into()),
        date: None,
        received_at: None,
        thread_id: None,
        parsed: Default::default(),
        pseudonymised_text: "Bonjour, [NOM] demande".into(),
        language: Some("fr".into()),
        pii_kinds: vec![],
        flags: vec![],
    })
    .await
    .unwrap()
    .id()
}

/// Validate a reply to `id` and have it sent: the message is then closed.
async fn reply_and_send(s: &Store, seeded: &Seeded, id: i64, to: &str) {
    s.validate_and_queue(&ValidateReply {
        message_id: id,
        user_id: seeded.agent,
        body: "Bonjour,\nvotre demande est traitée.\nCordialement".to_string(),
        reply_message_id: format!("<r{id}@service.test>"),
        to_address: to.into(),
        subject: "Re: demande".into(),
        in_reply_to: None,
        references: vec![],
        send_delay_ms: 0,
    })
    .await
    .unwrap();
    let item = s
        .claim_outbox("w", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    s.mark_sent(item.id, "w").await.unwrap();
}

#[tokio::test]
async fn purge_follows_the_three_delays_and_keeps_the_audit_chain() {
    for db in db::backends("retention_purge", T0).await {
        let s = &db.store;
        let seeded = seed(s).await;
        let closed = message(s, seeded.mailbox, 1, ADDR, "ancienne demande").await;
        reply_and_send(s, &seeded, closed, ADDR).await;
        let open = message(s, seeded.mailbox, 2, "autre@example.fr", "toujours ouverte").await;
        let policy = RetentionPolicy {
            raw_mail_days: 10,
            message_days: 30,
            training_days: 60,
        };
        // Nothing is due yet: no audit row either.
        let r = s.purge_expired(&policy, 1).await.unwrap();
        assert_eq!(r.total(), 0);
        assert_eq!(r.audit_seq, None);

        db.clock.advance(DAY * 11);
        let r = s.purge_expired(&policy, 1).await.unwrap();
        assert_eq!(
            (r.raw_emptied, r.content_removed, r.messages_deleted),
            (1, 0, 0)
        );
        assert_eq!(s.get_raw(closed).await.unwrap().unwrap(), Vec::<u8>::new());
        assert!(
            !s.get_raw(open).await.unwrap().unwrap().is_empty(),
            "open messages are kept"
        );
        let m = s.get_message(closed).await.unwrap().unwrap();
        assert_eq!(
            m.from_address.as_deref(),
            Some(ADDR),
            "only the raw mail at this stage"
        );
        // Idempotent.
        assert_eq!(s.purge_expired(&policy, 1).await.unwrap().total(), 0);

        db.clock.advance(DAY * 20);
        let r = s.purge_expired(&policy, 1).await.unwrap();
        assert_eq!(
            (r.raw_emptied, r.content_removed, r.messages_deleted),
            (0, 1, 0)
        );
        let m = s.get_message(closed).await.unwrap().unwrap();
        assert_eq!(m.from_address, None);
        assert_eq!(m.subject, "");
        assert!(s.get_outbox_for_message(closed).await.unwrap().is_none());
        assert!(s.latest_triage(closed).await.unwrap().is_none());
        assert!(!m.training_text().is_empty(), "the training text stays");
        assert_eq!(
            s.list_actions(closed).await.unwrap().len(),
            1,
            "the agent's action stays"
        );

        db.clock.advance(DAY * 30);
        let r = s.purge_expired(&policy, 1).await.unwrap();
        assert_eq!(
            (r.raw_emptied, r.content_removed, r.messages_deleted),
            (0, 0, 1)
        );
        assert!(s.get_message(closed).await.unwrap().is_none());
        assert!(
            s.get_message(open).await.unwrap().is_some(),
            "open messages are never purged"
        );

        let audit = s.verify_audit().await.unwrap();
        assert!(audit.ok, "{audit:?}");
        let rows = s.list_audit(0, 1000).await.unwrap();
        let purges: Vec<_> = rows
            .iter()
            .filter(|r| r.action == "retention.purge")
            .collect();
        assert_eq!(purges.len(), 3);
        for p in purges {
            let text = p.details.to_string();
            assert!(
                !text.contains("jeanne") && !text.contains("demande"),
                "{text}"
            );
        }
    }
}

#[tokio::test]
async fn erasure_leaves_no_trace_of_the_person_and_flags_models() {
    for db in db::backends("retention_erase", T0).await {
        let s = &db.store;
        let seeded = seed(s).await;
        let a = message(s, seeded.mailbox, 1, ADDR, "ma demande").await;
        reply_and_send(s, &seeded, a, ADDR).await;
        // Mentioned by number only, from another address, number spaced out.
        let b = message(
            s,
            seeded.mailbox,
            2,
            "mandataire@example.org",
            "pour le n° fiscal 12 34 567 890 123",
        )
        .await;
        let other = message(s, seeded.mailbox, 3, "paul@example.org", "rien à voir").await;
        s.create_model_version("m1", &json!({}), None)
            .await
            .unwrap();

        let who = Citizen::new("Jeanne.Martin@example.fr", Some(FISCAL)).unwrap();
        assert_eq!(s.citizen_message_ids(&who).await.unwrap(), vec![a, b]);
        let refused = s
            .erase_citizen(&who, "Sup Ervisor", &format!("demande de {ADDR}"))
            .await;
        assert!(
            matches!(refused, Err(StoreError::Conflict { .. })),
            "the reason must not name them"
        );

        let r = s
            .erase_citizen(&who, "Claire Superviseure", "art. 17 RGPD, demande écrite")
            .await
            .unwrap();
        assert_eq!((r.messages, r.replies, r.models_flagged), (2, 1, 1));
        assert!(s.get_message(a).await.unwrap().is_none());
        assert!(s.get_message(b).await.unwrap().is_none());
        assert!(s.get_message(other).await.unwrap().is_some());
        assert!(s.citizen_message_ids(&who).await.unwrap().is_empty());
        assert_eq!(
            s.models_flagged_by_erasure().await.unwrap(),
            vec![("m1".to_string(), r.at)]
        );
        assert!(s.verify_audit().await.unwrap().ok);
        let rows = s.list_audit(0, 1000).await.unwrap();
        let erase = rows.iter().find(|r| r.action == "citizen.erase").unwrap();
        assert_eq!(erase.details["supervisor"], "Claire Superviseure");
        for row in &rows {
            let text = format!("{} {} {}", row.target, row.actor, row.details);
            assert!(!text.contains("jeanne") && !text.contains("567"), "{text}");
        }
        // On SQLite, not even in the file's free pages or write-ahead log.
        if let Some(path) = db.url.strip_prefix("sqlite:") {
            s.close().await;
            for f in [path.to_string(), format!("{path}-wal")] {
                let Ok(bytes) = std::fs::read(&f) else {
                    continue;
                };
                let lower = String::from_utf8_lossy(&bytes).to_lowercase();
                assert!(
                    !lower.contains("jeanne.martin"),
                    "{f} still holds the address"
                );
                assert!(!lower.contains("ma demande"), "{f} still holds the mail");
            }
        }
    }
}

/// The previous release's schema: a Migrator over copies of 0001-0008 (what
/// tag v0.1.0 ships; sqlx checks their checksums when the new build opens it).
async fn previous_release_db(dir: &std::path::Path) -> String {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let old = dir.join("v0.1.0-migrations");
    std::fs::create_dir_all(&old).unwrap();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let n: u32 = name[..4].parse().unwrap();
        if n <= 8 {
            std::fs::copy(e.path(), old.join(&name)).unwrap();
        }
    }
    let url = format!("sqlite:{}", dir.join("facteur.db").display());
    use std::str::FromStr;
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool.close().await;
    url
}

#[tokio::test]
async fn a_previous_release_database_upgrades_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = previous_release_db(dir.path()).await;
    let before = schema_status(&url).await.unwrap();
    assert_eq!(before.applied, (1..=8).collect::<Vec<i64>>());
    assert!(before.unknown.is_empty());
    assert!(before.pending.iter().any(|m| m.version == 12), "{before:?}");
    // Data written through the old schema, raw SQL as v0.1.0 would have.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO mailboxes (name, address, created_at, address_key) VALUES ('sip', 'sip@x', 1, 'sip@x')")
        .execute(&pool).await.unwrap();
    sqlx::query("INSERT INTO messages (mailbox_id, message_id, content_hash, raw, received_at, updated_at, state) VALUES (1, '<a@x>', 'h', X'41', 1, 1, 'sent')")
        .execute(&pool).await.unwrap();
    pool.close().await;

    let s = Store::open(&url).await.unwrap();
    let after = schema_status(&url).await.unwrap();
    assert!(after.pending.is_empty(), "{after:?}");
    assert_eq!(after.applied.last().copied(), Some(after.latest_known));
    assert_eq!(s.count_messages(None).await.unwrap(), 1);
    assert_eq!(s.get_raw(1).await.unwrap().unwrap(), b"A");
    assert!(s.verify_audit().await.unwrap().ok);
    // The new columns work on the upgraded rows.
    let r = s
        .purge_expired(
            &RetentionPolicy {
                raw_mail_days: 1,
                message_days: 1,
                training_days: 1,
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(r.messages_deleted, 1);
}

#[tokio::test]
async fn a_database_newer_than_this_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("facteur.db").display());
    Store::open(&url).await.unwrap().close().await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'from the future', 1, X'00', 0)")
        .execute(&pool).await.unwrap();
    pool.close().await;
    let status = schema_status(&url).await.unwrap();
    assert_eq!(status.unknown, vec![9999]);
    match Store::open(&url).await {
        Err(StoreError::DatabaseNewer {
            version,
            latest_known,
        }) => {
            assert_eq!(version, 9999);
            assert!(latest_known >= 12);
        }
        other => panic!("expected DatabaseNewer, got {other:?}"),
    }
}
