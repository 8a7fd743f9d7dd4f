//! The web app end to end through `tower::ServiceExt::oneshot` on a real SQLite
//! store: auth, cookies, CSRF, roles, the validate → outbox path, headers and mail
//! sanitising.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use crate::common;

use crate::common::light_hash;
use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use facteur_core::{MessageState, Role, Route};
use facteur_kb::answers::Taxonomy;
use std::sync::Arc;

use facteur_store::{ManualClock, NewMailbox, NewMessage, NewTriage, NewUser, Store};
use facteur_web::{router, AppState, WebConfig};
use http_body_util::BodyExt;
use tower::ServiceExt;

const PASSWORD: &str = "mot-de-passe-solide";

const HOSTILE_MAIL: &str = "From: Jeanne Martin <jeanne@example.org>\r\n\
To: sip@impots.example\r\n\
Subject: Changement de RIB\r\n\
Message-ID: <hostile-1@example.org>\r\n\
Date: Mon, 3 Mar 2025 10:00:00 +0100\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Bonjour, je veux changer mon RIB.\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html><head><style>body{background:url(https://evil.example/css)}</style></head>\
<body><p onmouseover=\"steal()\">Bonjour, je veux changer mon RIB.</p>\
<script>alert('xss')</script>\
<img src=\"https://tracker.example/pixel.gif\" alt=\"logo\" onerror=\"alert(2)\">\
<a href=\"javascript:alert(3)\">cliquez</a>\
<div style=\"background-image:url('https://evil.example/div')\">texte</div>\
<svg><script>alert(4)</script></svg></body></html>\r\n\
--b1--\r\n";

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    app: Router,
    mb_a: i64,
    mb_b: i64,
    agent: i64,
    msg_a: i64,
    msg_b: i64,
}

fn taxonomy() -> Taxonomy {
    Taxonomy::from_labels(&[
        ("rib", "Changement de coordonnées bancaires"),
        ("avis", "Avis d'impôt"),
    ])
}

async fn add_message(store: &Store, mailbox: i64, raw: &str, draft: &str) -> i64 {
    add_message_with(store, mailbox, raw, draft, |_| {}).await
}

/// [`add_message`], with `edit` applied to the row before it is stored.
async fn add_message_with(
    store: &Store,
    mailbox: i64,
    raw: &str,
    draft: &str,
    edit: impl FnOnce(&mut NewMessage),
) -> i64 {
    let parsed = facteur_mail::parse_message(raw.as_bytes());
    let mut nm = NewMessage::from_parsed(mailbox, raw.as_bytes().to_vec(), &parsed);
    // Hostile markup in the pseudonymised text too: the page must escape it.
    nm.pseudonymised_text =
        "Bonjour [NOM_1], <script>alert('masked')</script>\n> ancien message cité\n> suite".into();
    edit(&mut nm);
    let id = store.insert_message(&nm).await.unwrap().id();
    store
        .record_triage(&NewTriage {
            message_id: id,
            model_version: Some("m1".into()),
            category: Some("rib".into()),
            confidence: Some(0.93),
            route: Route::ReadyToValidate,
            answer_id: Some("rib-changement".into()),
            answer_version: Some(1),
            draft_text: Some(draft.into()),
            passages: common::stored_passages(
                "rib-changement",
                "Changer de RIB",
                "modifier vos coordonnées bancaires",
                "coordonnées",
            ),
            language: Some("fr".into()),
            pseudonymised_text: None,
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
    id
}

async fn fixture_with(config: WebConfig) -> Fixture {
    fixture_clocked(config, None).await
}

/// A fixture whose store runs on `clock` (to move past a model's review date).
async fn fixture_clocked(config: WebConfig, clock: Option<Arc<ManualClock>>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("t.db").display());
    // Keyed as a service's store is (`audit_key_file`): citizen keys need it.
    let mut store = Store::open(&url)
        .await
        .unwrap()
        .with_audit_key(facteur_store::AuditKey {
            key: [9; 32],
            unkeyed_until: 0,
        });
    if let Some(c) = clock {
        store = store.with_clock(c);
    }
    let mb = |name: &str, addr: &str| NewMailbox {
        name: name.into(),
        address: addr.into(),
        signature: "Le service".into(),
        settings: serde_json::json!({}),
    };
    let mb_a = store
        .create_mailbox(&mb("SIP Lyon", "sip.lyon@impots.example"), None)
        .await
        .unwrap();
    let mb_b = store
        .create_mailbox(&mb("SIP Nantes", "sip.nantes@impots.example"), None)
        .await
        .unwrap();
    let hash = light_hash(PASSWORD);
    let user = |u: &str, d: &str, r: Role| NewUser {
        username: u.into(),
        display_name: d.into(),
        password_hash: hash.clone(),
        role: r,
    };
    let agent = store
        .create_user(&user("agent", "Agnès Agent", Role::Agent), None)
        .await
        .unwrap();
    store
        .create_user(
            &user("super", "Sylvie Superviseure", Role::Supervisor),
            None,
        )
        .await
        .unwrap();
    store
        .create_user(&user("admin", "Adam Admin", Role::Admin), None)
        .await
        .unwrap();
    store
        .set_mailbox_access(agent, mb_a, true, None)
        .await
        .unwrap();
    let msg_a = add_message(&store, mb_a, HOSTILE_MAIL, "Bonjour,\nvoici la démarche.").await;
    let other = HOSTILE_MAIL.replace("hostile-1@", "other-1@");
    let msg_b = add_message(&store, mb_b, &other, "Brouillon B").await;
    let state = AppState::new(store.clone(), taxonomy(), config);
    Fixture {
        _dir: dir,
        store,
        app: router(state),
        mb_a,
        mb_b,
        agent,
        msg_a,
        msg_b,
    }
}

async fn fixture() -> Fixture {
    fixture_with(WebConfig::default()).await
}

async fn send(app: &Router, req: Request<Body>) -> Response<Body> {
    app.clone().oneshot(req).await.unwrap()
}

async fn text(res: Response<Body>) -> String {
    let b = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&b).into_owned()
}

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(t) = token {
        b = b.header(header::COOKIE, format!("facteur_session={t}"));
    }
    b.body(Body::empty()).unwrap()
}

fn post_form(path: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut b =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(t) = token {
        b = b.header(header::COOKIE, format!("facteur_session={t}"));
    }
    b.body(Body::from(body.to_string())).unwrap()
}

/// Double-submit token for the login form, signed by this process as the login
/// page's are (a made-up value is refused): one token for the whole test binary.
struct LoginCsrf;
const LOGIN_CSRF: LoginCsrf = LoginCsrf;
impl std::fmt::Display for LoginCsrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        static T: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(facteur_web::login_guard::login_csrf_token);
        f.write_str(&T)
    }
}

/// A login POST as a browser sends it after loading the form.
fn login_req(body: &str) -> Request<Body> {
    Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("facteur_login_csrf={LOGIN_CSRF}"))
        .body(Body::from(format!("{body}&csrf={LOGIN_CSRF}")))
        .unwrap()
}

