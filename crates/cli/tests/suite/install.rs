//! An administrator's first installation, step by step as the README tells it: what
//! a script or a cron job sees from `facteur sync`, and what `facteur kb import` does
//! to a node that follows the database's standard answers.
//!
//! `sync_exits_non_zero_when_a_mailbox_cannot_be_read` needs the real Dovecot of
//! `scripts/services.sh` (FACTEUR_TEST_IMAP); without it it says SKIPPED, and fails
//! under CI.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::common::{facteur, repo, run_ok, unique};

use std::path::{Path, PathBuf};

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("facteur.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A sync run by cron or a systemd timer must tell its caller when a mailbox could
/// not be read (wrong password, server down): it used to print the errors and exit
/// 0, so the office's monitoring saw a successful run while no mail came in.
#[test]
fn sync_exits_non_zero_when_a_mailbox_cannot_be_read() {
    let Some(imap) = std::env::var("FACTEUR_TEST_IMAP")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        if std::env::var_os("CI").is_some() {
            panic!("FACTEUR_TEST_IMAP unset under CI (run through scripts/test.sh)");
        }
        eprintln!("SKIPPED: FACTEUR_TEST_IMAP unset; run through scripts/test.sh");
        return;
    };
    let (host, port) = imap.split_once(':').unwrap();
    let dir = tempfile::tempdir().unwrap();
    let user = unique("install");
    let cfg = write(
        dir.path(),
        &format!(
            r#"data_dir = "data"
answers_dir = "{answers}"
[[mailbox]]
name = "sip-test"
address = "{user}@local.test"
[mailbox.imap]
host = "{host}"
port = {port}
tls = "none"
user = "{user}"
password_env = "FACTEUR_INSTALL_IMAP_PASSWORD"
"#,
            answers = repo().join("answers").display(),
        ),
    );
    // The right password: a clean run, exit 0.
    let mut ok = facteur(&cfg);
    ok.args(["sync", "--json", "--no-send"])
        .env("FACTEUR_INSTALL_IMAP_PASSWORD", "secret");
    let v: serde_json::Value = serde_json::from_str(run_ok(ok, None).trim()).unwrap();
    assert_eq!(v["errors"], serde_json::json!([]), "{v}");

    // A wrong password: the JSON summary still names the error on stdout, and the
    // exit status says the run failed, with a French line on stderr saying what to check.
    let out = facteur(&cfg)
        .args(["sync", "--json", "--no-send"])
        .env("FACTEUR_INSTALL_IMAP_PASSWORD", "not-the-password")
        .env_remove("FACTEUR_LANG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON summary ({e}): {stderr}"));
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(
        !out.status.success(),
        "a sync that could not read its mailbox exited 0: {v}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("[mailbox.imap]"), "{stderr}");

    // The same without --json: the human summary, the error, and a failure status.
    let out = facteur(&cfg)
        .args(["sync", "--no-send"])
        .env("FACTEUR_INSTALL_IMAP_PASSWORD", "not-the-password")
        .env_remove("FACTEUR_LANG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 erreurs"));
}

