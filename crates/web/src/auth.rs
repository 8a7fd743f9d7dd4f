//! Passwords, sessions, CSRF and login rate limiting, written on top of the store.
//!
//! Hand-written rather than axum-login/tower-sessions: sessions must live in
//! Facteur's own database (hashed token, CSRF token, audited) and those crates pin
//! sqlx versions that clash with the store's.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use facteur_core::Role;
use facteur_store::{Session, User};

use crate::error::WebError;
use crate::i18n::{Lang, Msg};
use crate::AppState;

pub const SESSION_COOKIE: &str = "facteur_session";
pub const LANG_COOKIE: &str = "facteur_lang";
/// Pre-session CSRF token for the login form (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "facteur_login_csrf";
/// Form field and header carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Largest form body the CSRF check buffers (drafts are text, never uploads).
const MAX_FORM_BYTES: usize = 1 << 20;

/// The one password policy, for every place a password is chosen (the account
/// page, the admin form, `facteur user add` and `user passwd`): length is what
/// resists guessing (NIST SP 800-63B); no composition rules, which push users to
/// predictable patterns.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// True when `password` meets [`MIN_PASSWORD_CHARS`] (counted in characters, not
/// bytes, so accented letters count once).
pub fn password_long_enough(password: &str) -> bool {
    password.chars().count() >= MIN_PASSWORD_CHARS
}

/// Argon2id with the crate's default (OWASP-recommended) parameters.
pub fn hash_password(password: &str) -> Result<String, WebError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| WebError::Internal(format!("hash password: {e}")))
}

