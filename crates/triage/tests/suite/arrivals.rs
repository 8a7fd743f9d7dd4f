//! Mail as it really arrives (issue 19): the French and English corpus under
//! `tests/fixtures/arrivals`, one folder per kind, read through the whole
//! pipeline (`Engine::triage_raw`, no model, no knowledge base: detection needs
//! neither).
//!
//! - `auto_replies/`: 20 auto-replies, 10 told by their headers (RFC 3834
//!   `Auto-Submitted`, `X-Autoreply`, `X-Autorespond`, `Precedence` bulk/junk/list,
//!   `List-Id`, a null `Return-Path`) and 10 by their words only (FR/EN);
//! - `bounces/`: 10 bounces, 4 RFC 3464 reports (one a 4.4.1 delay) and the
//!   texts of Exchange (EN, FR), Postfix and Gmail (EN, FR);
//! - `thanks_only/`: 20 mails that only thank;
//! - `questions_with_thanks/`: 50 real questions that also say thank you.
//!
//! Per kind, precision and recall of "automatic" are printed (run with
//! `--nocapture`) and held to their floors; the last folder must give 0 wrong
//! "no answer needed" decisions.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use facteur_core::{AutomaticKind, BounceFormat, Route};
use facteur_triage::{Engine, TriageOptions, Triaged};

