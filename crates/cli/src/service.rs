//! The running service as this binary wires it: the config names the store, the
//! model, the data folder and the embedder, and [`facteur_app::Service`] does the
//! rest (triage right after storing, the knowledge base following the store). What
//! stays here is what only the binary knows: `facteur.toml`, the model registry's
//! files, the operator's language in error messages, and the ingest hook of the
//! connectors.

use crate::config::{Config, MailboxConfig};
use anyhow::{Context, Result};
use facteur_app::{AppError, ServiceParts, StoreAnswers};
use facteur_connect::{IngestHook, StoredMessage};
use facteur_core::RoutingPolicy;
use facteur_store::Store;
use facteur_triage::{Engine, TriageOptions};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use facteur_app::Service;

/// Open the store named by the config (running migrations) and load the engine:
/// the model of the configured model dir and the knowledge base of the data dir,
/// each when present.
pub async fn open(cfg: &Config) -> Result<Arc<Service>> {
    open_with(cfg, false).await
}

/// Like [`open`] for the administrative commands (messages, outbox, users,
/// audit, model registry): an active model whose files cannot be loaded is
/// reported and left out instead of stopping the command, since these commands
/// do not classify — and `model list` / `model rollback` are how the operator
/// repairs exactly that situation.
pub async fn open_admin(cfg: &Config) -> Result<Arc<Service>> {
    open_with(cfg, true).await
}

async fn open_with(cfg: &Config, tolerate_model_error: bool) -> Result<Arc<Service>> {
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
        tr!(
            "impossible de créer le dossier de données {}",
            "cannot create the data directory {}",
            cfg.data_dir.display()
        )
    })?;
    let url = cfg.database_url();
    let store = Store::open(&url).await.with_context(|| {
        tr!(
            "impossible d'ouvrir la base de données {} : vérifiez database_url dans la configuration ou FACTEUR_DATABASE_URL",
            "cannot open the database {}: check database_url in the config or FACTEUR_DATABASE_URL",
            redact_url(&url)
        )
    })?;
    let store = crate::audit_key::keyed(cfg, store).await?;
    // The active version of the registry wins; without one, the model directory
    // (what `facteur train --model` and `facteur demo` write).
    let (model, model_version) = match facteur_learn::registry::active(&store, &cfg.data_dir).await {
        Ok(Some((version, model))) => match crate::embedding::check_model(&model) {
            Ok(()) => (Some(model), Some(version)),
            // The administrative commands do not classify: they go on without it,
            // so `model list` / `model rollback` can still repair the situation.
            Err(e) if tolerate_model_error => {
                tracing::error!(version = %version, error = %format!("{e:#}"), "the registry's active model needs another embedder: this command goes on without it");
                (None, None)
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    tr!(
                        "le modèle actif {version} ne peut pas être chargé",
                        "the active model {version} cannot be loaded"
                    )
                })
            }
        },
        Ok(None) => {
            let model_dir = cfg.model_dir();
            if model_dir.join("model.bin").is_file() {
                let m = crate::commands::load_model(&model_dir)?;
                let meta = m.meta();
                let hash: String = meta.training_sha256.chars().take(12).collect();
                let label = format!("model-{}-{hash}", meta.created_at);
                // Drafts from a model the registry does not know: the
                // transparency sheet, the model pages and the reviews say
                // "no model" while this one suggests. Say so to the operator.
                tracing::warn!(
                    model = %label,
                    dir = %model_dir.display(),
                    "using a model that is not in the model registry: the transparency sheet and the supervision page will say no model is active; register it with `facteur model train` and `facteur model promote`"
                );
                (Some(m), Some(label))
            } else {
                tracing::warn!("no model: messages are stored but not classified");
                (None, None)
            }
        }
        Err(e) if tolerate_model_error => {
            tracing::error!(error = %e, "the registry's active model cannot be loaded: this command goes on without it; `facteur model list` shows it, `facteur model rollback` restores the previous one");
            (None, None)
        }
        Err(e) => {
            return Err(anyhow::anyhow!(e)).context(crate::i18n::tr(
                "impossible de charger le modèle actif du registre : `facteur model list` l'affiche, `facteur model rollback` rétablit le précédent",
                "cannot load the active model of the registry: `facteur model list` shows it, `facteur model rollback` restores the previous one",
            ))
        }
    };
    let kb_dir = cfg.data_dir.join("kb");
    let mut kb = if kb_dir.is_dir() {
        Some(
            facteur_kb::KnowledgeBase::open(&cfg.data_dir)
                .with_context(|| open_kb_failed(&cfg.data_dir))?,
        )
    } else {
        None
    };
    // The store is the source of truth for the standard answers: bring the
    // local index in line before anything is triaged. A new node with an empty
    // data directory builds its answers index here from the database alone.
    let mut kb_revision = -1;
    match StoreAnswers::read(&store, &cfg.taxonomy_path()).await {
        Ok(Some(current)) => {
            let synced = match kb.take() {
                Some(k) => Ok(k),
                None => facteur_kb::KnowledgeBase::open(&cfg.data_dir),
            }
            .and_then(|mut k| {
                current.apply(&mut k)?;
                Ok(k)
            });
            match synced {
                Ok(k) => {
                    kb = Some(k);
                    kb_revision = current.revision;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot sync the knowledge base with the store at start-up; the refresher retries");
                    if kb_dir.join("meta.json").is_file() {
                        kb = facteur_kb::KnowledgeBase::open(&cfg.data_dir).ok();
                    }
                }
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cannot read the standard answers of the store; the refresher retries")
        }
    }
    // Hybrid retrieval when an embedding model is configured (embedding.rs); the
    // refresher's reopen() keeps it attached.
    if let Some(k) = kb.as_mut() {
        crate::embedding::attach(k)?;
    }
    let options = TriageOptions {
        policy: RoutingPolicy {
            min_confidence: cfg.min_confidence,
            ..RoutingPolicy::default()
        },
        passages: 5,
        // Computed when an agent opens the message (`Service::explain`).
        snippets: false,
        draft: true,
        signature: None,
        attachments: cfg.attachments.extract_config(),
    };
    // A model with an embedding view reads messages with the configured embedder
    // even on a node without a knowledge base.
    let model_embedder = crate::embedding::for_model(model.as_ref())?;
    let suggestions = Arc::new(facteur_app::Suggestions::new(
        store.clone(),
        Some(cfg.data_dir.clone()),
        cfg.strict_review,
        facteur_learn::registry::RegistryConfig::default().review_period_days,
    ));
    let svc = Arc::new(Service::new(ServiceParts {
        store,
        engine: Engine::new(model, kb, options).with_embedder(model_embedder),
        kb_revision: (kb_revision >= 0).then_some(kb_revision),
        taxonomy_path: cfg.taxonomy_path(),
        model_version,
        data_dir: cfg.data_dir.clone(),
        suggestions,
        followup_days: cfg.followup_days,
        open_kb: Arc::new(|dir| {
            let mut k = facteur_kb::KnowledgeBase::open(dir)?;
            crate::embedding::attach(&mut k).map_err(|e| format!("{e:#}"))?;
            Ok(k)
        }),
    }));
    ensure_mailboxes(&svc, &cfg.mailboxes).await?;
    Ok(svc)
}

