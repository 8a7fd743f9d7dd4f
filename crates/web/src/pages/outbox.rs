//! The outbox: replies validated and waiting for (or done with) sending.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use facteur_core::OutboxState;
use maud::html;

use crate::auth::Authed;
use crate::error::WebResult;
use crate::i18n::{Lang, Msg};
use crate::views::{age, page, table_frame};
use crate::{data, AppState};
use facteur_app::shown_subject;

pub async fn outbox(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    let t = |m: Msg| m.text(lang);
    let filter = (!a.user.role.sees_all_mailboxes()).then(|| a.mailboxes.clone());
    let items = data::outbox_items(&st.store, filter, 200).await?;
    let now = st.store.now_ms();
    let body = html! {
        (table_frame(html! {
        table #outbox {
            thead { tr {
                th scope="col" { (t(Msg::ColSubject)) }
                th scope="col" { (t(Msg::ColState)) }
                th scope="col" { (t(Msg::ValidatedBy)) }
                th scope="col" { (t(Msg::Attempts)) }
                th scope="col" { (t(Msg::ColAge)) }
                th scope="col" { (t(Msg::ColDelivery)) }
            } }
            tbody {
                @for listed in &items {
                    @let o = &listed.item;
                    tr.outbox-row data-state=(o.state.as_str()) {
                        td { a href={ "/messages/" (o.message_id) } { (shown_subject(&o.subject, None, listed.from_name.as_deref(), st.is_revealed(&a.session.id, o.message_id))) } }
                        td {
                            (crate::i18n::outbox_state_label(lang, o.state))
                            @if o.state == OutboxState::Failed {
                                // The error text is the server's or the connector's
                                // (never mail content), so the agent can act on it.
                                br;
                                small.outbox-error {
                                    (if o.next_attempt_at.is_some() { t(Msg::OutboxRetry) } else { t(Msg::OutboxPermanent) })
                                    @if let Some(e) = &o.last_error { " — " (crate::pages::drafts::shown_relay_error(e)) }
                                }
                            }
                            @if let Some(u) = &o.undelivered {
                                // What the bounce said, personal data masked at
                                // triage, and the bounce itself.
                                br;
                                small.outbox-undelivered {
                                    @if let Some(s) = &u.status { (s) }
                                    @if let Some(d) = &u.diagnostic { " — " (d) }
                                    @if let Some(b) = u.bounce_message {
                                        " " a href={ "/messages/" (b) } { "↩" }
                                    }
                                }
                            }
                        }
                        td { (o.validated_by_name) }
                        td { (o.attempts) }
                        td { (age(lang, now, o.created_at)) }
                        td {
                            @if o.delivery_confirmed_at.is_some() {
                                span.delivery-confirmed title=(t(Msg::DeliveryConfirmed)) { "✓" }
                            }
                        }
                    }
                }
            }
        }
        }))
    };
    Ok(page(lang, t(Msg::Outbox), Some(&a), body).into_response())
}
