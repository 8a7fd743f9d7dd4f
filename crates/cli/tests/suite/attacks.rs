//! The security review's attacks (issue #14), each against a real `facteur serve`
//! process on loopback. Attackers connect from other loopback addresses
//! (127.0.0.2…) than the real user (127.0.0.1), as distinct clients would.
//! Request loops are bounded and stay on loopback.
//!
//! The PostgreSQL cases need FACTEUR_TEST_PG_URL and `psql` (skipped without them,
//! except under CI).
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::common::{
    facteur, form_enc, free_port, fresh_db, keyed_store, pg_url, psql, repo, run_ok, Relay, Server,
};

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "superviseure-attaques-2025";

fn write_config(dir: &Path, db: Option<&str>, extra: &str) -> PathBuf {
    let data = dir.join("data");
    let db = db
        .map(String::from)
        .unwrap_or_else(|| format!("sqlite:{}", data.join("facteur.db").display()));
    let cfg = format!(
        "data_dir = \"{}\"\ndatabase_url = \"{db}\"\nanswers_dir = \"{}\"\n{extra}\n\
         [[mailbox]]\nname = \"sip\"\naddress = \"sip@example.test\"\n",
        data.display(),
        repo().join("answers").display(),
    );
    let path = dir.join("facteur.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

fn add_supervisor(cfg: &Path, name: &str) {
    let mut add = facteur(cfg);
    add.args(["user", "add", "--username", name, "--role", "supervisor"]);
    run_ok(add, Some(&format!("{PASSWORD}\n")));
}

/// One HTTP/1.1 request from source address `from` (a loopback address).
/// Returns (status, headers lower-cased, body).
async fn http_from(
    from: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, Vec<(String, String)>, String)> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(format!("{from}:0").parse().unwrap())?;
    let mut s = sock.connect(([127, 0, 0, 1], port).into()).await?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(120), s.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::other("timed out"))??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((status, headers, body.to_string()))
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A server-signed login token, fetched from `from`.
async fn login_token(from: &str, port: u16) -> String {
    let (status, h, body) = http_from(from, port, "GET", "/login", &[], None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    h.iter()
        .filter(|(k, _)| k == "set-cookie")
        .find_map(|(_, v)| {
            v.split(';')
                .next()
                .and_then(|c| c.strip_prefix("facteur_login_csrf="))
        })
        .expect("login CSRF cookie")
        .to_string()
}

/// A sign-in attempt from `from` with `token`, and extra headers; (status, headers).
async fn try_login(
    from: &str,
    port: u16,
    token: &str,
    user: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> (u16, Vec<(String, String)>) {
    let cookie = format!("facteur_login_csrf={token}");
    let mut headers = vec![("Cookie", cookie.as_str())];
    headers.extend_from_slice(extra);
    let body = format!(
        "username={}&password={}&csrf={token}",
        form_enc(user),
        form_enc(password)
    );
    let (status, h, _) = http_from(from, port, "POST", "/login", &headers, Some(&body))
        .await
        .unwrap();
    (status, h)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

// ------------------------------------------------------------------ 1. nested mail

/// `levels` nested message/rfc822 parts, the outermost attached to the mail
/// (the review's mail had 100,000 in 3 MB).
fn nested_mail(levels: usize) -> Vec<u8> {
    let mut s = String::from(
        "From: Jeanne Martin <jeanne@example.org>\r\nTo: sip@example.test\r\n\
         Subject: TR: avis\r\nMessage-ID: <nested@example.org>\r\n",
    );
    for _ in 0..levels {
        s += "Content-Type: message/rfc822\r\n\r\n";
    }
    s += "Content-Type: text/plain\r\n\r\nBonjour, mon avis d'impôt est faux.\r\n";
    s.into_bytes()
}

/// The first `"id"` of the first message `/api/messages` lists.
fn first_message_id(port: u16, cookie: &str) -> i64 {
    let (status, _, body) =
        common::http_request(port, "GET", "/api/messages", &[("Cookie", cookie)], None).unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    fn find(v: &serde_json::Value) -> Option<i64> {
        match v {
            serde_json::Value::Array(a) => a.iter().find_map(|x| x.get("id")?.as_i64()),
            serde_json::Value::Object(o) => o.values().find_map(find),
            _ => None,
        }
    }
    find(&v).unwrap_or_else(|| panic!("no message in {body}"))
}

/// Item 1: an agent reveals the hostile mail and downloads its attachment; the
/// server used to abort (stack overflow in mail-parser's recursive drop), again
/// on each click after a restart. 10,000, 100,000 and 1,000,000 levels.
#[test]
fn nested_mail_download_does_not_take_the_server_down() {
    for levels in [10_000, 100_000, 1_000_000] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write_config(dir.path(), None, "");
        let eml = dir.path().join("nested.eml");
        let raw = nested_mail(levels);
        std::fs::write(&eml, &raw).unwrap();
        let mut imp = facteur(&cfg);
        imp.args(["import", "--mailbox", "sip"]).arg(&eml);
        run_ok(imp, None);
        add_supervisor(&cfg, "sup");
        let mut srv = Server::start(facteur(&cfg), dir.path(), "serve");
        let (cookie, csrf) = common::sign_in(srv.port, "sup", PASSWORD);
        let id = first_message_id(srv.port, &cookie);
        let (status, _, body) = common::http_request(
            srv.port,
            "POST",
            &format!("/messages/{id}/reveal"),
            &[("Cookie", &cookie)],
            Some(&format!("csrf={}", form_enc(&csrf))),
        )
        .unwrap();
        assert!(status == 303 || status == 200, "reveal: {status} {body}");
        let parsed =
            facteur_mail::parse_message_capped(&raw, facteur_mail::DEFAULT_MAX_MESSAGE_BYTES);
        // Above the 25 MB cap the mail is stored from its header: no attachment
        // to ask for, so ask for the one a smaller copy would list.
        let sha = parsed
            .attachments
            .first()
            .map(|a| a.sha256.clone())
            .unwrap_or_else(|| {
                facteur_mail::parse_message(&nested_mail(10)).attachments[0]
                    .sha256
                    .clone()
            });
        for _ in 0..2 {
            let r = common::http_request(
                srv.port,
                "GET",
                &format!("/messages/{id}/attachments/{sha}"),
                &[("Cookie", &cookie)],
                None,
            );
            assert!(
                srv.alive(),
                "{levels} levels: the server died: {}",
                srv.log_text()
            );
            let (status, _, body) = r.unwrap();
            if parsed.attachments.is_empty() {
                assert_eq!(status, 404, "{levels} levels");
            } else {
                assert_eq!(status, 200, "{levels} levels");
                assert!(
                    body.starts_with("Content-Type: message/rfc822"),
                    "{levels} levels"
                );
            }
        }
    }
}

// ------------------------------------------------------------------ 2. login flood

/// Item 2: 500 parallel sign-ins with random usernames from one client took the
/// server from 110 MiB to 3.6 GiB (each ran Argon2, ~19 MiB, on its own thread,
/// and the client could pick its own CSRF token). Now: the server's peak RSS
/// stays under 300 MiB, and a real user signs in within 2 s during the attack.
#[test]
fn login_flood_keeps_memory_bounded_and_the_real_user_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), None, "");
    add_supervisor(&cfg, "alice");
    let srv = Server::start(facteur(&cfg), dir.path(), "serve");
    let port = srv.port;
    let rt = rt();
    rt.block_on(async {
        // A token the client made up, double-submitted: refused before any hash.
        let made_up = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let (status, _) = try_login("127.0.0.2", port, made_up, "alice", PASSWORD, &[]).await;
        assert_eq!(status, 403, "a self-chosen login CSRF token");

        let token = login_token("127.0.0.2", port).await;
        let attack: Vec<_> = (0..500)
            .map(|i| {
                let token = token.clone();
                tokio::spawn(async move {
                    try_login(
                        "127.0.0.2",
                        port,
                        &token,
                        &format!("user-{i}-x"),
                        "guess",
                        &[],
                    )
                    .await
                    .0
                })
            })
            .collect();
        // The real user, from her own address, while the attack runs.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = Instant::now();
        let user_token = login_token("127.0.0.1", port).await;
        let (status, _) = try_login("127.0.0.1", port, &user_token, "alice", PASSWORD, &[]).await;
        let took = t.elapsed();
        assert_eq!(status, 303, "the real user signs in during the attack");
        assert!(took < Duration::from_secs(2), "sign-in took {took:?}");
        let mut counts = std::collections::BTreeMap::new();
        for a in attack {
            *counts.entry(a.await.unwrap()).or_insert(0) += 1;
        }
        eprintln!("attack answers by status: {counts:?}; user signed in in {took:?}");
        assert!(
            counts.keys().all(|s| [401, 429, 503].contains(s)),
            "{counts:?}"
        );
    });
    let (rss, peak) = srv.rss_mib();
    eprintln!("server RSS after the attack: {rss} MiB, peak {peak} MiB");
    assert!(peak < 300, "peak RSS {peak} MiB");
}