/// The database's validated answers are the truth every node mirrors (docs/SCALE.md):
/// re-running `facteur kb import answers/` — documented as idempotent, and as never
/// undoing a supervisor's later edit — used to write the files' text back over the
/// edit in the node's local index, so that node drafted from the superseded text.
#[test]
fn kb_import_keeps_a_supervisors_validated_edit_in_the_local_index() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        &format!(
            "data_dir = \"data\"\nanswers_dir = \"{}\"\n",
            repo().join("answers").display()
        ),
    );
    let db = format!("sqlite:{}", dir.path().join("data/facteur.db").display());
    let import = || {
        let mut c = facteur(&cfg);
        c.args(["kb", "import", "--json"])
            .arg(repo().join("answers/demo"));
        let out: serde_json::Value = serde_json::from_str(run_ok(c, None).trim()).unwrap();
        out
    };
    let first = import();
    assert!(
        first["store"]["recorded"].as_u64().unwrap() >= 30,
        "{first}"
    );

    // A supervisor edits and validates an answer (what the web app's form does).
    const ANSWER: &str = "delais-paiement";
    const MARKER: &str = "Zygomorphe";
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use facteur_store::{NewAnswerVersion, NewUser, Store};
        let store = Store::open(&db).await.unwrap();
        let sup = store
            .create_user(
                &NewUser {
                    username: "sup".into(),
                    display_name: "Superviseure".into(),
                    password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                    role: facteur_core::workflow::Role::Supervisor,
                },
                None,
            )
            .await
            .unwrap();
        let current = store
            .validated_answers()
            .await
            .unwrap()
            .into_iter()
            .find(|v| v.answer_id == ANSWER && v.language == "fr")
            .expect("the imported answer is validated in the store");
        let content = current.content.replacen(
            "Si vous rencontrez",
            &format!("{MARKER} : nouvelle consigne du service. Si vous rencontrez"),
            1,
        );
        assert_ne!(content, current.content);
        let version = store
            .create_answer_version(&NewAnswerVersion {
                answer_id: ANSWER.into(),
                title: current.title.clone(),
                language: "fr".into(),
                content,
                valid_from: current.valid_from.clone(),
                valid_until: current.valid_until.clone(),
                author_id: Some(sup),
            })
            .await
            .unwrap();
        // Four eyes: a colleague validates what the supervisor wrote.
        let reviewer = store
            .create_user(
                &NewUser {
                    username: "relecteur".into(),
                    display_name: "Relecteur".into(),
                    password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                    role: facteur_core::workflow::Role::Supervisor,
                },
                None,
            )
            .await
            .unwrap();
        store
            .set_answer_status(
                ANSWER,
                version,
                facteur_core::AnswerStatus::Validated,
                reviewer,
            )
            .await
            .unwrap();
        store.close().await;
    });
    let search = |q: &str| -> Vec<serde_json::Value> {
        let mut c = facteur(&cfg);
        c.args(["kb", "search", "--json", q]);
        serde_json::from_str(run_ok(c, None).trim()).unwrap()
    };
    let shows_edit = || search(MARKER).iter().any(|h| h["id"] == ANSWER);
    // Any command that opens the service brings the local index in line.
    run_ok(
        {
            let mut c = facteur(&cfg);
            c.args(["messages", "count", "--json"]);
            c
        },
        None,
    );
    assert!(shows_edit(), "the node follows the store's validated edit");

    // The administrator re-runs the documented import of the unchanged files.
    let again = import();
    assert_eq!(again["store"]["recorded"], 0, "{again}");
    assert!(
        shows_edit(),
        "re-importing the files put the superseded text back in the index: {again}"
    );
    // And, the index already mirroring the store, the re-import changes nothing.
    let answers = again["imports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "answers")
        .unwrap();
    assert_eq!(answers["report"]["added"], 0, "{again}");
    assert_eq!(answers["report"]["updated"], 0, "{again}");
}

/// An archive imported by a script: when the database refuses some messages, the
/// summary counts them in `errors` and the exit status must say the import is
/// incomplete (it used to exit 0, so the script went on and the archive was
/// considered moved). The refusal is a real PostgreSQL error, raised by a trigger
/// on one subject.
#[test]
fn import_exits_non_zero_when_a_message_could_not_be_stored() {
    let Some(admin) = common::pg_url(module_path!()) else {
        return;
    };
    let db = common::fresh_db(&admin, "facteur_install");
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        &format!(
            "data_dir = \"data\"\ndatabase_url = \"{db}\"\nanswers_dir = \"{}\"\n\
             [[mailbox]]\nname = \"sip\"\naddress = \"sip@example.test\"\n",
            repo().join("answers").display()
        ),
    );
    // Migrate the database first, then make it refuse one message.
    let mut count = facteur(&cfg);
    count.args(["messages", "count", "--json"]);
    run_ok(count, None);
    common::psql(
        &db,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'disque plein (test)'; END $$; \
         CREATE TRIGGER refuse BEFORE INSERT ON messages FOR EACH ROW \
         WHEN (NEW.subject = 'Refus') EXECUTE FUNCTION refuse();",
    );
    let mbox = dir.path().join("archive.mbox");
    std::fs::write(
        &mbox,
        "From a@example.org Mon Nov 30 09:00:00 2026\nFrom: a@example.org\nSubject: Avis\n\
         Message-ID: <ok-1@example.org>\n\nBonjour, mon avis d'impot.\n\n\
         From b@example.org Mon Nov 30 09:00:00 2026\nFrom: b@example.org\nSubject: Refus\n\
         Message-ID: <ko-1@example.org>\n\nBonjour, un autre message.\n",
    )
    .unwrap();
    let out = facteur(&cfg)
        .args(["import", "--json", "--mailbox", "sip"])
        .arg(&mbox)
        .env_remove("FACTEUR_LANG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON summary ({e}): {stderr}"));
    assert_eq!(
        (v["fetched"].as_u64(), v["stored"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "an import that left a message out exited {:?}: {v}",
        out.status.code()
    );
    assert!(stderr.contains("relancez"), "{stderr}");
    assert_eq!(common::psql(&db, "SELECT count(*) FROM messages"), "1");
}

/// SCALE.md writes `--from sqlite:PATH`; an administrator who gives the bare path
/// of the `facteur.db` is told the exact option to write, in French.
#[test]
fn migrate_from_a_bare_path_says_to_write_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("facteur.db");
    std::fs::write(&db, b"").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_facteur"))
        .current_dir(dir.path())
        .args(["migrate", "--from", "facteur.db", "--to"])
        .arg("postgres://facteur@127.0.0.1:1/facteur")
        .env_remove("FACTEUR_LANG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--from sqlite:facteur.db"), "{stderr}");
    assert!(!stderr.contains("unsupported"), "{stderr}");
}

