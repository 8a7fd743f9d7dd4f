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
use facteur_store::{NewMailbox, QueuePage, QueueQuery, QueueSort, Store};
use facteur_triage::{Engine, Overrides, TriageOptions, Triaged};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub struct Service {
    pub store: Store,
    /// Swapped whole when the standard answers change in the store (see
    /// [`Service::refresh_kb`]); read it with [`Service::engine`].
    engine: std::sync::RwLock<Arc<Engine>>,
    /// The store's knowledge-base revision the answers of the index were synced
    /// at; -1 before the first sync.
    kb_revision: std::sync::atomic::AtomicI64,
    /// One rebuild at a time (the refresher, a start-up sync, `demo`).
    kb_sync: tokio::sync::Mutex<()>,
    taxonomy_path: std::path::PathBuf,
    /// Model version label recorded with each triage (the model file's creation
    /// time and data hash), so feedback can say which model suggested what.
    pub model_version: Option<String>,
    signatures: std::sync::RwLock<HashMap<i64, String>>,
    data_dir: std::path::PathBuf,
    /// The one rule for "may a draft be offered" (kill switches, strict review),
    /// with its caches; the web app of a `serve` process shares it.
    pub suggestions: Arc<facteur_app::Suggestions>,
    /// CPU time spent triaging, for the transparency sheet's cost per 1,000 messages.
    pub compute: Arc<facteur_learn::ComputeMeter>,
    /// The window in which a repeat of the same citizen's open message is marked.
    followup_days: u32,
}

impl Service {
    /// Open the store named by the config (running migrations) and load the engine:
    /// the model of the configured model dir and the knowledge base of the data dir,
    /// each when present.
    pub async fn open(cfg: &Config) -> Result<Arc<Service>> {
        Self::open_with(cfg, false).await
    }

