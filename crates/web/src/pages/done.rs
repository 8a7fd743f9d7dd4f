//! After an action the agent moves on to the next message of the same view
//! (auto-advance), and a banner says what was done, with "Annuler l'envoi" while
//! a validated reply is still held by the outbox. The banner is named in the
//! next page's address (`?done=validated&of=ID`): forging one offers only an
//! undo form that the server checks like any other.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use facteur_core::MessageState;
use facteur_store::{QueueCursor, QueuePage, QueueQuery, QueueSort};
use maud::{html, Markup};

use super::tabs::TABS;
use crate::actions;
use crate::auth::Authed;
use crate::error::{WebError, WebResult};
use crate::extract::Path;
use crate::i18n::{Lang, Msg};
use crate::views::csrf_input;
use crate::AppState;

/// What the banner reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Validated,
    Escalated,
    Closed,
    Undone,
}

impl Done {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "validated" => Some(Self::Validated),
            "escalated" => Some(Self::Escalated),
            "closed" => Some(Self::Closed),
            "undone" => Some(Self::Undone),
            _ => None,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::Validated => "validated",
            Self::Escalated => "escalated",
            Self::Closed => "closed",
            Self::Undone => "undone",
        }
    }
}

/// The tab a message in `state` is listed under.
pub fn tab_of(
    state: MessageState,
) -> Option<&'static (&'static str, Msg, &'static [MessageState])> {
    TABS.iter().find(|(_, _, states)| states.contains(&state))
}

/// The next message after `m` in its tab (oldest first, as the queue lists it).
pub async fn next_in_tab(st: &AppState, m: &facteur_store::Message) -> WebResult<Option<i64>> {
    let Some((_, _, states)) = tab_of(m.state) else {
        return Ok(None);
    };
    Ok(st
        .store
        .list_queue(&QueueQuery {
            mailbox_ids: Some(vec![m.mailbox_id]),
            states: states.to_vec(),
            category: None,
            assigned_to: None,
            search: None,
            received: None,
            sort: QueueSort::Age,
            page: QueuePage::After(QueueCursor {
                received_at: m.received_at,
                confidence: m.confidence.map(f64::from).unwrap_or(-1.0),
                id: m.id,
            }),
            limit: 1,
        })
        .await?
        .first()
        .map(|r| r.id))
}

/// Where the agent goes after `done` on message `m` (read before the action):
/// the next message of the same tab, else that tab of the queue; the banner
/// rides along.
pub fn advance(m: &facteur_store::Message, next: Option<i64>, done: Done) -> Response {
    let banner = format!("done={}&of={}", done.code(), m.id);
    let to = match next {
        Some(n) => format!("/messages/{n}?{banner}"),
        None => {
            let tab = tab_of(m.state).map(|t| t.0).unwrap_or("ready");
            format!("/mailboxes/{}/queue?tab={tab}&{banner}", m.mailbox_id)
        }
    };
    Redirect::to(&to).into_response()
}

/// "Annuler l'envoi": the reply is taken back and its text returned to the
/// agent on the message page.
pub async fn undo_send(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    actions::load_message(&st, &a, id).await?;
    match st.store.cancel_send(id, a.user.id).await {
        Ok(_) => Ok(Redirect::to(&format!("/messages/{id}?done=undone&of={id}")).into_response()),
        Err(facteur_store::StoreError::InvalidState { .. }) => {
            Err(WebError::conflict(Msg::UndoTooLate))
        }
        // Taken back already, or never validated: said in words, not a 404.
        Err(facteur_store::StoreError::NotFound { .. }) => {
            Err(WebError::conflict(Msg::UndoNothingHeld))
        }
        Err(e) => Err(e.into()),
    }
}

/// Seconds left before the outbox releases `reply`, while the agent can still
/// take it back.
pub fn held_seconds(reply: Option<&facteur_store::OutboxItem>, now: i64) -> Option<i64> {
    reply
        .and_then(|o| o.held_until(now))
        .map(|t| (t - now + 999) / 1000)
}

/// The banner for `done` on message `of`, if that message is this agent's to see.
pub async fn banner(
    st: &AppState,
    lang: Lang,
    a: &Authed,
    done: Option<&str>,
    of: Option<i64>,
) -> WebResult<Markup> {
    let (Some(done), Some(of)) = (done.and_then(Done::parse), of) else {
        return Ok(html! {});
    };
    let Ok(m) = actions::load_message(st, a, of).await else {
        return Ok(html! {});
    };
    let t = |m: Msg| m.text(lang);
    let held = match done {
        Done::Validated if m.state == MessageState::Validated => {
            let reply = st.store.get_outbox_for_message(of).await?;
            held_seconds(reply.as_ref(), st.store.now_ms())
        }
        _ => None,
    };
    Ok(html! {
        div #done-banner.done-banner role="status" data-done=(done.code()) {
            @match done {
                Done::Validated => {
                    p {
                        strong { (t(Msg::DoneValidated)) }
                        @if let Some(s) = held {
                            " " (t(Msg::DoneSendIn)) " " span #undo-seconds { (s) } " s"
                        }
                        " — " a href={ "/messages/" (of) } { (t(Msg::DoneSeeMessage)) }
                    }
                    @if held.is_some() {
                        form #undo-send-form method="post" action={ "/messages/" (of) "/undo-send" } {
                            (csrf_input(a))
                            button.fr-btn #undo-send type="submit" { (t(Msg::UndoSend)) }
                        }
                    }
                }
                Done::Escalated => {
                    p { strong { (t(Msg::DoneEscalated)) } " — " a href={ "/messages/" (of) } { (t(Msg::DoneSeeMessage)) } }
                }
                Done::Closed => {
                    p { strong { (t(Msg::DoneClosed)) } " — " a href={ "/messages/" (of) } { (t(Msg::DoneSeeMessage)) } }
                }
                Done::Undone => {
                    p { strong { (t(Msg::DoneUndone)) } }
                }
            }
        }
    })
}
