//! A kill switch pulled on one node is obeyed by every node sharing the database.
//!
//! Two real processes with their own data directories share one database: node A
//! is a `facteur serve` (the supervisors' web app), node B a `facteur worker`
//! that triages the mail imported with `--defer-triage`. A supervisor switches
//! suggestions off for the mailbox through node A's form (login, CSRF); messages
//! node B triages afterwards get no draft. Switched back on, drafts come back.
//! Node B reads the switches at most every 2 s (`facteur_app::SWITCH_CACHE`), so the test
//! waits that long after each switch, no more.
//!
//! `facteur model exclude` is checked here too: the exclusion lands in the
//! database (by example id, which is what training leaves out), and a legacy
//! exclusions file of the node's data directory is imported once.
//!
//! PostgreSQL needs FACTEUR_TEST_PG_URL and `psql`; without them that case says
//! it is skipped — except under CI. The SQLite case (two processes on one
//! database file) always runs.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common::{
    facteur, form_enc, fresh_db, http_request, keyed_store, pg_url, repo, run_ok, shared_data,
    sign_in, Proc, Server,
};

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use facteur_store::{QueuePage, QueueQuery, QueueSort, Store};

const PASSWORD: &str = "superviseure-switches-2025";
const MAILBOX: &str = "sip-test";
/// Longer than the service's switch cache (2 s), with a margin for a triage
/// already under way when the switch was pulled.
const SETTLE: Duration = Duration::from_millis(2_500);

/// A demo data directory (model + knowledge base), one copy per node.
fn demo_data(dir: &Path) -> PathBuf {
    let demo = demo_with_store(dir);
    // Only the model and the index: the demo's own SQLite store is not the
    // shared database.
    std::fs::remove_file(demo.join("facteur.db")).ok();
    demo
}

/// The demo service: model, index, and its SQLite store of triaged messages with
/// the demo accounts (`agent`, `superviseur`, `admin`).
fn demo_with_store(dir: &Path) -> PathBuf {
    let demo = dir.join("demo");
    let mut c = Command::new(env!("CARGO_BIN_EXE_facteur"));
    c.args([
        "demo",
        "--no-serve",
        "--json",
        "--count",
        "10",
        "--data-dir",
    ])
    .arg(&demo)
    .arg("--answers")
    .arg(repo().join("answers"))
    .arg("--shared-data")
    .arg(shared_data())
    .env_remove("FACTEUR_DATABASE_URL")
    .env_remove("FACTEUR_DATA_DIR");
    run_ok(c, None);
    demo
}

