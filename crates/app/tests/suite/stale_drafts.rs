//! A standard answer replaced by a new validated version: the pending drafts
//! built on the old one are found, refused at validation without confirmation,
//! and rebuilt from the version in force (real SQLite store).
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use facteur_core::{AnswerStatus, Route};
use facteur_store::{NewAnswerVersion, NewMailbox, NewMessage, NewTriage, Store};
use serde_json::json;

fn version(content: &str) -> NewAnswerVersion {
    NewAnswerVersion {
        answer_id: "rib-standard".into(),
        title: "Changer de RIB".into(),
        language: "fr".into(),
        content: content.into(),
        valid_from: None,
        valid_until: None,
        author_id: None,
    }
}

fn triage(message_id: i64, v: i64, text: &str) -> NewTriage {
    NewTriage {
        message_id,
        model_version: Some("m-1".into()),
        category: Some("rib".into()),
        confidence: Some(0.9),
        route: Route::ReadyToValidate,
        answer_id: Some("rib-standard".into()),
        answer_version: Some(v),
        draft_text: Some(text.into()),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_on_a_replaced_version_are_refused_then_rebuilt_from_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&format!("sqlite:{}", dir.path().join("f.db").display()))
        .await
        .unwrap();
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
    let v1 = s.create_answer_version(&version("Texte v1")).await.unwrap();
    s.set_answer_status("rib-standard", v1, AnswerStatus::Validated, 0)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..2 {
        let id = s
            .insert_message(&NewMessage {
                mailbox_id: mb,
                message_id: format!("m{n}@example.test"),
                content_hash: format!("{n:064}"),
                subject: "RIB".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .id();
        s.record_triage(&triage(id, v1, "Texte v1")).await.unwrap();
        ids.push(id);
    }
    // Version 1 in force: nothing to warn about.
    let tr = s.latest_triage(ids[0]).await.unwrap().unwrap();
    assert_eq!(facteur_app::retired_version(&s, &tr).await.unwrap(), None);
    assert!(s.stale_drafts().await.unwrap().is_empty());

    // Version 2 validated: version 1 is retired.
    let v2 = s.create_answer_version(&version("Texte v2")).await.unwrap();
    s.set_answer_status("rib-standard", v2, AnswerStatus::Validated, 0)
        .await
        .unwrap();
    let retired = facteur_app::retired_version(&s, &tr).await.unwrap();
    assert_eq!(
        retired,
        Some(facteur_app::RetiredVersion {
            answer_id: "rib-standard".into(),
            version: v1
        })
    );
    assert!(facteur_app::may_validate(retired.clone(), false).is_err());
    assert_eq!(
        facteur_app::may_validate(retired.clone(), true),
        Ok(retired)
    );
    assert_eq!(s.stale_drafts().await.unwrap(), ids);

    // The rebuild (triage's engine in production) drafts from the version in force.
    let calls = Arc::new(Mutex::new(Vec::new()));
    let rebuilt = facteur_app::rebuild_stale_drafts(&s, |id| {
        let s = s.clone();
        let calls = calls.clone();
        async move {
            calls.lock().unwrap().push(id);
            s.record_triage(&triage(id, v2, "Texte v2"))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await
    .unwrap();
    assert_eq!(rebuilt, 2);
    assert_eq!(*calls.lock().unwrap(), ids);
    assert!(s.stale_drafts().await.unwrap().is_empty());
    for id in &ids {
        let tr = s.latest_triage(*id).await.unwrap().unwrap();
        assert_eq!(tr.draft_text.as_deref(), Some("Texte v2"));
        assert_eq!(facteur_app::retired_version(&s, &tr).await.unwrap(), None);
    }
}
