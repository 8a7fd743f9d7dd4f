//! The public transparency sheet. Public on purpose (the unions asked for it):
//! built from model records, counts and configuration only, never from users or
//! messages.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use facteur_learn::transparency::{TransparencySheet, Volumes};
use facteur_learn::{
    transparency, ComputeCost, ExclusionStore, SwitchScope, SwitchStore, TransparencyInput,
};
use maud::html;
use serde::Serialize;

use super::registry::*;
use crate::error::WebResult;
use crate::i18n::{display_date, Lang, Msg};
use crate::views::{page, table_frame};
use crate::{data, AppState};

/// The sheet plus the per-state counts, as published at /transparence.json.
#[derive(Debug, Serialize)]
pub struct PublicSheet {
    #[serde(flatten)]
    pub sheet: TransparencySheet,
    pub messages_by_state: BTreeMap<String, i64>,
    /// False when the running process has no CPU accounting: the cost is then
    /// unknown, not zero.
    pub compute_measured: bool,
    /// Kill switches in force now, by kind (no reason, no name): the public can
    /// see that a supervisor stopped suggestions, not why.
    pub suggestions_switched_off: SwitchCounts,
    /// Agent-feedback examples a supervisor excluded from training.
    pub training_exclusions: usize,
    /// The embedding model behind hybrid retrieval (with its licence); `None`: lexical only.
    pub embedding_model: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct SwitchCounts {
    pub whole_service: bool,
    pub mailboxes: usize,
    pub request_types: usize,
}

async fn public_sheet(st: &AppState) -> WebResult<PublicSheet> {
    let versions = versions(st).await?;
    let by_state: BTreeMap<String, i64> = data::messages_by_state(&st.store)
        .await?
        .into_iter()
        .filter_map(|(s, n)| s.map(|s| (s.as_str().to_string(), n)))
        .collect();
    let handled = by_state.values().sum();
    let compute = st.compute.as_ref().map(|m| m.snapshot());
    let sheet = transparency(TransparencyInput {
        now: st.store.now_ms(),
        service: &st.config.service_name,
        contact: &st.config.contact,
        versions: &versions,
        review_period_days: st.config.review_period_days,
        volumes: Volumes {
            messages_handled: handled,
            // Not derivable from state counts (a sent reply may have been written
            // by hand): left unknown rather than overstated.
            drafts_sent_from_suggestions: None,
        },
        compute: compute.clone().unwrap_or(ComputeCost {
            messages_measured: 0,
            cpu_seconds: 0.0,
            cpu_seconds_per_1000_messages: None,
        }),
    });
    let mut switched = SwitchCounts::default();
    for s in switch_store(st).switches().await.map_err(learn_err)? {
        match s.scope {
            SwitchScope::All => switched.whole_service = true,
            SwitchScope::Mailbox(_) => switched.mailboxes += 1,
            SwitchScope::RequestType(_) => switched.request_types += 1,
        }
    }
    let training_exclusions = exclusion_store(st)
        .excluded()
        .await
        .map_err(learn_err)?
        .len();
    Ok(PublicSheet {
        sheet,
        messages_by_state: by_state,
        compute_measured: compute.is_some_and(|c| c.cpu_seconds_per_1000_messages.is_some()),
        suggestions_switched_off: switched,
        training_exclusions,
        embedding_model: st.config.embedding_model.clone(),
    })
}

pub async fn transparence_json(State(st): State<AppState>) -> WebResult<Response> {
    Ok(Json(public_sheet(&st).await?).into_response())
}

/// Public: no session needed, rendered without the signed-in header so the page
/// is the same for everyone.
pub async fn transparence(State(st): State<AppState>, lang: Lang) -> WebResult<Response> {
    let p = public_sheet(&st).await?;
    let s = &p.sheet;
    let t = |m: Msg| m.text(lang);
    let oversight_lead = t(Msg::TranspNoReplyIsSentWithout);
    // The sheet's fixed texts are French (the official version); English
    // visitors get a translation of the same statements.
    let (purpose, data_used, oversight, open_source): (String, Vec<String>, String, String) =
        match lang {
            Lang::Fr => (
                s.purpose.clone(),
                s.data_used.clone(),
                s.human_oversight.clone(),
                s.open_source.clone(),
            ),
            Lang::En => (
                "Help agents answer users' repetitive written requests: the system suggests the \
                 request type and a draft based on a validated standard answer; it abstains when \
                 unsure."
                    .into(),
                vec![
                    "Messages received in the service's shared mailboxes, pseudonymised before \
                     any processing by the model (tax number, social security number, IBAN, \
                     e-mail, phone, address and names masked)."
                        .into(),
                    "Standard answers validated by the service and official service-public.fr \
                     pages."
                        .into(),
                    "Agents' corrections (corrected category, draft validated or rejected) to \
                     retrain the model."
                        .into(),
                ],
                "Nothing is sent without an agent: every reply is validated by a named agent. A \
                 supervisor evaluates and promotes each model version, can return to the \
                 previous one and switch suggestions off at any time."
                    .into(),
                "Free software components, run on the service's own servers, without GPU or \
                 external AI provider."
                    .into(),
            ),
        };
    let compute_text = match s.compute.cpu_seconds_per_1000_messages {
        Some(c) if p.compute_measured => format!(
            "{c:.1} {} ({} {})",
            t(Msg::TranspCpuSecondsPer1000),
            s.compute.messages_measured,
            t(Msg::TranspMessagesMeasured)
        ),
        _ => t(Msg::TranspNotMeasured).to_string(),
    };
    let body = html! {
        p #generated { (t(Msg::TranspSheetGeneratedOn)) " " (display_date(lang, &s.generated_on)) " — " (s.service) }
        section aria-labelledby="purpose-h" {
            h2 #purpose-h { (t(Msg::LegalPurpose)) }
            p { (purpose) }
        }
        section aria-labelledby="data-h" {
            h2 #data-h { (t(Msg::TranspDataUsed)) }
            ul { @for d in &data_used { li { (d) } } }
        }
        section #oversight aria-labelledby="oversight-h" {
            h2 #oversight-h { (t(Msg::TranspHumanOversight)) }
            p { strong { (oversight_lead) } }
            p { (oversight) }
            p { (open_source) }
        }
        section #model aria-labelledby="model-h" {
            h2 #model-h { (t(Msg::TranspModelInUse)) }
            @if let Some(m) = &s.active_model {
                dl.meta {
                    dt { (t(Msg::Version)) } dd { code { (m.version) } }
                    dt { (t(Msg::TranspTrainedOn)) } dd { (display_date(lang, &m.trained_on)) }
                    dt { (t(Msg::TranspPromotedOn)) } dd { (m.promoted_on.as_deref().map(|d| display_date(lang, d)).unwrap_or_else(|| "—".into())) }
                    dt { (t(Msg::TranspLastReview)) } dd { (m.last_review_on.as_deref().map(|d| display_date(lang, d)).unwrap_or_else(|| t(Msg::TranspNone).into())) }
                    dt { (t(Msg::TranspNextReview)) } dd {
                        (m.next_review_due.as_deref().map(|d| display_date(lang, d)).unwrap_or_else(|| "—".into()))
                        @if m.review_overdue { " " strong.error { (t(Msg::TranspOverdue)) } }
                    }
                    dt { (t(Msg::TranspTrainingExamples)) } dd { (m.training_examples.map(|n| n.to_string()).unwrap_or_else(|| "—".into())) }
                    dt { (t(Msg::TranspOfWhichAgentsCorrections)) } dd { (m.from_agent_feedback.map(|n| n.to_string()).unwrap_or_else(|| "—".into())) }
                    dt { (t(Msg::TranspAbstainThreshold)) } dd #model-threshold {
                        @if let Some(c) = &m.calibration {
                            (t(Msg::TranspThresholdCalibratedOn)) " (" (c.in_scope + c.out_of_scope)
                            ", " (t(Msg::TranspOfWhich)) " " (c.out_of_scope) " " (t(Msg::TranspOutOfScopeMails))
                            ")" (t(Msg::TranspThen)) (t(Msg::TranspCoverageThere)) " " (pct(lang, c.coverage))
                            ", " (t(Msg::TranspPrecisionThere)) " " (pct(lang, c.precision))
                        } @else {
                            (t(Msg::TranspThresholdOutOfFold))
                        }
                    }
                    dt { (t(Msg::TranspModelReads)) } dd #model-reads {
                        @if let Some(e) = &m.embedding_model {
                            (t(Msg::TranspWordsAndMeaning)) " (" (e) ")"
                        } @else {
                            (t(Msg::TranspWordsOnly))
                        }
                    }
                }
            } @else {
                p #no-model { (t(Msg::TranspNoModelIsRegisteredNo)) }
            }
            p { (t(Msg::TranspReviewPeriod)) " : " (s.review_period_days) " " (t(Msg::DaysWord)) }
            p #retrieval {
                @if let Some(m) = &p.embedding_model {
                    (t(Msg::TranspKnowledgeBaseSearchLexicalAnd)) " " (m)
                } @else {
                    (t(Msg::TranspKnowledgeBaseSearchLexicalOnly))
                }
            }
        }
        section #metrics aria-labelledby="metrics-h" {
            h2 #metrics-h { (t(Msg::TranspMetricsOnTheFixedEvaluation)) }
            @if let Some(m) = &s.metrics {
                (table_frame(html! {
                table {
                    thead { tr { th scope="col" { (t(Msg::TranspMetric)) } th scope="col" { (t(Msg::SupValue)) } } }
                    tbody {
                        tr { td { (t(Msg::TranspExamplesEvaluated)) } td { (m.evaluation_examples) } }
                        tr { td { (t(Msg::ModelsAccuracy)) } td { (pct(lang, m.accuracy)) } }
                        tr { td { "Macro-F1" } td { (num(lang, m.macro_f1)) } }
                        tr { td { (t(Msg::TranspCoverageAt95Precision)) } td { (pct(lang, m.coverage_at_95_precision)) } }
                        tr { td { (t(Msg::TranspCalibrationErrorEce)) } td { (num(lang, m.expected_calibration_error)) } }
                    }
                }
                }))
            } @else {
                p { (t(Msg::TranspNoMeasurementNoModelIn)) }
            }
        }
        section #volumes aria-labelledby="volumes-h" {
            h2 #volumes-h { (t(Msg::TranspVolumesHandled)) }
            p { (t(Msg::TranspMessagesReceived)) " : " (s.volumes.messages_handled) }
            (table_frame(html! {
            table {
                thead { tr { th scope="col" { (t(Msg::ColState)) } th scope="col" { (t(Msg::SupMessages)) } } }
                tbody { @for (state, n) in &p.messages_by_state {
                    tr { td data-state=(state) { (facteur_core::MessageState::parse(state).map(|s| crate::i18n::state_label(lang, s)).unwrap_or(state.as_str())) } td { (n) } }
                } }
            }
            }))
        }
        section #oversight-controls aria-labelledby="controls-h" {
            h2 #controls-h { (t(Msg::TranspSupervisorsControls)) }
            @let sw = &p.suggestions_switched_off;
            p #switches-in-force {
                (t(Msg::TranspSuggestionsSwitchedOff)) " : "
                @if sw.whole_service { (t(Msg::TranspForTheWholeService)) }
                @else { (sw.mailboxes) " " (t(Msg::TranspMailboxEs)) ", " (sw.request_types) " " (t(Msg::TranspRequestTypeS)) }
            }
            p #training-exclusions { (t(Msg::TranspExamplesExcludedFromTraining)) " : " (p.training_exclusions) }
        }
        section #retention aria-labelledby="retention-h" {
            h2 #retention-h { (t(Msg::LegalRetentionPeriods)) }
            (super::legal::retention_list(lang, &st.config.retention))
            p { a href="/donnees-personnelles" { (t(Msg::TranspPersonalDataAndYourRights)) } }
        }
        section #compute aria-labelledby="compute-h" {
            h2 #compute-h { (t(Msg::TranspMeasuredComputeCost)) }
            p { (compute_text) }
        }
        section #contact aria-labelledby="contact-h" {
            h2 #contact-h { (t(Msg::LegalContact)) }
            p { (s.contact) }
        }
        p { a href="/transparence.json" { (t(Msg::TranspThisDataAsJson)) } }
    };
    Ok(page(lang, Msg::Transparency.text(lang), None, body).into_response())
}
