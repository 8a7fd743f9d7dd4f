//! The same citizen writing again, measured on a corpus written for it
//! (`tests/fixtures/followups/pairs.jsonl`: 10 repeats of an open request and 10
//! follow-ups on something else, French and English, two of them linked only by
//! the fiscal number they quote). Each pair goes through the real pipeline: the
//! mail parser, triage (personal data, citizen identifiers), a keyed SQLite store
//! and the repeat rule.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use facteur_store::{AuditKey, NewMailbox, NewMessage, Store};
use facteur_triage::{Engine, TriageOptions};
use serde::Deserialize;

const T0: i64 = 1_750_000_000_000;
const DAY: i64 = 24 * 3_600_000;

#[derive(Deserialize)]
struct Mail {
    subject: String,
    body: String,
}

#[derive(Deserialize)]
struct Pair {
    kind: String,
    lang: String,
    from: String,
    /// The second mail's sender when it differs (linked by the fiscal number).
    second_from: Option<String>,
    first: Mail,
    second: Mail,
}

fn pairs() -> Vec<Pair> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/followups/pairs.jsonl"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Stores, triages and links one mail as the service does after ingest; returns
/// its id and the message it repeats.
async fn arrive(
    s: &Store,
    engine: &Engine,
    mb: i64,
    n: u32,
    from: &str,
    m: &Mail,
    at: i64,
) -> (i64, Option<i64>) {
    let raw = format!(
        "From: {from}\r\nTo: sip@impots.example\r\nSubject: {}\r\nMessage-ID: <p{n}@example.test>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        m.subject,
        m.body.replace('\n', "\r\n")
    );
    let parsed = facteur_mail::parse_message(raw.as_bytes());
    let mut nm = NewMessage::from_parsed(mb, raw.into_bytes(), &parsed);
    nm.received_at = Some(at);
    let id = s.insert_message(&nm).await.unwrap().id();
    let t = engine.triage_parsed("corpus", &parsed);
    s.record_triage(&facteur_app::triage_record(id, None, &t))
        .await
        .unwrap();
    let of = facteur_app::link_repeat(s, id, &t, facteur_app::DEFAULT_FOLLOWUP_DAYS)
        .await
        .unwrap();
    (id, of)
}

#[tokio::test]
async fn repeats_are_told_from_follow_ups_and_every_pair_is_linked() {
    let engine = Engine::new(None, None, TriageOptions::default());
    let (mut tp, mut fp, mut fn_, mut linked) = (0, 0, 0, 0);
    // The similarity of each pair's masked texts, by kind: the margin around
    // the threshold.
    let (mut dup_min, mut follow_max) = (1.0f32, 0.0f32);
    let all = pairs();
    assert_eq!(all.iter().filter(|p| p.kind == "duplicate").count(), 10);
    assert_eq!(all.iter().filter(|p| p.kind == "followup").count(), 10);
    assert!(all.iter().any(|p| p.lang == "en"));
    for (i, p) in all.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&format!("sqlite:{}", dir.path().join("f.db").display()))
            .await
            .unwrap()
            .with_audit_key(AuditKey {
                key: [3; 32],
                unkeyed_until: 0,
            });
        let mb = s
            .create_mailbox(
                &NewMailbox {
                    name: "sip".into(),
                    address: "sip@impots.example".into(),
                    signature: String::new(),
                    settings: serde_json::json!({}),
                },
                None,
            )
            .await
            .unwrap();
        let n = 2 * i as u32;
        let (first, none) = arrive(&s, &engine, mb, n, &p.from, &p.first, T0).await;
        assert_eq!(none, None, "pair {i}: a first message repeats nothing");
        let from2 = p.second_from.as_deref().unwrap_or(&p.from);
        let (second, of) = arrive(&s, &engine, mb, n + 1, from2, &p.second, T0 + 2 * DAY).await;
        let history: Vec<i64> = s
            .same_citizen(second, facteur_app::followups::window_ms(30))
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        let (a, b) = (
            s.get_message(first)
                .await
                .unwrap()
                .unwrap()
                .pseudonymised_text,
            s.get_message(second)
                .await
                .unwrap()
                .unwrap()
                .pseudonymised_text,
        );
        let sim = facteur_app::followups::text_similarity(&a, &b);
        if p.kind == "duplicate" {
            dup_min = dup_min.min(sim);
        } else {
            follow_max = follow_max.max(sim);
        }
        if history == vec![first] {
            linked += 1;
        } else {
            eprintln!("pair {i} ({}): not linked: {history:?}", p.kind);
        }
        match (p.kind.as_str(), of) {
            ("duplicate", Some(x)) if x == first => tp += 1,
            ("duplicate", _) => {
                fn_ += 1;
                eprintln!("pair {i}: repeat missed");
            }
            (_, Some(_)) => {
                fp += 1;
                eprintln!("pair {i}: follow-up taken for a repeat");
            }
            _ => {}
        }
    }
    let precision = f64::from(tp) / f64::from((tp + fp).max(1));
    let recall = f64::from(tp) / 10.0;
    eprintln!(
        "followups corpus: {linked}/20 pairs linked; repeats: precision {precision:.2}, recall {recall:.2} ({tp} found, {fp} wrong, {fn_} missed); similarity: repeats >= {dup_min:.2}, follow-ups <= {follow_max:.2}, threshold {}",
        facteur_app::followups::DUPLICATE_SIMILARITY
    );
    assert_eq!(linked, 20, "every pair is the same citizen's");
    assert_eq!(fp, 0, "a follow-up must never be closed as a repeat");
    assert!(recall >= 0.9, "recall {recall}");
}
