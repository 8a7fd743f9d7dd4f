//! Data-subject rights with the real binary (issue #20): `facteur citizen export`
//! gives everything about one person (found by address or by fiscal number, with
//! the reply sent), nothing about anyone else; `facteur citizen erase` then
//! leaves no trace of that person anywhere under the data directory (database
//! file and its journal, knowledge-base index, model registry), and the audit
//! chain still verifies.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common::{facteur, repo, run_ok, validate_replies};

use std::path::{Path, PathBuf};

const ADDRESS: &str = "Jeanne.Martin@citoyens.example";
const FISCAL: &str = "1234567890123";

fn write_config(dir: &Path) -> PathBuf {
    let cfg = format!(
        "data_dir = \"{}\"\nanswers_dir = \"{}\"\n\
         [[mailbox]]\nname = \"sip\"\naddress = \"sip@example.test\"\n",
        dir.join("data").display(),
        repo().join("answers").display(),
    );
    let path = dir.join("facteur.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

fn mail(n: u32, from: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: sip@example.test\r\nSubject: Demande {n}\r\n\
         Message-ID: <citizen-{n}@citoyens.example>\r\nDate: Mon, 2 Mar 2026 10:0{n}:00 +0100\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn export_gives_all_of_one_person_and_erase_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let mails = [
        // Hers, by address (the first is answered).
        mail(
            1,
            &format!("Jeanne Martin <{ADDRESS}>"),
            "Bonjour, je souhaite changer de RIB pour le prélèvement de ma maison de Trébeurden.",
        ),
        // About her, from someone else, by fiscal number only (spaced out).
        mail(
            2,
            "Un mandataire <mandataire@cabinet.example>",
            "Pour le numéro fiscal 12 34 567 890 123, merci de me dire où en est le dossier.",
        ),
        // Someone else's.
        mail(
            3,
            "Paul Durand <paul.durand@autre.example>",
            "Bonjour, où trouver mon avis d'impôt ?",
        ),
    ];
    for (i, m) in mails.iter().enumerate() {
        let eml = dir.path().join(format!("m{i}.eml"));
        std::fs::write(&eml, m).unwrap();
        let mut imp = facteur(&cfg);
        imp.args(["import", "--json", "--mailbox", "sip"]).arg(&eml);
        run_ok(imp, None);
    }
    let data = dir.path().join("data");
    let db = format!("sqlite:{}", data.join("facteur.db").display());
    validate_replies(
        &db,
        Some(&data.join("audit.key")),
        "sip",
        1,
        |m| m.from_address.clone().unwrap_or_default(),
        |id| format!("reply-{id}@example.test"),
    );

    let out = dir.path().join("export");
    let mut export = facteur(&cfg);
    export
        .args([
            "citizen",
            "export",
            "--address",
            ADDRESS,
            "--fiscal-number",
            FISCAL,
        ])
        .args(["--by", "Claire Superviseure", "--to"])
        .arg(&out);
    run_ok(export, None);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("citizen.json")).unwrap()).unwrap();
    let messages = json["messages"].as_array().unwrap();
    let subjects: Vec<&str> = messages
        .iter()
        .map(|m| m["message"]["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["Demande 1", "Demande 2"], "{json}");
    assert!(
        messages[0]["reply"]["body"]
            .as_str()
            .is_some_and(|b| !b.is_empty()),
        "the reply sent to her is part of it: {json}"
    );
    for m in messages {
        assert!(m["triage"].is_object(), "{m}");
        let eml = out.join(m["original"].as_str().expect("the original mail"));
        assert!(std::fs::read(eml).unwrap().starts_with(b"From: "));
    }
    let text = std::fs::read_to_string(out.join("citizen.json")).unwrap();
    assert!(
        !text.contains("paul.durand") && !text.contains("Demande 3"),
        "{text}"
    );

    let mut erase = facteur(&cfg);
    erase
        .args([
            "citizen",
            "erase",
            "--json",
            "--address",
            ADDRESS,
            "--fiscal-number",
            FISCAL,
        ])
        .args([
            "--by",
            "Claire Superviseure",
            "--reason",
            "art. 17 RGPD, demande écrite",
        ]);
    let report: serde_json::Value = serde_json::from_str(run_ok(erase, None).trim()).unwrap();
    assert_eq!(report["messages"], 2, "{report}");
    assert_eq!(report["replies"], 1, "{report}");

    // Nowhere under the data directory: database, journal, index, models.
    for f in files(&data) {
        let bytes = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_lowercase();
        for trace in ["jeanne.martin@citoyens", "trébeurden", "567 890 123"] {
            assert!(
                !bytes.contains(trace),
                "{} still holds {trace:?}",
                f.display()
            );
        }
    }
    let mut verify = facteur(&cfg);
    verify.args(["audit", "verify", "--json"]);
    let v: serde_json::Value = serde_json::from_str(run_ok(verify, None).trim()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    // Paul's message is still there.
    let mut again = facteur(&cfg);
    again
        .args([
            "citizen",
            "export",
            "--address",
            "paul.durand@autre.example",
        ])
        .args(["--by", "Claire Superviseure", "--to"])
        .arg(dir.path().join("paul"));
    run_ok(again, None);
    let paul = std::fs::read_to_string(dir.path().join("paul/citizen.json")).unwrap();
    assert!(paul.contains("Demande 3"), "{paul}");
}
