//! Standard answers (supervisors): list, write, edit, validate, retire.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use facteur_core::{AnswerStatus, Role};
use facteur_kb::answers::parse_answer;
use facteur_store::NewAnswerVersion;
use maud::{html, Markup};
use serde::Deserialize;

use super::queue::urlencode;
use crate::auth::Authed;
use crate::error::{Detail, WebError, WebResult, Word};
use crate::extract::{Form, Path};
use crate::i18n::{Lang, Msg};
use crate::views::{answer_status_label, csrf_input, page};
use crate::{data, AppState};

pub async fn answers(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let t = |m: Msg| m.text(lang);
    let list = data::all_answers(&st.store).await?;
    let body = html! {
        p { a #new-answer href="/answers/new" { (t(Msg::NewAnswer)) } }
        div.fr-table { div.fr-table__wrapper { div.fr-table__container { div.fr-table__content {
        table #answers {
            thead { tr {
                th scope="col" { (t(Msg::AnswerId)) }
                th scope="col" { (t(Msg::Title)) }
                th scope="col" { (t(Msg::Language)) }
                th scope="col" { (t(Msg::Version)) }
                th scope="col" { (t(Msg::Status)) }
            } }
            tbody {
                @for v in &list {
                    tr.answer-row {
                        td { a href={ "/answers/" (urlencode(&v.answer_id)) } { (v.answer_id) } }
                        td { (v.title) }
                        td { (v.language) }
                        td { (v.version) }
                        td data-status=(v.status.as_str()) { span class={ "fr-badge fr-badge--sm fr-badge--no-icon " (answer_badge(v.status)) } { (answer_status_label(lang, v.status)) } }
                    }
                }
            }
        }
        } } } }
    };
    Ok(page(lang, t(Msg::StandardAnswers), Some(&a), body).into_response())
}

fn answer_form(
    lang: Lang,
    a: &Authed,
    action: &str,
    content: &str,
    errors: &[(usize, Detail)],
) -> Markup {
    let t = |m: Msg| m.text(lang);
    html! {
        @if !errors.is_empty() {
            section #answer-errors role="alert" aria-labelledby="errors-h" {
                h2 #errors-h { (t(Msg::ValidationErrors)) }
                ul { @for (line, msg) in errors { li { (t(Msg::Line)) " " (line) " : " (msg.text(lang)) } } }
            }
        }
        form #answer-form method="post" action=(action) {
            (csrf_input(a))
            label for="content" { (t(Msg::Content)) }
            textarea #content name="content" rows="24" cols="90" { (content) }
            button.fr-btn type="submit" { (t(Msg::SaveNewVersion)) }
        }
    }
}

pub async fn answer_new(lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    Ok(page(
        lang,
        Msg::NewAnswer.text(lang),
        Some(&a),
        answer_form(lang, &a, "/answers", "", &[]),
    )
    .into_response())
}

#[derive(Deserialize)]
pub struct AnswerForm {
    pub content: String,
}

/// A knowledge-base validation error in the agent's language, by kind, with the
/// field or value the library quoted between backticks; the line is shown beside it.
fn answer_error_detail(e: &facteur_kb::answers::AnswerError) -> Detail {
    use facteur_kb::answers::AnswerErrorKind as K;
    let msg = match e.kind {
        K::Io => Msg::AnswerErrIo,
        K::FrontMatter => Msg::AnswerErrFrontMatter,
        K::MissingField => Msg::AnswerErrMissingField,
        K::UndeclaredVariable => Msg::AnswerErrUndeclaredVariable,
        K::UnusedVariable => Msg::AnswerErrUnusedVariable,
        K::UnknownRequestType => Msg::AnswerErrUnknownRequestType,
        K::Expired => Msg::AnswerErrExpired,
        K::InvalidDates => Msg::AnswerErrInvalidDates,
        K::LinkNotWhitelisted => Msg::AnswerErrLinkNotWhitelisted,
        K::Duplicate => Msg::AnswerErrDuplicate,
    };
    let quoted = e.message.split('`').nth(1).filter(|q| !q.is_empty());
    Detail(vec![Word::Fill(msg, quoted.map(str::to_string))])
}

/// Validates an answer file with the knowledge base's own rules (front matter,
/// variables, links, dates, taxonomy) and stores it as a new draft version.
async fn save_answer(
    st: &AppState,
    a: &Authed,
    expected_id: Option<&str>,
    content: &str,
) -> WebResult<Result<String, Vec<(usize, Detail)>>> {
    let content = content.replace("\r\n", "\n");
    let today = facteur_kb::Date::today();
    let parsed = parse_answer(
        std::path::Path::new("answer.md"),
        &content,
        Some(st.taxonomy.as_ref()),
        today,
    );
    let ans = match parsed {
        Ok(ans) => ans,
        Err(errs) => {
            return Ok(Err(errs
                .iter()
                .map(|e| (e.line, answer_error_detail(e)))
                .collect()))
        }
    };
    if let Some(id) = expected_id {
        if ans.id != id {
            return Ok(Err(vec![(1, Detail::about(Msg::AnswerIdMustStay, id))]));
        }
    }
    st.store
        .create_answer_version(&NewAnswerVersion {
            answer_id: ans.id.clone(),
            title: ans.title.clone(),
            language: ans.language.clone(),
            content: content.clone(),
            valid_from: Some(ans.valid_from.to_string()),
            valid_until: Some(ans.valid_until.to_string()),
            author_id: Some(a.user.id),
        })
        .await?;
    Ok(Ok(ans.id))
}

