//! Backups as an administrator takes and restores them (issue #20), with the real
//! binary: on SQLite `facteur backup` while an import runs and replies are being
//! sent through a real SMTP relay, then `facteur restore` elsewhere and `serve`
//! on the restored copy; on PostgreSQL the documented `pg_dump` / `pg_restore`
//! procedure (docs/DEPLOY.md) followed by `facteur audit verify`.
//!
//! The PostgreSQL case needs FACTEUR_TEST_PG_URL and `pg_dump` / `pg_restore` on
//! the PATH (skipped without them, except under CI).
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common::{
    facteur, free_port, fresh_db, http_request, pg_url, psql, repo, run_ok, shared_data, tool_ok,
    validate_replies, Relay,
};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A service configuration: `data` holds the database unless `db` names one.
fn write_config(dir: &Path, data: &Path, db: Option<&str>, smtp_port: u16) -> PathBuf {
    let db_line = db
        .map(|u| format!("database_url = \"{u}\"\n"))
        .unwrap_or_default();
    let cfg = format!(
        "data_dir = \"{}\"\n{db_line}answers_dir = \"{}\"\n\
         [[mailbox]]\nname = \"sip\"\naddress = \"sip@example.test\"\n\
         [mailbox.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\n",
        data.display(),
        repo().join("answers").display(),
    );
    let path = dir.join("facteur.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

/// A demo mailbox of `count` messages written with `seed`.
fn demo_mbox(dir: &Path, count: usize, seed: u64) -> PathBuf {
    let out = dir.join(format!("demo-{seed}.mbox"));
    let mut gen = Command::new(env!("CARGO_BIN_EXE_facteur"));
    gen.args(["demo", "mailbox", "--count", &count.to_string()])
        .args(["--seed", &seed.to_string()])
        .arg("--out")
        .arg(&out)
        .arg("--answers")
        .arg(repo().join("answers"))
        .arg("--shared-data")
        .arg(shared_data());
    run_ok(gen, None);
    out
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// `facteur` with its data directory moved to `data` (as an administrator
/// restores a copy elsewhere).
fn facteur_at(cfg: &Path, data: &Path) -> Command {
    let mut c = facteur(cfg);
    c.env("FACTEUR_DATA_DIR", data);
    c
}

#[test]
fn a_backup_during_an_import_and_sends_restores_elsewhere_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), &data, None, relay.1);
    let first = demo_mbox(dir.path(), 120, 1);
    let second = demo_mbox(dir.path(), 300, 2);
    let mut imp = facteur(&cfg);
    imp.args(["import", "--json", "--mailbox", "sip"])
        .arg(&first);
    run_ok(imp, None);
    let db = format!("sqlite:{}", data.join("facteur.db").display());
    // Forty validated replies waiting for the relay.
    validate_replies(
        &db,
        Some(&data.join("audit.key")),
        "sip",
        40,
        |m| format!("citoyen-{}@backup.test", m.id),
        |id| format!("backup-{id}@example.test"),
    );

    // The import and the sending run while the backup is taken.
    let import = facteur(&cfg)
        .args(["import", "--json", "--mailbox", "sip"])
        .arg(&second)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let send = facteur(&cfg)
        .args(["sync", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let bk = dir.path().join("backup");
    let mut b = facteur(&cfg);
    b.args(["backup", "--json", "--to"]).arg(&bk);
    let taken = json(&run_ok(b, None));
    for mut child in [import, send] {
        assert!(child.wait().unwrap().success());
    }
    let manifest = json(&std::fs::read_to_string(bk.join("manifest.json")).unwrap());
    assert_eq!(taken["audit_head"], manifest["snapshot"]["audit_head"]);

    // Restored elsewhere: checksums, counts, chain and head checked by restore.
    let restored = dir.path().join("restored");
    let mut r = facteur_at(&cfg, &restored);
    r.args(["restore", "--json", "--from"]).arg(&bk);
    let report = json(&run_ok(r, None));
    assert_eq!(report["audit_ok"], true, "{report}");
    assert_eq!(report["snapshot"], manifest["snapshot"], "{report}");
    // `tables` is [[name, rows], …].
    let messages = manifest["snapshot"]["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t[0] == "messages"))
        .and_then(|t| t[1].as_u64())
        .unwrap_or_else(|| panic!("messages count in {manifest}"));
    assert!(messages >= 120, "{manifest}");
    let mut v = facteur_at(&cfg, &restored);
    v.args(["audit", "verify", "--json"]);
    assert_eq!(json(&run_ok(v, None))["ok"], true);

    // The restored copy runs: serve starts on it and answers.
    let port = free_port();
    let mut serve = facteur_at(&cfg, &restored)
        .args(["serve", "--no-connectors", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        if let Ok((200, _, body)) = http_request(port, "GET", "/health", &[], None) {
            break body;
        }
        if let Some(status) = serve.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            serve
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("serve on the restored copy exited ({status}): {err}");
        }
        assert!(
            Instant::now() < deadline,
            "serve on the restored copy did not answer"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(health.contains("ok"), "{health}");
}

/// `pg_dump` / `pg_restore` of docs/DEPLOY.md, then `facteur audit verify` on the
/// restored database: the chain verifies under the service's key and the counts
/// are the original's.
#[test]
fn a_postgresql_dump_restores_into_a_new_database_that_verifies() {
    let Some(admin) = pg_url(module_path!()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let data = dir.path().join("data");
    let db = fresh_db(&admin, "facteur_dump");
    let cfg = write_config(dir.path(), &data, Some(&db), relay.1);
    let mbox = demo_mbox(dir.path(), 60, 3);
    let mut imp = facteur(&cfg);
    imp.args(["import", "--json", "--mailbox", "sip"])
        .arg(&mbox);
    run_ok(imp, None);
    validate_replies(
        &db,
        Some(&data.join("audit.key")),
        "sip",
        10,
        |m| format!("citoyen-{}@pgdump.test", m.id),
        |id| format!("pgdump-{id}@example.test"),
    );
    let mut send = facteur(&cfg);
    send.args(["sync", "--json"]);
    run_ok(send, None);

    let dump = dir.path().join("facteur.dump");
    let dump_path = dump.to_str().unwrap();
    tool_ok("pg_dump", &["-Fc", "-d", &db, "-f", dump_path]);
    let copy = fresh_db(&admin, "facteur_restored");
    tool_ok("pg_restore", &["--no-owner", "-d", &copy, dump_path]);

    let audit = |url: &str, what: &str| {
        let mut v = facteur(&cfg);
        v.env("FACTEUR_DATABASE_URL", url)
            .args(["audit", what, "--json"]);
        json(&run_ok(v, None))
    };
    let report = audit(&copy, "verify");
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["rows"].as_u64().unwrap_or(0) > 0, "{report}");
    assert_eq!(audit(&db, "head"), audit(&copy, "head"));
    for table in ["messages", "outbox", "audit_log"] {
        let count = |url: &str| psql(url, &format!("SELECT count(*) FROM {table}"));
        assert_eq!(count(&db), count(&copy), "{table}");
    }
}
