//! The text the classifier read, kept with the message (migration 0008) so that
//! training from agents' feedback uses the text the model reads live: on SQLite
//! always, and on PostgreSQL too when FACTEUR_TEST_PG_URL is set.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use facteur_testkit::db;

use std::path::Path;

use facteur_core::Route;
use facteur_store::{Backend, NewMailbox, NewMessage, NewTriage, Store};
use serde_json::json;

const T0: i64 = 1_780_000_000_000;

fn triage(message_id: i64, pseudonymised: Option<&str>, classify: Option<&str>) -> NewTriage {
    NewTriage {
        message_id,
        model_version: Some("m-1".into()),
        category: Some("delais-paiement".into()),
        confidence: Some(0.9),
        route: Route::NeedsResearch,
        answer_id: None,
        answer_version: None,
        draft_text: None,
        passages: Vec::new(),
        language: Some("fr".into()),
        pseudonymised_text: pseudonymised.map(str::to_string),
        subject_pseudonymised: None,
        classify_text: classify.map(str::to_string),
        pii_kinds: vec![],
        flags: vec![],
        candidates: Vec::new(),
        close_suggestion: None,
        citizen_ids: Vec::new(),
        attachment_texts: Vec::new(),
    }
}

const BODY: &str = "Bonjour, je suis [NOM_1], mon numéro fiscal [NUMERO_FISCAL_1].";
const CLASSIFY: &str =
    "Demande de délai de paiement\nBonjour, je suis [NOM_1], mon numéro fiscal [NUMERO_FISCAL_1].";

#[tokio::test]
async fn the_classify_text_is_stored_kept_and_replaced_by_triage() {
    for db in db::backends("facteur_clstext", T0).await {
        let s = &db.store;
        let b = s.backend();
        let mb = s
            .create_mailbox(
                &NewMailbox {
                    name: "sip".into(),
                    address: "sip@impots.example".into(),
                    signature: String::new(),
                    settings: json!({}),
                },
                None,
            )
            .await
            .unwrap();
        let id = s
            .insert_message(&NewMessage {
                mailbox_id: mb,
                message_id: "m1@example.test".into(),
                content_hash: "0".repeat(64),
                subject: "Demande de délai de paiement".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .id();
        // Not triaged yet: nothing to learn from.
        let m = s.get_message(id).await.unwrap().unwrap();
        assert_eq!(m.classify_text, None, "{b:?}");
        assert_eq!(m.training_text(), "", "{b:?}");

        s.record_triage(&triage(id, Some(BODY), Some(CLASSIFY)))
            .await
            .unwrap();
        let m = s.get_message(id).await.unwrap().unwrap();
        assert_eq!(m.pseudonymised_text, BODY, "{b:?}");
        assert_eq!(m.classify_text.as_deref(), Some(CLASSIFY), "{b:?}");
        assert_eq!(m.training_text(), CLASSIFY, "{b:?}");

        // A triage that does not say (None) keeps the stored text…
        s.record_triage(&triage(id, None, None)).await.unwrap();
        let m = s.get_message(id).await.unwrap().unwrap();
        assert_eq!(m.training_text(), CLASSIFY, "{b:?}");
        // …and a new one replaces it (the latest triage is what the model read).
        s.record_triage(&triage(id, Some(BODY), Some("Objet\nautre")))
            .await
            .unwrap();
        let m = s.get_message(id).await.unwrap().unwrap();
        assert_eq!(m.training_text(), "Objet\nautre", "{b:?}");
        // A blank one is no text to train on: the pseudonymised body is.
        s.record_triage(&triage(id, Some(BODY), Some("  ")))
            .await
            .unwrap();
        let m = s.get_message(id).await.unwrap().unwrap();
        assert_eq!(m.training_text(), BODY, "{b:?}");
    }
}

/// Migrations 0001–0007 and a message triaged the way that release did: the
/// pseudonymised body only.
async fn old_database_with_a_triaged_message(url: &str, backend: Backend) {
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
        .filter(|x| x.version <= 7)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    assert_eq!(m.migrations.len(), 7);
    let seed = format!(
        "INSERT INTO mailboxes (id, name, address, created_at) VALUES (1, 'a', 'sip@impots.example', 1); \
         INSERT INTO messages (id, mailbox_id, message_id, content_hash, raw, subject, received_at, \
         pseudonymised_text, state, category, confidence, updated_at) VALUES \
         (1, 1, 'old@example.test', 'h', '', 'Demande de délai', 1, '{BODY}', 'needs_research', \
         'delais-paiement', 0.5, 1)"
    );
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
                .await
                .unwrap();
            m.run(&pool).await.unwrap();
            sqlx::raw_sql(&seed).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            m.run(&pool).await.unwrap();
            sqlx::raw_sql(&seed).execute(&pool).await.unwrap();
            sqlx::raw_sql(
                "SELECT setval('mailboxes_id_seq', 1); SELECT setval('messages_id_seq', 1)",
            )
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
    }
}

#[tokio::test]
async fn messages_triaged_before_0008_fall_back_to_the_pseudonymised_body() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![(
        format!("sqlite:{}", dir.path().join("old.db").display()),
        Backend::Sqlite,
    )];
    match std::env::var("FACTEUR_TEST_PG_URL") {
        Ok(admin) if !admin.is_empty() => urls.push((
            facteur_testkit::pg::fresh_db(&admin, "facteur_clsmig"),
            Backend::Postgres,
        )),
        _ => eprintln!("PostgreSQL case SKIPPED: FACTEUR_TEST_PG_URL unset"),
    }
    for (url, b) in urls {
        old_database_with_a_triaged_message(&url, b).await;
        let s = Store::open(&url).await.expect("migrate to 0008");
        let m = s.get_message(1).await.unwrap().expect("old message kept");
        assert_eq!(m.classify_text, None, "{b:?}");
        assert_eq!(m.training_text(), BODY, "{b:?}");
        // Triaged again by this release: from now on, the classify text.
        s.record_triage(&triage(1, Some(BODY), Some(CLASSIFY)))
            .await
            .unwrap();
        let m = s.get_message(1).await.unwrap().unwrap();
        assert_eq!(m.training_text(), CLASSIFY, "{b:?}");
    }
}
