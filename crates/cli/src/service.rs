//! The running service: the store, the triage engine and the glue between them.
//!
//! Every entry point that stores mail (`import`, `sync`, `serve`, `demo`) goes through
//! [`Service`], so a message is triaged the same way whichever door it came through,
//! and triage runs right after the message is safely stored — the draft is ready when
//! the agent opens it. A crash between "stored" and "triaged" loses nothing: messages
//! left in state `new` are triaged again by [`Service::triage_pending`] at start-up.

use crate::config::{Config, MailboxConfig};
use anyhow::{Context, Result};
use facteur_connect::{IngestHook, StoredMessage};
use facteur_core::{workflow::MessageState, ParsedMail, RoutingPolicy};
use facteur_learn::review::{FileSwitches, ReviewStatus, SwitchStore};
use facteur_store::{NewMailbox, NewTriage, QueuePage, QueueQuery, QueueSort, Store};
use facteur_triage::{Engine, Overrides, TriageOptions, Triaged};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub struct Service {
    pub store: Store,
    pub engine: Arc<Engine>,
    /// Model version label recorded with each triage (the model file's creation
    /// time and data hash), so feedback can say which model suggested what.
    pub model_version: Option<String>,
    signatures: std::sync::RwLock<HashMap<i64, String>>,
    data_dir: std::path::PathBuf,
    strict_review: bool,
    /// The active model's review status, refreshed at most once a minute: reading it
    /// scans the review records, too costly per message.
    review: tokio::sync::Mutex<(Option<std::time::Instant>, Option<ReviewStatus>)>,
    /// CPU time spent triaging, for the transparency sheet's cost per 1,000 messages.
    pub compute: Arc<facteur_learn::ComputeMeter>,
}

