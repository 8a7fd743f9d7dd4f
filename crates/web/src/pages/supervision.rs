//! The supervisors' drift dashboard, with the kill switches.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};

use crate::extract::Form;
use facteur_core::{ModelStatus, Role};
use facteur_learn::collect::collect_observations;
use facteur_learn::registry;
use facteur_learn::{
    drift_report, time_given_back, DriftThresholds, KillSwitch, Level, Observation, SwitchScope,
    SwitchStore, TimeConfig, WeekIndicators,
};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::registry::*;
use crate::auth::Authed;
use crate::chart::{svg_chart, ChartSeries};
use crate::error::{WebError, WebResult};
use crate::i18n::{decimal, display_date, percent, week_of, Lang, Msg};
use crate::pages::queue::type_label;
use crate::views::{csrf_input, page, table_frame};
use crate::AppState;

fn level_text(lang: Lang, l: Level) -> &'static str {
    match l {
        Level::Ok => Msg::SupNormal.text(lang),
        Level::Warn => Msg::SupWatch.text(lang),
        Level::Alert => Msg::SupAlert.text(lang),
    }
}

/// The name of an alert's indicator as `drift_report` spells it.
fn indicator_name(lang: Lang, key: &str) -> String {
    match key {
        "psi" => Msg::SupTypeMixDriftPsi.text(lang).into(),
        "oov_rate" => Msg::SupOutOfVocabularyWords.text(lang).into(),
        "abstain_rate" => Msg::SupAbstentionRate.text(lang).into(),
        "acceptance_rate" => Msg::SupDraftsAccepted.text(lang).into(),
        other => other.to_string(),
    }
}

