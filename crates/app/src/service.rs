//! The running service: the store, the triage engine and the glue between them.
//!
//! Every entry point that stores mail (`import`, `sync`, `serve`, `demo`) goes
//! through [`Service`], so a message is triaged the same way whichever door it came
//! through, and triage runs right after the message is safely stored: the draft is
//! ready when the agent opens it. A crash between "stored" and "triaged" loses
//! nothing: messages left in state `new` are triaged again by
//! [`Service::triage_pending`] at start-up. The web app holds the same `Service`
//! for retriage after a correction and for knowledge-base search.
//!
//! Building one (the model file, the data folder, the embedder) is the binary's
//! wiring: it hands the parts to [`Service::new`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use facteur_core::{MessageState, ParsedMail};
use facteur_kb::KnowledgeBase;
use facteur_store::{NewMailbox, QueuePage, QueueQuery, QueueSort, Store};
use facteur_triage::{Engine, Overrides, Triaged};

use crate::{AppError, Suggestions};

/// Opens the knowledge base of a data folder with this node's embedder attached
/// (when one is configured): what a refresh needs when the node had none.
pub type KbOpener = Arc<
    dyn Fn(&std::path::Path) -> Result<KnowledgeBase, Box<dyn std::error::Error + Send + Sync>>
        + Send
        + Sync,
>;

/// What the binary hands to [`Service::new`].
pub struct ServiceParts {
    /// The opened store, keyed with the audit key.
    pub store: Store,
    /// The triage engine with the model and knowledge base loaded at start-up.
    pub engine: Engine,
    /// The store's knowledge-base revision the engine's answers were synced at;
    /// `None` when they were not synced from the store.
    pub kb_revision: Option<i64>,
    /// The taxonomy file (request-type labels for the answers' index).
    pub taxonomy_path: PathBuf,
    /// The model version recorded with each triage.
    pub model_version: Option<String>,
    /// The data folder, where a knowledge base is created when there was none.
    pub data_dir: PathBuf,
    /// The one "may a draft be offered" gate, shared with the web app.
    pub suggestions: Arc<Suggestions>,
    /// The window in which a repeat of the same citizen's open message is marked.
    pub followup_days: u32,
    /// Opens a knowledge base with the embedder attached.
    pub open_kb: KbOpener,
}

/// The store and the triage engine of one node.
pub struct Service {
    /// The store every entry point writes through.
    pub store: Store,
    /// Swapped whole when the standard answers change in the store (see
    /// [`Service::refresh_kb`]); read it with [`Service::engine`].
    engine: RwLock<Arc<Engine>>,
    /// The store's knowledge-base revision the answers of the index were synced
    /// at; -1 before the first sync.
    pub(crate) kb_revision: AtomicI64,
    /// One rebuild at a time (the refresher, a start-up sync, `demo`).
    pub(crate) kb_sync: tokio::sync::Mutex<()>,
    pub(crate) taxonomy_path: PathBuf,
    /// Model version label recorded with each triage (the model file's creation
    /// time and data hash), so feedback can say which model suggested what.
    pub model_version: Option<String>,
    pub(crate) data_dir: PathBuf,
    /// The one rule for "may a draft be offered" (kill switches, strict review),
    /// with its caches; the web app of a `serve` process shares it.
    pub suggestions: Arc<Suggestions>,
    /// CPU time spent triaging, for the transparency sheet's cost per 1,000 messages.
    pub compute: Arc<facteur_learn::ComputeMeter>,
    followup_days: u32,
    pub(crate) open_kb: KbOpener,
}