fn folder(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/arrivals")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

fn triage_folder(engine: &Engine, kind: &str) -> Vec<(String, Triaged)> {
    folder(kind)
        .into_iter()
        .map(|p| {
            let raw = std::fs::read(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let t = engine.triage_raw(&name, &raw);
            (name, t)
        })
        .collect()
}

fn engine() -> Engine {
    Engine::new(None, None, TriageOptions::default())
}

fn kind_of(t: &Triaged) -> Option<AutomaticKind> {
    t.automatic.as_ref().map(|a| a.kind)
}

/// Precision and recall of detecting `target` over every folder; `positives`
/// names the folder that holds it.
fn precision_recall(
    all: &[(&str, Vec<(String, Triaged)>)],
    positives: &str,
    target: AutomaticKind,
) -> (f64, f64, Vec<String>) {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    let mut wrong = Vec::new();
    for (folder, items) in all {
        for (name, t) in items {
            let said = kind_of(t) == Some(target);
            let is = *folder == positives;
            match (said, is) {
                (true, true) => tp += 1,
                (true, false) => {
                    fp += 1;
                    wrong.push(format!("false {target:?}: {folder}/{name}"));
                }
                (false, true) => {
                    fn_ += 1;
                    wrong.push(format!("missed {target:?}: {folder}/{name}"));
                }
                _ => {}
            }
        }
    }
    let p = tp as f64 / (tp + fp).max(1) as f64;
    let r = tp as f64 / (tp + fn_).max(1) as f64;
    (p, r, wrong)
}

#[test]
fn corpus_has_the_announced_size() {
    assert_eq!(folder("auto_replies").len(), 20);
    assert_eq!(folder("bounces").len(), 10);
    assert_eq!(folder("thanks_only").len(), 20);
    assert_eq!(folder("questions_with_thanks").len(), 50);
}

#[test]
fn automatic_mail_precision_and_recall_per_kind() {
    let e = engine();
    let all: Vec<(&str, Vec<(String, Triaged)>)> = [
        "auto_replies",
        "bounces",
        "thanks_only",
        "questions_with_thanks",
    ]
    .into_iter()
    .map(|k| (k, triage_folder(&e, k)))
    .collect();
    for (folder, target) in [
        ("auto_replies", AutomaticKind::AutoReply),
        ("bounces", AutomaticKind::Bounce),
    ] {
        let (p, r, wrong) = precision_recall(&all, folder, target);
        println!("{target:?}: precision {p:.3}, recall {r:.3}");
        for w in &wrong {
            println!("  {w}");
        }
        assert!(p >= 1.0 && r >= 1.0, "{target:?}: {wrong:?}");
    }
    // Automatic mail is never offered a draft and routes to its own state.
    for (folder, items) in &all[..2] {
        for (name, t) in items {
            assert_eq!(t.route, Route::Automatic, "{folder}/{name}");
            assert!(t.draft.is_none(), "{folder}/{name}");
        }
    }
}

#[test]
fn thanks_only_precision_and_recall() {
    let e = engine();
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    let mut wrong = Vec::new();
    for folder in [
        "auto_replies",
        "bounces",
        "thanks_only",
        "questions_with_thanks",
    ] {
        for (name, t) in triage_folder(&e, folder) {
            let is = folder == "thanks_only";
            match (t.thanks_only, is) {
                (true, true) => tp += 1,
                (true, false) => {
                    fp += 1;
                    wrong.push(format!("false thanks-only: {folder}/{name}"));
                }
                (false, true) => {
                    fn_ += 1;
                    wrong.push(format!("missed thanks-only: {folder}/{name} {:?}", t.body));
                }
                _ => {}
            }
            if t.thanks_only {
                assert!(t.draft.is_none(), "{name}");
            }
        }
    }
    let p = tp as f64 / (tp + fp).max(1) as f64;
    let r = tp as f64 / (tp + fn_).max(1) as f64;
    println!("thanks-only: precision {p:.3}, recall {r:.3}");
    for w in &wrong {
        println!("  {w}");
    }
    assert_eq!(fp, 0, "{wrong:?}");
    assert!(r >= 0.9, "{wrong:?}");
}

#[test]
fn no_real_question_is_decided_no_answer_needed() {
    let e = engine();
    let wrong: Vec<String> = triage_folder(&e, "questions_with_thanks")
        .into_iter()
        .filter(|(_, t)| t.route == Route::Automatic || t.automatic.is_some() || t.thanks_only)
        .map(|(n, _)| n)
        .collect();
    println!(
        "questions with thanks decided no-answer: {} of 50",
        wrong.len()
    );
    assert!(wrong.is_empty(), "{wrong:?}");
}

#[test]
fn bounces_name_the_reply_they_report_with_status_and_masked_diagnostic() {
    let e = engine();
    for (name, t) in triage_folder(&e, "bounces") {
        let report = t
            .automatic
            .as_ref()
            .and_then(|a| a.bounce.as_ref())
            .unwrap_or_else(|| panic!("{name}: no bounce report"));
        // Each fixture returns `facteur-bounce<n>@…` to citoyen<n>@example.net.
        let n: u32 = name
            .trim_end_matches(".eml")
            .rsplit('_')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            report.original_message_id.as_deref(),
            Some(format!("facteur-bounce{n}@dgfip.example.fr").as_str()),
            "{name}"
        );
        let status = report.status.as_deref().unwrap_or_else(|| panic!("{name}"));
        assert!(
            status.starts_with(if n == 4 { '4' } else { '5' }),
            "{name}: {status}"
        );
        assert_eq!(report.is_temporary(), n == 4, "{name}");
        let diag = report.diagnostic.as_deref().unwrap_or_default();
        assert!(!diag.is_empty(), "{name}: no diagnostic");
        // The failed address is personal data: never kept in clear.
        assert!(!diag.contains(&format!("citoyen{n}@")), "{name}: {diag}");
        let recipient = report.recipient.as_deref().unwrap_or_default();
        assert!(!recipient.contains('@'), "{name}: {recipient}");
        let expected = match name.split('_').next().unwrap() {
            "rfc3464" => BounceFormat::Rfc3464,
            "exchange" => BounceFormat::Exchange,
            "postfix" => BounceFormat::Postfix,
            "gmail" => BounceFormat::Gmail,
            other => panic!("unexpected fixture {other}"),
        };
        assert_eq!(report.format, Some(expected), "{name}");
    }
}