    /// Like [`Service::open`] for the administrative commands (messages, outbox,
    /// users, audit, model registry): an active model whose files cannot be loaded
    /// is reported and left out instead of stopping the command, since these
    /// commands do not classify — and `model list` / `model rollback` are how the
    /// operator repairs exactly that situation.
    pub async fn open_admin(cfg: &Config) -> Result<Arc<Service>> {
        Self::open_with(cfg, true).await
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
            Ok(Some((version, model))) => (Some(model), Some(version)),
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
            snippets: true,
            draft: true,
            signature: None,
        };
        let suggestions = Arc::new(facteur_app::Suggestions::new(
            store.clone(),
            Some(cfg.data_dir.clone()),
            cfg.strict_review,
            facteur_learn::registry::RegistryConfig::default().review_period_days,
        ));
        let svc = Arc::new(Service {
            store,
            engine: std::sync::RwLock::new(Arc::new(Engine::new(model, kb, options))),
            kb_revision: std::sync::atomic::AtomicI64::new(kb_revision),
            kb_sync: tokio::sync::Mutex::new(()),
            taxonomy_path: cfg.taxonomy_path(),
            model_version,
            signatures: Default::default(),
            data_dir: cfg.data_dir.clone(),
            suggestions,
            compute: Arc::new(facteur_learn::ComputeMeter::new()),
            followup_days: cfg.followup_days,
        });
        svc.ensure_mailboxes(&cfg.mailboxes).await?;
        Ok(svc)
    }

    /// The triage engine as it is now. Callers keep the `Arc` for the message they
    /// work on: a knowledge-base refresh swaps in a new engine without disturbing
    /// them.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The current engine and the knowledge-base revision its answers were built
    /// from, read under the engine lock that `refresh_kb` swaps both under.
    pub fn engine_and_revision(&self) -> (Arc<Engine>, Option<i64>) {
        let engine = self.engine.read().unwrap_or_else(|p| p.into_inner());
        (engine.clone(), self.kb_revision())
    }

    /// The store's knowledge-base revision this node's answers follow (`None`
    /// before the first sync, or when the store holds no answers).
    pub fn kb_revision(&self) -> Option<i64> {
        let r = self.kb_revision.load(std::sync::atomic::Ordering::SeqCst);
        (r >= 0).then_some(r)
    }

    /// When the store's knowledge-base revision moved since the last sync,
    /// rebuild the answers part of the index from the store's validated answers
    /// and swap the engine. The new index is prepared on a second handle while
    /// the current engine keeps serving; on any failure the current engine stays.
    /// Returns the new revision when something was rebuilt.
    pub async fn refresh_kb(&self) -> Result<Option<i64>> {
        let _one = self.kb_sync.lock().await;
        let seen = self.kb_revision.load(std::sync::atomic::Ordering::SeqCst);
        // A cheap check first; the answers and the revision this node will report
        // are then read from one snapshot, so the two always match.
        if self.store.kb_revision().await? == seen {
            return Ok(None);
        }
        let Some(current) = StoreAnswers::read(&self.store, &self.taxonomy_path).await? else {
            return Ok(None);
        };
        let revision = current.revision;
        let engine = self.engine();
        let data_dir = self.data_dir.clone();
        let (next, report) = tokio::task::spawn_blocking(move || -> Result<_> {
            let mut kb = match engine.kb() {
                Some(k) => k.reopen()?,
                None => {
                    let mut k = facteur_kb::KnowledgeBase::open(&data_dir)?;
                    crate::embedding::attach(&mut k)?;
                    k
                }
            };
            let report = current.apply(&mut kb)?;
            Ok((engine.with_kb(Some(kb)), report))
        })
        .await
        .context(crate::i18n::tr(
            "la tâche de reconstruction de la base de connaissances s'est arrêtée",
            "the knowledge-base rebuild task stopped",
        ))?
        .context(crate::i18n::tr(
            "impossible de reconstruire la base de connaissances depuis la base de données",
            "cannot rebuild the knowledge base from the store",
        ))?;
        {
            // Both under the write lock: a reader sees the old pair or the new one.
            let mut engine = self.engine.write().unwrap_or_else(|p| p.into_inner());
            *engine = Arc::new(next);
            self.kb_revision
                .store(revision, std::sync::atomic::Ordering::SeqCst);
        }
        tracing::info!(
            revision,
            added = report.added,
            updated = report.updated,
            removed = report.removed,
            unchanged = report.unchanged,
            "knowledge base follows the store's standard answers"
        );
        Ok(Some(revision))
    }

    /// Rebuild the pending drafts built on a retired answer version from the
    /// version in force (the rule lives in [`facteur_app::stale`]).
    pub async fn rebuild_stale_drafts(&self) {
        let rebuilt = facteur_app::rebuild_stale_drafts(&self.store, |id| async move {
            let category = self
                .store
                .get_message(id)
                .await
                .map_err(|e| e.to_string())?
                .and_then(|m| m.category);
            self.retriage(id, category)
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:#}"))
        })
        .await;
        if let Err(e) = rebuilt {
            tracing::warn!(error = %e, "stale drafts not rebuilt");
        }
    }

    /// The refresher of `serve` and `worker`: on PostgreSQL it LISTENs on
    /// `facteur_kb` to refresh as soon as another node commits a change; on both
    /// backends it also checks the revision every `every` (the only way on
    /// SQLite, and the safety net when a notification is lost).
    pub fn spawn_kb_refresher(
        self: &Arc<Self>,
        every: std::time::Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let svc = self.clone();
        tokio::spawn(async move {
            let postgres = svc.store.backend() == facteur_store::Backend::Postgres;
            let mut listener: Option<facteur_store::KbListener> = None;
            loop {
                if *stop.borrow() {
                    break;
                }
                if postgres && listener.is_none() {
                    match svc.store.kb_listener().await {
                        Ok(l) => listener = l,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot LISTEN for knowledge-base changes; polling only")
                        }
                    }
                }
                let mut lost = false;
                {
                    let notified = async {
                        match listener.as_mut() {
                            Some(l) => l.recv().await.map(|_| ()),
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        r = notified => if let Err(e) = r {
                            tracing::warn!(error = %e, "knowledge-base notifications lost; polling until they are back");
                            lost = true;
                        },
                        _ = tokio::time::sleep(every) => {}
                        r = stop.changed() => if r.is_err() { break } else { continue },
                    }
                }
                if lost {
                    listener = None;
                }
                match svc.refresh_kb().await {
                    // New standard answers (web editor on any node, `facteur kb
                    // import`): pending drafts on a retired version are rebuilt.
                    Ok(Some(_)) => svc.rebuild_stale_drafts().await,
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "knowledge-base refresh failed; keeping the current one")
                    }
                }
            }
        })
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
                        None if matches!(
                            e,
                            facteur_store::StoreError::MailboxAddressTaken { .. }
                        ) =>
                        {
                            // Most often a mailbox renamed in the config: the
                            // database still knows it under its old name.
                            let key = facteur_store::mailbox_address_key(address);
                            let owner = self
                                .store
                                .list_mailboxes()
                                .await?
                                .into_iter()
                                .find(|m| facteur_store::mailbox_address_key(&m.address) == key)
                                .map(|m| m.name)
                                .unwrap_or_default();
                            anyhow::bail!(tr!(
                                "impossible de créer la boîte {name:?} : la boîte {owner:?} a déjà l'adresse {address}, et une adresse ne sert qu'à une boîte. Si la boîte a été renommée dans la configuration, reprenez son nom (name = {owner:?}) ; sinon, donnez-lui une autre adresse",
                                "cannot create the mailbox {name:?}: the mailbox {owner:?} already has the address {address}, and an address serves one mailbox only. If the mailbox was renamed in the config, use its name again (name = {owner:?}); otherwise give it another address"
                            ));
                        }
                        None => {
                            return Err(anyhow::anyhow!(e)).with_context(|| {
                                tr!(
                                    "impossible de créer la boîte {name:?}",
                                    "cannot create the mailbox {name:?}"
                                )
                            })
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
            None => anyhow::bail!(tr!(
                "aucune boîte nommée {name:?} : déclarez-la dans la configuration ([[mailbox]] name = {name:?}) ou créez-la dans les pages d'administration",
                "no mailbox named {name:?}: declare it in the config ([[mailbox]] name = {name:?}) or create it in the admin pages"
            )),
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
            answer: None,
        };
        let engine = self.engine();
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
        .context(crate::i18n::tr(
            "la tâche de tri s'est arrêtée",
            "the triage task stopped",
        ))?;
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
        self.store
            .record_triage(&facteur_app::triage_record(
                id,
                self.model_version.clone(),
                &t,
            ))
            .await
            .with_context(|| {
                tr!(
                    "impossible d'enregistrer le tri du message {id}",
                    "cannot record the triage of message {id}"
                )
            })?;
        self.link_bounce(id, &t).await?;
        if let Some(of) = facteur_app::link_repeat(&self.store, id, &t, self.followup_days)
            .await
            .with_context(|| {
                tr!(
                    "impossible de relier le message {id} aux autres messages du même citoyen",
                    "cannot link message {id} to the same citizen's other messages"
                )
            })?
        {
            tracing::info!(message = id, of, "repeat of an open message");
        }
        Ok(t)
    }

    /// A bounce of one of our replies marks that outbox row "non distribuée",
    /// found by the Message-ID of the returned message. A delay notice (4.x.x)
    /// marks nothing: the relay keeps trying.
    async fn link_bounce(&self, id: i64, t: &Triaged) -> Result<()> {
        let Some(report) = t.automatic.as_ref().and_then(|a| a.bounce.as_ref()) else {
            return Ok(());
        };
        if report.is_temporary() {
            return Ok(());
        }
        let Some(original) = report.original_message_id.as_deref() else {
            return Ok(());
        };
        let Some(row) = self.store.find_outbox_by_reply_id(original).await? else {
            return Ok(());
        };
        let marked = self
            .store
            .mark_outbox_undelivered(
                row.id,
                report.status.as_deref(),
                report.diagnostic.as_deref(),
                id,
            )
            .await
            .with_context(|| {
                tr!(
                    "impossible de marquer la réponse {} comme non distribuée",
                    "cannot mark reply {} as undelivered",
                    row.id
                )
            })?;
        if marked {
            tracing::info!(outbox = row.id, bounce = id, "reply reported undelivered");
        }
        Ok(())
    }

    /// Whether drafts may be offered for this mailbox and request type now.
    pub async fn suggestions_enabled(&self, mailbox_id: i64, request_type: Option<&str>) -> bool {
        self.suggestions
            .suggestions_enabled(mailbox_id, request_type)
            .await
    }

    /// A stored message and its raw bytes.
    async fn stored(&self, id: i64) -> Result<(facteur_store::Message, Vec<u8>)> {
        let msg = self.store.get_message(id).await?.with_context(|| {
            tr!(
                "le message {id} n'existe pas",
                "message {id} does not exist"
            )
        })?;
        let raw = self.store.get_raw(id).await?.unwrap_or_default();
        Ok((msg, raw))
    }

    /// Re-triage from the stored raw bytes (after a restart, or after an agent
    /// corrected the category).
    pub async fn retriage(&self, id: i64, category: Option<String>) -> Result<Triaged> {
        let (msg, raw) = self.stored(id).await?;
        let parsed = facteur_mail::parse_message(&raw);
        self.triage_stored(id, msg.mailbox_id, &parsed, category)
            .await
    }

    /// The reply standard answer `answer_id` gives for stored message `id`,
    /// filled from the mail exactly as the draft triage would build from it;
    /// nothing is recorded. `None`: the answer is not usable today.
    pub async fn fill_answer(&self, id: i64, answer_id: &str) -> Result<Option<String>> {
        let (msg, raw) = self.stored(id).await?;
        let over = Overrides {
            signature: self.signature_of(msg.mailbox_id),
            category: msg.category.clone(),
            answer: Some(answer_id.to_string()),
        };
        let engine = self.engine();
        let t = tokio::task::spawn_blocking(move || {
            let parsed = facteur_mail::parse_message(&raw);
            engine.triage_with("store", &parsed, &over)
        })
        .await
        .context(crate::i18n::tr(
            "la tâche de tri s'est arrêtée",
            "the triage task stopped",
        ))?;
        Ok(t.draft.map(|d| d.text))
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
                    search: None,
                    received: None,
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
            // The answers may have changed a moment ago (a version validated on
            // this very request): draft from the ones in force.
            if let Err(e) = self.0.refresh_kb().await {
                tracing::warn!(error = %format!("{e:#}"), "knowledge base not refreshed before a retriage");
            }
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

    fn fill_answer<'a>(
        &'a self,
        message_id: i64,
        answer_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<String>, String>> + Send + 'a>> {
        Box::pin(async move {
            self.0
                .fill_answer(message_id, answer_id)
                .await
                .map_err(|e| format!("{e:#}"))
        })
    }
}

