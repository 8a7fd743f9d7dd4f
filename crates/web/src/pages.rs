//! HTML pages and form handlers. Every handler that touches data takes an
//! [`Authed`] and checks role and mailbox itself; forms post back with the CSRF
//! field (checked in `auth::session_layer`) and answer with 303 redirects, so the
//! app works without JavaScript.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use facteur_core::{AgentActionKind, AnswerStatus, MessageState, OutboxState, Role};
use facteur_kb::answers::parse_answer;
use facteur_store::{
    NewAnswerVersion, NewMailbox, NewUser, QueueCursor, QueuePage, QueueQuery, QueueSort,
};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::actions;
use crate::auth::{self, Authed};
use crate::error::{Detail, WebError, WebResult};
use crate::extract::{Form, Path, Query};
use crate::i18n::{Lang, Msg};
use crate::sanitize::{mail_body_csp, sanitize_mail_html};
use crate::views::{
    age, answer_status_label, confidence, csrf_input, defect_label, folded_text, page, role_label,
    trusted,
};
use crate::{data, AppState};

// ------------------------------------------------------------------ static

pub async fn static_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.js"),
    )
        .into_response()
}

pub async fn static_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
        .into_response()
}

pub async fn not_found() -> WebError {
    WebError::NotFound
}

// ------------------------------------------------------------------ login

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
    let token = auth::random_token();
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
                button type="submit" { (t(Msg::Login)) }
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
    let cookie_token = auth::cookie(&headers, auth::LOGIN_CSRF_COOKIE).unwrap_or("");
    if !auth::plausible_token(cookie_token) || !auth::ct_eq(cookie_token, &f.csrf) {
        tracing::warn!("login refused: missing or mismatched pre-session CSRF token");
        return login_page(&st, StatusCode::FORBIDDEN, lang, Some(Msg::CsrfFailed), "");
    }
    let now = st.store.now_ms();
    let window = st.config.login_window.as_millis() as i64;
    let limiter = &st.runtime.limiter;
    // Counted now, before the (slow) password check, so parallel guesses queue on
    // the limit too; a success gives the attempt back below.
    if !limiter.try_attempt(&f.username, &ip, now, window, st.config.login_max_failures) {
        tracing::warn!("login rate limit hit");
        let mut r = login_page(
            &st,
            StatusCode::TOO_MANY_REQUESTS,
            lang,
            Some(Msg::TooManyAttempts),
            &f.username,
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("900"));
        return r;
    }
    let user = match st.store.get_user_by_username(f.username.trim()).await {
        Ok(u) => u.filter(|u| u.active),
        Err(e) => return WebError::from(e).into_response(),
    };
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let password = f.password.clone();
    // Argon2 is deliberately slow: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| ok) else {
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
    limiter.clear(&f.username, &ip);
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

pub async fn logout(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = auth::cookie(&headers, auth::SESSION_COOKIE) {
        if let Err(e) = st.store.delete_session(token).await {
            tracing::warn!(error = %e, "logout");
        }
    }
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::clear_session_cookie(st.config.secure_cookies)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

// ------------------------------------------------------------------ account

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
            button type="submit" { (t(Msg::ChangePassword)) }
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
/// password is verified like a login and counted by the same limiter, so a
/// borrowed session cannot be used to guess it. On success every session of the
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
    let window = st.config.login_window.as_millis() as i64;
    let limiter = &st.runtime.limiter;
    let username = a.user.username.clone();
    if !limiter.try_attempt(&username, &ip, now, window, st.config.login_max_failures) {
        tracing::warn!("password change rate limit hit");
        let mut r = account_page(
            lang,
            &a,
            StatusCode::TOO_MANY_REQUESTS,
            None,
            Some(Msg::TooManyAttempts),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("900"));
        return Ok(r);
    }
    // The hash as stored now, not as it was when the session was resolved.
    let user = st
        .store
        .get_user(a.user.id)
        .await?
        .ok_or(WebError::Unauthenticated)?;
    let (current, hash) = (f.current.clone(), user.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&current, &hash))
        .await
        .unwrap_or(false);
    if !ok {
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
    limiter.clear(&username, &ip);
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

/// A new session for `user_id` (the store keeps only its token's hash), and the
/// Set-Cookie value that hands the token to the browser: sign-in and a password
/// change both open one.
async fn new_session_cookie(st: &AppState, user_id: i64) -> Result<Option<HeaderValue>, WebError> {
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

// ------------------------------------------------------------------ queue

pub async fn home(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    let t = |m: Msg| m.text(lang);
    let all = st.store.list_mailboxes().await?;
    let mine: Vec<_> = all.into_iter().filter(|m| a.can_access(m.id)).collect();
    if mine.len() == 1 {
        return Ok(Redirect::to(&format!("/mailboxes/{}/queue", mine[0].id)).into_response());
    }
    Ok(page(
        lang,
        t(Msg::Mailboxes),
        Some(&a),
        html! {
            ul #mailboxes {
                @for m in &mine {
                    li { a href={ "/mailboxes/" (m.id) "/queue" } { (m.name) } }
                }
            }
        },
    )
    .into_response())
}

/// The queue tabs and the states each shows.
pub const TABS: &[(&str, Msg, &[MessageState])] = &[
    ("new", Msg::TabNew, &[MessageState::New]),
    ("ready", Msg::TabReady, &[MessageState::ReadyToValidate]),
    (
        "research",
        Msg::TabResearch,
        &[MessageState::NeedsResearch, MessageState::Abstained],
    ),
    ("escalated", Msg::TabEscalated, &[MessageState::Escalated]),
    (
        "sent",
        Msg::TabSent,
        &[MessageState::Validated, MessageState::Sent],
    ),
];

pub fn tab_states(tab: &str) -> Option<&'static [MessageState]> {
    TABS.iter().find(|(k, _, _)| *k == tab).map(|(_, _, s)| *s)
}

#[derive(Deserialize, Default)]
pub struct QueueParams {
    pub tab: Option<String>,
    pub category: Option<String>,
    pub sort: Option<String>,
    pub after: Option<String>,
}

pub const PAGE_SIZE: u32 = 50;

