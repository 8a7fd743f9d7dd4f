//! The model registry (promote, roll back, record a review) and the review-overdue
//! banner every signed-in page shows.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};

use crate::extract::{Form, Path};
use facteur_core::{ModelStatus, Role};
use facteur_learn::registry;
use facteur_learn::{review_status, LearnError, ReviewDecision};
use maud::html;
use serde::Deserialize;

use super::registry::*;
use crate::auth::Authed;
use crate::error::{WebError, WebResult};
use crate::i18n::{display_date, Lang, Msg};
use crate::views::{csrf_input, page};
use crate::AppState;

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
    let last = registry::list_reviews(&st.store)
        .await?
        .into_iter()
        .filter(|r| r.version == active.id)
        .map(|r| r.reviewed_at)
        .max();
    let s = review_status(promoted_at, last, now, st.config.review_period_days);
    Ok(s.overdue.then_some(s.due_on))
}

/// After a promotion, rollback or review the banner must change at once.
fn forget_review_status(st: &AppState) {
    *st.runtime
        .review_banner
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = None;
}

fn status_text(lang: Lang, s: ModelStatus) -> &'static str {
    match s {
        ModelStatus::Active => tr(lang, "en service", "active"),
        ModelStatus::Candidate => tr(lang, "candidat", "candidate"),
        ModelStatus::Retired => tr(lang, "retiré", "retired"),
    }
}

fn decision_text(lang: Lang, d: ReviewDecision) -> &'static str {
    match d {
        ReviewDecision::Keep => tr(lang, "conserver", "keep"),
        ReviewDecision::Retrain => tr(lang, "réentraîner", "retrain"),
        ReviewDecision::Withdraw => tr(lang, "retirer", "withdraw"),
    }
}