/// Item 2, spread over many addresses: the per-IP limits do not apply, so what
/// bounds memory and CPU is the hashing queue (one hash per core, a short queue):
/// beyond it sign-ins get 503 with Retry-After, and a real user who honours it
/// gets in.
#[test]
fn a_flood_from_many_addresses_gets_503_beyond_the_hashing_queue() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), None, "");
    add_supervisor(&cfg, "alice");
    let srv = Server::start(facteur(&cfg), dir.path(), "serve");
    let port = srv.port;
    let rt = rt();
    rt.block_on(async {
        let token = login_token("127.0.0.2", port).await;
        // 200 source addresses, two attempts each: under every per-IP limit.
        let attack: Vec<_> = (0..400)
            .map(|i| {
                let token = token.clone();
                tokio::spawn(async move {
                    let from = format!("127.0.{}.{}", 10 + i / 200, 1 + i % 200);
                    let (status, h) =
                        try_login(&from, port, &token, &format!("user-{i}-y"), "guess", &[]).await;
                    (status, header(&h, "retry-after").map(str::to_string))
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t = Instant::now();
        let user_token = login_token("127.0.0.1", port).await;
        let mut tries = 0;
        let status = loop {
            tries += 1;
            let (status, h) =
                try_login("127.0.0.1", port, &user_token, "alice", PASSWORD, &[]).await;
            if status != 503 || tries == 20 {
                break status;
            }
            let wait: u64 = header(&h, "retry-after")
                .and_then(|v| v.parse().ok())
                .expect("a 503 says when to come back");
            tokio::time::sleep(Duration::from_secs(wait)).await;
        };
        let took = t.elapsed();
        assert_eq!(status, 303, "the real user signs in after {tries} tries");
        let mut counts = std::collections::BTreeMap::new();
        for a in attack {
            let (status, retry) = a.await.unwrap();
            if status == 503 {
                assert!(retry.is_some(), "503 without Retry-After");
            }
            *counts.entry(status).or_insert(0) += 1;
        }
        eprintln!(
            "attack answers by status: {counts:?}; user signed in in {took:?} ({tries} tries)"
        );
        assert!(counts.keys().all(|s| [401, 503].contains(s)), "{counts:?}");
        assert!(
            counts.get(&503).copied().unwrap_or(0) > 0,
            "400 simultaneous hashes were all queued: {counts:?}"
        );
        assert!(took < Duration::from_secs(10), "sign-in took {took:?}");
    });
    let (_, peak) = srv.rss_mib();
    eprintln!("server peak RSS: {peak} MiB");
    assert!(peak < 300, "peak RSS {peak} MiB");
}

/// Item 2: an unknown username must cost the same hash as a known one, or the
/// response time tells an attacker which accounts exist. Attempts alternate
/// between the two, each from its own address (no per-IP delay), and the
/// medians are compared.
#[test]
fn an_unknown_username_costs_the_same_as_a_known_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), None, "");
    add_supervisor(&cfg, "alice");
    let srv = Server::start(facteur(&cfg), dir.path(), "serve");
    let port = srv.port;
    let rt = rt();
    let (known, unknown) = rt.block_on(async {
        let token = login_token("127.0.0.2", port).await;
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        for i in 0..24u32 {
            let from = format!("127.0.30.{}", 1 + i);
            let user = if i % 2 == 0 { "alice" } else { "nobody-here" };
            let t = Instant::now();
            let (status, _) = try_login(&from, port, &token, user, "wrong guess", &[]).await;
            let took = t.elapsed();
            assert_eq!(status, 401, "{user}");
            if i % 2 == 0 {
                known.push(took)
            } else {
                unknown.push(took)
            }
        }
        (known, unknown)
    });
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (k, u) = (median(known), median(unknown));
    eprintln!("median failed sign-in: known user {k:?}, unknown user {u:?}");
    // A skipped hash would make the unknown case many times faster.
    assert!(u * 2 > k && k * 2 > u, "known {k:?} against unknown {u:?}");
}

