//! End-to-end checks on the shared benchmark data (one test binary for the crate).
//! Data: `<manifest>/../../../shared/data/bench`, or `$FACTEUR_BENCH_DATA`.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use facteur_classify::{evaluate, read_jsonl, train, Example, TrainConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    std::env::var_os("FACTEUR_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/bench")
        })
}

fn load(name: &str) -> Vec<Example> {
    let p = data_dir().join(name);
    read_jsonl(&p)
        .unwrap_or_else(|e| panic!("benchmark data missing ({e}); set FACTEUR_BENCH_DATA"))
}

/// Regression floor on the official-question dataset (measured 0.649 with the
/// round-3 Crammer–Singer defaults, 0.672 with round 2's one-vs-rest; peer LinearSVC
/// 0.671). Training is deterministic (same result for any thread count).
#[test]
fn sp_dossiers_macro_f1_floor() {
    let tr = load("sp_dossiers_train.jsonl");
    let te = load("sp_dossiers_test.jsonl");
    let m = train(&tr, &TrainConfig::default(), &mut |_| {}).expect("train");
    let r = evaluate(&m, &te);
    assert!(r.macro_f1 >= 0.64, "macro-F1 {:.3} below floor", r.macro_f1);
    assert!(
        r.expected_calibration_error < 0.2,
        "ECE {}",
        r.expected_calibration_error
    );
    // Abstention at the out-of-fold threshold keeps answered precision high.
    assert!(r.precision_at_model_threshold >= 0.85, "{r:?}");
}

/// A taxonomy the defaults were never looked at with: a subset of cdtn labels,
/// 15 examples each for training, the rest of their train examples held out.
#[test]
fn few_shot_on_an_unseen_taxonomy() {
    let all = load("cdtn_topics_train.jsonl");
    let mut by: BTreeMap<&str, Vec<&Example>> = BTreeMap::new();
    for e in &all {
        by.entry(e.label.as_str()).or_default().push(e);
    }
    let (mut tr, mut te) = (Vec::new(), Vec::new());
    let mut classes = 0;
    for (_, ex) in by.iter().filter(|(_, v)| v.len() >= 20).take(25) {
        classes += 1;
        for (i, e) in ex.iter().enumerate() {
            if i < 15 {
                tr.push((*e).clone())
            } else {
                te.push((*e).clone())
            }
        }
    }
    assert!(
        classes >= 10 && te.len() >= 50,
        "{classes} classes, {} held out",
        te.len()
    );
    let m = train(&tr, &TrainConfig::default(), &mut |_| {}).expect("train");
    let r = evaluate(&m, &te);
    let chance = 1.0 / classes as f64;
    assert!(
        r.accuracy > 0.5 && r.accuracy > 5.0 * chance,
        "accuracy {:.3} on {classes} classes",
        r.accuracy
    );
    assert!(m.meta().cv.macro_f1 > 0.4, "{:?}", m.meta().cv);
}