pub async fn ensure_mailboxes(
    svc: &Service,
    boxes: &[MailboxConfig],
) -> Result<HashMap<String, i64>> {
    let mut ids = HashMap::new();
    for b in boxes {
        let id = svc
            .ensure_mailbox(&b.name, &b.address, b.signature.as_deref())
            .await
            .map_err(explained)?;
        ids.insert(b.name.clone(), id);
    }
    Ok(ids)
}

/// What the application layer refused, in the operator's language and with what
/// to do.
pub fn explained(e: AppError) -> anyhow::Error {
    match &e {
        AppError::NoMailbox { name } => anyhow::anyhow!(tr!(
            "aucune boîte nommée {name:?} : déclarez-la dans la configuration ([[mailbox]] name = {name:?}) ou créez-la dans les pages d'administration",
            "no mailbox named {name:?}: declare it in the config ([[mailbox]] name = {name:?}) or create it in the admin pages"
        )),
        AppError::MailboxAddressTaken { name, owner, address } => anyhow::anyhow!(tr!(
            "impossible de créer la boîte {name:?} : la boîte {owner:?} a déjà l'adresse {address}, et une adresse ne sert qu'à une boîte. Si la boîte a été renommée dans la configuration, reprenez son nom (name = {owner:?}) ; sinon, donnez-lui une autre adresse",
            "cannot create the mailbox {name:?}: the mailbox {owner:?} already has the address {address}, and an address serves one mailbox only. If the mailbox was renamed in the config, use its name again (name = {owner:?}); otherwise give it another address"
        )),
        AppError::NoMessage { id } => anyhow::anyhow!(tr!(
            "le message {id} n'existe pas",
            "message {id} does not exist"
        )),
        _ => anyhow::Error::new(e),
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

    /// A fetched batch is triaged on every core and recorded with one commit.
    fn on_stored_batch<'a>(
        &'a self,
        msgs: &'a [StoredMessage],
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let batch = msgs
                .iter()
                .map(|m| facteur_app::ToTriage {
                    id: m.id,
                    mailbox_id: m.mailbox_id,
                    mail: m.mail.clone(),
                    category: None,
                    raw: None,
                })
                .collect();
            for (m, r) in msgs.iter().zip(self.0.triage_batch(batch).await) {
                if let Err(e) = r {
                    tracing::warn!(message = m.id, error = %format!("{e:#}"), "triage after ingest failed");
                }
            }
        })
    }
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

/// The error context of a knowledge base that cannot be opened.
pub fn open_kb_failed(dir: &std::path::Path) -> String {
    tr!(
        "impossible d'ouvrir la base de connaissances de {}",
        "cannot open the knowledge base in {}",
        dir.display()
    )
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
