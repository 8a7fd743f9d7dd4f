//! Scale-out on the real PostgreSQL 15 started by `scripts/services.sh`: several
//! `facteur worker` processes on one database share triage and sending, one of them
//! is killed with `kill -9` mid-way, and still every message is stored once and
//! triaged, and every validated reply reaches the real SMTP server exactly once.
//! Plus `facteur migrate` of the demo service from SQLite to PostgreSQL.
//!
//! Needs FACTEUR_TEST_PG_URL, FACTEUR_TEST_SMTP and FACTEUR_TEST_SMTP_MAILDIR, and
//! `psql` on the PATH. Without them the tests say they are skipped — except under
//! CI, where a missing service is a failure.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::common::{
    fresh_db, psql_i64, received_replies, repo, shared_data, unique, validate_replies, wait_until,
};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const MESSAGES: usize = 2000;
const REPLIES: usize = 200;

struct Services {
    pg: String,
    smtp: String,
    smtp_maildir: PathBuf,
    imap: String,
    /// The relay's local domain: its recipients land in their Dovecot INBOX.
    local_domain: String,
}

fn services(test: &str) -> Option<Services> {
    let v = common::require(
        test,
        &[
            "FACTEUR_TEST_PG_URL",
            "FACTEUR_TEST_SMTP",
            "FACTEUR_TEST_SMTP_MAILDIR",
            "FACTEUR_TEST_IMAP",
        ],
    )?;
    let [pg, smtp, maildir, imap] = <[String; 4]>::try_from(v).ok()?;
    Some(Services {
        pg,
        smtp,
        smtp_maildir: maildir.into(),
        imap,
        local_domain: facteur_testkit::services::smtp_local_domain(),
    })
}

/// The demo service (model, knowledge base and a SQLite store of triaged demo
/// messages with accounts and audit rows), built once for the whole test binary.
fn demo_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let out = Command::new(env!("CARGO_BIN_EXE_facteur"))
            .args([
                "demo",
                "--no-serve",
                "--json",
                "--count",
                "120",
                "--data-dir",
            ])
            .arg(dir.join("demo"))
            .arg("--answers")
            .arg(repo().join("answers"))
            .arg("--shared-data")
            .arg(shared_data())
            .env_remove("FACTEUR_DATABASE_URL")
            .env_remove("FACTEUR_DATA_DIR")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "facteur demo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir.join("demo")
    })
}

/// The service's mailbox has its own address in the relay's local domain and an
/// IMAP account there: the copy of each sent reply comes back into it, which is
/// how a sender settles a reply whose sender was killed after its hand-off.
fn write_config(dir: &Path, s: &Services, db: &str, own: &str) -> PathBuf {
    let (sh, sp) = s.smtp.split_once(':').unwrap();
    let (ih, ip) = s.imap.split_once(':').unwrap();
    let cfg = format!(
        r#"data_dir = "{data}"
database_url = "{db}"
answers_dir = "{answers}"
outbox_lease_seconds = 3
[[mailbox]]
name = "sip-test"
address = "{own}"
[mailbox.imap]
host = "{ih}"
port = {ip}
tls = "none"
user = "{own}"
password_env = "FACTEUR_IMAP_PASSWORD"
[mailbox.smtp]
host = "{sh}"
port = {sp}
tls = "none"
delivery_check_grace_secs = 2
"#,
        data = demo_dir().display(),
        answers = repo().join("answers").display(),
    );
    let path = dir.join("facteur.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

fn facteur(config: &Path) -> Command {
    let mut c = common::facteur(config);
    c.env(
        "FACTEUR_IMAP_PASSWORD",
        std::env::var("FACTEUR_TEST_IMAP_PASSWORD").unwrap_or_default(),
    );
    c
}

fn spawn_worker(config: &Path, dir: &Path, n: usize) -> Child {
    facteur(config)
        .args(["worker", "--json-stats", "--job-lease-seconds", "3"])
        .args(["--send-interval-ms", "300", "--idle-ms", "100"])
        .stdout(std::fs::File::create(dir.join(format!("worker{n}.json"))).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("worker{n}.err"))).unwrap())
        .spawn()
        .unwrap()
}

/// SIGTERM, then the worker must stop cleanly and print its stats.
fn stop_worker(mut child: Child, dir: &Path, n: usize) -> serde_json::Value {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let err = std::fs::read_to_string(dir.join(format!("worker{n}.err"))).unwrap();
            assert!(status.success(), "worker {n} did not stop cleanly: {err}");
            break;
        }
        assert!(Instant::now() < deadline, "worker {n} ignores SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(dir.join(format!("worker{n}.json"))).unwrap();
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("worker {n} stats {text:?}: {e}"))
}

