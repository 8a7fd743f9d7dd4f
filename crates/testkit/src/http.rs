//! HTTP to a `facteur serve` on loopback, as a browser would speak it: plain
//! HTTP/1.1 on a fresh connection, form posts, the login form's CSRF dance.

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