pub async fn answer_create(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Form(f): Form<AnswerForm>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    match save_answer(&st, &a, None, &f.content).await? {
        Ok(id) => Ok(Redirect::to(&format!("/answers/{}", urlencode(&id))).into_response()),
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                lang,
                Msg::NewAnswer.text(lang),
                Some(&a),
                answer_form(lang, &a, "/answers", &f.content, &errors),
            ),
        )
            .into_response()),
    }
}

async fn answer_page(
    st: &AppState,
    lang: Lang,
    a: &Authed,
    id: &str,
    draft: Option<(&str, &[(usize, Detail)])>,
) -> WebResult<Html<String>> {
    let t = |m: Msg| m.text(lang);
    let versions = st.store.list_answer_versions(id).await?;
    if versions.is_empty() {
        return Err(WebError::NotFound);
    }
    let latest = versions
        .iter()
        .max_by_key(|v| v.version)
        .map(|v| v.content.clone())
        .unwrap_or_default();
    let (content, errors) = draft.unwrap_or((&latest, &[]));
    let action = format!("/answers/{}", urlencode(id));
    let body = html! {
        div.fr-table { div.fr-table__wrapper { div.fr-table__container { div.fr-table__content {
        table #versions {
            thead { tr {
                th scope="col" { (t(Msg::Version)) }
                th scope="col" { (t(Msg::Language)) }
                th scope="col" { (t(Msg::Status)) }
                th scope="col" { (t(Msg::ValidFrom)) }
                th scope="col" { (t(Msg::ValidUntil)) }
                th scope="col" { "" }
            } }
            tbody {
                @for v in &versions {
                    tr {
                        td { (v.version) } td { (v.language) } td data-status=(v.status.as_str()) { span class={ "fr-badge fr-badge--sm fr-badge--no-icon " (answer_badge(v.status)) } { (answer_status_label(lang, v.status)) } }
                        td { (v.valid_from.as_deref().unwrap_or("")) } td { (v.valid_until.as_deref().unwrap_or("")) }
                        td {
                            // Four eyes: the author sees who must act, not a
                            // button the store would refuse.
                            @if v.status == AnswerStatus::Draft && v.author_id == Some(a.user.id) {
                                span.awaits-validation { (t(Msg::AwaitsAnotherSupervisor)) }
                            } @else if v.status == AnswerStatus::Draft {
                                form method="post" action={ (action) "/" (v.version) "/validate" } {
                                    (csrf_input(a)) button.fr-btn type="submit" { (t(Msg::ValidateAnswer)) }
                                }
                            }
                            @if v.status != AnswerStatus::Retired {
                                form method="post" action={ (action) "/" (v.version) "/retire" } {
                                    (csrf_input(a)) button.fr-btn.fr-btn--secondary type="submit" { (t(Msg::Retire)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        } } } }
        h2 { (t(Msg::Edit)) }
        (answer_form(lang, a, &action, content, errors))
    };
    Ok(page(
        lang,
        &format!("{} — {id}", t(Msg::StandardAnswers)),
        Some(a),
        body,
    ))
}

pub async fn answer_edit(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(id): Path<String>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    Ok(answer_page(&st, lang, &a, &id, None).await?.into_response())
}

pub async fn answer_save(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    match save_answer(&st, &a, Some(&id), &f.content).await? {
        Ok(id) => Ok(Redirect::to(&format!("/answers/{}", urlencode(&id))).into_response()),
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            answer_page(&st, lang, &a, &id, Some((&f.content, &errors))).await?,
        )
            .into_response()),
    }
}

async fn set_answer_status(
    st: &AppState,
    a: &Authed,
    id: &str,
    version: i64,
    status: AnswerStatus,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    st.store
        .set_answer_status(id, version, status, a.user.id)
        .await?;
    // The retired version's text must not stay in pending drafts.
    crate::actions::rebuild_stale_drafts(st).await;
    Ok(Redirect::to(&format!("/answers/{}", urlencode(id))).into_response())
}

pub async fn answer_retire(
    State(st): State<AppState>,
    a: Authed,
    Path((id, version)): Path<(String, i64)>,
) -> WebResult<Response> {
    set_answer_status(&st, &a, &id, version, AnswerStatus::Retired).await
}

pub async fn answer_validate(
    State(st): State<AppState>,
    a: Authed,
    Path((id, version)): Path<(String, i64)>,
) -> WebResult<Response> {
    set_answer_status(&st, &a, &id, version, AnswerStatus::Validated).await
}

/// The DSFR badge colour of an answer's status.
fn answer_badge(s: facteur_core::AnswerStatus) -> &'static str {
    use facteur_core::AnswerStatus;
    match s {
        AnswerStatus::Draft => "fr-badge--new",
        AnswerStatus::Validated => "fr-badge--success",
        AnswerStatus::Retired => "",
    }
}