fn kill_9(mut child: Child) {
    // SIGKILL: no destructor, no lease released.
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn workers_share_triage_and_sending_and_survive_kill_9() {
    let Some(s) = services("workers_share_triage_and_sending") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(&s.pg, "scale");
    let own = format!("{}@{}", unique("sip-scale"), s.local_domain);
    let config = write_config(dir.path(), &s, &db, &own);
    let mbox = dir.path().join("in.mbox");
    let ok = Command::new(env!("CARGO_BIN_EXE_facteur"))
        .args(["demo", "mailbox", "--count", &MESSAGES.to_string(), "--out"])
        .arg(&mbox)
        .arg("--answers")
        .arg(repo().join("answers"))
        .arg("--shared-data")
        .arg(shared_data())
        .status()
        .unwrap()
        .success();
    assert!(ok);

    // Two imports of the same file at once: each message stored once, one job each.
    let imports: Vec<Child> = (0..2)
        .map(|_| {
            facteur(&config)
                .args([
                    "import",
                    "--json",
                    "--defer-triage",
                    "--mailbox",
                    "sip-test",
                ])
                .arg(&mbox)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut stored = 0;
    for c in imports {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["fetched"], MESSAGES as u64, "{v}");
        stored += v["stored"].as_i64().unwrap();
    }
    let n = MESSAGES as i64;
    assert_eq!(
        stored, n,
        "the two imports together stored each message once"
    );
    assert_eq!(psql_i64(&db, "SELECT count(*) FROM messages"), n);
    assert_eq!(
        psql_i64(
            &db,
            "SELECT count(*) FROM jobs WHERE kind = 'triage' AND state = 'queued'"
        ),
        n,
        "one triage job per message, nothing triaged inline"
    );
    assert_eq!(
        psql_i64(&db, "SELECT count(*) FROM messages WHERE state = 'new'"),
        n
    );

    // Two workers, then four; one of the four is killed -9 mid-way.
    let left = || {
        psql_i64(
            &db,
            "SELECT count(*) FROM jobs WHERE kind = 'triage' AND state <> 'done'",
        )
    };
    let mut workers: Vec<(usize, Child)> = (0..2)
        .map(|i| (i, spawn_worker(&config, dir.path(), i)))
        .collect();
    wait_until(
        "a quarter triaged by 2 workers",
        Duration::from_secs(600),
        || left() <= n * 3 / 4,
    );
    workers.extend((2..4).map(|i| (i, spawn_worker(&config, dir.path(), i))));
    wait_until(
        "half triaged by 4 workers",
        Duration::from_secs(600),
        || left() <= n / 2,
    );
    let (_, victim) = workers.remove(1);
    kill_9(victim);
    wait_until("every triage job done", Duration::from_secs(900), || {
        left() == 0
    });

    assert_eq!(
        psql_i64(&db, "SELECT count(*) FROM messages"),
        n,
        "stored exactly once"
    );
    assert_eq!(
        psql_i64(
            &db,
            "SELECT count(DISTINCT (mailbox_id, message_id)) FROM messages"
        ),
        n
    );
    assert_eq!(
        psql_i64(&db, "SELECT count(*) FROM messages WHERE state = 'new'"),
        0,
        "every message triaged"
    );
    assert_eq!(
        psql_i64(
            &db,
            "SELECT count(*) FROM jobs WHERE kind = 'triage' AND state = 'done'"
        ),
        n,
        "no job lost, none failed"
    );
    assert_eq!(
        psql_i64(
            &db,
            "SELECT count(*) FROM messages m WHERE NOT EXISTS \
             (SELECT 1 FROM triage_results t WHERE t.message_id = m.id)"
        ),
        0,
        "every message has a recorded triage"
    );

    // An agent validates REPLIES replies, to addresses of this test's own domain.
    let tag = unique("scalesend");
    let to_domain = format!("{tag}.example.test");
    validate_replies(
        &db,
        None,
        "sip-test",
        REPLIES,
        |m| format!("citoyen{}@{to_domain}", m.id),
        |id| format!("reply-{id}-{tag}@example.test"),
    );

    // The three live workers send; one is killed -9 once sending is under way.
    let sent = || psql_i64(&db, "SELECT count(*) FROM outbox WHERE state = 'sent'");
    wait_until("sending under way", Duration::from_secs(300), || {
        sent() >= 20
    });
    let (_, victim) = workers.remove(0);
    kill_9(victim);
    wait_until("every reply sent", Duration::from_secs(600), || {
        sent() == REPLIES as i64
    });
    let ids = received_replies(&s.smtp_maildir, &to_domain);
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), REPLIES, "every reply arrives");
    assert_eq!(ids.len(), REPLIES, "no reply arrives twice");
    // The copies come back through the mailbox (one syncer among the workers):
    // each becomes its reply's proof of delivery, none a message to triage.
    wait_until(
        "every reply's copy seen by IMAP ingest",
        Duration::from_secs(300),
        || {
            psql_i64(
                &db,
                "SELECT count(*) FROM outbox WHERE delivery_confirmed_at IS NOT NULL",
            ) == REPLIES as i64
        },
    );
    assert_eq!(
        psql_i64(&db, "SELECT count(*) FROM messages"),
        n,
        "copies of replies are not stored as mail"
    );

    // The survivors stop cleanly on SIGTERM and report their share of the work.
    let mut triaged = 0;
    for (i, w) in workers {
        let v = stop_worker(w, dir.path(), i);
        assert_eq!(v["failed"], 0, "{v}");
        triaged += v["triaged"].as_u64().unwrap();
    }
    assert!(
        triaged > 0 && triaged <= MESSAGES as u64,
        "the two survivors triaged {triaged}"
    );
}