impl Service {
    /// Open the store named by the config (running migrations) and load the engine:
    /// the model of the configured model dir and the knowledge base of the data dir,
    /// each when present.
    pub async fn open(cfg: &Config) -> Result<Arc<Service>> {
        std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                cfg.data_dir.display()
            )
        })?;
        let url = cfg.database_url();
        let store = Store::open(&url).await.with_context(|| {
            format!(
                "cannot open the database {}: check database_url in the config or FACTEUR_DATABASE_URL",
                redact_url(&url)
            )
        })?;
        // The active version of the registry wins; without one, the model directory
        // (what `facteur train --model` and `facteur demo` write).
        let (model, model_version) = match facteur_learn::registry::active(&store, &cfg.data_dir).await {
            Ok(Some((version, model))) => (Some(model), Some(version)),
            Ok(None) => {
                let model_dir = cfg.model_dir();
                if model_dir.join("model.bin").is_file() {
                    let m = crate::commands::load_model(&model_dir)?;
                    let meta = m.meta();
                    let hash: String = meta.training_sha256.chars().take(12).collect();
                    let label = format!("model-{}-{hash}", meta.created_at);
                    (Some(m), Some(label))
                } else {
                    tracing::warn!("no model: messages are stored but not classified");
                    (None, None)
                }
            }
            Err(e) => {
                return Err(anyhow::anyhow!(e)).context(
                    "cannot load the active model of the registry: `facteur model list` shows it, `facteur model rollback` restores the previous one",
                )
            }
        };
        let kb_dir = cfg.data_dir.join("kb");
        let kb = if kb_dir.is_dir() {
            Some(
                facteur_kb::KnowledgeBase::open(&cfg.data_dir).with_context(|| {
                    format!(
                        "cannot open the knowledge base in {}",
                        cfg.data_dir.display()
                    )
                })?,
            )
        } else {
            None
        };
        let options = TriageOptions {
            policy: RoutingPolicy {
                min_confidence: cfg.min_confidence,
                ..RoutingPolicy::default()
            },
            passages: 5,
            snippets: true,
            draft: true,
            signature: None,
        };
        let svc = Arc::new(Service {
            store,
            engine: Arc::new(Engine::new(model, kb, options)),
            model_version,
            signatures: Default::default(),
            data_dir: cfg.data_dir.clone(),
            strict_review: cfg.strict_review,
            review: tokio::sync::Mutex::new((None, None)),
            compute: Arc::new(facteur_learn::ComputeMeter::new()),
        });
        svc.ensure_mailboxes(&cfg.mailboxes).await?;
        Ok(svc)
    }

    /// Create the mailboxes the config declares (by name), and remember each one's
    /// signature for drafting.
    pub async fn ensure_mailboxes(&self, boxes: &[MailboxConfig]) -> Result<HashMap<String, i64>> {
        let mut ids = HashMap::new();
        for b in boxes {
            let id = self
                .ensure_mailbox(&b.name, &b.address, b.signature.as_deref())
                .await?;
            ids.insert(b.name.clone(), id);
        }
        Ok(ids)
    }

    pub async fn ensure_mailbox(
        &self,
        name: &str,
        address: &str,
        signature: Option<&str>,
    ) -> Result<i64> {
        let existing = self.store.get_mailbox_by_name(name).await?;
        let (id, sig) = match existing {
            Some(m) => (m.id, m.signature),
            None => {
                let sig = signature.map(str::to_string).unwrap_or_else(|| {
                    format!("Le service des impôts des particuliers\n{address}")
                });
                let created = self
                    .store
                    .create_mailbox(
                        &NewMailbox {
                            name: name.to_string(),
                            address: address.to_string(),
                            signature: sig.clone(),
                            settings: serde_json::json!({}),
                        },
                        None,
                    )
                    .await;
                match created {
                    Ok(id) => (id, sig),
                    // Several processes starting at once on a fresh shared database
                    // (workers, imports): another one created it first.
                    Err(e) => match self.store.get_mailbox_by_name(name).await? {
                        Some(m) => (m.id, m.signature),
                        None => {
                            return Err(anyhow::anyhow!(e))
                                .with_context(|| format!("cannot create the mailbox {name:?}"))
                        }
                    },
                }
            }
        };
        if let Ok(mut s) = self.signatures.write() {
            s.insert(id, sig);
        }
        Ok(id)
    }

    pub async fn mailbox_id(&self, name: &str) -> Result<i64> {
        match self.store.get_mailbox_by_name(name).await? {
            Some(m) => {
                if let Ok(mut s) = self.signatures.write() {
                    s.insert(m.id, m.signature.clone());
                }
                Ok(m.id)
            }
            None => anyhow::bail!(
                "no mailbox named {name:?}: declare it in the config ([[mailbox]] name = {name:?}) or create it in the admin pages"
            ),
        }
    }

    fn signature_of(&self, mailbox_id: i64) -> Option<String> {
        self.signatures
            .read()
            .ok()
            .and_then(|s| s.get(&mailbox_id).cloned())
    }

    /// Triage a stored message and record the result (state, draft, passages).
    pub async fn triage_stored(
        &self,
        id: i64,
        mailbox_id: i64,
        mail: &ParsedMail,
        category: Option<String>,
    ) -> Result<Triaged> {
        if self.signature_of(mailbox_id).is_none() {
            if let Some(m) = self.store.get_mailbox(mailbox_id).await? {
                if let Ok(mut s) = self.signatures.write() {
                    s.insert(m.id, m.signature);
                }
            }
        }
        let over = Overrides {
            signature: self.signature_of(mailbox_id),
            category,
        };
        let engine = self.engine.clone();
        let mail = mail.clone();
        let meter = self.compute.clone();
        let mut t = tokio::task::spawn_blocking(move || {
            // The blocking thread's own CPU time: the process total would also count
            // the web server and the connectors.
            let before = thread_cpu_seconds();
            let t = engine.triage_with("store", &mail, &over);
            if let (Some(a), Some(b)) = (before, thread_cpu_seconds()) {
                meter.add(b - a, 1);
            }
            t
        })
        .await
        .context("the triage task stopped")?;
        // A supervisor's kill switch or an overdue review (with strict_review) turns
        // suggestions off at once: the message goes to a person, with no draft.
        if t.draft.is_some()
            && !self
                .suggestions_enabled(mailbox_id, t.category.as_deref())
                .await
        {
            t.draft = None;
            t.no_draft_reason =
                Some("suggestions switched off (kill switch or overdue model review)".into());
            if t.route == facteur_core::Route::ReadyToValidate {
                t.route = facteur_core::Route::NeedsResearch;
            }
        }
        let draft = t.draft.as_ref();
        self.store
            .record_triage(&NewTriage {
                message_id: id,
                model_version: self.model_version.clone(),
                category: t.category.clone(),
                confidence: if t.top.is_empty() {
                    None
                } else {
                    Some(t.confidence)
                },
                route: t.route,
                answer_id: draft.map(|d| d.answer_id.clone()),
                answer_version: draft.map(|d| i64::from(d.answer_version)),
                draft_text: draft.map(|d| d.text.clone()),
                passages: serde_json::to_value(&t.passages).unwrap_or_default(),
                language: Some(t.language.clone()),
                pseudonymised_text: Some(t.body_pseudonymised.clone()),
                pii_kinds: t.pii.clone(),
                flags: t
                    .flags
                    .iter()
                    .filter_map(|f| serde_json::to_value(f).ok())
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
            })
            .await
            .with_context(|| format!("cannot record the triage of message {id}"))?;
        Ok(t)
    }

    /// Whether drafts may be offered for this mailbox and request type now.
    pub async fn suggestions_enabled(&self, mailbox_id: i64, request_type: Option<&str>) -> bool {
        let switches = match FileSwitches::in_data_dir(&self.data_dir).switches().await {
            Ok(s) => s,
            Err(e) => {
                // Unreadable switches: fail safe, no suggestion.
                tracing::warn!(error = %e, "cannot read the kill switches");
                return false;
            }
        };
        let review = self.review_status().await;
        facteur_learn::review::suggestions_enabled(
            mailbox_id,
            request_type,
            &switches,
            review.as_ref(),
            self.strict_review,
        )
    }

    /// The active registry model's review status (None without a promoted model).
    pub async fn review_status(&self) -> Option<ReviewStatus> {
        let mut guard = self.review.lock().await;
        let fresh = guard
            .0
            .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(60));
        if !fresh {
            let cfg = facteur_learn::registry::RegistryConfig::default();
            let status =
                match facteur_learn::registry::list(&self.store, &self.data_dir, &cfg).await {
                    Ok(versions) => versions.into_iter().find_map(|v| v.review),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the model registry");
                        None
                    }
                };
            *guard = (Some(std::time::Instant::now()), status);
        }
        guard.1.clone()
    }

    /// Re-triage from the stored raw bytes (after a restart, or after an agent
    /// corrected the category).
    pub async fn retriage(&self, id: i64, category: Option<String>) -> Result<Triaged> {
        let msg = self
            .store
            .get_message(id)
            .await?
            .with_context(|| format!("message {id} does not exist"))?;
        let raw = self.store.get_raw(id).await?.unwrap_or_default();
        let parsed = facteur_mail::parse_message(&raw);
        self.triage_stored(id, msg.mailbox_id, &parsed, category)
            .await
    }

    /// Triage every message still in state `new` (stored but never triaged, e.g.
    /// because the process stopped in between).
    pub async fn triage_pending(&self) -> Result<usize> {
        let mut done = 0;
        loop {
            let rows = self
                .store
                .list_queue(&QueueQuery {
                    mailbox_ids: None,
                    states: vec![MessageState::New],
                    category: None,
                    assigned_to: None,
                    sort: QueueSort::Age,
                    page: QueuePage::First,
                    limit: 200,
                })
                .await?;
            if rows.is_empty() {
                return Ok(done);
            }
            for r in rows {
                if let Err(e) = self.retriage(r.id, None).await {
                    // Leave it for the next pass rather than loop on it forever.
                    tracing::warn!(message = r.id, error = %format!("{e:#}"), "triage failed");
                    return Ok(done);
                }
                done += 1;
            }
        }
    }
}