// ------------------------------------------------------------------ 3. lockout

/// Item 3: five wrong passwords locked an account for 15 minutes for everyone
/// (behind a proxy, for every client). Now an attacker's failures slow down the
/// attacker's (account, address) pair only; and a client that is not a trusted
/// proxy gains nothing by sending X-Forwarded-For.
#[test]
fn an_attacker_cannot_lock_a_user_out_nor_dodge_limits_with_forwarded_for() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        None,
        "trusted_proxies = [\"127.0.0.1\"]\nlogin_max_per_ip = 12\n",
    );
    add_supervisor(&cfg, "alice");
    let srv = Server::start(facteur(&cfg), dir.path(), "serve");
    let port = srv.port;
    rt().block_on(async {
        let token = login_token("127.0.0.2", port).await;
        // Eight wrong guesses for alice, each claiming another forwarded address.
        for i in 0..8 {
            let xff = format!("198.51.100.{i}");
            let (status, _) = try_login(
                "127.0.0.2",
                port,
                &token,
                "alice",
                "wrong",
                &[("X-Forwarded-For", &xff)],
            )
            .await;
            assert_eq!(status, 401, "guess {i}");
        }
        // Alice, through the trusted proxy (127.0.0.1) from her own address, signs
        // in at once: no lockout.
        let t = Instant::now();
        let (status, _) = try_login(
            "127.0.0.1",
            port,
            &token,
            "alice",
            PASSWORD,
            &[("X-Forwarded-For", "203.0.113.7")],
        )
        .await;
        assert_eq!(status, 303, "alice through the proxy");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        // Alice directly from another address too.
        let (status, _) = try_login("127.0.0.3", port, &token, "alice", PASSWORD, &[]).await;
        assert_eq!(status, 303, "alice from another address");

        // The attacker's own pair is slowed down: its next guess waits.
        let t = Instant::now();
        let (status, _) = try_login(
            "127.0.0.2",
            port,
            &token,
            "alice",
            "wrong",
            &[("X-Forwarded-For", "198.51.100.99")],
        )
        .await;
        assert_eq!(status, 401);
        assert!(t.elapsed() >= Duration::from_secs(4), "{:?}", t.elapsed());
        // The attacker's address used its budget (12 per window) whatever the
        // forwarded address it claims: 429 with Retry-After.
        let mut last = (0, Vec::new());
        for i in 0..4 {
            let xff = format!("192.0.2.{i}");
            last = try_login(
                "127.0.0.2",
                port,
                &token,
                &format!("other-{i}"),
                "wrong",
                &[("X-Forwarded-For", &xff)],
            )
            .await;
        }
        assert_eq!(last.0, 429);
        assert!(header(&last.1, "retry-after").is_some());
        // Through the trusted proxy, a forwarded address is its own client.
        let (status, _) = try_login(
            "127.0.0.1",
            port,
            &token,
            "alice",
            PASSWORD,
            &[("X-Forwarded-For", "192.0.2.200")],
        )
        .await;
        assert_eq!(status, 303);
    });
}

