//! The signed-in agent's own account: password change and interface language.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::login::new_session_cookie;
use crate::auth::{self, Authed};
use crate::error::{WebError, WebResult};
use crate::extract::{Form, Path, Query};
use crate::i18n::{Lang, Msg};
use crate::views::{csrf_input, page, role_label};
use crate::AppState;

#[derive(Deserialize)]
pub struct AccountQuery {
    /// Set by the redirect after a successful change, to say so.
    #[serde(default)]
    pub changed: Option<String>,
}

/// The "my account" page: who is signed in, and the password change form.
fn account_page(
    lang: Lang,
    a: &Authed,
    status: StatusCode,
    notice: Option<Msg>,
    error: Option<Msg>,
) -> Response {
    let t = |m: Msg| m.text(lang);
    let body = html! {
        @if let Some(n) = notice { p.notice #account-notice role="status" { (t(n)) } }
        @if let Some(e) = error { p.error #account-error role="alert" { (t(e)) } }
        dl {
            dt { (t(Msg::Username)) } dd { (a.user.username) }
            dt { (t(Msg::DisplayName)) } dd { (a.user.display_name) }
            dt { (t(Msg::Role)) } dd { (role_label(lang, a.user.role)) }
        }
        h2 { (t(Msg::ChangePassword)) }
        form #password-form method="post" action="/compte/mot-de-passe" {
            (csrf_input(a))
            p {
                label for="current-password" { (t(Msg::CurrentPassword)) }
                input #current-password type="password" name="current" autocomplete="current-password" required;
            }
            p {
                label for="new-password" { (t(Msg::NewPassword)) }
                input #new-password type="password" name="new" autocomplete="new-password"
                    minlength=(auth::MIN_PASSWORD_CHARS) required aria-describedby="password-rule";
                span #password-rule .hint { (t(Msg::PasswordRule)) }
            }
            p {
                label for="confirm-password" { (t(Msg::ConfirmPassword)) }
                input #confirm-password type="password" name="confirm" autocomplete="new-password"
                    minlength=(auth::MIN_PASSWORD_CHARS) required;
            }
            button.fr-btn type="submit" { (t(Msg::ChangePassword)) }
        }
    };
    (status, page(lang, t(Msg::MyAccount), Some(a), body)).into_response()
}

pub async fn account(lang: Lang, a: Authed, Query(q): Query<AccountQuery>) -> Response {
    let notice = q.changed.is_some().then_some(Msg::PasswordChanged);
    account_page(lang, &a, StatusCode::OK, notice, None)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    pub current: String,
    #[serde(default)]
    pub new: String,
    #[serde(default)]
    pub confirm: String,
}

/// Change one's own password (CSRF checked by the session layer). The current
/// password is verified like a login, under the same guard (per-IP budget,
/// growing delays, bounded hashing), so a borrowed session cannot be used to
/// guess it. On success every session of the
/// user ends, this one included, and a fresh one replaces it in the cookie:
/// a password is changed because something may have leaked, and if it is this
/// very cookie, keeping it alive would keep the intruder in.
pub async fn change_password(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    auth::ClientIp(ip): auth::ClientIp,
    Form(f): Form<PasswordForm>,
) -> WebResult<Response> {
    let refuse = |status, msg| Ok(account_page(lang, &a, status, None, Some(msg)));
    if f.new != f.confirm {
        return refuse(StatusCode::BAD_REQUEST, Msg::PasswordsDiffer);
    }
    if !auth::password_long_enough(&f.new) {
        return refuse(StatusCode::BAD_REQUEST, Msg::PasswordTooShort);
    }
    let now = st.store.now_ms();
    let guard = &st.runtime.guard;
    let username = a.user.username.clone();
    let turned_away = |r: crate::login_guard::Refusal| {
        tracing::warn!("password change attempt turned away");
        let (status, retry) = match r {
            crate::login_guard::Refusal::TooMany(s) => (StatusCode::TOO_MANY_REQUESTS, s),
            crate::login_guard::Refusal::Busy => (StatusCode::SERVICE_UNAVAILABLE, 1),
        };
        let mut r = account_page(lang, &a, status, None, Some(Msg::TooManyAttempts));
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry));
        Ok(r)
    };
    let _ticket = match guard.admit(&ip, now) {
        Ok(t) => t,
        Err(r) => return turned_away(r),
    };
    let delay = guard.delay(&username, &ip, now);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let permit = match guard.hash_permit().await {
        Ok(p) => p,
        Err(r) => return turned_away(r),
    };
    // The hash as stored now, not as it was when the session was resolved.
    let user = st
        .store
        .get_user(a.user.id)
        .await?
        .ok_or(WebError::Unauthenticated)?;
    let (current, hash) = (f.current.clone(), user.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || {
        let ok = auth::verify_password(&current, &hash);
        drop(permit);
        ok
    })
    .await
    .unwrap_or(false);
    if !ok {
        guard.record_failure(&username, &ip, st.store.now_ms());
        st.store
            .audit(
                &format!("user:{}", a.user.id),
                "user.password_failed",
                &format!("user:{}", a.user.id),
                &serde_json::json!({}),
            )
            .await?;
        return refuse(StatusCode::FORBIDDEN, Msg::WrongCurrentPassword);
    }
    guard.clear(&username, &ip);
    if f.new == f.current {
        return refuse(StatusCode::BAD_REQUEST, Msg::PasswordUnchanged);
    }
    let new = f.new.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&new))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))??;
    // Ends every session of the user (this one too) and audits it, in one transaction.
    st.store
        .set_password_hash_by(a.user.id, &hash, Some(a.user.id))
        .await?;
    let cookie = new_session_cookie(&st, a.user.id).await?;
    let mut r = Redirect::to("/compte?changed=1").into_response();
    if let Some(v) = cookie {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

pub async fn set_lang(State(st): State<AppState>, Path(code): Path<String>) -> Response {
    let lang = Lang::parse(&code).unwrap_or(st.config.default_lang);
    let secure = if st.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={}; Path=/; SameSite=Strict; Max-Age=31536000{secure}",
        auth::LANG_COOKIE,
        lang.code()
    );
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
