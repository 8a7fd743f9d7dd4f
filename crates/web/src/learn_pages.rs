//! The pages of the learning loop: the public transparency sheet, the
//! supervisors' drift dashboard with kill switches, and the model registry
//! (promote, roll back, record a review). The figures come from `facteur-learn`;
//! this module only reads them, renders them and checks who may act.
//!
//! The sheet is public on purpose (the unions asked for it): it is built from
//! model records, counts and configuration only, never from users or messages.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;

use crate::extract::{Form, Path};
use facteur_core::{ModelStatus, Role};
use facteur_learn::collect::collect_observations;
use facteur_learn::registry::{self, RegistryConfig};
use facteur_learn::transparency::{TransparencySheet, Volumes};
use facteur_learn::{
    drift_report, review_status, svg_chart, time_given_back, transparency, ChartSeries,
    ComputeCost, DriftThresholds, ExclusionStore, KillSwitch, LearnError, Level, ModelVersionView,
    Observation, ReviewDecision, StoreExclusions, StoreSwitches, SwitchScope, SwitchStore,
    TimeConfig, TransparencyInput, WeekIndicators,
};
use maud::{html, Markup, PreEscaped};
use serde::{Deserialize, Serialize};

use crate::auth::Authed;
use crate::error::{WebError, WebResult};
use crate::i18n::{Lang, Msg};
use crate::pages::type_label;
use crate::views::{csrf_input, page};
use crate::{data, AppState};

/// How long the review banner's status is reused (store time).
const BANNER_TTL_MS: i64 = 60_000;
/// Weeks of history the drift dashboard shows.
const DASHBOARD_WEEKS: i64 = 12;
const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;
/// A switch reason is a short note, not a report: capped so the audit row stays small.
const MAX_REASON_CHARS: usize = 200;

/// Strings of these pages only: kept here rather than in the shared catalogue
/// because they are many and used nowhere else.
fn tr(lang: Lang, fr: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

fn registry_cfg(st: &AppState) -> RegistryConfig {
    RegistryConfig {
        review_period_days: st.config.review_period_days,
        ..RegistryConfig::default()
    }
}

fn data_dir(st: &AppState) -> Option<&FsPath> {
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

fn exclusion_store(st: &AppState) -> StoreExclusions {
    match data_dir(st) {
        Some(d) => StoreExclusions::with_data_dir(st.store.clone(), d),
        None => StoreExclusions::new(st.store.clone()),
    }
}

fn need_data_dir(st: &AppState) -> WebResult<&FsPath> {
    data_dir(st).ok_or_else(|| {
        WebError::bad(
            "Aucun répertoire de données n'est configuré pour le registre des modèles.",
            "No data directory is configured for the model registry.",
        )
    })
}

fn learn_err(e: LearnError) -> WebError {
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
async fn versions(st: &AppState) -> WebResult<Vec<ModelVersionView>> {
    let dir = data_dir(st).map_or_else(PathBuf::new, FsPath::to_path_buf);
    registry::list(&st.store, &dir, &registry_cfg(st))
        .await
        .map_err(learn_err)
}

/// `2025-09-13` → `13/09/2025` in French; unchanged in English.
pub fn display_date(lang: Lang, iso: &str) -> String {
    let parts: Vec<&str> = iso.split('-').collect();
    match (lang, parts.as_slice()) {
        (Lang::Fr, [y, m, d]) => format!("{d}/{m}/{y}"),
        _ => iso.to_string(),
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

// ------------------------------------------------------------ transparency

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

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1} %", v * 100.0)
    } else {
        "—".into()
    }
}

fn opt_pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), pct)
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "—".into()
    }
}