/// (key, name, value of a week, threshold) for each charted indicator.
type Indicator = (&'static str, Msg, fn(&WeekIndicators) -> Option<f64>, f64);

fn indicators(th: &DriftThresholds) -> Vec<Indicator> {
    vec![
        ("psi", Msg::SupIndPsi, |w| Some(w.psi), th.psi_alert),
        (
            "abstain",
            Msg::SupIndAbstain,
            |w| Some(w.abstain_rate),
            th.abstain_alert,
        ),
        ("oov", Msg::SupIndOov, |w| w.oov_rate, th.oov_alert),
        (
            "acceptance",
            Msg::SupIndAcceptance,
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
    let t = |m: Msg| m.text(lang);
    html! {
        form.inline.kill-switch method="post" action="/supervision/switches" {
            (csrf_input(a))
            input type="hidden" name="scope" value=(scope);
            input type="hidden" name="value" value=(value);
            @if off {
                input type="hidden" name="action" value="off";
                label { span.visually-hidden { (t(Msg::SupReasonFor)) " " (label) } input type="text" name="reason" maxlength="200" placeholder=(t(Msg::SupReasonOptional)); }
                " "
                button.fr-btn type="submit" { (t(Msg::SupSwitchSuggestionsOff)) }
            } @else {
                input type="hidden" name="action" value="on";
                button.fr-btn type="submit" { (t(Msg::SupSwitchSuggestionsBackOn)) }
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
    let t = |m: Msg| m.text(lang);
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
    let mailboxes = st.store.list_mailboxes().await?;
    // The same, mailbox by mailbox: the latest week and the whole period.
    let per_mailbox: Vec<(String, String, f64, f64)> = mailboxes
        .iter()
        .filter_map(|m| {
            let own: Vec<_> = obs
                .iter()
                .filter(|o| o.mailbox_id == m.id)
                .cloned()
                .collect();
            let weeks = time_given_back(&own, &TimeConfig::default());
            let last = weeks.last()?;
            let total = weeks.iter().map(|w| w.hours_given_back).sum();
            Some((
                m.name.clone(),
                last.week_start.clone(),
                last.hours_given_back,
                total,
            ))
        })
        .collect();
    let (obs, other_model) = match active {
        Some(v) => active_model_observations(obs, &v.version),
        None => (obs, 0),
    };
    let report = drift_report(&obs, &training, &th);
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
            p.note #no-model { (t(Msg::SupNoActiveModelDriftIs)) }
        }
        @if other_model > 0 {
            p.note #other-model-messages {
                (other_model) " " (t(Msg::SupMessagesTriagedByAnEarlier))
            }
        }
        section #time-given-back aria-labelledby="time-h" {
            h2 #time-h { (t(Msg::SupTimeGivenBackToAgents)) }
            @if times.is_empty() {
                p { (t(Msg::SupNoReplySentFromA)) }
            } @else {
                @let labels: Vec<String> = times.iter().map(|w| display_date(lang, &w.week_start)).collect();
                @let series = [ChartSeries { name: t(Msg::SupHoursGivenBack).to_string(), values: times.iter().map(|w| Some(w.hours_given_back)).collect() }];
                figure.chart.chart-time { (PreEscaped(svg_chart(lang, &series, None, &labels, t(Msg::SupHoursGivenBackPerWeek)))) }
                (table_frame(html! {
                table {
                    thead { tr {
                        th scope="col" { (t(Msg::SupWeek)) }
                        th scope="col" { (t(Msg::SupRepliesFromADraft)) }
                        th scope="col" { (t(Msg::SupHoursGivenBack)) }
                    } }
                    tbody { @for w in &times { tr { th scope="row" { (week_of(lang, &w.week_start)) } td { (w.replies_from_drafts) } td { (decimal(lang, w.hours_given_back)) " h" } } } }
                }
                }))
                (table_frame(html! {
                table #time-per-mailbox {
                    caption { (t(Msg::SupTimePerMailbox)) }
                    thead { tr {
                        th scope="col" { (t(Msg::Mailbox)) }
                        th scope="col" { (t(Msg::SupLatestWeek)) }
                        th scope="col" { (t(Msg::SupHoursGivenBack)) }
                        th scope="col" { (t(Msg::SupOverThePeriod)) }
                    } }
                    tbody { @for (name, week, last, total) in &per_mailbox { tr {
                        th scope="row" { (name) }
                        td { (week_of(lang, week)) }
                        td { (decimal(lang, *last)) " h" }
                        td { (decimal(lang, *total)) " h" }
                    } } }
                }
                }))
            }
        }
        section #alerts aria-labelledby="alerts-h" {
            h2 #alerts-h { (t(Msg::SupAlerts)) }
            @if report.alerts.is_empty() {
                p { (t(Msg::SupNoAlertOverThePeriod)) }
            } @else {
                (table_frame(html! {
                table #alert-list {
                    caption { (report.alerts.len()) " " (t(Msg::SupAlertsMostRecentWeekFirst)) }
                    thead { tr {
                        th scope="col" { (t(Msg::SupLevel)) }
                        th scope="col" { (t(Msg::Mailbox)) }
                        th scope="col" { (t(Msg::SupWeek)) }
                        th scope="col" { (t(Msg::SupIndicator)) }
                        th scope="col" { (t(Msg::SupValue)) }
                        th scope="col" { (t(Msg::SupThreshold)) }
                    } }
                    tbody {
                        @for al in &alerts {
                            tr {
                                td { strong { (level_text(lang, al.level)) } }
                                td { (mb_name(al.mailbox_id)) }
                                td { (alert_week(lang, &report, al)) }
                                td { (indicator_name(lang, &al.indicator)) }
                                td { (decimal(lang, al.value)) }
                                td { (decimal(lang, al.threshold)) }
                            }
                        }
                    }
                }
                }))
            }
        }
        @for m in &mailboxes {
            @let weeks: Vec<&WeekIndicators> = report.weeks.iter().filter(|w| w.mailbox_id == m.id).collect();
            section.mailbox-drift aria-labelledby={ "drift-h-" (m.id) } {
                h2 id={ "drift-h-" (m.id) } {
                    (m.name)
                    @if let Some(w) = weeks.last() { " — " (week_of(lang, &w.week_start)) }
                }
                @if weeks.is_empty() {
                    p { (t(Msg::SupNoTriagedMessageOverThe)) }
                } @else {
                    @let latest = super::drift_words::verdict(lang, weeks[weeks.len() - 1], &th);
                    p.verdict data-action=(match latest.needs_action { Some(true) => "yes", Some(false) => "no", None => "unknown" }) { strong { (latest.headline(lang)) } }
                    ul.verdict-sentences {
                        @for (act, sentence) in &latest.sentences {
                            li.act[*act] { (sentence) }
                        }
                    }
                    details.technical {
                    summary { (t(Msg::SupTechnicalDetails)) }
                    @let labels: Vec<String> = weeks.iter().map(|w| display_date(lang, &w.week_start)).collect();
                    div.charts {
                        @for (key, name, get, threshold) in &inds {
                            @let title = format!("{} — {}", name.text(lang), m.name);
                            @let series = [ChartSeries { name: name.text(lang).to_string(), values: weeks.iter().map(|w| get(w)).collect() }];
                            figure class={ "chart chart-" (key) } {
                                (PreEscaped(svg_chart(lang, &series, Some(*threshold), &labels, &title)))
                            }
                        }
                    }
                    (table_frame(html! {
                    table.drift-table {
                        caption { (t(Msg::SupIndicatorsPerWeek)) " — " (m.name) }
                        thead { tr {
                            th scope="col" { (t(Msg::SupWeek)) }
                            th scope="col" { (t(Msg::SupMessages)) }
                            th scope="col" { "PSI" }
                            th scope="col" { (t(Msg::SupAbstention)) }
                            th scope="col" { (t(Msg::SupOutOfVocabulary)) }
                            th scope="col" { (t(Msg::SupAcceptance)) }
                            th scope="col" { (t(Msg::SupCorrections)) }
                        } }
                        tbody {
                            @for w in &weeks {
                                tr {
                                    th scope="row" { (week_of(lang, &w.week_start)) }
                                    td { (w.messages) }
                                    td { (decimal(lang, w.psi)) " (" (level_text(lang, w.psi_level)) ")" }
                                    td { (percent(lang, w.abstain_rate)) }
                                    td { (w.oov_rate.map(|r| percent(lang, r)).unwrap_or_else(|| "—".into())) }
                                    td { (w.acceptance_rate.map(|r| percent(lang, r)).unwrap_or_else(|| "—".into())) }
                                    td { (percent(lang, w.correction_rate)) }
                                }
                            }
                        }
                    }
                    }))
                    p.note { (t(Msg::SupAlertThresholds)) " : PSI " (decimal(lang, th.psi_alert)) ", " (t(Msg::SupAbstention2)) " " (percent(lang, th.abstain_alert)) ", " (t(Msg::SupOutOfVocabulary2)) " " (percent(lang, th.oov_alert)) ", " (t(Msg::SupAcceptanceBelow)) " " (percent(lang, th.acceptance_alert_below)) "." }
                    }
                }
            }
        }
        section #kill-switches aria-labelledby="switches-h" {
            h2 #switches-h { (t(Msg::SupSwitchSuggestionsOff)) }
            {
                p.note { (t(Msg::SupTakesEffectWithinSecondsOn)) }
                (table_frame(html! {
                table #switch-all {
                    caption { (t(Msg::SupWholeService)) }
                    thead { tr { th scope="col" { (t(Msg::SupScope)) } th scope="col" { (t(Msg::SupSuggestions)) } th scope="col" { (t(Msg::SupAction)) } } }
                    tbody {
                        @let off = is_off(&SwitchScope::All);
                        @let label = t(Msg::SupWholeService);
                        tr {
                            th scope="row" { (label) }
                            td { @if off { span.switch-off { (t(Msg::SupOff)) } } @else { (t(Msg::SupOn)) } }
                            td { (switch_button(&a, lang, "all", "", !off, label)) }
                        }
                    }
                }
                }))
                (table_frame(html! {
                table #switch-mailboxes {
                    caption { (t(Msg::SupPerMailbox)) }
                    thead { tr { th scope="col" { (t(Msg::Mailbox)) } th scope="col" { (t(Msg::SupSuggestions)) } th scope="col" { (t(Msg::SupAction)) } } }
                    tbody {
                        @for m in &mailboxes {
                            @let off = is_off(&SwitchScope::Mailbox(m.id));
                            tr {
                                th scope="row" { (m.name) }
                                td { @if off { span.switch-off { (t(Msg::SupOff)) } } @else { (t(Msg::SupOn)) } }
                                td { (switch_button(&a, lang, "mailbox", &m.id.to_string(), !off, &m.name)) }
                            }
                        }
                    }
                }
                }))
                (table_frame(html! {
                table #switch-types {
                    caption { (t(Msg::SupPerRequestType)) }
                    thead { tr { th scope="col" { (t(Msg::ColType)) } th scope="col" { (t(Msg::SupSuggestions)) } th scope="col" { (t(Msg::SupAction)) } } }
                    tbody {
                        @for rt in &st.taxonomy.request_types {
                            @let off = is_off(&SwitchScope::RequestType(rt.id.clone()));
                            @let label = type_label(&st, lang, &rt.id);
                            tr {
                                th scope="row" { (label) }
                                td { @if off { span.switch-off { (t(Msg::SupOff)) } } @else { (t(Msg::SupOn)) } }
                                td { (switch_button(&a, lang, "request_type", &rt.id, !off, &label)) }
                            }
                        }
                    }
                }
                }))
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
            let id: i64 = f
                .value
                .trim()
                .parse()
                .map_err(|_| WebError::bad(Msg::MailboxIdNotNumber))?;
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
        _ => return Err(WebError::bad(Msg::UnknownSwitchScope)),
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
        _ => return Err(WebError::bad(Msg::SwitchActionOffOn)),
    }
    // Every draft this process hands out from now on sees the change.
    st.suggestions.forget().await;
    let ok = if f.action == "off" {
        "switch-off"
    } else {
        "switch-on"
    };
    Ok(Redirect::to(&format!("/supervision?ok={ok}#kill-switches")).into_response())
}

/// The week of an alert as a date, from the report's week rows.
fn alert_week(
    lang: Lang,
    report: &facteur_learn::DriftReport,
    al: &facteur_learn::DriftAlert,
) -> String {
    report
        .weeks
        .iter()
        .find(|w| w.week == al.week && w.mailbox_id == al.mailbox_id)
        .map(|w| week_of(lang, &w.week_start))
        .unwrap_or_else(|| al.week.clone())
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
        assert!(inds.iter().any(|i| i.0 == "psi" && i.3 == th.psi_alert));
    }

    #[test]
    fn html_of_this_module_is_not_hand_escaped() {
        // The chart is the only pre-escaped markup; its text is escaped by
        // facteur-learn, so a hostile mailbox name stays inert.
        let svg = svg_chart(
            Lang::Fr,
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
