//! Helpers shared by the CLI's integration test binaries (each binary uses a subset).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared data folder: `$FACTEUR_SHARED_DATA`, else `../shared/data` beside the repo.
pub fn shared() -> PathBuf {
    std::env::var_os("FACTEUR_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data"))
}

/// A name no other test (or earlier run) uses: Dovecot users, databases, domains.
pub fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{}", std::process::id(), n % 1_000_000_000)
}

/// Message-IDs of the replies the SMTP server stored in its Maildir for addresses of
/// `to_domain` (each test sends to a domain of its own).
pub fn received_replies(maildir: &Path, to_domain: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(rd) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(bytes) = std::fs::read(e.path()) else {
                continue;
            };
            if !String::from_utf8_lossy(&bytes).contains(to_domain) {
                continue;
            }
            ids.push(facteur_mail::parse_message(&bytes).message_id);
        }
    }
    ids
}

/// An agent validates a reply to each of the `n` oldest messages of `mailbox`,
/// through the store as the web app does. `to_address` and `reply_id` say where each
/// reply goes and its stable Message-ID. Panics when the mailbox holds fewer.
/// `key_file`: the service's audit key, for a test that verifies the chain after
/// (the agent's creation is audited; without the key that row would be plain).
pub fn validate_replies(
    db_url: &str,
    key_file: Option<&Path>,
    mailbox: &str,
    n: usize,
    to_address: impl Fn(&facteur_store::Message) -> String,
    reply_id: impl Fn(i64) -> String,
) {
    use facteur_store::{NewUser, QueuePage, QueueQuery, QueueSort, Store, ValidateReply};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = match key_file {
            Some(k) => keyed_store(db_url, k).await,
            None => Store::open(db_url).await.unwrap(),
        };
        let mailbox = store.get_mailbox_by_name(mailbox).await.unwrap().unwrap();
        let agent = store
            .create_user(
                &NewUser {
                    username: "agent".into(),
                    display_name: "Agent Test".into(),
                    password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
                    role: facteur_core::workflow::Role::Agent,
                },
                None,
            )
            .await
            .unwrap();
        store
            .set_mailbox_access(agent, mailbox.id, true, None)
            .await
            .unwrap();
        // The queue is served in pages of at most 500.
        let mut rows = Vec::new();
        let mut page = QueuePage::First;
        while rows.len() < n {
            let got = store
                .list_queue(&QueueQuery {
                    mailbox_ids: Some(vec![mailbox.id]),
                    states: vec![],
                    category: None,
                    assigned_to: None,
                    search: None,
                    received: None,
                    sort: QueueSort::Age,
                    page,
                    limit: 500,
                })
                .await
                .unwrap();
            let Some(last) = got.last() else { break };
            page = QueuePage::After(last.cursor);
            rows.extend(got);
        }
        rows.truncate(n);
        assert_eq!(rows.len(), n, "messages in the queue of {}", mailbox.name);
        for r in rows {
            let m = store.get_message(r.id).await.unwrap().unwrap();
            store
                .validate_and_queue(&ValidateReply {
                    message_id: m.id,
                    user_id: agent,
                    body: format!("Bonjour,\nRéponse validée n° {}.\nCordialement", m.id),
                    reply_message_id: reply_id(m.id),
                    to_address: to_address(&m),
                    subject: format!("Re: {}", m.subject),
                    in_reply_to: Some(m.message_id.clone()),
                    references: vec![m.message_id.clone()],
                    send_delay_ms: 0,
                })
                .await
                .unwrap();
        }
        store.close().await;
    });
}

/// A free TCP port on 127.0.0.1 (for a `facteur serve --listen`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Response headers, names lower-cased.
pub type HttpHeaders = Vec<(String, String)>;

/// One HTTP/1.1 request to 127.0.0.1:`port` on a fresh connection
/// (`Connection: close`); a body is sent as a urlencoded form. Returns
/// (status, headers, body).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, HttpHeaders, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
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
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
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

/// Percent-encode everything but ASCII letters and digits (form values).
pub fn form_enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The login form's pre-session CSRF token (the server signs it; the same value
/// goes in the `facteur_login_csrf` cookie and the `csrf` field).
pub fn login_csrf(port: u16) -> String {
    let (status, headers, body) = http_request(port, "GET", "/login", &[], None).unwrap();
    assert_eq!(status, 200, "login form: {body}");
    headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .find_map(|(_, v)| {
            v.split(';')
                .next()
                .and_then(|c| c.strip_prefix("facteur_login_csrf="))
        })
        .expect("login CSRF cookie")
        .to_string()
}

