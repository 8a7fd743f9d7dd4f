//! Sign-in and sign-out, with the pre-session CSRF double submit and the
//! login guard (signed CSRF token, bounded hashing, per-IP limits, growing delays).

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use crate::auth::{self, Authed};
use crate::error::WebError;
use crate::extract::Form;
use crate::i18n::{Lang, Msg};
use crate::views::page;
use crate::AppState;

#[derive(Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    /// Pre-session CSRF token, double-submitted with [`auth::LOGIN_CSRF_COOKIE`].
    #[serde(default)]
    pub csrf: String,
}

/// The login page with a fresh pre-session CSRF token, both in a cookie and in the
/// form (double submit): a cross-site page cannot read the cookie, so it cannot
/// forge the field, and cannot log the victim into the attacker's account.
fn login_page(
    st: &AppState,
    status: StatusCode,
    lang: Lang,
    error: Option<Msg>,
    username: &str,
) -> Response {
    let t = |m: Msg| m.text(lang);
    let token = crate::login_guard::login_csrf_token();
    let html = page(
        lang,
        t(Msg::Login),
        None,
        html! {
            @if let Some(e) = error { p.error #login-error role="alert" { (t(e)) } }
            (crate::oidc::login_link(st, lang))
            @if st.config.local_login {
            form #login-form method="post" action="/login" {
                input type="hidden" name=(auth::CSRF_FIELD) value=(token);
                p {
                    label for="username" { (t(Msg::Username)) }
                    input #username type="text" name="username" value=(username) autocomplete="username" required autofocus;
                }
                p {
                    label for="password" { (t(Msg::Password)) }
                    input #password type="password" name="password" autocomplete="current-password" required;
                }
                button.fr-btn type="submit" { (t(Msg::Login)) }
            }
            }
        },
    );
    let mut r = (status, html).into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::login_csrf_cookie(&token, st.config.secure_cookies))
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub async fn login_form(State(st): State<AppState>, lang: Lang, user: Option<Authed>) -> Response {
    if user.is_some() {
        return Redirect::to("/").into_response();
    }
    login_page(&st, StatusCode::OK, lang, None, "")
}

/// A fixed hash verified for unknown usernames, so response time does not reveal
/// which accounts exist.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| auth::hash_password("facteur-dummy-password").unwrap_or_default())
}

pub async fn login_submit(
    State(st): State<AppState>,
    lang: Lang,
    auth::ClientIp(ip): auth::ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let now = st.store.now_ms();
    let guard = &st.runtime.guard;
    // Double submit *and* signed by this server: a token the client made up fails.
    let cookie_token = auth::cookie(&headers, auth::LOGIN_CSRF_COOKIE).unwrap_or("");
    if !auth::ct_eq(cookie_token, &f.csrf) || !crate::login_guard::check_login_csrf(&f.csrf) {
        tracing::warn!("login refused: missing, mismatched or unsigned pre-session CSRF token");
        return login_page(&st, StatusCode::FORBIDDEN, lang, Some(Msg::CsrfFailed), "");
    }
    let refused = |r: crate::login_guard::Refusal| {
        let (status, retry) = match r {
            crate::login_guard::Refusal::TooMany(s) => (StatusCode::TOO_MANY_REQUESTS, s),
            crate::login_guard::Refusal::Busy => (StatusCode::SERVICE_UNAVAILABLE, 1),
        };
        tracing::warn!(status = status.as_u16(), "login attempt turned away");
        let mut r = login_page(&st, status, lang, Some(Msg::TooManyAttempts), &f.username);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry));
        r
    };
    // Counted now, before the (slow) password check, so parallel guesses queue on
    // the limits too.
    let _ticket = match guard.admit(&ip, now) {
        Ok(t) => t,
        Err(r) => return refused(r),
    };
    let delay = guard.delay(&f.username, &ip, now);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let permit = match guard.hash_permit().await {
        Ok(p) => p,
        Err(r) => return refused(r),
    };
    let user = match st.store.get_user_by_username(f.username.trim()).await {
        Ok(u) => u.filter(|u| u.active),
        Err(e) => return WebError::from(e).into_response(),
    };
    // An unknown username costs the same hash as a known one, so response time
    // does not reveal which accounts exist.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let password = f.password.clone();
    // Argon2 is deliberately slow: off the async workers, on the guard's hashing
    // threads, one per core.
    let ok = guard
        .hash(move || {
            let ok = auth::verify_password(&password, &hash);
            drop(permit);
            ok
        })
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| ok) else {
        guard.record_failure(&f.username, &ip, st.store.now_ms());
        let _ = st
            .store
            .audit("anonymous", "login.failed", "login", &serde_json::json!({}))
            .await;
        return login_page(
            &st,
            StatusCode::UNAUTHORIZED,
            lang,
            Some(Msg::LoginFailed),
            &f.username,
        );
    };
    guard.clear(&f.username, &ip);
    // Signing in from a browser that is already signed in (possibly as someone
    // else) replaces its session: the old one would otherwise stay valid, unseen,
    // until it expired, for whoever kept a copy of that cookie.
    if let Some(old) =
        auth::cookie(&headers, auth::SESSION_COOKIE).filter(|t| auth::plausible_token(t))
    {
        match st.store.delete_session(old).await {
            Ok(true) => tracing::info!("login replaced the browser's previous session"),
            Ok(false) => {}
            Err(e) => return WebError::from(e).into_response(),
        }
    }
    let cookie = match new_session_cookie(&st, user.id).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let _ = st
        .store
        .audit(
            &format!("user:{}", user.id),
            "login",
            &format!("user:{}", user.id),
            &serde_json::json!({}),
        )
        .await;
    let mut r = Redirect::to("/").into_response();
    if let Some(v) = cookie {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    // The pre-session token has served; a new one comes with the next login form.
    if let Ok(v) = HeaderValue::from_str(&auth::login_csrf_cookie("", st.config.secure_cookies)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// A new session for `user_id` (the store keeps only its token's hash), and the
/// Set-Cookie value that hands the token to the browser: sign-in and a password
/// change both open one.
pub(super) async fn new_session_cookie(
    st: &AppState,
    user_id: i64,
) -> Result<Option<HeaderValue>, WebError> {
    let token = auth::random_token();
    let csrf = auth::random_token();
    st.store
        .create_session(&token, user_id, &csrf, st.config.session_ttl)
        .await?;
    let cookie = auth::session_cookie(
        &token,
        st.config.secure_cookies,
        st.config.session_ttl.as_secs(),
    );
    Ok(HeaderValue::from_str(&cookie).ok())
}
