//! The `facteur` binary as users and scripts call it: the CLI contract of PRODUCT.md
//! (train, eval, triage, kb, suggest, demo), on the shared data and real mail.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::common::{repo, shared_data};

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_facteur"));
    // Never pick up a developer's config or model by accident.
    c.env_remove("FACTEUR_CONFIG")
        .env_remove("FACTEUR_DATA_DIR")
        .env_remove("FACTEUR_MODEL_DIR")
        .current_dir(std::env::temp_dir());
    c
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("facteur runs");
    assert!(
        out.status.success(),
        "facteur failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Every file of the MIME robustness corpus goes through triage: exit 0, one JSON line
/// per message, the contract's fields present, text valid UTF-8 (guaranteed by JSON).
#[test]
fn triage_reads_the_whole_mime_corpus_without_failing() {
    let corpus = shared_data().join("email-mime-corpus");
    let out = run(bin().args(["triage", "--json"]).arg(&corpus));
    let lines = json_lines(&out);
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![corpus.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 102, "corpus has {} files", files.len());
    assert!(
        lines.len() >= files.len(),
        "{} lines for {} files",
        lines.len(),
        files.len()
    );
    for f in &files {
        let origin = f.display().to_string();
        assert!(
            lines
                .iter()
                .any(|l| l["origin"].as_str().is_some_and(|o| o.starts_with(&origin))),
            "no output for {origin}"
        );
    }
    for l in &lines {
        for key in [
            "message_id",
            "subject",
            "from",
            "language",
            "body",
            "confidence",
            "pii",
            "defects",
            "route",
        ] {
            assert!(l.get(key).is_some(), "missing {key} in {l}");
        }
        assert!(!l["message_id"].as_str().unwrap().is_empty());
    }
    // The malformed folder must surface defects, not hide them.
    let malformed_with_defects = lines
        .iter()
        .filter(|l| l["origin"].as_str().unwrap().contains("malformed"))
        .filter(|l| !l["defects"].as_array().unwrap().is_empty())
        .count();
    assert!(
        malformed_with_defects >= 15,
        "only {malformed_with_defects} malformed messages report defects"
    );
}

#[test]
fn triage_cleans_protects_and_survives_hostile_input() {
    let out = run(bin()
        .args(["triage", "--json"])
        .arg(fixture("demande-rib.eml"))
        .arg(fixture("hostile.eml"))
        .arg(fixture("binary-junk.eml")));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    let rib = &lines[0];
    assert_eq!(rib["message_id"], "rib-0001@example.test");
    assert_eq!(rib["language"], "fr");
    let body = rib["body"].as_str().unwrap();
    assert!(body.contains("coordonnées bancaires"), "{body}");
    assert!(
        !body.contains("Votre demande a bien été enregistrée"),
        "quoted history leaked into the body: {body}"
    );
    assert!(
        !body.contains("iPhone"),
        "signature leaked into the body: {body}"
    );
    let pii: Vec<&str> = rib["pii"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(pii.contains(&"iban"), "{pii:?}");
    let masked = rib["body_pseudonymised"].as_str().unwrap();
    assert!(!masked.contains("FR76 3000"), "{masked}");
    assert!(masked.contains("[IBAN_1]"), "{masked}");
    // Without a model nothing is classified, and that is said.
    assert!(rib["category"].is_null());
    assert_eq!(rib["route"], "abstain");
    for l in &lines[1..] {
        assert!(
            !l["defects"].as_array().unwrap().is_empty(),
            "hostile mail without defects: {l}"
        );
    }
}

/// Inputs the fuzzer found crashing (kept so they never come back).
#[test]
fn triage_survives_fuzzer_findings() {
    let out = run(bin()
        .args(["triage", "--json"])
        .arg(fixture("fuzz-crash-apostrophe.eml")));
    assert_eq!(json_lines(&out).len(), 1);
}

#[test]
fn triage_reads_stdin_and_mbox() {
    let mut child = bin()
        .args(["triage", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mail = std::fs::read(fixture("demande-rib.eml")).unwrap();
    let mut mbox = Vec::new();
    for _ in 0..3 {
        mbox.extend_from_slice(b"From x@example.test Mon Nov 23 09:14:00 2026\n");
        mbox.extend_from_slice(&mail);
        mbox.push(b'\n');
    }
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &mbox).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(json_lines(&out).len(), 3);
}

#[test]
fn train_and_eval_follow_the_benchmark_contract() {
    let dir = tempfile::tempdir().unwrap();
    let bench = shared_data().join("bench");
    let model = dir.path().join("m");
    run(bin()
        .args(["train", "--data"])
        .arg(bench.join("sp_dossiers_train.jsonl"))
        .arg("--model")
        .arg(&model));
    assert!(model.join("model.bin").is_file());
    let out = run(bin()
        .args(["eval", "--json", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(bench.join("sp_dossiers_test.jsonl")));
    let v = &json_lines(&out)[0];
    for key in [
        "accuracy",
        "macro_f1",
        "examples",
        "predict_per_second",
        "train_seconds",
        "coverage_at_95_precision",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["examples"], 173);
    assert!(v["macro_f1"].as_f64().unwrap() > 0.6, "{v}");

    // The trained model now classifies triaged mail.
    let out = run(bin()
        .args(["triage", "--json", "--model"])
        .arg(&model)
        .arg(fixture("demande-rib.eml")));
    let l = &json_lines(&out)[0];
    assert!(l["confidence"].as_f64().unwrap() > 0.0);
    assert!(!l["top"].as_array().unwrap().is_empty());
}

/// The demo model's threshold, fitted out of fold on its training examples, is
/// refitted on the held-apart calibration mails: its own rule then answers more of
/// the demo's evaluation mails (which it has never seen) and stays precise there.
#[test]
fn calibration_refits_the_threshold_on_held_apart_mail() {
    let dir = tempfile::tempdir().unwrap();
    let demo = repo().join("answers/demo");
    let train = |name: &str, calibrate: bool| {
        let mut cmd = bin();
        cmd.args(["train", "--json", "--data"])
            .arg(demo.join("examples.jsonl"))
            .arg("--model")
            .arg(dir.path().join(name));
        if calibrate {
            cmd.arg("--calibrate").arg(demo.join("calibration.jsonl"));
        }
        json_lines(&run(&mut cmd))[0]["meta"].clone()
    };
    let eval = |name: &str| {
        let out = run(bin()
            .args(["eval", "--json", "--model"])
            .arg(dir.path().join(name))
            .arg("--data")
            .arg(demo.join("eval.jsonl")));
        json_lines(&out)[0].clone()
    };
    let oof = train("oof", false);
    let cal = train("cal", true);
    assert!(oof.get("calibration").is_none(), "{oof}");
    let c = &cal["calibration"];
    assert_eq!(
        (c["in_scope"].as_u64(), c["out_of_scope"].as_u64()),
        (Some(180), Some(45)),
        "{c}"
    );
    assert!(c["precision"].as_f64().unwrap() >= 0.95, "{c}");
    let (before, after) = (
        oof["abstain_threshold"].as_f64().unwrap(),
        cal["abstain_threshold"].as_f64().unwrap(),
    );
    assert_eq!(c["threshold_before"].as_f64().unwrap(), before);
    assert!(after < before, "{after} vs {before}");
    assert!(cal.get("type_thresholds").is_none(), "{cal}");
    let (e_oof, e_cal) = (eval("oof"), eval("cal"));
    let cov = |v: &serde_json::Value| v["coverage_at_model_threshold"].as_f64().unwrap();
    assert!(cov(&e_cal) > cov(&e_oof) + 0.1, "{e_cal} vs {e_oof}");
    assert!(
        e_cal["precision_at_model_threshold"].as_f64().unwrap() >= 0.95,
        "{e_cal}"
    );

    // Too few mails to place a threshold: refused, saying how many are needed.
    let few = dir.path().join("few.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(demo.join("calibration.jsonl"))
        .unwrap()
        .lines()
        .take(10)
        .map(str::to_string)
        .collect();
    std::fs::write(&few, lines.join("\n")).unwrap();
    let (_, err) = run_err(
        bin()
            .env("FACTEUR_LANG", "en")
            .args(["train", "--data"])
            .arg(demo.join("examples.jsonl"))
            .arg("--model")
            .arg(dir.path().join("few"))
            .arg("--calibrate")
            .arg(&few),
    );
    assert!(
        err.contains("few.jsonl") && err.contains("at least 50"),
        "{err}"
    );
}

#[test]
fn errors_name_the_input_and_say_what_to_do() {
    let out = bin()
        .args(["triage", "--json", "/nonexistent/mail.eml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/mail.eml"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\": oops}\n").unwrap();
    let out = bin()
        .args(["train", "--data"])
        .arg(&bad)
        .arg("--model")
        .arg(dir.path().join("m"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.jsonl") && err.contains('2'), "{err}");

    let out = bin()
        .args(["eval", "--model"])
        .arg(dir.path().join("nothing-here"))
        .arg("--data")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("facteur train"),
        "the error should say how to get a model: {err}"
    );
}

/// Knowledge base and drafting from the command line, on the demo answers and the
/// tax fiches: import is idempotent, search explains itself, suggest drafts with the
/// correspondent's name and never leaks a template variable.
#[test]
fn kb_import_search_and_suggest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let answers = repo().join("answers");
    let fiches = shared_data().join("service-public-fiches-2020/kb_fiscalite.jsonl");
    let import = |json: bool| {
        let mut c = bin();
        c.args(["kb", "import", "--data-dir"])
            .arg(&data)
            .arg(&fiches)
            .arg(answers.join("demo"));
        if json {
            c.arg("--json");
            json_lines(&run(&mut c)).into_iter().next()
        } else {
            run(&mut c);
            None
        }
    };
    import(false);
    // The node's folder holds its database and the audit key beside it, so a
    // `sync` or `serve` with `data_dir` there opens the keyed chain.
    assert!(data.join("facteur.db").is_file());
    assert!(
        data.join("audit.key").is_file(),
        "the audit key is not in --data-dir"
    );
    let second = import(true).unwrap();
    let text = second.to_string();
    assert!(text.contains("unchanged"), "{text}");
    for imp in second["imports"].as_array().unwrap() {
        let r = &imp["report"];
        assert_eq!(r["added"], 0, "re-import added documents: {r}");
        assert_eq!(r["updated"], 0, "re-import updated documents: {r}");
    }

    let out = run(bin()
        .args(["kb", "search", "--json", "--data-dir"])
        .arg(&data)
        .arg("feuille d'impôt"));
    let hits = &json_lines(&out)[0];
    let hits = hits.as_array().unwrap();
    assert!(!hits.is_empty());

    let model = dir.path().join("model");
    run(bin()
        .args(["train", "--data"])
        .arg(answers.join("demo/examples.jsonl"))
        .arg("--model")
        .arg(&model));
    let out = run(bin()
        .args(["suggest", "--json", "--data-dir"])
        .arg(&data)
        .arg("--model")
        .arg(&model)
        .args(["--signature", "Service des impôts des particuliers de Démo"])
        .arg(fixture("demande-rib.eml")));
    let s = &json_lines(&out)[0];
    assert_eq!(s["category"], "coordonnees-bancaires", "{s}");
    let draft = s["draft"]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no draft: {s}"));
    // The mail does not say Madame or Monsieur: the letter's opening for either.
    assert!(draft.starts_with("Madame, Monsieur,\n"), "{draft}");
    assert!(!draft.contains("{{"), "{draft}");
    assert!(
        draft.contains("Service des impôts des particuliers de Démo"),
        "{draft}"
    );
    assert!(!s["passages"].as_array().unwrap().is_empty());
}

#[test]
fn demo_mailbox_is_deterministic_and_triageable() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.mbox");
    let b = dir.path().join("b.mbox");
    for p in [&a, &b] {
        run(bin()
            .args(["demo", "mailbox", "--count", "40", "--out"])
            .arg(p)
            .arg("--answers")
            .arg(repo().join("answers"))
            .arg("--shared-data")
            .arg(shared_data()));
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let out = run(bin().args(["triage", "--json"]).arg(&a));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 40);
    let ids: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|l| l["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 40, "message ids must be unique");
    // The demo examples include a few English messages; the rest is French.
    let french = lines.iter().filter(|l| l["language"] == "fr").count();
    assert!(french >= 30, "only {french}/40 detected as French");
    assert!(lines
        .iter()
        .all(|l| ["fr", "en", "und"].contains(&l["language"].as_str().unwrap())));
}

#[test]
fn help_lists_every_command() {
    for lang in ["fr", "en"] {
        let out = run(bin().arg("--help").env("FACTEUR_LANG", lang));
        let help = String::from_utf8_lossy(&out.stdout);
        for cmd in ["train", "eval", "triage", "suggest", "kb", "demo"] {
            assert!(help.contains(cmd), "--help ({lang}) does not mention {cmd}");
        }
        assert!(
            help.contains("FACTEUR_LANG"),
            "--help ({lang}) hides FACTEUR_LANG"
        );
    }
}

/// The help speaks French by default, whatever LANG says (servers in French offices
/// often run with LANG=en_US), and English with FACTEUR_LANG=en — the English of the
/// doc comments, clap's headings included.
#[test]
fn help_is_french_by_default_and_english_with_facteur_lang_en() {
    let help = |lang: Option<&str>, args: &[&str]| {
        let mut c = bin();
        c.args(args)
            .env_remove("FACTEUR_LANG")
            .env("LANG", "en_US.UTF-8")
            .env("LC_ALL", "en_US.UTF-8");
        if let Some(l) = lang {
            c.env("FACTEUR_LANG", l);
        }
        String::from_utf8(run(&mut c).stdout).unwrap()
    };
    let fr = help(None, &["--help"]);
    assert!(
        fr.contains("Entraîne un classifieur de types de demande"),
        "{fr}"
    );
    assert!(
        fr.contains("Utilisation :") && fr.contains("Commandes :"),
        "{fr}"
    );
    assert!(fr.contains("Affiche l'aide"), "{fr}");
    assert!(
        !fr.contains("Usage:") && !fr.contains("Train a request-type"),
        "{fr}"
    );
    let fr_train = help(Some("fr"), &["train", "--help"]);
    assert!(fr_train.contains("Exemples d'entraînement"), "{fr_train}");
    assert!(fr_train.contains("[défaut\u{a0}: 0.95]"), "{fr_train}");

    let en = help(Some("en"), &["--help"]);
    assert!(
        en.contains("Train a request-type classifier from JSON lines"),
        "{en}"
    );
    assert!(
        en.contains("Usage: facteur") && en.contains("Commands:"),
        "{en}"
    );
    assert!(en.contains("Print help"), "{en}");
    assert!(
        !en.contains("Entraîne") && !en.contains("Utilisation"),
        "{en}"
    );
    let en_train = help(Some("en"), &["train", "--help"]);
    assert!(
        en_train.contains("Training examples, JSON lines") && en_train.contains("[default: 0.95]"),
        "{en_train}"
    );
}

/// A missing training file: the error names the file and says what to check, in
/// French by default, in English with FACTEUR_LANG=en — and the config's
/// `language` is followed too.
#[test]
fn errors_are_french_by_default_and_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let train = |env: Option<&str>, config: Option<&Path>| {
        let mut c = bin();
        c.env_remove("FACTEUR_LANG")
            .env("LANG", "en_US.UTF-8")
            .args(["train", "--data", "nope.jsonl", "--model"])
            .arg(dir.path().join("m"))
            .current_dir(dir.path());
        if let Some(l) = env {
            c.env("FACTEUR_LANG", l);
        }
        if let Some(cfg) = config {
            c.arg("--config").arg(cfg);
        }
        let out = c.output().unwrap();
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        String::from_utf8(out.stderr).unwrap()
    };
    let fr = train(None, None);
    assert!(
        fr.starts_with("erreur : impossible de lire les données d'entraînement nope.jsonl"),
        "{fr}"
    );
    assert!(fr.contains("vérifiez le chemin"), "says what to do: {fr}");
    let en = train(Some("en"), None);
    assert!(
        en.starts_with("error: cannot read training data nope.jsonl"),
        "{en}"
    );
    assert!(!en.contains("impossible"), "{en}");

    // `language = "en"` in the config file, FACTEUR_LANG unset: English; the
    // environment variable wins over the file.
    let cfg = dir.path().join("facteur.toml");
    std::fs::write(&cfg, "language = \"en\"\n").unwrap();
    let en = train(None, Some(&cfg));
    assert!(en.starts_with("error: cannot read training data"), "{en}");
    let fr = train(Some("fr"), Some(&cfg));
    assert!(fr.starts_with("erreur : impossible de lire"), "{fr}");

    // A summary line in each language, and --json the same in both.
    let data = two_class_jsonl(dir.path(), 20);
    let summary = |lang: &str, json: bool| {
        let mut c = bin();
        c.env("FACTEUR_LANG", lang)
            .args(["train", "--data"])
            .arg(&data)
            .arg("--model")
            .arg(dir.path().join(format!("m-{lang}")));
        if json {
            c.arg("--json");
        }
        String::from_utf8(run(&mut c).stdout).unwrap()
    };
    let fr = summary("fr", false);
    assert!(
        fr.starts_with("modèle écrit dans") && fr.contains("20 exemples"),
        "{fr}"
    );
    let en = summary("en", false);
    assert!(
        en.starts_with("model written to") && en.contains("20 examples"),
        "{en}"
    );
    let keys = |s: String| {
        let v: Value = serde_json::from_str(s.trim()).unwrap();
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        (k, v["examples"].clone(), v["labels"].clone())
    };
    assert_eq!(keys(summary("fr", true)), keys(summary("en", true)));
}

#[test]
fn command_line_mistakes_are_french_by_default_with_status_2() {
    let mistake = |lang: Option<&str>, args: &[&str]| {
        let mut c = bin();
        c.env_remove("FACTEUR_LANG").args(args);
        if let Some(l) = lang {
            c.env("FACTEUR_LANG", l);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "usage errors exit with 2");
        assert!(out.stdout.is_empty());
        String::from_utf8(out.stderr).unwrap()
    };
    let fr = mistake(None, &["eval", "--modle", "m"]);
    assert!(
        fr.starts_with("erreur : argument inattendu « --modle »"),
        "{fr}"
    );
    assert!(
        fr.contains("vouliez-vous dire l'argument « --model »"),
        "{fr}"
    );
    assert!(fr.contains("Utilisation : facteur eval"), "{fr}");
    assert!(!fr.contains("error:") && !fr.contains("Usage:"), "{fr}");
    let fr = mistake(None, &["trian"]);
    assert!(fr.contains("sous-commande inconnue « trian »"), "{fr}");
    let en = mistake(Some("en"), &["eval", "--modle", "m"]);
    assert!(
        en.starts_with("error: unexpected argument '--modle'"),
        "{en}"
    );
    // Help is still help, on stdout with status 0.
    let out = bin()
        .env_remove("FACTEUR_LANG")
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Utilisation"));
}

#[test]
fn paths_in_a_config_file_are_relative_to_its_folder() {
    // A service folder with its config and answers; run from elsewhere.
    let svc = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir(svc.path().join("answers")).unwrap();
    std::fs::write(
        svc.path().join("answers/taxonomy.toml"),
        "[[request_type]]\nid = \"pas\"\nlabel = \"Prélèvement à la source\"\n",
    )
    .unwrap();
    std::fs::write(
        svc.path().join("facteur.toml"),
        "data_dir = \"data\"\nanswers_dir = \"answers\"\n",
    )
    .unwrap();
    let data = two_class_jsonl(elsewhere.path(), 12);
    let out = run(bin()
        .env("FACTEUR_LANG", "fr")
        .arg("--config")
        .arg(svc.path().join("facteur.toml"))
        .args(["train", "--data"])
        .arg(&data)
        .current_dir(elsewhere.path()));
    let err = String::from_utf8_lossy(&out.stderr);
    let said = String::from_utf8_lossy(&out.stdout);
    // The service's model went to the config's data_dir.
    assert!(
        said.contains(&svc.path().join("data").display().to_string()),
        "{said}"
    );
    assert!(std::fs::read_dir(elsewhere.path()).unwrap().count() == 1);
    // The taxonomy was found next to the config, not in the working directory:
    // the unknown label is reported against it.
    let tax = svc.path().join("answers").join("taxonomy.toml");
    assert!(
        err.contains(&format!("absente(s) de la taxonomie {}", tax.display()))
            && err.contains("foncier"),
        "{err}"
    );
    assert!(!err.contains("pas de taxonomie"), "{err}");
}

/// `dir/train.jsonl`: `n` examples of two request types, "pas" and "foncier".
fn two_class_jsonl(dir: &Path, n: usize) -> PathBuf {
    let mut lines = String::new();
    for i in 0..n {
        let (text, label) = if i % 2 == 0 {
            ("je souhaite modifier mon prélèvement à la source", "pas")
        } else {
            ("je n'ai pas reçu mon avis de taxe foncière", "foncier")
        };
        lines.push_str(&format!(
            "{{\"text\":\"{text} {i}\",\"label\":\"{label}\"}}\n"
        ));
    }
    let path = dir.join("train.jsonl");
    std::fs::write(&path, lines).unwrap();
    path
}

/// Output of a command expected to fail: (stdout, stderr).
fn run_err(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("facteur runs");
    assert!(
        !out.status.success(),
        "facteur should have failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn demo(data: &Path, extra: &[&str]) -> Output {
    run(bin()
        .args(["demo", "--no-serve", "--count", "30", "--data-dir"])
        .arg(data)
        .arg("--answers")
        .arg(repo().join("answers"))
        .arg("--shared-data")
        .arg(shared_data())
        .args(extra))
}

/// The demo model is a version of the model registry (so the transparency sheet
/// and the model pages tell the truth), registered once however often the demo is
/// rebuilt; a rebuild keeps the accounts' passwords; `--no-serve` says how to serve
/// the demo, and the README's way of pointing the CLI at the demo works.
#[test]
fn demo_registers_its_model_once_keeps_passwords_and_says_how_to_serve() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let first = demo(&data, &[]);
    let text = String::from_utf8_lossy(&first.stdout);
    let config = data.canonicalize().unwrap().join("facteur.toml");
    assert!(config.is_file(), "the demo writes its config");
    assert!(
        text.contains(&format!("facteur --config {} serve", config.display())),
        "--no-serve says how to serve the demo: {text}"
    );
    assert!(!text.contains("Ouvrez http"), "{text}");
    assert!(text.contains("Modèle de démonstration"), "{text}");

    let list = |env_data_dir: bool| {
        let mut c = bin();
        if env_data_dir {
            c.env("FACTEUR_DATA_DIR", &data);
        } else {
            c.arg("--config").arg(&config);
        }
        json_lines(&run(c.args(["model", "list", "--json"])))
    };
    let versions = list(true);
    assert_eq!(versions.len(), 1, "{versions:?}");
    let v = &versions[0];
    assert_eq!(v["status"], "active", "{v}");
    assert_eq!(v["record"]["note"], "demo", "{v}");
    assert!(v["promoted_by"].as_i64().is_some(), "{v}");
    assert!(v["record"]["eval"]["examples"].as_u64().unwrap() > 0, "{v}");
    // Its threshold refitted on the demo's calibration mails.
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("model/model.json")).unwrap())
            .unwrap();
    let cal = &meta["calibration"];
    assert_eq!(
        (cal["in_scope"].as_u64(), cal["out_of_scope"].as_u64()),
        (Some(180), Some(45)),
        "{cal}"
    );
    assert!(
        meta["abstain_threshold"].as_f64().unwrap() < cal["threshold_before"].as_f64().unwrap(),
        "{meta}"
    );

    // Promoted by the demo supervisor, in the audit log.
    let promotions = audit_actions(&data)
        .iter()
        .filter(|a| *a == "model.promote")
        .count();
    assert_eq!(promotions, 1);

    // A rebuild: one version still, passwords unchanged.
    let again = demo(&data, &["--json"]);
    let summary = &json_lines(&again)[0];
    for acc in summary["accounts"].as_array().unwrap() {
        assert_eq!(acc["password_unchanged"], true, "{acc}");
        assert!(acc["password"].is_null(), "{acc}");
    }
    assert_eq!(summary["model_version"], v["version"], "{summary}");
    let versions = list(false);
    assert_eq!(
        versions.len(),
        1,
        "a second demo run registered again: {versions:?}"
    );
    assert_eq!(versions[0]["status"], "active");
    // Unless asked.
    let reset = demo(&data, &["--json", "--reset-passwords"]);
    let summary = &json_lines(&reset)[0];
    for acc in summary["accounts"].as_array().unwrap() {
        assert!(
            acc["password"].as_str().is_some_and(|p| p.len() >= 20),
            "{acc}"
        );
    }

    // The README's one-liner.
    let count = run(bin()
        .env("FACTEUR_DATA_DIR", &data)
        .args(["messages", "count", "--json"]));
    assert!(json_lines(&count)[0]["count"].as_u64().unwrap() > 0);

    // The human model list is a table in the user's language, not JSON.
    let human = run(bin().arg("--config").arg(&config).args(["model", "list"]));
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("statut") && human.contains("actif"),
        "{human}"
    );
    assert!(!human.contains('{'), "{human}");

    // The active version's files lost (a data dir restored without models/): the
    // administrative commands still work — `model list` is how one sees and
    // repairs it — while triage refuses with a message that says what to do.
    std::fs::remove_dir_all(data.join("models")).unwrap();
    let listed = json_lines(&run(bin()
        .arg("--config")
        .arg(&config)
        .args(["model", "list", "--json"])));
    assert_eq!(listed[0]["status"], "active", "{listed:?}");
    for args in [
        &["audit", "verify", "--json"][..],
        &["messages", "count", "--json"],
    ] {
        run(bin().arg("--config").arg(&config).args(args));
    }
    let eml = dir.path().join("one.eml");
    std::fs::write(&eml, "Subject: RIB\r\n\r\nBonjour, je change de RIB.\r\n").unwrap();
    let out = bin()
        .arg("--config")
        .arg(&config)
        .args(["import", "--mailbox"])
        .arg("sip-demo")
        .arg(&eml)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("facteur model rollback"), "{err}");
}

/// The actions of the audit log of a data dir's SQLite store.
fn audit_actions(data: &Path) -> Vec<String> {
    let url = format!("sqlite:{}", data.join("facteur.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = facteur_store::Store::open(&url).await.unwrap();
        let rows = store.list_audit(0, 100_000).await.unwrap();
        store.close().await;
        rows.into_iter().map(|r| r.action).collect()
    })
}

/// A service with the demo taxonomy and a supervisor `sup`: returns its config.
fn service_with_supervisor(dir: &Path) -> PathBuf {
    let config = dir.join("facteur.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nanswers_dir = {:?}\n",
            dir.join("data").display().to_string(),
            repo().join("answers").display().to_string()
        ),
    )
    .unwrap();
    run(bin().arg("--config").arg(&config).args([
        "user",
        "add",
        "--username",
        "sup",
        "--role",
        "supervisor",
        "--generate-password",
        "--json",
    ]));
    config
}

/// Kill switches on a mistyped request type are refused (they would stop
/// nothing); the reason is optional as on the web form.
#[test]
fn switch_refuses_an_unknown_request_type_and_needs_no_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = service_with_supervisor(dir.path());
    let switch = |args: &[&str]| {
        let mut c = bin();
        c.arg("--config")
            .arg(&config)
            .args(["model", "switch"])
            .args(args);
        c
    };
    let (_, err) = run_err(&mut switch(&[
        "off",
        "--scope",
        "type:nope",
        "--by",
        "sup",
        "--reason",
        "x",
    ]));
    assert!(
        err.contains("type de demande inconnu") && err.contains("taxonomy.toml"),
        "{err}"
    );
    assert!(err.contains("coordonnees-bancaires"), "{err}");
    let (_, err) =
        run_err(switch(&["off", "--scope", "type:nope", "--by", "sup"]).env("FACTEUR_LANG", "en"));
    assert!(err.contains("unknown request type"), "{err}");
    let listed = json_lines(&run(&mut switch(&["list", "--json"])));
    assert!(listed.is_empty(), "{listed:?}");

    run(&mut switch(&[
        "off",
        "--scope",
        "type:coordonnees-bancaires",
        "--by",
        "sup",
    ]));
    let listed = json_lines(&run(&mut switch(&["list", "--json"])));
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["scope"]["value"], "coordonnees-bancaires");
    assert_eq!(listed[0]["reason"], "");
}

