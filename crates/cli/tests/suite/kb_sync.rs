//! Every node's knowledge base follows the standard answers of the database.
//!
//! Two real `facteur serve` processes (own ports, own data directories) share one
//! database. Node A imported the answer files; node B starts with an EMPTY data
//! directory and builds its answers index from the database alone. A supervisor
//! edits and validates a standard answer through node A's web app (login, CSRF,
//! form posts), and node B's `GET /api/kb/search` must show the new text within
//! seconds: the propagation delay is measured and printed.
//!
//! PostgreSQL (LISTEN/NOTIFY + polling) needs FACTEUR_TEST_PG_URL and `psql`;
//! without them that case says it is skipped — except under CI. The SQLite case
//! (two processes on one database file, polling) always runs.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common::{
    facteur, form_enc, fresh_db, http_request, pg_url, repo, run_ok, sign_in, Server,
};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PASSWORD: &str = "superviseure-kb-sync-2025";
const ANSWER: &str = "delais-paiement";
const MARKER: &str = "zorglubesque";

fn write_config(dir: &Path, name: &str, db: &str, refresh_secs: u64) -> PathBuf {
    let data = dir.join(name);
    let cfg = format!(
        "data_dir = \"{}\"\ndatabase_url = \"{db}\"\nanswers_dir = \"{}\"\nkb_refresh_secs = {refresh_secs}\naudit_key_file = \"{}\"\n",
        data.display(),
        repo().join("answers").display(),
        // Every node of one service shares the audit chain's key (docs/SECURITY.md).
        dir.join("audit.key").display(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, cfg).unwrap();
    path
}

/// A node: a `facteur serve` of its own, logging at info level.
fn serve(config: &Path, dir: &Path, name: &str) -> Server {
    let mut cmd = facteur(config);
    cmd.env("RUST_LOG", "info");
    Server::start(cmd, dir, name)
}

/// `GET /api/kb/search` on a node: (revision, hits).
fn search(port: u16, cookie: &str, q: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
    let (status, _, body) = http_request(
        port,
        "GET",
        &format!("/api/kb/search?limit=5&q={}", form_enc(q)),
        &[("Cookie", cookie)],
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    (v["revision"].clone(), v["hits"].as_array().unwrap().clone())
}

fn shows_marker(hits: &[serde_json::Value]) -> bool {
    hits.iter()
        .any(|h| h["id"] == ANSWER && h["body"].as_str().is_some_and(|b| b.contains(MARKER)))
}

/// The whole scenario on database `db`; returns the propagation delay to node B.
fn answer_edit_reaches_the_other_node(db: &str, refresh_secs: u64) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let cfg_a = write_config(dir.path(), "a", db, refresh_secs);
    let cfg_b = write_config(dir.path(), "b", db, refresh_secs);
    // Node A imports the answer files: its index and the database.
    let mut import = facteur(&cfg_a);
    import
        .args(["kb", "import", "--json"])
        .arg(repo().join("answers/demo"));
    let out: serde_json::Value = serde_json::from_str(run_ok(import, None).trim()).unwrap();
    assert!(out["store"]["recorded"].as_u64().unwrap() >= 30, "{out}");
    let mut add = facteur(&cfg_a);
    add.args(["user", "add", "--username", "sup", "--role", "supervisor"]);
    run_ok(add, Some(&format!("{PASSWORD}\n")));
    // Four eyes: a second supervisor validates what "sup" wrote.
    let mut add = facteur(&cfg_a);
    add.args(["user", "add", "--username", "rev", "--role", "supervisor"]);
    run_ok(add, Some(&format!("{PASSWORD}\n")));

    assert!(!dir.path().join("b").exists(), "node B starts with nothing");
    let a = serve(&cfg_a, dir.path(), "a");
    let b = serve(&cfg_b, dir.path(), "b");
    // Sessions live in the database: one sign-in serves both nodes.
    let (cookie, csrf) = sign_in(a.port, "sup", PASSWORD);

    // B built its answers index from the database alone.
    let (rev_b, hits) = search(b.port, &cookie, "délai de paiement");
    assert_eq!(
        hits.first().map(|h| h["id"].clone()),
        Some(ANSWER.into()),
        "{hits:?}"
    );
    assert!(rev_b.as_i64().is_some(), "B follows a revision: {rev_b}");
    assert!(!shows_marker(&search(b.port, &cookie, MARKER).1));

    // The supervisor edits the answer on node A and submits it (a new draft
    // version, offered for validation) …
    let original =
        std::fs::read_to_string(repo().join("answers/demo").join(format!("{ANSWER}.md"))).unwrap();
    let edited = original.replacen(
        "Nous restons à votre disposition",
        &format!(
            "Mot-témoin de la synchronisation : {MARKER}.\n\nNous restons à votre disposition"
        ),
        1,
    );
    assert_ne!(edited, original);
    let (status, _, body) = http_request(
        a.port,
        "POST",
        &format!("/answers/{ANSWER}"),
        &[("Cookie", &cookie)],
        Some(&format!(
            "op=submit&content={}&csrf={}",
            form_enc(&edited),
            form_enc(&csrf)
        )),
    )
    .unwrap();
    assert_eq!(status, 303, "save: {body}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let version = rt.block_on(async {
        let s = facteur_store::Store::open(db).await.unwrap();
        let v = s.list_answer_versions(ANSWER).await.unwrap();
        s.close().await;
        v.iter().map(|v| v.version).max().unwrap()
    });
    // A draft is not used for drafting: B must not show it.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !shows_marker(&search(b.port, &cookie, MARKER).1),
        "a draft leaked"
    );

    // … and a second supervisor validates it (four eyes).
    let (rev_cookie, rev_csrf) = sign_in(a.port, "rev", PASSWORD);
    let (status, _, body) = http_request(
        a.port,
        "POST",
        &format!("/answers/{ANSWER}/{version}/validate"),
        &[("Cookie", &rev_cookie), ("X-CSRF-Token", &rev_csrf)],
        Some(""),
    )
    .unwrap();
    assert_eq!(status, 303, "validate: {body}");
    let validated_at = Instant::now();
    let deadline = validated_at + Duration::from_secs(30);
    let delay = loop {
        let (rev, hits) = search(b.port, &cookie, MARKER);
        if shows_marker(&hits) {
            assert!(
                rev.as_i64() > rev_b.as_i64(),
                "revision moved: {rev} > {rev_b}"
            );
            break validated_at.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "node B never showed the new text: {}",
            std::fs::read_to_string(&b.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Node A follows too, and B logged the revision it moved to.
    let a_deadline = Instant::now() + Duration::from_secs(30);
    while !shows_marker(&search(a.port, &cookie, MARKER).1) {
        assert!(
            Instant::now() < a_deadline,
            "node A never showed the new text"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log_path = b.log.clone();
    drop(b);
    drop(a);
    let log_b = std::fs::read_to_string(log_path).unwrap();
    assert!(
        log_b.contains("knowledge base follows the store"),
        "{log_b}"
    );
    assert!(!log_b.contains(MARKER), "answer text in the logs");
    delay
}

#[test]
fn postgres_answer_edit_on_one_node_reaches_the_other_within_seconds() {
    let Some(pg) = pg_url(module_path!()) else {
        return;
    };
    let db = fresh_db(&pg, "kbsync");
    // Polling every 5 s (the default): only NOTIFY can make it much faster.
    let delay = answer_edit_reaches_the_other_node(&db, 5);
    println!(
        "kb propagation (PostgreSQL, LISTEN/NOTIFY, poll 5 s): {} ms",
        delay.as_millis()
    );
    assert!(delay < Duration::from_secs(10), "{delay:?}");
}

#[test]
fn sqlite_answer_edit_on_one_process_reaches_the_other_by_polling() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("shared.db").display());
    let delay = answer_edit_reaches_the_other_node(&db, 1);
    println!(
        "kb propagation (SQLite, poll 1 s): {} ms",
        delay.as_millis()
    );
    assert!(delay < Duration::from_secs(10), "{delay:?}");
}
