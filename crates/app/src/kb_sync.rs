//! The knowledge base follows the store. The store holds the validated versions of
//! the standard answers, written by the web editor on any node or by `facteur kb
//! import`; every node indexes exactly those, and swaps its engine when the
//! store's knowledge-base revision moves, so all nodes draft from the same
//! answers, and the pending drafts built on a retired version are rebuilt.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use facteur_kb::{ImportReport, KbError, KnowledgeBase, StandardAnswer, Taxonomy};
use facteur_store::{AnswerVersion, Store};

use crate::service::Service;
use crate::AppError;

/// The standard answers the store holds now, as the index wants them.
pub struct StoreAnswers {
    /// The store's knowledge-base revision they were read at.
    pub revision: i64,
    answers: Vec<StandardAnswer>,
    taxonomy: Option<Taxonomy>,
}

/// The standard answers the store's validated versions hold, as every node
/// indexes them (`serve`/`worker` refresh and `kb import`), so all of them write
/// identical documents and none rewrites what another indexed. A version that no
/// longer parses (expired, invalid) is logged and left out.
pub fn answers_of_store_versions(
    versions: Vec<AnswerVersion>,
    today: facteur_kb::Date,
) -> Vec<StandardAnswer> {
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
    pub async fn read(store: &Store, taxonomy_path: &Path) -> Result<Option<Self>, AppError> {
        // One snapshot: the revision this node then reports is exactly the one
        // its answers come from.
        let (revision, count, versions) = store.validated_answers_snapshot().await?;
        if count == 0 {
            return Ok(None);
        }
        let answers = answers_of_store_versions(versions, facteur_kb::Date::today());
        let taxonomy = if taxonomy_path.is_file() {
            match Taxonomy::load(taxonomy_path) {
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

    /// Brings `kb`'s answers in line with these.
    pub fn apply(&self, kb: &mut KnowledgeBase) -> Result<ImportReport, KbError> {
        kb.sync_answers(&self.answers, self.taxonomy.as_ref())
    }
}

impl Service {
    /// When the store's knowledge-base revision moved since the last sync,
    /// rebuild the answers part of the index from the store's validated answers
    /// and swap the engine. The new index is prepared on a second handle while
    /// the current engine keeps serving; on any failure the current engine stays.
    /// Returns the new revision when something was rebuilt.
    pub async fn refresh_kb(&self) -> Result<Option<i64>, AppError> {
        let _one = self.kb_sync.lock().await;
        let seen = self.kb_revision.load(Ordering::SeqCst);
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
        let open_kb = self.open_kb.clone();
        let rebuild_failed = |source: Box<dyn std::error::Error + Send + Sync>| AppError::Kb {
            op: "rebuild the knowledge base from the store".into(),
            source,
        };
        let (next, report) = tokio::task::spawn_blocking(move || {
            let mut kb = match engine.kb() {
                Some(k) => k.reopen().map_err(|e| rebuild_failed(Box::new(e)))?,
                None => open_kb(&data_dir).map_err(rebuild_failed)?,
            };
            let report = current
                .apply(&mut kb)
                .map_err(|e| rebuild_failed(Box::new(e)))?;
            Ok::<_, AppError>((engine.with_kb(Some(kb)), report))
        })
        .await
        .map_err(|e| AppError::Task {
            task: "knowledge-base rebuild",
            reason: e.to_string(),
        })??;
        self.swap_engine(next, revision);
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
    /// version in force (the rule lives in [`crate::stale`]).
    pub async fn rebuild_stale_drafts(&self) {
        let rebuilt = crate::rebuild_stale_drafts(&self.store, |id| async move {
            let category = self
                .store
                .get_message(id)
                .await
                .map_err(|e| e.to_string())?
                .and_then(|m| m.category);
            self.retriage(id, category)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
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
                        tracing::error!(error = %e, "knowledge-base refresh failed; keeping the current one")
                    }
                }
            }
        })
    }
}