/// Public: no session needed, rendered without the signed-in header so the page
/// is the same for everyone.
pub async fn transparence(State(st): State<AppState>, lang: Lang) -> WebResult<Response> {
    let p = public_sheet(&st).await?;
    let s = &p.sheet;
    let t = |fr, en| tr(lang, fr, en);
    let oversight_lead = t(
        "Aucune réponse n'est envoyée sans la validation d'un agent nommé.",
        "No reply is sent without being validated by a named agent.",
    );
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
            t(
                "secondes CPU pour 1 000 messages",
                "CPU-seconds per 1,000 messages"
            ),
            s.compute.messages_measured,
            t("messages mesurés", "messages measured")
        ),
        _ => t("non mesuré", "not measured").to_string(),
    };
    let body = html! {
        p #generated { (t("Fiche établie le", "Sheet generated on")) " " (display_date(lang, &s.generated_on)) " — " (s.service) }
        section aria-labelledby="purpose-h" {
            h2 #purpose-h { (t("Finalité", "Purpose")) }
            p { (purpose) }
        }
        section aria-labelledby="data-h" {
            h2 #data-h { (t("Données utilisées", "Data used")) }
            ul { @for d in &data_used { li { (d) } } }
        }
        section #oversight aria-labelledby="oversight-h" {
            h2 #oversight-h { (t("Contrôle humain", "Human oversight")) }
            p { strong { (oversight_lead) } }
            p { (oversight) }
            p { (open_source) }
        }
        section #model aria-labelledby="model-h" {
            h2 #model-h { (t("Modèle en service", "Model in use")) }
            @if let Some(m) = &s.active_model {
                dl.meta {
                    dt { (t("Version", "Version")) } dd { code { (m.version) } }
                    dt { (t("Entraîné le", "Trained on")) } dd { (display_date(lang, &m.trained_on)) }
                    dt { (t("Promu le", "Promoted on")) } dd { (m.promoted_on.as_deref().map(|d| display_date(lang, d)).unwrap_or_else(|| "—".into())) }
                    dt { (t("Dernière revue", "Last review")) } dd { (m.last_review_on.as_deref().map(|d| display_date(lang, d)).unwrap_or_else(|| t("aucune", "none").into())) }
                    dt { (t("Prochaine revue", "Next review")) } dd {
                        (m.next_review_due.as_deref().map(|d| display_date(lang, d)).unwrap_or_else(|| "—".into()))
                        @if m.review_overdue { " " strong.error { (t("(en retard)", "(overdue)")) } }
                    }
                    dt { (t("Exemples d'entraînement", "Training examples")) } dd { (m.training_examples.map(|n| n.to_string()).unwrap_or_else(|| "—".into())) }
                    dt { (t("dont corrections d'agents", "of which agents' corrections")) } dd { (m.from_agent_feedback.map(|n| n.to_string()).unwrap_or_else(|| "—".into())) }
                }
            } @else {
                p #no-model { (t("Aucun modèle n'est enregistré : aucune suggestion automatique n'est faite.", "No model is registered: no automatic suggestion is made.")) }
            }
            p { (t("Période de revue", "Review period")) " : " (s.review_period_days) " " (t("jours", "days")) }
            p #retrieval {
                @if let Some(m) = &p.embedding_model {
                    (t("Recherche dans la base de connaissances : lexicale et sémantique, modèle d'embeddings", "Knowledge-base search: lexical and semantic, embedding model")) " " (m)
                } @else {
                    (t("Recherche dans la base de connaissances : lexicale seule (aucun modèle d'embeddings)", "Knowledge-base search: lexical only (no embedding model)"))
                }
            }
        }
        section #metrics aria-labelledby="metrics-h" {
            h2 #metrics-h { (t("Performances sur le jeu d'évaluation fixe", "Metrics on the fixed evaluation set")) }
            @if let Some(m) = &s.metrics {
                table {
                    thead { tr { th scope="col" { (t("Indicateur", "Metric")) } th scope="col" { (t("Valeur", "Value")) } } }
                    tbody {
                        tr { td { (t("Exemples évalués", "Examples evaluated")) } td { (m.evaluation_examples) } }
                        tr { td { (t("Exactitude", "Accuracy")) } td { (pct(m.accuracy)) } }
                        tr { td { "Macro-F1" } td { (num(m.macro_f1)) } }
                        tr { td { (t("Couverture à 95 % de précision", "Coverage at 95 % precision")) } td { (pct(m.coverage_at_95_precision)) } }
                        tr { td { (t("Erreur de calibration (ECE)", "Calibration error (ECE)")) } td { (num(m.expected_calibration_error)) } }
                    }
                }
            } @else {
                p { (t("Pas de mesure : aucun modèle en service.", "No measurement: no model in use.")) }
            }
        }
        section #volumes aria-labelledby="volumes-h" {
            h2 #volumes-h { (t("Volumes traités", "Volumes handled")) }
            p { (t("Messages reçus", "Messages received")) " : " (s.volumes.messages_handled) }
            table {
                thead { tr { th scope="col" { (t("État", "State")) } th scope="col" { (t("Messages", "Messages")) } } }
                tbody { @for (state, n) in &p.messages_by_state {
                    tr { td data-state=(state) { (facteur_core::MessageState::parse(state).map(|s| crate::pages::state_label(lang, s)).unwrap_or(state.as_str())) } td { (n) } }
                } }
            }
        }
        section #oversight-controls aria-labelledby="controls-h" {
            h2 #controls-h { (t("Contrôles des superviseurs", "Supervisors' controls")) }
            @let sw = &p.suggestions_switched_off;
            p #switches-in-force {
                (t("Suggestions coupées", "Suggestions switched off")) " : "
                @if sw.whole_service { (t("pour tout le service", "for the whole service")) }
                @else { (sw.mailboxes) " " (t("boîte(s)", "mailbox(es)")) ", " (sw.request_types) " " (t("type(s) de demande", "request type(s)")) }
            }
            p #training-exclusions { (t("Exemples exclus de l'apprentissage", "Examples excluded from training")) " : " (p.training_exclusions) }
        }
        section #compute aria-labelledby="compute-h" {
            h2 #compute-h { (t("Coût de calcul mesuré", "Measured compute cost")) }
            p { (compute_text) }
        }
        section #contact aria-labelledby="contact-h" {
            h2 #contact-h { (t("Contact", "Contact")) }
            p { (s.contact) }
        }
        p { a href="/transparence.json" { (t("Ces données au format JSON", "This data as JSON")) } }
    };
    Ok(page(lang, Msg::Transparency.text(lang), None, body).into_response())
}

