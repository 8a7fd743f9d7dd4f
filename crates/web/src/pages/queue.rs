//! The mailbox list and each mailbox's queue (tabs, filters, sort, pages).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use facteur_core::MessageState;
use facteur_store::{QueueQuery, QueueSort};
use maud::html;
use serde::Deserialize;

use super::tabs::{queue_page, tab_states, TABS};
use crate::auth::Authed;
use crate::error::{WebError, WebResult};
use crate::extract::{Path, Query};
use crate::i18n::{Lang, Msg};
use crate::views::{age, confidence, page, table_frame};
use crate::AppState;
use facteur_app::shown_subject;

pub async fn home(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    let t = |m: Msg| m.text(lang);
    let all = st.store.list_mailboxes().await?;
    let mine: Vec<_> = all.into_iter().filter(|m| a.can_access(m.id)).collect();
    if mine.len() == 1 {
        return Ok(Redirect::to(&format!("/mailboxes/{}/queue", mine[0].id)).into_response());
    }
    Ok(page(
        lang,
        t(Msg::Mailboxes),
        Some(&a),
        html! {
            ul #mailboxes {
                @for m in &mine {
                    li { a href={ "/mailboxes/" (m.id) "/queue" } { (m.name) } }
                }
            }
        },
    )
    .into_response())
}

#[derive(Deserialize, Default)]
pub struct QueueParams {
    pub tab: Option<String>,
    pub category: Option<String>,
    pub sort: Option<String>,
    pub after: Option<String>,
    /// "1": only the messages assigned to the signed-in user ("Mes messages").
    pub mine: Option<String>,
    /// Words to find in the masked text (see `QueueQuery::search`).
    pub q: Option<String>,
    /// A user id: only the messages assigned to them.
    pub agent: Option<String>,
    /// Received on or after / on or before these days (`YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    pub to: Option<String>,
    /// What the agent just did on message `of` (see [`super::done`]).
    pub done: Option<String>,
    pub of: Option<i64>,
}

pub const PAGE_SIZE: u32 = 50;