// ------------------------------------------------------------------ 4. audit rewrite

fn facteur_out(cfg: &Path, args: &[&str]) -> std::process::Output {
    facteur(cfg).args(args).output().unwrap()
}

/// Item 4: on a copy of the database the review dropped the triggers, turned a
/// `message.reveal_pii` row into `message.escalate`, recomputed every hash and
/// the head, and `facteur audit verify` said the log was intact. Now the chain
/// is keyed with a file outside the database: the same rewrite is detected, and
/// `--expect-head` with a head anchored earlier fails too. On PostgreSQL the
/// runtime role of docs/postgres-runtime-role.sql cannot drop the triggers nor
/// change a row, and serves the app.
#[test]
fn audit_rewrite_is_detected_and_the_runtime_role_cannot_rewrite() {
    let Some(admin) = pg_url(module_path!()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(&admin, "facteur_audit");
    let cfg = write_config(dir.path(), Some(&db), "");
    add_supervisor(&cfg, "sup");
    let out = facteur_out(&cfg, &["audit", "head"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let anchor = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(anchor.contains(':'), "{anchor}");
    assert!(dir.path().join("data/audit.key").is_file());
    // A reveal to rewrite.
    psql(&db, "SELECT 1");
    {
        let srv = Server::start(facteur(&cfg), dir.path(), "serve");
        let _ = common::sign_in(srv.port, "sup", PASSWORD);
    }
    let out = facteur_out(&cfg, &["audit", "verify", "--expect-head", &anchor]);
    assert!(
        out.status.success(),
        "intact: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The runtime role.
    let role = common::unique("facteur_app_");
    psql(&admin, &format!("CREATE ROLE {role} LOGIN PASSWORD 'app'"));
    let sql = repo().join("docs/postgres-runtime-role.sql");
    let grant = std::process::Command::new("psql")
        .arg(&db)
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            &format!("runtime_role={role}"),
            "-f",
        ])
        .arg(&sql)
        .output()
        .unwrap();
    assert!(
        grant.status.success(),
        "{}",
        String::from_utf8_lossy(&grant.stderr)
    );
    let (base, name) = db.rsplit_once('/').unwrap();
    let host = base.rsplit_once('@').map(|(_, h)| h).unwrap_or(
        base.trim_start_matches("postgres://")
            .trim_start_matches("postgresql://"),
    );
    let app_url = format!("postgres://{role}:app@{host}/{name}");
    for attack in [
        "DROP TRIGGER audit_log_no_update ON audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER USER",
        "UPDATE audit_log SET action = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "TRUNCATE audit_log",
    ] {
        let out = std::process::Command::new("psql")
            .args([&app_url, "-At", "-v", "ON_ERROR_STOP=1", "-c", attack])
            .output()
            .unwrap();
        assert!(!out.status.success(), "the runtime role could: {attack}");
    }
    // And the app runs as that role (migrations already applied by the owner).
    let app_dir = dir.path().join("app");
    std::fs::create_dir_all(&app_dir).unwrap();
    std::fs::create_dir_all(app_dir.join("data")).unwrap();
    std::fs::copy(
        dir.path().join("data/audit.key"),
        app_dir.join("data/audit.key"),
    )
    .unwrap();
    let app_cfg = write_config(&app_dir, Some(&app_url), "");
    let srv = Server::start(facteur(&app_cfg), &app_dir, "serve");
    let (cookie, _) = common::sign_in(srv.port, "sup", PASSWORD);
    assert!(!cookie.is_empty());
    drop(srv);

    // The review's rewrite, as the owner: triggers off, one row changed, every
    // hash recomputed the way the plain chain was, the head too.
    psql(&db, "ALTER TABLE audit_log DISABLE TRIGGER USER");
    psql(
        &db,
        "UPDATE audit_log SET action = 'message.escalate' WHERE seq = (SELECT max(seq) FROM audit_log)",
    );
    let rows = psql(
        &db,
        "SELECT seq || E'\\t' || at || E'\\t' || actor || E'\\t' || action || E'\\t' || target || E'\\t' || details FROM audit_log ORDER BY seq",
    );
    let mut prev = "0".repeat(64);
    for line in rows.lines() {
        let f: Vec<&str> = line.splitn(6, '\t').collect();
        let (seq, at): (i64, i64) = (f[0].parse().unwrap(), f[1].parse().unwrap());
        let canonical = serde_json::json!([seq, at, f[2], f[3], f[4], f[5]]).to_string();
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(prev.as_bytes());
        h.update(canonical.as_bytes());
        let hash = hex::encode(h.finalize());
        psql(
            &db,
            &format!(
                "UPDATE audit_log SET prev_hash = '{prev}', hash = '{hash}' WHERE seq = {seq}"
            ),
        );
        prev = hash;
    }
    psql(
        &db,
        &format!("UPDATE audit_head SET hash = '{prev}' WHERE id = 1"),
    );
    psql(&db, "ALTER TABLE audit_log ENABLE TRIGGER USER");
    let out = facteur_out(&cfg, &["audit", "verify", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "rewrite detected: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = facteur_out(&cfg, &["audit", "verify", "--expect-head", &anchor]);
    assert_eq!(out.status.code(), Some(4));

    // The rewrite stays detected after any later command: the chain is never
    // re-anchored on the forged rows.
    let out = facteur_out(&cfg, &["audit", "verify", "--expect-head", &anchor]);
    assert_eq!(out.status.code(), Some(4));
}

// ------------------------------------------------------------------ 6. operations

/// Item 6: /metrics was public; no HSTS; no warning on a public address
/// without secure cookies.
#[test]
fn metrics_are_restricted_hsts_is_sent_and_public_listening_warns() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("metrics.token");
    std::fs::write(&token_file, "jeton-metriques-0123456789\n").unwrap();
    let cfg = write_config(
        dir.path(),
        None,
        &format!(
            "secure_cookies = true\nmetrics_allow = [\"127.0.0.1/32\"]\nmetrics_token_file = \"{}\"\n",
            token_file.display()
        ),
    );
    let srv = Server::start(facteur(&cfg), dir.path(), "serve");
    let port = srv.port;
    rt().block_on(async {
        let (status, h, _) = http_from("127.0.0.1", port, "GET", "/metrics", &[], None)
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            header(&h, "strict-transport-security"),
            Some("max-age=31536000; includeSubDomains")
        );
        let (status, _, _) = http_from("127.0.0.2", port, "GET", "/metrics", &[], None)
            .await
            .unwrap();
        assert_eq!(status, 403, "from outside metrics_allow");
        let (status, _, _) = http_from(
            "127.0.0.2",
            port,
            "GET",
            "/metrics",
            &[("X-Forwarded-For", "127.0.0.1")],
            None,
        )
        .await
        .unwrap();
        assert_eq!(
            status, 403,
            "X-Forwarded-For from a client that is not a proxy"
        );
        let (status, _, body) = http_from(
            "127.0.0.2",
            port,
            "GET",
            "/metrics",
            &[("Authorization", "Bearer jeton-metriques-0123456789")],
            None,
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "with the bearer token");
        assert!(body.contains("facteur_http_requests_total"));
    });
    drop(srv);

    // Listening on every interface without secure cookies: a warning.
    let plain = write_config(dir.path(), None, "");
    let port = free_port();
    let mut child = facteur(&plain)
        .args(["serve", "--no-connectors", "--listen"])
        .arg(format!("0.0.0.0:{port}"))
        .env("FACTEUR_LANG", "en")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(
        common::http_request(port, "GET", "/health", &[], None),
        Ok((200, _, _))
    ) {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: Facteur listens on 0.0.0.0")
            && err.contains("secure_cookies = false"),
        "{err}"
    );
}

// ------------------------------------------------------------------ 7. CPU

/// Item 7: a mail at the 25 MB cap made of personal-data-like text cost about a
/// minute of CPU in triage. Now triage reads its first 64 KiB: importing it
/// (parse + triage + store) stays far below that, and what agents see is masked.
#[test]
fn a_mail_at_the_size_cap_of_personal_data_is_triaged_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), None, "");
    let line = "Madame Jeanne Martin, 3 rue des Lilas 69001 Lyon, 06 12 34 56 78, FR76 3000 6000 0112 3456 7890 189, jeanne.martin@example.org\r\n";
    let mut mail = String::from(
        "From: Jeanne Martin <jeanne@example.org>\r\nTo: sip@example.test\r\n\
         Subject: Avis d'imposition\r\nMessage-ID: <big@example.org>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    while mail.len() + line.len() < facteur_mail::DEFAULT_MAX_MESSAGE_BYTES - 1024 {
        mail.push_str(line);
    }
    let eml = dir.path().join("big.eml");
    std::fs::write(&eml, &mail).unwrap();
    let t = Instant::now();
    let mut imp = facteur(&cfg);
    imp.args(["import", "--json", "--mailbox", "sip"]).arg(&eml);
    let out = run_ok(imp, None);
    let took = t.elapsed();
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    eprintln!(
        "import + triage of a {} MB mail: {took:?} ({build} build)",
        mail.len() / 1_000_000
    );
    assert!(
        out.contains("\"stored\":1") || out.contains("\"stored\": 1"),
        "{out}"
    );
    // The bound, 5 s, holds for the release build (`cargo test --release
    // -p facteur --test suite attacks::`; figure in docs/SECURITY.md). CI runs the debug
    // build, unoptimised outside a few hot crates: a generous bound there, which
    // the old minute (release) could still never meet.
    let bound = Duration::from_secs(if cfg!(debug_assertions) { 45 } else { 5 });
    assert!(took < bound, "{took:?} ({build} build)");
}