// ------------------------------------------------------------ supervision

fn level_text(lang: Lang, l: Level) -> &'static str {
    match l {
        Level::Ok => tr(lang, "normal", "normal"),
        Level::Warn => tr(lang, "à surveiller", "watch"),
        Level::Alert => tr(lang, "alerte", "alert"),
    }
}

/// The name of an alert's indicator as `drift_report` spells it.
fn indicator_name(lang: Lang, key: &str) -> String {
    match key {
        "psi" => tr(lang, "dérive des types (PSI)", "type mix drift (PSI)").into(),
        "oov_rate" => tr(lang, "mots hors vocabulaire", "out-of-vocabulary words").into(),
        "abstain_rate" => tr(lang, "taux d'abstention", "abstention rate").into(),
        "acceptance_rate" => tr(lang, "brouillons acceptés", "drafts accepted").into(),
        other => other.to_string(),
    }
}

/// (key, French, English, value of a week, threshold) for each charted indicator.
type Indicator = (
    &'static str,
    &'static str,
    &'static str,
    fn(&WeekIndicators) -> Option<f64>,
    f64,
);

fn indicators(th: &DriftThresholds) -> Vec<Indicator> {
    vec![
        (
            "psi",
            "Dérive de la répartition des types (PSI)",
            "Request-type mix drift (PSI)",
            |w| Some(w.psi),
            th.psi_alert,
        ),
        (
            "abstain",
            "Taux d'abstention",
            "Abstention rate",
            |w| Some(w.abstain_rate),
            th.abstain_alert,
        ),
        (
            "oov",
            "Mots hors vocabulaire",
            "Out-of-vocabulary words",
            |w| w.oov_rate,
            th.oov_alert,
        ),
        (
            "acceptance",
            "Brouillons acceptés",
            "Drafts accepted",
            |w| w.acceptance_rate,
            th.acceptance_alert_below,
        ),
    ]
}

