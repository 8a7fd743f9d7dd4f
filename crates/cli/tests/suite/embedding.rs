//! The one embedding switch through the binary: `kb import` with `embedding_model` embeds
//! every document once (importing again embeds nothing), `triage --json` then ranks with
//! the model, and without the switch the same data directory answers lexically.
//!
//! Needs FACTEUR_TEST_EMBEDDING_MODEL (scripts/test.sh fetches the pinned model file);
//! without it the test says it is skipped — except under CI.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common::{facteur, repo, run_ok, shared_data};
use std::path::{Path, PathBuf};

/// One data directory and two configs over it: with the embedding model, and without.
struct Configs {
    data: PathBuf,
    with: PathBuf,
    without: PathBuf,
}

fn configs(dir: &Path, model: &Path) -> Configs {
    let data = dir.join("data");
    let with = dir.join("with.toml");
    let without = dir.join("without.toml");
    let data_dir = format!("data_dir = \"{}\"\n", data.display());
    std::fs::write(
        &with,
        format!("{data_dir}embedding_model = \"{}\"\n", model.display()),
    )
    .unwrap();
    std::fs::write(&without, data_dir).unwrap();
    Configs {
        data,
        with,
        without,
    }
}

#[test]
fn kb_import_and_triage_honour_the_embedding_model() {
    let Some(model) = facteur_embed::testing::model_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Configs {
        data,
        with,
        without,
    } = configs(dir.path(), &model);
    let fiches = shared_data().join("service-public-fiches-2020/kb_fiscalite.jsonl");
    let import = |cfg: &Path| -> serde_json::Value {
        let mut c = facteur(cfg);
        c.args(["kb", "import", "--no-store", "--json"])
            .arg(&fiches)
            .arg(repo().join("answers"));
        serde_json::from_str(&run_ok(c, None)).unwrap()
    };
    let embedded = |v: &serde_json::Value| -> Vec<u64> {
        v["imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["report"]["embedded"].as_u64().unwrap())
            .collect()
    };
    let first = import(&with);
    let counts = embedded(&first);
    assert!(counts.iter().all(|&n| n > 0), "{first}");
    assert_eq!(
        embedded(&import(&with)),
        vec![0, 0],
        "a second import re-embedded"
    );

    let mail = "From: a@example.test\nTo: sip@example.test\nSubject: caution\n\n\
                Bonjour, mon proprio ne me rend pas ma caution depuis trois mois, que faire ?\n";
    let triage = |cfg: &Path| -> serde_json::Value {
        let mut c = facteur(cfg);
        c.args(["triage", "--json", "--data-dir"])
            .arg(&data)
            .arg("-");
        serde_json::from_str(run_ok(c, Some(mail)).lines().next().unwrap()).unwrap()
    };
    let hybrid = triage(&with);
    let lexical = triage(&without);
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["passages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!ids(&hybrid).is_empty(), "{hybrid}");
    // The semantic view changes the ranking of this colloquial mail ("proprio", "caution").
    assert_ne!(ids(&hybrid), ids(&lexical));
}

/// `train` with the switch gives the model an embedding view and records which
/// embedding it needs; `eval` and `triage` then read every text with that embedder,
/// and refuse, saying what to set, when it is not configured.
#[test]
fn train_with_the_embedding_switch_records_the_recipe_and_needs_it_to_load() {
    let Some(model) = facteur_embed::testing::model_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Configs {
        data,
        with,
        without,
    } = configs(dir.path(), &model);
    let examples = repo().join("answers/demo/examples.jsonl");
    let model_dir = dir.path().join("model");
    let cmd = |cfg: &Path| {
        let mut c = facteur(cfg);
        c.env("FACTEUR_LANG", "en");
        c
    };
    let mut c = cmd(&with);
    c.args(["train", "--json", "--data"])
        .arg(&examples)
        .arg("--model")
        .arg(&model_dir);
    let trained: serde_json::Value = serde_json::from_str(&run_ok(c, None)).unwrap();
    let dense = &trained["meta"]["dense"];
    assert_eq!(
        dense["recipe"]["model"], "multilingual-e5-small-q4",
        "{trained}"
    );
    assert_eq!(dense["recipe"]["checksum"], facteur_embed::MODEL_SHA256);
    assert_eq!(dense["recipe"]["dim"], 384);
    assert!(dense["weight"].as_f64().unwrap() > 0.0);

    let mut c = cmd(&with);
    c.args(["eval", "--json", "--data"])
        .arg(&examples)
        .arg("--model")
        .arg(&model_dir);
    let report: serde_json::Value = serde_json::from_str(&run_ok(c, None)).unwrap();
    // On its own training data, read with its embeddings, it is right almost always
    // and answers most of it (without the vectors it would abstain on everything).
    assert!(report["accuracy"].as_f64().unwrap() > 0.95, "{report}");
    assert!(report["coverage_at_model_threshold"].as_f64().unwrap() > 0.5);

    let mail = "From: a@example.test\nTo: sip@example.test\nSubject: RIB\n\n\
                Bonjour, j'ai changé de banque, comment mettre à jour mon RIB pour le prélèvement de mes impôts ?\n";
    let mut c = cmd(&with);
    c.args(["triage", "--json", "--model"])
        .arg(&model_dir)
        .arg("-");
    let out = run_ok(c, Some(mail));
    let t: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(t["category"], "coordonnees-bancaires", "{t}");

    // The model registry (corrections retrain through it) honours the switch too.
    let mut c = cmd(&with);
    c.args(["model", "train", "--no-feedback", "--json", "--base"])
        .arg(&examples)
        .arg("--eval")
        .arg(repo().join("answers/demo/eval.jsonl"));
    let outcome: serde_json::Value = serde_json::from_str(&run_ok(c, None)).unwrap();
    let version = outcome["candidate"]["version"].as_str().unwrap();
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("models").join(version).join("model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["dense"]["recipe"]["model"], "multilingual-e5-small-q4");
    // The record says so, for the transparency sheet.
    assert_eq!(
        outcome["candidate"]["record"]["embedding_model"],
        "multilingual-e5-small-q4"
    );
    let f1 = outcome["candidate"]["record"]["eval"]["macro_f1"]
        .as_f64()
        .unwrap();
    assert!(f1 > 0.5, "{outcome}");
    let mut c = cmd(&with);
    c.args(["model", "eval", version, "--json", "--data"])
        .arg(repo().join("answers/demo/eval.jsonl"));
    let again: serde_json::Value = serde_json::from_str(&run_ok(c, None)).unwrap();
    assert_eq!(again["macro_f1"].as_f64().unwrap(), f1, "{again}");

    for args in [vec!["eval", "--data"], vec!["triage", "--model"]] {
        let mut c = cmd(&without);
        c.args(&args);
        if args[0] == "eval" {
            c.arg(&examples).arg("--model").arg(&model_dir);
        } else {
            c.arg(&model_dir).arg("-");
        }
        let out = c.stdin(std::process::Stdio::null()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{args:?} loaded a model it cannot score"
        );
        assert!(
            err.contains("trained with the embeddings of multilingual-e5-small-q4")
                && err.contains("set embedding_model"),
            "{args:?}: {err}"
        );
    }
}
