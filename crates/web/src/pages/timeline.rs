//! A message's history on its page, oldest first: received, each triage (model
//! version, type, the answer version a draft came from), every agent action
//! (who corrected, rejected, escalated, revealed, validated, took back), then
//! the outbox (queued, sent, delivery confirmed, failed or undelivered), with
//! the exact text sent and its recipient, masked like any personal data until
//! the audited reveal.

use facteur_store::{ActionRecord, Message, OutboxItem, TriageResult, User};
use maud::{html, Markup};
use serde_json::Value;

use super::queue::type_label;
use crate::i18n::timestamp;
use crate::i18n::{escalation_reason_label, outbox_state_label, reject_reason_label, Lang, Msg};
use crate::AppState;

/// What the timeline is built from, all read for the page already.
pub struct History<'a> {
    pub message: &'a Message,
    pub triages: &'a [TriageResult],
    pub actions: &'a [ActionRecord],
    pub outbox: Option<&'a OutboxItem>,
    pub users: &'a [User],
    pub revealed: bool,
}

struct Event {
    at: i64,
    what: Markup,
}

pub fn view(st: &AppState, lang: Lang, h: &History<'_>) -> Markup {
    let t = |m: Msg| m.text(lang);
    let mut events = vec![Event {
        at: h.message.received_at,
        what: html! { (t(Msg::TimelineReceived)) },
    }];
    for tr in h.triages {
        events.push(Event {
            at: tr.created_at,
            what: html! {
                (t(Msg::TimelineTriaged))
                @if let Some(mv) = &tr.model_version { " (" (t(Msg::TimelineModel)) " " code { (mv) } ")" }
                " : "
                @match &tr.category {
                    Some(c) => { (type_label(st, lang, c)) }
                    None => { (t(Msg::StateAbstained)) }
                }
                @if let (Some(a), Some(v)) = (&tr.answer_id, tr.answer_version) {
                    " — " (t(Msg::TimelineDrafted)) " " code { (a) " v" (v) }
                }
            },
        });
    }
    for a in h.actions {
        events.push(Event {
            at: a.at,
            what: action(st, lang, a, h.users),
        });
    }
    if let Some(o) = h.outbox {
        outbox_events(lang, o, &mut events);
    }
    events.sort_by_key(|e| e.at);
    html! {
        section #timeline aria-labelledby="timeline-h" {
            h2 #timeline-h { (t(Msg::Timeline)) }
            ol.timeline {
                @for e in &events {
                    li { span.when { (timestamp(lang, e.at)) } " — " (e.what) }
                }
            }
            @if let Some(o) = h.outbox {
                details #sent-text {
                    summary { (t(Msg::TimelineSentText)) }
                    p {
                        (t(Msg::ReplyGoesTo)) " : "
                        @if h.revealed { strong { (o.to_address) } } @else { (masked_address(&o.to_address)) }
                    }
                    pre { (crate::pages::drafts::shown_draft(&o.body, h.message.from_name.as_deref(), h.revealed)) }
                }
            }
        }
    }
}

fn who(users: &[User], id: i64) -> String {
    users
        .iter()
        .find(|u| u.id == id)
        .map(|u| u.display_name.clone())
        .unwrap_or_else(|| format!("#{id}"))
}

fn action(st: &AppState, lang: Lang, a: &ActionRecord, users: &[User]) -> Markup {
    let t = |m: Msg| m.text(lang);
    let by = who(users, a.user_id);
    let after = |k: &str| a.after.get(k).and_then(Value::as_str).map(str::to_string);
    html! {
        @match a.kind.as_str() {
            "validate_send" => {
                (t(Msg::TimelineValidated)) " " (by)
                @if a.after.get("edited").and_then(Value::as_bool) == Some(true) { " (" (t(Msg::TimelineEdited)) ")" }
            }
            "undo_send" => { (t(Msg::TimelineUndone)) " " (by) }
            "correct_category" => {
                (t(Msg::TimelineCorrected)) " " (by)
                @if let Some(c) = after("category") { " : " (type_label(st, lang, &c)) }
            }
            "reject" => {
                (t(Msg::TimelineRejected)) " " (by)
                @if let Some(r) = after("reason").as_deref().and_then(facteur_core::RejectReason::parse) {
                    " (" (reject_reason_label(lang, r)) ")"
                }
            }
            "escalate" => {
                (t(Msg::TimelineEscalated)) " " (by)
                @if let Some(r) = after("reason").as_deref().and_then(facteur_core::EscalationReason::parse) {
                    " (" (escalation_reason_label(lang, r)) ")"
                }
            }
            "assign" => {
                (t(Msg::TimelineAssigned)) " "
                (a.after.get("assigned_to").and_then(Value::as_i64).map(|u| who(users, u)).unwrap_or_default())
                " — " (by)
            }
            "reveal_pii" => { (t(Msg::TimelineRevealed)) " " (by) }
            other => { (other) " — " (by) }
        }
    }
}

fn outbox_events(lang: Lang, o: &OutboxItem, events: &mut Vec<Event>) {
    let t = |m: Msg| m.text(lang);
    events.push(Event {
        at: o.created_at,
        what: html! {
            (t(Msg::TimelineQueued))
            @if let Some(next) = o.next_attempt_at.filter(|n| *n > o.created_at && o.attempts == 0) {
                " — " (t(Msg::TimelineSendAt)) " " (timestamp(lang, next))
            }
        },
    });
    if let Some(at) = o.sent_at {
        events.push(Event {
            at,
            what: html! { (t(Msg::TimelineSent)) },
        });
    }
    if let Some(at) = o.delivery_confirmed_at {
        events.push(Event {
            at,
            what: html! { (t(Msg::DeliveryConfirmed)) },
        });
    }
    if let Some(u) = &o.undelivered {
        events.push(Event {
            at: u.at,
            what: html! {
                strong { (t(Msg::OutboxUndelivered)) }
                @if let Some(s) = &u.status { " (" (s) ")" }
                @if let Some(d) = &u.diagnostic { " : " (d) }
            },
        });
    }
    if o.state == facteur_core::OutboxState::Failed {
        events.push(Event {
            at: o.next_attempt_at.unwrap_or(o.created_at),
            what: html! {
                strong { (outbox_state_label(lang, o.state)) }
                @if let Some(e) = &o.last_error { " : " (e) }
            },
        });
    }
}

/// An address as a reply recipient is shown before the reveal: its domain only.
fn masked_address(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((_, domain)) => format!("…@{domain}"),
        None => "…".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::masked_address;

    #[test]
    fn a_recipient_shows_only_its_domain_before_the_reveal() {
        assert_eq!(masked_address("jeanne.martin@example.org"), "…@example.org");
        assert_eq!(masked_address("local"), "…");
    }
}
