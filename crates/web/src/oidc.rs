//! Single sign-on with OpenID Connect: agents sign in through the
//! administration's identity provider (authorisation code flow with PKCE), and
//! their role and mailboxes come from the provider's groups through the
//! configuration's mapping, applied and audited at every sign-in (see
//! `docs/SSO.md`).
//!
//! Routes: `GET /oidc/login` sends the browser to the provider; `GET
//! /oidc/callback` takes its answer, exchanges the code (with the PKCE
//! verifier) and validates the ID token (signature against the provider's
//! published keys, `iss`, `aud`/`azp`, expiry, nonce, `at_hash`) with the
//! `openidconnect` crate; `POST /oidc/logout` (and `/logout`) ends the session
//! here and, for a provider session, at the provider too (RP-initiated logout)
//! when it publishes an `end_session_endpoint`.
//!
//! What is between the two legs (state, nonce, PKCE verifier) lives in the
//! database under the hash of a cookie token, so the callback may land on
//! another node and each sign-in can be completed once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use facteur_core::Role;
use facteur_store::{OidcPending, SsoSignIn, StoreError};
use maud::html;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::auth;
use crate::extract::Query;
use crate::i18n::{Lang, Msg};
use crate::views::page;
use crate::AppState;

/// Cookie carrying the token of a sign-in under way. `SameSite=Lax`, not
/// Strict: the provider's redirect back is a cross-site navigation, and a Strict
/// cookie would not come with it.
pub const PENDING_COOKIE: &str = "facteur_oidc";
/// How long a sign-in may take at the provider (typing a password, a second factor).
const PENDING_TTL: Duration = Duration::from_secs(600);
/// Provider metadata and keys are fetched again after this (key rotation); a
/// token that fails validation also drops them, so a rotated key is picked up at
/// the next attempt.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// Longest username or display name taken from a claim.
const MAX_NAME_CHARS: usize = 200;

/// One line of the claim mapping: members of provider group `group` get `role`
/// and the mailboxes named (by their Facteur name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    pub group: String,
    pub role: Role,
    pub mailboxes: Vec<String>,
}

/// The relying party's settings (from the `[oidc]` block of `facteur.toml`).
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The provider's issuer URL, exactly as its discovery document states it.
    pub issuer: String,
    pub client_id: String,
    /// `None` for a public client (PKCE only).
    pub client_secret: Option<String>,
    /// This service's `/oidc/callback` as the provider knows it.
    pub redirect_url: String,
    /// Where the provider sends the browser after its logout (registered there
    /// too); `None`: the provider's own page.
    pub post_logout_redirect_url: Option<String>,
    /// Scopes asked besides `openid` (e.g. `profile`, `email`, `groups`).
    pub scopes: Vec<String>,
    /// Claim giving the username of a user created at a first sign-in.
    pub username_claim: String,
    /// Claim listing the person's groups (an array of strings, or one string).
    pub groups_claim: String,
    pub mappings: Vec<GroupMapping>,
    /// Text of the sign-in button (e.g. the provider's name).
    pub button_label: Option<String>,
}

/// What the mapping makes of a person's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub role: Role,
    /// Mailbox names, each once, in the mapping's order.
    pub mailboxes: Vec<String>,
    /// The person's groups that the mapping knows.
    pub matched_groups: Vec<String>,
}

fn rank(r: Role) -> u8 {
    match r {
        Role::Agent => 0,
        Role::Supervisor => 1,
        Role::Admin => 2,
    }
}

/// The strongest role and every mailbox of the mapped groups the person is in;
/// `None` when no group is mapped (no access to Facteur).
pub fn map_groups(groups: &[String], mappings: &[GroupMapping]) -> Option<Mapped> {
    let mut out: Option<Mapped> = None;
    for m in mappings.iter().filter(|m| groups.contains(&m.group)) {
        let o = out.get_or_insert(Mapped {
            role: m.role,
            mailboxes: Vec::new(),
            matched_groups: Vec::new(),
        });
        if rank(m.role) > rank(o.role) {
            o.role = m.role;
        }
        for b in &m.mailboxes {
            if !o.mailboxes.contains(b) {
                o.mailboxes.push(b.clone());
            }
        }
        if !o.matched_groups.contains(&m.group) {
            o.matched_groups.push(m.group.clone());
        }
    }
    out
}

/// Claims beyond the standard ones, kept as the provider sent them: the
/// groups claim's name is configuration, not code.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

