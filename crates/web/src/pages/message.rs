//! One message: the page an agent works from (prepared draft, passages, reply
//! recipient), the sanitised original for the sandboxed iframe, and attachments.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::queue::{message_href, type_label, urlencode};
use crate::actions;
use crate::auth::Authed;
use crate::error::{WebError, WebResult};
use crate::extract::{Path, Query};
use crate::i18n::{
    close_reason_label, escalation_reason_label, outbox_state_label, reject_reason_label,
    state_label, Lang, Msg,
};
use crate::sanitize::{mail_body_csp, sanitize_mail_html};
use crate::views::{age, confidence, csrf_input, defect_label, folded_text, page, trusted};
use crate::AppState;
use facteur_app::{draft_rejected, shown_subject};
use facteur_core::{
    CloseReason, DocKind, EscalationReason, Hit, MailSummary, Passage, RejectReason,
};

/// The attachment metadata stored at ingest: name, SHA-256 and size. A stored
/// hash that is not hex is left out: it names a download URL.
fn attachments(parsed: &MailSummary) -> Vec<(String, String, u64)> {
    parsed
        .attachments
        .iter()
        .filter(|a| !a.sha256.is_empty() && a.sha256.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|a| {
            let name = a
                .filename
                .clone()
                .unwrap_or_else(|| "piece-jointe".to_string());
            (name, a.sha256.clone(), a.size as u64)
        })
        .collect()
}

/// Why the draft was suggested, in words: the passages of the chosen answer (and
/// of fiches, which support it) with the message's words marked, and those words
/// listed. Other answers' passages are left out (they argue for another reply),
/// and so are raw scores, which mean nothing to an agent.
fn passages_view(lang: Lang, passages: &[Hit], chosen: Option<&str>) -> Markup {
    let t = |m: Msg| m.text(lang);
    let items: Vec<&Hit> = passages
        .iter()
        .filter(|p| match p.kind {
            DocKind::Answer => chosen == Some(p.id.as_str()),
            DocKind::Fiche => true,
        })
        .collect();
    html! {
        @if items.is_empty() {
            p.note { (t(Msg::WhyNothingShared)) }
        }
        ul.passages {
            @for p in items {
                li.passage {
                    @match p.url.as_deref().filter(|u| u.starts_with("https://")) {
                        Some(url) => { a href=(url) rel="noopener noreferrer" target="_blank" { strong { (p.title) } } " " }
                        None => { strong { (p.title) } " " }
                    }
                    @if !p.id.is_empty() { code { (p.id) } " " }
                    @let words = shared_words(p);
                    @if !words.is_empty() {
                        p.shared-words { (t(Msg::WhySharedWords)) " " (words.join(", ")) }
                    }
                    @for snippet in &p.passages {
                        blockquote { (highlighted(snippet)) }
                    }
                }
            }
        }
    }
}

/// The passages of stored hits for message `m`, computed off the runtime's
/// threads (see `Service::explain`).
pub(crate) async fn explain_passages(
    svc: &std::sync::Arc<facteur_app::Service>,
    m: &facteur_store::Message,
    hits: &mut Vec<Hit>,
) {
    if hits.iter().all(|h| !h.passages.is_empty()) {
        return;
    }
    // A copy (a handful of hits): should the task fail, the page keeps them bare.
    let (svc, text, read_as, mut bare) = (
        svc.clone(),
        m.pseudonymised_text.clone(),
        m.classify_text.clone(),
        hits.clone(),
    );
    match tokio::task::spawn_blocking(move || {
        svc.explain(&text, read_as.as_deref(), &mut bare);
        bare
    })
    .await
    {
        Ok(explained) => *hits = explained,
        Err(e) => tracing::warn!(error = %e, "passages not computed for the message page"),
    }
}

/// The distinct words marked in a hit's snippets (the message's words the
/// passage contains), in the order met, compared without case.
fn shared_words(hit: &Hit) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for snippet in &hit.passages {
        for (start, end) in highlight_ranges(snippet) {
            let word = &snippet.text[start..end];
            if !out.iter().any(|w| w.to_lowercase() == word.to_lowercase()) {
                out.push(word.to_string());
            }
        }
    }
    out
}

/// The ranges of a snippet's highlights that are usable on its text, in text
/// order. Ranges that run backwards, end past the text or fall inside a
/// character are dropped: what the store hands back is data, not trusted input.
fn highlight_ranges(p: &Passage) -> Vec<(usize, usize)> {
    let text = &p.text;
    let mut ranges: Vec<(usize, usize)> = p
        .highlights
        .iter()
        .copied()
        .filter(|&(start, end)| {
            start < end
                && end <= text.len()
                && text.is_char_boundary(start)
                && text.is_char_boundary(end)
        })
        .collect();
    ranges.sort_unstable();
    ranges
}