impl Service {
    /// The service over `parts`.
    pub fn new(parts: ServiceParts) -> Service {
        Service {
            store: parts.store,
            engine: RwLock::new(Arc::new(parts.engine)),
            kb_revision: AtomicI64::new(parts.kb_revision.unwrap_or(-1)),
            kb_sync: tokio::sync::Mutex::new(()),
            taxonomy_path: parts.taxonomy_path,
            model_version: parts.model_version,
            data_dir: parts.data_dir,
            suggestions: parts.suggestions,
            compute: Arc::new(facteur_learn::ComputeMeter::new()),
            followup_days: parts.followup_days,
            open_kb: parts.open_kb,
        }
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

    /// Both swapped under the write lock: a reader sees the old pair or the new one.
    pub(crate) fn swap_engine(&self, next: Engine, revision: i64) {
        let mut engine = self.engine.write().unwrap_or_else(|p| p.into_inner());
        *engine = Arc::new(next);
        self.kb_revision.store(revision, Ordering::SeqCst);
    }

    /// The store's knowledge-base revision this node's answers follow (`None`
    /// before the first sync, or when the store holds no answers).
    pub fn kb_revision(&self) -> Option<i64> {
        let r = self.kb_revision.load(Ordering::SeqCst);
        (r >= 0).then_some(r)
    }

    /// The mailbox named `name`, created with `address` and `signature` when the
    /// store does not have it (several processes starting at once on a fresh
    /// database may race: the loser reads the winner's).
    pub async fn ensure_mailbox(
        &self,
        name: &str,
        address: &str,
        signature: Option<&str>,
    ) -> Result<i64, AppError> {
        let existing = self.store.get_mailbox_by_name(name).await?;
        let id = match existing {
            Some(m) => m.id,
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
                    Ok(id) => id,
                    Err(e) => match self.store.get_mailbox_by_name(name).await? {
                        Some(m) => m.id,
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
                            return Err(AppError::MailboxAddressTaken {
                                name: name.to_string(),
                                owner,
                                address: address.to_string(),
                            });
                        }
                        None => return Err(e.into()),
                    },
                }
            }
        };
        Ok(id)
    }

    /// The id of the mailbox named `name`.
    pub async fn mailbox_id(&self, name: &str) -> Result<i64, AppError> {
        match self.store.get_mailbox_by_name(name).await? {
            Some(m) => Ok(m.id),
            None => Err(AppError::NoMailbox {
                name: name.to_string(),
            }),
        }
    }

    /// The signature drafts of this mailbox end with, read from the store each
    /// time: an administrator's edit on any node applies to the next draft.
    async fn signature_of(&self, mailbox_id: i64) -> Result<Option<String>, AppError> {
        Ok(self
            .store
            .get_mailbox(mailbox_id)
            .await?
            .map(|m| m.signature))
    }

    /// Triage a stored message and record the result (state, draft, passages);
    /// then link a bounce to the reply it reports, and a repeat to the same
    /// citizen's open message.
    pub async fn triage_stored(
        &self,
        id: i64,
        mailbox_id: i64,
        mail: &ParsedMail,
        category: Option<String>,
    ) -> Result<Triaged, AppError> {
        let one = ToTriage {
            id,
            mailbox_id,
            mail: mail.clone(),
            category,
            raw: None,
        };
        self.triage_batch(vec![one])
            .await
            .pop()
            .unwrap_or(Err(AppError::NoMessage { id }))
    }

    /// [`Service::triage_stored`] for a batch, with an outcome per message in
    /// order. The messages are triaged on every core at once and their results
    /// recorded in one transaction: ingest and the workers hand over what they
    /// fetched together, so the store commits once per batch, not per message.
    pub async fn triage_batch(&self, batch: Vec<ToTriage>) -> Vec<Result<Triaged, AppError>> {
        let mut signatures: HashMap<i64, Option<String>> = HashMap::new();
        let mut work = Vec::with_capacity(batch.len());
        let mut out: Vec<Option<Result<Triaged, AppError>>> = Vec::with_capacity(batch.len());
        let engine = self.engine();
        for mut item in batch {
            let signature = match signatures.get(&item.mailbox_id) {
                Some(s) => s.clone(),
                None => match self.signature_of(item.mailbox_id).await {
                    Ok(s) => {
                        signatures.insert(item.mailbox_id, s.clone());
                        s
                    }
                    Err(e) => {
                        out.push(Some(Err(e)));
                        continue;
                    }
                },
            };
            // Attachments are read from the raw mail (ingest keeps only their
            // metadata in the parsed summary): the caller's bytes, else the
            // store's; in the blocking task, within the configured budget.
            let needs_raw =
                engine.reads_attachments_of(&item.mail) && item.mail.attachment_texts.is_empty();
            item.raw = match (needs_raw, item.raw.take()) {
                (false, _) => None,
                (true, Some(raw)) => Some(raw),
                (true, None) => match self.store.get_raw(item.id).await {
                    Ok(raw) => raw,
                    Err(e) => {
                        out.push(Some(Err(e.into())));
                        continue;
                    }
                },
            };
            let over = Overrides {
                signature,
                category: item.category.take(),
                answer: None,
            };
            work.push((out.len(), item, over));
            out.push(None);
        }
        let meter = self.compute.clone();
        let slots: Vec<usize> = work.iter().map(|w| w.0).collect();
        let ids: Vec<(i64, i64)> = work.iter().map(|w| (w.1.id, w.1.mailbox_id)).collect();
        let triaged =
            tokio::task::spawn_blocking(move || triage_on_all_cores(&engine, work, &meter)).await;
        let triaged = match triaged {
            Ok(t) => t,
            Err(e) => {
                let reason = e.to_string();
                for slot in slots {
                    out[slot] = Some(Err(AppError::Task {
                        task: "triage",
                        reason: reason.clone(),
                    }));
                }
                return out.into_iter().flatten().collect();
            }
        };
        let mut done = Vec::with_capacity(triaged.len());
        for ((t, slot), (id, mailbox_id)) in triaged.into_iter().zip(ids) {
            let Some(mut t) = t else {
                out[slot] = Some(Err(AppError::Task {
                    task: "triage",
                    reason: "it panicked on this message (see the log's location)".into(),
                }));
                continue;
            };
            // A supervisor's kill switch or an overdue review (with strict_review)
            // turns suggestions off at once: the message goes to a person, with
            // no draft.
            if t.draft.is_some()
                && !self
                    .suggestions
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
            done.push((slot, id, t));
        }
        let records: Vec<_> = done
            .iter()
            .map(|(_, id, t)| crate::triage_record(*id, self.model_version.clone(), t))
            .collect();
        let recorded = match self.store.record_triages(&records).await {
            Ok(r) => r,
            // One message the database refuses must not cost the others their
            // triage: record them one by one, each with its own outcome.
            Err(e) => {
                tracing::warn!(error = %e, "batch of triages not recorded; recording one by one");
                let mut each = Vec::with_capacity(records.len());
                for r in &records {
                    each.push(self.store.record_triage(r).await);
                }
                each
            }
        };
        for ((slot, id, t), rec) in done.into_iter().zip(recorded) {
            let result = match rec {
                Ok(_) => self.after_recorded(id, &t).await.map(|()| t),
                Err(e) => Err(e.into()),
            };
            out[slot] = Some(result);
        }
        out.into_iter().flatten().collect()
    }

    /// What follows a recorded triage (its attachments' text went with it): a
    /// bounce linked to the reply it reports, a repeat to the same citizen's open
    /// message.
    async fn after_recorded(&self, id: i64, t: &Triaged) -> Result<(), AppError> {
        self.link_bounce(id, t).await?;
        if let Some(of) = crate::link_repeat(&self.store, id, t, self.followup_days).await? {
            tracing::info!(message = id, of, "repeat of an open message");
        }
        Ok(())
    }

    /// A bounce of one of our replies marks that outbox row "non distribuée",
    /// found by the Message-ID of the returned message. A delay notice (4.x.x)
    /// marks nothing: the relay keeps trying.
    async fn link_bounce(&self, id: i64, t: &Triaged) -> Result<(), AppError> {
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
            .await?;
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
    async fn stored(&self, id: i64) -> Result<(facteur_store::Message, Vec<u8>), AppError> {
        let msg = self
            .store
            .get_message(id)
            .await?
            .ok_or(AppError::NoMessage { id })?;
        let raw = self.store.get_raw(id).await?.unwrap_or_default();
        Ok((msg, raw))
    }

    /// Re-triage from the stored raw bytes (after a restart, or after an agent
    /// corrected the category).
    pub async fn retriage(&self, id: i64, category: Option<String>) -> Result<Triaged, AppError> {
        let (msg, raw) = self.stored(id).await?;
        let parsed = facteur_mail::parse_message(&raw);
        self.triage_stored(id, msg.mailbox_id, &parsed, category)
            .await
    }

    /// After an agent's correction on the web: the draft follows the message's
    /// category as stored now, from the answers in force (refreshed first: a
    /// version may have been validated a moment ago, on this very request).
    pub async fn retriage_as_corrected(&self, id: i64) -> Result<(), AppError> {
        if let Err(e) = self.refresh_kb().await {
            tracing::warn!(error = %e, "knowledge base not refreshed before a retriage");
        }
        let category = self.store.get_message(id).await?.and_then(|m| m.category);
        self.retriage(id, category).await.map(|_| ())
    }

    /// The reply standard answer `answer_id` gives for stored message `id`,
    /// filled from the mail exactly as the draft triage would build from it;
    /// nothing is recorded. `None`: the answer is not usable today.
    pub async fn fill_answer(&self, id: i64, answer_id: &str) -> Result<Option<String>, AppError> {
        let (msg, raw) = self.stored(id).await?;
        let over = Overrides {
            signature: self.signature_of(msg.mailbox_id).await?,
            category: msg.category.clone(),
            answer: Some(answer_id.to_string()),
        };
        let engine = self.engine();
        let t = tokio::task::spawn_blocking(move || {
            let parsed = facteur_mail::parse_message(&raw);
            engine.triage_with("store", &parsed, &over)
        })
        .await
        .map_err(|e| AppError::Task {
            task: "triage",
            reason: e.to_string(),
        })?;
        Ok(t.draft.map(|d| d.text))
    }

    /// Triage every message still in state `new` (stored but never triaged, e.g.
    /// because the process stopped in between).
    pub async fn triage_pending(&self) -> Result<usize, AppError> {
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
                    tracing::warn!(message = r.id, error = %e, "triage failed");
                    return Ok(done);
                }
                done += 1;
            }
        }
    }

    /// Fill in the passages that say why each stored hit matched `text` (the
    /// message's masked text). Triage stores its hits without them: the
    /// highlighting re-reads every matched fiche and cost more than the rest of
    /// triage, for pages most messages never show. The message page asks when
    /// an agent opens it. Without a knowledge base, the hits stay bare.
    ///
    /// `read_as` is what the classifier read (the stored `classify_text`):
    /// triage embedded that, not the body, and searched with its vector, so the
    /// "sens proche" sentences are chosen with the same vector here. Without it
    /// (a message triaged before it was recorded) the body is embedded.
    pub fn explain(&self, text: &str, read_as: Option<&str>, hits: &mut [facteur_kb::Hit]) {
        let engine = self.engine();
        let Some(kb) = engine.kb() else {
            return;
        };
        if let Some(v) = read_as.and_then(|r| kb.embed_query(r)) {
            kb.remember_query(text, v);
        }
        if let Err(e) = kb.explain(text, hits) {
            tracing::warn!(error = %e, "passages not computed for the message page");
        }
    }

    /// Usable answers and fiches matching `query`, best first, each with its
    /// answer's text, and the store's knowledge-base revision of the very index
    /// searched (`None`: not synced from a store). One call returns both, so a
    /// refresh between two calls cannot pair new answers with an old revision.
    pub fn search_kb(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<(Option<i64>, Vec<KbHit>), AppError> {
        let (engine, revision) = self.engine_and_revision();
        let Some(kb) = engine.kb() else {
            return Ok((revision, Vec::new()));
        };
        let opts = facteur_kb::SearchOptions {
            limit,
            snippets: true,
            ..facteur_kb::SearchOptions::default()
        };
        let hits = kb.search(query, &opts).map_err(|e| AppError::Kb {
            op: "search the knowledge base".into(),
            source: Box::new(e),
        })?;
        let hits = hits.into_iter().map(|hit| KbHit::of(kb, hit)).collect();
        Ok((revision, hits))
    }
}