pub async fn queue(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(mailbox_id): Path<i64>,
    Query(p): Query<QueueParams>,
) -> WebResult<Response> {
    let t = |m: Msg| m.text(lang);
    a.require_access(mailbox_id)?;
    let mailbox = st
        .store
        .get_mailbox(mailbox_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let tab = p.tab.as_deref().unwrap_or("ready");
    let states = tab_states(tab).ok_or_else(|| WebError::bad_value(Msg::UnknownTab, tab))?;
    let sort = match p.sort.as_deref() {
        Some("confidence") => QueueSort::Confidence,
        _ => QueueSort::Age,
    };
    let category = p.category.clone().filter(|c| !c.is_empty());
    let mine = p.mine.as_deref() == Some("1");
    let search =
        p.q.as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_string);
    let agent = match p.agent.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| WebError::bad_value(Msg::UnknownAgent, s))?,
        ),
        None => None,
    };
    let from = p.from.as_deref().filter(|s| !s.is_empty());
    let to = p.to.as_deref().filter(|s| !s.is_empty());
    let received = match (
        from.map(day_start).transpose()?,
        to.map(day_start).transpose()?,
    ) {
        (None, None) => None,
        (f, t) => Some((f.unwrap_or(0), t.map(|t| t + DAY_MS).unwrap_or(i64::MAX))),
    };
    let page_pos = queue_page(p.after.as_deref())?;
    let rows = st
        .store
        .list_queue(&QueueQuery {
            mailbox_ids: Some(vec![mailbox_id]),
            states: states.to_vec(),
            category: category.clone(),
            assigned_to: if mine { Some(a.user.id) } else { agent },
            search: search.clone(),
            received,
            sort,
            page: page_pos,
            limit: PAGE_SIZE,
        })
        .await?;
    // Agents by name, read once for the page (assignee column, agent filter).
    let users = st.store.list_users().await?;
    let names: std::collections::HashMap<i64, String> = users
        .iter()
        .map(|u| (u.id, u.display_name.clone()))
        .collect();
    // Every tab says how many messages it holds (the mailbox's, whatever the filter).
    let by_state = st.store.count_messages_by_state(Some(mailbox_id)).await?;
    let tab_count = |states: &[MessageState]| -> i64 {
        by_state
            .iter()
            .filter(|(s, _)| states.contains(s))
            .map(|(_, n)| n)
            .sum()
    };
    let now = st.store.now_ms();
    let sort_code = if sort == QueueSort::Confidence {
        "confidence"
    } else {
        "age"
    };
    let qs = |after: Option<String>| {
        let mut s = format!("?tab={tab}&sort={sort_code}");
        if let Some(c) = &category {
            s.push_str("&category=");
            s.push_str(&urlencode(c));
        }
        if mine {
            s.push_str("&mine=1");
        }
        for (k, v) in [
            ("q", search.as_deref()),
            ("agent", p.agent.as_deref()),
            ("from", from),
            ("to", to),
        ] {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                s.push_str(&format!("&{k}={}", urlencode(v)));
            }
        }
        if let Some(a) = after {
            s.push_str("&after=");
            s.push_str(&a);
        }
        s
    };
    let next = (rows.len() as u32 == PAGE_SIZE)
        .then(|| rows.last().map(|r| r.cursor.encode()))
        .flatten();
    // Read once for the page, not per row.
    let rules = if rows
        .iter()
        .any(|r| r.state == MessageState::ReadyToValidate)
    {
        Some(st.suggestions.rules().await)
    } else {
        None
    };
    let shown: Vec<(String, bool)> = rows
        .iter()
        .map(|r| {
            let subject = if r.subject.is_empty() {
                "—".to_string()
            } else {
                shown_subject(
                    &r.subject,
                    r.subject_pseudonymised.as_deref(),
                    r.from_name.as_deref(),
                    st.is_revealed(&a.session.id, r.id),
                )
            };
            let draft_ready = r.state == MessageState::ReadyToValidate
                && rules
                    .as_ref()
                    .is_some_and(|rl| !rl.withdrawn(r.mailbox_id, r.category.as_deref()));
            (subject, draft_ready)
        })
        .collect();
    let banner = super::done::banner(&st, lang, &a, p.done.as_deref(), p.of).await?;
    let body = html! {
        (banner)
        nav.tabs aria-label=(t(Msg::Queue)) {
            ul {
                @for (key, label, states) in TABS {
                    li {
                        a href={ "?tab=" (key) } aria-current=[(*key == tab).then_some("page")] {
                            (t(*label)) " " span.tab-count data-tab=(key) { "(" (tab_count(states)) ")" }
                        }
                    }
                }
            }
        }
        form.filters method="get" {
            input type="hidden" name="tab" value=(tab);
            label for="category" { (t(Msg::Category)) }
            select #category name="category" {
                option value="" { (t(Msg::AllCategories)) }
                @for rt in &st.taxonomy.request_types {
                    option value=(rt.id) selected[category.as_deref() == Some(rt.id.as_str())] { (type_label(&st, lang, &rt.id)) }
                }
            }
            label for="mine" {
                input #mine type="checkbox" name="mine" value="1" checked[mine];
                " " (t(Msg::MyMessages))
            }
            label for="agent" { (t(Msg::ColAssignee)) }
            select #agent name="agent" {
                option value="" { (t(Msg::AllAgents)) }
                @for u in users.iter().filter(|u| u.active) {
                    option value=(u.id) selected[agent == Some(u.id)] { (u.display_name) }
                }
            }
            label for="q" { (t(Msg::SearchWords)) }
            input #q type="search" name="q" value=(search.as_deref().unwrap_or(""));
            label for="from" { (t(Msg::ReceivedFrom)) }
            input #from type="date" name="from" value=(from.unwrap_or(""));
            label for="to" { (t(Msg::ReceivedTo)) }
            input #to type="date" name="to" value=(to.unwrap_or(""));
            label for="sort" { (t(Msg::SortBy)) }
            select #sort name="sort" {
                option value="age" selected[sort == QueueSort::Age] { (t(Msg::SortAge)) }
                option value="confidence" selected[sort == QueueSort::Confidence] { (t(Msg::SortConfidence)) }
            }
            button.fr-btn.fr-btn--secondary type="submit" { (t(Msg::Filter)) }
        }
        @if rows.is_empty() {
            p #queue-empty { (t(Msg::EmptyQueue)) }
        }
        (table_frame(html! {
        table #queue {
            caption { (mailbox.name) " — " (tab_label(tab, lang)) }
            thead { tr {
                th scope="col" { (t(Msg::ColSubject)) }
                th scope="col" { (t(Msg::ColSender)) }
                th scope="col" { (t(Msg::ColType)) }
                th scope="col" { (t(Msg::ColConfidence)) }
                th scope="col" { (t(Msg::ColAge)) }
                th scope="col" { (t(Msg::ColDraft)) }
                th scope="col" { (t(Msg::ColAssignee)) }
            } }
            tbody {
                @for (i, (r, (subject, draft_ready))) in rows.iter().zip(&shown).enumerate() {
                    tr.queue-row data-id=(r.id) {
                        td { a.open href=(message_href(r.id, i.checked_sub(1).and_then(|p| rows.get(p)).map(|p| p.id))) { (subject) } }
                        td.sender { (facteur_app::masked_sender(r.from_name.as_deref(), r.from_address.as_deref())) }
                        td {
                            @match r.category.as_deref() {
                                Some(c) => { p.fr-tag.fr-tag--sm { (type_label(&st, lang, c)) } }
                                None => { "—" }
                            }
                        }
                        td { (confidence(r.confidence)) }
                        td { (age(lang, now, r.received_at)) }
                        td.draft-ready { (if *draft_ready { t(Msg::Yes) } else { t(Msg::No) }) }
                        td.assignee { (r.assigned_to.and_then(|u| names.get(&u)).map(String::as_str).unwrap_or("—")) }
                    }
                }
            }
        }
        }))
        @if let Some(c) = next {
            p { a #next-page rel="next" href=(qs(Some(c))) { (t(Msg::NextPage)) } }
        }
    };
    Ok(page(
        lang,
        &format!("{} — {}", t(Msg::Queue), mailbox.name),
        Some(&a),
        body,
    )
    .into_response())
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// The first millisecond of a `YYYY-MM-DD` day, UTC (the date inputs' format).
fn day_start(day: &str) -> WebResult<i64> {
    let bad = || WebError::bad_value(Msg::InvalidDate, day);
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(day, &format).map_err(|_| bad())?;
    Ok(d.midnight().assume_utc().unix_timestamp() * 1000)
}

pub(super) fn tab_label(tab: &str, lang: Lang) -> &'static str {
    TABS.iter()
        .find(|(k, _, _)| *k == tab)
        .map(|(_, m, _)| m.text(lang))
        .unwrap_or("")
}

/// Label of a request type in the UI language (the id when unknown).
pub fn type_label(st: &AppState, lang: Lang, id: &str) -> String {
    st.taxonomy
        .request_types
        .iter()
        .find(|r| r.id == id)
        .map(|r| match (lang, &r.label_en) {
            (Lang::En, Some(en)) => en.clone(),
            _ => r.label.clone(),
        })
        .unwrap_or_else(|| id.to_string())
}

pub(super) fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The queue page a request asks for: the first, or the one after the opaque
/// cursor `after` of the page before (the queue page and `/api/messages`).
/// A message link that remembers the message before it in the list, so `k` on the
/// message page can step back (the store pages forward only).
pub(super) fn message_href(id: i64, prev: Option<i64>) -> String {
    match prev {
        Some(p) => format!("/messages/{id}?prev={p}"),
        None => format!("/messages/{id}"),
    }
}