pub async fn queue(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(mailbox_id): Path<i64>,
    Query(p): Query<QueueParams>,
) -> WebResult<Response> {
    let t = |m: Msg| m.text(lang);
    a.require_access(mailbox_id)?;
    let mailbox = st
        .store
        .get_mailbox(mailbox_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let tab = p.tab.as_deref().unwrap_or("ready");
    let states = tab_states(tab).ok_or_else(|| {
        WebError::bad(
            format!("Onglet inconnu : « {tab} »."),
            format!("Unknown tab '{tab}'."),
        )
    })?;
    let sort = match p.sort.as_deref() {
        Some("confidence") => QueueSort::Confidence,
        _ => QueueSort::Age,
    };
    let category = p.category.clone().filter(|c| !c.is_empty());
    let page_pos = queue_page(p.after.as_deref())?;
    let rows = st
        .store
        .list_queue(&QueueQuery {
            mailbox_ids: Some(vec![mailbox_id]),
            states: states.to_vec(),
            category: category.clone(),
            assigned_to: None,
            sort,
            page: page_pos,
            limit: PAGE_SIZE,
        })
        .await?;
    let now = st.store.now_ms();
    let sort_code = if sort == QueueSort::Confidence {
        "confidence"
    } else {
        "age"
    };
    let qs = |after: Option<String>| {
        let mut s = format!("?tab={tab}&sort={sort_code}");
        if let Some(c) = &category {
            s.push_str("&category=");
            s.push_str(&urlencode(c));
        }
        if let Some(a) = after {
            s.push_str("&after=");
            s.push_str(&a);
        }
        s
    };
    let next = (rows.len() as u32 == PAGE_SIZE)
        .then(|| rows.last().map(|r| r.cursor.encode()))
        .flatten();
    // Read once for the page, not per row.
    let switches = if rows
        .iter()
        .any(|r| r.state == MessageState::ReadyToValidate)
    {
        load_switches(&st).await
    } else {
        Some(Vec::new())
    };
    let shown: Vec<(String, bool)> = rows
        .iter()
        .map(|r| {
            let subject = if r.subject.is_empty() {
                "—".to_string()
            } else {
                shown_subject(
                    &r.subject,
                    r.from_name.as_deref(),
                    st.is_revealed(&a.session.id, r.id),
                )
            };
            let draft_ready = r.state == MessageState::ReadyToValidate
                && !draft_withdrawn(switches.as_deref(), r.mailbox_id, r.category.as_deref());
            (subject, draft_ready)
        })
        .collect();
    let body = html! {
        nav.tabs aria-label=(t(Msg::Queue)) {
            ul {
                @for (key, label, _) in TABS {
                    li {
                        a href={ "?tab=" (key) } aria-current=[(*key == tab).then_some("page")] { (t(*label)) }
                    }
                }
            }
        }
        form.filters method="get" {
            input type="hidden" name="tab" value=(tab);
            label for="category" { (t(Msg::Category)) }
            select #category name="category" {
                option value="" { (t(Msg::AllCategories)) }
                @for rt in &st.taxonomy.request_types {
                    option value=(rt.id) selected[category.as_deref() == Some(rt.id.as_str())] { (type_label(&st, lang, &rt.id)) }
                }
            }
            label for="sort" { (t(Msg::SortBy)) }
            select #sort name="sort" {
                option value="age" selected[sort == QueueSort::Age] { (t(Msg::SortAge)) }
                option value="confidence" selected[sort == QueueSort::Confidence] { (t(Msg::SortConfidence)) }
            }
            button type="submit" { (t(Msg::Filter)) }
        }
        @if rows.is_empty() {
            p #queue-empty { (t(Msg::EmptyQueue)) }
        }
        table #queue {
            caption { (mailbox.name) " — " (tab_label(tab, lang)) }
            thead { tr {
                th scope="col" { (t(Msg::ColSubject)) }
                th scope="col" { (t(Msg::ColType)) }
                th scope="col" { (t(Msg::ColConfidence)) }
                th scope="col" { (t(Msg::ColAge)) }
                th scope="col" { (t(Msg::ColDraft)) }
            } }
            tbody {
                @for (i, (r, (subject, draft_ready))) in rows.iter().zip(&shown).enumerate() {
                    tr.queue-row data-id=(r.id) {
                        td { a.open href=(message_href(r.id, i.checked_sub(1).and_then(|p| rows.get(p)).map(|p| p.id))) { (subject) } }
                        td { (r.category.as_deref().map(|c| type_label(&st, lang, c)).unwrap_or_else(|| "—".into())) }
                        td { (confidence(r.confidence)) }
                        td { (age(lang, now, r.received_at)) }
                        td.draft-ready { (if *draft_ready { t(Msg::Yes) } else { t(Msg::No) }) }
                    }
                }
            }
        }
        @if let Some(c) = next {
            p { a #next-page rel="next" href=(qs(Some(c))) { (t(Msg::NextPage)) } }
        }
    };
    Ok(page(
        lang,
        &format!("{} — {}", t(Msg::Queue), mailbox.name),
        Some(&a),
        body,
    )
    .into_response())
}

/// A message state in words (the code stays in `data-state` for scripts and tests).
pub fn state_label(lang: Lang, s: MessageState) -> &'static str {
    let m = match s {
        MessageState::New => Msg::TabNew,
        MessageState::ReadyToValidate => Msg::TabReady,
        MessageState::NeedsResearch => Msg::TabResearch,
        MessageState::Escalated => Msg::TabEscalated,
        MessageState::Abstained => Msg::StateAbstained,
        MessageState::Validated => Msg::StateValidated,
        MessageState::Sent => Msg::TabSent,
        MessageState::Closed => Msg::StateClosed,
    };
    m.text(lang)
}

fn tab_label(tab: &str, lang: Lang) -> &'static str {
    TABS.iter()
        .find(|(k, _, _)| *k == tab)
        .map(|(_, m, _)| m.text(lang))
        .unwrap_or("")
}

/// Label of a request type in the UI language (the id when unknown).
pub fn type_label(st: &AppState, lang: Lang, id: &str) -> String {
    st.taxonomy
        .request_types
        .iter()
        .find(|r| r.id == id)
        .map(|r| match (lang, &r.label_en) {
            (Lang::En, Some(en)) => en.clone(),
            _ => r.label.clone(),
        })
        .unwrap_or_else(|| id.to_string())
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ------------------------------------------------------------------ message

const REASONS: &[(&str, Msg)] = &[
    ("wrong_type", Msg::ReasonWrongType),
    ("outdated_answer", Msg::ReasonOutdated),
    ("needs_research", Msg::ReasonResearch),
    ("tone", Msg::ReasonTone),
    ("other", Msg::ReasonOther),
];

/// The attachment metadata stored at ingest.
fn attachments(parsed: &Value) -> Vec<(String, String, u64)> {
    parsed
        .get("attachments")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|a| {
                    let sha = a.get("sha256")?.as_str()?.to_string();
                    if !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return None;
                    }
                    let name = a
                        .get("filename")
                        .and_then(Value::as_str)
                        .unwrap_or("piece-jointe")
                        .to_string();
                    let size = a.get("size").and_then(Value::as_u64).unwrap_or(0);
                    Some((name, sha, size))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Matched passages as the triage stored them: shown field by field, never as raw
/// HTML, whatever their shape.
/// The knowledge-base hits stored with the triage (`facteur_kb::Hit` as JSON): title,
/// link to the fiche, and the matched passages with the query's terms marked, so the
/// agent sees why an answer was suggested.
fn passages_view(passages: &Value) -> Markup {
    let items: &[Value] = match passages {
        Value::Array(v) => v,
        _ => &[],
    };
    html! {
        ul.passages {
            @for p in items {
                li.passage {
                    @let title = p.get("title").and_then(Value::as_str).unwrap_or("");
                    @match p.get("url").and_then(Value::as_str).filter(|u| u.starts_with("https://")) {
                        Some(url) => { a href=(url) rel="noopener noreferrer" target="_blank" { strong { (title) } } " " }
                        None => { strong { (title) } " " }
                    }
                    @if let Some(id) = p.get("id").and_then(Value::as_str) { code { (id) } " " }
                    @if let Some(s) = p.get("score").and_then(Value::as_f64) { span.score { "(" (format!("{s:.2}")) ")" } }
                    @for snippet in p.get("passages").and_then(Value::as_array).into_iter().flatten() {
                        @if let Some(text) = snippet.get("text").and_then(Value::as_str) {
                            blockquote { (highlighted(text, snippet.get("highlights"))) }
                        }
                    }
                }
            }
        }
    }
}

/// `text` with the byte ranges of `highlights` (`[[start, end], …]`, as the snippet
/// generator gives them) wrapped in `<mark>`. Ranges that overlap, run backwards or
/// fall inside a character are skipped: the stored JSON is data, not trusted input.
fn highlighted(text: &str, highlights: Option<&Value>) -> Markup {
    let mut ranges: Vec<(usize, usize)> = highlights
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let r = r.as_array()?;
            let start = usize::try_from(r.first()?.as_u64()?).ok()?;
            let end = usize::try_from(r.get(1)?.as_u64()?).ok()?;
            (start < end
                && end <= text.len()
                && text.is_char_boundary(start)
                && text.is_char_boundary(end))
            .then_some((start, end))
        })
        .collect();
    ranges.sort_unstable();
    let mut pieces: Vec<(&str, bool)> = Vec::new();
    let mut at = 0;
    for (start, end) in ranges {
        if start < at {
            continue;
        }
        pieces.push((&text[at..start], false));
        pieces.push((&text[start..end], true));
        at = end;
    }
    pieces.push((&text[at..], false));
    html! {
        @for (piece, marked) in pieces {
            @if marked { mark { (piece) } } @else { (piece) }
        }
    }
}