/// The README's exactly-once sending: the copy of a sent reply comes back through
/// the service's mailbox and is recorded as proof of delivery. `facteur sync --json`
/// reports those copies as `own_replies`; its summary used to drop the field (and
/// `full_resync`), always printing 0 and false whatever the connector saw.
#[test]
fn sync_summary_counts_the_copies_of_sent_replies() {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (Some(imap), Some(smtp)) = (get("FACTEUR_TEST_IMAP"), get("FACTEUR_TEST_SMTP")) else {
        if std::env::var_os("CI").is_some() {
            panic!("FACTEUR_TEST_IMAP/SMTP unset under CI (run through scripts/test.sh)");
        }
        eprintln!("SKIPPED: FACTEUR_TEST_IMAP/SMTP unset; run through scripts/test.sh");
        return;
    };
    let local = get("FACTEUR_TEST_SMTP_LOCAL_DOMAIN").unwrap_or_else(|| "local.test".into());
    let (ih, ip) = imap.split_once(':').unwrap();
    let (sh, sp) = smtp.split_once(':').unwrap();
    let dir = tempfile::tempdir().unwrap();
    let user = format!("{}@{local}", unique("installcopy"));
    let cfg = write(
        dir.path(),
        &format!(
            r#"data_dir = "data"
answers_dir = "{answers}"
[[mailbox]]
name = "sip-test"
address = "{user}"
[mailbox.imap]
host = "{ih}"
port = {ip}
tls = "none"
user = "{user}"
password_env = "FACTEUR_INSTALL_IMAP_PASSWORD"
[mailbox.smtp]
host = "{sh}"
port = {sp}
tls = "none"
"#,
            answers = repo().join("answers").display(),
        ),
    );
    let eml = dir.path().join("demande.eml");
    std::fs::write(
        &eml,
        "From: citoyen@example.org\r\nTo: sip@example.test\r\nSubject: Avis\r\n\
         Message-ID: <installcopy-1@example.org>\r\n\r\nBonjour, mon avis d'impot.\r\n",
    )
    .unwrap();
    let mut imp = facteur(&cfg);
    imp.args(["import", "--json", "--mailbox", "sip-test"])
        .arg(&eml);
    run_ok(imp, None);
    let db = format!("sqlite:{}", dir.path().join("data/facteur.db").display());
    let reply_id = format!("{}@example.test", unique("installcopy-reply"));
    common::validate_replies(
        &db,
        None,
        "sip-test",
        1,
        |_| "citoyen@example.org".into(),
        |_| reply_id.clone(),
    );
    let sync = || -> serde_json::Value {
        let mut c = facteur(&cfg);
        c.args(["sync", "--json"])
            .env("FACTEUR_INSTALL_IMAP_PASSWORD", "secret");
        serde_json::from_str(run_ok(c, None).trim()).unwrap()
    };
    let first = sync();
    assert_eq!(first["sent"], 1, "{first}");
    // The relay delivers the copy into the mailbox; the next sync reads it back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut copies = 0;
    while copies == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let v = sync();
        assert_eq!(v["stored"], 0, "a copy of a reply is not mail: {v}");
        if v["fetched"].as_u64() == Some(1) {
            copies = v["own_replies"].as_u64().unwrap_or(0);
            assert_eq!(copies, 1, "the copy read back is not reported: {v}");
        }
    }
    assert_eq!(copies, 1, "the copy never came back");
    let mut out = facteur(&cfg);
    out.args(["outbox", "--json"]);
    let row: serde_json::Value = serde_json::from_str(run_ok(out, None).trim()).unwrap();
    assert!(row["delivery_confirmed_at"].is_i64(), "{row}");
}

/// `facteur sync --mailbox NAME` with a misspelt name used to say "declare
/// [[mailbox]] sections", which the config already has: it must name the
/// unknown mailbox and list the declared ones.
#[test]
fn sync_of_an_unknown_mailbox_names_it_and_lists_the_declared_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "data_dir = \"data\"\n[[mailbox]]\nname = \"sip-exemple\"\naddress = \"sip@example.test\"\n",
    );
    let out = facteur(&cfg)
        .args(["sync", "--mailbox", "sip-exempel"])
        .env_remove("FACTEUR_LANG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("\"sip-exempel\"") && stderr.contains("sip-exemple"),
        "{stderr}"
    );
    assert!(!stderr.contains("déclarez des sections"), "{stderr}");
}
