//! What the learning-loop pages share: the model registry's configuration, the
//! switch and exclusion stores, and how learn's errors become HTTP errors.

use std::path::{Path as FsPath, PathBuf};

use facteur_learn::registry::{self, RegistryConfig};
use facteur_learn::{LearnError, ModelVersionView, StoreExclusions, StoreSwitches};

use crate::error::{WebError, WebResult};
use crate::i18n::Msg;
use crate::AppState;

/// How long the review banner's status is reused (store time).
pub(super) const BANNER_TTL_MS: i64 = 60_000;
/// Weeks of history the drift dashboard shows.
pub(super) const DASHBOARD_WEEKS: i64 = 12;
pub(super) const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;
/// A switch reason is a short note, not a report: capped so the audit row stays small.
pub(super) const MAX_REASON_CHARS: usize = 200;

pub(super) fn registry_cfg(st: &AppState) -> RegistryConfig {
    RegistryConfig {
        review_period_days: st.config.review_period_days,
        ..RegistryConfig::default()
    }
}

pub(super) fn data_dir(st: &AppState) -> Option<&FsPath> {
    st.config.data_dir.as_deref()
}

/// The kill switches, in the database every node shares (a legacy file of this
/// node's data directory is imported on first use).
pub(crate) fn switch_store(st: &AppState) -> StoreSwitches {
    match data_dir(st) {
        Some(d) => StoreSwitches::with_data_dir(st.store.clone(), d),
        None => StoreSwitches::new(st.store.clone()),
    }
}

pub(super) fn exclusion_store(st: &AppState) -> StoreExclusions {
    match data_dir(st) {
        Some(d) => StoreExclusions::with_data_dir(st.store.clone(), d),
        None => StoreExclusions::new(st.store.clone()),
    }
}

pub(super) fn need_data_dir(st: &AppState) -> WebResult<&FsPath> {
    data_dir(st).ok_or_else(|| WebError::bad(Msg::NoRegistryDir))
}

pub(super) fn learn_err(e: LearnError) -> WebError {
    match e {
        LearnError::Store(e) => WebError::from(e),
        LearnError::NoSupervisor { .. } | LearnError::NotSupervisor { .. } => WebError::Forbidden,
        LearnError::UnknownVersion(_) => WebError::NotFound,
        LearnError::NothingToRollBack => WebError::conflict(Msg::NothingToRollBack),
        LearnError::WrongStatus { .. } => WebError::conflict(Msg::ModelWrongStatus),
        other => {
            // Learn errors name versions and files, never message text: safe to log.
            tracing::error!(error = %other, "model registry operation failed");
            WebError::Internal("model registry".into())
        }
    }
}

/// Every registered version. Listing only composes file paths, so without a data
/// dir the store's records are still shown.
pub(super) async fn versions(st: &AppState) -> WebResult<Vec<ModelVersionView>> {
    let dir = data_dir(st).map_or_else(PathBuf::new, FsPath::to_path_buf);
    registry::list(&st.store, &dir, &registry_cfg(st))
        .await
        .map_err(learn_err)
}

/// A share in the page's language ("70,0 %", "70.0%").
pub(super) fn pct(lang: crate::i18n::Lang, v: f64) -> String {
    crate::i18n::percent(lang, v)
}

/// A metric in the page's language, to three places ("0,823", "0.823").
pub(super) fn num(lang: crate::i18n::Lang, v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let s = format!("{v:.3}");
    match lang {
        crate::i18n::Lang::Fr => s.replace('.', ","),
        crate::i18n::Lang::En => s,
    }
}

// ------------------------------------------------------------ review banner

/// The date the active model's review fell due, if it is overdue now. Cached for
/// a minute: every signed-in page asks, and the review log is scanned to answer.
pub async fn review_overdue_since(st: &AppState) -> Option<String> {
    let now = st.store.now_ms();
    {
        let g = st
            .runtime
            .review_banner
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((at, v)) = g.as_ref() {
            if now >= *at && now - *at < BANNER_TTL_MS {
                return v.clone();
            }
        }
    }
    let v = match compute_overdue(st, now).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "review status unavailable");
            None
        }
    };
    *st.runtime
        .review_banner
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some((now, v.clone()));
    v
}

async fn compute_overdue(st: &AppState, now: i64) -> Result<Option<String>, LearnError> {
    let Some(active) = st.store.active_model().await? else {
        return Ok(None);
    };
    let Some(promoted_at) = active.promoted_at else {
        return Ok(None);
    };
    let last = facteur_learn::registry::list_reviews(&st.store)
        .await?
        .into_iter()
        .filter(|r| r.version == active.id)
        .map(|r| r.reviewed_at)
        .max();
    let s = facteur_learn::review_status(promoted_at, last, now, st.config.review_period_days);
    Ok(s.overdue.then_some(s.due_on))
}

/// After a promotion, rollback or review the banner must change at once.
pub(super) async fn forget_review_status(st: &AppState) {
    st.suggestions.forget().await;
    *st.runtime
        .review_banner
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = None;
}