pub async fn models(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let t = |fr, en| tr(lang, fr, en);
    let versions = versions(&st).await?;
    let active = versions.iter().find(|v| v.status == ModelStatus::Active);
    let active_eval = active.and_then(|v| v.record.as_ref().map(|r| (v.version.as_str(), &r.eval)));
    let can_change = data_dir(&st).is_some();
    let body = html! {
        @if versions.is_empty() {
            p #no-model { (t("Aucune version de modèle n'est enregistrée.", "No model version is registered.")) }
        } @else {
            table #model-versions {
                caption { (t("Versions enregistrées (métriques sur le jeu d'évaluation fixe)", "Registered versions (metrics on the fixed evaluation set)")) }
                thead { tr {
                    th scope="col" { (t("Version", "Version")) }
                    th scope="col" { (t("Statut", "Status")) }
                    th scope="col" { (t("Entraînée le", "Trained on")) }
                    th scope="col" { (t("Exemples (dont agents)", "Examples (from agents)")) }
                    th scope="col" { (t("Exactitude", "Accuracy")) }
                    th scope="col" { "Macro-F1" }
                    th scope="col" { (t("Δ Macro-F1 / en service", "Δ Macro-F1 vs active")) }
                    th scope="col" { (t("Couverture à 95 %", "Coverage at 95 %")) }
                    th scope="col" { (t("Revue", "Review")) }
                    th scope="col" { (t("Actions", "Actions")) }
                } }
                tbody {
                    @for v in &versions {
                        @let rec = v.record.as_ref();
                        @let cmp = match (rec, active_eval) {
                            (Some(r), Some((aid, ae))) if aid != v.version => Some(registry::compare((&v.version, &r.eval), (aid, ae))),
                            _ => None,
                        };
                        tr data-version=(v.version) {
                            th scope="row" { code { (v.version) } }
                            td { (status_text(lang, v.status)) }
                            td { (facteur_learn::review::iso_date(rec.map_or(v.created_at, |r| r.trained_at))) }
                            td { @if let Some(r) = rec { (r.training_examples) " (" (r.feedback_examples) ")" } @else { "—" } }
                            td { (rec.map_or_else(|| "—".into(), |r| pct(r.eval.accuracy))) }
                            td { (rec.map_or_else(|| "—".into(), |r| num(r.eval.macro_f1))) }
                            td {
                                @if let Some(c) = &cmp {
                                    (format!("{:+.3}", c.macro_f1_delta))
                                    @if !c.same_eval_set { " " em { (t("(jeu d'évaluation différent)", "(different evaluation set)")) } }
                                    @if !c.regressions.is_empty() { br; span.error { (t("Régressions", "Regressions")) " : " (c.regressions.join(", ")) } }
                                } @else { "—" }
                            }
                            td { (rec.map_or_else(|| "—".into(), |r| pct(r.eval.coverage_at_95_precision))) }
                            td {
                                @if let Some(r) = &v.review {
                                    (t("due le", "due")) " " (display_date(lang, &r.due_on))
                                    @if r.overdue { " " strong.error { (t("en retard", "overdue")) } }
                                }
                                @if let Some(l) = &v.last_review {
                                    br; (t("dernière", "last")) " : " (facteur_learn::review::iso_date(l.reviewed_at)) " — " (decision_text(lang, l.decision))
                                }
                            }
                            td {
                                @if v.status != ModelStatus::Active && can_change {
                                    form.inline method="post" action={ "/modeles/" (v.version) "/promote" } {
                                        (csrf_input(&a))
                                        button type="submit" { (t("Promouvoir en mon nom", "Promote in my name")) }
                                    }
                                }
                                @if v.status == ModelStatus::Active {
                                    form.review-form method="post" action={ "/modeles/" (v.version) "/review" } {
                                        (csrf_input(&a))
                                        label for={ "decision-" (v.version) } { (t("Décision de revue", "Review decision")) }
                                        " "
                                        select id={ "decision-" (v.version) } name="decision" {
                                            @for d in [ReviewDecision::Keep, ReviewDecision::Retrain, ReviewDecision::Withdraw] {
                                                option value=(serde_json::to_value(d).ok().and_then(|x| x.as_str().map(str::to_string)).unwrap_or_default()) { (decision_text(lang, d)) }
                                            }
                                        }
                                        " "
                                        label for={ "note-" (v.version) } { (t("Note", "Note")) }
                                        " "
                                        input id={ "note-" (v.version) } type="text" name="note" maxlength="500";
                                        " "
                                        button type="submit" { (t("Enregistrer la revue", "Record the review")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if can_change {
            form #rollback-form method="post" action="/modeles/rollback" {
                (csrf_input(&a))
                button type="submit" { (t("Revenir à la version précédente", "Roll back to the previous version")) }
            }
        } @else {
            p.note { (t("Aucun répertoire de données configuré : promotion et retour arrière indisponibles.", "No data directory configured: promotion and rollback are unavailable.")) }
        }
        p.note { (t("Vous serez enregistré(e) comme responsable de l'action", "You will be recorded as responsible for the action")) " : " (a.user.display_name) "." }
    };
    Ok(page(lang, Msg::Models.text(lang), Some(&a), body).into_response())
}

pub async fn model_promote(
    State(st): State<AppState>,
    a: Authed,
    Path(version): Path<String>,
) -> WebResult<Response> {
    // Checked here as well as in the registry: the server refuses, not the page.
    a.require_role(Role::Supervisor)?;
    let dir = need_data_dir(&st)?;
    registry::promote(
        &st.store,
        dir,
        &registry_cfg(&st),
        &version,
        Some(a.user.id),
    )
    .await
    .map_err(learn_err)?;
    forget_review_status(&st);
    Ok(Redirect::to("/modeles").into_response())
}

pub async fn model_rollback(State(st): State<AppState>, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let dir = need_data_dir(&st)?;
    registry::rollback(&st.store, dir, &registry_cfg(&st), Some(a.user.id))
        .await
        .map_err(learn_err)?;
    forget_review_status(&st);
    Ok(Redirect::to("/modeles").into_response())
}

#[derive(Deserialize)]
pub struct ReviewForm {
    pub decision: ReviewDecision,
    #[serde(default)]
    pub note: String,
}

pub async fn model_review(
    State(st): State<AppState>,
    a: Authed,
    Path(version): Path<String>,
    Form(f): Form<ReviewForm>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    // The metrics the supervisor saw on the page, kept with the decision.
    let seen = versions(&st)
        .await?
        .into_iter()
        .find(|v| v.version == version)
        .ok_or(WebError::NotFound)?
        .record
        .and_then(|r| serde_json::to_value(r.eval).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    let note = Some(f.note.trim().chars().take(500).collect::<String>()).filter(|n| !n.is_empty());
    registry::record_review(&st.store, &version, Some(a.user.id), f.decision, seen, note)
        .await
        .map_err(learn_err)?;
    forget_review_status(&st);
    Ok(Redirect::to("/modeles").into_response())
}