/// The standard answers the store holds now, as the index wants them.
struct StoreAnswers {
    revision: i64,
    answers: Vec<facteur_kb::StandardAnswer>,
    taxonomy: Option<facteur_kb::Taxonomy>,
}

/// The standard answers the store's validated versions hold, as every node
/// indexes them (`serve`/`worker` refresh and `kb import`), so all of them write
/// identical documents and none rewrites what another indexed. A version that no
/// longer parses (expired, invalid) is logged and left out.
pub fn answers_of_store_versions(
    versions: Vec<facteur_store::AnswerVersion>,
    today: facteur_kb::Date,
) -> Vec<facteur_kb::StandardAnswer> {
    let mut answers = Vec::with_capacity(versions.len());
    for v in versions {
        let origin = std::path::PathBuf::from(format!("store:{}@{}", v.answer_id, v.version));
        // Validated once with the taxonomy of the node that saved it; not
        // re-checked against this node's taxonomy, which only gives labels.
        match facteur_kb::answers::parse_answer(&origin, &v.content, None, today) {
            Ok(mut a) => {
                // The store decides the status and the version drafts cite.
                a.status = facteur_kb::AnswerStatus::Validated;
                a.version = u32::try_from(v.version).unwrap_or(u32::MAX);
                a.id = v.answer_id.clone();
                answers.push(a);
            }
            Err(errs) => {
                let kinds: Vec<_> = errs.iter().map(|e| e.kind).collect();
                tracing::warn!(answer = %v.answer_id, version = v.version, problems = ?kinds,
                    "validated answer of the store not indexed (expired or invalid)");
            }
        }
    }
    answers
}