fn switch_button(
    a: &Authed,
    lang: Lang,
    scope: &str,
    value: &str,
    off: bool,
    label: &str,
) -> Markup {
    let t = |fr, en| tr(lang, fr, en);
    html! {
        form.inline.kill-switch method="post" action="/supervision/switches" {
            (csrf_input(a))
            input type="hidden" name="scope" value=(scope);
            input type="hidden" name="value" value=(value);
            @if off {
                input type="hidden" name="action" value="off";
                label { span.visually-hidden { (t("Motif pour", "Reason for")) " " (label) } input type="text" name="reason" maxlength="200" placeholder=(t("motif (facultatif)", "reason (optional)")); }
                " "
                button type="submit" { (t("Couper les suggestions", "Switch suggestions off")) }
            } @else {
                input type="hidden" name="action" value="on";
                button type="submit" { (t("Réactiver les suggestions", "Switch suggestions back on")) }
            }
        }
    }
}

/// The observations of messages the active model triaged, and how many others
/// were left out.
///
/// Drift compares a week's predicted mix with the ACTIVE model's training mix, so
/// a week predicted by an earlier version (or before any model) would report that
/// version's habits as drift of the active one — or hide a real one. Grouping by
/// version and comparing each with its own training mix was the alternative: its
/// alerts would be about versions no longer in use, which the supervisor cannot
/// act on (switches and reviews apply to the active model), so only the active
/// model's predictions count.
fn active_model_observations(obs: Vec<Observation>, active: &str) -> (Vec<Observation>, usize) {
    let (kept, left): (Vec<_>, Vec<_>) = obs
        .into_iter()
        .partition(|o| o.model_version.as_deref() == Some(active));
    (kept, left.len())
}

