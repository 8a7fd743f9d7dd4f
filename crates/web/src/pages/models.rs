//! The model registry (promote, roll back, record a review) and the review-overdue
//! banner every signed-in page shows.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};

use crate::extract::{Form, Path};
use facteur_core::{ModelStatus, Role};
use facteur_learn::registry;
use facteur_learn::ReviewDecision;
use maud::html;
use serde::Deserialize;

use super::registry::*;
use crate::auth::Authed;
use crate::error::{WebError, WebResult};
use crate::i18n::{display_date, Lang, Msg};
use crate::views::{csrf_input, page, table_frame};
use crate::AppState;

fn status_text(lang: Lang, s: ModelStatus) -> &'static str {
    match s {
        ModelStatus::Active => Msg::ModelsActive.text(lang),
        ModelStatus::Candidate => Msg::ModelsCandidate.text(lang),
        ModelStatus::Retired => Msg::ModelsRetired.text(lang),
    }
}

fn decision_text(lang: Lang, d: ReviewDecision) -> &'static str {
    match d {
        ReviewDecision::Keep => Msg::ModelsKeep.text(lang),
        ReviewDecision::Retrain => Msg::ModelsRetrain.text(lang),
        ReviewDecision::Withdraw => Msg::ModelsWithdraw.text(lang),
    }
}

pub async fn models(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let t = |m: Msg| m.text(lang);
    let versions = versions(&st).await?;
    let active = versions.iter().find(|v| v.status == ModelStatus::Active);
    let active_eval = active.and_then(|v| v.record.as_ref().map(|r| (v.version.as_str(), &r.eval)));
    let can_change = data_dir(&st).is_some();
    let body = html! {
        @if versions.is_empty() {
            p #no-model { (t(Msg::ModelsNoModelVersionIsRegistered)) }
        } @else {
            (table_frame(html! {
            table #model-versions {
                caption { (t(Msg::ModelsRegisteredVersionsMetricsOnThe)) }
                thead { tr {
                    th scope="col" { (t(Msg::Version)) }
                    th scope="col" { (t(Msg::Status)) }
                    th scope="col" { (t(Msg::ModelsTrainedOn)) }
                    th scope="col" { (t(Msg::ModelsExamplesFromAgents)) }
                    th scope="col" { (t(Msg::ModelsAccuracy)) }
                    th scope="col" { "Macro-F1" }
                    th scope="col" { (t(Msg::ModelsMacroF1VsActive)) }
                    th scope="col" { (t(Msg::ModelsCoverageAt95)) }
                    th scope="col" { (t(Msg::ModelsReview)) }
                    th scope="col" { (t(Msg::ModelsActions)) }
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
                            td { (rec.map_or_else(|| "—".into(), |r| pct(lang, r.eval.accuracy))) }
                            td { (rec.map_or_else(|| "—".into(), |r| num(lang, r.eval.macro_f1))) }
                            td {
                                @if let Some(c) = &cmp {
                                    (format!("{:+.3}", c.macro_f1_delta))
                                    @if !c.same_eval_set { " " em { (t(Msg::ModelsDifferentEvaluationSet)) } }
                                    @if !c.regressions.is_empty() { br; span.error { (t(Msg::ModelsRegressions)) " : " (c.regressions.join(", ")) } }
                                } @else { "—" }
                            }
                            td { (rec.map_or_else(|| "—".into(), |r| pct(lang, r.eval.coverage_at_95_precision))) }
                            td {
                                @if let Some(r) = &v.review {
                                    (t(Msg::ModelsDue)) " " (display_date(lang, &r.due_on))
                                    @if r.overdue { " " strong.error { (t(Msg::ModelsOverdue)) } }
                                }
                                @if let Some(l) = &v.last_review {
                                    br; (t(Msg::ModelsLast)) " : " (facteur_learn::review::iso_date(l.reviewed_at)) " — " (decision_text(lang, l.decision))
                                }
                            }
                            td {
                                @if v.status != ModelStatus::Active && can_change {
                                    form.inline method="post" action={ "/modeles/" (v.version) "/promote" } {
                                        (csrf_input(&a))
                                        button.fr-btn type="submit" { (t(Msg::ModelsPromoteInMyName)) }
                                    }
                                }
                                @if v.status == ModelStatus::Active {
                                    form.review-form method="post" action={ "/modeles/" (v.version) "/review" } {
                                        (csrf_input(&a))
                                        label for={ "decision-" (v.version) } { (t(Msg::ModelsReviewDecision)) }
                                        " "
                                        select id={ "decision-" (v.version) } name="decision" {
                                            @for d in [ReviewDecision::Keep, ReviewDecision::Retrain, ReviewDecision::Withdraw] {
                                                option value=(serde_json::to_value(d).ok().and_then(|x| x.as_str().map(str::to_string)).unwrap_or_default()) { (decision_text(lang, d)) }
                                            }
                                        }
                                        " "
                                        label for={ "note-" (v.version) } { (t(Msg::ModelsNote)) }
                                        " "
                                        input id={ "note-" (v.version) } type="text" name="note" maxlength="500";
                                        " "
                                        button.fr-btn type="submit" { (t(Msg::ModelsRecordTheReview)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            }))
        }
        @if can_change {
            form #rollback-form method="post" action="/modeles/rollback" {
                (csrf_input(&a))
                button.fr-btn type="submit" { (t(Msg::ModelsRollBackToThePrevious)) }
            }
        } @else {
            p.note { (t(Msg::ModelsNoDataDirectoryConfiguredPromotion)) }
        }
        p.note { (t(Msg::ModelsYouWillBeRecordedAs)) " : " (a.user.display_name) "." }
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
    forget_review_status(&st).await;
    Ok(Redirect::to("/modeles?ok=model-promoted").into_response())
}

pub async fn model_rollback(State(st): State<AppState>, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let dir = need_data_dir(&st)?;
    registry::rollback(&st.store, dir, &registry_cfg(&st), Some(a.user.id))
        .await
        .map_err(learn_err)?;
    forget_review_status(&st).await;
    Ok(Redirect::to("/modeles?ok=model-rolled-back").into_response())
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
    forget_review_status(&st).await;
    Ok(Redirect::to("/modeles?ok=model-reviewed").into_response())
}