/// One knowledge-base search result; `body` is the answer's text (with its
/// `{{variables}}`) for a standard answer, `None` for a fiche.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KbHit {
    /// The document and its matched passages.
    #[serde(flatten)]
    pub hit: facteur_kb::Hit,
    /// The standard answer's text, to insert into a reply.
    pub body: Option<String>,
}

impl KbHit {
    /// A hit of `kb`'s search, with its answer's text when it is an answer (in
    /// the hit's language).
    pub fn of(kb: &KnowledgeBase, hit: facteur_kb::Hit) -> Self {
        let body = (hit.kind == facteur_kb::DocKind::Answer)
            .then(|| {
                kb.answers()
                    .iter()
                    .find(|a| a.id == hit.id && a.language == hit.language)
                    .map(|a| a.body.clone())
            })
            .flatten();
        Self { hit, body }
    }
}

/// A stored message to triage.
#[derive(Debug, Clone)]
pub struct ToTriage {
    /// Its store id.
    pub id: i64,
    /// Its mailbox (whose signature ends the draft).
    pub mailbox_id: i64,
    /// The parsed mail.
    pub mail: ParsedMail,
    /// A request type an agent chose, which the draft follows.
    pub category: Option<String>,
    /// The raw mail when the caller holds it: its attachments are read from it
    /// instead of from the store.
    pub raw: Option<Vec<u8>>,
}