/// A message link that remembers the message before it in the list, so `k` on the
/// message page can step back (the store pages forward only).
fn message_href(id: i64, prev: Option<i64>) -> String {
    match prev {
        Some(p) => format!("/messages/{id}?prev={p}"),
        None => format!("/messages/{id}"),
    }
}

#[derive(Deserialize, Default)]
pub struct MessageParams {
    pub prev: Option<i64>,
}

pub async fn message(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(id): Path<i64>,
    Query(mp): Query<MessageParams>,
) -> WebResult<Response> {
    let t = |m: Msg| m.text(lang);
    let m = actions::load_message(&st, &a, id).await?;
    let triage = st.store.latest_triage(id).await?;
    let thread = match &m.thread_id {
        Some(tid) => st.store.thread_messages(tid).await?,
        None => Vec::new(),
    };
    let users: Vec<_> = st
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.active)
        .collect();
    let revealed = st.is_revealed(&a.session.id, id);
    let now = st.store.now_ms();
    // A kill switch pulled after this message was triaged also withdraws the draft
    // already prepared for it: the supervisor stopped that suggestion, so no agent
    // should be handed it. Fails safe like triage: switches that cannot be read
    // withdraw the draft.
    let withdrawn = match triage.as_ref().filter(|tr| tr.draft_text.is_some()) {
        Some(tr) => draft_withdrawn(
            load_switches(&st).await.as_deref(),
            m.mailbox_id,
            tr.category.as_deref(),
        ),
        None => false,
    };
    // A draft the agent rejected is not offered again: the textarea starts empty
    // until a new triage (e.g. after a category correction).
    let rejected = match &triage {
        Some(tr) if tr.draft_text.is_some() => {
            draft_rejected(&st.store.list_actions(id).await?, tr)
        }
        _ => false,
    };
    let draft_text = triage
        .as_ref()
        .filter(|_| !withdrawn && !rejected)
        .and_then(|tr| tr.draft_text.clone())
        .unwrap_or_default();
    let defects = mail_defects(&m.parsed);
    let open = m.state.is_open();
    // The next message of the same tab (oldest first), for keyboard flow (j).
    let next_id = match TABS.iter().find(|(_, _, states)| states.contains(&m.state)) {
        Some((_, _, states)) => st
            .store
            .list_queue(&QueueQuery {
                mailbox_ids: Some(vec![m.mailbox_id]),
                states: states.to_vec(),
                category: None,
                assigned_to: None,
                sort: QueueSort::Age,
                page: QueuePage::After(QueueCursor {
                    received_at: m.received_at,
                    confidence: m.confidence.map(f64::from).unwrap_or(-1.0),
                    id: m.id,
                }),
                limit: 1,
            })
            .await?
            .first()
            .map(|r| r.id),
        None => None,
    };
    let atts = attachments(&m.parsed);
    // The same computation as the validate action: what is shown is what is used.
    let recipient = actions::reply_recipient(&st, &m).await?;
    let body = html! {
        dl.meta {
            dt { (t(Msg::ColState)) } dd #state data-state=(m.state.as_str()) { (state_label(lang, m.state)) }
            dt { (t(Msg::ColType)) } dd #category-current { (m.category.as_deref().map(|c| type_label(&st, lang, c)).unwrap_or_else(|| "—".into())) }
            dt { (t(Msg::ColConfidence)) } dd { (confidence(m.confidence)) }
            dt { (t(Msg::ColAge)) } dd { (age(lang, now, m.received_at)) }
            @if revealed {
                dt { (t(Msg::From)) } dd { (m.from_name.as_deref().unwrap_or("")) " <" (m.from_address.as_deref().unwrap_or("")) ">" }
            }
        }
        nav.message-nav aria-label=(t(Msg::Queue)) {
            @if let Some(p) = mp.prev.filter(|p| *p != id) {
                a #prev-message rel="prev" href={ "/messages/" (p) } { (t(Msg::PreviousMessage)) } " · "
            }
            a #back-to-queue href={ "/mailboxes/" (m.mailbox_id) "/queue" } { (t(Msg::Back)) }
            @if let Some(n) = next_id {
                " · " a #next-message rel="next" href=(message_href(n, Some(id))) { (t(Msg::NextMessage)) }
            }
        }
        section #newtext aria-labelledby="newtext-h" {
            h2 #newtext-h { (t(Msg::NewText)) }
            p.note { (t(Msg::PersonalDataMasked)) }
            @if !defects.is_empty() {
                p #mail-defects.warning role="note" {
                    strong { (t(Msg::MalformedMail)) } " : "
                    (defects.iter().map(|k| defect_label(lang, *k)).collect::<Vec<_>>().join(" ; "))
                    ". " (t(Msg::MalformedMailAdvice))
                }
            }
            (folded_text(lang, &m.pseudonymised_text))
        }
        section #original aria-labelledby="original-h" {
            h2 #original-h { (t(Msg::OriginalMail)) }
            @if revealed {
                iframe #mail-body name="mail-body" title=(t(Msg::OriginalMail)) sandbox="" referrerpolicy="no-referrer" src={ "/messages/" (id) "/body" } {}
                p { a #show-images href={ "/messages/" (id) "/body?images=1" } target="mail-body" { (t(Msg::ShowImages)) } }
                @if !atts.is_empty() {
                    h3 { (t(Msg::Attachments)) }
                    ul #attachments {
                        @for (name, sha, size) in &atts {
                            li { a href={ "/messages/" (id) "/attachments/" (sha) } download=(name) { (t(Msg::Download)) " " (name) } " (" (size) " o)" }
                        }
                    }
                }
            } @else {
                form #reveal-form method="post" action={ "/messages/" (id) "/reveal" } {
                    (csrf_input(&a))
                    button #reveal type="submit" { (t(Msg::RevealPii)) }
                }
            }
        }
        @if thread.len() > 1 {
            section #thread aria-labelledby="thread-h" {
                h2 #thread-h { (t(Msg::Thread)) }
                ol {
                    @for tm in thread.iter().filter(|tm| a.can_access(tm.mailbox_id)) {
                        @let subject = shown_subject(&tm.subject, tm.from_name.as_deref(), st.is_revealed(&a.session.id, tm.id));
                        li {
                            @if tm.id == id { strong { (subject) } } @else { a href={ "/messages/" (tm.id) } { (subject) } }
                            " — " (state_label(lang, tm.state))
                        }
                    }
                }
            }
        }
        section #suggestions aria-labelledby="suggestions-h" {
            h2 #suggestions-h { (t(Msg::Suggestions)) }
            @match &triage {
                Some(_) if withdrawn => {
                    p #draft-withdrawn.note { (t(Msg::DraftWithdrawn)) }
                }
                Some(tr) if tr.answer_id.is_some() => {
                    p.suggestion {
                        strong { (tr.answer_id.as_deref().unwrap_or("")) }
                        @if let Some(v) = tr.answer_version { " v" (v) }
                        " — " (t(Msg::ColConfidence)) " " (confidence(tr.confidence))
                        @if let Some(mv) = &tr.model_version { " — " code { (mv) } }
                    }
                    h3 { (t(Msg::Why)) }
                    (passages_view(&tr.passages))
                }
                _ => { p { (t(Msg::NoSuggestion)) } }
            }
        }
        @if open {
            section #actions aria-labelledby="draft-h" {
                h2 #draft-h { (t(Msg::Draft)) }
                form #draft-form method="post" action={ "/messages/" (id) "/validate" } {
                    (csrf_input(&a))
                    label for="draft" { (t(Msg::Draft)) }
                    @if rejected {
                        p #draft-rejected.note { (t(Msg::DraftRejected)) }
                    }
                    @let unfilled = facteur_core::reply::unfilled_fields(&draft_text);
                    @if !unfilled.is_empty() {
                        p #unfilled-fields.warning role="note" {
                            (t(Msg::FieldsToComplete)) " "
                            @for f in &unfilled { code { (facteur_core::reply::missing_marker(f)) } " " }
                        }
                    }
                    textarea #draft name="text" rows="16" cols="80" { (draft_text) }
                    (recipient_view(lang, &recipient, revealed))
                    button #validate type="submit" { (t(Msg::ValidateSend)) }
                    // Shown by app.js after a first `v`: the shortcut only arms the
                    // button, a second `v` (or Enter on it) sends.
                    p #validate-confirm.warning role="status" hidden { (t(Msg::ValidateKeyConfirm)) }
                }
                form #correct-form method="post" action={ "/messages/" (id) "/correct" } {
                    (csrf_input(&a))
                    label for="new-category" { (t(Msg::CorrectCategory)) }
                    select #new-category name="category" {
                        @for rt in &st.taxonomy.request_types {
                            option value=(rt.id) selected[m.category.as_deref() == Some(rt.id.as_str())] { (type_label(&st, lang, &rt.id)) }
                        }
                    }
                    button type="submit" { (t(Msg::CorrectCategory)) }
                }
                form #reject-form method="post" action={ "/messages/" (id) "/reject" } {
                    (csrf_input(&a))
                    label for="reason" { (t(Msg::Reason)) }
                    select #reason name="reason" {
                        @for (code, label) in REASONS { option value=(code) { (t(*label)) } }
                    }
                    button type="submit" { (t(Msg::RejectDraft)) }
                }
                form #assign-form method="post" action={ "/messages/" (id) "/assign" } {
                    (csrf_input(&a))
                    label for="assignee" { (t(Msg::AssignTo)) }
                    select #assignee name="user_id" {
                        @for u in &users { option value=(u.id) selected[m.assigned_to == Some(u.id)] { (u.display_name) } }
                    }
                    button type="submit" { (t(Msg::Assign)) }
                }
                form #escalate-form method="post" action={ "/messages/" (id) "/escalate" } {
                    (csrf_input(&a))
                    button #escalate type="submit" { (t(Msg::Escalate)) }
                }
            }
        }
    };
    let title = if m.subject.is_empty() {
        "—".to_string()
    } else {
        shown_subject(&m.subject, m.from_name.as_deref(), revealed)
    };
    Ok(page(lang, &title, Some(&a), body).into_response())
}

