//! `kill -9` of the real `facteur sync` process against the real Dovecot and SMTP
//! servers started by `scripts/services.sh`: after any number of brutal stops and
//! restarts, every message is stored exactly once and flagged on the server, and every
//! validated reply reaches the SMTP server exactly once.
//!
//! Needs FACTEUR_TEST_IMAP, FACTEUR_TEST_SMTP, FACTEUR_TEST_SMTP_MAILDIR and
//! FACTEUR_TEST_DOVECOT_MAIL. Without them the tests say they are skipped — except
//! under CI, where a missing service is a failure.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::common::{received_replies, repo, shared_data, unique, validate_replies};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Services {
    imap: String,
    smtp: String,
    smtp_maildir: PathBuf,
    dovecot_mail: PathBuf,
    /// The relay's local domain: its recipients land in their Dovecot INBOX.
    local_domain: String,
}

fn services(test: &str) -> Option<Services> {
    let v = common::require(
        test,
        &[
            "FACTEUR_TEST_IMAP",
            "FACTEUR_TEST_SMTP",
            "FACTEUR_TEST_SMTP_MAILDIR",
            "FACTEUR_TEST_DOVECOT_MAIL",
        ],
    )?;
    let [imap, smtp, maildir, dovecot] = <[String; 4]>::try_from(v).ok()?;
    Some(Services {
        imap,
        smtp,
        smtp_maildir: maildir.into(),
        dovecot_mail: dovecot.into(),
        local_domain: facteur_testkit::services::smtp_local_domain(),
    })
}

