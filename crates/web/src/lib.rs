//! The agents' web app (axum): server-rendered pages usable without JavaScript, auth,
//! CSRF, roles checked on the server, the JSON API, /health and /metrics.
//!
//! Layering (outermost first): security headers → metrics → error rendering →
//! session + CSRF → routes. Every handler receives an already-authenticated
//! [`auth::Authed`] (or fails with 401/redirect) and checks the role and the mailbox
//! itself, because only the handler knows which mailbox a message belongs to.

pub mod actions;
pub mod api;
pub mod auth;
pub mod chart;
pub mod data;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod login_guard;
pub mod metrics;
pub mod oidc;
pub mod pages;
pub mod publication;
pub mod sanitize;
pub mod security;
pub mod theme;
pub mod views;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use facteur_kb::answers::Taxonomy;
use facteur_store::{Millis, Store};

pub use error::{WebError, WebResult};
pub use i18n::Lang;
pub use theme::Theme;

/// Settings of the web app (from `facteur.toml` in the CLI).
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure`. Off on plain-http loopback, on behind TLS.
    pub secure_cookies: bool,
    pub default_lang: Lang,
    /// Idle expiry: a session unused this long ends (each request slides it).
    pub session_ttl: Duration,
    /// Absolute lifetime from sign-in, however active the session: a cookie
    /// copied from a shared or unattended computer stops working by the next
    /// working day even if someone keeps using it.
    pub session_max_lifetime: Duration,
    /// Failed logins an (account, IP) pair may make inside `login_window` before
    /// each of its next attempts waits (1 s, 2 s, 4 s… up to a minute). No
    /// lockout: other clients still sign in to that account.
    pub login_max_failures: u32,
    pub login_window: Duration,
    /// Sign-in attempts one IP may make inside `login_window`, whatever the
    /// usernames (a spray of fresh usernames is limited too).
    pub login_max_per_ip: u32,
    /// Password hashes computed at once (Argon2 takes about 19 MiB each);
    /// beyond a short queue, sign-ins get 503 + Retry-After. Default: the cores.
    pub hash_concurrency: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed; everyone else's is
    /// ignored, so a client cannot pick the IP the limits apply to.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Who may read `/metrics` without a token: these networks (default loopback).
    pub metrics_allow: Vec<ipnet::IpNet>,
    /// A bearer token that opens `/metrics` from anywhere (`None`: no token).
    pub metrics_token: Option<String>,
    /// How long a "reveal personal data" click keeps the original visible.
    pub reveal_ttl: Duration,
    /// Where the model registry keeps its files (`<data_dir>/models`). The kill
    /// switches are in the store; a legacy switch file under `<data_dir>/learn` is
    /// imported on first use. `None`: no model files, the supervision pages say so.
    pub data_dir: Option<PathBuf>,
    /// Shown on the public transparency sheet (a service address, never a person).
    pub contact: String,
    /// Name of the service on the transparency sheet.
    pub service_name: String,
    /// Model review period (days), as in the registry's configuration.
    pub review_period_days: u32,
    /// The local sign-in form (username + password). Off when every agent
    /// signs in through the identity provider ([`oidc`]).
    pub local_login: bool,
    /// The embedding model used for hybrid retrieval, named with its licence and where
    /// it runs; `None`: retrieval is lexical only. Shown by /health and the
    /// transparency sheet.
    pub embedding_model: Option<String>,
    /// The publisher's details for the mandatory public pages (`[publication]`).
    pub publication: publication::Publication,
    /// The citizens' data retention delays in force (`[retention]`), published on
    /// /donnees-personnelles and the transparency sheet.
    pub retention: facteur_store::RetentionPolicy,
    /// How long a validated reply waits before the outbox releases it, during
    /// which the agent can take it back ("Annuler l'envoi").
    pub send_delay: Duration,
    /// The window, in days, in which the message page lists the same citizen's
    /// other messages.
    pub followup_days: u32,
    /// The State design system, or the neutral theme for administrations that
    /// are not State services (`theme = "dsfr" | "neutre"`).
    pub theme: Theme,
}

impl WebConfig {
    /// [`WebConfig::send_delay`] as the store counts it.
    pub fn send_delay_ms(&self) -> i64 {
        i64::try_from(self.send_delay.as_millis()).unwrap_or(i64::MAX)
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            default_lang: Lang::Fr,
            session_ttl: Duration::from_secs(8 * 3600),
            // A long working day (sign in at 8:00, still valid at 19:00), never
            // overnight.
            session_max_lifetime: Duration::from_secs(12 * 3600),
            login_max_failures: 5,
            login_window: Duration::from_secs(15 * 60),
            login_max_per_ip: 100,
            hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            trusted_proxies: Vec::new(),
            metrics_allow: vec![
                "127.0.0.0/8".parse().expect("loopback network"),
                "::1/128".parse().expect("loopback network"),
            ],
            metrics_token: None,
            reveal_ttl: Duration::from_secs(15 * 60),
            data_dir: None,
            contact: "Délégué à la protection des données du service".to_string(),
            service_name: "Facteur".to_string(),
            review_period_days: 90,
            local_login: true,
            embedding_model: None,
            publication: publication::Publication::default(),
            retention: facteur_store::RetentionPolicy::default(),
            send_delay: Duration::from_secs(30),
            followup_days: facteur_app::DEFAULT_FOLLOWUP_DAYS,
            theme: Theme::Dsfr,
        }
    }
}

/// One knowledge-base search result, as the application layer gives it.
pub use facteur_app::KbHit;

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// This node's running service: retriage after a correction, filling an
    /// answer from a mail, knowledge-base search (`GET /api/kb/search`). `None`
    /// (a web app without a triage engine): those fall back or answer 404.
    pub service: Option<Arc<facteur_app::Service>>,
    pub taxonomy: Arc<Taxonomy>,
    pub config: Arc<WebConfig>,
    /// CPU accounting of triage, filled by the CLI (which runs triage); `None`
    /// shows "non mesuré" on the transparency sheet rather than a guess.
    pub compute: Option<Arc<facteur_learn::ComputeMeter>>,
    /// The one rule for "may a draft be offered", with its kill-switch and review
    /// caches; shared with the CLI's triage when it runs in the same process.
    pub suggestions: Arc<facteur_app::Suggestions>,
    /// Single sign-on through the administration's identity provider; `None`:
    /// not configured, the `/oidc/*` routes answer 404.
    pub oidc: Option<Arc<oidc::Oidc>>,
    pub(crate) runtime: Arc<Runtime>,
}

/// Process-local state: login guard, reveal grants, request counters.
pub(crate) struct Runtime {
    pub guard: login_guard::LoginGuard,
    /// (session id, message id) → until when the original is visible. The grant
    /// is created only by the logged reveal action, so every view is audited.
    pub reveals: Mutex<HashMap<(String, i64), Millis>>,
    pub metrics: metrics::Metrics,
    /// (store time it was computed, the overdue date if the active model is past
    /// its review): read on every signed-in page, so cached for a minute.
    pub review_banner: Mutex<Option<(Millis, Option<String>)>>,
}

impl AppState {
    pub fn new(store: Store, taxonomy: Taxonomy, config: WebConfig) -> Self {
        let suggestions = Arc::new(facteur_app::Suggestions::new(
            store.clone(),
            config.data_dir.clone(),
            false,
            config.review_period_days,
        ));
        Self {
            suggestions,
            store,
            service: None,
            taxonomy: Arc::new(taxonomy),
            runtime: Arc::new(Runtime {
                guard: login_guard::LoginGuard::new(login_guard::GuardConfig {
                    free_failures: config.login_max_failures,
                    max_per_ip: config.login_max_per_ip,
                    window: config.login_window,
                    hash_concurrency: config.hash_concurrency,
                }),
                reveals: Mutex::default(),
                metrics: metrics::Metrics::default(),
                review_banner: Mutex::default(),
            }),
            config: Arc::new(config),
            compute: None,
            oidc: None,
        }
    }

    /// Run with this node's service, sharing its draft gate (the caches and
    /// `strict_review`) and its CPU accounting.
    pub fn with_service(mut self, svc: Arc<facteur_app::Service>) -> Self {
        self.suggestions = svc.suggestions.clone();
        self.compute = Some(svc.compute.clone());
        self.service = Some(svc);
        self
    }

    /// Share the triage service's draft gate (its caches and `strict_review`).
    pub fn with_suggestions(mut self, gate: Arc<facteur_app::Suggestions>) -> Self {
        self.suggestions = gate;
        self
    }

    pub fn with_oidc(mut self, oidc: Arc<oidc::Oidc>) -> Self {
        self.oidc = Some(oidc);
        self
    }

    pub fn with_compute(mut self, meter: Arc<facteur_learn::ComputeMeter>) -> Self {
        self.compute = Some(meter);
        self
    }

    pub(crate) fn grant_reveal(&self, session_id: &str, message_id: i64) {
        let now = self.store.now_ms();
        let until = now + self.config.reveal_ttl.as_millis() as i64;
        let mut g = self
            .runtime
            .reveals
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        g.retain(|_, t| *t > now);
        g.insert((session_id.to_string(), message_id), until);
    }

    pub(crate) fn is_revealed(&self, session_id: &str, message_id: i64) -> bool {
        let now = self.store.now_ms();
        let g = self
            .runtime
            .reveals
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        g.get(&(session_id.to_string(), message_id))
            .is_some_and(|t| *t > now)
    }
}

/// The whole app.
pub fn router(state: AppState) -> Router {
    // Subjects are pseudonymised on every queue page: compile the detector's
    // patterns now rather than in the first agent's request.
    let _ = facteur_privacy::Detector::new()
        .detect("Madame Jeanne Martin, 3 rue des Lilas 69001 Lyon, 06 12 34 56 78, j@example.org");
    let login_submit = if state.config.local_login {
        post(pages::login::login_submit)
    } else {
        post(oidc::local_login_disabled)
    };
    let routes = Router::new()
        .route("/", get(pages::queue::home))
        .route("/login", get(pages::login::login_form).merge(login_submit))
        .route("/logout", post(oidc::logout))
        .route("/oidc/login", get(oidc::login))
        .route("/oidc/callback", get(oidc::callback))
        .route("/oidc/logout", post(oidc::logout))
        .route("/compte", get(pages::account::account))
        .route(
            "/compte/mot-de-passe",
            post(pages::account::change_password),
        )
        .route("/lang/{code}", get(pages::account::set_lang))
        .route("/mailboxes/{id}/queue", get(pages::queue::queue))
        .route("/messages/{id}", get(pages::message::message))
        .route("/messages/{id}/body", get(pages::message::message_body))
        .route(
            "/messages/{id}/attachments/{sha}",
            get(pages::message::attachment),
        )
        .route(
            "/messages/{id}/validate",
            post(pages::message_actions::validate),
        )
        .route(
            "/messages/{id}/correct",
            post(pages::message_actions::correct),
        )
        .route(
            "/messages/{id}/rebuild",
            post(pages::message_actions::rebuild),
        )
        .route(
            "/messages/{id}/compose",
            post(pages::message_actions::compose),
        )
        .route("/messages/{id}/undo-send", post(pages::done::undo_send))
        .route(
            "/messages/{id}/reject",
            post(pages::message_actions::reject),
        )
        .route(
            "/messages/{id}/assign",
            post(pages::message_actions::assign),
        )
        .route(
            "/messages/{id}/escalate",
            post(pages::message_actions::escalate),
        )
        .route("/messages/{id}/close", post(pages::message_actions::close))
        .route(
            "/messages/{id}/reveal",
            post(pages::message_actions::reveal),
        )
        .route("/outbox", get(pages::outbox::outbox))
        .route(
            "/answers",
            get(pages::answers::answers).post(pages::answers::answer_create),
        )
        .route("/answers/new", get(pages::answers::answer_new))
        .route(
            "/answers/{id}",
            get(pages::answers::answer_edit).post(pages::answers::answer_save),
        )
        .route(
            "/answers/{id}/{version}/retire",
            post(pages::answer_versions::answer_retire),
        )
        .route(
            "/answers/{id}/{version}/validate",
            post(pages::answer_versions::answer_validate),
        )
        .route(
            "/answers/{id}/{version}/submit",
            post(pages::answer_versions::answer_submit),
        )
        .route(
            "/answers/{id}/{version}/fichier",
            get(pages::answer_versions::answer_file),
        )
        .route(
            "/admin/users",
            get(pages::admin::users).post(pages::admin::user_create),
        )
        .route(
            "/admin/users/{id}/deactivate",
            post(pages::admin::user_deactivate),
        )
        .route(
            "/admin/users/{id}/reactivate",
            post(pages::admin::user_reactivate),
        )
        .route(
            "/admin/mailboxes",
            get(pages::admin::mailboxes).post(pages::admin::mailbox_create),
        )
        .route(
            "/admin/mailboxes/{id}",
            get(pages::admin::mailbox_edit).post(pages::admin::mailbox_update),
        )
        .route("/transparence", get(pages::transparency::transparence))
        .route("/accessibilite", get(pages::legal::accessibilite))
        .route("/mentions-legales", get(pages::legal::mentions_legales))
        .route(
            "/donnees-personnelles",
            get(pages::legal::donnees_personnelles),
        )
        .route(
            "/transparence.json",
            get(pages::transparency::transparence_json),
        )
        .route("/supervision", get(pages::supervision::supervision))
        .route(
            "/supervision/switches",
            post(pages::supervision::kill_switch),
        )
        .route("/modeles", get(pages::models::models))
        .route("/modeles/rollback", post(pages::models::model_rollback))
        .route(
            "/modeles/{version}/promote",
            post(pages::models::model_promote),
        )
        .route(
            "/modeles/{version}/review",
            post(pages::models::model_review),
        )
        .route("/static/app.js", get(pages::assets::static_js))
        .route("/static/app.css", get(pages::assets::static_css))
        .route("/static/neutre.css", get(pages::assets::static_neutral_css))
        .route("/static/dsfr/{*path}", get(pages::assets::static_dsfr))
        .route("/health", get(api::health))
        .route("/metrics", get(metrics::metrics))
        .merge(api::routes())
        .fallback(pages::assets::not_found);

    routes
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::session_layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            views::render_errors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            theme::scope,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::headers,
        ))
        .with_state(state)
}

/// Serve until the listener fails. Client IPs come from the socket (used by the
/// login rate limiter).
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).await
}