/// The snippet's text with its usable ranges ([`highlight_ranges`]) wrapped in
/// `<mark>`; a range overlapping the one before is skipped.
fn highlighted(p: &Passage) -> Markup {
    let text = p.text.as_str();
    let mut pieces: Vec<(&str, bool)> = Vec::new();
    let mut at = 0;
    for (start, end) in highlight_ranges(p) {
        if start < at {
            continue;
        }
        pieces.push((&text[at..start], false));
        pieces.push((&text[start..end], true));
        at = end;
    }
    pieces.push((&text[at..], false));
    html! {
        @for (piece, marked) in pieces {
            @if marked { mark { (piece) } } @else { (piece) }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct MessageParams {
    pub prev: Option<i64>,
    /// What the agent just did on message `of` (see [`super::done`]).
    pub done: Option<String>,
    pub of: Option<i64>,
}

/// What the agent had on the page when one of its forms brought them back to it:
/// their text, and why a validation was refused (a field left to complete, a
/// missing confirmation, a state that changed) or what they searched. The text
/// comes back in the draft instead of an error page that loses both the text and
/// the navigation.
#[derive(Default)]
pub struct Kept {
    pub text: Option<String>,
    pub refused: Option<WebError>,
    pub search: Option<super::compose::Search>,
}

pub async fn message(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(id): Path<i64>,
    Query(mp): Query<MessageParams>,
) -> WebResult<Response> {
    render(&st, lang, &a, id, mp, Kept::default()).await
}

/// The message page; with `kept`, as a form left it (a refused validation
/// answers 422 or 409).
pub async fn render(
    st: &AppState,
    lang: Lang,
    a: &Authed,
    id: i64,
    mp: MessageParams,
    kept: Kept,
) -> WebResult<Response> {
    let t = |m: Msg| m.text(lang);
    let m = actions::load_message(st, a, id).await?;
    // Every triage, for the history; the latest is the one in force.
    let triages = st.store.list_triages(id).await?;
    let mut triage = triages.last().cloned();
    if let (Some(svc), Some(tr)) = (&st.service, triage.as_mut()) {
        explain_passages(svc, &m, &mut tr.passages).await;
    }
    let thread = match &m.thread_id {
        Some(tid) => st.store.thread_messages(tid).await?,
        None => Vec::new(),
    };
    // Everyone who ever acted is named in the history; only active agents can
    // be assigned.
    let all_users = st.store.list_users().await?;
    let users: Vec<_> = all_users.iter().filter(|u| u.active).cloned().collect();
    let revealed = st.is_revealed(&a.session.id, id);
    let now = st.store.now_ms();
    // A kill switch pulled after this message was triaged also withdraws the draft
    // already prepared for it: the supervisor stopped that suggestion, so no agent
    // should be handed it. Fails safe like triage: switches that cannot be read
    // withdraw the draft.
    let withdrawn = match triage.as_ref().filter(|tr| tr.draft_text.is_some()) {
        Some(tr) => st
            .suggestions
            .rules()
            .await
            .withdrawn(m.mailbox_id, tr.category.as_deref()),
        None => false,
    };
    // A draft the agent rejected is not offered again: the textarea starts empty
    // until a new triage (e.g. after a category correction).
    let has_draft = triage.as_ref().is_some_and(|tr| tr.draft_text.is_some());
    let escalated = m.state == facteur_core::MessageState::Escalated;
    let open = m.state.is_open();
    // The agents' actions, read once for the uses below and the history.
    let agent_actions = st.store.list_actions(id).await?;
    let outbox = st.store.get_outbox_for_message(id).await?;
    let rejected = match &triage {
        Some(tr) if has_draft => draft_rejected(&agent_actions, tr),
        _ => false,
    };
    let refused = kept.refused.as_ref();
    // A reply taken back during its send delay comes back as it was validated,
    // unless a triage came after.
    let returned = agent_actions
        .iter()
        .rfind(|x| x.kind == facteur_core::AgentActionKind::UndoSend.as_str())
        .filter(|x| triage.as_ref().is_none_or(|tr| x.at >= tr.created_at))
        .and_then(|x| x.after.get("text").and_then(Value::as_str))
        .map(|t| crate::pages::drafts::shown_draft(t, m.from_name.as_deref(), revealed));
    let draft_text = match (&kept.text, returned) {
        (Some(text), _) => text.replace("\r\n", "\n"),
        (None, Some(text)) => text,
        (None, None) => draft_text_of(st, a, &m, triage.as_ref(), withdrawn, rejected),
    };
    // A draft on a retired answer version: warned about, rebuildable, and sent
    // only after a confirmation (see facteur_app::stale).
    let retired = match triage.as_ref().filter(|_| !withdrawn && !rejected) {
        Some(tr) => facteur_app::retired_version(&st.store, tr)
            .await
            .map_err(|e| crate::error::WebError::Internal(e.to_string()))?,
        None => None,
    };
    // Why an agent escalated it, for whoever picks it up.
    let escalation = agent_actions
        .iter()
        .filter(|_| escalated)
        .rfind(|a| a.kind == "escalate")
        .and_then(|a| {
            a.after
                .get("reason")
                .and_then(Value::as_str)
                .and_then(EscalationReason::parse)
        });
    // Escalated by triage, not by an agent: the flags that fired and the words
    // that raised them, for whoever picks it up.
    let auto_escalation = match &triage {
        Some(tr)
            if escalated && escalation.is_none() && tr.route == facteur_core::Route::Escalate =>
        {
            facteur_text::flag_evidence(&m.pseudonymised_text)
        }
        _ => Vec::new(),
    };
    let defects = mail_defects(&m.parsed);
    // The next message of the same tab (oldest first), for keyboard flow (j).
    let next_id = super::done::next_in_tab(st, &m).await?;
    let atts = attachments(&m.parsed);
    let attachment_texts = st.store.attachment_texts(id).await?;
    // The same computation as the validate action: what is shown is what is used.
    let recipient = actions::reply_recipient(st, &m).await?;
    // An auto-responder answered last: sending needs the agent's explicit consent.
    let recipient_automatic = match recipient.to.as_deref() {
        Some(to) if m.state.is_open() => st.store.last_mail_from_is_automatic(to).await?,
        _ => false,
    };
    let banner = super::done::banner(st, lang, a, mp.done.as_deref(), mp.of).await?;
    // Presence: this view is recorded, and whoever else has it open is named.
    st.store.record_view(id, a.user.id).await?;
    let viewers = st.store.other_viewers(id, a.user.id).await?;
    // The same citizen's other messages (keyed hashes: see facteur_store's
    // followups), those the agent may open.
    let history: Vec<_> = st
        .store
        .same_citizen(
            id,
            facteur_app::followups::window_ms(st.config.followup_days),
        )
        .await?
        .into_iter()
        .filter(|h| a.can_access(h.mailbox_id))
        .collect();
    // Repeats this reply can close, and triage's suggestion to close a thanks.
    let duplicates = if open {
        st.store.open_duplicates(id).await?
    } else {
        Vec::new()
    };
    let close_suggested = open && triage.as_ref().and_then(|tr| tr.close_suggestion).is_some();
    // A validated reply the outbox still holds: it can be taken back from here.
    let held = if m.state == facteur_core::MessageState::Validated {
        super::done::held_seconds(outbox.as_ref(), now)
    } else {
        None
    };
    let body = html! {
        (banner)
        (super::presence::viewers_view(lang, now, &viewers))
        dl.meta.meta-inline {
            dt { (t(Msg::ColState)) } dd #state data-state=(m.state.as_str()) {
                span class={ "fr-badge fr-badge--sm fr-badge--no-icon " (crate::views::state_badge(m.state)) } { (state_label(lang, m.state)) }
            }
            dt { (t(Msg::ColType)) } dd #category-current { (m.category.as_deref().map(|c| type_label(st, lang, c)).unwrap_or_else(|| "—".into())) }
            // An abstention's confidence is that of a prediction the model refused:
            // shown beside "Sans suggestion" it would contradict it.
            @if m.state == facteur_core::MessageState::Abstained {
                dt { (t(Msg::ColConfidence)) } dd #confidence { (t(Msg::NoSuggestionBelowThreshold)) }
            } @else {
                dt { (t(Msg::ColConfidence)) } dd #confidence { (confidence(m.confidence)) }
            }
            dt { (t(Msg::ColAge)) } dd { (age(lang, now, m.received_at)) }
            dt { (t(Msg::ColAssignee)) }
            dd #assignee-current { (m.assigned_to.and_then(|u| users.iter().find(|x| x.id == u)).map(|u| u.display_name.as_str()).unwrap_or("—")) }
            @if let Some(r) = escalation {
                dt { (t(Msg::EscalatedBecause)) }
                dd #escalation-reason { (escalation_reason_label(lang, r)) }
            } @else if !auto_escalation.is_empty() {
                dt { (t(Msg::AutoEscalated)) }
                dd #auto-escalation {
                    @for (i, (flag, words)) in auto_escalation.iter().enumerate() {
                        @if i > 0 { " ; " }
                        span data-flag=(format!("{flag:?}")) { (crate::i18n::flag_label(lang, *flag)) }
                        @if !words.is_empty() {
                            " (" (t(Msg::AutoEscalatedWords)) " : "
                            @for (j, w) in words.iter().enumerate() {
                                @if j > 0 { ", " }
                                "« " (w) " »"
                            }
                            ")"
                        }
                    }
                }
            }
            @if let Some(d) = m.duplicate_of {
                dt { (t(Msg::DuplicateOf)) }
                dd #duplicate-of { a href={ "/messages/" (d) } { "n° " (d) } " (" (t(Msg::DuplicateWhy)) ")" }
            }
            @if revealed {
                dt { (t(Msg::From)) } dd { (m.from_name.as_deref().unwrap_or("")) " <" (m.from_address.as_deref().unwrap_or("")) ">" }
            }
        }
        nav.message-nav aria-label=(t(Msg::Queue)) {
            @if let Some(p) = mp.prev.filter(|p| *p != id) {
                a #prev-message rel="prev" href={ "/messages/" (p) } { (t(Msg::PreviousMessage)) } " · "
            }
            a #back-to-queue href={ "/mailboxes/" (m.mailbox_id) "/queue" } { (t(Msg::Back)) }
            @if let Some(n) = next_id {
                " · " a #next-message rel="next" href=(message_href(n, Some(id))) { (t(Msg::NextMessage)) }
            }
        }
        // Two panes from 80rem (1280 px) up: the mail on the left, the draft and
        // its actions on the right, visible without scrolling; stacked below.
        div.message-panes {
            div.pane-mail {
                section #newtext aria-labelledby="newtext-h" {
                    h2 #newtext-h { (t(Msg::NewText)) }
                    p.note { (t(Msg::PersonalDataMasked)) }
                    @if !defects.is_empty() {
                        p #mail-defects.warning role="note" {
                            strong { (t(Msg::MalformedMail)) } " : "
                            (defects.iter().map(|k| defect_label(lang, *k)).collect::<Vec<_>>().join(" ; "))
                            ". " (t(Msg::MalformedMailAdvice))
                        }
                    }
                    // "Ci-joint mon avis" and nothing attached: ask for it.
                    @if atts.is_empty() && facteur_text::mentions_attachment(&m.pseudonymised_text) {
                        p #attachment-missing.warning role="note" { (t(Msg::AttachmentMentionedMissing)) }
                    }
                    (folded_text(lang, &m.pseudonymised_text))
                    (attachment_texts_view(lang, &attachment_texts))
                }
                section #original aria-labelledby="original-h" {
                    h2 #original-h { (t(Msg::OriginalMail)) }
                    @if revealed {
                        iframe #mail-body name="mail-body" title=(t(Msg::OriginalMail)) sandbox="" referrerpolicy="no-referrer" src={ "/messages/" (id) "/body" } {}
                        p { a #show-images href={ "/messages/" (id) "/body?images=1" } target="mail-body" { (t(Msg::ShowImages)) } }
                        @if !atts.is_empty() {
                            h3 { (t(Msg::Attachments)) }
                            ul #attachments {
                                @for (name, sha, size) in &atts {
                                    li { a href={ "/messages/" (id) "/attachments/" (sha) } download=(name) { (t(Msg::Download)) " " (name) } " (" (size) " o)" }
                                }
                            }
                        }
                    } @else {
                        form #reveal-form method="post" action={ "/messages/" (id) "/reveal" } {
                            (csrf_input(a))
                            button.fr-btn #reveal type="submit" { (t(Msg::RevealPii)) }
                        }
                    }
                }
                @if !history.is_empty() {
                    (history_view(st, lang, a, &history))
                }
                @if thread.len() > 1 {
                    section #thread aria-labelledby="thread-h" {
                        h2 #thread-h { (t(Msg::Thread)) }
                        ol {
                            @for tm in thread.iter().filter(|tm| a.can_access(tm.mailbox_id)) {
                                @let subject = shown_subject(&tm.subject, tm.subject_pseudonymised.as_deref(), tm.from_name.as_deref(), st.is_revealed(&a.session.id, tm.id));
                                li {
                                    @if tm.id == id { strong { (subject) } } @else { a href={ "/messages/" (tm.id) } { (subject) } }
                                    " — " (state_label(lang, tm.state))
                                }
                            }
                        }
                    }
                }
                (super::timeline::view(st, lang, &super::timeline::History {
                    message: &m,
                    triages: &triages,
                    actions: &agent_actions,
                    outbox: outbox.as_ref(),
                    users: &all_users,
                    revealed,
                }))
            }
            div.pane-work {
                // Refused because the message is no longer open (another agent
                // validated or escalated it): said here, the draft form is gone.
                @if let Some(r) = refused.filter(|_| !open) {
                    (refused_view(lang, r))
                    // The form is gone with the open state: the agent's text stays
                    // readable, to copy.
                    @if let Some(text) = kept.text.as_ref() {
                        details #kept-text-box open {
                            summary { (t(Msg::YourText)) }
                            pre #kept-text { (text) }
                        }
                    }
                }
                @if let Some(secs) = held {
                    section #send-pending aria-labelledby="send-pending-h" {
                        h2 #send-pending-h { (t(Msg::SendScheduled)) " " (secs) " s" }
                        form #undo-send-here method="post" action={ "/messages/" (id) "/undo-send" } {
                            (csrf_input(a))
                            button.fr-btn type="submit" { (t(Msg::UndoSend)) }
                        }
                    }
                }
                @if open {
                    section #actions aria-labelledby="draft-h" {
                        h2 #draft-h { (t(Msg::Draft)) }
                        @if close_suggested {
                            div #close-suggestion.note role="note" {
                                p { (t(Msg::ThanksOnlySuggestion)) " " (t(Msg::ThanksOnlyKey)) }
                                form #close-thanks-form method="post" action={ "/messages/" (id) "/close" } {
                                    (csrf_input(a))
                                    input type="hidden" name="reason" value=(CloseReason::Thanks.as_str());
                                    button.fr-btn #close-thanks type="submit" { (t(Msg::CloseWithoutReply)) }
                                }
                            }
                        }
                        @if let Some(r) = &retired {
                            div #draft-retired.warning role="alert" {
                                p { (t(Msg::DraftRetiredWarning)) " (" (r.answer_id) " v" (r.version) ")" }
                                form #rebuild-form method="post" action={ "/messages/" (id) "/rebuild" } {
                                    (csrf_input(a))
                                    button.fr-btn #rebuild type="submit" { (t(Msg::RebuildDraft)) }
                                }
                            }
                        }
                        @if let Some(tr) = triage.as_ref().filter(|tr| tr.draft_text.is_none() && !tr.candidates.is_empty()) {
                            (candidates_view(st, lang, a, id, &tr.candidates))
                        }
                        form #draft-form method="post" action={ "/messages/" (id) "/validate" } {
                            (csrf_input(a))
                            // First in the form, so Enter in the search box below
                            // searches: the browser submits with the first submit
                            // button, which must never be the one that sends.
                            button hidden type="submit" formaction={ "/messages/" (id) "/compose" } formnovalidate name="op" value="search" tabindex="-1" aria-hidden="true" {}
                            // The section's heading says the same: named for screen
                            // readers without a second visible line.
                            label.visually-hidden for="draft" { (t(Msg::Draft)) }
                            @if let Some(r) = refused { (refused_view(lang, r)) }
                            @if rejected && refused.is_none() {
                                p #draft-rejected.note { (t(Msg::DraftRejected)) }
                            }
                            @let unfilled = facteur_core::reply::unfilled_fields(&draft_text);
                            // Always there, hidden when empty: app.js keeps it in step
                            // with the text as the agent types.
                            p #unfilled-fields.warning role="status" hidden[unfilled.is_empty()] {
                                (t(Msg::FieldsToComplete)) " "
                                span #unfilled-list {
                                    @for f in &unfilled { code { (facteur_core::reply::missing_marker(f)) } " " }
                                }
                            }
                            textarea #draft name="text" rows="16" cols="80" { (draft_text) }
                            (recipient_view(lang, &recipient, revealed))
                            @if recipient_automatic {
                                p #recipient-automatic.warning role="note" { (t(Msg::RecipientAutomatic)) }
                                label for="confirm-automatic" {
                                    input #confirm-automatic type="checkbox" name="confirm_automatic" value="1";
                                    " " (t(Msg::ConfirmAutomaticSend))
                                }
                            }
                            @if retired.is_some() {
                                label for="confirm-retired" {
                                    input #confirm-retired type="checkbox" name="confirm_retired" value="1";
                                    " " (t(Msg::ConfirmRetiredSend))
                                }
                            }
                            @if !duplicates.is_empty() {
                                label for="close-duplicates" {
                                    input #close-duplicates type="checkbox" name="close_duplicates" value="1" checked;
                                    " " (t(Msg::CloseDuplicatesToo)) " "
                                    @for (i, d) in duplicates.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        a href={ "/messages/" (d) } { "n° " (d) }
                                    }
                                }
                            }
                            button.fr-btn #validate type="submit" { (t(Msg::ValidateSend)) }
                            // Shown by app.js after a first `v`: the shortcut only arms the
                            // button, a second `v` (or Enter on it) sends.
                            p #validate-confirm.warning role="status" hidden { (t(Msg::ValidateKeyConfirm)) }
                            (super::compose::view(lang, id, kept.search.as_ref()))
                        }
                        form #correct-form method="post" action={ "/messages/" (id) "/correct" } {
                            (csrf_input(a))
                            label for="new-category" { (t(Msg::CorrectCategory)) }
                            select #new-category name="category" {
                                @for rt in &st.taxonomy.request_types {
                                    option value=(rt.id) selected[m.category.as_deref() == Some(rt.id.as_str())] { (type_label(st, lang, &rt.id)) }
                                }
                            }
                            button.fr-btn type="submit" { (t(Msg::CorrectCategory)) }
                        }
                        form #reject-form method="post" action={ "/messages/" (id) "/reject" } {
                            (csrf_input(a))
                            label for="reason" { (t(Msg::Reason)) }
                            select #reason name="reason" {
                                @for r in RejectReason::ALL { option value=(r.as_str()) { (reject_reason_label(lang, *r)) } }
                            }
                            button.fr-btn.fr-btn--secondary type="submit" { (t(Msg::RejectDraft)) }
                        }
                        form #assign-form method="post" action={ "/messages/" (id) "/assign" } {
                            (csrf_input(a))
                            label for="assignee" { (t(Msg::AssignTo)) }
                            select #assignee name="user_id" required {
                                // No one preselected: an assignment is a choice.
                                option value="" disabled selected[m.assigned_to.is_none()] { (t(Msg::ChooseAgent)) }
                                @for u in &users { option value=(u.id) selected[m.assigned_to == Some(u.id)] { (u.display_name) } }
                            }
                            button.fr-btn type="submit" { (t(Msg::Assign)) }
                        }
                        form #escalate-form method="post" action={ "/messages/" (id) "/escalate" } {
                            (csrf_input(a))
                            label for="escalate-reason" { (t(Msg::EscalationReasonLabel)) }
                            select #escalate-reason name="reason" required {
                                option value="" disabled selected { "—" }
                                @for r in EscalationReason::ALL { option value=(r.as_str()) { (escalation_reason_label(lang, *r)) } }
                            }
                            button.fr-btn.fr-btn--secondary #escalate type="submit" { (t(Msg::Escalate)) }
                        }
                        form #close-form method="post" action={ "/messages/" (id) "/close" } {
                            (csrf_input(a))
                            label for="close-reason" { (t(Msg::CloseReasonLabel)) }
                            select #close-reason name="reason" required {
                                option value="" disabled selected { "—" }
                                @for r in CloseReason::ALL { option value=(r.as_str()) { (close_reason_label(lang, *r)) } }
                            }
                            button.fr-btn.fr-btn--secondary #close type="submit" { (t(Msg::CloseWithoutReply)) }
                        }
                    }
                }
                section #suggestions aria-labelledby="suggestions-h" {
                    h2 #suggestions-h { (t(Msg::Suggestions)) }
                    @match &triage {
                        Some(_) if withdrawn => {
                            p #draft-withdrawn.note { (t(Msg::DraftWithdrawn)) }
                        }
                        Some(tr) if tr.answer_id.is_some() => {
                            p.suggestion {
                                strong { (tr.answer_id.as_deref().unwrap_or("")) }
                                @if let Some(v) = tr.answer_version { " v" (v) }
                                " — " (t(Msg::ColConfidence)) " " (confidence(tr.confidence))
                                @if let Some(mv) = &tr.model_version { " — " code { (mv) } }
                            }
                            details #why {
                                summary { (t(Msg::Why)) }
                                (passages_view(lang, &tr.passages, tr.answer_id.as_deref()))
                            }
                        }
                        _ => { p { (t(Msg::NoSuggestion)) } }
                    }
                }
            }
        }
    };
    let title = if m.subject.is_empty() {
        "—".to_string()
    } else {
        shown_subject(
            &m.subject,
            m.subject_pseudonymised.as_deref(),
            m.from_name.as_deref(),
            revealed,
        )
    };
    let status = refused
        .map(WebError::status)
        .unwrap_or(axum::http::StatusCode::OK);
    Ok((status, page(lang, &title, Some(a), body)).into_response())
}