/// Where the reply will go, next to the button that sends it. A Reply-To can be
/// set by anyone, so a recipient that is not the sender is flagged. Addresses are
/// personal data: shown only once this session revealed the message; before, the
/// agent is still told whether the reply goes to someone other than the sender.
fn recipient_view(lang: Lang, r: &actions::ReplyRecipient, revealed: bool) -> Markup {
    let t = |m: Msg| m.text(lang);
    html! {
        p #reply-recipient .warning[r.via_reply_to || r.reply_to_ignored] role="note" {
            (t(Msg::ReplyGoesTo)) " : "
            @match (&r.to, revealed) {
                (None, _) => { (t(Msg::NoReplyAddress)) }
                (Some(to), true) => {
                    strong { (to) }
                    @if r.via_reply_to {
                        " (" (t(Msg::ReplyToGivenBy)) " " (r.from.as_deref().unwrap_or("—")) ")"
                    }
                }
                (Some(_), false) => {
                    @if r.via_reply_to { (t(Msg::ReplyToOtherMasked)) } @else { (t(Msg::ReplyToSenderMasked)) }
                }
            }
            @if r.reply_to_ignored && r.to.is_some() {
                " — " (t(Msg::ReplyToIgnored))
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct BodyParams {
    pub images: Option<String>,
}

/// The original mail, sanitised, for the sandboxed iframe. Its own CSP (`sandbox`,
/// nothing loads but images on request) and only for a session that revealed the
/// message (the reveal is audited).
/// The kill switches in force, read once per request (a queue page checks every
/// row against the same list). `None`: they could not be read, which withdraws
/// every prepared draft, failing safe like triage.
pub(crate) async fn load_switches(st: &AppState) -> Option<Vec<facteur_learn::KillSwitch>> {
    use facteur_learn::review::SwitchStore;
    match crate::learn_pages::switch_store(st).switches().await {
        Ok(sw) => Some(sw),
        Err(e) => {
            tracing::warn!(error = %e, "kill switches unreadable: prepared drafts withheld");
            None
        }
    }
}

/// Whether a kill switch in force covers this mailbox or the request type a draft
/// was prepared for: the supervisor stopped that suggestion, so no agent (page,
/// queue or API) should be handed it.
pub(crate) fn draft_withdrawn(
    switches: Option<&[facteur_learn::KillSwitch]>,
    mailbox_id: i64,
    request_type: Option<&str>,
) -> bool {
    match switches {
        Some(sw) => {
            !facteur_learn::review::suggestions_enabled(mailbox_id, request_type, sw, None, false)
        }
        None => true,
    }
}

/// True when one of `actions` rejected the draft of triage `tr`. A reject names the
/// triage it refused (its id, recorded by the store), so a re-triage in the same
/// millisecond as a reject is told apart from it. Rejects recorded before the
/// store kept that id fall back to their time: at or after the triage counts as
/// rejecting it (on a tie, hiding a draft is the safe side).
pub(crate) fn draft_rejected(
    actions: &[facteur_store::ActionRecord],
    tr: &facteur_store::TriageResult,
) -> bool {
    actions
        .iter()
        .filter(|act| act.kind == AgentActionKind::Reject.as_str())
        .any(|act| match act.triage_id() {
            Some(t) => t == tr.id,
            None => act.at >= tr.created_at,
        })
}

/// The subject as this session may see it: pseudonymised with the pipeline's
/// detector (the sender's name masked wherever it recurs, as triage does for the
/// body) unless the agent revealed the message through the audited action.
pub(crate) fn shown_subject(subject: &str, from_name: Option<&str>, revealed: bool) -> String {
    if revealed {
        return subject.to_string();
    }
    let names: Vec<&str> = from_name
        .filter(|n| !n.trim().is_empty())
        .into_iter()
        .collect();
    facteur_privacy::Detector::new()
        .pseudonymise_with_names(subject, &names)
        .text
}

/// The defects the parser recorded for this mail (stored with it at ingest),
/// each kind once, in the order met.
fn mail_defects(parsed: &Value) -> Vec<facteur_core::DefectKind> {
    let defects: Vec<facteur_core::Defect> = parsed
        .get("defects")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut kinds = Vec::new();
    for d in defects {
        if !kinds.contains(&d.kind) {
            kinds.push(d.kind);
        }
    }
    kinds
}

pub async fn message_body(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Query(p): Query<BodyParams>,
) -> WebResult<Response> {
    actions::load_message(&st, &a, id).await?;
    if !st.is_revealed(&a.session.id, id) {
        return Err(WebError::Forbidden);
    }
    let raw = st.store.get_raw(id).await?.ok_or(WebError::NotFound)?;
    let show_images = p.images.as_deref() == Some("1");
    let parsed = facteur_mail::parse_message(&raw);
    let inner = match &parsed.body_html {
        Some(h) => sanitize_mail_html(h, show_images),
        None => html! { pre { (parsed.body_text) } }.into_string(),
    };
    let doc = html! {
        (maud::DOCTYPE)
        html { head { meta charset="utf-8"; } body { (trusted(inner)) } }
    };
    let mut r = Html(doc.into_string()).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mail_body_csp(show_images)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// An attachment as bytes to save, never to render.
pub async fn attachment(
    State(st): State<AppState>,
    a: Authed,
    Path((id, sha)): Path<(i64, String)>,
) -> WebResult<Response> {
    let m = actions::load_message(&st, &a, id).await?;
    if !st.is_revealed(&a.session.id, id) {
        return Err(WebError::Forbidden);
    }
    let sha = sha.to_ascii_lowercase();
    let name = attachments(&m.parsed)
        .into_iter()
        .find(|(_, s, _)| s.eq_ignore_ascii_case(&sha))
        .map(|(n, _, _)| n)
        .ok_or(WebError::NotFound)?;
    let raw = st.store.get_raw(id).await?.ok_or(WebError::NotFound)?;
    let parsed = mail_parser::MessageParser::default()
        .parse(&raw)
        .ok_or(WebError::NotFound)?;
    let content = parsed
        .attachments()
        .map(|p| p.contents().to_vec())
        .find(|c| {
            use sha2::{Digest, Sha256};
            hex::encode(Sha256::digest(c)) == sha
        })
        .ok_or(WebError::NotFound)?;
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        ascii,
        urlencode(&name)
    );
    let mut r = content.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

// ------------------------------------------------------------------ message actions

#[derive(Deserialize)]
pub struct TextForm {
    pub text: String,
}

#[derive(Deserialize)]
pub struct CategoryForm {
    pub category: String,
}

#[derive(Deserialize)]
pub struct ReasonForm {
    pub reason: String,
}

#[derive(Deserialize)]
pub struct AssignForm {
    pub user_id: i64,
}

fn back_to(id: i64) -> Response {
    Redirect::to(&format!("/messages/{id}")).into_response()
}

pub async fn validate(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<TextForm>,
) -> WebResult<Response> {
    actions::validate(&st, &a, id, &f.text).await?;
    let m = actions::load_message(&st, &a, id).await?;
    Ok(Redirect::to(&format!("/mailboxes/{}/queue?tab=ready", m.mailbox_id)).into_response())
}

pub async fn correct(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<CategoryForm>,
) -> WebResult<Response> {
    actions::correct(&st, &a, id, &f.category).await?;
    Ok(back_to(id))
}

pub async fn reject(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<ReasonForm>,
) -> WebResult<Response> {
    actions::reject(&st, &a, id, &f.reason).await?;
    Ok(back_to(id))
}

pub async fn assign(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<AssignForm>,
) -> WebResult<Response> {
    actions::assign(&st, &a, id, f.user_id).await?;
    Ok(back_to(id))
}

pub async fn escalate(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    actions::escalate(&st, &a, id).await?;
    Ok(back_to(id))
}

pub async fn reveal(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    actions::reveal(&st, &a, id).await?;
    Ok(Redirect::to(&format!("/messages/{id}#original")).into_response())
}

// ------------------------------------------------------------------ outbox

pub async fn outbox(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    let t = |m: Msg| m.text(lang);
    let filter = (!a.user.role.sees_all_mailboxes()).then(|| a.mailboxes.clone());
    let items = data::outbox_items(&st.store, filter, 200).await?;
    let now = st.store.now_ms();
    let body = html! {
        table #outbox {
            thead { tr {
                th scope="col" { (t(Msg::ColSubject)) }
                th scope="col" { (t(Msg::ColState)) }
                th scope="col" { (t(Msg::ValidatedBy)) }
                th scope="col" { (t(Msg::Attempts)) }
                th scope="col" { (t(Msg::ColAge)) }
                th scope="col" { (t(Msg::ColDelivery)) }
            } }
            tbody {
                @for listed in &items {
                    @let o = &listed.item;
                    tr.outbox-row data-state=(o.state.as_str()) {
                        td { a href={ "/messages/" (o.message_id) } { (shown_subject(&o.subject, listed.from_name.as_deref(), st.is_revealed(&a.session.id, o.message_id))) } }
                        td {
                            (t(match o.state {
                                OutboxState::Queued => Msg::OutboxQueued,
                                OutboxState::Sending => Msg::OutboxSending,
                                OutboxState::Sent => Msg::OutboxSent,
                                OutboxState::Failed => Msg::OutboxFailed,
                            }))
                            @if o.state == OutboxState::Failed {
                                // The error text is the server's or the connector's
                                // (never mail content), so the agent can act on it.
                                br;
                                small.outbox-error {
                                    (if o.next_attempt_at.is_some() { t(Msg::OutboxRetry) } else { t(Msg::OutboxPermanent) })
                                    @if let Some(e) = &o.last_error { " — " (e) }
                                }
                            }
                        }
                        td { (o.validated_by_name) }
                        td { (o.attempts) }
                        td { (age(lang, now, o.created_at)) }
                        td {
                            @if o.delivery_confirmed_at.is_some() {
                                span.delivery-confirmed title=(t(Msg::DeliveryConfirmed)) { "✓" }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(lang, t(Msg::Outbox), Some(&a), body).into_response())
}

// ------------------------------------------------------------------ standard answers (supervisor)

pub async fn answers(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let t = |m: Msg| m.text(lang);
    let list = data::all_answers(&st.store).await?;
    let body = html! {
        p { a #new-answer href="/answers/new" { (t(Msg::NewAnswer)) } }
        table #answers {
            thead { tr {
                th scope="col" { (t(Msg::AnswerId)) }
                th scope="col" { (t(Msg::Title)) }
                th scope="col" { (t(Msg::Language)) }
                th scope="col" { (t(Msg::Version)) }
                th scope="col" { (t(Msg::Status)) }
            } }
            tbody {
                @for v in &list {
                    tr.answer-row {
                        td { a href={ "/answers/" (urlencode(&v.answer_id)) } { (v.answer_id) } }
                        td { (v.title) }
                        td { (v.language) }
                        td { (v.version) }
                        td data-status=(v.status.as_str()) { (answer_status_label(lang, v.status)) }
                    }
                }
            }
        }
    };
    Ok(page(lang, t(Msg::StandardAnswers), Some(&a), body).into_response())
}

fn answer_form(
    lang: Lang,
    a: &Authed,
    action: &str,
    content: &str,
    errors: &[(usize, Detail)],
) -> Markup {
    let t = |m: Msg| m.text(lang);
    html! {
        @if !errors.is_empty() {
            section #answer-errors role="alert" aria-labelledby="errors-h" {
                h2 #errors-h { (t(Msg::ValidationErrors)) }
                ul { @for (line, msg) in errors { li { (t(Msg::Line)) " " (line) " : " (msg.text(lang)) } } }
            }
        }
        form #answer-form method="post" action=(action) {
            (csrf_input(a))
            label for="content" { (t(Msg::Content)) }
            textarea #content name="content" rows="24" cols="90" { (content) }
            button type="submit" { (t(Msg::SaveNewVersion)) }
        }
    }
}

pub async fn answer_new(lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    Ok(page(
        lang,
        Msg::NewAnswer.text(lang),
        Some(&a),
        answer_form(lang, &a, "/answers", "", &[]),
    )
    .into_response())
}

#[derive(Deserialize)]
pub struct AnswerForm {
    pub content: String,
}

/// A knowledge-base validation error in the agent's language. The library's
/// messages are English; the French is written here by kind, with the field or
/// value the library quoted between backticks, and the line shown beside it.
fn answer_error_detail(e: &facteur_kb::answers::AnswerError) -> Detail {
    use facteur_kb::answers::AnswerErrorKind as K;
    let quoted = e.message.split('`').nth(1).unwrap_or("").to_string();
    let q = if quoted.is_empty() {
        String::new()
    } else {
        format!(" « {quoted} »")
    };
    let fr = match e.kind {
        K::Io => "fichier illisible".to_string(),
        K::FrontMatter => format!(
            "en-tête TOML (entre les lignes +++) invalide{q} : corrigez la syntaxe (textes entre guillemets, dates comme 2025-01-31, listes entre [ ], statut draft, validated ou retired)"
        ),
        K::MissingField => format!("champ{q} absent ou vide dans l'en-tête : ajoutez-le"),
        K::UndeclaredVariable => format!(
            "la variable{q} est utilisée sans être déclarée : ajoutez-la à `variables` ou retirez-la du texte"
        ),
        K::UnusedVariable => format!(
            "la variable{q} est déclarée mais jamais utilisée : retirez-la de `variables` ou utilisez-la dans le texte"
        ),
        K::UnknownRequestType => format!(
            "le type de demande{q} n'est pas dans la taxonomie : corrigez l'identifiant ou ajoutez-le à taxonomy.toml"
        ),
        K::Expired => "réponse validée mais expirée : revoyez-la et prolongez valid_until, ou passez son statut à retired".to_string(),
        K::InvalidDates => "valid_from est postérieure à valid_until : corrigez les dates".to_string(),
        K::LinkNotWhitelisted => format!(
            "le lien{q} n'est pas dans `links` : ajoutez-le à la liste après vérification, ou retirez-le"
        ),
        K::Duplicate => format!("doublon{q} : cet identifiant est déjà utilisé"),
    };
    Detail::new(fr, e.message.clone())
}

/// Validates an answer file with the knowledge base's own rules (front matter,
/// variables, links, dates, taxonomy) and stores it as a new draft version.
async fn save_answer(
    st: &AppState,
    a: &Authed,
    expected_id: Option<&str>,
    content: &str,
) -> WebResult<Result<String, Vec<(usize, Detail)>>> {
    let content = content.replace("\r\n", "\n");
    let today = facteur_kb::Date::today();
    let parsed = parse_answer(
        std::path::Path::new("answer.md"),
        &content,
        Some(st.taxonomy.as_ref()),
        today,
    );
    let ans = match parsed {
        Ok(ans) => ans,
        Err(errs) => {
            return Ok(Err(errs
                .iter()
                .map(|e| (e.line, answer_error_detail(e)))
                .collect()))
        }
    };
    if let Some(id) = expected_id {
        if ans.id != id {
            return Ok(Err(vec![(
                1,
                Detail::new(
                    format!("l'identifiant doit rester « {id} »"),
                    format!("the id must stay '{id}'"),
                ),
            )]));
        }
    }
    st.store
        .create_answer_version(&NewAnswerVersion {
            answer_id: ans.id.clone(),
            title: ans.title.clone(),
            language: ans.language.clone(),
            content: content.clone(),
            valid_from: Some(ans.valid_from.to_string()),
            valid_until: Some(ans.valid_until.to_string()),
            author_id: Some(a.user.id),
        })
        .await?;
    Ok(Ok(ans.id))
}

pub async fn answer_create(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Form(f): Form<AnswerForm>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    match save_answer(&st, &a, None, &f.content).await? {
        Ok(id) => Ok(Redirect::to(&format!("/answers/{}", urlencode(&id))).into_response()),
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                lang,
                Msg::NewAnswer.text(lang),
                Some(&a),
                answer_form(lang, &a, "/answers", &f.content, &errors),
            ),
        )
            .into_response()),
    }
}

async fn answer_page(
    st: &AppState,
    lang: Lang,
    a: &Authed,
    id: &str,
    draft: Option<(&str, &[(usize, Detail)])>,
) -> WebResult<Html<String>> {
    let t = |m: Msg| m.text(lang);
    let versions = st.store.list_answer_versions(id).await?;
    if versions.is_empty() {
        return Err(WebError::NotFound);
    }
    let latest = versions
        .iter()
        .max_by_key(|v| v.version)
        .map(|v| v.content.clone())
        .unwrap_or_default();
    let (content, errors) = draft.unwrap_or((&latest, &[]));
    let action = format!("/answers/{}", urlencode(id));
    let body = html! {
        table #versions {
            thead { tr {
                th scope="col" { (t(Msg::Version)) }
                th scope="col" { (t(Msg::Language)) }
                th scope="col" { (t(Msg::Status)) }
                th scope="col" { (t(Msg::ValidFrom)) }
                th scope="col" { (t(Msg::ValidUntil)) }
                th scope="col" { "" }
            } }
            tbody {
                @for v in &versions {
                    tr {
                        td { (v.version) } td { (v.language) } td data-status=(v.status.as_str()) { (answer_status_label(lang, v.status)) }
                        td { (v.valid_from.as_deref().unwrap_or("")) } td { (v.valid_until.as_deref().unwrap_or("")) }
                        td {
                            @if v.status == AnswerStatus::Draft {
                                form method="post" action={ (action) "/" (v.version) "/validate" } {
                                    (csrf_input(a)) button type="submit" { (t(Msg::ValidateAnswer)) }
                                }
                            }
                            @if v.status != AnswerStatus::Retired {
                                form method="post" action={ (action) "/" (v.version) "/retire" } {
                                    (csrf_input(a)) button type="submit" { (t(Msg::Retire)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (t(Msg::Edit)) }
        (answer_form(lang, a, &action, content, errors))
    };
    Ok(page(
        lang,
        &format!("{} — {id}", t(Msg::StandardAnswers)),
        Some(a),
        body,
    ))
}

pub async fn answer_edit(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(id): Path<String>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    Ok(answer_page(&st, lang, &a, &id, None).await?.into_response())
}

pub async fn answer_save(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    match save_answer(&st, &a, Some(&id), &f.content).await? {
        Ok(id) => Ok(Redirect::to(&format!("/answers/{}", urlencode(&id))).into_response()),
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            answer_page(&st, lang, &a, &id, Some((&f.content, &errors))).await?,
        )
            .into_response()),
    }
}

async fn set_answer_status(
    st: &AppState,
    a: &Authed,
    id: &str,
    version: i64,
    status: AnswerStatus,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    st.store
        .set_answer_status(id, version, status, a.user.id)
        .await?;
    Ok(Redirect::to(&format!("/answers/{}", urlencode(id))).into_response())
}

pub async fn answer_retire(
    State(st): State<AppState>,
    a: Authed,
    Path((id, version)): Path<(String, i64)>,
) -> WebResult<Response> {
    set_answer_status(&st, &a, &id, version, AnswerStatus::Retired).await
}

pub async fn answer_validate(
    State(st): State<AppState>,
    a: Authed,
    Path((id, version)): Path<(String, i64)>,
) -> WebResult<Response> {
    set_answer_status(&st, &a, &id, version, AnswerStatus::Validated).await
}

// ------------------------------------------------------------------ admin

pub async fn users(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    let t = |m: Msg| m.text(lang);
    let users = st.store.list_users().await?;
    let mailboxes = st.store.list_mailboxes().await?;
    let body = html! {
        table #users {
            thead { tr {
                th scope="col" { (t(Msg::Username)) }
                th scope="col" { (t(Msg::DisplayName)) }
                th scope="col" { (t(Msg::Role)) }
                th scope="col" { (t(Msg::Active)) }
                th scope="col" { "" }
            } }
            tbody {
                @for u in &users {
                    tr.user-row {
                        td { (u.username) } td { (u.display_name) } td { (role_label(lang, u.role)) }
                        td { (if u.active { t(Msg::Yes) } else { t(Msg::No) }) }
                        td {
                            @if u.active && u.id != a.user.id {
                                form method="post" action={ "/admin/users/" (u.id) "/deactivate" } {
                                    (csrf_input(&a)) button type="submit" { (t(Msg::Deactivate)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (t(Msg::NewAccount)) }
        form #user-form method="post" action="/admin/users" {
            (csrf_input(&a))
            p { label for="nu-username" { (t(Msg::Username)) } input #nu-username name="username" required; }
            p { label for="nu-display" { (t(Msg::DisplayName)) } input #nu-display name="display_name" required; }
            p { label for="nu-password" { (t(Msg::Password)) } input #nu-password type="password" name="password" autocomplete="new-password" minlength="12" required; }
            p {
                label for="nu-role" { (t(Msg::Role)) }
                select #nu-role name="role" { @for r in Role::ALL { option value=(r.as_str()) { (role_label(lang, *r)) } } }
            }
            fieldset {
                legend { (t(Msg::Mailboxes)) }
                @for mb in &mailboxes {
                    input type="checkbox" name="mailbox" value=(mb.id) id={ "nu-mb-" (mb.id) };
                    label for={ "nu-mb-" (mb.id) } { (mb.name) }
                }
            }
            button type="submit" { (t(Msg::Create)) }
        }
    };
    Ok(page(lang, t(Msg::Accounts), Some(&a), body).into_response())
}

pub async fn user_create(
    State(st): State<AppState>,
    a: Authed,
    body: Bytes,
) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    // Repeated `mailbox` fields: parsed by hand (serde_urlencoded has no Vec).
    let pairs = auth::form_pairs(&body);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let (username, display_name, password) =
        (get("username"), get("display_name"), get("password"));
    let role =
        Role::parse(&get("role")).ok_or_else(|| WebError::bad("Rôle inconnu.", "Unknown role."))?;
    if username.is_empty() || display_name.is_empty() {
        return Err(WebError::bad(
            "L'identifiant et le nom affiché sont obligatoires.",
            "The username and the display name are required.",
        ));
    }
    if !auth::password_long_enough(&password) {
        return Err(WebError::bad(
            Msg::PasswordTooShort.text(Lang::Fr),
            Msg::PasswordTooShort.text(Lang::En),
        ));
    }
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))??;
    let id = st
        .store
        .create_user(
            &NewUser {
                username,
                display_name,
                password_hash: hash,
                role,
            },
            Some(a.user.id),
        )
        .await
        .map_err(|e| WebError::store_conflict_as(e, Msg::UsernameTaken))?;
    for (_, v) in pairs.iter().filter(|(k, _)| k == "mailbox") {
        let mb: i64 = v
            .parse()
            .map_err(|_| WebError::bad("Identifiant de boîte invalide.", "Invalid mailbox id."))?;
        st.store
            .set_mailbox_access(id, mb, true, Some(a.user.id))
            .await?;
    }
    Ok(Redirect::to("/admin/users").into_response())
}

pub async fn user_deactivate(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    if id == a.user.id {
        return Err(WebError::bad(
            "Vous ne pouvez pas désactiver votre propre compte.",
            "You cannot deactivate your own account.",
        ));
    }
    let u = st.store.get_user(id).await?.ok_or(WebError::NotFound)?;
    st.store
        .update_user(id, u.role, false, Some(a.user.id))
        .await?;
    Ok(Redirect::to("/admin/users").into_response())
}

pub async fn mailboxes(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    let t = |m: Msg| m.text(lang);
    let list = st.store.list_mailboxes().await?;
    let body = html! {
        table #mailbox-list {
            thead { tr { th scope="col" { (t(Msg::Name)) } th scope="col" { (t(Msg::Address)) } } }
            tbody { @for m in &list { tr { td { a href={ "/mailboxes/" (m.id) "/queue" } { (m.name) } } td { (m.address) } } } }
        }
        h2 { (t(Msg::NewMailbox)) }
        form #mailbox-form method="post" action="/admin/mailboxes" {
            (csrf_input(&a))
            p { label for="mb-name" { (t(Msg::Name)) } input #mb-name name="name" required; }
            p { label for="mb-address" { (t(Msg::Address)) } input #mb-address type="email" name="address" required; }
            p { label for="mb-signature" { (t(Msg::Signature)) } textarea #mb-signature name="signature" rows="4" {} }
            button type="submit" { (t(Msg::Create)) }
        }
    };
    Ok(page(lang, t(Msg::Mailboxes), Some(&a), body).into_response())
}

#[derive(Deserialize)]
pub struct MailboxForm {
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub signature: String,
}

pub async fn mailbox_create(
    State(st): State<AppState>,
    a: Authed,
    Form(f): Form<MailboxForm>,
) -> WebResult<Response> {
    a.require_role(Role::Admin)?;
    if f.name.trim().is_empty() || !f.address.contains('@') {
        return Err(WebError::bad(
            "Un nom et une adresse électronique sont obligatoires.",
            "A name and an e-mail address are required.",
        ));
    }
    // One address per mailbox, so that replies never leave two mailboxes under the
    // same sender. Checked here for a prompt answer; the store's unique index
    // (compared by the same key) holds it when two creations race past this check,
    // and its refusal is told with the same message (WebError::from).
    let key = facteur_store::mailbox_address_key(&f.address);
    if st
        .store
        .list_mailboxes()
        .await?
        .iter()
        .any(|m| facteur_store::mailbox_address_key(&m.address) == key)
    {
        return Err(WebError::conflict(Msg::MailboxTaken));
    }
    st.store
        .create_mailbox(
            &NewMailbox {
                name: f.name.trim().to_string(),
                address: f.address.trim().to_string(),
                signature: f.signature.replace("\r\n", "\n"),
                settings: serde_json::json!({}),
            },
            Some(a.user.id),
        )
        .await
        .map_err(|e| WebError::store_conflict_as(e, Msg::MailboxNameTaken))?;
    Ok(Redirect::to("/admin/mailboxes").into_response())
}

/// The queue page a request asks for: the first, or the one after the opaque
/// cursor `after` of the page before (the queue page and `/api/messages`).
pub(crate) fn queue_page(after: Option<&str>) -> WebResult<QueuePage> {
    match after.filter(|s| !s.is_empty()) {
        Some(c) => QueueCursor::decode(c)
            .map(QueuePage::After)
            .ok_or_else(|| WebError::bad("Curseur de page invalide.", "Invalid page cursor.")),
        None => Ok(QueuePage::First),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn triage(id: i64, created_at: i64) -> facteur_store::TriageResult {
        facteur_store::TriageResult {
            id,
            message_id: 1,
            model_version: None,
            category: None,
            confidence: None,
            route: facteur_core::Route::ReadyToValidate,
            answer_id: None,
            answer_version: None,
            draft_text: Some("brouillon".into()),
            passages: json!([]),
            created_at,
        }
    }

    fn action(kind: AgentActionKind, at: i64, before: Value) -> facteur_store::ActionRecord {
        facteur_store::ActionRecord {
            id: 1,
            message_id: 1,
            user_id: 1,
            at,
            kind: kind.as_str().into(),
            before,
            after: json!({}),
            model_version: None,
        }
    }

    #[test]
    fn a_reject_hides_the_draft_of_the_triage_it_named_whatever_the_clock() {
        let reject_of_7 = action(AgentActionKind::Reject, 100, json!({"triage_id": 7}));
        // Same millisecond everywhere: only the triage id decides.
        assert!(draft_rejected(
            std::slice::from_ref(&reject_of_7),
            &triage(7, 100)
        ));
        assert!(!draft_rejected(
            std::slice::from_ref(&reject_of_7),
            &triage(8, 100)
        ));
        // Even a triage stamped earlier than the reject (clock stepped back).
        assert!(!draft_rejected(
            std::slice::from_ref(&reject_of_7),
            &triage(8, 50)
        ));
        // Other actions never hide a draft.
        let validate = action(AgentActionKind::ValidateSend, 100, json!({"triage_id": 8}));
        assert!(!draft_rejected(&[validate], &triage(8, 100)));
        // Rejects from before the id was recorded: by time, a tie hides.
        let legacy = action(
            AgentActionKind::Reject,
            100,
            json!({"state": "ready_to_validate"}),
        );
        assert!(draft_rejected(
            std::slice::from_ref(&legacy),
            &triage(8, 100)
        ));
        assert!(!draft_rejected(&[legacy], &triage(8, 101)));
    }

    fn render(text: &str, h: Value) -> String {
        highlighted(text, Some(&h)).into_string()
    }

    #[test]
    fn highlights_are_marked_and_the_text_escaped() {
        let text = "Délai de paiement <script>x</script> de l'impôt";
        // "Délai" is 6 bytes (é is two); "impôt" at the end.
        let start = text.find("impôt").unwrap();
        let out = render(text, json!([[0, 6], [start, text.len()]]));
        assert_eq!(
            out,
            "<mark>Délai</mark> de paiement &lt;script&gt;x&lt;/script&gt; de l'<mark>impôt</mark>"
        );
    }

    #[test]
    fn bad_ranges_are_skipped_not_trusted() {
        let text = "Délai de paiement";
        // Inside the two-byte é, backwards, past the end, overlapping, not numbers.
        let out = render(
            text,
            json!([[2, 4], [9, 3], [9, 99], [0, 6], [3, 8], ["a", 1], [9]]),
        );
        assert_eq!(out, "<mark>Délai</mark> de paiement");
        assert_eq!(highlighted(text, None).into_string(), text);
    }

    #[test]
    fn stored_hits_show_title_link_and_marked_passages() {
        let hit = facteur_kb::Hit {
            id: "F1991".into(),
            kind: facteur_kb::DocKind::Fiche,
            title: "Revenus fonciers".into(),
            url: Some("https://www.service-public.fr/particuliers/vosdroits/F1991".into()),
            language: "fr".into(),
            score: 20.7,
            passages: vec![facteur_kb::Passage {
                text: "vous devez déclarer les loyers".into(),
                highlights: vec![(11, 20)],
            }],
        };
        let out = passages_view(&serde_json::to_value(vec![hit]).unwrap()).into_string();
        assert!(out.contains("<mark>déclarer</mark>"), "{out}");
        assert!(out.contains("href=\"https://www.service-public.fr/particuliers/vosdroits/F1991\""));
        assert!(out.contains("<code>F1991</code>"));
        // A link that is not https is shown as plain text.
        let js = json!([{"title": "x", "url": "javascript:alert(1)"}]);
        assert!(!passages_view(&js).into_string().contains("href"));
    }
}