/// False on a wrong password and on an unparsable stored hash alike.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Constant-time comparison, so the CSRF check leaks nothing through timing.
pub fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie value by name from the `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The `Set-Cookie` value for a new session.
pub fn session_cookie(token: &str, secure: bool, max_age_s: u64) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    )
}

/// The pre-session CSRF cookie, scoped to `/login`; an empty token clears it.
pub fn login_csrf_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = if token.is_empty() { 0 } else { 3600 };
    format!("{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

pub fn clear_session_cookie(secure: bool) -> String {
    session_cookie("", secure, 0)
}

/// The UI language: cookie, then Accept-Language, then the configured default.
pub fn request_lang(headers: &HeaderMap, default: Lang) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(default)
}

/// A signed-in user, resolved once per request by [`session_layer`].
#[derive(Debug, Clone)]
pub struct Authed {
    pub user: User,
    pub session: Session,
    /// Mailboxes this user may open (all of them for supervisors and admins).
    pub mailboxes: Vec<i64>,
    /// ISO date the active model's review fell due, when it is overdue: every
    /// signed-in page shows it (see [`crate::pages::registry::review_overdue_since`]).
    pub review_overdue_since: Option<String>,
}

impl Authed {
    pub fn can_access(&self, mailbox_id: i64) -> bool {
        self.user.role.sees_all_mailboxes() || self.mailboxes.contains(&mailbox_id)
    }

    pub fn require_access(&self, mailbox_id: i64) -> Result<(), WebError> {
        if self.can_access(mailbox_id) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// Roles are ordered by power: an admin may do what a supervisor may.
    pub fn require_role(&self, min: Role) -> Result<(), WebError> {
        let rank = |r: Role| match r {
            Role::Agent => 0,
            Role::Supervisor => 1,
            Role::Admin => 2,
        };
        if rank(self.user.role) >= rank(min) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authed>()
            .cloned()
            .ok_or(WebError::Unauthenticated)
    }
}

/// For pages that differ for signed-in visitors (the login form).
impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Authed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Authed>().cloned())
    }
}

/// The client's IP: the socket's peer, or — only when that peer is one of
/// `trusted_proxies` — the nearest address in `X-Forwarded-For` that is not a
/// trusted proxy. "local" without a socket (tests through `oneshot`).
///
/// Anyone else's `X-Forwarded-For` is ignored: a client could otherwise pick the
/// address the login limits apply to.
pub struct ClientIp(pub String);

/// See [`ClientIp`].
pub fn client_ip(
    peer: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    // Right to left: each trusted hop vouches for the address before it.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // Garbage from a client in front of the proxy: stop at what the
            // proxy itself vouched for.
            Err(_) => break,
        }
    }
    Some(client)
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(
            client_ip(peer, &parts.headers, &st.config.trusted_proxies)
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "local".to_string()),
        ))
    }
}

/// The request language, set by [`session_layer`].
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Lang>().copied().unwrap_or_default())
    }
}

/// Tokens are 64 hex chars; anything else is rejected before touching the database.
pub fn plausible_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Resolves the session cookie and enforces CSRF on every state-changing request
/// made with a session. Done once here, not per handler, so no handler can forget.
/// A tampered, unknown or expired cookie simply yields no session.
pub async fn session_layer(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let lang = request_lang(req.headers(), st.config.default_lang);
    req.extensions_mut().insert(lang);

    // Public resources need no session: skip the database round trips.
    let path = req.uri().path();
    let public = path.starts_with("/static/") || path == "/health" || path == "/metrics";
    let mut authed = None;
    if let Some(token) =
        cookie(req.headers(), SESSION_COOKIE).filter(|t| !public && plausible_token(t))
    {
        match st.store.get_session(token).await {
            Ok(Some((session, _)))
                if st.store.now_ms().saturating_sub(session.created_at)
                    >= st.config.session_max_lifetime.as_millis() as i64 =>
            {
                // Past its absolute lifetime however active it was: end it for good
                // (the sign-in page follows, as for an idle session).
                if let Err(e) = st.store.delete_session(token).await {
                    tracing::warn!(error = %e, "end session past its maximum lifetime");
                }
            }
            Ok(Some((session, user))) => {
                let now = st.store.now_ms();
                // Slide the expiry at most once a minute: a write per request would
                // serialise every page view on SQLite.
                if now - session.last_seen_at > 60_000 {
                    if let Err(e) = st.store.touch_session(token, st.config.session_ttl).await {
                        tracing::warn!(error = %e, "touch session");
                    }
                }
                match st.store.user_mailbox_ids(user.id).await {
                    Ok(mailboxes) => {
                        authed = Some(Authed {
                            user,
                            session,
                            mailboxes,
                            review_overdue_since: crate::pages::registry::review_overdue_since(&st)
                                .await,
                        })
                    }
                    Err(e) => return WebError::from(e).into_response(),
                }
            }
            Ok(None) => {}
            Err(e) => return WebError::from(e).into_response(),
        }
    }

    let state_changing = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // Signing in acts on no existing session, so a stale login form posted from a
    // signed-in browser is not refused.
    if state_changing && req.uri().path() != "/login" {
        if let Some(a) = &authed {
            let (ok, rebuilt) = check_csrf(req, a.csrf()).await;
            let Some(r) = rebuilt else {
                return WebError::bad(Msg::FormUnreadable).into_response();
            };
            req = r;
            if !ok {
                return WebError::Csrf.into_response();
            }
        }
    }
    if let Some(a) = authed {
        req.extensions_mut().insert(a);
    }
    next.run(req).await
}

/// Checks the `X-CSRF-Token` header, else the `csrf` field of a urlencoded form
/// (the body is buffered and put back for the handler).
async fn check_csrf(req: Request, expected: &str) -> (bool, Option<Request>) {
    if let Some(h) = req.headers().get(CSRF_HEADER) {
        let ok = h.to_str().map(|v| ct_eq(v, expected)).unwrap_or(false);
        return (ok, Some(req));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (false, Some(req));
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return (false, None);
    };
    let ok = form_field(&bytes, CSRF_FIELD).is_some_and(|v| ct_eq(&v, expected));
    (ok, Some(Request::from_parts(parts, Body::from(bytes))))
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_pairs(body)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Minimal `application/x-www-form-urlencoded` decoding (only used for the CSRF
/// field; handlers use axum's `Form`).
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = s
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok());
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split(|b| *b == b'&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let mut it = kv.splitn(2, |b| *b == b'=');
            let k = decode(it.next().unwrap_or_default());
            let v = decode(it.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

/// The local logout: the session is deleted in the store and its cookie cleared,
/// then back to the login page. `oidc::logout` adds the provider's own logout for
/// a session opened through it.
pub async fn end_session(st: &AppState, headers: &HeaderMap) -> Response {
    if let Some(token) = cookie(headers, SESSION_COOKIE) {
        if let Err(e) = st.store.delete_session(token).await {
            tracing::warn!(error = %e, "logout");
        }
    }
    let mut r = axum::response::Redirect::to("/login").into_response();
    if let Ok(v) =
        axum::http::HeaderValue::from_str(&clear_session_cookie(st.config.secure_cookies))
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn password_policy_counts_characters() {
        assert!(!password_long_enough("onze-caract"));
        assert!(password_long_enough("douze-caract"));
        // 12 characters, 18 bytes: long enough.
        assert!(password_long_enough("éééééééé1234"));
        assert!(!password_long_enough("ééééééé1234"));
    }

    #[test]
    fn tokens_are_random_and_256_bit() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert!(plausible_token(&a));
        assert_ne!(a, random_token());
        assert!(!plausible_token("zz"));
    }

    #[test]
    fn form_decoding_and_ct_eq() {
        let pairs = form_pairs(b"a=1&csrf=ab%20c+d&bad=%zz&t=%4");
        assert_eq!(
            form_field(b"a=1&csrf=ab%20c+d", "csrf").as_deref(),
            Some("ab c d")
        );
        assert!(pairs.iter().any(|(k, v)| k == "bad" && v == "%zz"));
        assert!(pairs.iter().any(|(k, v)| k == "t" && v == "%4"));
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "ab"));
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let proxy: ipnet::IpNet = "10.0.0.0/24".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.2.3.4, 203.0.113.9, 10.0.0.2".parse().unwrap(),
        );
        let ip = |peer: &str, trusted: &[ipnet::IpNet], h: &HeaderMap| {
            client_ip(Some(peer.parse().unwrap()), h, trusted).map(|i| i.to_string())
        };
        // Through the proxy chain: the first untrusted hop from the right.
        assert_eq!(ip("10.0.0.1", &[proxy], &h).as_deref(), Some("203.0.113.9"));
        // A client that is not a proxy gains nothing by sending the header.
        assert_eq!(
            ip("198.51.100.7", &[proxy], &h).as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(ip("10.0.0.1", &[], &h).as_deref(), Some("10.0.0.1"));
        h.insert("x-forwarded-for", "not-an-ip".parse().unwrap());
        assert_eq!(ip("10.0.0.1", &[proxy], &h).as_deref(), Some("10.0.0.1"));
        assert_eq!(client_ip(None, &h, &[proxy]), None);
    }
}
