//! Single sign-on end to end over HTTP.
//!
//! Against the real provider: LemonLDAP::NG on loopback (`services_start_oidc` in
//! scripts/services.sh), users in its SQLite user table. A cookie-keeping HTTP
//! client plays the browser: it follows Facteur's redirect to the portal, fills
//! the portal's login form, and follows the provider back to Facteur's callback.
//!
//! Against a provider the test controls (`FakeProvider`): the refusals. It
//! publishes its own key and signs ID tokens the way a provider would, then
//! spoils exactly one thing per case (payload changed after signing, `aud` of
//! another client, `iss` of another provider); a well-formed token from the same
//! provider is accepted first, so each refusal is due to that one defect.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use facteur_core::Role;
use facteur_kb::answers::Taxonomy;
use facteur_store::{NewMailbox, Store};
use facteur_web::oidc::{GroupMapping, Oidc, OidcSettings};
use facteur_web::{AppState, WebConfig};
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKeyId, PrivateSigningKey};
use serde_json::{json, Value};

/// The real provider (issuer, client secret, user database), or `None` (with a
/// skip line) when it is not running locally. Under CI a missing provider is a
/// failure.
fn provider() -> Option<(String, String, String)> {
    let v = facteur_testkit::services::require(
        "single sign-on tests against LemonLDAP::NG",
        &[
            "FACTEUR_TEST_OIDC_ISSUER",
            "FACTEUR_TEST_OIDC_CLIENT_SECRET",
            "FACTEUR_TEST_OIDC_USERDB",
        ],
    )?;
    let [issuer, secret, userdb] = <[String; 3]>::try_from(v).ok()?;
    Some((issuer, secret, userdb))
}

fn mappings() -> Vec<GroupMapping> {
    let m = |g: &str, role: Role, boxes: &[&str]| GroupMapping {
        group: g.into(),
        role,
        mailboxes: boxes.iter().map(|b| b.to_string()).collect(),
    };
    vec![
        m("facteur-agents", Role::Agent, &[]),
        m("courrier-impots", Role::Agent, &["impots"]),
        m("courrier-amendes", Role::Agent, &["amendes"]),
        m("facteur-superviseurs", Role::Supervisor, &[]),
        m("facteur-admins", Role::Admin, &[]),
    ]
}

struct App {
    store: Store,
    base: String,
    impots: i64,
    amendes: i64,
    _dir: tempfile::TempDir,
}

