//! Drafts built on a standard answer that is no longer in force. A supervisor who
//! validates version 2 (web editor or `facteur kb import`) retires version 1: the
//! text of version 1 must not leave by mistake. One rule for the web page, the
//! API and the CLI: pending drafts are rebuilt from the version in force, and a
//! draft still resting on a retired version is validated only after the agent
//! confirms, which is audited.

use std::future::Future;

use facteur_core::AnswerStatus;
use facteur_store::{Store, TriageResult};

use crate::AppError;

/// The retired version a draft was built on, when it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredVersion {
    /// The standard answer's id.
    pub answer_id: String,
    /// The version the draft shows, now retired.
    pub version: i64,
}

/// The version `tr`'s draft rests on when it is retired; `None` for a draft on a
/// version in force, or no draft at all. A version the store does not hold
/// (answers read from files only, never recorded) has no status to check.
pub async fn retired_version(
    store: &Store,
    tr: &TriageResult,
) -> Result<Option<RetiredVersion>, AppError> {
    let (Some(_), Some(id), Some(v)) = (&tr.draft_text, &tr.answer_id, tr.answer_version) else {
        return Ok(None);
    };
    let status = store.get_answer_version(id, v).await?.map(|a| a.status);
    Ok(match status {
        Some(AnswerStatus::Validated) | Some(AnswerStatus::Draft) | None => None,
        Some(AnswerStatus::Retired) => Some(RetiredVersion {
            answer_id: id.clone(),
            version: v,
        }),
    })
}

/// Whether a reply may be validated: a draft on a retired version needs the
/// agent's explicit confirmation. `Err` carries the retired version to name.
pub fn may_validate(
    retired: Option<RetiredVersion>,
    confirmed: bool,
) -> Result<Option<RetiredVersion>, RetiredVersion> {
    match retired {
        Some(r) if !confirmed => Err(r),
        other => Ok(other),
    }
}

/// Rebuild every pending draft resting on a retired version with `rebuild` (the
/// triage engine, which drafts from the version in force). Returns how many were
/// rebuilt; a failed rebuild is logged and the draft stays flagged, so the page
/// warns and validation still asks for confirmation.
///
/// Only drafts waiting for validation are rebuilt: no agent has changed them (an
/// agent's edit lives in their form until they validate), and a validated or sent
/// reply is history.
pub async fn rebuild_stale_drafts<F, Fut>(store: &Store, mut rebuild: F) -> Result<usize, AppError>
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut done = 0;
    for id in store.stale_drafts().await? {
        match rebuild(id).await {
            Ok(()) => done += 1,
            Err(e) => tracing::warn!(message = id, error = %e, "stale draft not rebuilt"),
        }
    }
    if done > 0 {
        tracing::info!(
            rebuilt = done,
            "drafts rebuilt after a standard-answer change"
        );
    }
    Ok(done)
}
