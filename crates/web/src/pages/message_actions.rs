//! The forms of the message page: validate, correct, reject, assign, escalate,
//! reveal. Each answers with a 303 back to the message.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::actions;
use crate::auth::Authed;
use crate::error::{WebError, WebResult};
use crate::extract::{Form, Path};
use crate::i18n::Lang;
use crate::pages::done::{self, Done};
use crate::pages::message::{render, Kept, MessageParams};
use crate::pages::presence;
use crate::AppState;

#[derive(Deserialize)]
pub struct TextForm {
    pub text: String,
    /// Ticked when the last mail from the recipient was an auto-reply.
    #[serde(default)]
    pub confirm_automatic: Option<String>,
    /// Ticked to send a draft built on a retired answer version.
    #[serde(default)]
    pub confirm_retired: Option<String>,
}

#[derive(Deserialize)]
pub struct CategoryForm {
    pub category: String,
}

#[derive(Deserialize)]
pub struct ReasonForm {
    pub reason: String,
}

#[derive(Deserialize)]
pub struct AssignForm {
    pub user_id: i64,
}

fn back_to(id: i64) -> Response {
    Redirect::to(&format!("/messages/{id}")).into_response()
}

pub async fn validate(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<TextForm>,
) -> WebResult<Response> {
    // Where to go next is read before the message leaves its tab.
    let before = actions::load_message(&st, &a, id).await?;
    let next = done::next_in_tab(&st, &before).await?;
    let done = actions::validate(
        &st,
        &a,
        id,
        &f.text,
        f.confirm_automatic.is_some(),
        f.confirm_retired.is_some(),
    )
    .await;
    match done {
        Ok(_) => {}
        // What the agent can put right on the page: back to it, text kept.
        Err(error @ WebError::Conflict { .. }) => {
            // Someone else acted first: say who and what, the text kept.
            let actions = st.store.list_actions(id).await?;
            let users = st.store.list_users().await?;
            let error = presence::conflict_with_others(error, a.user.id, &actions, &users);
            let kept = Kept {
                text: Some(f.text),
                refused: Some(error),
                search: None,
            };
            return render(&st, lang, &a, id, MessageParams::default(), kept).await;
        }
        Err(error @ WebError::ReplyRefused(_)) => {
            let kept = Kept {
                text: Some(f.text),
                refused: Some(error),
                search: None,
            };
            return render(&st, lang, &a, id, MessageParams::default(), kept).await;
        }
        Err(e) => return Err(e),
    }
    Ok(done::advance(&before, next, Done::Validated))
}

pub async fn correct(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<CategoryForm>,
) -> WebResult<Response> {
    actions::correct(&st, &a, id, &f.category).await?;
    Ok(back_to(id))
}

pub async fn reject(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<ReasonForm>,
) -> WebResult<Response> {
    actions::reject(&st, &a, id, &f.reason).await?;
    Ok(back_to(id))
}

pub async fn assign(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<AssignForm>,
) -> WebResult<Response> {
    actions::assign(&st, &a, id, f.user_id).await?;
    Ok(back_to(id))
}

pub async fn rebuild(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    actions::rebuild(&st, &a, id).await?;
    Ok(back_to(id))
}

pub async fn escalate(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<ReasonForm>,
) -> WebResult<Response> {
    let before = actions::load_message(&st, &a, id).await?;
    let next = done::next_in_tab(&st, &before).await?;
    actions::escalate(&st, &a, id, &f.reason).await?;
    Ok(done::advance(&before, next, Done::Escalated))
}

pub async fn reveal(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    actions::reveal(&st, &a, id).await?;
    Ok(Redirect::to(&format!("/messages/{id}#original")).into_response())
}
