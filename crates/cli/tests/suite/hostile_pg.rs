//! Hostile mail on PostgreSQL: text PostgreSQL refuses (NUL characters) must not
//! leave a message untriaged, nor break `facteur migrate` from SQLite.
//! Needs FACTEUR_TEST_PG_URL (scripts/test.sh); skipped without it outside CI.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common::{facteur, fresh_db, pg_url, psql, repo, run_ok};
use std::path::{Path, PathBuf};

const NUL_MAIL: &[u8] = b"From: Jean\0 Martin <jean@example.org>\r\nTo: sip@example.test\r\nSubject: Avis\0 d'imp\xc3\xb4t\r\nMessage-ID: <nul-1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour\0,\r\nmon avis d'imp\xc3\xb4t\0\0 2024 est faux.\r\nCordialement\r\n";

fn config(dir: &Path, name: &str, db: &str) -> PathBuf {
    let cfg = format!(
        "data_dir = \"{}\"\ndatabase_url = \"{db}\"\nanswers_dir = \"{}\"\n\
         [[mailbox]]\nname = \"sip\"\naddress = \"sip@example.test\"\n",
        dir.join(name).display(),
        repo().join("answers").display(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, cfg).unwrap();
    path
}

#[test]
fn nul_characters_neither_block_triage_nor_migration_on_postgres() {
    let Some(admin) = pg_url(module_path!()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("nul.eml");
    std::fs::write(&eml, NUL_MAIL).unwrap();

    // Straight into PostgreSQL: stored and triaged, not stuck in "new".
    let pg = fresh_db(&admin, "facteur_nul");
    let cfg = config(dir.path(), "pg", &pg);
    let mut imp = facteur(&cfg);
    imp.args(["import", "--json", "--mailbox", "sip"]).arg(&eml);
    let out: serde_json::Value =
        serde_json::from_str(run_ok(imp, None).trim().lines().last().unwrap()).unwrap();
    assert_eq!(out["stored"], 1, "{out}");
    assert_eq!(out["errors"], serde_json::json!([]), "{out}");
    assert_eq!(psql(&pg, "SELECT count(*) FROM triage_results"), "1");
    assert_eq!(
        psql(&pg, "SELECT count(*) FROM messages WHERE state = 'new'"),
        "0"
    );
    assert_eq!(
        psql(&pg, "SELECT subject FROM messages"),
        "Avis d'impôt",
        "the text without its NUL"
    );
    // The raw bytes are kept as received.
    assert_eq!(
        psql(
            &pg,
            "SELECT position('\\x00'::bytea in raw) > 0 FROM messages"
        ),
        "t"
    );

    // Imported into SQLite, then migrated to PostgreSQL: the copy succeeds.
    let cfg = config(
        dir.path(),
        "lite",
        &format!("sqlite:{}", dir.path().join("lite.db").display()),
    );
    let mut imp = facteur(&cfg);
    imp.args(["import", "--json", "--mailbox", "sip"]).arg(&eml);
    run_ok(imp, None);
    let target = fresh_db(&admin, "facteur_nul_mig");
    let mut mig = facteur(&cfg);
    mig.args(["migrate", "--json", "--from"])
        .arg(format!("sqlite:{}", dir.path().join("lite.db").display()))
        .args(["--to", &target]);
    run_ok(mig, None);
    assert_eq!(psql(&target, "SELECT count(*) FROM messages"), "1");
    assert_eq!(psql(&target, "SELECT count(*) FROM triage_results"), "1");
}