impl OtherClaims {
    /// The groups claim as a list: an array of strings, or one string.
    fn groups(&self, claim: &str) -> Vec<String> {
        match self.claims.get(claim) {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str())
                .map(str::to_string)
                .collect(),
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    fn string(&self, claim: &str) -> Option<String> {
        self.claims
            .get(claim)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }
}

type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenResp = StandardTokenResponse<IdFields, CoreTokenType>;
type Client = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResp,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-in failed. Logged (never with a token or a claim's value) and
/// shown to the person as a generic refusal: the details help an attacker more
/// than the agent.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("provider discovery at '{issuer}': {detail}")]
    Discovery { issuer: String, detail: String },
    #[error("configuration: {0}")]
    Config(String),
    #[error("callback without a sign-in under way (cookie missing, expired or used)")]
    NoPending,
    #[error("callback state does not match the sign-in under way")]
    StateMismatch,
    #[error("provider refused the sign-in: {0}")]
    ProviderError(String),
    #[error("token exchange: {0}")]
    Exchange(String),
    #[error("no ID token in the token response")]
    NoIdToken,
    #[error("ID token refused: {0}")]
    IdToken(String),
    #[error("no mapped group: the person has no access to Facteur")]
    NoMappedGroup,
    #[error("account deactivated in Facteur")]
    Deactivated,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl OidcError {
    /// Stable code for the audit log and the page.
    fn code(&self) -> &'static str {
        match self {
            OidcError::Discovery { .. } => "provider_unreachable",
            OidcError::Config(_) => "configuration",
            OidcError::NoPending | OidcError::StateMismatch => "state",
            OidcError::ProviderError(_) => "provider_error",
            OidcError::Exchange(_) => "token_exchange",
            OidcError::NoIdToken | OidcError::IdToken(_) => "id_token",
            OidcError::NoMappedGroup => "no_mapped_group",
            OidcError::Deactivated => "deactivated",
            OidcError::Store(StoreError::Conflict { .. }) => "username_taken",
            OidcError::Store(_) => "store",
        }
    }
}

/// The relying party: settings, an HTTP client that never follows redirects
/// (the crate's advice against SSRF), and the provider's metadata once fetched.
pub struct Oidc {
    settings: OidcSettings,
    http: openidconnect::reqwest::Client,
    metadata: tokio::sync::Mutex<Option<(Instant, Arc<ProviderMetadataWithLogout>)>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.settings.issuer)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

/// What a successful sign-in established.
struct Verified {
    subject: String,
    username: String,
    display_name: String,
    groups: Vec<String>,
    id_token: String,
}

impl Oidc {
    /// Checks the URLs now (a typo fails at startup, not at the first sign-in);
    /// the provider itself is contacted at the first sign-in, so `serve` starts
    /// while it is down.
    pub fn new(settings: OidcSettings) -> Result<Self, OidcError> {
        IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| OidcError::Config(format!("issuer URL: {e}")))?;
        RedirectUrl::new(settings.redirect_url.clone())
            .map_err(|e| OidcError::Config(format!("redirect URL: {e}")))?;
        if let Some(u) = &settings.post_logout_redirect_url {
            PostLogoutRedirectUrl::new(u.clone())
                .map_err(|e| OidcError::Config(format!("post-logout redirect URL: {e}")))?;
        }
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| OidcError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            settings,
            http,
            metadata: tokio::sync::Mutex::new(None),
        })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    async fn metadata(&self) -> Result<Arc<ProviderMetadataWithLogout>, OidcError> {
        let mut g = self.metadata.lock().await;
        if let Some((at, m)) = g.as_ref() {
            if at.elapsed() < METADATA_TTL {
                return Ok(m.clone());
            }
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| OidcError::Config(format!("issuer URL: {e}")))?;
        let m = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Discovery {
                issuer: self.settings.issuer.clone(),
                detail: error_chain(&e),
            })?;
        let m = Arc::new(m);
        *g = Some((Instant::now(), m.clone()));
        Ok(m)
    }

    async fn forget_metadata(&self) {
        *self.metadata.lock().await = None;
    }

    fn client(&self, meta: &ProviderMetadataWithLogout) -> Result<Client, OidcError> {
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|e| OidcError::Config(format!("redirect URL: {e}")))?;
        Ok(Client::from_provider_metadata(
            meta.clone(),
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// The provider's authorisation URL and what the callback will need.
    async fn start(&self) -> Result<(String, OidcPending), OidcError> {
        let meta = self.metadata().await?;
        let client = self.client(&meta)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for s in &self.settings.scopes {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
        Ok((
            url.to_string(),
            OidcPending {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
            },
        ))
    }

    /// Exchange the code and validate the ID token.
    async fn finish(&self, code: String, pending: OidcPending) -> Result<Verified, OidcError> {
        let meta = self.metadata().await?;
        let client = self.client(&meta)?;
        let resp = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Config(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Exchange(error_chain(&e)))?;
        let id_token = resp.id_token().ok_or(OidcError::NoIdToken)?;
        let verifier = client.id_token_verifier();
        let nonce = Nonce::new(pending.nonce);
        let claims = match id_token.claims(&verifier, &nonce) {
            Ok(c) => c,
            Err(e) => {
                // A rotated signing key looks like a bad signature until the keys
                // are fetched again.
                self.forget_metadata().await;
                return Err(OidcError::IdToken(error_chain(&e)));
            }
        };
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| OidcError::IdToken(error_chain(&e)))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| OidcError::IdToken(error_chain(&e)))?;
            let actual = AccessTokenHash::from_token(resp.access_token(), alg, key)
                .map_err(|e| OidcError::IdToken(error_chain(&e)))?;
            if actual != *expected {
                return Err(OidcError::IdToken(
                    "at_hash does not match the access token".into(),
                ));
            }
        }
        let subject = claims.subject().as_str().to_string();
        let extra = claims.additional_claims();
        let username = match self.settings.username_claim.as_str() {
            "sub" => Some(subject.clone()),
            "preferred_username" => claims.preferred_username().map(|u| u.as_str().to_string()),
            "email" => claims.email().map(|e| e.as_str().to_string()),
            other => extra.string(other),
        }
        .map(|u| clip(u.trim()))
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| clip(&subject));
        let display_name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| clip(n.as_str().trim()))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| username.clone());
        Ok(Verified {
            subject,
            username,
            display_name,
            groups: extra.groups(&self.settings.groups_claim),
            id_token: id_token.to_string(),
        })
    }

    /// The provider's logout URL for a session opened with `id_token`, when the
    /// provider publishes an end-session endpoint.
    async fn logout_url(&self, id_token: &str) -> Option<String> {
        let meta = self.metadata().await.ok()?;
        let end = meta.additional_metadata().end_session_endpoint.clone()?;
        let mut req =
            LogoutRequest::from(end).set_client_id(ClientId::new(self.settings.client_id.clone()));
        // Parsed without validation: it was validated at sign-in, and may have
        // expired since, which must not stop the logout.
        if let Ok(t) = id_token.parse::<openidconnect::IdToken<
            OtherClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >>() {
            req = req.set_id_token_hint(&t);
        }
        if let Some(u) = &self.settings.post_logout_redirect_url {
            if let Ok(u) = PostLogoutRedirectUrl::new(u.clone()) {
                req = req.set_post_logout_redirect_uri(u);
            }
        }
        Some(req.http_get_url().to_string())
    }
}