#[test]
fn migrate_demo_from_sqlite_to_postgres_keeps_everything() {
    let Some(s) = services("migrate_demo_from_sqlite_to_postgres") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A copy of the demo store, so the source is not shared with other tests.
    let src = dir.path().join("facteur.db");
    std::fs::copy(demo_dir().join("facteur.db"), &src).unwrap();
    // With its write-ahead log when the demo left one: until a later connection
    // checkpoints it, the rows live there, and the database file alone read as
    // an empty demo (0 messages) whenever this test ran first.
    let wal = demo_dir().join("facteur.db-wal");
    if wal.exists() {
        std::fs::copy(&wal, dir.path().join("facteur.db-wal")).unwrap();
    }
    let from = format!("sqlite:{}", src.display());
    let db = fresh_db(&s.pg, "migrate");
    let out = facteur(&write_config(dir.path(), &s, &db, "sip.test@example.test"))
        .args(["migrate", "--json", "--from", &from, "--to", &db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["target_audit"]["ok"], true, "{v}");
    let tables = v["tables"].as_array().unwrap();
    for t in tables {
        assert_eq!(t["source"], t["target"], "{t}");
    }
    let count = |name: &str| {
        tables
            .iter()
            .find(|t| t["table"] == name)
            .and_then(|t| t["target"].as_i64())
            .unwrap_or_else(|| panic!("no {name} in the report {v}"))
    };
    let messages = count("messages");
    assert!(messages > 50, "the demo's messages: {messages}");
    assert!(count("users") >= 3, "the demo's accounts");
    assert!(count("audit_log") > 0, "the demo's audit rows");
    assert_eq!(psql_i64(&db, "SELECT count(*) FROM messages"), messages);
    assert_eq!(
        psql_i64(&db, "SELECT count(*) FROM triage_results"),
        count("triage_results")
    );

    // The service on PostgreSQL verifies its audit chain with the usual command.
    // (No [[mailbox]] in this config: opening the service then writes nothing, so
    // the chain checked is exactly the copied one.)
    // The registry's model files (the demo model is active) live in the data
    // directory, not in the database: they move with it.
    let pgdata = dir.path().join("pgdata");
    std::fs::create_dir_all(&pgdata).unwrap();
    let copied = Command::new("cp")
        .arg("-r")
        .arg(demo_dir().join("models"))
        .arg(&pgdata)
        .status()
        .unwrap();
    assert!(copied.success());
    // So does the audit chain's key (kept outside the database, docs/SECURITY.md):
    // every node of a service needs the same file to verify or extend the chain.
    let key = demo_dir().join("audit.key");
    if key.is_file() {
        std::fs::copy(&key, pgdata.join("audit.key")).unwrap();
    }
    let pg_config = dir.path().join("pg.toml");
    std::fs::write(
        &pg_config,
        format!(
            "data_dir = \"{}\"\ndatabase_url = \"{db}\"\n",
            dir.path().join("pgdata").display()
        ),
    )
    .unwrap();
    let out = facteur(&pg_config)
        .args(["audit", "verify", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["ok"], true, "{a}");
    assert_eq!(a["rows"], count("audit_log"), "{a}");

    // A second migration into the same (now non-empty) target is refused, and
    // says what to do; nothing is duplicated.
    let out = facteur(&pg_config)
        .args(["migrate", "--from", &from, "--to", &db])
        .env("FACTEUR_LANG", "en")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already holds data"), "{err}");
    // The same refusal in French by default.
    let out = facteur(&pg_config)
        .args(["migrate", "--from", &from, "--to", &db])
        .env_remove("FACTEUR_LANG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("contient déjà des données"), "{err}");
    assert_eq!(psql_i64(&db, "SELECT count(*) FROM messages"), messages);
}