pub async fn supervision(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let t = |fr, en| tr(lang, fr, en);
    let versions = versions(&st).await?;
    let active = versions.iter().find(|v| v.status == ModelStatus::Active);
    let training = active
        .and_then(|v| v.record.as_ref())
        .map(|r| r.training_distribution.clone())
        .unwrap_or_default();
    let vocab = match (data_dir(&st), active) {
        (Some(d), Some(v)) => registry::load_vocabulary(d, &v.version).ok(),
        _ => None,
    };
    let since = st.store.now_ms() - DASHBOARD_WEEKS * WEEK_MS;
    let obs = collect_observations(&st.store, vocab.as_ref(), Some(since))
        .await
        .map_err(learn_err)?;
    let th = DriftThresholds::default();
    // Time given back counts every draft, whichever model wrote it; drift is the
    // active model's own.
    let times = time_given_back(&obs, &TimeConfig::default());
    let (obs, other_model) = match active {
        Some(v) => active_model_observations(obs, &v.version),
        None => (obs, 0),
    };
    let report = drift_report(&obs, &training, &th);
    let mailboxes = st.store.list_mailboxes().await?;
    let mb_name = |id: i64| {
        mailboxes
            .iter()
            .find(|m| m.id == id)
            .map_or_else(|| format!("#{id}"), |m| m.name.clone())
    };
    let switches = switch_store(&st).switches().await.map_err(learn_err)?;
    let is_off = |scope: &SwitchScope| switches.iter().any(|s| &s.scope == scope);
    let inds = indicators(&th);
    let mut alerts: Vec<_> = report.alerts.iter().collect();
    alerts.sort_by(|a, b| b.week.cmp(&a.week).then(a.mailbox_id.cmp(&b.mailbox_id)));

    let body = html! {
        @if active.is_none() {
            p.note #no-model { (t("Aucun modèle actif : la dérive est mesurée sans répartition de référence.", "No active model: drift is measured without a reference distribution.")) }
        }
        @if other_model > 0 {
            p.note #other-model-messages {
                (other_model) " " (t("messages triés par une version antérieure du modèle (ou sans modèle) ne sont pas comparés à la répartition d'entraînement du modèle actif : la dérive ne porte que sur ses propres prédictions.",
                    "messages triaged by an earlier model version (or without a model) are not compared with the active model's training mix: drift covers its own predictions only."))
            }
        }
        section #alerts aria-labelledby="alerts-h" {
            h2 #alerts-h { (t("Alertes", "Alerts")) }
            @if report.alerts.is_empty() {
                p { (t("Aucune alerte sur la période.", "No alert over the period.")) }
            } @else {
                table #alert-list {
                    caption { (report.alerts.len()) " " (t("alertes, semaine la plus récente d'abord", "alerts, most recent week first")) }
                    thead { tr {
                        th scope="col" { (t("Niveau", "Level")) }
                        th scope="col" { (t("Boîte", "Mailbox")) }
                        th scope="col" { (t("Semaine", "Week")) }
                        th scope="col" { (t("Indicateur", "Indicator")) }
                        th scope="col" { (t("Valeur", "Value")) }
                        th scope="col" { (t("Seuil", "Threshold")) }
                    } }
                    tbody {
                        @for al in &alerts {
                            tr {
                                td { strong { (level_text(lang, al.level)) } }
                                td { (mb_name(al.mailbox_id)) }
                                td { (al.week) }
                                td { (indicator_name(lang, &al.indicator)) }
                                td { (num(al.value)) }
                                td { (num(al.threshold)) }
                            }
                        }
                    }
                }
            }
        }
        @for m in &mailboxes {
            @let weeks: Vec<&WeekIndicators> = report.weeks.iter().filter(|w| w.mailbox_id == m.id).collect();
            section.mailbox-drift aria-labelledby={ "drift-h-" (m.id) } {
                h2 id={ "drift-h-" (m.id) } { (t("Dérive", "Drift")) " — " (m.name) }
                @if weeks.is_empty() {
                    p { (t("Aucun message trié sur la période.", "No triaged message over the period.")) }
                } @else {
                    @let labels: Vec<String> = weeks.iter().map(|w| w.week.clone()).collect();
                    div.charts {
                        @for (key, fr, en, get, threshold) in &inds {
                            @let title = format!("{} — {}", tr(lang, fr, en), m.name);
                            @let series = [ChartSeries { name: tr(lang, fr, en).to_string(), values: weeks.iter().map(|w| get(w)).collect() }];
                            figure class={ "chart chart-" (key) } {
                                (PreEscaped(svg_chart(&series, Some(*threshold), &labels, &title)))
                            }
                        }
                    }
                    table.drift-table {
                        caption { (t("Indicateurs par semaine", "Indicators per week")) " — " (m.name) }
                        thead { tr {
                            th scope="col" { (t("Semaine", "Week")) }
                            th scope="col" { (t("Messages", "Messages")) }
                            th scope="col" { "PSI" }
                            th scope="col" { (t("Abstention", "Abstention")) }
                            th scope="col" { (t("Hors vocabulaire", "Out of vocabulary")) }
                            th scope="col" { (t("Acceptation", "Acceptance")) }
                            th scope="col" { (t("Corrections", "Corrections")) }
                        } }
                        tbody {
                            @for w in &weeks {
                                tr {
                                    th scope="row" { (w.week) }
                                    td { (w.messages) }
                                    td { (num(w.psi)) " (" (level_text(lang, w.psi_level)) ")" }
                                    td { (pct(w.abstain_rate)) }
                                    td { (opt_pct(w.oov_rate)) }
                                    td { (opt_pct(w.acceptance_rate)) }
                                    td { (pct(w.correction_rate)) }
                                }
                            }
                        }
                    }
                    p.note { (t("Seuils d'alerte", "Alert thresholds")) " : PSI " (num(th.psi_alert)) ", " (t("abstention", "abstention")) " " (pct(th.abstain_alert)) ", " (t("hors vocabulaire", "out of vocabulary")) " " (pct(th.oov_alert)) ", " (t("acceptation sous", "acceptance below")) " " (pct(th.acceptance_alert_below)) "." }
                }
            }
        }
        section #time-given-back aria-labelledby="time-h" {
            h2 #time-h { (t("Temps rendu aux agents", "Time given back to agents")) }
            @if times.is_empty() {
                p { (t("Aucune réponse envoyée à partir d'un brouillon sur la période.", "No reply sent from a draft over the period.")) }
            } @else {
                @let labels: Vec<String> = times.iter().map(|w| w.week.clone()).collect();
                @let series = [ChartSeries { name: t("Heures rendues", "Hours given back").to_string(), values: times.iter().map(|w| Some(w.hours_given_back)).collect() }];
                figure.chart.chart-time { (PreEscaped(svg_chart(&series, None, &labels, t("Heures rendues par semaine", "Hours given back per week")))) }
                table {
                    thead { tr {
                        th scope="col" { (t("Semaine", "Week")) }
                        th scope="col" { (t("Réponses issues d'un brouillon", "Replies from a draft")) }
                        th scope="col" { (t("Heures rendues", "Hours given back")) }
                    } }
                    tbody { @for w in &times { tr { th scope="row" { (w.week) } td { (w.replies_from_drafts) } td { (format!("{:.1} h", w.hours_given_back)) } } } }
                }
            }
        }
        section #kill-switches aria-labelledby="switches-h" {
            h2 #switches-h { (t("Couper les suggestions", "Switch suggestions off")) }
            {
                p.note { (t("Effet sous quelques secondes sur tous les serveurs du service, pour les messages triés ensuite ; chaque action est journalisée.", "Takes effect within seconds on every server of the service, for the next triaged messages; every action is logged.")) }
                table #switch-all {
                    caption { (t("Tout le service", "Whole service")) }
                    thead { tr { th scope="col" { (t("Portée", "Scope")) } th scope="col" { (t("Suggestions", "Suggestions")) } th scope="col" { (t("Action", "Action")) } } }
                    tbody {
                        @let off = is_off(&SwitchScope::All);
                        @let label = t("Tout le service", "Whole service");
                        tr {
                            th scope="row" { (label) }
                            td { @if off { span.switch-off { (t("coupées", "off")) } } @else { (t("actives", "on")) } }
                            td { (switch_button(&a, lang, "all", "", !off, label)) }
                        }
                    }
                }
                table #switch-mailboxes {
                    caption { (t("Par boîte", "Per mailbox")) }
                    thead { tr { th scope="col" { (t("Boîte", "Mailbox")) } th scope="col" { (t("Suggestions", "Suggestions")) } th scope="col" { (t("Action", "Action")) } } }
                    tbody {
                        @for m in &mailboxes {
                            @let off = is_off(&SwitchScope::Mailbox(m.id));
                            tr {
                                th scope="row" { (m.name) }
                                td { @if off { span.switch-off { (t("coupées", "off")) } } @else { (t("actives", "on")) } }
                                td { (switch_button(&a, lang, "mailbox", &m.id.to_string(), !off, &m.name)) }
                            }
                        }
                    }
                }
                table #switch-types {
                    caption { (t("Par type de demande", "Per request type")) }
                    thead { tr { th scope="col" { (t("Type de demande", "Request type")) } th scope="col" { (t("Suggestions", "Suggestions")) } th scope="col" { (t("Action", "Action")) } } }
                    tbody {
                        @for rt in &st.taxonomy.request_types {
                            @let off = is_off(&SwitchScope::RequestType(rt.id.clone()));
                            @let label = type_label(&st, lang, &rt.id);
                            tr {
                                th scope="row" { (label) }
                                td { @if off { span.switch-off { (t("coupées", "off")) } } @else { (t("actives", "on")) } }
                                td { (switch_button(&a, lang, "request_type", &rt.id, !off, &label)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(lang, Msg::Supervision.text(lang), Some(&a), body).into_response())
}

#[derive(Deserialize)]
pub struct SwitchForm {
    pub action: String,
    pub scope: String,
    pub value: String,
    #[serde(default)]
    pub reason: String,
}

pub async fn kill_switch(
    State(st): State<AppState>,
    a: Authed,
    Form(f): Form<SwitchForm>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let scope = match f.scope.as_str() {
        "all" => SwitchScope::All,
        "mailbox" => {
            let id: i64 = f.value.trim().parse().map_err(|_| {
                WebError::bad(
                    "L'identifiant de boîte doit être un nombre.",
                    "The mailbox id must be a number.",
                )
            })?;
            if !st.store.list_mailboxes().await?.iter().any(|m| m.id == id) {
                return Err(WebError::NotFound);
            }
            SwitchScope::Mailbox(id)
        }
        "request_type" => {
            let id = f.value.trim();
            if !st.taxonomy.request_types.iter().any(|r| r.id == id) {
                return Err(WebError::NotFound);
            }
            SwitchScope::RequestType(id.to_string())
        }
        _ => {
            return Err(WebError::bad(
                "Portée de coupure inconnue.",
                "Unknown switch scope.",
            ))
        }
    };
    let reason: String = f.reason.trim().chars().take(MAX_REASON_CHARS).collect();
    // The store audits each change in its own transaction.
    let switches = switch_store(&st);
    match f.action.as_str() {
        "off" => {
            switches
                .switch_off(KillSwitch {
                    scope,
                    set_by: a.user.id,
                    set_at: st.store.now_ms(),
                    reason: reason.clone(),
                })
                .await
                .map_err(learn_err)?;
        }
        "on" => {
            switches
                .switch_on(&scope, a.user.id)
                .await
                .map_err(learn_err)?;
        }
        _ => {
            return Err(WebError::bad(
                "L'action doit être « off » ou « on ».",
                "The action must be 'off' or 'on'.",
            ))
        }
    }
    Ok(Redirect::to("/supervision#kill-switches").into_response())
}

// ------------------------------------------------------------ models

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_observations_of_the_active_model_are_kept() {
        let o = |at, version: Option<&str>| Observation {
            mailbox_id: 1,
            at,
            predicted: Some("rib".into()),
            confidence: Some(0.9),
            abstained: false,
            oov_tokens: 0,
            tokens: 0,
            draft_shown: false,
            sent_edit_distance: None,
            corrected: false,
            opened_at: None,
            validated_at: None,
            model_version: version.map(str::to_string),
        };
        let obs = vec![
            o(10, Some("m2")),
            o(11, Some("m1")),
            o(12, None),
            o(13, Some("m2")),
        ];
        let (kept, left) = active_model_observations(obs, "m2");
        assert_eq!(kept, vec![o(10, Some("m2")), o(13, Some("m2"))]);
        assert_eq!(left, 2);
    }

    #[test]
    fn dates_read_the_french_way_in_french_only() {
        assert_eq!(display_date(Lang::Fr, "2025-09-13"), "13/09/2025");
        assert_eq!(display_date(Lang::En, "2025-09-13"), "2025-09-13");
        assert_eq!(display_date(Lang::Fr, "garbage"), "garbage");
    }

    #[test]
    fn alert_indicators_are_named_in_both_languages() {
        assert_eq!(
            indicator_name(Lang::Fr, "abstain_rate"),
            "taux d'abstention"
        );
        assert_eq!(
            indicator_name(Lang::En, "oov_rate"),
            "out-of-vocabulary words"
        );
        assert_eq!(indicator_name(Lang::En, "new_one"), "new_one");
    }

    #[test]
    fn every_indicator_has_a_threshold_from_the_config() {
        let th = DriftThresholds::default();
        let inds = indicators(&th);
        assert_eq!(inds.len(), 4);
        assert!(inds.iter().any(|i| i.0 == "psi" && i.4 == th.psi_alert));
    }

    #[test]
    fn html_of_this_module_is_not_hand_escaped() {
        // The chart is the only pre-escaped markup; its text is escaped by
        // facteur-learn, so a hostile mailbox name stays inert.
        let svg = svg_chart(
            &[ChartSeries {
                name: "<b>".into(),
                values: vec![Some(0.1)],
            }],
            Some(0.2),
            &["2025-W01".into()],
            "<script>x</script>",
        );
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;b&gt;") || svg.contains("&lt;script&gt;"));
    }
}