/// The error and its sources on one line (the crate's errors nest the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_NAME_CHARS).collect()
}

fn pending_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = if token.is_empty() {
        0
    } else {
        PENDING_TTL.as_secs()
    };
    format!("{PENDING_COOKIE}={token}; Path=/oidc/callback; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// A page saying the sign-in did not happen, with a way back to the sign-in page.
fn refused(lang: Lang, status: StatusCode, why: Msg) -> Response {
    let body = html! {
        p.error #sso-error role="alert" { (why.text(lang)) }
        p { a href="/login" { (Msg::SsoBackToSignIn.text(lang)) } }
    };
    let mut r = (status, page(lang, Msg::SsoRefused.text(lang), None, body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The sign-in button for the login page (nothing when SSO is not configured).
pub fn login_link(st: &AppState, lang: Lang) -> maud::Markup {
    let Some(o) = &st.oidc else {
        return html! {};
    };
    let label = o
        .settings
        .button_label
        .clone()
        .unwrap_or_else(|| Msg::SsoSignInButton.text(lang).to_string());
    html! {
        p.sso { a.fr-btn.button #sso-login href="/oidc/login" { (label) } }
    }
}

/// `GET /oidc/login`: off to the provider.
pub async fn login(State(st): State<AppState>, lang: Lang) -> Response {
    let Some(o) = st.oidc.clone() else {
        return crate::WebError::NotFound.into_response();
    };
    let (url, pending) = match o.start().await {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on: cannot start");
            return refused(lang, StatusCode::BAD_GATEWAY, Msg::SsoProviderDown);
        }
    };
    let token = auth::random_token();
    if let Err(e) = st
        .store
        .put_oidc_pending(&token, &pending, PENDING_TTL)
        .await
    {
        return crate::WebError::from(e).into_response();
    }
    let mut r = Redirect::to(&url).into_response();
    if let Ok(v) = HeaderValue::from_str(&pending_cookie(&token, st.config.secure_cookies)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET /oidc/callback`: the provider's answer.
pub async fn callback(
    State(st): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(o) = st.oidc.clone() else {
        return crate::WebError::NotFound.into_response();
    };
    let outcome = sign_in(&st, &o, &headers, q).await;
    let mut r = match outcome {
        Ok(cookie) => {
            // A page rather than a redirect: the session cookie is SameSite=Strict
            // and this request comes from the provider's site, so a browser would
            // not send it on a redirect that continues this navigation. A new
            // navigation started from this page is same-site.
            let (title, text) = (Msg::SsoSignedIn.text(lang), Msg::SsoContinue.text(lang));
            let body = maud::html! {
                (maud::DOCTYPE)
                html lang=(lang.code()) {
                    head {
                        meta charset="utf-8";
                        meta http-equiv="refresh" content="0; url=/";
                        title { (title) }
                    }
                    body { main { h1 { (title) } p { a #sso-continue href="/" { (text) } } } }
                }
            };
            let mut r = (StatusCode::OK, axum::response::Html(body.into_string())).into_response();
            r.headers_mut().append(header::SET_COOKIE, cookie);
            r
        }
        Err(e) => {
            tracing::warn!(reason = e.code(), error = %e, "single sign-on refused");
            let _ = st
                .store
                .audit(
                    "anonymous",
                    "login.sso_refused",
                    "login",
                    &serde_json::json!({"reason": e.code()}),
                )
                .await;
            let (status, why) = match &e {
                OidcError::NoMappedGroup => (StatusCode::FORBIDDEN, Msg::SsoNoGroup),
                OidcError::Deactivated => (StatusCode::FORBIDDEN, Msg::SsoDeactivated),
                OidcError::Store(StoreError::Conflict { .. }) => {
                    (StatusCode::CONFLICT, Msg::SsoNameTaken)
                }
                OidcError::Discovery { .. } | OidcError::Exchange(_) => {
                    (StatusCode::BAD_GATEWAY, Msg::SsoNotConfirmed)
                }
                _ => (StatusCode::UNAUTHORIZED, Msg::SsoFailed),
            };
            refused(lang, status, why)
        }
    };
    // The sign-in under way is used up either way.
    if let Ok(v) = HeaderValue::from_str(&pending_cookie("", st.config.secure_cookies)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The callback's work: returns the new session's `Set-Cookie` value.
async fn sign_in(
    st: &AppState,
    o: &Oidc,
    headers: &HeaderMap,
    q: CallbackQuery,
) -> Result<HeaderValue, OidcError> {
    let token = auth::cookie(headers, PENDING_COOKIE)
        .filter(|t| auth::plausible_token(t))
        .ok_or(OidcError::NoPending)?;
    // Taken before anything else: a callback is good for one attempt.
    let pending = st
        .store
        .take_oidc_pending(token)
        .await?
        .ok_or(OidcError::NoPending)?;
    if let Some(err) = q.error {
        // The provider's error code is a fixed vocabulary, not user data.
        return Err(OidcError::ProviderError(clip(&err)));
    }
    let state = q.state.unwrap_or_default();
    if !auth::ct_eq(&state, &pending.state) {
        return Err(OidcError::StateMismatch);
    }
    let code = q
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OidcError::ProviderError("no code".into()))?;
    let v = o.finish(code, pending).await?;
    let Some(mapped) = map_groups(&v.groups, &o.settings.mappings) else {
        return Err(OidcError::NoMappedGroup);
    };
    let outcome = st
        .store
        .sso_sign_in(&SsoSignIn {
            issuer: o.settings.issuer.clone(),
            subject: v.subject,
            username: v.username,
            display_name: v.display_name,
            role: mapped.role,
            mailboxes: mapped.mailboxes,
            matched_groups: mapped.matched_groups,
        })
        .await?;
    if !outcome.user.active {
        return Err(OidcError::Deactivated);
    }
    if !outcome.unknown_mailboxes.is_empty() {
        tracing::warn!(
            count = outcome.unknown_mailboxes.len(),
            "single sign-on: the mapping names mailboxes that do not exist"
        );
    }
    // Signing in from a browser that is already signed in replaces that session.
    if let Some(old) =
        auth::cookie(headers, auth::SESSION_COOKIE).filter(|t| auth::plausible_token(t))
    {
        st.store.delete_session(old).await?;
    }
    let session = auth::random_token();
    st.store
        .create_session(
            &session,
            outcome.user.id,
            &auth::random_token(),
            st.config.session_ttl,
        )
        .await?;
    st.store.set_session_id_token(&session, &v.id_token).await?;
    let cookie = auth::session_cookie(
        &session,
        st.config.secure_cookies,
        st.config.session_ttl.as_secs(),
    );
    HeaderValue::from_str(&cookie).map_err(|e| OidcError::Config(format!("session cookie: {e}")))
}

/// `POST /oidc/logout` and `POST /logout`: the local logout, then, for a
/// session opened through the provider, the provider's own logout.
pub async fn logout(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let id_token =
        match auth::cookie(&headers, auth::SESSION_COOKIE).filter(|t| auth::plausible_token(t)) {
            Some(t) => st.store.take_session_id_token(t).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "logout: read the session's ID token");
                None
            }),
            None => None,
        };
    let mut r = auth::end_session(&st, &headers).await;
    if let (Some(o), Some(t)) = (st.oidc.as_ref(), id_token) {
        if let Some(url) = o.logout_url(&t).await {
            if let Ok(v) = HeaderValue::from_str(&url) {
                *r.status_mut() = StatusCode::SEE_OTHER;
                r.headers_mut().insert(header::LOCATION, v);
            }
        }
    }
    r
}

/// `POST /login` when local accounts are turned off.
pub async fn local_login_disabled(lang: Lang) -> Response {
    refused(lang, StatusCode::FORBIDDEN, Msg::SsoLocalOff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(group: &str, role: Role, boxes: &[&str]) -> GroupMapping {
        GroupMapping {
            group: group.into(),
            role,
            mailboxes: boxes.iter().map(|b| b.to_string()).collect(),
        }
    }

    #[test]
    fn mapping_takes_the_strongest_role_and_every_mailbox() {
        let maps = [
            m("agents", Role::Agent, &[]),
            m("impots", Role::Agent, &["impots"]),
            m("amendes", Role::Agent, &["amendes", "impots"]),
            m("chefs", Role::Supervisor, &[]),
        ];
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let r = map_groups(&g(&["impots", "amendes", "autre"]), &maps).unwrap();
        assert_eq!(r.role, Role::Agent);
        assert_eq!(r.mailboxes, vec!["impots", "amendes"]);
        assert_eq!(r.matched_groups, vec!["impots", "amendes"]);
        let r = map_groups(&g(&["chefs", "impots"]), &maps).unwrap();
        assert_eq!(r.role, Role::Supervisor);
        assert!(map_groups(&g(&["autre"]), &maps).is_none());
        assert!(map_groups(&[], &maps).is_none());
    }

    #[test]
    fn groups_claim_is_an_array_or_a_string() {
        let c: OtherClaims =
            serde_json::from_str(r#"{"groups": ["a", 3, "b"], "grp": "x", "n": 1}"#).unwrap();
        assert_eq!(c.groups("groups"), vec!["a", "b"]);
        assert_eq!(c.groups("grp"), vec!["x"]);
        assert!(c.groups("n").is_empty());
        assert!(c.groups("missing").is_empty());
    }

    #[test]
    fn settings_with_a_bad_url_are_refused_at_startup() {
        let s = OidcSettings {
            issuer: "not a url".into(),
            client_id: "facteur".into(),
            client_secret: None,
            redirect_url: "http://127.0.0.1/oidc/callback".into(),
            post_logout_redirect_url: None,
            scopes: vec![],
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            mappings: vec![],
            button_label: None,
        };
        assert!(matches!(Oidc::new(s), Err(OidcError::Config(_))));
    }

    #[test]
    fn pending_cookie_is_lax_and_scoped_to_the_callback() {
        let c = pending_cookie("abc", true);
        assert!(c.contains("SameSite=Lax"));
        assert!(c.contains("Path=/oidc/callback"));
        assert!(c.contains("HttpOnly"));
        assert!(c.ends_with("; Secure"));
        assert!(pending_cookie("", false).contains("Max-Age=0"));
    }
}