/// When the model did not draft: the types it hesitated between, each with the
/// answer it would draft from. Choosing one is a category correction (recorded
/// as feedback for training), after which the draft is built from that type.
fn candidates_view(
    st: &AppState,
    lang: Lang,
    a: &Authed,
    id: i64,
    candidates: &[facteur_core::Candidate],
) -> Markup {
    let t = |m: Msg| m.text(lang);
    html! {
        section #candidates aria-labelledby="candidates-h" {
            h3 #candidates-h { (t(Msg::CandidatesTitle)) }
            p.note { (t(Msg::CandidatesHelp)) }
            ol {
                @for c in candidates.iter().filter(|c| st.taxonomy.contains(&c.label)) {
                    li.candidate data-type=(c.label) {
                        form method="post" action={ "/messages/" (id) "/correct" } {
                            (csrf_input(a))
                            input type="hidden" name="category" value=(c.label);
                            span {
                                strong { (type_label(st, lang, &c.label)) }
                                " — " (t(Msg::CandidateProbability)) " " (confidence(Some(c.probability)))
                                br;
                                (t(Msg::CandidateAnswer)) " "
                                @match &c.answer_title { Some(title) => { em { (title) } } None => { (t(Msg::CandidateNoAnswer)) } }
                            }
                            button.fr-btn.fr-btn--secondary.fr-btn--sm.candidate-use type="submit" {
                                (t(if c.answer_id.is_some() { Msg::CandidateUse } else { Msg::CandidateChoose }))
                                span.visually-hidden { " : " (type_label(st, lang, &c.label)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Why the validation was refused, where the agent reads it (focusable, so the
/// page can be announced by assistive technology).
fn refused_view(lang: Lang, e: &WebError) -> Markup {
    html! {
        div #validate-error.error role="alert" tabindex="-1" {
            p { strong { (e.msg().text(lang)) } }
            @if let Some(d) = e.detail(lang) { p { (d) } }
        }
    }
}

/// The draft as first shown: the triage's, masked until the reveal; none when a
/// switch withdrew it or the agent rejected it.
fn draft_text_of(
    st: &AppState,
    a: &Authed,
    m: &facteur_store::Message,
    triage: Option<&facteur_store::TriageResult>,
    withdrawn: bool,
    rejected: bool,
) -> String {
    triage
        .filter(|_| !withdrawn && !rejected)
        .and_then(|tr| tr.draft_text.as_deref())
        .map(|d| {
            crate::pages::drafts::shown_draft(
                d,
                m.from_name.as_deref(),
                st.is_revealed(&a.session.id, m.id),
            )
        })
        .unwrap_or_default()
}

/// Where the reply will go, next to the button that sends it. A Reply-To can be
/// set by anyone, so a recipient that is not the sender is flagged. Addresses are
/// personal data: shown only once this session revealed the message; before, the
/// agent is still told whether the reply goes to someone other than the sender.
fn recipient_view(lang: Lang, r: &actions::ReplyRecipient, revealed: bool) -> Markup {
    let t = |m: Msg| m.text(lang);
    html! {
        p #reply-recipient .warning[r.via_reply_to || r.reply_to_ignored] role="note" {
            (t(Msg::ReplyGoesTo)) " : "
            @match (&r.to, revealed) {
                (None, _) => { (t(Msg::NoReplyAddress)) }
                (Some(to), true) => {
                    strong { (to) }
                    @if r.via_reply_to {
                        " (" (t(Msg::ReplyToGivenBy)) " " (r.from.as_deref().unwrap_or("—")) ")"
                    }
                }
                (Some(_), false) => {
                    @if r.via_reply_to { (t(Msg::ReplyToOtherMasked)) } @else { (t(Msg::ReplyToSenderMasked)) }
                }
            }
            @if r.reply_to_ignored && r.to.is_some() {
                " — " (t(Msg::ReplyToIgnored))
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct BodyParams {
    pub images: Option<String>,
}

/// The defects the parser recorded for this mail (stored with it at ingest),
/// each kind once, in the order met.
fn mail_defects(parsed: &MailSummary) -> Vec<facteur_core::DefectKind> {
    let defects = &parsed.defects;
    let mut kinds = Vec::new();
    for d in defects {
        if !kinds.contains(&d.kind) {
            kinds.push(d.kind);
        }
    }
    kinds
}

/// The original mail, sanitised, for the sandboxed iframe. Its own CSP (`sandbox`,
/// nothing loads but images on request) and only for a session that revealed the
/// message (the reveal is audited).
pub async fn message_body(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Query(p): Query<BodyParams>,
) -> WebResult<Response> {
    actions::load_message(&st, &a, id).await?;
    if !st.is_revealed(&a.session.id, id) {
        return Err(WebError::Forbidden);
    }
    let raw = st.store.get_raw(id).await?.ok_or(WebError::NotFound)?;
    let show_images = p.images.as_deref() == Some("1");
    let parsed = facteur_mail::parse_message(&raw);
    let inner = match &parsed.body_html {
        Some(h) => sanitize_mail_html(h, show_images),
        None => html! { pre { (parsed.body_text) } }.into_string(),
    };
    let doc = html! {
        (maud::DOCTYPE)
        html { head { meta charset="utf-8"; } body { (trusted(inner)) } }
    };
    let mut r = Html(doc.into_string()).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mail_body_csp(show_images)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// An attachment as bytes to save, never to render.
pub async fn attachment(
    State(st): State<AppState>,
    a: Authed,
    Path((id, sha)): Path<(i64, String)>,
) -> WebResult<Response> {
    let m = actions::load_message(&st, &a, id).await?;
    if !st.is_revealed(&a.session.id, id) {
        return Err(WebError::Forbidden);
    }
    let sha = sha.to_ascii_lowercase();
    let name = attachments(&m.parsed)
        .into_iter()
        .find(|(_, s, _)| s.eq_ignore_ascii_case(&sha))
        .map(|(n, _, _)| n)
        .ok_or(WebError::NotFound)?;
    let raw = st.store.get_raw(id).await?.ok_or(WebError::NotFound)?;
    // Stored mail is hostile: read it back through facteur-mail only (the
    // parser's depth and drop guards, the size cap), off the async workers.
    // Parsing it here directly aborted the whole server on a mail of 100,000
    // nested messages.
    let content = tokio::task::spawn_blocking(move || {
        facteur_mail::attachment_by_sha256(&raw, &sha, facteur_mail::DEFAULT_MAX_MESSAGE_BYTES)
    })
    .await
    .map_err(|e| WebError::Internal(format!("read attachment of message {id}: {e}")))?
    .ok_or(WebError::NotFound)?;
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        ascii,
        urlencode(&name)
    );
    let mut r = content.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// The same citizen's other messages within the follow-up window, oldest first:
/// when, what about, where it stands, and the reply it got (masked like the
/// draft until that message's reveal).
fn history_view(
    st: &AppState,
    lang: Lang,
    a: &Authed,
    history: &[facteur_store::CitizenMessage],
) -> maud::Markup {
    let t = |m: Msg| m.text(lang);
    html! {
        section #citizen-history aria-labelledby="citizen-history-h" {
            h2 #citizen-history-h {
                (t(Msg::CitizenHistory)) " (" (st.config.followup_days) " " (t(Msg::DaysWord)) ")"
            }
            ol {
                @for h in history {
                    @let revealed = st.is_revealed(&a.session.id, h.id);
                    li data-id=(h.id) {
                        a href={ "/messages/" (h.id) } {
                            (shown_subject(&h.subject, h.subject_pseudonymised.as_deref(), h.from_name.as_deref(), revealed))
                        }
                        " — " (crate::i18n::timestamp(lang, h.received_at))
                        " — " (h.category.as_deref().map(|c| type_label(st, lang, c)).unwrap_or_else(|| "—".into()))
                        " — " (state_label(lang, h.state))
                        @if let Some(r) = &h.reply {
                            details.history-reply {
                                summary { (t(Msg::CitizenHistoryReply)) " : " (outbox_state_label(lang, r.state)) }
                                pre { (crate::pages::drafts::shown_draft(&r.body, h.from_name.as_deref(), revealed)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The attachments' text under the mail, each folded: "Pièce jointe :
/// avis_2024.pdf, 2 pages, texte extrait", masked like the body.
fn attachment_texts_view(lang: Lang, texts: &[facteur_core::AttachmentText]) -> Markup {
    let t = |m: Msg| m.text(lang);
    html! {
        @for (i, a) in texts.iter().enumerate() {
            @let name = a.filename.as_deref().unwrap_or(t(Msg::UnnamedAttachment));
            @let how = match (a.method, a.failure) {
                (Some(facteur_core::ExtractMethod::PdfText), _) => t(Msg::AttachmentTextExtracted),
                (Some(facteur_core::ExtractMethod::Ocr), _) => t(Msg::AttachmentTextOcr),
                (None, Some(f)) => crate::i18n::extract_failure_label(lang, f),
                (None, None) => t(Msg::AttachmentNoText),
            };
            details.attachment-text id={ "attachment-text-" (i) } {
                summary {
                    (t(Msg::AttachmentLabel)) " " (name) ", "
                    (crate::i18n::pages(lang, a.pages)) ", " (how)
                    @if a.truncated { " (" (t(Msg::AttachmentTruncated)) ")" }
                }
                @if !a.text.is_empty() { pre.newtext { (a.text) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, highlights: Vec<(usize, usize)>) -> String {
        highlighted(&Passage {
            text: text.into(),
            highlights,
        })
        .into_string()
    }

    #[test]
    fn highlights_are_marked_and_the_text_escaped() {
        let text = "Délai de paiement <script>x</script> de l'impôt";
        // "Délai" is 6 bytes (é is two); "impôt" at the end.
        let start = text.find("impôt").unwrap();
        let out = render(text, vec![(0, 6), (start, text.len())]);
        assert_eq!(
            out,
            "<mark>Délai</mark> de paiement &lt;script&gt;x&lt;/script&gt; de l'<mark>impôt</mark>"
        );
    }

    #[test]
    fn bad_ranges_are_skipped_not_trusted() {
        let text = "Délai de paiement";
        // Inside the two-byte é, backwards, past the end, overlapping.
        let out = render(text, vec![(2, 4), (9, 3), (9, 99), (0, 6), (3, 8)]);
        assert_eq!(out, "<mark>Délai</mark> de paiement");
        assert_eq!(render(text, vec![]), text);
    }

    fn hit_of(id: &str, kind: DocKind, title: &str, url: Option<&str>) -> Hit {
        Hit {
            id: id.into(),
            kind,
            title: title.into(),
            url: url.map(str::to_string),
            language: "fr".into(),
            score: 1.0,
            passages: Vec::new(),
        }
    }

    #[test]
    fn stored_hits_show_title_link_and_marked_passages() {
        let hit = facteur_kb::Hit {
            id: "F1991".into(),
            kind: facteur_kb::DocKind::Fiche,
            title: "Revenus fonciers".into(),
            url: Some("https://www.service-public.fr/particuliers/vosdroits/F1991".into()),
            language: "fr".into(),
            score: 20.7,
            passages: vec![facteur_kb::Passage {
                text: "vous devez déclarer les loyers".into(),
                highlights: vec![(11, 20)],
            }],
        };
        let out = passages_view(Lang::Fr, &[hit], Some("rib")).into_string();
        assert!(
            out.contains("Mots communs avec le message : déclarer"),
            "{out}"
        );
        assert!(!out.contains("20.7"), "no raw score: {out}");
        assert!(out.contains("<mark>déclarer</mark>"), "{out}");
        assert!(out.contains("href=\"https://www.service-public.fr/particuliers/vosdroits/F1991\""));
        assert!(out.contains("<code>F1991</code>"));
        // A link that is not https is shown as plain text.
        let js = [hit_of("", DocKind::Fiche, "x", Some("javascript:alert(1)"))];
        assert!(!passages_view(Lang::Fr, &js, None)
            .into_string()
            .contains("href"));
    }

    #[test]
    fn only_the_chosen_answer_and_fiches_explain_a_draft() {
        let js = [
            hit_of("rib", DocKind::Answer, "Changer de RIB", None),
            hit_of("delais", DocKind::Answer, "Délais de paiement", None),
            hit_of("F1", DocKind::Fiche, "Fiche RIB", None),
        ];
        let out = passages_view(Lang::Fr, &js, Some("rib")).into_string();
        assert!(
            out.contains("Changer de RIB") && out.contains("Fiche RIB"),
            "{out}"
        );
        assert!(!out.contains("Délais de paiement"), "{out}");
    }
}