fn enc(s: &str) -> String {
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

/// Logs in; returns (session token, csrf token).
async fn login(app: &Router, user: &str) -> (String, String) {
    let res = send(
        app,
        login_req(&format!("username={user}&password={PASSWORD}")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "login of {user}");
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("facteur_session=")
        .unwrap()
        .to_string();
    let me = send(app, get("/api/me", Some(&token))).await;
    assert_eq!(me.status(), StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&text(me).await).unwrap();
    (token, v["csrf_token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_and_stores_only_its_hash() {
    let f = fixture().await;
    let res = send(
        &f.app,
        login_req(&format!("username=agent&password={PASSWORD}")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain loopback http: {cookie}");
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("facteur_session=")
        .unwrap();
    assert_eq!(token.len(), 64);
    let (session, user) = f.store.get_session(token).await.unwrap().unwrap();
    assert_eq!(user.id, f.agent);
    assert_ne!(session.id, token, "the raw token must not be stored");
    {
        use sha2::{Digest, Sha256};
        assert_eq!(session.id, hex::encode(Sha256::digest(token.as_bytes())));
    }

    // Signed in: the agent with one mailbox lands on its queue.
    let home = send(&f.app, get("/", Some(token))).await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        home.headers()[header::LOCATION],
        format!("/mailboxes/{}/queue", f.mb_a).as_str()
    );

    // Secure cookies when configured.
    let f2 = fixture_with(WebConfig {
        secure_cookies: true,
        ..WebConfig::default()
    })
    .await;
    let res = send(
        &f2.app,
        login_req(&format!("username=agent&password={PASSWORD}")),
    )
    .await;
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn login_form_needs_its_double_submitted_csrf_token() {
    let f = fixture().await;
    // The form sets a fresh token in an HttpOnly cookie scoped to /login and in a field.
    let res = send(&f.app, get("/login", None)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("facteur_login_csrf="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/login"),
        "{cookie}"
    );
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        facteur_web::login_guard::check_login_csrf(&token),
        "{token}"
    );
    let page = text(res).await;
    assert!(
        page.contains(&format!("name=\"csrf\" value=\"{token}\"")),
        "{page}"
    );

    let body = format!("username=agent&password={PASSWORD}");
    let attempt = |cookie: Option<String>, field: Option<String>| {
        let mut b = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, format!("facteur_login_csrf={c}"));
        }
        let body = match field {
            Some(v) => format!("{body}&csrf={v}"),
            None => body.clone(),
        };
        b.body(Body::from(body)).unwrap()
    };
    let other = "f".repeat(64);
    for (c, v) in [
        (None, None),
        (None, Some(token.clone())),
        (Some(token.clone()), None),
        (Some(token.clone()), Some(other.clone())),
        (Some("short".to_string()), Some("short".to_string())),
        // A token the client chose, double-submitted: the server never signed it.
        (Some(other.clone()), Some(other.clone())),
    ] {
        let res = send(&f.app, attempt(c.clone(), v.clone())).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "cookie {c:?} field {v:?}"
        );
        assert!(text(res).await.contains("Jeton de sécurité invalide"));
    }
    // Matching cookie and field: signed in, and the pre-session token is cleared.
    let res = send(&f.app, attempt(Some(token.clone()), Some(token.clone()))).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookies: Vec<_> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("facteur_session=")),
        "{cookies:?}"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("facteur_login_csrf=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn bad_passwords_are_refused_then_slowed_down_without_lockout() {
    let f = fixture().await;
    let res = send(&f.app, login_req("username=agent&password=nope")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !res.headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("facteur_session=")),
        "no session on a failed login"
    );
    assert!(text(res)
        .await
        .contains("Identifiant ou mot de passe incorrect"));

    for _ in 0..4 {
        let res = send(&f.app, login_req("username=agent&password=nope")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Sixth wrong try: answered after a delay (1 s), no lockout.
    let t = std::time::Instant::now();
    let res = send(&f.app, login_req("username=agent&password=nope")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        t.elapsed() >= std::time::Duration::from_secs(1),
        "{:?}",
        t.elapsed()
    );
    // The right password still signs in (after this pair's delay, now 2 s).
    let t = std::time::Instant::now();
    let res = send(
        &f.app,
        login_req(&format!("username=agent&password={PASSWORD}")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        t.elapsed() >= std::time::Duration::from_secs(2),
        "{:?}",
        t.elapsed()
    );
    // Another account is not affected.
    let res = send(
        &f.app,
        login_req(&format!("username=super&password={PASSWORD}")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn tampered_or_unknown_cookie_is_logged_out() {
    let f = fixture().await;
    let (token, _) = login(&f.app, "agent").await;
    let mut bytes = token.into_bytes();
    bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(bytes).unwrap();
    let queue = format!("/mailboxes/{}/queue", f.mb_a);
    for bad in [tampered.as_str(), "garbage", "' OR 1=1 --"] {
        let res = send(&f.app, get(&queue, Some(bad))).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{bad}");
        assert_eq!(res.headers()[header::LOCATION], "/login");
        let res = send(&f.app, get("/api/me", Some(bad))).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let v: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
        assert_eq!(v["error"], "unauthenticated");
    }
}

/// Escalating says why, with a coded reason (no free text, which could carry
/// personal data); the message page then shows it to whoever picks it up.
#[tokio::test]
async fn escalation_needs_a_reason_and_the_page_shows_it() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let path = format!("/messages/{}/escalate", f.msg_a);
    let page = text(send(&f.app, get(&format!("/messages/{}", f.msg_a), Some(&token))).await).await;
    assert!(page.contains("id=\"escalate-reason\""), "{page}");
    for (body, want) in [
        (format!("csrf={csrf}"), StatusCode::UNPROCESSABLE_ENTITY),
        (
            format!("csrf={csrf}&reason=because"),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let res = send(&f.app, post_form(&path, Some(&token), &body)).await;
        assert_eq!(res.status(), want, "{body}");
    }
    let m = f.store.get_message(f.msg_a).await.unwrap().unwrap();
    assert_eq!(
        m.state,
        MessageState::ReadyToValidate,
        "not escalated without a reason"
    );
    let res = send(
        &f.app,
        post_form(&path, Some(&token), &format!("csrf={csrf}&reason=legal")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = text(send(&f.app, get(&format!("/messages/{}", f.msg_a), Some(&token))).await).await;
    assert!(
        page.contains("Question juridique ou contentieux"),
        "the reason is shown: {page}"
    );
}

#[tokio::test]
async fn state_changes_need_the_csrf_token() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let path = format!("/messages/{}/escalate", f.msg_a);
    let res = send(&f.app, post_form(&path, Some(&token), "")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = send(
        &f.app,
        post_form(&path, Some(&token), &format!("csrf={}", "0".repeat(64))),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let m = f.store.get_message(f.msg_a).await.unwrap().unwrap();
    assert_eq!(
        m.state,
        MessageState::ReadyToValidate,
        "nothing changed without the token"
    );

    // The API: header required.
    let api = format!("/api/messages/{}/reject", f.msg_a);
    let req = |with: bool| {
        let mut b = Request::post(&api)
            .header(header::COOKIE, format!("facteur_session={token}"))
            .header(header::CONTENT_TYPE, "application/json");
        if with {
            b = b.header("X-CSRF-Token", &csrf);
        }
        b.body(Body::from(r#"{"reason":"tone"}"#)).unwrap()
    };
    let res = send(&f.app, req(false)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let v: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(v["error"], "csrf");
    let res = send(&f.app, req(true)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let m = f.store.get_message(f.msg_a).await.unwrap().unwrap();
    assert_eq!(m.state, MessageState::NeedsResearch);

    // The form with its token works.
    let res = send(
        &f.app,
        post_form(&path, Some(&token), &format!("csrf={csrf}&reason=other")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let m = f.store.get_message(f.msg_a).await.unwrap().unwrap();
    assert_eq!(m.state, MessageState::Escalated);
}

#[tokio::test]
async fn agents_are_confined_to_their_mailboxes_and_roles() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    for path in [
        format!("/mailboxes/{}/queue", f.mb_b),
        format!("/messages/{}", f.msg_b),
        format!("/api/messages/{}", f.msg_b),
        format!("/api/messages?mailbox={}", f.mb_b),
        "/answers".to_string(),
        "/admin/users".to_string(),
    ] {
        let res = send(&f.app, get(&path, Some(&token))).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/validate", f.msg_b),
            Some(&token),
            &format!("csrf={csrf}&text=x"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(f
        .store
        .get_outbox_for_message(f.msg_b)
        .await
        .unwrap()
        .is_none());
    // Their own mailbox is fine, and the API list without a mailbox only shows theirs.
    let res = send(
        &f.app,
        get(&format!("/mailboxes/{}/queue", f.mb_a), Some(&token)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = text(res).await;
    assert!(page.contains("id=\"queue\""));
    assert!(page.contains("class=\"queue-row\""));
    assert!(page.contains(&format!("/messages/{}", f.msg_a)));
    let res = send(&f.app, get("/api/messages?state=ready", Some(&token))).await;
    let v: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    let ids: Vec<i64> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![f.msg_a]);

    // The supervisor sees the supervisor page but not the admin one.
    let (st, _) = login(&f.app, "super").await;
    assert_eq!(
        send(&f.app, get("/answers", Some(&st))).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&f.app, get(&format!("/messages/{}", f.msg_b), Some(&st)))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&f.app, get("/admin/users", Some(&st))).await.status(),
        StatusCode::FORBIDDEN
    );
    let (at, _) = login(&f.app, "admin").await;
    assert_eq!(
        send(&f.app, get("/admin/users", Some(&at))).await.status(),
        StatusCode::OK
    );
}

/// Mailbox A's queue page at `?tab=TAB_AND_QUERY`, as the signed-in `token` sees it.
async fn queue_of(f: &Fixture, token: &str, tab_and_query: String) -> String {
    let path = format!("/mailboxes/{}/queue?tab={tab_and_query}", f.mb_a);
    text(send(&f.app, get(&path, Some(token))).await).await
}

/// The queue shows each sender masked (initials and domain, never the name or
/// the address before a reveal) and the assignee by name; "Mes messages" keeps
/// the signed-in agent's own.
#[tokio::test]
async fn the_queue_shows_masked_senders_and_assignees_and_my_messages() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let queue = |q: &'static str| queue_of(&f, &token, format!("ready{q}"));
    let page = queue("").await;
    assert!(
        page.contains("<td class=\"sender\">J. M. · example.org</td>"),
        "{page}"
    );
    assert!(
        !page.contains("jeanne@example.org") && !page.contains("Jeanne Martin"),
        "{page}"
    );
    let mine = queue("&mine=1").await;
    assert!(
        mine.contains("id=\"queue-empty\""),
        "nothing assigned yet: {mine}"
    );

    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/assign", f.msg_a),
            Some(&token),
            &format!("csrf={csrf}&user_id={}", f.agent),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mine = queue("&mine=1").await;
    assert!(mine.contains(&format!("data-id=\"{}\"", f.msg_a)), "{mine}");
    assert_eq!(mine.matches("class=\"queue-row\"").count(), 1, "{mine}");
    let name = f
        .store
        .get_user(f.agent)
        .await
        .unwrap()
        .unwrap()
        .display_name;
    assert!(
        mine.contains(&format!("<td class=\"assignee\">{name}</td>")),
        "{mine}"
    );
    let page = text(send(&f.app, get(&format!("/messages/{}", f.msg_a), Some(&token))).await).await;
    assert!(
        page.contains(&format!("id=\"assignee-current\">{name}</dd>")),
        "{page}"
    );
}

/// The queue, the message page and the API show the subject as triage masked it
/// (stored with the message), not a second detection of their own; the audited
/// reveal shows it as written.
#[tokio::test]
async fn pages_show_the_subject_triage_masked() {
    let f = fixture().await;
    let raw = "From: Paul Durand <paul@example.org>\r\nSubject: Demande de Paul Durand\r\n\r\nBonjour\r\n";
    let id = add_message(&f.store, f.mb_a, raw, "Bonjour").await;
    // Retriage recording what triage masked: a placeholder no detector would write.
    f.store
        .record_triage(&NewTriage {
            message_id: id,
            model_version: Some("m1".into()),
            category: Some("rib".into()),
            confidence: Some(0.93),
            route: Route::ReadyToValidate,
            answer_id: None,
            answer_version: None,
            draft_text: Some("Bonjour".into()),
            passages: Vec::new(),
            language: Some("fr".into()),
            pseudonymised_text: None,
            subject_pseudonymised: Some("Demande de [NOM_7]".into()),
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
    let (token, csrf) = login(&f.app, "agent").await;
    let queue = queue_of(&f, &token, "ready".into()).await;
    assert!(queue.contains("Demande de [NOM_7]"), "{queue}");
    assert!(!queue.contains("Durand"), "{queue}");
    let page = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    assert!(page.contains("Demande de [NOM_7]"), "{page}");
    let api = text(send(&f.app, get(&format!("/api/messages/{id}"), Some(&token))).await).await;
    assert!(
        api.contains("Demande de [NOM_7]") && !api.contains("Durand"),
        "{api}"
    );
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{id}/reveal"),
            Some(&token),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    assert!(page.contains("Demande de Paul Durand"), "{page}");
}

/// A triaged message of the citizen `ids` name, with a draft, or with triage's
/// suggestion to close it.
async fn add_citizen_message(
    f: &Fixture,
    n: u32,
    ids: &[&str],
    text: &str,
    close: Option<facteur_core::CloseReason>,
) -> i64 {
    let raw = format!(
        "From: Jean Martin <jean@example.org>\r\nSubject: Avis {n}\r\nMessage-ID: <cit-{n}@example.org>\r\n\r\n{text}\r\n"
    );
    let parsed = facteur_mail::parse_message(raw.as_bytes());
    let mut nm = NewMessage::from_parsed(f.mb_a, raw.as_bytes().to_vec(), &parsed);
    nm.pseudonymised_text = text.into();
    let id = f.store.insert_message(&nm).await.unwrap().id();
    f.store
        .record_triage(&NewTriage {
            message_id: id,
            model_version: Some("m1".into()),
            category: Some("avis".into()),
            confidence: Some(0.93),
            route: if close.is_some() {
                Route::NeedsResearch
            } else {
                Route::ReadyToValidate
            },
            answer_id: None,
            answer_version: None,
            draft_text: close
                .is_none()
                .then(|| "Bonjour,\nVoici votre avis.".to_string()),
            passages: Vec::new(),
            language: Some("fr".into()),
            pseudonymised_text: None,
            subject_pseudonymised: Some(format!("Avis {n} de [NOM_1]")),
            classify_text: None,
            pii_kinds: vec![],
            flags: vec![],
            candidates: Vec::new(),
            close_suggestion: close,
            citizen_ids: ids.iter().map(|i| i.to_string()).collect(),
            attachment_texts: Vec::new(),
        })
        .await
        .unwrap();
    id
}

/// The message page lists the same citizen's other messages; a repeat says what
/// it repeats, and answering the first closes the repeat with that reply.
#[tokio::test]
async fn the_same_citizen_is_shown_and_a_repeat_closes_with_the_reply() {
    let f = fixture().await;
    let jean = ["address:jean@example.org"];
    let first = add_citizen_message(&f, 1, &jean, "Je n'ai pas reçu mon avis.", None).await;
    let again =
        add_citizen_message(&f, 2, &jean, "Je n'ai toujours pas reçu mon avis.", None).await;
    let stranger = add_citizen_message(&f, 3, &["address:paul@example.org"], "Autre.", None).await;
    f.store.mark_duplicate(again, first).await.unwrap();
    let (token, csrf) = login(&f.app, "agent").await;

    let page = text(send(&f.app, get(&format!("/messages/{again}"), Some(&token))).await).await;
    assert!(page.contains("id=\"citizen-history\""), "{page}");
    assert!(
        page.contains(&format!("<li data-id=\"{first}\">")),
        "{page}"
    );
    assert!(
        !page.contains(&format!("<li data-id=\"{stranger}\">")),
        "{page}"
    );
    // Masked as triage masked it: no name.
    assert!(
        page.contains("Avis 1 de [NOM_1]") && !page.contains("Jean Martin"),
        "{page}"
    );
    assert!(page.contains("id=\"duplicate-of\""), "{page}");
    let page = text(send(&f.app, get(&format!("/messages/{stranger}"), Some(&token))).await).await;
    assert!(!page.contains("id=\"citizen-history\""), "{page}");

    let page = text(send(&f.app, get(&format!("/messages/{first}"), Some(&token))).await).await;
    assert!(page.contains("id=\"close-duplicates\""), "{page}");
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{first}/validate"),
            Some(&token),
            &format!(
                "csrf={csrf}&close_duplicates=1&text={}",
                enc("Bonjour,\nVoici votre avis.\nCordialement")
            ),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let m = f.store.get_message(again).await.unwrap().unwrap();
    assert_eq!(m.state, MessageState::Closed);
    let act = f.store.list_actions(again).await.unwrap().pop().unwrap();
    assert_eq!(act.kind, "close");
    assert_eq!(act.after["answered_by"], first);
    // The repeat's page now shows the first with its reply.
    let page = text(send(&f.app, get(&format!("/messages/{again}"), Some(&token))).await).await;
    assert!(page.contains("class=\"history-reply\""), "{page}");
}

/// A thanks-only mail: triage suggests closing it, one button (or `c`) does, and
/// the agent moves on; any open message can be closed for a coded reason.
#[tokio::test]
async fn a_thanks_only_mail_is_closed_without_a_reply() {
    let f = fixture().await;
    let thanks = add_citizen_message(
        &f,
        1,
        &[],
        "Merci beaucoup pour votre réponse rapide !",
        Some(facteur_core::CloseReason::Thanks),
    )
    .await;
    let (token, csrf) = login(&f.app, "agent").await;
    let page = text(send(&f.app, get(&format!("/messages/{thanks}"), Some(&token))).await).await;
    assert!(page.contains("id=\"close-suggestion\""), "{page}");
    assert!(page.contains("id=\"close-thanks\""), "{page}");
    let page_a =
        text(send(&f.app, get(&format!("/messages/{}", f.msg_a), Some(&token))).await).await;
    assert!(!page_a.contains("id=\"close-suggestion\""), "{page_a}");
    assert!(page_a.contains("id=\"close-form\""), "{page_a}");

    let close = |id: i64, reason: &str| {
        post_form(
            &format!("/messages/{id}/close"),
            Some(&token),
            &format!("csrf={csrf}&reason={reason}"),
        )
    };
    let res = send(&f.app, close(f.msg_a, "bientot")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = send(&f.app, close(thanks, "thanks")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(to.contains("done=closed"), "{to}");
    let m = f.store.get_message(thanks).await.unwrap().unwrap();
    assert_eq!(m.state, MessageState::Closed);
    // Closed is not open: a second close is refused.
    let res = send(&f.app, close(thanks, "spam")).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // Without the CSRF token, nothing happens.
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/close", f.msg_a),
            Some(&token),
            "reason=spam",
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(f
        .store
        .get_message(f.msg_a)
        .await
        .unwrap()
        .unwrap()
        .state
        .is_open());
}

/// "Ci-joint mon avis" with nothing attached: the message page says so, so the
/// agent asks for the document; a mail that does not announce one has no note.
#[tokio::test]
async fn an_announced_attachment_that_is_missing_is_pointed_out() {
    let f = fixture().await;
    let (token, _) = login(&f.app, "agent").await;
    let announced = add_message_with(
        &f.store,
        f.mb_a,
        &HOSTILE_MAIL.replace("hostile-1@", "pj-1@"),
        "d",
        |nm| nm.pseudonymised_text = "Bonjour,\nci-joint mon avis d'impôt.\n[NOM_1]".into(),
    )
    .await;
    let page = |id: i64| {
        let (app, token) = (f.app.clone(), token.clone());
        async move { text(send(&app, get(&format!("/messages/{id}"), Some(&token))).await).await }
    };
    let html = page(announced).await;
    assert!(html.contains("id=\"attachment-missing\""), "{html}");
    assert!(html.contains("aucune n'est jointe"), "{html}");
    let html = page(f.msg_a).await;
    assert!(!html.contains("id=\"attachment-missing\""), "{html}");
}

/// Every tab says how many messages it holds, and "Envoyés" means sent: a
/// validated reply waits in "En attente d'envoi" until the outbox sends it.
#[tokio::test]
async fn queue_tabs_show_their_counts_and_sent_means_sent() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let queue = |tab: &'static str| queue_of(&f, &token, tab.to_string());
    let count = |page: &str, tab: &str| -> usize {
        let key = format!("data-tab=\"{tab}\">(");
        let at = page
            .find(&key)
            .unwrap_or_else(|| panic!("no count for {tab}: {page}"))
            + key.len();
        page[at..].split(')').next().unwrap().parse().unwrap()
    };
    let page = queue("ready").await;
    let ready = page.matches("class=\"queue-row\"").count();
    assert!(ready > 0, "{page}");
    assert_eq!(count(&page, "ready"), ready, "{page}");
    assert_eq!(count(&page, "outgoing"), 0, "{page}");
    assert_eq!(count(&page, "sent"), 0, "{page}");

    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/validate", f.msg_a),
            Some(&token),
            &format!(
                "csrf={csrf}&text={}",
                enc("Bonjour,\nVoici la démarche.\nCordialement")
            ),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = queue("outgoing").await;
    assert_eq!(count(&page, "ready"), ready - 1, "{page}");
    assert_eq!(count(&page, "outgoing"), 1, "{page}");
    assert!(page.contains(&format!("data-id=\"{}\"", f.msg_a)), "{page}");
    let page = queue("sent").await;
    assert_eq!(count(&page, "sent"), 0, "{page}");
    assert!(
        !page.contains(&format!("data-id=\"{}\"", f.msg_a)),
        "{page}"
    );
    assert!(
        page.contains("id=\"queue-empty\""),
        "an empty tab says so: {page}"
    );
}

#[tokio::test]
async fn validate_queues_exactly_the_edited_text_with_the_agents_name() {
    // Sent at once: this test follows the reply past the outbox.
    let f = fixture_with(WebConfig {
        send_delay: std::time::Duration::ZERO,
        ..WebConfig::default()
    })
    .await;
    let (token, csrf) = login(&f.app, "agent").await;
    let page = text(send(&f.app, get(&format!("/messages/{}", f.msg_a), Some(&token))).await).await;
    assert!(page.contains("id=\"draft\""));
    assert!(page.contains("id=\"validate\""));
    assert!(
        page.contains("voici la démarche."),
        "the draft is in the textarea"
    );
    assert!(page.contains("id=\"back-to-queue\""));
    let next = add_message(
        &f.store,
        f.mb_a,
        &HOSTILE_MAIL.replace("hostile-1@", "next-1@"),
        "d",
    )
    .await;
    let page = text(send(&f.app, get(&format!("/messages/{}", f.msg_a), Some(&token))).await).await;
    assert!(
        page.contains(&format!(
            "id=\"next-message\" rel=\"next\" href=\"/messages/{next}?prev={}\"",
            f.msg_a
        )),
        "{page}"
    );
    assert!(
        !page.contains("id=\"prev-message\""),
        "no previous without ?prev"
    );
    // Reached through "next": the page links back to the message before it.
    let page = text(
        send(
            &f.app,
            get(&format!("/messages/{next}?prev={}", f.msg_a), Some(&token)),
        )
        .await,
    )
    .await;
    assert!(
        page.contains(&format!(
            "id=\"prev-message\" rel=\"prev\" href=\"/messages/{}\"",
            f.msg_a
        )),
        "{page}"
    );

    let edited =
        "Bonjour Madame,\r\nVoici la démarche corrigée : « espace particulier ».\r\nCordialement";
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/validate", f.msg_a),
            Some(&token),
            &format!("csrf={csrf}&text={}", enc(edited)),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let o = f
        .store
        .get_outbox_for_message(f.msg_a)
        .await
        .unwrap()
        .expect("outbox row");
    assert_eq!(o.body, edited.replace("\r\n", "\n"));
    assert_eq!(o.validated_by, f.agent);
    assert_eq!(o.validated_by_name, "Agnès Agent");
    assert_eq!(o.to_address, "jeanne@example.org");
    assert_eq!(o.in_reply_to.as_deref(), Some("hostile-1@example.org"));
    let m = f.store.get_message(f.msg_a).await.unwrap().unwrap();
    assert_eq!(m.state, MessageState::Validated);

    // The outbox page shows it; validating twice is a conflict, not a second reply.
    let out = text(send(&f.app, get("/outbox", Some(&token))).await).await;
    assert!(out.contains("id=\"outbox\""));
    assert!(out.contains("Agnès Agent"));
    assert!(out.contains("data-state=\"queued\""));
    assert!(out.contains("En attente d'envoi"), "state shown in French");
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/validate", f.msg_a),
            Some(&token),
            &format!("csrf={csrf}&text=again"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // A permanent failure is shown to the agent with the server's reason; a
    // delivery proven by the copy that came back is marked.
    let claimed = f
        .store
        .claim_outbox("w-test", std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .expect("claimable");
    assert_eq!(claimed.id, o.id);
    f.store
        .mark_failed(o.id, "w-test", true, "550 5.1.1 mailbox unknown")
        .await
        .unwrap();
    let out = text(send(&f.app, get("/outbox", Some(&token))).await).await;
    assert!(out.contains("data-state=\"failed\""), "{out}");
    assert!(out.contains("échec définitif"), "{out}");
    assert!(out.contains("550 5.1.1 mailbox unknown"), "{out}");
    assert!(!out.contains("class=\"delivery-confirmed\""));
    f.store
        .confirm_outbox_delivery(o.id, "test", "mailbox")
        .await
        .unwrap();
    let out = text(send(&f.app, get("/outbox", Some(&token))).await).await;
    assert!(out.contains("class=\"delivery-confirmed\""), "{out}");

    // The message's history: received, triaged (model and answer version),
    // validated by whom with the text edited, queued, failed, delivery confirmed;
    // the text sent, its recipient masked until the reveal.
    let page = text(send(&f.app, get(&format!("/messages/{}", f.msg_a), Some(&token))).await).await;
    let start = page.find("id=\"timeline\"").expect("a timeline");
    let history = &page[start..];
    let at = |needle: &str| {
        history
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} in {history}"))
    };
    assert!(at("Reçu") < at("Trié"));
    assert!(history.contains("<code>m1</code>"), "model version");
    assert!(
        history.contains("<code>rib-changement v1</code>"),
        "answer version"
    );
    assert!(at("Trié") < at("Validé par Agnès Agent (texte modifié)"));
    assert!(at("Validé par") < at("Mis en file d'envoi"));
    assert!(history.contains("550 5.1.1 mailbox unknown"));
    assert!(history.contains("Remise confirmée"));
    assert!(
        history.contains("Voici la démarche corrigée"),
        "the text sent"
    );
    assert!(history.contains("…@example.org"), "recipient masked");
    assert!(!history.contains("jeanne@example.org"), "recipient masked");
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let f = fixture().await;
    let (token, _) = login(&f.app, "agent").await;
    for (path, tok) in [
        ("/login", None),
        ("/nope", None),
        ("/api/me", None),
        ("/health", None),
        ("/static/app.js", None),
        ("/outbox", Some(token.as_str())),
    ] {
        let res = send(&f.app, get(path, tok)).await;
        let h = res.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    }
}

#[tokio::test]
async fn hostile_mail_html_is_sanitised_and_revealing_is_logged() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let path = format!("/messages/{}", f.msg_a);
    let page = text(send(&f.app, get(&path, Some(&token))).await).await;
    assert!(
        !page.contains("<script>alert"),
        "masked text must be escaped"
    );
    assert!(page.contains("&lt;script&gt;"));
    assert!(page.contains("<details"), "quoted parts folded");
    assert!(
        !page.contains("jeanne@example.org"),
        "personal data masked by default"
    );
    let body_path = format!("/messages/{}/body", f.msg_a);
    assert_eq!(
        send(&f.app, get(&body_path, Some(&token))).await.status(),
        StatusCode::FORBIDDEN
    );

    let res = send(
        &f.app,
        post_form(
            &format!("{path}/reveal"),
            Some(&token),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let actions = f.store.list_actions(f.msg_a).await.unwrap();
    assert!(
        actions.iter().any(|a| a.kind == "reveal_pii"),
        "{actions:?}"
    );

    let page = text(send(&f.app, get(&path, Some(&token))).await).await;
    assert!(page.contains("<iframe"));
    assert!(page.contains("sandbox=\"\""));
    assert!(page.contains("jeanne@example.org"));

    let res = send(&f.app, get(&body_path, Some(&token))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.starts_with("sandbox"), "{csp}");
    assert!(!csp.contains("https:"));
    let html = text(res).await;
    let lower = html.to_ascii_lowercase();
    assert!(html.contains("je veux changer mon RIB"));
    for bad in [
        "<script",
        "onmouseover",
        "onerror",
        "javascript:",
        "<style",
        "url(",
        "tracker.example",
        "evil.example",
    ] {
        assert!(!lower.contains(bad), "{bad} survived: {html}");
    }
    assert!(html.contains("alt=\"logo\""));

    // Images only on request.
    let res = send(&f.app, get(&format!("{body_path}?images=1"), Some(&token))).await;
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("img-src https:"));
    let html = text(res).await;
    assert!(html.contains("https://tracker.example/pixel.gif"));
    assert!(!html.to_ascii_lowercase().contains("onerror"));
}

#[tokio::test]
async fn language_health_metrics_and_openapi() {
    let f = fixture().await;
    let en = Request::get("/login")
        .header(header::ACCEPT_LANGUAGE, "en-GB,en;q=0.9,fr;q=0.5")
        .body(Body::empty())
        .unwrap();
    let page = text(send(&f.app, en).await).await;
    assert!(page.contains("<html lang=\"en\""));
    assert!(page.contains("Sign in"));
    assert!(page.contains("id=\"login-form\""));
    let fr = Request::get("/login")
        .header(header::ACCEPT_LANGUAGE, "en")
        .header(header::COOKIE, "facteur_lang=fr")
        .body(Body::empty())
        .unwrap();
    let page = text(send(&f.app, fr).await).await;
    assert!(page.contains("<html lang=\"fr\""));
    assert!(page.contains("Connexion"));
    assert!(page.contains("Aller au contenu"), "skip link");
    assert!(page.contains("<label for=\"username\""));

    let res = send(&f.app, get("/health", None)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(v["status"], "ok");

    let res = send(&f.app, get("/metrics", None)).await;
    let m = text(res).await;
    assert!(
        m.contains(
            "facteur_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1"
        ),
        "{m}"
    );
    assert!(m.contains("facteur_outbox{state=\"queued\"} 0"), "{m}");
    assert!(
        m.contains("facteur_messages{state=\"ready_to_validate\"} 2"),
        "{m}"
    );
    assert!(m.contains("facteur_messages{state=\"sent\"} 0"), "{m}");

    let res = send(&f.app, get("/api/openapi.json", None)).await;
    let v: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(v["openapi"], "3.1.0");
    assert!(v["paths"]["/api/messages/{id}/validate"]["post"].is_object());
}

#[tokio::test]
async fn queue_pages_by_keyset_without_overlap() {
    let f = fixture().await;
    for i in 0..55 {
        let raw = HOSTILE_MAIL.replace("hostile-1@", &format!("bulk-{i}@"));
        add_message(&f.store, f.mb_a, &raw, "d").await;
    }
    let (token, _) = login(&f.app, "agent").await;
    let first = text(
        send(
            &f.app,
            get(
                &format!("/mailboxes/{}/queue?tab=ready", f.mb_a),
                Some(&token),
            ),
        )
        .await,
    )
    .await;
    let ids = |page: &str| -> Vec<String> {
        page.match_indices("class=\"queue-row\" data-id=\"")
            .map(|(i, m)| page[i + m.len()..].split('"').next().unwrap().to_string())
            .collect()
    };
    let p1 = ids(&first);
    assert_eq!(p1.len(), 50);
    let start = first.find("id=\"next-page\"").expect("next link");
    let href = first[start..]
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(href.contains("after="), "{href}");
    let second = text(
        send(
            &f.app,
            get(&format!("/mailboxes/{}/queue{href}", f.mb_a), Some(&token)),
        )
        .await,
    )
    .await;
    let p2 = ids(&second);
    assert_eq!(p2.len(), 56 - 50);
    assert!(p2.iter().all(|id| !p1.contains(id)), "pages overlap");
    assert!(!second.contains("id=\"next-page\""));
    // A forged cursor is a 400, not a crash.
    let res = send(
        &f.app,
        get(
            &format!("/mailboxes/{}/queue?after=1_x_2", f.mb_a),
            Some(&token),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn category_correction_checks_the_taxonomy_and_recomputes_the_draft() {
    let f = fixture().await;
    // A node's service without a model or answers: the correction retriages with
    // the agent's category, recorded as a new triage.
    let dir = tempfile::tempdir().unwrap();
    let engine = facteur_triage::Engine::new(None, None, Default::default());
    let svc = common::service_over(f.store.clone(), engine, None, dir.path());
    let state = AppState::new(f.store.clone(), taxonomy(), WebConfig::default()).with_service(svc);
    let triages = || async { f.store.list_triages(f.msg_a).await.unwrap() };
    let before = triages().await.len();
    let app = router(state);
    let (token, csrf) = login(&app, "agent").await;
    let path = format!("/messages/{}/correct", f.msg_a);
    let res = send(
        &app,
        post_form(
            &path,
            Some(&token),
            &format!("csrf={csrf}&category=inconnue"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(triages().await.len(), before);
    let res = send(
        &app,
        post_form(&path, Some(&token), &format!("csrf={csrf}&category=avis")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let m = f.store.get_message(f.msg_a).await.unwrap().unwrap();
    assert_eq!(m.category.as_deref(), Some("avis"));
    let after = triages().await;
    assert_eq!(after.len(), before + 1);
    assert_eq!(after.last().unwrap().category.as_deref(), Some("avis"));
    let kinds: Vec<String> = f
        .store
        .list_actions(f.msg_a)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert!(kinds.contains(&"correct_category".to_string()), "{kinds:?}");
}

const ANSWER_OK: &str = "+++\n\
id = \"rib-changement\"\n\
title = \"Changer de RIB\"\n\
version = 1\n\
status = \"draft\"\n\
request_types = [\"rib\"]\n\
valid_from = 2020-01-01\n\
valid_until = 2099-12-31\n\
language = \"fr\"\n\
variables = [\"nom\"]\n\
links = []\n\
author = \"Sylvie\"\n\
reviewed_by = \"Sylvie\"\n\
+++\n\
Bonjour {{nom}},\n\
\n\
Vous pouvez modifier vos coordonnées bancaires dans votre espace particulier.\n";

#[tokio::test]
async fn supervisor_answers_are_validated_with_line_numbers_and_versioned() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "super").await;
    let bad = ANSWER_OK.replace("Vous pouvez", "{{inconnue}} Vous pouvez");
    let res = send(
        &f.app,
        post_form(
            "/answers",
            Some(&token),
            &format!("csrf={csrf}&content={}", enc(&bad)),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = text(res).await;
    assert!(page.contains("id=\"answer-errors\""), "{page}");
    assert!(
        page.contains("ligne 17"),
        "the error points at the line: {page}"
    );
    assert!(f
        .store
        .list_answer_versions("rib-changement")
        .await
        .unwrap()
        .is_empty());

    let res = send(
        &f.app,
        post_form(
            "/answers",
            Some(&token),
            &format!("csrf={csrf}&content={}", enc(ANSWER_OK)),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", text(res).await);
    let res = send(
        &f.app,
        post_form(
            "/answers/rib-changement",
            Some(&token),
            &format!(
                "csrf={csrf}&op=submit&content={}",
                enc(&ANSWER_OK.replace("Vous pouvez", "Vous pouvez désormais"))
            ),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let versions = f
        .store
        .list_answer_versions("rib-changement")
        .await
        .unwrap();
    assert_eq!(versions.len(), 2, "an edit is a new version");
    // Four eyes: the author is told another supervisor must validate, and the
    // store refuses her own validation.
    let page = text(send(&f.app, get("/answers/rib-changement", Some(&token))).await).await;
    assert!(
        page.contains("À valider par un autre superviseur"),
        "{page}"
    );
    let validate = |token: &str, csrf: &str| {
        post_form(
            "/answers/rib-changement/2/validate",
            Some(token),
            &format!("csrf={csrf}"),
        )
    };
    let res = send(&f.app, validate(&token, &csrf)).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(text(res)
        .await
        .contains("un autre superviseur doit la valider"));
    f.store
        .create_user(
            &NewUser {
                username: "relecteur".into(),
                display_name: "Rémi Relecteur".into(),
                password_hash: light_hash(PASSWORD),
                role: Role::Supervisor,
            },
            None,
        )
        .await
        .unwrap();
    let (reviewer, reviewer_csrf) = login(&f.app, "relecteur").await;
    // Version 1 was only saved as a draft: nobody submitted it for validation.
    let res = send(
        &f.app,
        post_form(
            "/answers/rib-changement/1/validate",
            Some(&reviewer),
            &format!("csrf={reviewer_csrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = send(&f.app, validate(&reviewer, &reviewer_csrf)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let v2 = f
        .store
        .get_answer_version("rib-changement", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v2.status, facteur_core::AnswerStatus::Validated);
    let list = text(send(&f.app, get("/answers", Some(&token))).await).await;
    assert!(list.contains("rib-changement"));
    assert!(list.contains("<td>2</td>"), "latest version listed: {list}");
    // Changing the id on edit is refused.
    let res = send(
        &f.app,
        post_form(
            "/answers/rib-changement",
            Some(&token),
            &format!(
                "csrf={csrf}&content={}",
                enc(&ANSWER_OK.replace("id = \"rib-changement\"", "id = \"autre\""))
            ),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn admin_creates_accounts_with_mailboxes_and_deactivates_them() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "admin").await;
    let res = send(
        &f.app,
        post_form(
            "/admin/users",
            Some(&token),
            &format!("csrf={csrf}&username=court&display_name=C&password=short&role=agent"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let form = format!(
        "csrf={csrf}&username=nina&display_name=Nina&password={PASSWORD}&role=agent&mailbox={}",
        f.mb_b
    );
    let res = send(&f.app, post_form("/admin/users", Some(&token), &form)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (nina, _) = login(&f.app, "nina").await;
    assert_eq!(
        send(
            &f.app,
            get(&format!("/mailboxes/{}/queue", f.mb_b), Some(&nina))
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert_eq!(
        send(
            &f.app,
            get(&format!("/mailboxes/{}/queue", f.mb_a), Some(&nina))
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    let id = f
        .store
        .get_user_by_username("nina")
        .await
        .unwrap()
        .unwrap()
        .id;
    // A first post only asks to confirm: nothing changes yet.
    let deactivate = |confirm: &str| {
        post_form(
            &format!("/admin/users/{id}/deactivate"),
            Some(&token),
            &format!("csrf={csrf}{confirm}"),
        )
    };
    let res = send(&f.app, deactivate("")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = text(res).await;
    assert!(page.contains("id=\"confirm-deactivate-form\""), "{page}");
    assert!(f.store.get_user(id).await.unwrap().unwrap().active);
    let res = send(&f.app, deactivate("&confirm=1")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!f.store.get_user(id).await.unwrap().unwrap().active);
    // Her session ends with the account.
    let res = send(
        &f.app,
        get(&format!("/mailboxes/{}/queue", f.mb_b), Some(&nina)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The list offers to reactivate her; once reactivated she signs in again.
    let page = text(send(&f.app, get("/admin/users", Some(&token))).await).await;
    assert!(
        page.contains(&format!("action=\"/admin/users/{id}/reactivate\"")),
        "{page}"
    );
    let res = send(
        &f.app,
        post_form(
            &format!("/admin/users/{id}/reactivate"),
            Some(&token),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    login(&f.app, "nina").await;
    let actions: Vec<String> = f
        .store
        .list_audit(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.target == format!("user:{id}"))
        .map(|r| r.action)
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "user.update").count(), 2);
    let res = send(
        &f.app,
        post_form(
            "/admin/mailboxes",
            Some(&token),
            &format!("csrf={csrf}&name=SIP+Brest&address=sip.brest%40impots.example&signature=x"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(f
        .store
        .get_mailbox_by_name("SIP Brest")
        .await
        .unwrap()
        .is_some());
}

/// An administrator edits a mailbox's signature, send delay and IMAP folder;
/// the delay governs the next validated reply; agents may not edit.
#[tokio::test]
async fn an_admin_edits_a_mailbox_and_its_send_delay_applies() {
    let f = fixture().await;
    let (admin, csrf) = login(&f.app, "admin").await;
    let path = format!("/admin/mailboxes/{}", f.mb_a);
    let page = text(send(&f.app, get(&path, Some(&admin))).await).await;
    assert!(page.contains("id=\"mailbox-edit\""), "{page}");
    let save = |body: &str| post_form(&path, Some(&admin), &format!("csrf={csrf}&{body}"));
    let res = send(&f.app, save("signature=x&send_delay_seconds=demain")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = send(
        &f.app,
        save("signature=Le+SIP+de+Lyon&send_delay_seconds=300&imap_folder=INBOX.Usagers"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let m = f.store.get_mailbox(f.mb_a).await.unwrap().unwrap();
    assert_eq!(m.signature, "Le SIP de Lyon");
    assert_eq!(m.send_delay_seconds(), Some(300));
    assert_eq!(m.imap_folder(), Some("INBOX.Usagers"));
    let (agent, agent_csrf) = login(&f.app, "agent").await;
    assert_eq!(
        send(&f.app, get(&path, Some(&agent))).await.status(),
        StatusCode::FORBIDDEN
    );
    // The next reply of that mailbox waits its 300 s, not the service's 30.
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/validate", f.msg_a),
            Some(&agent),
            &format!(
                "csrf={agent_csrf}&text={}",
                enc("Bonjour,\nVoici la démarche.\nCordialement")
            ),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let row = f
        .store
        .get_outbox_for_message(f.msg_a)
        .await
        .unwrap()
        .unwrap();
    let due = row.next_attempt_at.expect("held until due");
    let now = f.store.now_ms();
    assert!(due - now > 200_000, "held {} ms", due - now);
}

#[tokio::test]
async fn attachments_download_as_octet_stream_only() {
    let f = fixture().await;
    let raw = "From: a@example.org\r\nTo: sip@impots.example\r\nSubject: PJ\r\nMessage-ID: <pj-1@example.org>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nVoir PJ\r\n\
--b\r\nContent-Type: text/html; name=\"avis.html\"\r\nContent-Disposition: attachment; filename=\"avis.html\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nPHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\r\n--b--\r\n";
    let id = add_message(&f.store, f.mb_a, raw, "d").await;
    let (token, csrf) = login(&f.app, "agent").await;
    send(
        &f.app,
        post_form(
            &format!("/messages/{id}/reveal"),
            Some(&token),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    let page = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    let start = page.find("/attachments/").expect("attachment link");
    let href = page[..start].rsplit('"').next().unwrap().to_string()
        + page[start..].split('"').next().unwrap();
    let res = send(&f.app, get(&href, Some(&token))).await;
    assert_eq!(res.status(), StatusCode::OK, "{href}");
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    let cd = res.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cd.starts_with("attachment;"), "{cd}");
    assert!(cd.contains("avis.html"));
    assert_eq!(text(res).await, "<script>alert(1)</script>");
    let res = send(
        &f.app,
        get(
            &format!("/messages/{id}/attachments/{}", "0".repeat(64)),
            Some(&token),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn serve_answers_on_a_real_socket() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture().await;
    let state = AppState::new(f.store.clone(), taxonomy(), WebConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(facteur_web::serve(listener, state));
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let resp = String::from_utf8_lossy(&buf);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.to_ascii_lowercase().contains("x-frame-options: deny"));
    assert!(resp.contains("\"status\":\"ok\""));
    server.abort();
}

// ------------------------------------------------------------ learning pages

const T0: i64 = 1_750_032_000_000; // Monday 2025-06-16 00:00 UTC
const DAY: i64 = 24 * 3_600_000;

/// A registry record as the trainer writes it (metrics on the fixed eval set).
fn model_record() -> serde_json::Value {
    serde_json::to_value(facteur_learn::ModelRecord {
        training_sha256: "ab".repeat(32),
        training_examples: 420,
        feedback_examples: 17,
        taxonomy: vec!["rib".into(), "avis".into()],
        training_distribution: [("rib".to_string(), 0.5), ("avis".to_string(), 0.5)].into(),
        vocabulary_size: 1000,
        eval: facteur_learn::EvalSummary {
            eval_set_sha256: "cd".repeat(32),
            examples: 120,
            accuracy: 0.8125,
            macro_f1: 0.7733,
            per_class_f1: Default::default(),
            coverage_at_95_precision: 0.41,
            expected_calibration_error: 0.05,
        },
        trained_at: T0,
        train_seconds: 3.0,
        note: None,
        embedding_model: None,
        calibration: None,
    })
    .unwrap()
}

/// Registers `id` and promotes it in the supervisor's name at the store's "now".
async fn promote_model(store: &Store, id: &str) {
    let sup = store.get_user_by_username("super").await.unwrap().unwrap();
    store
        .create_model_version(id, &model_record(), Some(sup.id))
        .await
        .unwrap();
    store.promote_model(id, sup.id).await.unwrap();
}

fn learn_config(data_dir: &std::path::Path) -> WebConfig {
    WebConfig {
        data_dir: Some(data_dir.to_path_buf()),
        contact: "Service de la transparence, SIP de Lyon".into(),
        ..WebConfig::default()
    }
}

#[tokio::test]
async fn transparency_sheet_is_public_bilingual_and_impersonal() {
    let data = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let f = fixture_clocked(learn_config(data.path()), Some(clock)).await;

    // No model yet: the sheet says so, cost unknown is said, not zero.
    let res = send(&f.app, get("/transparence", None)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = text(res).await;
    assert!(html.contains("Aucune réponse n'est envoyée sans la validation d'un agent nommé"));
    assert!(html.contains("id=\"no-model\""), "{html}");
    assert!(html.contains("non mesuré"));

    promote_model(&f.store, "m-2025-06").await;
    let html = text(send(&f.app, get("/transparence", None)).await).await;
    assert!(html.contains("m-2025-06"));
    // What the model reads: words only for a model trained without embeddings.
    assert!(
        html.contains("id=\"model-reads\">les mots du courriel</dd>"),
        "{html}"
    );
    assert!(html.contains("81,2 %"), "accuracy on the eval set");
    // Its abstain threshold: fitted out of fold.
    assert!(
        html.contains("id=\"model-threshold\">ajusté sur les exemples d'entraînement (validation croisée)</dd>"),
        "{html}"
    );
    assert!(html.contains("Service de la transparence, SIP de Lyon"));
    // Two messages were received; their states are counted.
    assert!(html.contains("Messages reçus : 2"), "{html}");
    let res = send(&f.app, get("/transparence.json", None)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let json = text(res).await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["active_model"]["version"], "m-2025-06");
    assert_eq!(v["metrics"]["evaluation_examples"], 120);
    assert_eq!(v["volumes"]["messages_handled"], 2);
    assert_eq!(v["compute_measured"], false);
    assert!(v["compute"]["cpu_seconds_per_1000_messages"].is_null());
    assert_eq!(v["active_model"]["next_review_due"], "2025-09-14");
    assert!(v["active_model"].get("embedding_model").is_none(), "{v}");
    let by_state: i64 = v["messages_by_state"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(by_state, 2);

    // Nobody is named: no display name, username or address, in either format.
    for body in [&html, &json] {
        for personal in [
            "Agnès",
            "Sylvie",
            "Adam",
            "jeanne",
            "Jeanne",
            "Martin",
            "@",
            "promoted_by",
            "trained_by",
        ] {
            assert!(!body.contains(personal), "{personal} leaked");
        }
    }

    // Linked from every page, the login page included.
    let login_page = text(send(&f.app, get("/login", None)).await).await;
    assert!(login_page.contains("href=\"/transparence\""));

    // A version whose threshold was refitted on held-apart mail says so, with what
    // it did there.
    let sup = f
        .store
        .get_user_by_username("super")
        .await
        .unwrap()
        .unwrap();
    let mut rec = model_record();
    rec["calibration"] = serde_json::json!({
        "sha256": "ef".repeat(32), "in_scope": 180, "out_of_scope": 45, "coverage": 0.645,
        "precision": 0.98, "out_of_scope_answered": 0.022, "threshold_before": 0.987,
        "out_of_scope_floor": 0.91
    });
    f.store
        .create_model_version("m-2025-07", &rec, Some(sup.id))
        .await
        .unwrap();
    f.store.promote_model("m-2025-07", sup.id).await.unwrap();
    let html = text(send(&f.app, get("/transparence", None)).await).await;
    assert!(
        html.contains("recalé sur des courriels étiquetés tenus à part de l'entraînement (225, dont 45 hors périmètre)\u{a0}; couverture 64,5 %, précision 98 %"),
        "{html}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&text(send(&f.app, get("/transparence.json", None)).await).await)
            .unwrap();
    assert_eq!(v["active_model"]["calibration"]["in_scope"], 180, "{v}");

    // English through the usual switch (the language cookie).
    let req = Request::get("/transparence")
        .header(header::COOKIE, "facteur_lang=en")
        .body(Body::empty())
        .unwrap();
    let html = text(send(&f.app, req).await).await;
    assert!(
        html.contains("refitted on labelled mails held apart from training (225, of which 45 out of scope); coverage 64.5%, precision 98%"),
        "{html}"
    );
    assert!(html.contains("No reply is sent without being validated by a named agent"));
    assert!(html.contains("not measured"));
}

#[tokio::test]
async fn agents_cannot_reach_supervision_or_models() {
    let data = tempfile::tempdir().unwrap();
    let f = fixture_with(learn_config(data.path())).await;
    let (agent, csrf) = login(&f.app, "agent").await;
    for path in ["/supervision", "/modeles"] {
        let res = send(&f.app, get(path, Some(&agent))).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    promote_model(&f.store, "m1").await;
    for (path, body) in [
        ("/modeles/m1/review", format!("csrf={csrf}&decision=keep")),
        ("/modeles/m1/promote", format!("csrf={csrf}")),
        ("/modeles/rollback", format!("csrf={csrf}")),
        (
            "/supervision/switches",
            format!("csrf={csrf}&action=off&scope=mailbox&value={}", f.mb_a),
        ),
    ] {
        let res = send(&f.app, post_form(path, Some(&agent), &body)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(f.store.list_kill_switches().await.unwrap().is_empty());
    let reviews = facteur_learn::registry::list_reviews(&f.store)
        .await
        .unwrap();
    assert!(reviews.is_empty());

    // A supervisor sees the dashboard, with one chart per indicator and its table.
    let (sup, _) = login(&f.app, "super").await;
    let res = send(&f.app, get("/supervision", Some(&sup))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = text(res).await;
    assert!(html.matches("<svg").count() >= 4, "{html}");
    assert!(html.contains("class=\"drift-table\""));
    assert!(html.contains("Temps rendu aux agents"));
    let res = send(&f.app, get("/modeles", Some(&sup))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = text(res).await;
    assert!(html.contains("data-version=\"m1\""));
    assert!(
        html.contains("0,773"),
        "macro-F1 shown, French decimal comma"
    );
    assert!(html.contains("Sylvie Superviseure"), "the named promoter");
}

#[tokio::test]
async fn kill_switch_needs_csrf_and_is_stored_and_audited() {
    let data = tempfile::tempdir().unwrap();
    let f = fixture_with(learn_config(data.path())).await;
    let (sup, csrf) = login(&f.app, "super").await;
    let body = format!(
        "action=off&scope=mailbox&value={}&reason=incident+en+cours",
        f.mb_a
    );

    let res = send(
        &f.app,
        post_form("/supervision/switches", Some(&sup), &body),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(f.store.list_kill_switches().await.unwrap().is_empty());

    let res = send(
        &f.app,
        post_form(
            "/supervision/switches",
            Some(&sup),
            &format!("csrf={csrf}&{body}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // In the database every node shares, not in a file of this node.
    let switches = f.store.list_kill_switches().await.unwrap();
    assert_eq!(switches.len(), 1);
    assert_eq!(switches[0].scope_kind, "mailbox");
    assert_eq!(switches[0].scope_value, f.mb_a.to_string());
    assert_eq!(switches[0].reason, "incident en cours");
    assert!(!data.path().join("learn/kill_switches.json").exists());
    let audit = f.store.list_audit(0, 1000).await.unwrap();
    let row = audit
        .iter()
        .find(|r| r.action == "kill_switch.off")
        .expect("audit row");
    assert_eq!(row.target, format!("mailbox:{}", f.mb_a));
    assert!(row.actor.starts_with("user:"));

    // A request type, then back on for the mailbox.
    let res = send(
        &f.app,
        post_form(
            "/supervision/switches",
            Some(&sup),
            &format!("csrf={csrf}&action=off&scope=request_type&value=rib"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = text(send(&f.app, get("/supervision", Some(&sup))).await).await;
    assert_eq!(html.matches("class=\"switch-off\"").count(), 2, "{html}");
    let res = send(
        &f.app,
        post_form(
            "/supervision/switches",
            Some(&sup),
            &format!("csrf={csrf}&action=on&scope=mailbox&value={}", f.mb_a),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let left = f.store.list_kill_switches().await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        (left[0].scope_kind.as_str(), left[0].scope_value.as_str()),
        ("request_type", "rib")
    );
    // The whole service, shown on the public sheet without its reason.
    let res = send(
        &f.app,
        post_form(
            "/supervision/switches",
            Some(&sup),
            &format!("csrf={csrf}&action=off&scope=all&value=&reason=secret+incident"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let sheet = text(send(&f.app, get("/transparence.json", None)).await).await;
    let sheet: serde_json::Value = serde_json::from_str(&sheet).unwrap();
    assert_eq!(sheet["suggestions_switched_off"]["whole_service"], true);
    assert_eq!(sheet["suggestions_switched_off"]["request_types"], 1);
    assert!(!sheet.to_string().contains("secret"));
    let audit = f.store.list_audit(0, 1000).await.unwrap();
    assert!(audit.iter().any(|r| r.action == "kill_switch.on"));
    // Unknown scopes and types are refused, not stored.
    let res = send(
        &f.app,
        post_form(
            "/supervision/switches",
            Some(&sup),
            &format!("csrf={csrf}&action=off&scope=request_type&value=inconnu"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn overdue_review_shows_a_banner_until_a_review_is_recorded() {
    let data = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let f = fixture_clocked(learn_config(data.path()), Some(clock.clone())).await;
    promote_model(&f.store, "m1").await;
    let queue = format!("/mailboxes/{}/queue", f.mb_a);
    let (agent, _) = login(&f.app, "agent").await;
    let html = text(send(&f.app, get(&queue, Some(&agent))).await).await;
    assert!(!html.contains("review-banner"), "not due yet");

    // 91 days later (sessions expired meanwhile: sign in again).
    clock.set(T0 + 91 * DAY);
    let (agent, _) = login(&f.app, "agent").await;
    let html = text(send(&f.app, get(&queue, Some(&agent))).await).await;
    assert!(
        html.contains("Revue du modèle en retard depuis le 14/09/2025"),
        "{html}"
    );
    assert!(
        !html.contains("href=\"/modeles\""),
        "no link agents cannot follow"
    );
    let (sup, csrf) = login(&f.app, "super").await;
    let html = text(send(&f.app, get("/supervision", Some(&sup))).await).await;
    assert!(html.contains("Revue du modèle en retard"));

    let res = send(
        &f.app,
        post_form(
            "/modeles/m1/review",
            Some(&sup),
            &format!("csrf={csrf}&decision=keep&note=RAS"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = text(send(&f.app, get(&queue, Some(&agent))).await).await;
    assert!(
        !html.contains("review-banner"),
        "review recorded: banner gone"
    );
    let html = text(send(&f.app, get("/modeles", Some(&sup))).await).await;
    assert!(html.contains("conserver"), "last decision shown");
    let reviews = facteur_learn::registry::list_reviews(&f.store)
        .await
        .unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].reviewed_at, T0 + 91 * DAY);
    assert_eq!(reviews[0].metrics_seen["examples"], 120);
}

/// Trains a small real model into the registry (the promote form refuses a
/// version whose files do not load, so a fake record is not enough).
async fn train_small(store: &Store, dir: &std::path::Path, take: usize) -> String {
    let demo = |name: &str| {
        facteur_classify::read_jsonl(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../answers/demo")
                .join(name),
        )
        .unwrap()
    };
    let base: Vec<_> = demo("examples.jsonl").into_iter().take(take).collect();
    let eval: Vec<_> = demo("eval.jsonl").into_iter().take(60).collect();
    let cfg = facteur_learn::RegistryConfig {
        train: facteur_classify::TrainConfig {
            threads: 1,
            seed: 7,
            cv_folds: 2,
            ..Default::default()
        },
        ..Default::default()
    };
    facteur_learn::registry::train_candidate(
        store,
        dir,
        &cfg,
        facteur_learn::TrainRequest {
            embeddings: None,
            base: &base,
            feedback: &[],
            eval_set: &eval,
            calibration: &[],
            trained_by: None,
            note: None,
        },
    )
    .await
    .unwrap()
    .candidate
    .version
}

#[tokio::test]
async fn supervisor_promotes_in_their_name_and_rolls_back_from_the_page() {
    let data = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let f = fixture_clocked(learn_config(data.path()), Some(clock.clone())).await;
    let first = train_small(&f.store, data.path(), 200).await;
    clock.set(T0 + DAY);
    let second = train_small(&f.store, data.path(), 400).await;
    assert_ne!(first, second);

    let (agent, acsrf) = login(&f.app, "agent").await;
    let res = send(
        &f.app,
        post_form(
            &format!("/modeles/{first}/promote"),
            Some(&agent),
            &format!("csrf={acsrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(f.store.active_model().await.unwrap().is_none());

    let (sup, csrf) = login(&f.app, "super").await;
    let sup_id = f
        .store
        .get_user_by_username("super")
        .await
        .unwrap()
        .unwrap()
        .id;
    for v in [&first, &second] {
        let res = send(
            &f.app,
            post_form(
                &format!("/modeles/{v}/promote"),
                Some(&sup),
                &format!("csrf={csrf}"),
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "promote {v}");
        let active = f.store.active_model().await.unwrap().unwrap();
        assert_eq!(&active.id, v);
        assert_eq!(active.promoted_by, Some(sup_id));
    }
    // Promoting the active one again is a conflict, not a silent success.
    let res = send(
        &f.app,
        post_form(
            &format!("/modeles/{second}/promote"),
            Some(&sup),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = text(send(&f.app, get("/modeles", Some(&sup))).await).await;
    assert!(html.contains(&format!("action=\"/modeles/{first}/promote\"")));
    assert!(html.contains(&format!("action=\"/modeles/{second}/review\"")));

    let res = send(
        &f.app,
        post_form("/modeles/rollback", Some(&sup), &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(f.store.active_model().await.unwrap().unwrap().id, first);
    let audit = f.store.list_audit(0, 1000).await.unwrap();
    assert!(audit
        .iter()
        .any(|r| r.action == "model.rollback" && r.actor == format!("user:{sup_id}")));
}

#[tokio::test]
async fn kb_search_api_needs_a_session_and_shows_this_nodes_answers() {
    let f = fixture().await;
    // Without a knowledge base on this node: 404 (after the session check).
    let (agent, _) = login(&f.app, "agent").await;
    let res = send(&f.app, get("/api/kb/search?q=paiement", Some(&agent))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let kb_dir = tempfile::tempdir().unwrap();
    let mut kb = facteur_kb::KnowledgeBase::open(kb_dir.path()).unwrap();
    let answers = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../answers");
    let (_, errors) = kb
        .import_answers(&answers.join("demo"), Some(&answers.join("taxonomy.toml")))
        .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    // This node's service, its answers synced at the store's revision 7.
    let engine = facteur_triage::Engine::new(None, Some(kb), Default::default());
    let svc = common::service_over(f.store.clone(), engine, Some(7), kb_dir.path());
    let state = AppState::new(f.store.clone(), taxonomy(), WebConfig::default()).with_service(svc);
    let app = router(state);

    let res = send(&app, get("/api/kb/search?q=d%C3%A9lai+de+paiement", None)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (agent, _) = login(&app, "agent").await;
    let res = send(&app, get("/api/kb/search?q=", Some(&agent))).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = send(
        &app,
        get(
            "/api/kb/search?q=d%C3%A9lai+de+paiement&limit=3",
            Some(&agent),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(v["revision"], 7);
    let hits = v["hits"].as_array().unwrap();
    assert!(!hits.is_empty() && hits.len() <= 3, "{v}");
    let top = &hits[0];
    assert_eq!(top["id"], "delais-paiement", "{v}");
    assert!(top["body"].as_str().unwrap().contains("délai de paiement"));
}

#[tokio::test]
async fn a_switch_withdraws_the_drafts_already_prepared() {
    let data = tempfile::tempdir().unwrap();
    let f = fixture_with(learn_config(data.path())).await;
    let (agent, _) = login(&f.app, "agent").await;
    let (sup, csrf) = login(&f.app, "super").await;
    let agent_page = || async {
        let html =
            text(send(&f.app, get(&format!("/messages/{}", f.msg_a), Some(&agent))).await).await;
        let offered = html.contains("voici la démarche")
            && html.contains("rib-changement")
            && html.contains("<mark>coordonnées</mark>");
        let notice = html.contains("id=\"draft-withdrawn\"");
        // Offered and withdrawn are exclusive; either way the agent can still reply.
        assert!(offered != notice, "{html}");
        assert!(html.contains("id=\"draft-form\""), "{html}");
        if notice {
            assert!(html.contains("Suggestion retirée"), "{html}");
        }
        offered
    };
    let switch = |action: &'static str, scope: &'static str, value: String| {
        let req = post_form(
            "/supervision/switches",
            Some(&sup),
            &format!("csrf={csrf}&action={action}&scope={scope}&value={value}"),
        );
        async { assert_eq!(send(&f.app, req).await.status(), StatusCode::SEE_OTHER) }
    };
    assert!(agent_page().await, "offered before any switch");
    // Another mailbox's switch leaves this message alone.
    switch("off", "mailbox", f.mb_b.to_string()).await;
    assert!(agent_page().await);
    // The draft's request type switched off: the prepared draft and its suggestion
    // are withdrawn from the agent's page at once, with a notice saying why.
    switch("off", "request_type", "rib".into()).await;
    assert!(!agent_page().await);
    // Back on: the draft is offered again.
    switch("on", "request_type", "rib".into()).await;
    assert!(agent_page().await);
    // This mailbox, or the whole service, switched off withdraws it too.
    switch("off", "mailbox", f.mb_a.to_string()).await;
    assert!(!agent_page().await);
    switch("on", "mailbox", f.mb_a.to_string()).await;
    assert!(agent_page().await);
    switch("off", "all", String::new()).await;
    assert!(!agent_page().await);
}

#[tokio::test]
async fn a_reply_with_fields_left_to_complete_is_refused_and_nothing_is_queued() {
    let f = fixture().await;
    let draft =
        "Bonjour [[à compléter : civilite]] Girard,\nVotre avis de [[à compléter : annee]].";
    let id = add_message(
        &f.store,
        f.mb_a,
        &HOSTILE_MAIL.replace("hostile-1@", "unfilled-1@"),
        draft,
    )
    .await;
    let (token, csrf) = login(&f.app, "agent").await;
    let page = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    assert!(page.contains("id=\"unfilled-fields\""), "{page}");
    // Nobody is preselected as assignee of an unassigned message.
    assert!(
        page.contains("disabled selected>— Choisir un agent —</option>"),
        "{page}"
    );
    assert!(
        page.contains("<code>[[à compléter : annee]]</code>"),
        "{page}"
    );

    let validate = |text: &str| {
        post_form(
            &format!("/messages/{id}/validate"),
            Some(&token),
            &format!("csrf={csrf}&text={}", enc(text)),
        )
    };
    // As drafted, then with one field still left: refused, in French, nothing queued.
    for body in [
        draft,
        "Bonjour Madame Girard,\nVotre avis de [[à compléter : annee]].",
    ] {
        let res = send(&f.app, validate(body)).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = text(res).await;
        assert!(html.contains("champs à compléter"), "{html}");
        assert!(html.contains("Rien n'a été envoyé"), "{html}");
        // On the message page itself: the reason beside the draft, the agent's
        // text kept, the navigation there, the reason said once.
        assert!(html.contains("id=\"validate-error\""), "{html}");
        assert!(html.contains(&format!(">{body}</textarea>")), "{html}");
        assert!(html.contains("id=\"back-to-queue\""), "{html}");
        assert_eq!(html.matches("champs à compléter").count(), 1, "{html}");
    }
    let res = send(&f.app, validate("   ")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(res).await.contains("La réponse est vide"));
    assert!(f.store.list_outbox(None, 10).await.unwrap().is_empty());
    // The same rule on the JSON API, with a stable code.
    let res = send(
        &f.app,
        Request::post(format!("/api/messages/{id}/validate"))
            .header(header::COOKIE, format!("facteur_session={token}"))
            .header("x-csrf-token", &csrf)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::json!({"text": draft}).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(body["error"], "reply_unfilled", "{body}");
    assert!(f.store.list_outbox(None, 10).await.unwrap().is_empty());

    // Completed: queued.
    let res = send(
        &f.app,
        validate("Bonjour Madame Girard,\nVotre avis de 2024."),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(f.store.list_outbox(None, 10).await.unwrap().len(), 1);
}

/// A GET with the session and a language cookie.
fn get_lang(path: &str, token: &str, lang: &str) -> Request<Body> {
    Request::get(path)
        .header(
            header::COOKIE,
            format!("facteur_session={token}; facteur_lang={lang}"),
        )
        .body(Body::empty())
        .unwrap()
}

fn json_of(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

const PII_SUBJECT: &str = "Jean Dupont - numero fiscal 1234567890123 - tel 06 12 34 56 78";

#[tokio::test]
async fn subjects_with_personal_data_are_masked_until_revealed() {
    let f = fixture().await;
    let raw = HOSTILE_MAIL
        .replace("hostile-1@", "pii-subject-1@")
        .replace(
            "Subject: Changement de RIB",
            &format!("Subject: {PII_SUBJECT}"),
        )
        .replace("Jeanne Martin <jeanne@", "Jean Dupont <jean.dupont@");
    let id = add_message(&f.store, f.mb_a, &raw, "Bonjour,\nvoici.").await;
    let (token, csrf) = login(&f.app, "agent").await;
    let leaks = |s: &str| {
        ["1234567890123", "06 12 34 56 78", "Dupont", "jean.dupont@"]
            .into_iter()
            .filter(|p| s.contains(p))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let page = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    assert!(leaks(&page).is_empty(), "{:?} in {page}", leaks(&page));
    let title = page
        .split("<title>")
        .nth(1)
        .unwrap()
        .split("</title>")
        .next()
        .unwrap();
    assert!(
        title.contains("[NUMERO_FISCAL_1]") || title.contains("[TELEPHONE_1]"),
        "{title}"
    );
    let queue = text(
        send(
            &f.app,
            get(
                &format!("/mailboxes/{}/queue?tab=ready", f.mb_a),
                Some(&token),
            ),
        )
        .await,
    )
    .await;
    assert!(queue.contains(&format!("data-id=\"{id}\"")), "{queue}");
    assert!(leaks(&queue).is_empty(), "{:?} in {queue}", leaks(&queue));
    let list = text(
        send(
            &f.app,
            get(&format!("/api/messages?mailbox={}", f.mb_a), Some(&token)),
        )
        .await,
    )
    .await;
    assert!(leaks(&list).is_empty(), "{:?} in {list}", leaks(&list));
    let row = json_of(&list)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .unwrap();
    assert!(row.get("from_name").is_none(), "{row}");
    let one = text(send(&f.app, get(&format!("/api/messages/{id}"), Some(&token))).await).await;
    assert!(leaks(&one).is_empty(), "{:?} in {one}", leaks(&one));

    // After the audited reveal, this session sees the original subject and sender.
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{id}/reveal"),
            Some(&token),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    assert!(page.contains(&format!("<h1>{PII_SUBJECT}</h1>")), "{page}");
    let one =
        json_of(&text(send(&f.app, get(&format!("/api/messages/{id}"), Some(&token))).await).await);
    assert_eq!(one["subject"], PII_SUBJECT);
    assert_eq!(one["from_address"], "jean.dupont@example.org");
    // Another session of the same agent has not revealed it.
    let (other, _) = login(&f.app, "agent").await;
    let one = text(send(&f.app, get(&format!("/api/messages/{id}"), Some(&other))).await).await;
    assert!(leaks(&one).is_empty(), "{one}");
}

#[tokio::test]
async fn a_switch_withdraws_drafts_from_the_queue_and_the_api() {
    let data = tempfile::tempdir().unwrap();
    let f = fixture_with(learn_config(data.path())).await;
    let (agent, _) = login(&f.app, "agent").await;
    let (sup, csrf) = login(&f.app, "super").await;
    let draft_cell = || async {
        let q = text(
            send(
                &f.app,
                get(
                    &format!("/mailboxes/{}/queue?tab=ready", f.mb_a),
                    Some(&agent),
                ),
            )
            .await,
        )
        .await;
        let row = q
            .split(&format!("data-id=\"{}\"", f.msg_a))
            .nth(1)
            .unwrap_or_else(|| panic!("{q}"));
        row.split("class=\"draft-ready\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string()
    };
    let api = || async {
        json_of(
            &text(
                send(
                    &f.app,
                    get(&format!("/api/messages/{}", f.msg_a), Some(&agent)),
                )
                .await,
            )
            .await,
        )
    };
    assert_eq!(draft_cell().await, "oui");
    let v = api().await;
    assert_eq!(v["triage"]["draft_text"], "Bonjour,\nvoici la démarche.");
    assert_eq!(v["draft_withdrawn"], false);
    let res = send(
        &f.app,
        post_form(
            "/supervision/switches",
            Some(&sup),
            &format!("csrf={csrf}&action=off&scope=request_type&value=rib"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(draft_cell().await, "non");
    let v = api().await;
    assert!(v["triage"]["draft_text"].is_null(), "{v}");
    assert_eq!(v["draft_withdrawn"], true);
    let list = json_of(
        &text(
            send(
                &f.app,
                get(&format!("/api/messages?mailbox={}", f.mb_a), Some(&agent)),
            )
            .await,
        )
        .await,
    );
    assert_eq!(list["messages"][0]["draft_ready"], false, "{list}");
}

#[tokio::test]
async fn a_malformed_mail_says_so_on_its_page() {
    let f = fixture().await;
    // A multipart without boundary: the citizen's text ends up as an "attachment".
    let raw = "From: Paul Roux <paul@example.org>\r\n\
To: sip@impots.example\r\n\
Subject: Ma demande\r\n\
Message-ID: <noboundary-1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed\r\n\
\r\n\
Bonjour, je conteste ma taxe d'habitation.\r\n";
    let parsed = facteur_mail::parse_message(raw.as_bytes());
    assert!(
        parsed
            .defects
            .iter()
            .any(|d| d.kind == facteur_core::DefectKind::NoBoundaryInMultipart),
        "{:?}",
        parsed.defects
    );
    let id = add_message(&f.store, f.mb_a, raw, "d").await;
    let (token, _) = login(&f.app, "agent").await;
    let page = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    assert!(page.contains("id=\"mail-defects\""), "{page}");
    assert!(page.contains("Ce courriel est mal formé"), "{page}");
    assert!(page.contains("sans délimiteur"), "{page}");
    assert!(page.contains("pièces jointes"), "{page}");
    let page = text(send(&f.app, get_lang(&format!("/messages/{id}"), &token, "en")).await).await;
    assert!(page.contains("This mail is malformed"), "{page}");
    assert!(page.contains("multipart without a boundary"), "{page}");
    // A well-formed mail has no notice.
    let page = text(send(&f.app, get(&format!("/messages/{}", f.msg_a), Some(&token))).await).await;
    assert!(!page.contains("id=\"mail-defects\""), "{page}");
}

#[tokio::test]
async fn conflicts_say_what_clashes() {
    let data = tempfile::tempdir().unwrap();
    let f = fixture_with(learn_config(data.path())).await;
    let (admin, csrf) = login(&f.app, "admin").await;
    let res = send(
        &f.app,
        post_form(
            "/admin/users",
            Some(&admin),
            &format!("csrf={csrf}&username=agent&display_name=Autre&password=un-mot-de-passe-long&role=agent"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = text(res).await;
    assert!(
        page.contains("Ce nom d&#39;utilisateur existe déjà.")
            || page.contains("Ce nom d'utilisateur existe déjà."),
        "{page}"
    );
    assert!(
        !page.contains("Action impossible") && !page.contains("already exists"),
        "{page}"
    );
    for (body, expected) in [
        (
            "name=Autre&address=sip.lyon%40impots.example",
            "Une boîte avec cette adresse existe déjà.",
        ),
        (
            "name=SIP+Lyon&address=autre%40impots.example",
            "Une boîte portant ce nom existe déjà.",
        ),
    ] {
        let res = send(
            &f.app,
            post_form(
                "/admin/mailboxes",
                Some(&admin),
                &format!("csrf={csrf}&{body}"),
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::CONFLICT);
        let page = text(res).await;
        assert!(page.contains(expected), "{page}");
        assert!(!page.contains("Action impossible"), "{page}");
    }
    assert_eq!(f.store.list_mailboxes().await.unwrap().len(), 2);
    let (sup, csrf) = login(&f.app, "super").await;
    let res = send(
        &f.app,
        post_form("/modeles/rollback", Some(&sup), &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = text(res).await;
    assert!(
        page.contains("Aucune version précédente à laquelle revenir."),
        "{page}"
    );
    assert!(!page.contains("rollback refused"), "{page}");
    // Message actions keep the message-state wording, with the state in words.
    let (agent, csrf) = login(&f.app, "agent").await;
    let validate = || {
        post_form(
            &format!("/messages/{}/validate", f.msg_a),
            Some(&agent),
            &format!("csrf={csrf}&text=Bonjour"),
        )
    };
    assert_eq!(
        send(&f.app, validate()).await.status(),
        StatusCode::SEE_OTHER
    );
    let res = send(&f.app, validate()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = text(res).await;
    assert!(
        page.contains("Action impossible dans l&#39;état actuel du message.")
            || page.contains("Action impossible dans l'état actuel du message."),
        "{page}"
    );
    assert!(page.contains("Validé, en attente d"), "{page}");
    assert!(!page.contains("validated'"), "{page}");
}

#[tokio::test]
async fn the_french_ui_shows_no_english_details_or_raw_codes() {
    let data = tempfile::tempdir().unwrap();
    let f = fixture_with(learn_config(data.path())).await;
    let (agent, csrf) = login(&f.app, "agent").await;
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/correct", f.msg_a),
            Some(&agent),
            &format!("csrf={csrf}&category=zzz"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = text(res).await;
    assert!(
        page.contains("Type de demande inconnu : « zzz »."),
        "{page}"
    );
    assert!(!page.contains("unknown request type"), "{page}");

    let (admin, csrf) = login(&f.app, "admin").await;
    let res = send(
        &f.app,
        post_form(
            "/admin/users",
            Some(&admin),
            &format!("csrf={csrf}&username=neuf&display_name=Neuf&password=court&role=agent"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = text(res).await;
    assert!(page.contains("au moins 12 caractères"), "{page}");
    assert!(!page.contains("characters"), "{page}");
    let users = text(send(&f.app, get("/admin/users", Some(&admin))).await).await;
    assert!(
        users.contains("<option value=\"supervisor\">Superviseur</option>"),
        "{users}"
    );
    assert!(users.contains("<td>Superviseur</td>"), "{users}");
    assert!(users.contains("Adam Admin (Administrateur)"), "{users}");
    assert!(
        !users.contains(">supervisor<") && !users.contains("(admin)"),
        "{users}"
    );
    let users = text(send(&f.app, get_lang("/admin/users", &admin, "en")).await).await;
    assert!(users.contains("Adam Admin (Administrator)"), "{users}");

    let (sup, csrf) = login(&f.app, "super").await;
    let bad = ANSWER_OK.replace("[\"rib\"]", "[\"donz\"]");
    let post_answer = |lang: &str| {
        Request::post("/answers")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(
                header::COOKIE,
                format!("facteur_session={sup}; facteur_lang={lang}"),
            )
            .body(Body::from(format!("csrf={csrf}&content={}", enc(&bad))))
            .unwrap()
    };
    let res = send(&f.app, post_answer("fr")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = text(res).await;
    assert!(
        page.contains("ligne 6 : le type de demande « donz » n&#39;est pas dans la taxonomie")
            || page.contains("ligne 6 : le type de demande « donz » n'est pas dans la taxonomie"),
        "{page}"
    );
    assert!(!page.contains("is not in the taxonomy"), "{page}");
    let page = text(send(&f.app, post_answer("en")).await).await;
    assert!(
        page.contains("line 6 : request type `donz` is not in the taxonomy"),
        "{page}"
    );
    // Statuses in words.
    let ok = send(
        &f.app,
        post_form(
            "/answers",
            Some(&sup),
            &format!("csrf={csrf}&content={}", enc(ANSWER_OK)),
        ),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let list = text(send(&f.app, get("/answers", Some(&sup))).await).await;
    assert!(
        list.contains("data-status=\"draft\"><span class=\"fr-badge fr-badge--sm fr-badge--no-icon fr-badge--new\">Brouillon</span></td>"),
        "{list}"
    );
    // The public sheet names states in words.
    let sheet = text(send(&f.app, get("/transparence", None)).await).await;
    assert!(
        sheet.contains("data-state=\"ready_to_validate\">Prêts à valider</td>"),
        "{sheet}"
    );
    assert!(!sheet.contains(">ready_to_validate<"), "{sheet}");
}

#[tokio::test]
async fn malformed_requests_get_the_error_page_or_json() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    // A form without its field.
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/validate", f.msg_a),
            Some(&token),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = text(res).await;
    assert!(page.contains("<html lang=\"fr\""), "{page}");
    assert!(page.contains("Requête invalide."), "{page}");
    assert!(
        page.contains("Le formulaire envoyé est incomplet"),
        "{page}"
    );
    assert!(!page.contains("Failed to deserialize"), "{page}");
    // A path that is not a number.
    let res = send(&f.app, get("/messages/abc", Some(&token))).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = text(res).await;
    assert!(page.contains("Adresse invalide"), "{page}");
    assert!(!page.contains("Cannot parse"), "{page}");
    let page = text(send(&f.app, get_lang("/messages/abc", &token, "en")).await).await;
    assert!(page.contains("Invalid address"), "{page}");
    // The API answers JSON, for a bad body and a bad path.
    for (path, body) in [
        (format!("/api/messages/{}/validate", f.msg_a), "{not json"),
        (
            format!("/api/messages/{}/validate", f.msg_a),
            "{\"txt\": 1}",
        ),
        (
            "/api/messages/abc/validate".to_string(),
            "{\"text\": \"x\"}",
        ),
    ] {
        let res = send(
            &f.app,
            Request::post(&path)
                .header(header::COOKIE, format!("facteur_session={token}"))
                .header("x-csrf-token", &csrf)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
        assert!(res.status().is_client_error(), "{path} {body}");
        assert!(res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let v = json_of(&text(res).await);
        assert_eq!(v["error"], "bad_request", "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("Requête invalide."),
            "{v}"
        );
    }
    // CSRF and sign-in still come first.
    let res = send(
        &f.app,
        post_form(&format!("/messages/{}/validate", f.msg_a), Some(&token), ""),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = send(&f.app, get("/messages/abc", None)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(f.store.list_outbox(None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rejected_draft_is_not_offered_again() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let path = format!("/messages/{}", f.msg_a);
    let page = text(send(&f.app, get(&path, Some(&token))).await).await;
    assert!(page.contains("voici la démarche.</textarea>"), "{page}");
    let res = send(
        &f.app,
        post_form(
            &format!("{path}/reject"),
            Some(&token),
            &format!("csrf={csrf}&reason=outdated_answer"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = text(send(&f.app, get(&path, Some(&token))).await).await;
    assert!(!page.contains("voici la démarche"), "{page}");
    assert!(page.contains("id=\"draft-rejected\""), "{page}");
    assert!(page.contains("></textarea>"), "{page}");
    // A new triage (e.g. after a category correction) offers its draft again.
    // (Store times are in milliseconds: make sure it comes strictly later.)
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    retriage_with_new_draft(&f.store, f.msg_a).await;
    let page = text(send(&f.app, get(&path, Some(&token))).await).await;
    assert!(page.contains("Nouveau brouillon</textarea>"), "{page}");
}

#[tokio::test]
async fn a_draft_re_triaged_in_the_same_millisecond_as_its_rejection_is_offered() {
    // The clock never moves: reject and re-triage share one millisecond, the case
    // a timestamp comparison cannot order.
    let clock = Arc::new(ManualClock::new(T0));
    let f = fixture_clocked(WebConfig::default(), Some(clock)).await;
    let (token, csrf) = login(&f.app, "agent").await;
    let path = format!("/messages/{}", f.msg_a);
    let res = send(
        &f.app,
        post_form(
            &format!("{path}/reject"),
            Some(&token),
            &format!("csrf={csrf}&reason=outdated_answer"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Rejected in the same millisecond as it was triaged: still hidden.
    let page = text(send(&f.app, get(&path, Some(&token))).await).await;
    assert!(!page.contains("voici la démarche"), "{page}");
    assert!(page.contains("id=\"draft-rejected\""), "{page}");
    // Re-triaged in that same millisecond: the new draft is offered.
    retriage_with_new_draft(&f.store, f.msg_a).await;
    let page = text(send(&f.app, get(&path, Some(&token))).await).await;
    assert!(page.contains("Nouveau brouillon</textarea>"), "{page}");
    assert!(!page.contains("id=\"draft-rejected\""), "{page}");
    // And rejecting that one, still in the same millisecond, hides it.
    let res = send(
        &f.app,
        post_form(
            &format!("{path}/reject"),
            Some(&token),
            &format!("csrf={csrf}&reason=outdated_answer"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = text(send(&f.app, get(&path, Some(&token))).await).await;
    assert!(!page.contains("Nouveau brouillon"), "{page}");
    assert!(page.contains("id=\"draft-rejected\""), "{page}");
}

#[tokio::test]
async fn outbox_subjects_mask_the_senders_name_as_the_message_page_does() {
    let f = fixture().await;
    // A surname the detector does not recognise from the subject alone: only the
    // sender's display name, a known name for the pseudonymiser, gives it away.
    let subject = "Dossier Kerbrat suite";
    assert!(
        facteur_privacy::Detector::new()
            .pseudonymise(subject)
            .text
            .contains("Kerbrat"),
        "pick a name the detector misses alone, or this test proves nothing"
    );
    let raw = HOSTILE_MAIL
        .replace("hostile-1@", "outbox-name-1@")
        .replace("Subject: Changement de RIB", &format!("Subject: {subject}"))
        .replace("Jeanne Martin <jeanne@", "Yannick Kerbrat <yk@");
    let id = add_message(&f.store, f.mb_a, &raw, "Bonjour,\nvoici.").await;
    let (token, csrf) = login(&f.app, "agent").await;
    // The message page masks it (the reference behaviour).
    let page = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    assert!(!page.contains("Kerbrat"), "{page}");
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{id}/validate"),
            Some(&token),
            &format!("csrf={csrf}&text=Bonjour%2C%0Avoici+la+r%C3%A9ponse."),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(f.store.get_outbox_for_message(id).await.unwrap().is_some());
    let outbox = text(send(&f.app, get("/outbox", Some(&token))).await).await;
    assert!(outbox.contains(&format!("/messages/{id}")), "{outbox}");
    assert!(!outbox.contains("Kerbrat"), "{outbox}");
    assert!(outbox.contains("Dossier [NOM_1] suite"), "{outbox}");
    let api = text(send(&f.app, get("/api/outbox", Some(&token))).await).await;
    let row = json_of(&api)["outbox"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["message_id"] == id)
        .cloned()
        .unwrap();
    assert_eq!(row["subject"], "Re: Dossier [NOM_1] suite", "{api}");
    assert!(!api.contains("Kerbrat"), "{api}");
    // After the audited reveal this session sees the subject as received.
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{id}/reveal"),
            Some(&token),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let outbox = text(send(&f.app, get("/outbox", Some(&token))).await).await;
    assert!(outbox.contains(subject), "{outbox}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_mailbox_creations_with_one_address_create_one() {
    let f = fixture().await;
    let (admin, csrf) = login(&f.app, "admin").await;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let app = f.app.clone();
            let req = post_form(
                "/admin/mailboxes",
                Some(&admin),
                &format!("csrf={csrf}&name=Nouvelle+{i}&address=Nouvelle%40impots.example"),
            );
            tokio::spawn(async move { send(&app, req).await })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        let res = t.await.unwrap();
        if res.status() == StatusCode::SEE_OTHER {
            created += 1;
        } else {
            // Refused by the handler's check or, racing past it, by the database:
            // the same words either way.
            assert_eq!(res.status(), StatusCode::CONFLICT);
            let page = text(res).await;
            assert!(
                page.contains("Une boîte avec cette adresse existe déjà."),
                "{page}"
            );
        }
    }
    assert_eq!(created, 1);
    let same: Vec<_> = f
        .store
        .list_mailboxes()
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.address.eq_ignore_ascii_case("nouvelle@impots.example"))
        .collect();
    assert_eq!(same.len(), 1, "{same:?}");
}

/// Guesses fired in parallel from one client are not all checked at once: two
/// at most are in flight per IP, the others are told to come back (503 +
/// Retry-After) without costing a hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_login_guesses_are_turned_away_beyond_two_in_flight() {
    let f = fixture().await;
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let app = f.app.clone();
            let req = login_req(&format!("username=agent&password=guess-{i}"));
            tokio::spawn(async move {
                let r = send(&app, req).await;
                (r.status(), r.headers().contains_key(header::RETRY_AFTER))
            })
        })
        .collect();
    let (mut verified, mut busy) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (StatusCode::UNAUTHORIZED, _) => verified += 1,
            (StatusCode::SERVICE_UNAVAILABLE, true) => busy += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(verified + busy, 24);
    assert!(busy > 0, "all 24 were checked");
}

/// A successful login still clears the pair's failures (the reservation taken
/// before checking the password is given back).
#[tokio::test]
async fn a_successful_login_does_not_count_as_a_failure() {
    let f = fixture().await;
    for _ in 0..8 {
        let res = send(
            &f.app,
            login_req(&format!("username=agent&password={PASSWORD}")),
        )
        .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    for _ in 0..4 {
        let res = send(&f.app, login_req("username=agent&password=nope")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = send(
        &f.app,
        login_req(&format!("username=agent&password={PASSWORD}")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// Anyone can send requests with invented methods; the request counter must not
/// grow one series per method (unbounded memory and /metrics size, unauthenticated).
#[tokio::test]
async fn invented_http_methods_do_not_grow_the_metrics() {
    let f = fixture().await;
    for i in 0..3 {
        let req = Request::builder()
            .method(format!("XFOO{i}").as_str())
            .uri("/health")
            .body(Body::empty())
            .unwrap();
        let res = send(&f.app, req).await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let m = text(send(&f.app, get("/metrics", None)).await).await;
    assert!(!m.contains("XFOO"), "{m}");
    assert!(
        m.contains(
            "facteur_http_requests_total{method=\"other\",route=\"/health\",status=\"405\"} 3"
        ),
        "{m}"
    );
}

/// Signed-in pages and API answers carry mail subjects, names and (once revealed)
/// the original mail: no browser or proxy may keep a copy that the Back button
/// or the next user of a shared office computer could read after logout.
#[tokio::test]
async fn pages_with_mail_data_are_never_cached() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/reveal", f.msg_a),
            Some(&token),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    for path in [
        format!("/messages/{}", f.msg_a),
        format!("/messages/{}/body", f.msg_a),
        format!("/mailboxes/{}/queue", f.mb_a),
        format!("/api/messages/{}", f.msg_a),
        "/api/messages".to_string(),
        "/outbox".to_string(),
        "/nope".to_string(),
    ] {
        let res = send(&f.app, get(&path, Some(&token))).await;
        assert_eq!(
            res.headers()
                .get(header::CACHE_CONTROL)
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
    }
    // Static files keep their own caching.
    let res = send(&f.app, get("/static/app.css", None)).await;
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=3600");
}

/// The session token a response sets, if any.
fn set_session_token(res: &Response<Body>) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|c| c.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .filter_map(|c| c.strip_prefix("facteur_session="))
        .find(|t| !t.is_empty())
        .map(str::to_string)
}

/// The password change form as the account page posts it.
fn password_form(
    token: &str,
    csrf: &str,
    current: &str,
    new: &str,
    confirm: &str,
) -> Request<Body> {
    post_form(
        "/compte/mot-de-passe",
        Some(token),
        &format!(
            "csrf={csrf}&current={}&new={}&confirm={}",
            enc(current),
            enc(new),
            enc(confirm)
        ),
    )
}

/// Every role reaches "Mon compte" from the navigation; a signed-in user changes
/// their password: the old one stops working, the new one works, every other
/// session of theirs ends, and this browser carries on with a fresh session.
#[tokio::test]
async fn agents_change_their_own_password_and_other_sessions_end() {
    let f = fixture().await;
    for who in ["agent", "super", "admin"] {
        let (token, _) = login(&f.app, who).await;
        let res = send(&f.app, get("/outbox", Some(&token))).await;
        let html = text(res).await;
        assert!(html.contains(r#"href="/compte""#), "{who}: no account link");
        assert!(html.contains("Mon compte"), "{who}");
        let res = send(&f.app, get_lang("/compte", &token, "en")).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(text(res).await.contains("My account"));
    }
    let (token, csrf) = login(&f.app, "agent").await;
    let (other, _) = login(&f.app, "agent").await;
    let (colleague, _) = login(&f.app, "super").await;
    let new = "une phrase de passe toute neuve";
    let res = send(&f.app, password_form(&token, &csrf, PASSWORD, new, new)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/compte?changed=1");
    let fresh = set_session_token(&res).expect("a fresh session cookie");
    assert_ne!(fresh, token);

    // This browser carries on with the fresh session, and is told what happened.
    let res = send(&f.app, get("/compte?changed=1", Some(&fresh))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(text(res).await.contains("Mot de passe modifié"));
    let me = send(&f.app, get("/api/me", Some(&fresh))).await;
    assert_eq!(me.status(), StatusCode::OK);
    // Every earlier session of the agent ended (the one that made the change too);
    // a colleague's did not.
    for old in [&token, &other] {
        let res = send(&f.app, get("/api/me", Some(old))).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = send(&f.app, get("/api/me", Some(&colleague))).await;
    assert_eq!(res.status(), StatusCode::OK);

    // The old password no longer signs in; the new one does.
    let res = send(
        &f.app,
        login_req(&format!("username=agent&password={}", enc(PASSWORD))),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = send(
        &f.app,
        login_req(&format!("username=agent&password={}", enc(new))),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // Audited in the agent's name, without the password or the username.
    let rows = f.store.list_audit(0, 10_000).await.unwrap();
    let row = rows
        .iter()
        .rev()
        .find(|r| r.action == "user.password")
        .expect("audited");
    assert_eq!(row.actor, format!("user:{}", f.agent));
    assert_eq!(row.target, format!("user:{}", f.agent));
    // The agent's session of the navigation check, `token` and `other`.
    assert_eq!(row.details["sessions_ended"], 3);
    let details = row.details.to_string();
    assert!(
        !details.contains("agent") && !details.contains("phrase"),
        "{details}"
    );
}

/// A wrong current password, a confirmation that differs, a short password, a
/// password equal to the current one and a missing CSRF token are refused and
/// change nothing; wrong current passwords count in the login limiter.
#[tokio::test]
async fn password_changes_are_refused_when_checks_fail() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let good = "une phrase de passe toute neuve";
    let cases = [
        (
            "wrong-current-password",
            good,
            good,
            StatusCode::FORBIDDEN,
            "Mot de passe actuel incorrect",
        ),
        (
            PASSWORD,
            good,
            "une autre phrase de passe",
            StatusCode::BAD_REQUEST,
            "sa confirmation diffèrent",
        ),
        (
            PASSWORD,
            "court-11car",
            "court-11car",
            StatusCode::BAD_REQUEST,
            "au moins 12 caractères",
        ),
        (
            PASSWORD,
            PASSWORD,
            PASSWORD,
            StatusCode::BAD_REQUEST,
            "différent de l'actuel",
        ),
    ];
    for (current, new, confirm, status, says) in cases {
        let res = send(&f.app, password_form(&token, &csrf, current, new, confirm)).await;
        assert_eq!(res.status(), status, "{says}");
        assert!(set_session_token(&res).is_none(), "{says}");
        let html = text(res).await;
        assert!(html.contains(says), "{says}: {html}");
        // The form is shown again with this session's token, ready for another try.
        assert!(html.contains(&csrf), "{says}");
    }
    // Without the CSRF token: refused by the session layer.
    let res = send(
        &f.app,
        post_form(
            "/compte/mot-de-passe",
            Some(&token),
            &format!(
                "current={}&new={}&confirm={}",
                enc(PASSWORD),
                enc(good),
                enc(good)
            ),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = send(
        &f.app,
        post_form(
            "/compte/mot-de-passe",
            Some(&token),
            &format!(
                "csrf={}&current={}&new={}&confirm={}",
                "0".repeat(64),
                enc(PASSWORD),
                enc(good),
                enc(good)
            ),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Nothing changed: the session lives and the old password still signs in.
    assert_eq!(
        send(&f.app, get("/api/me", Some(&token))).await.status(),
        StatusCode::OK
    );
    assert!(!f
        .store
        .list_audit(0, 10_000)
        .await
        .unwrap()
        .iter()
        .any(|r| r.action == "user.password"));
    let (token, csrf) = login(&f.app, "agent").await;

    // Guessing the current password through a borrowed session is slowed down
    // like a login: after 5 wrong guesses each further one waits.
    for i in 0..5 {
        let res = send(
            &f.app,
            password_form(&token, &csrf, &format!("guess-{i}"), good, good),
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "guess {i}");
    }
    let t = std::time::Instant::now();
    let res = send(&f.app, password_form(&token, &csrf, "guess-5", good, good)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        t.elapsed() >= std::time::Duration::from_secs(1),
        "{:?}",
        t.elapsed()
    );
}

/// A session in constant use still ends 12 hours after sign-in (the idle expiry
/// alone would let it live for ever); the store's clock stands in for the hours.
#[tokio::test]
async fn sessions_end_twelve_hours_after_sign_in_however_active() {
    use std::time::Duration;
    let clock = Arc::new(ManualClock::new(1_750_000_000_000));
    let f = fixture_clocked(WebConfig::default(), Some(clock.clone())).await;
    let (token, _) = login(&f.app, "agent").await;
    // Used every hour: the idle expiry (8 h) never strikes.
    for hour in 1..12 {
        clock.advance(Duration::from_secs(3600));
        let res = send(&f.app, get("/api/me", Some(&token))).await;
        assert_eq!(res.status(), StatusCode::OK, "hour {hour}");
    }
    clock.advance(Duration::from_secs(3599));
    let res = send(&f.app, get("/api/me", Some(&token))).await;
    assert_eq!(res.status(), StatusCode::OK, "one second before 12 h");
    clock.advance(Duration::from_secs(1));
    let res = send(&f.app, get("/api/me", Some(&token))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "at 12 h");
    let page = format!("/mailboxes/{}/queue", f.mb_a);
    let res = send(&f.app, get(&page, Some(&token))).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/login");
    // Ended for good in the database, not only refused.
    assert!(f.store.get_session(&token).await.unwrap().is_none());
    // Signing in again gives a new 12 hours.
    let (token, _) = login(&f.app, "agent").await;
    let res = send(&f.app, get("/api/me", Some(&token))).await;
    assert_eq!(res.status(), StatusCode::OK);

    // The lifetime is a setting.
    let clock = Arc::new(ManualClock::new(1_750_000_000_000));
    let f = fixture_clocked(
        WebConfig {
            session_max_lifetime: Duration::from_secs(600),
            ..WebConfig::default()
        },
        Some(clock.clone()),
    )
    .await;
    let (token, _) = login(&f.app, "agent").await;
    clock.advance(Duration::from_secs(600));
    let res = send(&f.app, get("/api/me", Some(&token))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// Signing in again from a browser that is already signed in ends the session
/// its cookie carried (same user or another one); other browsers keep theirs.
#[tokio::test]
async fn signing_in_again_ends_the_browsers_previous_session() {
    let f = fixture().await;
    let (elsewhere, _) = login(&f.app, "agent").await;
    for who in ["agent", "super"] {
        let (old, _) = login(&f.app, "agent").await;
        let res = send(
            &f.app,
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(
                    header::COOKIE,
                    format!("facteur_login_csrf={LOGIN_CSRF}; facteur_session={old}"),
                )
                .body(Body::from(format!(
                    "username={who}&password={PASSWORD}&csrf={LOGIN_CSRF}"
                )))
                .unwrap(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{who}");
        let new = set_session_token(&res).expect("a new session");
        assert_ne!(new, old);
        let res = send(&f.app, get("/api/me", Some(&old))).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{who}: old session");
        assert!(f.store.get_session(&old).await.unwrap().is_none());
        let res = send(&f.app, get("/api/me", Some(&new))).await;
        assert_eq!(res.status(), StatusCode::OK, "{who}: new session");
        assert_eq!(
            send(&f.app, get("/api/me", Some(&elsewhere)))
                .await
                .status(),
            StatusCode::OK,
            "{who}: another browser's session"
        );
    }
    // A failed attempt from a signed-in browser ends nothing.
    let (current, _) = login(&f.app, "agent").await;
    let res = send(
        &f.app,
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(
                header::COOKIE,
                format!("facteur_login_csrf={LOGIN_CSRF}; facteur_session={current}"),
            )
            .body(Body::from(format!(
                "username=agent&password=nope&csrf={LOGIN_CSRF}"
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&f.app, get("/api/me", Some(&current))).await.status(),
        StatusCode::OK
    );
}

/// A new triage of `message` (as after a category correction) whose draft reads
/// "Nouveau brouillon".
async fn retriage_with_new_draft(store: &Store, message: i64) {
    store
        .record_triage(&NewTriage {
            message_id: message,
            model_version: Some("m1".into()),
            category: Some("avis".into()),
            confidence: Some(0.9),
            route: Route::ReadyToValidate,
            answer_id: Some("avis".into()),
            answer_version: Some(1),
            draft_text: Some("Nouveau brouillon".into()),
            passages: Vec::new(),
            language: Some("fr".into()),
            pseudonymised_text: None,
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
}

/// `HOSTILE_MAIL` under another Message-ID, with its From line replaced and extra
/// header lines (e.g. a Reply-To) added after it.
fn relayed_mail(id: &str, from: &str, extra_headers: &str) -> String {
    HOSTILE_MAIL.replace("hostile-1@example.org", id).replace(
        "From: Jeanne Martin <jeanne@example.org>\r\n",
        &format!("From: {from}\r\n{extra_headers}"),
    )
}

/// Validates `id` with a fixed text and returns its outbox row.
async fn validate_and_get(
    f: &Fixture,
    token: &str,
    csrf: &str,
    id: i64,
) -> facteur_store::OutboxItem {
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{id}/validate"),
            Some(token),
            &format!("csrf={csrf}&text={}", enc("Bonjour,\nvoici.\nCordialement")),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "validate {id}");
    f.store
        .get_outbox_for_message(id)
        .await
        .unwrap()
        .expect("outbox row")
}

async fn reveal_and_view(f: &Fixture, token: &str, csrf: &str, id: i64) -> String {
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{id}/reveal"),
            Some(token),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    text(send(&f.app, get(&format!("/messages/{id}"), Some(token))).await).await
}

/// A message relayed by a web form (From: a no-reply address, Reply-To: the
/// citizen) is answered to the citizen, and the page says where the reply goes
/// and that it is not the sender — masked until the audited reveal.
#[tokio::test]
async fn the_reply_goes_to_reply_to_and_the_page_says_so() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let raw = relayed_mail(
        "relayed-1@x.example",
        "Formulaire <noreply@x.example>",
        "Reply-To: Jean Citoyen <citoyen@y.example>\r\n",
    );
    let id = add_message(&f.store, f.mb_a, &raw, "Bonjour,\nvoici.").await;

    // Masked: no address, but the agent is told the reply does not go to the sender.
    let page = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    let recipient = |page: &str| {
        page.split("id=\"reply-recipient\"")
            .nth(1)
            .unwrap_or_else(|| panic!("no #reply-recipient in {page}"))
            .split("</p>")
            .next()
            .unwrap()
            .to_string()
    };
    let masked = recipient(&page);
    assert!(masked.contains("Réponse envoyée à"), "{masked}");
    assert!(masked.contains("différente de l"), "{masked}");
    assert!(!page.contains("citoyen@y.example"), "masked until revealed");
    let api = |token: String| {
        let app = f.app.clone();
        async move {
            json_of(
                &text(send(&app, get(&format!("/api/messages/{id}"), Some(&token))).await).await,
            )
        }
    };
    let one = api(token.clone()).await;
    assert_eq!(one["reply_via_reply_to"], true, "{one}");
    assert!(one.get("reply_address").is_none(), "{one}");

    let page = reveal_and_view(&f, &token, &csrf, id).await;
    let shown = recipient(&page);
    assert!(
        shown.contains("Réponse envoyée à : <strong>citoyen@y.example</strong>"),
        "{shown}"
    );
    assert!(
        shown.contains("adresse de réponse indiquée par le message"),
        "{shown}"
    );
    assert!(shown.contains("expéditeur : noreply@x.example"), "{shown}");
    let one = api(token.clone()).await;
    assert_eq!(one["reply_address"], "citoyen@y.example", "{one}");

    let o = validate_and_get(&f, &token, &csrf, id).await;
    assert_eq!(o.to_address, "citoyen@y.example");

    // Without Reply-To: unchanged, to the sender, and no "differs" note.
    let page = reveal_and_view(&f, &token, &csrf, f.msg_a).await;
    let shown = recipient(&page);
    assert!(
        shown.contains("Réponse envoyée à : <strong>jeanne@example.org</strong>"),
        "{shown}"
    );
    assert!(!shown.contains("expéditeur :"), "{shown}");
    let o = validate_and_get(&f, &token, &csrf, f.msg_a).await;
    assert_eq!(o.to_address, "jeanne@example.org");

    // A Reply-To equal to From is no warning either.
    let raw = relayed_mail(
        "same-1@x.example",
        "Jeanne <jeanne@example.org>",
        "Reply-To: <Jeanne@Example.org>\r\n",
    );
    let id = add_message(&f.store, f.mb_a, &raw, "Bonjour,\nvoici.").await;
    let page = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    assert!(!recipient(&page).contains("différente de l"), "{page}");
}

/// An empty or unusable Reply-To is ignored: the reply goes to From, and the page
/// says the message's reply address was not used.
#[tokio::test]
async fn an_invalid_reply_to_falls_back_to_the_sender() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    for (k, reply_to) in [
        "Reply-To:\r\n",
        "Reply-To: <>\r\n",
        "Reply-To: pas une adresse\r\n",
        "Reply-To: citoyen@\r\n",
        "Reply-To: <@y.example>\r\n",
        "Reply-To: citoyen@y..example\r\n",
    ]
    .into_iter()
    .enumerate()
    {
        let raw = relayed_mail(
            &format!("bad-reply-to-{k}@x.example"),
            "Jeanne <jeanne@example.org>",
            reply_to,
        );
        let id = add_message(&f.store, f.mb_a, &raw, "Bonjour,\nvoici.").await;
        let page = reveal_and_view(&f, &token, &csrf, id).await;
        assert!(
            page.contains("Réponse envoyée à : <strong>jeanne@example.org</strong>"),
            "{reply_to}: {page}"
        );
        let o = validate_and_get(&f, &token, &csrf, id).await;
        assert_eq!(o.to_address, "jeanne@example.org", "{reply_to}");
    }
}

/// A message stored before ingest kept the Reply-To in `parsed`: read from its raw
/// header, it goes to the same place.
#[tokio::test]
async fn a_message_stored_without_its_reply_to_key_reads_it_from_the_raw_header() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let raw = relayed_mail(
        "relayed-old@x.example",
        "Formulaire <noreply@x.example>",
        "Reply-To: Jean Citoyen <citoyen@y.example>\r\n",
    );
    let id = add_message_with(&f.store, f.mb_a, &raw, "Bonjour,\nvoici.", |nm| {
        // As a row stored before the key existed reads back.
        assert!(nm.parsed.reply_to.take().is_some());
    })
    .await;
    let page = reveal_and_view(&f, &token, &csrf, id).await;
    assert!(
        page.contains("Réponse envoyée à : <strong>citoyen@y.example</strong>"),
        "{page}"
    );
    let o = validate_and_get(&f, &token, &csrf, id).await;
    assert_eq!(o.to_address, "citoyen@y.example");
}

/// A citizen's message without Message-ID is stored under a made-up
/// `…@facteur.invalid` id: the reply must not claim to answer that id.
#[tokio::test]
async fn a_reply_never_threads_on_a_made_up_message_id() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let no_id = HOSTILE_MAIL.replace("Message-ID: <hostile-1@example.org>\r\n", "");
    let id = add_message(&f.store, f.mb_a, &no_id, "Bonjour,\nvoici.").await;
    let m = f.store.get_message(id).await.unwrap().unwrap();
    assert!(
        m.message_id.ends_with("@facteur.invalid"),
        "{}",
        m.message_id
    );
    let o = validate_and_get(&f, &token, &csrf, id).await;
    assert_eq!(o.in_reply_to, None);
    assert!(o.references.is_empty(), "{:?}", o.references);

    // Its own References (real ids) are kept, as RFC 5322 §3.6.4 says; only the
    // placeholder is left out.
    let with_refs = no_id.replace(
        "Subject: Changement de RIB\r\n",
        "Subject: Changement de RIB\r\nReferences: <earlier-1@impots.example>\r\n",
    );
    let id = add_message(&f.store, f.mb_a, &with_refs, "Bonjour,\nvoici.").await;
    let o = validate_and_get(&f, &token, &csrf, id).await;
    assert_eq!(o.in_reply_to, None);
    assert_eq!(o.references, vec!["earlier-1@impots.example".to_string()]);

    // A real Message-ID still threads.
    let o = validate_and_get(&f, &token, &csrf, f.msg_a).await;
    assert_eq!(o.in_reply_to.as_deref(), Some("hostile-1@example.org"));
    assert_eq!(o.references, vec!["hostile-1@example.org".to_string()]);
}

/// Stores message `n` of mailbox `mb`, received at `at`, as model `model` triaged
/// it into `category` (ready to validate, confidence 0.9).
async fn add_triaged(store: &Store, mb: i64, n: i64, at: i64, model: &str, category: &str) {
    let raw = format!(
        "From: c{n}@citoyen.example\r\nMessage-ID: <drift-{n}@citoyen.example>\r\n\
         Subject: demande {n}\r\n\r\nBonjour {n}\r\n"
    );
    let parsed = facteur_mail::parse_message(raw.as_bytes());
    let mut nm = NewMessage::from_parsed(mb, raw.into_bytes(), &parsed);
    nm.received_at = Some(at);
    let id = store.insert_message(&nm).await.unwrap().id();
    store
        .record_triage(&NewTriage {
            message_id: id,
            model_version: Some(model.into()),
            category: Some(category.into()),
            confidence: Some(0.9),
            route: Route::ReadyToValidate,
            answer_id: None,
            answer_version: None,
            draft_text: None,
            passages: Vec::new(),
            language: Some("fr".into()),
            pseudonymised_text: None,
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
}

/// The supervisor test of issue 18: twelve simulated weeks of one mailbox, the
/// request mix shifting from week 7 (the model was trained 50/50 on "rib" and
/// "avis"; from week 7, 85 % of the mail is "avis"). Each week the mail arrives,
/// the clock moves on, and the supervision page is read as a supervisor reads
/// it: the headline and the sentences only. Weeks 1–6 must say there is nothing
/// to do, weeks 7–12 that there is, and why first. `--nocapture` prints what
/// the page said each week (quoted in the note).
#[tokio::test]
async fn the_supervision_page_says_week_by_week_whether_to_act_through_a_shift() {
    let data = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let f = fixture_clocked(learn_config(data.path()), Some(clock.clone())).await;
    promote_model(&f.store, "m-sim").await;
    let mut n = 1000;
    for week in 0..12i64 {
        for i in 0..40i64 {
            let avis = if week >= 6 { i % 20 < 17 } else { i % 2 == 0 };
            let at = T0 + week * 7 * DAY + i * 3_600_000 * 4;
            n += 1;
            add_triaged(
                &f.store,
                f.mb_a,
                n,
                at,
                "m-sim",
                if avis { "avis" } else { "rib" },
            )
            .await;
        }
        clock.set(T0 + (week + 1) * 7 * DAY - 3_600_000);
        // A week later: a new session (sessions end after 8 idle hours).
        let (sup, _) = login(&f.app, "super").await;
        let html = text(send(&f.app, get("/supervision", Some(&sup))).await).await;
        let section = html
            .split("class=\"mailbox-drift\"")
            .nth(1)
            .unwrap_or_else(|| panic!("week {}: no mailbox section: {html}", week + 1));
        let action = section
            .split("data-action=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap();
        let words = |s: &str| {
            let mut out = String::new();
            let mut tag = false;
            for c in s.chars() {
                match c {
                    '<' => tag = true,
                    '>' => tag = false,
                    _ if !tag => out.push(c),
                    _ => {}
                }
            }
            out.replace("&#39;", "'")
        };
        let after = |marker: &str, end: &str| {
            let s = section.split(marker).nth(1).unwrap();
            words(
                s.split_once('>')
                    .map_or(s, |(_, rest)| rest)
                    .split(end)
                    .next()
                    .unwrap(),
            )
        };
        let heading = after("<h2", "</h2>");
        let headline = after("class=\"verdict\"", "</p>");
        let sentences: Vec<String> = section
            .split("<ul class=\"verdict-sentences\">")
            .nth(1)
            .unwrap()
            .split("</ul>")
            .next()
            .unwrap()
            .split("</li>")
            .map(|l| words(l).trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        println!(
            "{} | {} | {}",
            heading.trim(),
            headline.trim(),
            sentences.join(" / ")
        );
        let expected = if week < 6 { "no" } else { "yes" };
        assert_eq!(
            action,
            expected,
            "week {}: {headline} {sentences:?}",
            week + 1
        );
        if week >= 6 {
            assert!(
                sentences[0].contains("répartition des demandes"),
                "the mix comes first: {sentences:?}"
            );
        }
    }
}

/// Drift compares the active model's predictions with its own training mix: weeks
/// (or parts of weeks) predicted by an earlier version are not its drift. Here the
/// old model "m1" saw only "rib" while the active "m2" (trained 50/50) sees a
/// balanced mix, except one week where it sees only "avis": that week alone alerts.
#[tokio::test]
async fn drift_compares_only_the_active_models_predictions() {
    let data = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0 + 21 * DAY + 3_600_000));
    let f = fixture_clocked(learn_config(data.path()), Some(clock)).await;
    promote_model(&f.store, "m1").await;
    promote_model(&f.store, "m2").await;
    let mut k = 0;
    let mut add = |day: i64, model: &'static str, category: &'static str| {
        k += 1;
        add_triaged(&f.store, f.mb_a, k, T0 + day * DAY + k, model, category)
    };
    for i in 0..30 {
        // Week 1: the old model only, all "rib".
        add(1, "m1", "rib").await;
        // Week 2: both, the old one all "rib", the active one balanced.
        add(8, "m1", "rib").await;
        add(8, "m2", if i % 2 == 0 { "rib" } else { "avis" }).await;
        // Week 3: the active model, all "avis": real drift.
        add(15, "m2", "avis").await;
    }
    let (sup, _) = login(&f.app, "super").await;
    let html = text(send(&f.app, get("/supervision", Some(&sup))).await).await;
    let alerts = html
        .split("id=\"alert-list\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no alert list: {html}"))
        .split("</table>")
        .next()
        .unwrap();
    assert_eq!(
        alerts.matches("<tr>").count() - 1,
        1,
        "one alert row: {alerts}"
    );
    // Weeks as dates (2025-W27 starts on Monday 30 June).
    assert!(alerts.contains("semaine du 30 juin 2025"), "{alerts}");
    assert!(
        !alerts.contains("semaine du 16 juin 2025") && !alerts.contains("semaine du 23 juin 2025"),
        "{alerts}"
    );
    // The mixed week counts the active model's 30 messages only, and the page
    // says how many messages of an earlier version were left out (60 + the
    // fixture's 2, triaged by "m1").
    let note = html
        .split("id=\"other-model-messages\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no note on other versions: {html}"))
        .split("</p>")
        .next()
        .unwrap();
    assert!(note.starts_with("62 messages"), "{note}");
    // 2025-W26 starts on Monday 23 June, 2025-W25 on the 16th.
    let w26 = html
        .split("<th scope=\"row\">semaine du 23 juin 2025</th>")
        .nth(1)
        .unwrap_or_else(|| panic!("no row for the mixed week: {html}"));
    assert!(w26.starts_with("<td>30</td>"), "{w26}");
    assert!(
        !html.contains("<th scope=\"row\">semaine du 16 juin 2025</th>"),
        "{html}"
    );
    // The page says in words whether the week needs action, before the numbers.
    assert!(html.contains("data-action=\"yes\""), "{html}");
    assert!(
        html.contains("La répartition des demandes a changé nettement"),
        "{html}"
    );
    let words = html.find("Cette semaine demande une action.").unwrap();
    let numbers = html.find("class=\"technical\"").unwrap();
    assert!(words < numbers, "sentences before the technical fold");
}

/// Issue 19: the citizen's out-of-office answered last. The message page warns
/// the agent; validating is refused (409) until the agent ticks "send anyway";
/// a bounce of the reply then shows "Non distribuée" with its status on the
/// outbox page, and the auto-reply itself is labelled automatic.
#[tokio::test]
async fn a_reply_to_an_auto_responder_needs_the_agents_confirmation_and_a_bounce_shows() {
    // Sent at once: this test follows the reply past the outbox.
    let f = fixture_with(WebConfig {
        send_delay: std::time::Duration::ZERO,
        ..WebConfig::default()
    })
    .await;
    let (token, csrf) = login(&f.app, "agent").await;
    let ooo = add_message_with(
        &f.store,
        f.mb_a,
        &HOSTILE_MAIL.replace("hostile-1@", "ooo-1@"),
        "",
        |m| m.received_at = Some(i64::MAX / 4),
    )
    .await;
    f.store
        .record_triage(&NewTriage {
            message_id: ooo,
            model_version: None,
            category: None,
            confidence: None,
            route: Route::Automatic,
            answer_id: None,
            answer_version: None,
            draft_text: None,
            passages: Vec::new(),
            language: Some("fr".into()),
            pseudonymised_text: None,
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
    let page = text(send(&f.app, get(&format!("/messages/{ooo}"), Some(&token))).await).await;
    assert!(page.contains("data-state=\"automatic\""), "{page}");
    assert!(page.contains("Automatique — pas de réponse"), "{page}");
    assert!(
        !page.contains("id=\"validate\""),
        "a draft form for an auto-reply"
    );

    let page = text(send(&f.app, get(&format!("/messages/{}", f.msg_a), Some(&token))).await).await;
    assert!(page.contains("id=\"recipient-automatic\""), "{page}");
    let url = format!("/messages/{}/validate", f.msg_a);
    let res = send(
        &f.app,
        post_form(&url, Some(&token), &format!("csrf={csrf}&text=Bonjour")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(f
        .store
        .get_outbox_for_message(f.msg_a)
        .await
        .unwrap()
        .is_none());
    let res = send(
        &f.app,
        post_form(
            &url,
            Some(&token),
            &format!("csrf={csrf}&text=Bonjour&confirm_automatic=1"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let o = f
        .store
        .get_outbox_for_message(f.msg_a)
        .await
        .unwrap()
        .expect("queued once confirmed");

    // It leaves, then bounces.
    f.store
        .claim_outbox("w", std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    f.store.mark_sent(o.id, "w").await.unwrap();
    assert!(f
        .store
        .mark_outbox_undelivered(o.id, Some("5.1.1"), Some("550 [EMAIL_1] unknown"), ooo)
        .await
        .unwrap());
    let out = text(send(&f.app, get("/outbox", Some(&token))).await).await;
    assert!(out.contains("data-state=\"undelivered\""), "{out}");
    assert!(out.contains("Non distribuée"), "{out}");
    assert!(out.contains("5.1.1 — 550 [EMAIL_1] unknown"), "{out}");
}

// --- The mandatory public pages (issue 18) -----------------------------------

const LEGAL_PAGES: [&str; 3] = [
    "/accessibilite",
    "/mentions-legales",
    "/donnees-personnelles",
];

#[tokio::test]
async fn legal_pages_are_public_bilingual_and_carry_the_configured_values() {
    let mut config = WebConfig::default();
    config.publication.publisher = "DDFiP du Rhône".into();
    config.publication.director = "Le directeur départemental".into();
    config.publication.host = "Centre informatique de Lyon".into();
    config.publication.contact = "sip.lyon@impots.example".into();
    config.publication.dpo = "dpo@impots.example".into();
    config.publication.compliance = "partielle".into();
    config.publication.audit_rate = "78 %".into();
    config.publication.audit_date = "2026-11-02".into();
    config.publication.non_accessible = vec!["Graphiques de supervision".into()];
    config.retention = facteur_store::RetentionPolicy {
        raw_mail_days: 31,
        message_days: 400,
        training_days: 800,
    };
    let f = fixture_with(config).await;
    for path in LEGAL_PAGES {
        let res = send(&f.app, get(path, None)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path} without a session");
        let page = text(res).await;
        assert!(page.contains("<html lang=\"fr\""), "{path}");
        for link in LEGAL_PAGES.iter().chain(&["/transparence"]) {
            assert!(
                page.contains(&format!("href=\"{link}\"")),
                "{path} footer lacks {link}"
            );
        }
    }
    let notice = text(send(&f.app, get("/mentions-legales", None)).await).await;
    for v in [
        "DDFiP du Rhône",
        "Le directeur départemental",
        "Centre informatique de Lyon",
    ] {
        assert!(notice.contains(v), "legal notice lacks {v}");
    }
    let data = text(send(&f.app, get("/donnees-personnelles", None)).await).await;
    for v in [
        "dpo@impots.example",
        "sip.lyon@impots.example",
        "31 jours",
        "400 jours",
        "800 jours",
        "href=\"/transparence\"",
        "CNIL",
    ] {
        assert!(data.contains(v), "personal-data page lacks {v}");
    }
    let a11y = text(send(&f.app, get("/accessibilite", None)).await).await;
    for v in [
        "partiellement conforme",
        "78 %",
        "02/11/2026",
        "Graphiques de supervision",
        "Défenseur des droits",
        "Voies de recours",
    ] {
        assert!(a11y.contains(v), "accessibility statement lacks {v}");
    }
    let sheet = text(send(&f.app, get("/transparence", None)).await).await;
    for v in ["31 jours", "400 jours", "800 jours"] {
        assert!(sheet.contains(v), "transparency sheet lacks retention {v}");
    }
    // English, from the language cookie.
    let en = Request::get("/donnees-personnelles")
        .header(header::COOKIE, "facteur_lang=en")
        .body(Body::empty())
        .unwrap();
    let en = text(send(&f.app, en).await).await;
    assert!(
        en.contains("<html lang=\"en\"")
            && en.contains("Retention periods")
            && en.contains("400 days")
    );
}

#[tokio::test]
async fn unconfigured_legal_pages_say_what_the_operator_must_fill_in() {
    let f = fixture().await;
    let notice = text(send(&f.app, get("/mentions-legales", None)).await).await;
    assert!(notice.contains(facteur_web::publication::TO_FILL));
    let a11y = text(send(&f.app, get("/accessibilite", None)).await).await;
    assert!(a11y.contains("non conforme") && a11y.contains("Aucun audit"));
    let data = text(send(&f.app, get("/donnees-personnelles", None)).await).await;
    assert!(data.contains("90 jours") && data.contains("365 jours") && data.contains("730 jours"));
}

#[tokio::test]
async fn every_signed_in_page_links_the_legal_pages_in_its_footer() {
    let f = fixture().await;
    let (admin, _) = login(&f.app, "admin").await;
    let pages = [
        "/".to_string(),
        "/outbox".into(),
        "/answers".into(),
        "/supervision".into(),
        "/modeles".into(),
        "/admin/users".into(),
        "/admin/mailboxes".into(),
        "/compte".into(),
        format!("/messages/{}", f.msg_a),
        "/login".into(),
    ];
    for path in &pages {
        let token = (path != "/login").then_some(admin.as_str());
        let res = send(&f.app, get(path, token)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let page = text(res).await;
        let footer = page
            .split("<footer")
            .nth(1)
            .unwrap_or_else(|| panic!("{path}: no footer"));
        for link in LEGAL_PAGES.iter().chain(&["/transparence"]) {
            assert!(
                footer.contains(&format!("href=\"{link}\"")),
                "{path} footer lacks {link}"
            );
        }
    }
}

/// A real tax-office question on which the model abstains (issue 17, "help when
/// the model abstains").
const DELAY_QUESTION: &str = "From: Jeanne Martin <jeanne.martin@example.org>\r\nTo: sip.lyon@impots.example\r\nSubject: Paiement de mon impot\r\nMessage-ID: <abstain-1@example.org>\r\nDate: Mon, 3 Mar 2025 09:00:00 +0100\r\n\r\nBonjour,\r\nSuite a une perte d'emploi je ne peux pas payer mon impot en une seule fois. Puis-je obtenir un delai de paiement ou un echeancier ?\r\nCordialement,\r\nJeanne Martin\r\n";

/// The demo engine (small model, threshold above any probability) on the
/// fixture's store, its abstained triage of [`DELAY_QUESTION`], and an app that
/// uses it to draft, fill and search.
async fn abstained_question(f: &Fixture) -> (Router, Arc<common::DemoEngine>, i64) {
    let engine = Arc::new(common::DemoEngine::new(
        f.store.clone(),
        &[
            "delais-paiement",
            "coordonnees-bancaires",
            "avis-imposition",
        ],
        1.01,
    ));
    let parsed = facteur_mail::parse_message(DELAY_QUESTION.as_bytes());
    let nm = NewMessage::from_parsed(f.mb_a, DELAY_QUESTION.as_bytes().to_vec(), &parsed);
    let id = f.store.insert_message(&nm).await.unwrap().id();
    let t = engine.triage(id, None).await;
    assert_eq!(t.route, Route::Abstain);
    assert!(t.draft.is_none());
    let state = AppState::new(
        f.store.clone(),
        common::demo_taxonomy(),
        WebConfig::default(),
    )
    .with_service(engine.service.clone());
    (router(state), engine, id)
}

#[tokio::test]
async fn an_abstained_message_offers_its_likeliest_types_with_their_answers() {
    let f = fixture().await;
    let (app, _engine, id) = abstained_question(&f).await;
    let triage = f.store.latest_triage(id).await.unwrap().unwrap();
    // Three types, most probable first, each with the answer it would draft from.
    let labels: Vec<&str> = triage.candidates.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels.len(), 3, "{labels:?}");
    assert_eq!(labels[0], "delais-paiement", "{labels:?}");
    assert!(triage
        .candidates
        .windows(2)
        .all(|w| w[0].probability >= w[1].probability));
    assert!(triage.candidates.iter().all(|c| c.answer_id.is_some()));
    // Titled in the mail's language (French here), not the English variant's.
    assert_eq!(
        triage.candidates[0].answer_title.as_deref(),
        Some("Demander un délai de paiement")
    );

    let (token, csrf) = login(&app, "agent").await;
    let html = text(send(&app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    assert!(html.contains("id=\"candidates\""), "{html}");
    assert!(html.contains("Types de demande possibles"));
    assert!(
        html.contains("Délais de paiement") || html.contains("délai"),
        "{html}"
    );
    assert!(html.contains("Rédiger avec ce type"));

    // One click: recorded as the agent's correction, and the draft follows.
    let res = send(
        &app,
        post_form(
            &format!("/messages/{id}/correct"),
            Some(&token),
            &format!("csrf={csrf}&category=delais-paiement"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let after = f.store.latest_triage(id).await.unwrap().unwrap();
    assert_eq!(after.category.as_deref(), Some("delais-paiement"));
    assert_eq!(after.answer_id.as_deref(), Some("delais-paiement"));
    assert!(after.draft_text.as_deref().unwrap().contains("Madame"));
    assert!(after.candidates.is_empty(), "a draft needs no candidates");
    let actions = f.store.list_actions(id).await.unwrap();
    assert!(
        actions.iter().any(|a| a.kind == "correct_category"),
        "{actions:?}"
    );
    let html = text(send(&app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    assert!(!html.contains("id=\"candidates\""));
}

#[tokio::test]
async fn the_message_page_searches_the_knowledge_base_and_inserts_filled_answers() {
    let f = fixture().await;
    let (app, _engine, id) = abstained_question(&f).await;
    let (token, csrf) = login(&app, "agent").await;
    let compose = |body: String| {
        post_form(
            &format!("/messages/{id}/compose"),
            Some(&token),
            &format!("csrf={csrf}&{body}"),
        )
    };
    // Search: results listed, the agent's text kept as typed.
    let res = send(
        &app,
        compose("text=Madame%2C%0D%0A%0D%0AMon+texte.&q=d%C3%A9lai+de+paiement&op=search".into()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = text(res).await;
    assert!(html.contains("id=\"kb-results\""), "{html}");
    assert!(html.contains("value=\"answer:delais-paiement\""), "{html}");
    assert!(html.contains("Madame,\n\nMon texte.</textarea>"), "{html}");
    // Insert: the answer filled from the mail (salutation, signature), after the
    // agent's text.
    let html = text(
        send(
            &app,
            compose("text=Mon+texte.&q=d%C3%A9lai+de+paiement&op=answer%3Adelais-paiement".into()),
        )
        .await,
    )
    .await;
    assert!(html.contains("id=\"compose-inserted\""), "{html}");
    let start = html.find("id=\"draft\"").unwrap();
    let draft = &html[start..html[start..].find("</textarea>").unwrap() + start];
    assert!(draft.contains("Mon texte.\n\n"), "{draft}");
    assert!(!draft.contains("{{"), "variables are filled: {draft}");
    assert!(draft.contains("Madame, Monsieur,"), "{draft}");
    // A fiche: its title, link and the passage that matched.
    let q = "q=pr%C3%A9l%C3%A8vements+mensuels+mensualisation";
    let html = text(send(&app, compose(format!("text=&{q}&op=search"))).await).await;
    let at = html
        .find("value=\"fiche:")
        .expect("a fiche among the results");
    let value = &html[at + 7..];
    let value = &value[..value.find('"').unwrap()];
    let html = text(
        send(
            &app,
            compose(format!("text=&{q}&op={}", value.replace(':', "%3A"))),
        )
        .await,
    )
    .await;
    assert!(html.contains("id=\"compose-inserted\""), "{html}");
    let start = html.find("id=\"draft\"").unwrap();
    let draft = &html[start..html[start..].find("</textarea>").unwrap() + start];
    assert!(draft.contains("https://"), "the fiche's link: {draft}");
    assert!(draft.contains('«'), "the matched passage: {draft}");
    // Something not offered for this query is refused, the text kept.
    let html = text(
        send(
            &app,
            compose("text=Gard%C3%A9&q=d%C3%A9lai&op=answer%3Ainexistante".into()),
        )
        .await,
    )
    .await;
    assert!(html.contains("id=\"compose-problem\""), "{html}");
    assert!(html.contains("Gardé</textarea>"), "{html}");
    // Nothing was validated or sent by any of it.
    assert!(f.store.list_outbox(None, 100).await.unwrap().is_empty());
    let m = f.store.get_message(id).await.unwrap().unwrap();
    assert_eq!(m.state, MessageState::Abstained);
    // Without a session: no search.
    let res = send(
        &app,
        post_form(
            &format!("/messages/{id}/compose"),
            None,
            "q=x&op=search&text=",
        ),
    )
    .await;
    assert_ne!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn escalating_moves_on_to_the_next_message_and_a_late_undo_is_refused() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "agent").await;
    let raw = "From: B <b@example.org>\r\nSubject: Suite\r\nMessage-ID: <next@example.org>\r\n\r\nBonjour.\r\n";
    let second = add_message(&f.store, f.mb_a, raw, "Brouillon").await;
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/escalate", f.msg_a),
            Some(&token),
            &format!("csrf={csrf}&reason=complaint"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        to,
        format!("/messages/{second}?done=escalated&of={}", f.msg_a)
    );
    let html = text(send(&f.app, get(&to, Some(&token))).await).await;
    assert!(html.contains("id=\"done-banner\""), "{html}");
    assert!(html.contains("Message escaladé."), "{html}");
    // Nothing held for it: "Annuler l'envoi" is a conflict, said in words.
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{second}/undo-send"),
            Some(&token),
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = text(res).await;
    assert!(
        html.contains("il n&#x27;y a rien à annuler") || html.contains("il n'y a rien à annuler"),
        "{html}"
    );
    assert!(f
        .store
        .get_outbox_for_message(second)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn an_automatically_escalated_message_says_which_flag_and_which_words() {
    let f = fixture().await;
    let raw = "From: C <c@example.org>\r\nSubject: Saisie\r\nMessage-ID: <auto-esc@example.org>\r\n\r\nBonjour.\r\n";
    let parsed = facteur_mail::parse_message(raw.as_bytes());
    let mut nm = NewMessage::from_parsed(f.mb_a, raw.as_bytes().to_vec(), &parsed);
    nm.pseudonymised_text =
        "Bonjour, l'huissier est passé pour une saisie sur mon compte. [NOM_1]".into();
    let id = f.store.insert_message(&nm).await.unwrap().id();
    f.store
        .record_triage(&NewTriage {
            message_id: id,
            model_version: Some("m1".into()),
            category: Some("avis".into()),
            confidence: Some(0.9),
            route: Route::Escalate,
            answer_id: None,
            answer_version: None,
            draft_text: None,
            passages: Vec::new(),
            language: Some("fr".into()),
            pseudonymised_text: None,
            subject_pseudonymised: None,
            classify_text: None,
            pii_kinds: vec![],
            flags: vec!["legal_deadline".into()],
            candidates: Vec::new(),
            close_suggestion: None,
            citizen_ids: Vec::new(),
            attachment_texts: Vec::new(),
        })
        .await
        .unwrap();
    let (token, _) = login(&f.app, "agent").await;
    let html = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    let at = html.find("id=\"auto-escalation\"").expect("explained");
    let dd = &html[at..at + html[at..].find("</dd>").unwrap()];
    assert!(dd.contains("procédure ou échéance juridique"), "{dd}");
    assert!(dd.contains("« huissier »"), "{dd}");
    assert!(html.contains("Escaladé automatiquement"));
}

#[tokio::test]
async fn the_queue_searches_the_masked_text_with_filters_and_says_when_nothing_matches() {
    let f = fixture().await;
    let (token, _) = login(&f.app, "agent").await;
    let queue = |qs: &str| get(&format!("/mailboxes/{}/queue?{qs}", f.mb_a), Some(&token));
    let rows = |html: &str| -> Vec<i64> {
        html.match_indices("data-id=\"")
            .map(|(i, m)| {
                let rest = &html[i + m.len()..];
                rest[..rest.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    };
    // The fixture's message says "ancien message cité" in its masked text.
    let html = text(send(&f.app, queue("tab=all&q=ancien+cit%C3%A9")).await).await;
    assert_eq!(rows(&html), vec![f.msg_a], "{html}");
    assert!(html.contains("Tous"), "the whole-mailbox tab");
    // Kept in the next-page link and the form.
    assert!(html.contains("value=\"ancien cité\""), "{html}");
    // Never the raw address or name, which the page masks.
    let html = text(send(&f.app, queue("tab=all&q=jeanne%40example.org")).await).await;
    assert!(rows(&html).is_empty(), "{html}");
    assert!(html.contains("id=\"queue-empty\""));
    // Agent and date filters.
    let html = text(send(&f.app, queue(&format!("tab=all&agent={}", f.agent + 1000))).await).await;
    assert!(rows(&html).is_empty());
    let html = text(send(&f.app, queue("tab=all&from=2000-01-01&to=2100-01-01")).await).await;
    assert!(rows(&html).contains(&f.msg_a), "{html}");
    let html = text(send(&f.app, queue("tab=all&to=2000-01-01")).await).await;
    assert!(rows(&html).is_empty());
    let res = send(&f.app, queue("tab=all&from=hier")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// The State theme shows the "République française" block and loads the
/// vendored DSFR; the neutral theme keeps the components without the State's
/// identity. The DSFR's files are served by the app itself.
#[tokio::test]
async fn the_state_theme_and_the_neutral_theme_and_the_vendored_dsfr() {
    let f = fixture().await;
    let page = text(send(&f.app, get("/login", None)).await).await;
    assert!(
        page.contains("<p class=\"fr-logo\">République<br>Française</p>"),
        "{page}"
    );
    assert!(page.contains("href=\"/static/dsfr/dsfr.min.css\""));
    assert!(!page.contains("neutre.css"));
    assert!(page.contains("data-theme=\"dsfr\""));
    for (path, kind) in [
        ("/static/dsfr/dsfr.min.css", "text/css; charset=utf-8"),
        ("/static/dsfr/fonts/Marianne-Regular.woff2", "font/woff2"),
        (
            "/static/dsfr/icons/system/fr--error-fill.svg",
            "image/svg+xml",
        ),
        ("/static/neutre.css", "text/css; charset=utf-8"),
    ] {
        let res = send(&f.app, get(path, None)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()["content-type"], kind, "{path}");
        assert!(res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public"));
    }
    let res = send(&f.app, get("/static/dsfr/../Cargo.toml", None)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = send(&f.app, get("/static/dsfr/nothing.css", None)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // The CSP lets the fonts load from the app, and nothing from elsewhere.
    let res = send(&f.app, get("/login", None)).await;
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("font-src 'self'"), "{csp}");

    let neutral = fixture_with(WebConfig {
        theme: facteur_web::Theme::Neutral,
        ..WebConfig::default()
    })
    .await;
    let page = text(send(&neutral.app, get("/login", None)).await).await;
    assert!(!page.contains("République"), "{page}");
    assert!(!page.contains("favicon.svg"));
    assert!(page.contains("href=\"/static/neutre.css\""));
    assert!(page.contains("data-theme=\"neutre\""));
    assert!(page.contains("class=\"fr-header banner\""));
}

/// The editor as a form: the fields become an answer file the knowledge base's
/// rules judge; "Aperçu" stores nothing; a draft is saved, then submitted by its
/// author, validated by another supervisor; versions are compared and exported
/// as files.
#[tokio::test]
async fn the_answer_editor_form_previews_saves_submits_compares_and_exports() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "super").await;
    let form = |op: &str, body: &str, until: &str| {
        format!(
            "csrf={csrf}&id=rib-form&title={}&request_types=rib&language=fr&valid_from=2025-01-01\
             &valid_until={until}&links=&body={}&op={op}",
            enc("Changer de coordonnées bancaires"),
            enc(body)
        )
    };
    let body = "Bonjour {{civilite}} {{nom}},\n\nModifiez vos coordonnées dans votre espace, dossier {{dossier}}.\n\n{{signature}}\n";
    // Preview: the text drafting would give, nothing stored.
    let res = send(
        &f.app,
        post_form(
            "/answers",
            Some(&token),
            &form("preview", body, "2099-12-31"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = text(res).await;
    assert!(page.contains("id=\"answer-preview\""), "{page}");
    assert!(
        page.contains("Madame,\n\nModifiez vos coordonnées"),
        "{page}"
    );
    assert!(
        page.contains("À compléter par l&#39;agent : dossier")
            || page.contains("À compléter par l'agent : dossier"),
        "{page}"
    );
    assert!(
        page.contains("<code>{{dossier}}</code> : à compléter par l"),
        "{page}"
    );
    assert!(f
        .store
        .list_answer_versions("rib-form")
        .await
        .unwrap()
        .is_empty());
    // A date the form cannot read: refused, nothing stored.
    let res = send(
        &f.app,
        post_form("/answers", Some(&token), &form("draft", body, "31/12/2099")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(f
        .store
        .list_answer_versions("rib-form")
        .await
        .unwrap()
        .is_empty());
    // Saved as a draft: a file with the variables the body uses.
    let res = send(
        &f.app,
        post_form("/answers", Some(&token), &form("draft", body, "2099-12-31")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        "/answers/rib-form?ok=answer-saved"
    );
    let v1 = f
        .store
        .get_answer_version("rib-form", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (v1.status, v1.submitted_at),
        (facteur_core::AnswerStatus::Draft, None)
    );
    assert!(
        v1.content
            .contains("variables = [\"civilite\", \"nom\", \"dossier\", \"signature\"]"),
        "{}",
        v1.content
    );
    let page = text(
        send(
            &f.app,
            get("/answers/rib-form?ok=answer-saved", Some(&token)),
        )
        .await,
    )
    .await;
    assert!(page.contains("Brouillon enregistré"), "{page}");
    // Another supervisor cannot validate a draft nobody submitted.
    f.store
        .create_user(
            &NewUser {
                username: "relectrice".into(),
                display_name: "Rita Relectrice".into(),
                password_hash: light_hash(PASSWORD),
                role: Role::Supervisor,
            },
            None,
        )
        .await
        .unwrap();
    let (rev, rev_csrf) = login(&f.app, "relectrice").await;
    let validate = |v: i64| {
        post_form(
            &format!("/answers/rib-form/{v}/validate"),
            Some(&rev),
            &format!("csrf={rev_csrf}"),
        )
    };
    assert_eq!(
        send(&f.app, validate(1)).await.status(),
        StatusCode::CONFLICT
    );
    // Only its author submits it; then the other supervisor validates.
    let submit =
        |t: &str, c: &str| post_form("/answers/rib-form/1/submit", Some(t), &format!("csrf={c}"));
    assert_eq!(
        send(&f.app, submit(&rev, &rev_csrf)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&f.app, submit(&token, &csrf)).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(f
        .store
        .get_answer_version("rib-form", 1)
        .await
        .unwrap()
        .unwrap()
        .submitted_at
        .is_some());
    assert_eq!(
        send(&f.app, validate(1)).await.status(),
        StatusCode::SEE_OTHER
    );
    // An edit submitted at once; the diff shows what changed, marked in words.
    let edited = body.replace("dans votre espace", "dans votre espace particulier");
    let res = send(
        &f.app,
        post_form(
            "/answers/rib-form",
            Some(&token),
            &form("submit", &edited, "2099-12-31"),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let v2 = f
        .store
        .get_answer_version("rib-form", 2)
        .await
        .unwrap()
        .unwrap();
    assert!(v2.submitted_at.is_some());
    assert!(v2.content.contains("version = 2\n"), "{}", v2.content);
    let page = text(send(&f.app, get("/answers/rib-form?diff=2", Some(&rev))).await).await;
    assert!(
        page.contains("<ins>+ Modifiez vos coordonnées dans votre espace particulier"),
        "{page}"
    );
    assert!(
        page.contains("<del>− Modifiez vos coordonnées dans votre espace,"),
        "{page}"
    );
    assert!(page.contains("Soumise pour validation"), "{page}");
    // Export: the import format, with the status the store holds.
    let res = send(&f.app, get("/answers/rib-form/1/fichier", Some(&token))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let file = text(res).await;
    assert!(file.contains("status = \"validated\"\n"), "{file}");
    assert!(file.contains("version = 1\n"), "{file}");
    assert_eq!(
        send(&f.app, get("/answers/rib-form/9/fichier", Some(&token)))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

/// "Temps rendu aux agents" is also given mailbox by mailbox.
#[tokio::test]
async fn time_given_back_is_shown_per_mailbox() {
    let f = fixture().await;
    let (agent, csrf) = login(&f.app, "agent").await;
    let page = send(&f.app, get(&format!("/messages/{}", f.msg_a), Some(&agent))).await;
    assert_eq!(page.status(), StatusCode::OK);
    let draft = f
        .store
        .latest_triage(f.msg_a)
        .await
        .unwrap()
        .unwrap()
        .draft_text
        .unwrap();
    let res = send(
        &f.app,
        post_form(
            &format!("/messages/{}/validate", f.msg_a),
            Some(&agent),
            &format!("csrf={csrf}&text={}", enc(&draft)),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (sup, _) = login(&f.app, "super").await;
    let html = text(send(&f.app, get("/supervision", Some(&sup))).await).await;
    let table = html
        .split("id=\"time-per-mailbox\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no table per mailbox: {html}"));
    let table = table.split("</table>").next().unwrap();
    assert!(table.contains("<th scope=\"row\">SIP Lyon</th>"), "{table}");
    assert!(!table.contains("SIP Nantes"), "no reply there: {table}");
}

/// Every action ends on a page that says it worked (a DSFR success banner);
/// a code the app does not know shows nothing.
#[tokio::test]
async fn actions_end_on_a_page_that_says_they_worked() {
    let f = fixture().await;
    let (token, csrf) = login(&f.app, "admin").await;
    let form = format!(
        "csrf={csrf}&username=nadia&display_name=Nadia&password={PASSWORD}&role=agent&mailbox={}",
        f.mb_a
    );
    let res = send(&f.app, post_form("/admin/users", Some(&token), &form)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, "/admin/users?ok=user-created");
    let page = text(send(&f.app, get(&to, Some(&token))).await).await;
    assert!(
        page.contains("id=\"action-notice\"") && page.contains("Compte créé."),
        "{page}"
    );
    let page = text(send(&f.app, get("/admin/users?ok=%3Cscript%3E", Some(&token))).await).await;
    assert!(!page.contains("id=\"action-notice\""), "{page}");
    let (sup, sup_csrf) = login(&f.app, "super").await;
    let res = send(
        &f.app,
        post_form(
            "/supervision/switches",
            Some(&sup),
            &format!("csrf={sup_csrf}&scope=all&value=&action=off&reason="),
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, "/supervision?ok=switch-off#kill-switches");
}

/// A mail whose content is an attached PDF, end to end: the node's triage reads
/// the PDF's text layer with poppler (in a bounded child process), masks it like
/// the body, feeds it to the classifier after the body, and the store keeps it;
/// the message page shows it folded under the mail. Needs `pdftotext` (CI
/// installs it: scripts/services.sh).
#[tokio::test]
async fn an_attached_pdf_is_read_masked_and_shown_under_the_mail() {
    use base64::Engine as _;
    let has_pdftotext = std::process::Command::new("pdftotext")
        .arg("-v")
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !has_pdftotext {
        assert!(
            std::env::var_os("CI").is_none(),
            "pdftotext missing under CI"
        );
        eprintln!("skipped: pdftotext (poppler-utils) not installed");
        return;
    }
    let f = fixture().await;
    let pdf = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../extract/tests/fixtures/avis-impot-2024.pdf"),
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pdf);
    let raw = format!(
        "From: Claire Martin <claire.martin@example.org>\r\nTo: sip.lyon@impots.example\r\n\
         Subject: Mon avis\r\nMessage-ID: <pdf-1@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour, ci-joint mon avis d'impôt, je ne comprends pas le montant.\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"avis-impot-2024.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"avis-impot-2024.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b1--\r\n"
    );
    let parsed = facteur_mail::parse_message(raw.as_bytes());
    let id = f
        .store
        .insert_message(&NewMessage::from_parsed(f.mb_a, raw.into_bytes(), &parsed))
        .await
        .unwrap()
        .id();
    let dir = tempfile::tempdir().unwrap();
    let options = facteur_triage::TriageOptions {
        attachments: Some(facteur_extract::ExtractConfig::default()),
        ..facteur_triage::TriageOptions::default()
    };
    let engine = facteur_triage::Engine::new(None, None, options);
    let service = common::service_over(f.store.clone(), engine, None, dir.path());
    let t = service.retriage(id, None).await.unwrap();
    assert_eq!(t.attachment_texts.len(), 1);
    let a = &t.attachment_texts[0];
    assert_eq!(a.method, Some(facteur_core::ExtractMethod::PdfText));
    assert_eq!(a.pages, 2);
    assert!(a.text.contains("AVIS D'IMPOT 2024"), "{}", a.text);
    // The fiscal number printed on the notice is masked like the body's.
    assert!(!a.text.contains("1234 56 789 012 3"), "{}", a.text);
    assert!(
        t.classify_text.contains("[pièce jointe]"),
        "{}",
        t.classify_text
    );
    assert!(
        t.classify_text.contains("Reste a payer"),
        "{}",
        t.classify_text
    );
    let stored = f.store.attachment_texts(id).await.unwrap();
    assert_eq!(stored, t.attachment_texts);

    let (token, _) = login(&f.app, "agent").await;
    let page = text(send(&f.app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    assert!(
        page.contains("Pièce jointe : avis-impot-2024.pdf, 2 pages, texte extrait"),
        "{page}"
    );
    assert!(page.contains("AVIS D&#39;IMPOT 2024") || page.contains("AVIS D'IMPOT 2024"));
    assert!(
        !page.contains("1234 56 789 012 3"),
        "no fiscal number before a reveal"
    );
    // Nothing said "attached" in vain: no missing-attachment warning.
    assert!(!page.contains("id=\"attachment-missing\""));
}

/// Issue 19, ingest speed: triage stores the matched documents without their
/// highlighted passages (the snippets cost more than the rest of triage); the
/// page and the API compute them when an agent opens the message, with the
/// message's words marked.
#[tokio::test]
async fn the_passages_are_highlighted_when_the_message_is_opened() {
    let f = fixture().await;
    let engine = common::DemoEngine::new(
        f.store.clone(),
        &[
            "delais-paiement",
            "coordonnees-bancaires",
            "avis-imposition",
        ],
        0.0,
    );
    let parsed = facteur_mail::parse_message(DELAY_QUESTION.as_bytes());
    let nm = NewMessage::from_parsed(f.mb_a, DELAY_QUESTION.as_bytes().to_vec(), &parsed);
    let id = f.store.insert_message(&nm).await.unwrap().id();
    let t = engine.triage(id, None).await;
    assert!(t.draft.is_some(), "{:?}", t.no_draft_reason);
    let stored = f.store.latest_triage(id).await.unwrap().unwrap();
    assert!(!stored.passages.is_empty());
    assert!(
        stored.passages.iter().all(|h| h.passages.is_empty()),
        "triage stores bare hits"
    );
    let state = AppState::new(
        f.store.clone(),
        common::demo_taxonomy(),
        WebConfig::default(),
    )
    .with_service(engine.service.clone());
    let app = router(state);
    let (token, _) = login(&app, "agent").await;
    let html = text(send(&app, get(&format!("/messages/{id}"), Some(&token))).await).await;
    let why = &html[html.find("id=\"why\"").expect("the why fold")..];
    assert!(why.contains("<mark>"), "{why}");
    let v: serde_json::Value = serde_json::from_str(
        &text(send(&app, get(&format!("/api/messages/{id}"), Some(&token))).await).await,
    )
    .unwrap();
    let hits = v["triage"]["passages"].as_array().expect("passages");
    assert!(
        hits.iter()
            .any(|h| !h["passages"].as_array().unwrap().is_empty()),
        "{v}"
    );
    // Nothing of it is written back: the stored triage stays as triage left it.
    let again = f.store.latest_triage(id).await.unwrap().unwrap();
    assert!(again.passages.iter().all(|h| h.passages.is_empty()));
}