fn copy_dir(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn write_config(dir: &Path, name: &str, data: &Path, db: &str) -> PathBuf {
    let cfg = format!(
        "data_dir = \"{}\"\ndatabase_url = \"{db}\"\nanswers_dir = \"{}\"\n\
         [[mailbox]]\nname = \"{MAILBOX}\"\naddress = \"sip.test@example.test\"\n",
        data.display(),
        repo().join("answers").display(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, cfg).unwrap();
    path
}

fn worker(config: &Path, log: &Path) -> Proc {
    let mut cmd = facteur(config);
    cmd.args(["worker", "--no-imap", "--no-send", "--idle-ms", "100"])
        .env("RUST_LOG", "info");
    Proc::start(cmd, log)
}

/// The ids of the mailbox's queue.
fn queue_ids(rt: &tokio::runtime::Runtime, store: &Store) -> Vec<i64> {
    rt.block_on(async {
        let mb = store.get_mailbox_by_name(MAILBOX).await.unwrap().unwrap();
        store
            .list_queue(&QueueQuery {
                mailbox_ids: Some(vec![mb.id]),
                states: vec![],
                category: None,
                assigned_to: None,
                search: None,
                received: None,
                sort: QueueSort::Age,
                page: QueuePage::First,
                limit: 500,
            })
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    })
}

/// A fresh batch of demo mail (its own seed), imported through `cfg` — triaged
/// on arrival, or left to the workers with `defer_triage`; returns the new
/// messages' ids (those not in `seen`, which it extends).
fn import_batch(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    dir: &Path,
    cfg: &Path,
    seed: u64,
    seen: &mut HashSet<i64>,
    defer_triage: bool,
) -> Vec<i64> {
    let mbox = dir.join(format!("batch-{seed}.mbox"));
    let mut gen = Command::new(env!("CARGO_BIN_EXE_facteur"));
    gen.args([
        "demo",
        "mailbox",
        // About a quarter of the demo's realistic mail clears the abstain rule
        // (precision first): 30 messages make drafts certain in every batch.
        "--count",
        "30",
        "--seed",
        &seed.to_string(),
    ])
    .arg("--out")
    .arg(&mbox)
    .arg("--answers")
    .arg(repo().join("answers"))
    .arg("--shared-data")
    .arg(shared_data());
    run_ok(gen, None);
    let mut imp = facteur(cfg);
    imp.args(["import", "--json", "--mailbox", MAILBOX]);
    if defer_triage {
        imp.arg("--defer-triage");
    }
    imp.arg(&mbox);
    let out: serde_json::Value = serde_json::from_str(run_ok(imp, None).trim()).unwrap();
    assert!(out["stored"].as_u64().unwrap() > 0, "{out}");
    let ids: Vec<i64> = queue_ids(rt, store)
        .into_iter()
        .filter(|id| !seen.contains(id))
        .collect();
    assert_eq!(ids.len() as u64, out["stored"].as_u64().unwrap(), "{out}");
    seen.extend(&ids);
    ids
}

/// Waits until node B triaged every message of `ids`; returns how many got a draft.
fn drafts_after_triage(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    ids: &[i64],
    log: &Path,
) -> usize {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let triaged: Vec<Option<String>> = rt.block_on(async {
            let mut v = Vec::new();
            for id in ids {
                if let Some(t) = store.latest_triage(*id).await.unwrap() {
                    v.push(t.draft_text);
                }
            }
            v
        });
        if triaged.len() == ids.len() {
            return triaged.iter().filter(|d| d.is_some()).count();
        }
        assert!(
            Instant::now() < deadline,
            "node B triaged {} of {} messages: {}",
            triaged.len(),
            ids.len(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn post_switch(port: u16, cookie: &str, csrf: &str, form: &str) {
    let (status, _, body) = http_request(
        port,
        "POST",
        "/supervision/switches",
        &[("Cookie", cookie)],
        Some(&format!("{form}&csrf={}", form_enc(csrf))),
    )
    .unwrap();
    assert_eq!(status, 303, "switch: {body}");
}

fn a_switch_on_node_a_stops_drafts_on_node_b(db: &str) {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo_data(dir.path());
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    copy_dir(&demo, &data_a);
    copy_dir(&demo, &data_b);
    let cfg_a = write_config(dir.path(), "a", &data_a, db);
    let cfg_b = write_config(dir.path(), "b", &data_b, db);
    let mut add = facteur(&cfg_a);
    add.args(["user", "add", "--username", "sup", "--role", "supervisor"]);
    run_ok(add, Some(&format!("{PASSWORD}\n")));

    let log_b = dir.path().join("b.log");
    let mut serve_a = facteur(&cfg_a);
    serve_a.env("RUST_LOG", "info");
    let a = Server::start(serve_a, dir.path(), "a");
    let port = a.port;
    let _b = worker(&cfg_b, &log_b);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(keyed_store(db, &data_a.join("audit.key")));
    let mut seen = HashSet::new();

    // Baseline: node B drafts replies.
    let ids = import_batch(&rt, &store, dir.path(), &cfg_a, 1, &mut seen, true);
    let before = drafts_after_triage(&rt, &store, &ids, &log_b);
    assert!(
        before > 0,
        "no draft before any switch: the test proves nothing"
    );

    // A supervisor switches the mailbox off on node A (CSRF-protected form).
    let (cookie, csrf) = sign_in(port, "sup", PASSWORD);
    let mb = rt
        .block_on(store.get_mailbox_by_name(MAILBOX))
        .unwrap()
        .unwrap();
    post_switch(
        port,
        &cookie,
        &csrf,
        &format!("action=off&scope=mailbox&value={}&reason=incident", mb.id),
    );
    std::thread::sleep(SETTLE);
    let ids = import_batch(&rt, &store, dir.path(), &cfg_a, 2, &mut seen, true);
    let off = drafts_after_triage(&rt, &store, &ids, &log_b);
    assert_eq!(
        off,
        0,
        "node B drafted {off} of {} replies after the switch",
        ids.len()
    );

    // Back on: node B drafts again.
    post_switch(
        port,
        &cookie,
        &csrf,
        &format!("action=on&scope=mailbox&value={}", mb.id),
    );
    std::thread::sleep(SETTLE);
    let ids = import_batch(&rt, &store, dir.path(), &cfg_a, 3, &mut seen, true);
    let on = drafts_after_triage(&rt, &store, &ids, &log_b);
    assert!(
        on > 0,
        "node B never drafted again after the switch went back on"
    );

    // Both changes are in the audit chain, which still verifies.
    let audit = rt.block_on(store.list_audit(0, 100_000)).unwrap();
    let target = format!("mailbox:{}", mb.id);
    assert!(audit
        .iter()
        .any(|r| r.action == "kill_switch.off" && r.target == target));
    assert!(audit
        .iter()
        .any(|r| r.action == "kill_switch.on" && r.target == target));
    assert!(rt.block_on(store.verify_audit()).unwrap().ok);
    // Nothing of it went through files of a node's data directory.
    assert!(!data_a.join("learn/kill_switches.json").exists());
    println!("drafts per batch: before {before}, switched off {off}, back on {on}");
    rt.block_on(store.close());
}

#[test]
fn postgres_a_switch_pulled_through_one_node_reaches_the_other() {
    let Some(pg) = pg_url(module_path!()) else {
        return;
    };
    let db = fresh_db(&pg, "switches");
    a_switch_on_node_a_stops_drafts_on_node_b(&db);
}

#[test]
fn sqlite_a_switch_pulled_through_one_process_reaches_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("shared.db").display());
    a_switch_on_node_a_stops_drafts_on_node_b(&db);
}

#[test]
fn model_exclude_records_the_messages_examples_in_the_database_and_imports_the_legacy_file() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo_with_store(dir.path());
    let db = format!("sqlite:{}", demo.join("facteur.db").display());
    let cfg = write_config(dir.path(), "demo", &demo, &db);
    // A legacy exclusions file, as older versions wrote it.
    std::fs::create_dir_all(demo.join("learn")).unwrap();
    std::fs::write(
        demo.join("learn/exclusions.jsonl"),
        "{\"id\":987654,\"by\":2,\"at\":1700000000000,\"reason\":\"ancien\"}\n",
    )
    .unwrap();
    // An agent corrects the category of a triaged message: one feedback example.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(Store::open(&db)).unwrap();
    let (message, action) = rt.block_on(async {
        let agent = store.get_user_by_username("agent").await.unwrap().unwrap();
        let mb = store.list_mailboxes().await.unwrap()[0].id;
        let rows = store
            .list_queue(&QueueQuery {
                mailbox_ids: Some(vec![mb]),
                states: vec![],
                category: None,
                assigned_to: None,
                search: None,
                received: None,
                sort: QueueSort::Age,
                page: QueuePage::First,
                limit: 1,
            })
            .await
            .unwrap();
        let id = rows[0].id;
        store.correct_category(id, agent.id, "deces").await.unwrap();
        let actions = store.list_actions(id).await.unwrap();
        (id, actions.last().unwrap().id)
    });

    let exclude = |by: &str| {
        let mut c = facteur(&cfg);
        c.args([
            "model", "exclude", "--json", "--reason", "doublon", "--by", by,
        ])
        .args(["--message", &message.to_string()]);
        c
    };
    // An agent may not exclude.
    let out = exclude("agent").output().unwrap();
    assert!(!out.status.success());
    let out: serde_json::Value =
        serde_json::from_str(run_ok(exclude("superviseur"), None).trim()).unwrap();
    assert_eq!(out["examples"], serde_json::json!([action]), "{out}");
    assert_eq!(out["newly_excluded"], 1, "{out}");
    // Again: nothing new, nothing audited twice.
    let again: serde_json::Value =
        serde_json::from_str(run_ok(exclude("superviseur"), None).trim()).unwrap();
    assert_eq!(again["newly_excluded"], 0, "{again}");

    let (ids, audited) = rt.block_on(async {
        let ids: Vec<i64> = store
            .list_training_exclusions()
            .await
            .unwrap()
            .iter()
            .map(|e| e.example_id)
            .collect();
        let audit = store.list_audit(0, 100_000).await.unwrap();
        let audited = audit
            .iter()
            .filter(|r| r.action == "feedback.exclude")
            .map(|r| r.target.clone())
            .collect::<Vec<_>>();
        (ids, audited)
    });
    assert_eq!(ids, vec![action, 987654]);
    assert_eq!(audited, vec![format!("example:{action}")]);
    assert!(!demo.join("learn/exclusions.jsonl").exists());
    assert!(demo.join("learn/exclusions.jsonl.imported").is_file());
    rt.block_on(store.close());
}

/// The same switches from the command line (an incident at night, the web app
/// down): only a supervisor may pull one, the scope is checked, it shows in
/// `model switch list`, mail triaged while it is off gets no draft, and switching
/// back on brings drafts back.
#[test]
fn cli_switch_off_and_on_governs_drafts() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo_with_store(dir.path());
    let db = format!("sqlite:{}", demo.join("facteur.db").display());
    let cfg = write_config(dir.path(), "cli", &demo, &db);
    // The demo's mailbox under another name (a rename in the config): refused,
    // naming the mailbox that owns the address and what to write instead.
    let renamed = dir.path().join("renamed.toml");
    std::fs::write(
        &renamed,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("sip.test@example.test", "SIP.demo@example.test"),
    )
    .unwrap();
    let out = facteur(&renamed)
        .env("FACTEUR_LANG", "fr")
        .args(["messages", "count"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("la boîte \"sip-demo\" a déjà l'adresse SIP.demo@example.test")
            && err.contains("name = \"sip-demo\""),
        "{err}"
    );
    let switch = |args: &[&str]| {
        let mut c = facteur(&cfg);
        c.args(["model", "switch"]).args(args);
        c
    };
    let out = switch(&["off", "--scope", "all", "--by", "agent", "--reason", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an agent may not pull a switch");
    assert!(String::from_utf8_lossy(&out.stderr).contains("supervisor"));
    let out = switch(&[
        "off",
        "--scope",
        "everything",
        "--by",
        "superviseur",
        "--reason",
        "x",
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mailbox:NAME"),
        "the error says what to write"
    );
    // Batches of demo mail imported (and triaged inline) before, during and after
    // the switch: drafts, none, drafts again.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(Store::open(&db)).unwrap();
    let mut seen: HashSet<i64> = queue_ids(&rt, &store).into_iter().collect();
    let drafts = |seed: u64, seen: &mut HashSet<i64>| -> (usize, usize) {
        let ids = import_batch(&rt, &store, dir.path(), &cfg, seed, seen, false);
        let with_draft = rt.block_on(async {
            let mut n = 0;
            for id in &ids {
                let t = store
                    .latest_triage(*id)
                    .await
                    .unwrap()
                    .expect("triaged at import");
                n += usize::from(t.draft_text.is_some());
            }
            n
        });
        (ids.len(), with_draft)
    };
    let (new_before, drafts_before) = drafts(1, &mut seen);
    assert!(new_before > 0);
    assert!(
        drafts_before > 0,
        "demo mail gets drafts: {drafts_before} of {new_before}"
    );
    let scope = format!("mailbox:{MAILBOX}");
    let off: serde_json::Value = serde_json::from_str(
        run_ok(
            switch(&[
                "off",
                "--json",
                "--scope",
                &scope,
                "--by",
                "superviseur",
                "--reason",
                "incident",
            ]),
            None,
        )
        .trim(),
    )
    .unwrap();
    assert_eq!(off["suggestions"], "off", "{off}");
    let list = run_ok(switch(&["list", "--json"]), None);
    let rows: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{list}");
    assert_eq!(rows[0]["scope"]["kind"], "mailbox");
    assert_eq!(rows[0]["reason"], "incident");

    let (new_off, drafts_off) = drafts(2, &mut seen);
    assert!(new_off > 0);
    assert_eq!(drafts_off, 0, "no draft while switched off");
    run_ok(
        switch(&["on", "--scope", &scope, "--by", "superviseur"]),
        None,
    );
    assert!(run_ok(switch(&["list", "--json"]), None).trim().is_empty());
    let (new_on, drafts_on) = drafts(3, &mut seen);
    assert!(new_on > 0);
    assert!(drafts_on > 0, "drafts come back: {drafts_on} of {new_on}");
}