// ------------------------------------------------------------------ 5. personal data

/// Records a triage with `draft` for the first message of mailbox `sip`, as
/// drafting would, and returns the message id.
async fn seed_draft(db: &str, key_file: &Path, draft: &str) -> i64 {
    let store = keyed_store(db, key_file).await;
    let mailbox = store.get_mailbox_by_name("sip").await.unwrap().unwrap();
    let m = store
        .list_queue(&facteur_store::QueueQuery {
            mailbox_ids: Some(vec![mailbox.id]),
            states: vec![],
            category: None,
            assigned_to: None,
            search: None,
            received: None,
            sort: facteur_store::QueueSort::Age,
            page: facteur_store::QueuePage::First,
            limit: 10,
        })
        .await
        .unwrap()[0]
        .id;
    let stored = store.get_message(m).await.unwrap().unwrap();
    store
        .record_triage(&facteur_store::NewTriage {
            message_id: m,
            model_version: None,
            category: Some("rib".into()),
            confidence: Some(0.9),
            route: facteur_core::Route::ReadyToValidate,
            answer_id: Some("changement-rib".into()),
            answer_version: Some(1),
            draft_text: Some(draft.into()),
            passages: Vec::new(),
            language: Some("fr".into()),
            pseudonymised_text: Some(stored.pseudonymised_text.clone()),
            subject_pseudonymised: None,
            classify_text: None,
            pii_kinds: vec![],
            flags: vec![],
            candidates: Vec::new(),
            close_suggestion: None,
            citizen_ids: Vec::new(),
            attachment_texts: Vec::new(),
        })
        .await
        .unwrap();
    store.close().await;
    m
}