/// The ingest hook: triage right after the message is stored, before it is flagged
/// on the server. A triage failure is logged and left to `triage_pending`.
pub struct TriageHook(pub Arc<Service>);

impl IngestHook for TriageHook {
    fn on_stored<'a>(
        &'a self,
        msg: &'a StoredMessage,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            if let Err(e) = self
                .0
                .triage_stored(msg.id, msg.mailbox_id, &msg.mail, None)
                .await
            {
                tracing::warn!(message = msg.id, error = %format!("{e:#}"), "triage after ingest failed");
            }
        })
    }
}

/// The web app's retriage hook: after a category correction, the draft follows the
/// agent's category.
pub struct WebRetriage(pub Arc<Service>);

impl facteur_web::Retriage for WebRetriage {
    fn retriage<'a>(
        &'a self,
        message_id: i64,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let category = self
                .0
                .store
                .get_message(message_id)
                .await
                .map_err(|e| e.to_string())?
                .and_then(|m| m.category);
            self.0
                .retriage(message_id, category)
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:#}"))
        })
    }
}

/// CPU seconds consumed by the calling thread (Linux: /proc/thread-self/schedstat,
/// whose first field is the time on CPU in nanoseconds).
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Never print a database password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_appear_in_printed_urls() {
        assert_eq!(
            redact_url("postgres://facteur:s3cret@db:5432/f"),
            "postgres://facteur:***@db:5432/f"
        );
        assert_eq!(redact_url("sqlite:./x.db"), "sqlite:./x.db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