/// Triage `work` on every core (see [`on_all_cores`]), each result with its slot.
fn triage_on_all_cores(
    engine: &Engine,
    work: Vec<(usize, ToTriage, Overrides)>,
    meter: &facteur_learn::ComputeMeter,
) -> Vec<(Option<Triaged>, usize)> {
    let slots: Vec<usize> = work.iter().map(|w| w.0).collect();
    let work = work
        .into_iter()
        .map(|(_, item, over)| (item.id, (item, over)))
        .collect();
    let triaged = on_all_cores(work, meter, |(item, over): (ToTriage, Overrides)| {
        let mut mail = item.mail;
        // Set only when its attachments are to be read (see triage_batch).
        if let Some(raw) = item.raw {
            mail.attachment_texts = engine.read_attachments(&raw, &mail);
        }
        engine.triage_with("store", &mail, &over)
    });
    triaged.into_iter().zip(slots).collect()
}

/// Runs `f` on each message's work on every core, each thread taking a
/// contiguous share, and gives the results back in order. Each thread measures
/// its own CPU time for the cost per 1,000 messages (the process total would
/// also count the web server and the connectors). A message whose work panics
/// fails alone (`None`): a bug that one hostile mail trips must not fail its
/// batch-mates, which would retry in its company until they ran out of attempts.
fn on_all_cores<T: Send, R: Send>(
    work: Vec<(i64, T)>,
    meter: &facteur_learn::ComputeMeter,
    f: impl Fn(T) -> R + Sync,
) -> Vec<Option<R>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(work.len())
        .max(1);
    let one = |part: Vec<(i64, T)>| {
        let before = thread_cpu_seconds();
        let n = part.len();
        let done: Vec<Option<R>> = part
            .into_iter()
            .map(|(message, w)| each_alone(message, || f(w)))
            .collect();
        if let (Some(a), Some(b)) = (before, thread_cpu_seconds()) {
            meter.add(b - a, n as u64);
        }
        done
    };
    if threads == 1 {
        return one(work);
    }
    let size = work.len().div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    let mut rest = work;
    while rest.len() > size {
        let tail = rest.split_off(size);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts.into_iter().map(|p| scope.spawn(|| one(p))).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Runs one message's work, turning a panic into `None`. The panic's message is
/// not logged: it can quote the text being handled (a slice out of a mail), and
/// logs carry no personal data; the message id and the location are enough to
/// reproduce it from the stored mail.
fn each_alone<R>(message: i64, f: impl FnOnce() -> R) -> Option<R> {
    // The engine is shared read-only; its caches are behind mutexes whose
    // poisoning their users already tolerate (a poisoned cache is skipped).
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(_) => {
            tracing::error!(message, "panicked on this message, which fails alone");
            None
        }
    }
}

/// CPU seconds consumed by the calling thread (Linux: /proc/thread-self/schedstat,
/// whose first field is the time on CPU in nanoseconds).
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_whose_work_panics_fails_alone_and_the_order_holds() {
        let meter = facteur_learn::ComputeMeter::new();
        let work: Vec<(i64, u32)> = (0..9).map(|i| (100 + i64::from(i), i)).collect();
        let out = on_all_cores(work, &meter, |x| {
            assert!(x != 4, "a bug one mail trips");
            x * 2
        });
        let want: Vec<Option<u32>> = (0..9).map(|x| (x != 4).then_some(x * 2)).collect();
        assert_eq!(out, want);
        // Nothing to do: nothing returned, no thread spawned.
        assert!(on_all_cores(Vec::<(i64, u32)>::new(), &meter, |x| x).is_empty());
    }
}