impl StoreAnswers {
    /// `None` when the store holds no answer version at all: the answers were
    /// never recorded there (a store from before this sync), so the local index
    /// keeps the answers it imported rather than being emptied.
    async fn read(store: &Store, taxonomy_path: &std::path::Path) -> Result<Option<Self>> {
        // One snapshot: the revision this node then reports is exactly the one
        // its answers come from.
        let (revision, count, versions) = store.validated_answers_snapshot().await?;
        if count == 0 {
            return Ok(None);
        }
        let answers = answers_of_store_versions(versions, facteur_kb::Date::today());
        let taxonomy = if taxonomy_path.is_file() {
            match facteur_kb::Taxonomy::load(taxonomy_path) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "taxonomy unreadable: answers indexed without request-type labels");
                    None
                }
            }
        } else {
            None
        };
        Ok(Some(Self {
            revision,
            answers,
            taxonomy,
        }))
    }

    fn apply(
        &self,
        kb: &mut facteur_kb::KnowledgeBase,
    ) -> Result<facteur_kb::ImportReport, facteur_kb::KbError> {
        kb.sync_answers(&self.answers, self.taxonomy.as_ref())
    }
}

/// The web app's view of this node's knowledge base: always the current engine's.
pub struct NodeKb(pub Arc<Service>);

impl facteur_web::KbSearch for NodeKb {
    fn search(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<(Option<i64>, Vec<facteur_web::KbHit>), String> {
        // The engine and the revision it was built at, read together.
        let (engine, revision) = self.0.engine_and_revision();
        let Some(kb) = engine.kb() else {
            return Ok((revision, Vec::new()));
        };
        let opts = facteur_kb::SearchOptions {
            limit,
            snippets: true,
            ..facteur_kb::SearchOptions::default()
        };
        let hits = kb.search(query, &opts).map_err(|e| e.to_string())?;
        let hits = hits
            .into_iter()
            .map(|hit| facteur_web::KbHit::of(kb, hit))
            .collect();
        Ok((revision, hits))
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