/// Item 5: the draft fills `{{nom}}` from the original mail, so the API and the
/// message page showed the citizen's real name without a reveal (bulk harvest
/// through `GET /api/messages/ID`). Now the draft is masked until the audited
/// reveal, and validation puts the real values back in the reply.
#[test]
fn no_real_name_in_any_response_before_a_reveal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), None, "");
    let eml = dir.path().join("rib.eml");
    std::fs::write(
        &eml,
        "From: Jeanne Martin <jeanne.martin@example.org>\r\nTo: sip@example.test\r\n\
         Subject: Changement de RIB\r\nMessage-ID: <rib-pii@example.org>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Bonjour, je souhaite changer mon RIB.\r\nJeanne Martin\r\n",
    )
    .unwrap();
    let mut imp = facteur(&cfg);
    imp.args(["import", "--mailbox", "sip"]).arg(&eml);
    run_ok(imp, None);
    add_supervisor(&cfg, "sup");
    // The draft as drafting fills it from the mail ({{nom}} → the real name).
    let db = format!("sqlite:{}", dir.path().join("data/facteur.db").display());
    let draft = "Bonjour Madame Jeanne Martin,\nvotre demande de changement de RIB est enregistrée.\nCordialement";
    let rt = rt();
    let id = rt.block_on(seed_draft(&db, &dir.path().join("data/audit.key"), draft));
    let srv = Server::start(facteur(&cfg), dir.path(), "serve");
    let (cookie, csrf) = common::sign_in(srv.port, "sup", PASSWORD);
    for path in [
        format!("/api/messages/{id}"),
        format!("/messages/{id}"),
        "/api/messages".to_string(),
        "/mailboxes/1/queue".to_string(),
        "/outbox".to_string(),
        "/api/outbox".to_string(),
    ] {
        let (status, _, body) =
            common::http_request(srv.port, "GET", &path, &[("Cookie", &cookie)], None).unwrap();
        assert!(status == 200 || status == 404, "{path}: {status}");
        assert!(!body.contains("Martin"), "{path} shows the name: {body}");
        assert!(!body.contains("jeanne.martin@"), "{path} shows the address");
    }
    // The agent validates the draft as shown (masked): the reply carries the name.
    let (_, _, body) = common::http_request(
        srv.port,
        "GET",
        &format!("/api/messages/{id}"),
        &[("Cookie", &cookie)],
        None,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let shown = v["triage"]["draft_text"].as_str().unwrap().to_string();
    assert!(shown.contains("[NOM_"), "{shown}");
    let (status, _, body) = common::http_request(
        srv.port,
        "POST",
        &format!("/messages/{id}/validate"),
        &[("Cookie", &cookie)],
        Some(&format!(
            "csrf={}&text={}",
            form_enc(&csrf),
            form_enc(&shown)
        )),
    )
    .unwrap();
    assert!(status == 303 || status == 200, "validate: {status} {body}");
    let sent = rt.block_on(async {
        let store = facteur_store::Store::open(&db).await.unwrap();
        let o = store.get_outbox_for_message(id).await.unwrap().unwrap();
        store.close().await;
        o.body
    });
    assert!(sent.contains("Madame Jeanne Martin"), "{sent}");
}

