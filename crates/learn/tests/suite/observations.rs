//! Drift observations read from a real SQLite store after agents corrected the
//! category: the drift dashboard must measure what the MODEL predicted, not the
//! agent's correction that the service re-triages with (confidence 1.0).
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use facteur_core::{Role, Route};
use facteur_learn::collect::collect_observations;
use facteur_store::{ManualClock, NewMailbox, NewMessage, NewTriage, NewUser, Store};

const T0: i64 = 1_750_032_000_000; // Monday 2025-06-16 00:00 UTC

fn triage(id: i64, category: &str, confidence: f32, route: Route) -> NewTriage {
    NewTriage {
        message_id: id,
        model_version: Some("m1".into()),
        category: Some(category.into()),
        confidence: Some(confidence),
        route,
        answer_id: Some(category.into()),
        answer_version: Some(1),
        draft_text: Some(format!("Bonjour,\nréponse type {category}.\nCordialement")),
        passages: Vec::new(),
        language: Some("fr".into()),
        pseudonymised_text: None,
        subject_pseudonymised: None,
        classify_text: None,
        pii_kinds: vec![],
        flags: vec![],
        candidates: Vec::new(),
        close_suggestion: None,
        citizen_ids: Vec::new(),
        attachment_texts: Vec::new(),
    }
}

#[tokio::test]
async fn a_corrected_message_counts_with_the_models_prediction_not_the_agents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("facteur.db").display());
    let clock = Arc::new(ManualClock::new(T0));
    let store = Store::open(&url)
        .await
        .expect("open")
        .with_clock(clock.clone());
    let agent = store
        .create_user(
            &NewUser {
                username: "arnaud".into(),
                display_name: "Arnaud".into(),
                password_hash: "x".into(),
                role: Role::Agent,
            },
            None,
        )
        .await
        .expect("agent");
    let mailbox = store
        .create_mailbox(
            &NewMailbox {
                name: "sip".into(),
                address: "sip@example.test".into(),
                signature: "Le service".into(),
                settings: serde_json::json!({}),
            },
            None,
        )
        .await
        .expect("mailbox");
    store
        .set_mailbox_access(agent, mailbox, true, None)
        .await
        .expect("access");
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut m = NewMessage {
            mailbox_id: mailbox,
            message_id: format!("m{i}@example.test"),
            content_hash: format!("{i:064}"),
            raw: b"Bonjour".to_vec(),
            subject: "Question".into(),
            pseudonymised_text: format!("Bonjour, question {i}"),
            ..Default::default()
        };
        m.received_at = Some(T0 + i);
        ids.push(store.insert_message(&m).await.expect("insert").id());
    }
    // 0: confident and wrong, corrected to "b", re-triaged with the agent's type.
    store
        .record_triage(&triage(ids[0], "a", 0.6, Route::ReadyToValidate))
        .await
        .expect("triage");
    clock.set(T0 + 1_000);
    store
        .correct_category(ids[0], agent, "b")
        .await
        .expect("correct");
    store
        .record_triage(&triage(ids[0], "b", 1.0, Route::ReadyToValidate))
        .await
        .expect("retriage");
    // 1: the model abstained; the agent chose "c" and got a draft for it.
    store
        .record_triage(&triage(ids[1], "a", 0.2, Route::Abstain))
        .await
        .expect("triage");
    store
        .correct_category(ids[1], agent, "c")
        .await
        .expect("correct");
    store
        .record_triage(&triage(ids[1], "c", 1.0, Route::ReadyToValidate))
        .await
        .expect("retriage");
    // 2: never corrected.
    store
        .record_triage(&triage(ids[2], "a", 0.9, Route::ReadyToValidate))
        .await
        .expect("triage");

    let obs = collect_observations(&store, None, None)
        .await
        .expect("observations");
    assert_eq!(obs.len(), 3);
    let at = |i: i64| {
        obs.iter()
            .find(|o| o.at == T0 + i)
            .expect("observation of the message")
    };
    let corrected = at(0);
    assert!(corrected.corrected);
    assert_eq!(corrected.predicted.as_deref(), Some("a"), "{corrected:?}");
    assert_ne!(corrected.confidence, Some(1.0), "{corrected:?}");
    assert!(corrected.draft_shown);
    let abstained = at(1);
    assert_eq!(abstained.predicted.as_deref(), Some("a"), "{abstained:?}");
    assert!(abstained.abstained, "{abstained:?}");
    let plain = at(2);
    assert!(!plain.corrected);
    assert_eq!(plain.predicted.as_deref(), Some("a"));
    assert_eq!(plain.confidence, Some(0.9));
    assert!(!plain.abstained);
}