fn write_config(dir: &Path, s: &Services, user: &str, address: &str) -> PathBuf {
    let (ih, ip) = s.imap.split_once(':').unwrap();
    let (sh, sp) = s.smtp.split_once(':').unwrap();
    let cfg = format!(
        r#"data_dir = "{data}"
answers_dir = "{answers}"
outbox_lease_seconds = 3
[[mailbox]]
name = "sip-test"
address = "{address}"
[mailbox.imap]
host = "{ih}"
port = {ip}
tls = "none"
user = "{user}"
password_env = "FACTEUR_IMAP_PASSWORD"
folder = "INBOX"
[mailbox.smtp]
host = "{sh}"
port = {sp}
tls = "none"
delivery_check_grace_secs = 2
"#,
        data = dir.join("data").display(),
        answers = repo().join("answers").display(),
    );
    let path = dir.join("facteur.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

fn facteur(config: &Path) -> Command {
    let mut c = common::facteur(config);
    c.env("FACTEUR_IMAP_PASSWORD", "secret");
    c
}

/// Put messages straight into the user's Maildir, as a delivery agent would.
fn seed_dovecot(s: &Services, user: &str, messages: &[Vec<u8>]) {
    let root = s.dovecot_mail.join(user);
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    for (i, m) in messages.iter().enumerate() {
        std::fs::write(
            root.join("new")
                .join(format!("{}.M{i}P1.facteur-test", 1_700_000_000 + i)),
            m,
        )
        .unwrap();
    }
    let ok = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(&s.dovecot_mail)
        .status()
        .unwrap()
        .success();
    assert!(ok, "chown of the Dovecot mail dir failed");
}

fn demo_messages(dir: &Path, n: usize) -> Vec<Vec<u8>> {
    let mbox = dir.join("seed.mbox");
    let ok = Command::new(env!("CARGO_BIN_EXE_facteur"))
        .args([
            "demo",
            "mailbox",
            "--count",
            &n.to_string(),
            "--seed",
            "7",
            "--out",
        ])
        .arg(&mbox)
        .arg("--answers")
        .arg(repo().join("answers"))
        .arg("--shared-data")
        .arg(shared_data())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let bytes = std::fs::read(&mbox).unwrap();
    facteur_mail::split_input(&bytes, "seed")
        .into_iter()
        .map(|r| r.bytes)
        .collect()
}

/// Run `facteur ARGS` and kill -9 it after `delay`, unless it ended first. Returns
/// whether it finished on its own with success.
fn run_and_kill(mut cmd: Command, delay: Duration) -> bool {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < delay {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL: no destructor, no flush, no goodbye.
    let _ = child.kill();
    let _ = child.wait();
    false
}

fn count_json(config: &Path) -> i64 {
    let out = facteur(config)
        .args(["messages", "count", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["count"].as_i64().unwrap()
}

#[test]
fn kill_9_during_imap_sync_loses_and_duplicates_nothing() {
    let Some(s) = services("kill_9_during_imap_sync") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let user = unique("crashsync");
    let config = write_config(dir.path(), &s, &user, "sip.test@example.test");
    let messages = demo_messages(dir.path(), 600);
    seed_dovecot(&s, &user, &messages);

    // Brutal stops at several points: before login, during fetch, during storing
    // and flagging. Then let it finish.
    let mut finished = false;
    let mut partial = Vec::new();
    for delay_ms in [40u64, 150, 300, 500, 800, 1200, 2000] {
        let mut cmd = facteur(&config);
        cmd.args(["sync", "--json", "--no-send"]);
        if run_and_kill(cmd, Duration::from_millis(delay_ms)) {
            finished = true;
            break;
        }
        if dir.path().join("data/facteur.db").exists() {
            partial.push(count_json(&config));
        }
    }
    eprintln!("stored after each kill -9: {partial:?}");
    // The test must really have killed a sync half-way, else it proves nothing.
    assert!(
        partial.iter().any(|&c| c > 0 && c < messages.len() as i64),
        "no kill landed in the middle of a sync: {partial:?}"
    );
    if !finished {
        let out = facteur(&config)
            .args(["sync", "--json", "--no-send"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        count_json(&config),
        messages.len() as i64,
        "every message stored exactly once"
    );

    // A further sync finds nothing new.
    let out = facteur(&config)
        .args(["sync", "--json", "--no-send"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stored"], 0, "{v}");
    assert_eq!(count_json(&config), messages.len() as i64);

    // Every message is flagged \Seen on the server now that it is stored.
    let cur = s.dovecot_mail.join(&user).join("cur");
    let files: Vec<String> = std::fs::read_dir(&cur)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), messages.len());
    let unseen: Vec<&String> = files
        .iter()
        .filter(|f| !f.rsplit(":2,").next().unwrap_or("").contains('S'))
        .collect();
    assert!(
        unseen.is_empty(),
        "{} messages not flagged \\Seen, e.g. {:?}",
        unseen.len(),
        unseen.first()
    );
}

/// kill -9 at several points while `facteur sync` sends 100 validated replies, then
/// restart: every reply arrives exactly once. The mailbox's address is in the test
/// relay's local domain, so each reply's copy comes back into its Dovecot INBOX:
/// that copy is how a restarted sender tells "the relay took it" from "the dot never
/// left" for a reply killed right after its hand-off marker (see
/// `crates/connect/src/smtp.rs`), and ingest must not queue those copies as mail.
#[test]
fn kill_9_during_sending_sends_every_reply_exactly_once() {
    let Some(s) = services("kill_9_during_sending") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tag = unique("crashsend");
    let to_domain = format!("{tag}.example.test");
    let own = format!("sip-{tag}@{}", s.local_domain);
    let config = write_config(dir.path(), &s, &own, &own);
    // 100 citizen messages, each from an address in this test's own domain.
    let messages: Vec<Vec<u8>> = (0..100)
        .map(|i| {
            format!(
                "From: Citoyen {i} <citoyen{i}@{to_domain}>\r\nTo: sip.test@example.test\r\nSubject: Question {i}\r\nMessage-ID: <q{i}.{tag}@example.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n\r\nBonjour, quand dois-je déclarer mes revenus ? Merci.\r\n"
            )
            .into_bytes()
        })
        .collect();
    let mbox = dir.path().join("in.mbox");
    let mut bytes = Vec::new();
    for m in &messages {
        bytes.extend_from_slice(b"From x Mon Nov 23 10:00:00 2026\n");
        bytes.extend_from_slice(m);
        bytes.extend_from_slice(b"\n");
    }
    std::fs::write(&mbox, bytes).unwrap();
    let out = facteur(&config)
        .args(["import", "--json", "--mailbox", "sip-test"])
        .arg(&mbox)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An agent validates 100 replies (through the store, as the web app does).
    assert_eq!(count_json(&config), 100);
    let db = dir.path().join("data/facteur.db");
    validate_replies(
        &format!("sqlite:{}", db.display()),
        None,
        "sip-test",
        100,
        |m| m.from_address.clone().unwrap(),
        |id| format!("reply-{id}-{tag}@example.test"),
    );

    let mut sent_after_kill = Vec::new();
    for delay_ms in [30u64, 120, 250, 400, 700, 1000, 1500] {
        let mut cmd = facteur(&config);
        cmd.args(["sync", "--json"]);
        if run_and_kill(cmd, Duration::from_millis(delay_ms)) {
            break;
        }
        sent_after_kill.push(received_replies(&s.smtp_maildir, &to_domain).len());
    }
    eprintln!("replies received after each kill -9: {sent_after_kill:?}");
    assert!(
        sent_after_kill.iter().any(|&n| n > 0 && n < 100),
        "no kill landed in the middle of sending: {sent_after_kill:?}"
    );
    // Leases of killed senders expire (the lease is short under test), then a clean
    // run finishes the work.
    let deadline = Instant::now() + Duration::from_secs(180);
    let (mut reconciled, mut resent) = (0, 0);
    loop {
        let out = facteur(&config).args(["sync", "--json"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        reconciled += v["send_report"]["reconciled"].as_i64().unwrap_or(0);
        resent += v["send_report"]["resent_after_check"].as_i64().unwrap_or(0);
        let out = facteur(&config)
            .args(["outbox", "--json"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let sent = text
            .lines()
            .filter(|l| l.contains("\"state\":\"sent\""))
            .count();
        if sent == 100 || Instant::now() > deadline {
            assert_eq!(sent, 100, "outbox not drained: {text}");
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    eprintln!("after restart: {reconciled} replies proven delivered by their copy, {resent} sent again because no copy came back");
    let ids = received_replies(&s.smtp_maildir, &to_domain);
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 100, "every reply arrives");
    assert_eq!(ids.len(), 100, "no reply arrives twice");

    // One more sync reads the copies back: each is the proof of delivery of its
    // reply, and none becomes a message in the agents' queue.
    let out = facteur(&config).args(["sync", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count_json(&config), 100, "copies of replies are not mail");
    let out = facteur(&config)
        .args(["outbox", "--json"])
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 100);
    let confirmed = rows
        .iter()
        .filter(|r| r["delivery_confirmed_at"].is_i64())
        .count();
    assert_eq!(confirmed, 100, "every reply's copy came back");
}