/// Item 5, relays: an SMTP error quoting the recipient ("550 5.1.1
/// <jeanne.martin@refused.test>: …") was stored as is on the outbox row, and
/// `/outbox` and `/api/outbox` showed it. Now it is masked before it is stored
/// (the pages mask again at display, for rows stored before).
#[test]
fn a_relay_error_is_stored_without_the_recipient_address() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let cfg = write_config(dir.path(), None, "");
    // Sent at once (no undo window): the test follows the reply to the relay.
    let mut text = format!(
        "send_delay_seconds = 0\n{}",
        std::fs::read_to_string(&cfg).unwrap()
    );
    text += &format!(
        "[mailbox.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
        relay.1
    );
    std::fs::write(&cfg, text).unwrap();
    let address = "jeanne.martin@refused.test";
    let eml = dir.path().join("rib.eml");
    std::fs::write(
        &eml,
        format!(
            "From: Jeanne Martin <{address}>\r\nTo: sip@example.test\r\n\
             Subject: Changement de RIB\r\nMessage-ID: <rib-refused@example.org>\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n\
             Bonjour, je souhaite changer mon RIB.\r\n"
        ),
    )
    .unwrap();
    let mut imp = facteur(&cfg);
    imp.args(["import", "--mailbox", "sip"]).arg(&eml);
    run_ok(imp, None);
    add_supervisor(&cfg, "sup");
    let db = format!("sqlite:{}", dir.path().join("data/facteur.db").display());
    let rt = rt();
    let id = rt.block_on(seed_draft(
        &db,
        &dir.path().join("data/audit.key"),
        "Bonjour,\nvotre demande est enregistrée.\nCordialement",
    ));
    let srv = Server::start(facteur(&cfg), dir.path(), "serve");
    let (cookie, csrf) = common::sign_in(srv.port, "sup", PASSWORD);
    let (status, _, body) = common::http_request(
        srv.port,
        "POST",
        &format!("/messages/{id}/validate"),
        &[("Cookie", &cookie)],
        Some(&format!(
            "csrf={}&text={}",
            form_enc(&csrf),
            form_enc("Bonjour,\nvotre demande est enregistrée.\nCordialement")
        )),
    )
    .unwrap();
    assert!(status == 303 || status == 200, "validate: {status} {body}");
    // The send, through the real relay, which refuses the recipient.
    let out = facteur(&cfg).args(["sync", "--json"]).output().unwrap();
    eprintln!("sync: {}", String::from_utf8_lossy(&out.stdout));
    let row = rt.block_on(async {
        let store = facteur_store::Store::open(&db).await.unwrap();
        let o = store.get_outbox_for_message(id).await.unwrap().unwrap();
        store.close().await;
        o
    });
    let stored = row.last_error.clone().unwrap_or_default();
    eprintln!("stored relay error: {stored}");
    assert!(
        stored.contains("(550)") && stored.contains("5.1.1"),
        "the relay refused: {row:?}"
    );
    assert!(!stored.contains(address), "stored unmasked: {stored}");
    assert!(
        !stored.contains("jeanne.martin"),
        "stored unmasked: {stored}"
    );
    for path in ["/outbox", "/api/outbox"] {
        let (status, _, body) =
            common::http_request(srv.port, "GET", path, &[("Cookie", &cookie)], None).unwrap();
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("5.1.1"), "{path} shows the failure: {body}");
        assert!(!body.contains(address), "{path} shows the address: {body}");
    }
}