/// `model train` on labels outside the taxonomy warns, `model promote` refuses such
/// a candidate unless `--force` (audited); the model commands speak the user's
/// language without `--json` and keep their JSON with it.
#[test]
fn model_commands_check_labels_and_print_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let config = service_with_supervisor(dir.path());
    let model = |args: &[&str]| {
        let mut c = bin();
        c.arg("--config").arg(&config).arg("model").args(args);
        c
    };
    let examples = repo().join("answers/demo/examples.jsonl");
    let eval = repo().join("answers/demo/eval.jsonl");
    // The demo examples with some labels renamed out of the taxonomy.
    let bad = dir.path().join("bad.jsonl");
    let text = std::fs::read_to_string(&examples)
        .unwrap()
        .replace("\"coordonnees-bancaires\"", "\"rib-perso\"");
    std::fs::write(&bad, text).unwrap();

    let out = run(model(&["train", "--by", "sup", "--no-feedback", "--base"])
        .arg(&bad)
        .arg("--eval")
        .arg(&eval)
        .arg("--calibrate")
        .arg(repo().join("answers/demo/calibration.jsonl")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 étiquette(s)") && err.contains("rib-perso"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("candidat") && stdout.contains("F1 macro"),
        "{stdout}"
    );
    // Calibrated on the held-apart mails, and said so: the 6 bank-details mails are
    // out of scope for a model that knows that type under another name.
    assert!(
        stdout.contains(
            "seuil d'abstention recalé sur 225 courriels tenus à part (51 hors périmètre)"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains('{'), "raw JSON: {stdout}");
    let bad_version = json_lines(&run(&mut model(&["list", "--json"])))[0]["version"]
        .as_str()
        .unwrap()
        .to_string();

    let (_, err) = run_err(&mut model(&["promote", &bad_version, "--by", "sup"]));
    assert!(
        err.contains("promotion refusée") && err.contains("rib-perso"),
        "{err}"
    );
    let out = run(&mut model(&[
        "promote",
        &bad_version,
        "--by",
        "sup",
        "--force",
    ]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("promue par sup"), "{stdout}");
    assert!(
        audit_actions(&dir.path().join("data")).contains(&"model.promote.forced".to_string()),
        "the forced promotion is audited"
    );

    // A good candidate: no warning; the JSON of `train` is kept as it was.
    let out = run(model(&["train", "--json", "--no-feedback", "--base"])
        .arg(&examples)
        .arg("--eval")
        .arg(&eval));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("taxonomie"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcome = &json_lines(&out)[0];
    assert!(outcome["candidate"]["version"].is_string(), "{outcome}");
    assert!(
        outcome["comparison"]["macro_f1_delta"].is_number(),
        "{outcome}"
    );
    let good = outcome["candidate"]["version"].as_str().unwrap();
    let out = run(model(&["eval", good, "--data"])
        .arg(&eval)
        .env("FACTEUR_LANG", "en"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("macro-F1") && !stdout.contains('{'),
        "{stdout}"
    );
    let out = run(&mut model(&["promote", good, "--by", "sup"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("active"));
    let out = run(&mut model(&["rollback", "--by", "sup"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("retour à la version {bad_version}")),
        "{stdout}"
    );
    let out = run(&mut model(&[
        "review",
        good,
        "--by",
        "sup",
        "--decision",
        "keep",
    ]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("garder"), "{stdout}");
}

/// `facteur eval` on data whose labels the model does not know says so.
#[test]
fn eval_warns_when_no_label_is_known_to_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    run(bin()
        .args(["train", "--data"])
        .arg(repo().join("answers/demo/examples.jsonl"))
        .arg("--model")
        .arg(&model));
    let out = run(bin()
        .args(["eval", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(shared_data().join("bench/sp_dossiers_test.jsonl")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("aucune étiquette"), "{err}");
}

/// The French CLI speaks French: routes, personal data, outbox states, and a
/// French line above the library's reason when mail is missing.
#[test]
fn french_output_has_no_english_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run(bin()
        .args(["kb", "import", "--no-store", "--data-dir"])
        .arg(&data)
        .arg(repo().join("answers/demo")));
    let out = run(bin()
        .args(["suggest", "--data-dir"])
        .arg(&data)
        .arg(fixture("demande-rib.eml")));
    let text = String::from_utf8_lossy(&out.stdout);
    let route = text.lines().find(|l| l.starts_with("Orientation")).unwrap();
    assert!(
        [
            "abstention",
            "prêt à valider",
            "recherche nécessaire",
            "à escalader"
        ]
        .iter()
        .any(|w| route.contains(w)),
        "{route}"
    );
    let pii = text
        .lines()
        .find(|l| l.starts_with("Données personnelles"))
        .unwrap_or_else(|| panic!("no personal data line: {text}"));
    assert!(
        pii.contains("téléphone") && pii.contains("nom de personne"),
        "{pii}"
    );
    let out = run(bin()
        .env("FACTEUR_LANG", "en")
        .args(["suggest", "--data-dir"])
        .arg(&data)
        .arg(fixture("demande-rib.eml")));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("Route") && l.contains("abstain")),
        "{text}"
    );

    let (_, err) = run_err(bin().args(["triage", "/nonexistent/mail.eml"]));
    assert!(err.contains("courrier introuvable"), "{err}");
    assert!(err.contains("/nonexistent/mail.eml"), "{err}");
}

/// The outbox's human output names the sending states in French (English on
/// request), and a model used outside the registry is reported on stderr.
#[test]
fn outbox_states_are_translated_and_an_unregistered_model_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("facteur.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[[mailbox]]\nname = \"sip-test\"\naddress = \"sip@example.test\"\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    run(bin()
        .arg("--config")
        .arg(&config)
        .args(["import", "--mailbox", "sip-test"])
        .arg(fixture("demande-rib.eml")));
    let url = format!("sqlite:{}", data.join("facteur.db").display());
    common::validate_replies(
        &url,
        None,
        "sip-test",
        1,
        |_| "citoyen@example.test".into(),
        |id| format!("<reply-{id}@example.test>"),
    );
    let out = run(bin().arg("--config").arg(&config).arg("outbox"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("en attente") && !text.contains("queued"),
        "{text}"
    );
    let out = run(bin()
        .arg("--config")
        .arg(&config)
        .env("FACTEUR_LANG", "en")
        .arg("outbox"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("queued"));

    // A model in the model directory that the registry does not know.
    run(bin()
        .args(["train", "--data"])
        .arg(repo().join("answers/demo/examples.jsonl"))
        .arg("--model")
        .arg(data.join("model")));
    let out = run(bin()
        .arg("--config")
        .arg(&config)
        .args(["messages", "count"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not in the model registry"), "{err}");
}

#[test]
fn logs_to_a_file_carry_no_terminal_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train.jsonl");
    let mut lines = String::new();
    for (label, words) in [
        ("rib", "changer mon rib bancaire"),
        ("avis", "avis d'impôt perdu"),
    ] {
        for i in 0..6 {
            lines.push_str(&format!(
                "{{\"text\":\"{words} {i}\",\"label\":\"{label}\"}}\n"
            ));
        }
    }
    std::fs::write(&data, lines).unwrap();
    let out = run(bin()
        .env("FACTEUR_LOG", "info")
        .args(["train", "--data"])
        .arg(&data)
        .arg("--model")
        .arg(dir.path().join("m")));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("classifier trained"),
        "the info log is there: {log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a piped log: {log:?}"
    );
}

#[test]
fn serve_says_whether_the_listen_address_is_invalid_or_taken() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |listen: &str| {
        bin()
            .env("FACTEUR_DATA_DIR", dir.path())
            .args(["serve", "--no-connectors", "--listen", listen])
            .output()
            .unwrap()
    };
    let out = serve("nonsense");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("adresse d'écoute invalide"), "{err}");
    assert!(!err.contains("autre processus"), "{err}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = serve(&addr);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("un autre processus utilise déjà"), "{err}");
}

/// `systemctl stop` sends SIGTERM: serve stops its background work and exits 0,
/// as on Ctrl-C, instead of dying in the middle of a step.
#[cfg(unix)]
#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = bin()
        .env("FACTEUR_DATA_DIR", dir.path())
        .args(["serve", "--no-connectors", "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(std::time::Instant::now() < deadline, "serve never listened");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SIGTERM, as systemd stops the service.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("arrêt demandé"), "{err}");
}

/// `facteur user passwd` with `input` on standard input.
fn passwd(config: &Path, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = bin()
        .arg("--config")
        .arg(config)
        .args(["user", "passwd"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("facteur runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// An administrator resets a password from the command line: generated and
/// printed once (or read from stdin, same length rule as everywhere), the old
/// one stops working, the account's sessions end, and the audit log names the
/// administrator given with --by, who must be an active admin.
#[test]
fn user_passwd_resets_a_password_ends_sessions_and_audits_who_did_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = service_with_supervisor(dir.path());
    let out = run(bin().arg("--config").arg(&config).args([
        "user",
        "add",
        "--username",
        "root",
        "--role",
        "admin",
        "--generate-password",
        "--json",
    ]));
    let root_id = json_lines(&out)[0]["id"].as_i64().unwrap();
    let url = format!("sqlite:{}", dir.path().join("data/facteur.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sup_id, old_hash) = rt.block_on(async {
        let s = facteur_store::Store::open(&url).await.unwrap();
        let u = s.get_user_by_username("sup").await.unwrap().unwrap();
        s.create_session(
            &"a".repeat(64),
            u.id,
            "csrf",
            std::time::Duration::from_secs(3600),
        )
        .await
        .unwrap();
        s.close().await;
        (u.id, u.password_hash)
    });

    // Generated, printed once in the JSON, the session ended.
    let out = passwd(
        &config,
        &["--username", "sup", "--by", "root", "--json"],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = &json_lines(&out)[0];
    assert_eq!(v["id"], sup_id);
    assert_eq!(v["sessions_ended"], 1);
    let generated = v["password"].as_str().unwrap().to_string();
    assert_eq!(generated.chars().count(), 20);
    let (hash, session, audit) = rt.block_on(async {
        let s = facteur_store::Store::open(&url).await.unwrap();
        let u = s.get_user(sup_id).await.unwrap().unwrap();
        let session = s.get_session(&"a".repeat(64)).await.unwrap();
        let audit = s.list_audit(0, 100_000).await.unwrap();
        s.close().await;
        (u.password_hash, session.is_some(), audit)
    });
    assert!(facteur_web::auth::verify_password(&generated, &hash));
    assert!(!facteur_web::auth::verify_password(&generated, &old_hash));
    assert!(!session, "the old session must have ended");
    let row = audit
        .iter()
        .rev()
        .find(|r| r.action == "user.password")
        .unwrap();
    assert_eq!(row.actor, format!("user:{root_id}"));
    assert_eq!(row.target, format!("user:{sup_id}"));
    assert!(!row.details.to_string().contains(&generated));

    // From stdin: too short is refused (and changes nothing), a long one is set
    // and never printed.
    let out = passwd(
        &config,
        &["--username", "sup", "--password-stdin"],
        "court\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("au moins 12 caractères"));
    let chosen = "une phrase choisie par l'admin";
    let out = passwd(
        &config,
        &["--username", "sup", "--password-stdin", "--json"],
        &format!("{chosen}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = &json_lines(&out)[0];
    assert!(v.get("password").is_none(), "{v}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(chosen));
    let hash = rt.block_on(async {
        let s = facteur_store::Store::open(&url).await.unwrap();
        let h = s.get_user(sup_id).await.unwrap().unwrap().password_hash;
        s.close().await;
        h
    });
    assert!(facteur_web::auth::verify_password(chosen, &hash));

    // --by must name an active admin; the account must exist.
    let out = passwd(&config, &["--username", "root", "--by", "sup"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("administrateur"));
    let out = passwd(&config, &["--username", "nobody"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("aucun compte nommé \"nobody\""));
}

#[test]
fn triage_reads_an_oversized_message_from_its_header_with_a_defect() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.eml");
    let mut bytes = b"Subject: Pieces jointes\r\nMessage-ID: <big@example.test>\r\nFrom: A <a@example.test>\r\n\r\nBonjour\r\n".to_vec();
    bytes.extend(std::iter::repeat_n(
        b'A',
        facteur_mail::DEFAULT_MAX_MESSAGE_BYTES,
    ));
    std::fs::write(&path, &bytes).unwrap();
    let out = run(bin().args(["triage", "--json"]).arg(&path));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    let m = &lines[0];
    assert_eq!(m["subject"], "Pieces jointes");
    assert_eq!(m["message_id"], "big@example.test");
    let defects = m["defects"].to_string();
    assert!(defects.contains("oversized"), "{defects}");
    assert!(
        !m["body"].as_str().unwrap().contains("AAAA"),
        "the body is not read"
    );
}

/// Run from outside the repository, the demo's default `./answers` is missing: the
/// error names the folder and the option that fixes it (and says its cause only once),
/// and nothing is built.
#[test]
fn demo_away_from_the_repository_says_to_pass_answers() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["demo", "--no-serve", "--count", "5", "--shared-data"])
        .arg(shared_data())
        .output()
        .expect("facteur runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("./answers") && err.contains("--answers DOSSIER"),
        "{err}"
    );
    assert!(!dir.path().join("facteur-demo").exists(), "nothing built");
}