/// Signs `username` in on a `facteur serve` at `port` through the login form
/// (the server-signed pre-session CSRF token, double-submitted); returns (the
/// Cookie header value, the session's CSRF token from `/api/me`).
pub fn sign_in(port: u16, username: &str, password: &str) -> (String, String) {
    let token = login_csrf(port);
    let (status, headers, body) = http_request(
        port,
        "POST",
        "/login",
        &[("Cookie", &format!("facteur_login_csrf={token}"))],
        Some(&format!(
            "username={}&password={}&csrf={token}",
            form_enc(username),
            form_enc(password)
        )),
    )
    .unwrap();
    assert_eq!(status, 303, "login: {body}");
    let session = headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .find_map(|(_, v)| {
            v.split(';')
                .next()
                .filter(|c| c.starts_with("facteur_session="))
        })
        .expect("session cookie")
        .to_string();
    let (status, _, me) =
        http_request(port, "GET", "/api/me", &[("Cookie", &session)], None).unwrap();
    assert_eq!(status, 200, "{me}");
    let me: serde_json::Value = serde_json::from_str(&me).unwrap();
    (session, me["csrf_token"].as_str().unwrap().to_string())
}

/// `facteur --config CONFIG`, with the environment overrides a developer's shell
/// might carry removed, so the config file alone decides.
pub fn facteur(config: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_facteur"));
    c.arg("--config")
        .arg(config)
        .env_remove("FACTEUR_DATA_DIR")
        .env_remove("FACTEUR_DATABASE_URL")
        .env_remove("FACTEUR_KB_REFRESH_SECS");
    c
}

/// Runs `c` (feeding `stdin` when given), asserts success and returns stdout.
pub fn run_ok(mut c: std::process::Command, stdin: Option<&str>) -> String {
    use std::io::Write;
    use std::process::Stdio;
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `psql URL -c SQL`, asserting success; returns the trimmed output.
pub fn psql(url: &str, sql: &str) -> String {
    tool_ok("psql", &[url, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
}

/// Runs a PostgreSQL client tool (`psql`, `pg_dump`, `pg_restore`) from the
/// PATH, asserting success; returns its trimmed standard output.
pub fn tool_ok(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} on the PATH: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fresh database of its own on the server of `admin_url`; returns its URL.
pub fn fresh_pg_db(admin_url: &str, prefix: &str) -> String {
    let name = unique(prefix);
    psql(admin_url, &format!("CREATE DATABASE {name}"));
    match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("FACTEUR_TEST_PG_URL has no database part: {admin_url}"),
    }
}

/// FACTEUR_TEST_PG_URL, or `None` (the caller skips) — a panic under CI, where a
/// missing service is a failure.
pub fn pg_url_or_skip() -> Option<String> {
    match std::env::var("FACTEUR_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("FACTEUR_TEST_PG_URL unset under CI (run through scripts/test.sh)");
            }
            eprintln!("SKIPPED: FACTEUR_TEST_PG_URL unset");
            None
        }
    }
}

/// The store as the service opens it: with the audit key of its data folder
/// (a row appended without it would break the keyed chain, and the next
/// `serve` would rightly refuse to start).
pub async fn keyed_store(db: &str, key_file: &std::path::Path) -> facteur_store::Store {
    let t: toml::Table = toml::from_str(&std::fs::read_to_string(key_file).unwrap()).unwrap();
    let mut key = [0u8; 32];
    key.copy_from_slice(&hex::decode(t["key"].as_str().unwrap()).unwrap());
    facteur_store::Store::open(db)
        .await
        .unwrap()
        .with_audit_key(facteur_store::AuditKey {
            key,
            unkeyed_until: t["unkeyed_until"].as_integer().unwrap(),
        })
}

/// The rig's SMTP relay (scripts/smtp_sink.py) on a port of its own, run from
/// this checkout under `dir`: it accepts mail, and refuses the domain
/// refused.test with Postfix's "550 5.1.1 <address>: Recipient address
/// rejected", as a real relay does. Killed when dropped; `.1` is its port.
pub struct Relay(pub std::process::Child, pub u16);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Relay {
    pub fn start(dir: &Path) -> Relay {
        let port = free_port();
        for d in ["smtp/tmp", "smtp/new", "smtp/cur", "dovecot"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let child = std::process::Command::new("/usr/bin/python3")
            .arg(repo().join("scripts/smtp_sink.py"))
            .args(["127.0.0.1", &port.to_string()])
            .arg(dir.join("smtp"))
            .arg(dir.join("dovecot"))
            .arg("local.test")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the SMTP sink did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Relay(child, port)
    }
}