/// Facteur on 127.0.0.1:`port` (one of the redirect URIs registered at the
/// provider), with two mailboxes and SSO to `issuer`.
async fn start_app(port: u16, issuer: &str, secret: Option<&str>, local_login: bool) -> App {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("t.db").display());
    let store = Store::open(&url).await.unwrap();
    let mb = |name: &str| NewMailbox {
        name: name.into(),
        address: format!("{name}@service.example"),
        signature: "Le service".into(),
        settings: json!({}),
    };
    let impots = store.create_mailbox(&mb("impots"), None).await.unwrap();
    let amendes = store.create_mailbox(&mb("amendes"), None).await.unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let oidc = Oidc::new(OidcSettings {
        issuer: issuer.into(),
        client_id: "facteur".into(),
        client_secret: secret.map(str::to_string),
        redirect_url: format!("{base}/oidc/callback"),
        post_logout_redirect_url: Some(format!("{base}/login")),
        scopes: vec!["profile".into(), "email".into(), "groups".into()],
        username_claim: "preferred_username".into(),
        groups_claim: "groups".into(),
        mappings: mappings(),
        button_label: None,
    })
    .unwrap();
    let config = WebConfig {
        local_login,
        ..WebConfig::default()
    };
    let state =
        AppState::new(store.clone(), Taxonomy::from_labels(&[]), config).with_oidc(Arc::new(oidc));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
    tokio::spawn(facteur_web::serve(listener, state));
    App {
        store,
        base,
        impots,
        amendes,
        _dir: dir,
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Change a person's groups at the provider (its user table).
fn set_groups(userdb: &str, uid: &str, groups: &str) {
    let sql = format!("UPDATE users SET grp = '{groups}' WHERE uid = '{uid}';");
    // Tests run in parallel and the portal reads the table: wait for the lock.
    let out = std::process::Command::new("sqlite3")
        .args(["-cmd", ".timeout 10000"])
        .arg(userdb)
        .arg(sql)
        .output()
        .expect("run sqlite3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A hidden or text input's value in the portal's form.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + 7;
    Some(tag[v..v + tag[v..].find('"')?].to_string())
}

/// Sign in through the provider as a browser would: Facteur's button, the
/// portal's form (unless the provider's own session is still open), back to
/// Facteur. Returns the last response (the callback's).
async fn sso_sign_in(c: &reqwest::Client, app: &App, user: &str, password: &str) -> (u16, String) {
    let r = c
        .get(format!("{}/oidc/login", app.base))
        .send()
        .await
        .unwrap();
    let at = r.url().clone();
    let status = r.status().as_u16();
    let html = r.text().await.unwrap();
    if at.as_str().starts_with(&app.base) {
        return (status, html);
    }
    assert_eq!(status, 200, "portal login page: {html}");
    let token = input_value(&html, "token").expect("portal form token");
    let url = input_value(&html, "url").unwrap_or_default();
    let r = c
        .post(at)
        .form(&[
            ("user", user),
            ("password", password),
            ("token", token.as_str()),
            ("url", url.as_str()),
            ("skin", "bootstrap"),
            ("timezone", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        r.url().as_str().starts_with(&app.base),
        "the provider did not send the browser back to Facteur: {}",
        r.url()
    );
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

async fn home(c: &reqwest::Client, app: &App) -> String {
    c.get(format!("{}/", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn user_state(app: &App, username: &str) -> (Role, Vec<i64>) {
    let u = app
        .store
        .get_user_by_username(username)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("user {username} created"));
    let mut boxes = app.store.user_mailbox_ids(u.id).await.unwrap();
    if u.role.sees_all_mailboxes() {
        boxes.clear();
    }
    (u.role, boxes)
}

async fn audit_actions(store: &Store) -> Vec<(String, Value)> {
    store
        .list_audit(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.details))
        .collect()
}

#[tokio::test]
async fn first_sign_in_creates_the_user_with_the_mapped_role_and_mailboxes() {
    let Some((issuer, secret, userdb)) = provider() else {
        return;
    };
    set_groups(&userdb, "alice", "facteur-agents; courrier-impots");
    let app = start_app(18092, &issuer, Some(&secret), false).await;
    let c = browser();

    // Local accounts are off: the sign-in page offers the provider only, and a
    // posted password is refused.
    let login = c.get(format!("{}/login", app.base)).send().await.unwrap();
    let login = login.text().await.unwrap();
    assert!(login.contains("sso-login"), "{login}");
    assert!(!login.contains("login-form"), "{login}");
    let r = c
        .post(format!("{}/login", app.base))
        .form(&[("username", "alice"), ("password", "alice-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    assert!(app
        .store
        .get_user_by_username("alice")
        .await
        .unwrap()
        .is_none());
    let (status, page) = sso_sign_in(&c, &app, "alice", "alice-password").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("sso-continue"), "{page}");
    let (role, boxes) = user_state(&app, "alice").await;
    assert_eq!(role, Role::Agent);
    assert_eq!(boxes, vec![app.impots]);
    let u = app
        .store
        .get_user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.display_name, "Alice Agent");
    // Signed in: the home page names her, her mailbox opens, the other does not.
    assert!(home(&c, &app).await.contains("Alice Agent"));
    let q = c
        .get(format!("{}/mailboxes/{}/queue", app.base, app.impots))
        .send()
        .await
        .unwrap();
    assert_eq!(q.status().as_u16(), 200);
    let q = c
        .get(format!("{}/mailboxes/{}/queue", app.base, app.amendes))
        .send()
        .await
        .unwrap();
    assert_eq!(q.status().as_u16(), 403);
    // Audited: the creation and the mapping applied.
    let audit = audit_actions(&app.store).await;
    let (_, d) = audit
        .iter()
        .find(|(a, _)| a == "user.sso_sign_in")
        .expect("user.sso_sign_in audited");
    assert_eq!(d["created"], json!(true));
    assert_eq!(d["role"], json!("agent"));
    assert_eq!(d["mailboxes"], json!([app.impots]));
    assert_eq!(d["groups"], json!(["facteur-agents", "courrier-impots"]));
    assert!(audit
        .iter()
        .any(|(a, d)| a == "user.create" && d["via"] == json!("sso")));
    // The user the provider created has no usable local password.
    assert_eq!(u.password_hash, facteur_store::SSO_PASSWORD_HASH);
}

#[tokio::test]
async fn roles_follow_the_group_mapping() {
    let Some((issuer, secret, userdb)) = provider() else {
        return;
    };
    set_groups(&userdb, "bruno", "facteur-superviseurs");
    set_groups(&userdb, "chloe", "facteur-admins; courrier-impots");
    set_groups(&userdb, "hugo", "un-autre-service");
    let app = start_app(18093, &issuer, Some(&secret), true).await;

    let c = browser();
    let (status, page) = sso_sign_in(&c, &app, "bruno", "bruno-password").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(user_state(&app, "bruno").await.0, Role::Supervisor);
    // A supervisor sees the supervision page.
    let r = c
        .get(format!("{}/supervision", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = c
        .get(format!("{}/admin/users", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    let c = browser();
    let (status, page) = sso_sign_in(&c, &app, "chloe", "chloe-password").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(user_state(&app, "chloe").await.0, Role::Admin);
    let r = c
        .get(format!("{}/admin/users", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // In no mapped group: refused, no account, audited with its reason.
    let c = browser();
    let (status, page) = sso_sign_in(&c, &app, "hugo", "hugo-password").await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("sso-error"));
    assert!(app
        .store
        .get_user_by_username("hugo")
        .await
        .unwrap()
        .is_none());
    assert!(!home(&c, &app).await.contains("Hugo"));
    assert!(audit_actions(&app.store)
        .await
        .iter()
        .any(|(a, d)| a == "login.sso_refused" && d["reason"] == json!("no_mapped_group")));
}

#[tokio::test]
async fn a_group_removed_at_the_provider_takes_effect_at_the_next_sign_in() {
    let Some((issuer, secret, userdb)) = provider() else {
        return;
    };
    set_groups(
        &userdb,
        "david",
        "facteur-agents; courrier-impots; courrier-amendes",
    );
    let app = start_app(18094, &issuer, Some(&secret), true).await;
    let c = browser();
    let (status, page) = sso_sign_in(&c, &app, "david", "david-password").await;
    assert_eq!(status, 200, "{page}");
    let mut both = vec![app.impots, app.amendes];
    both.sort_unstable();
    assert_eq!(user_state(&app, "david").await, (Role::Agent, both));

    // The provider takes him out of the fines group.
    set_groups(&userdb, "david", "facteur-agents; courrier-impots");
    // Sign out: Facteur's session ends, then the provider's (RP-initiated
    // logout), which sends the browser back to Facteur's sign-in page.
    let home_page = home(&c, &app).await;
    let csrf = input_value(&home_page, "csrf").expect("logout form's CSRF token");
    let r = c
        .post(format!("{}/logout", app.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let end = r.url().clone();
    let body = r.text().await.unwrap();
    assert!(
        end.as_str().starts_with(&format!("{}/login", app.base)),
        "the provider's logout did not come back to Facteur: {end} {body}"
    );
    assert!(!home(&c, &app).await.contains("David Agent"));

    // Next sign-in: the portal asks for the password again (its session ended
    // too) and the mapping applies the provider's new groups.
    let (status, page) = sso_sign_in(&c, &app, "david", "david-password").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        user_state(&app, "david").await,
        (Role::Agent, vec![app.impots])
    );
    let r = c
        .get(format!("{}/mailboxes/{}/queue", app.base, app.amendes))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let audit = audit_actions(&app.store).await;
    let last = audit
        .iter()
        .rev()
        .find(|(a, _)| a == "user.sso_sign_in")
        .unwrap();
    assert_eq!(last.1["created"], json!(false));
    assert_eq!(last.1["mailboxes_removed"], json!([app.amendes]));
    // Still one account: the identity (issuer, sub) found him again.
    assert_eq!(
        app.store
            .list_users()
            .await
            .unwrap()
            .iter()
            .filter(|u| u.username == "david")
            .count(),
        1
    );
}

// ------------------------------------------------------------ refusals

#[derive(Clone, Copy, Debug, PartialEq)]
enum Spoil {
    Nothing,
    /// The payload is changed (to the admins' group) after signing.
    Tampered,
    /// Signed, but for another client.
    WrongAudience,
    /// Signed, but naming another issuer.
    WrongIssuer,
}

struct FakeState {
    issuer: String,
    key: CoreRsaPrivateSigningKey,
    spoil: Mutex<Spoil>,
    nonce: Mutex<String>,
}

/// A minimal OpenID Connect provider the test controls: discovery, keys,
/// an authorisation endpoint that answers at once, and a token endpoint whose ID
/// token is spoilt as told.
async fn start_fake_provider(port: u16) -> Arc<FakeState> {
    let pem = include_str!("../fixtures/oidc-test-provider-key.pem");
    let st = Arc::new(FakeState {
        issuer: format!("http://127.0.0.1:{port}"),
        key: CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new("fake".into())))
            .unwrap(),
        spoil: Mutex::new(Spoil::Nothing),
        nonce: Mutex::new(String::new()),
    });
    async fn discovery(State(st): State<Arc<FakeState>>) -> Json<Value> {
        let i = &st.issuer;
        Json(json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/authorize"),
            "token_endpoint": format!("{i}/token"),
            "jwks_uri": format!("{i}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }))
    }
    async fn jwks(State(st): State<Arc<FakeState>>) -> Json<Value> {
        Json(json!({"keys": [st.key.as_verification_key()]}))
    }
    async fn authorize(
        State(st): State<Arc<FakeState>>,
        Query(q): Query<std::collections::HashMap<String, String>>,
    ) -> impl IntoResponse {
        *st.nonce.lock().unwrap() = q.get("nonce").cloned().unwrap_or_default();
        Redirect::to(&format!(
            "{}?code=fake-code&state={}",
            q["redirect_uri"], q["state"]
        ))
    }
    async fn token(State(st): State<Arc<FakeState>>) -> Json<Value> {
        let spoil = *st.spoil.lock().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = |groups: &[&str]| {
            json!({
                "iss": if spoil == Spoil::WrongIssuer { "https://autre-fournisseur.example".to_string() } else { st.issuer.clone() },
                "aud": [if spoil == Spoil::WrongAudience { "autre-appli" } else { "facteur" }],
                "sub": "emma-at-fake",
                "iat": now,
                "exp": now + 300,
                "nonce": *st.nonce.lock().unwrap(),
                "preferred_username": "emma",
                "name": "Emma Agent",
                "groups": groups,
            })
        };
        let header = B64.encode(br#"{"alg":"RS256","kid":"fake","typ":"JWT"}"#);
        let payload = B64.encode(claims(&["facteur-agents", "courrier-impots"]).to_string());
        let input = format!("{header}.{payload}");
        let sig = st
            .key
            .sign(
                &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                input.as_bytes(),
            )
            .unwrap();
        let payload = if spoil == Spoil::Tampered {
            B64.encode(claims(&["facteur-admins"]).to_string())
        } else {
            payload
        };
        Json(json!({
            "access_token": "fake-access-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": format!("{header}.{payload}.{}", B64.encode(sig)),
        }))
    }
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(st.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    st
}

#[tokio::test]
async fn tampered_id_tokens_and_wrong_audience_or_issuer_are_refused() {
    let fake = start_fake_provider(18098).await;
    let app = start_app(18099, &fake.issuer.clone(), Some("fake-secret"), true).await;

    // Control: a well-formed token from this provider signs in.
    let c = browser();
    let (status, page) = sso_sign_in(&c, &app, "", "").await;
    assert_eq!(status, 200, "{page}");
    assert!(home(&c, &app).await.contains("Emma Agent"));
    assert_eq!(
        user_state(&app, "emma").await,
        (Role::Agent, vec![app.impots])
    );

    for spoil in [Spoil::Tampered, Spoil::WrongAudience, Spoil::WrongIssuer] {
        *fake.spoil.lock().unwrap() = spoil;
        let c = browser();
        let (status, page) = sso_sign_in(&c, &app, "", "").await;
        assert_eq!(status, 401, "{spoil:?}: {page}");
        assert!(page.contains("sso-error"), "{spoil:?}: {page}");
        // No session: the home page is the sign-in page.
        let h = home(&c, &app).await;
        assert!(!h.contains("Emma Agent"), "{spoil:?} signed in");
        // Nothing changed: the tampered token's admin group was not applied.
        assert_eq!(
            user_state(&app, "emma").await,
            (Role::Agent, vec![app.impots]),
            "{spoil:?}"
        );
    }
    let refusals = audit_actions(&app.store)
        .await
        .into_iter()
        .filter(|(a, d)| a == "login.sso_refused" && d["reason"] == json!("id_token"))
        .count();
    assert_eq!(refusals, 3);

    // A callback replayed (same state, no sign-in under way) is refused too.
    *fake.spoil.lock().unwrap() = Spoil::Nothing;
    let c = browser();
    let r = c
        .get(format!(
            "{}/oidc/callback?code=fake-code&state=forged",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}
