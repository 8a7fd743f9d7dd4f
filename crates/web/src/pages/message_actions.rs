//! The forms of the message page: validate, correct, reject, assign, escalate,
//! reveal, each answering with a 303 back to the message; and the knowledge-base
//! panel's search and insert, which shows the page again with the agent's text.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use facteur_kb::DocKind;
use serde::Deserialize;

use crate::actions;
use crate::auth::Authed;
use crate::error::{WebError, WebResult};
use crate::extract::{Form, Path};
use crate::i18n::{Lang, Msg};
use crate::pages::compose;
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
    /// Ticked to close the same citizen's open repeats as answered by this reply.
    #[serde(default)]
    pub close_duplicates: Option<String>,
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
    if f.close_duplicates.is_some() {
        let n = actions::close_duplicates(&st, &a, id).await?;
        tracing::info!(message = id, closed = n, "duplicates closed with the reply");
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

/// `POST /messages/{id}/close`: closed without a reply, then on to the next
/// message, as after an escalation.
pub async fn close(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<ReasonForm>,
) -> WebResult<Response> {
    let before = actions::load_message(&st, &a, id).await?;
    let next = done::next_in_tab(&st, &before).await?;
    actions::close(&st, &a, id, &f.reason).await?;
    Ok(done::advance(&before, next, Done::Closed))
}

pub async fn reveal(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    actions::reveal(&st, &a, id).await?;
    Ok(Redirect::to(&format!("/messages/{id}#original")).into_response())
}

/// The draft's form as the knowledge-base panel posts it.
#[derive(Deserialize)]
pub struct ComposeForm {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub q: String,
    /// `search`, or `answer:ID` / `fiche:ID` to insert one of the results.
    #[serde(default)]
    pub op: String,
    /// "1": the query names a standard answer (typed as `::ID` in the draft,
    /// like a text module); when one result is that answer, it is inserted.
    #[serde(default)]
    pub exact: Option<String>,
}

/// `POST /messages/{id}/compose`: search the knowledge base from the message page,
/// or insert one of the results into the draft, and show the page again with the
/// text the agent had typed.
pub async fn compose(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(id): Path<i64>,
    Form(f): Form<ComposeForm>,
) -> WebResult<Response> {
    let m = actions::load_message(&st, &a, id).await?;
    let query = f.q.trim().to_string();
    let mut text = f.text.replace("\r\n", "\n");
    let mut search = compose::Search {
        query: query.clone(),
        results: Vec::new(),
        inserted: None,
        problem: None,
    };
    match &st.service {
        None => search.problem = Some(Msg::KbUnavailable),
        Some(_) if query.is_empty() => search.problem = Some(Msg::KbEmptyQuery),
        Some(svc) => match svc.search_kb(&query, compose::RESULTS) {
            Ok((_, hits)) => search.results = hits,
            Err(e) => {
                tracing::warn!(message = id, error = %e, "knowledge-base search from the message page");
                search.problem = Some(Msg::KbUnavailable);
            }
        },
    }
    // `::ID` typed in the draft: the answer of that id, when the search found it.
    let named = (f.op == "search" && f.exact.as_deref() == Some("1"))
        .then(|| {
            search
                .results
                .iter()
                .find(|h| h.hit.kind == DocKind::Answer && h.hit.id.eq_ignore_ascii_case(&query))
                .map(|h| format!("answer:{}", h.hit.id))
        })
        .flatten();
    if let Some((kind, doc)) = named.as_deref().unwrap_or(&f.op).split_once(':') {
        // Only what the agent was shown for this query can be inserted.
        let hit = search
            .results
            .iter()
            .find(|h| h.hit.id == doc && h.hit.kind.as_str() == kind);
        match hit {
            None => search.problem = Some(Msg::KbInsertGone),
            Some(h) => {
                let insert = match h.hit.kind {
                    DocKind::Answer => compose::answer_text(&st, id, h).await,
                    DocKind::Fiche => compose::fiche_text(h),
                };
                let revealed = st.is_revealed(&a.session.id, id);
                let shown =
                    crate::pages::drafts::shown_draft(&insert, m.from_name.as_deref(), revealed);
                compose::append(&mut text, &shown);
                search.inserted = Some(h.hit.title.clone());
            }
        }
    }
    let kept = Kept {
        text: Some(text),
        refused: None,
        search: Some(search),
    };
    render(&st, lang, &a, id, MessageParams::default(), kept).await
}
