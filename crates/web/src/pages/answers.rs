//! Standard answers (supervisors): the list, each answer's versions (status,
//! diff with the one before, the file to download), and the actions: save a
//! draft, submit it for validation, validate (another supervisor: four eyes),
//! retire. The editor itself is `answer_editor.rs`, the versions and their
//! actions `answer_versions.rs`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use facteur_core::Role;
use facteur_kb::answers::parse_answer;
use facteur_store::NewAnswerVersion;
use maud::html;
use serde::Deserialize;

use super::answer_editor::{editor, preview, read_file, read_form, Editor, Fields, Op, Posted};
use super::answer_versions::{answer_badge, versions_table};
use super::queue::urlencode;
use crate::auth::Authed;
use crate::error::{Detail, WebError, WebResult, Word};
use crate::extract::{Form, Path};
use crate::i18n::{Lang, Msg};
use crate::views::{answer_status_label, page, table_frame};
use crate::{data, AppState};

pub async fn answers(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let t = |m: Msg| m.text(lang);
    let list = data::all_answers(&st.store).await?;
    let body = html! {
        p { a #new-answer href="/answers/new" { (t(Msg::NewAnswer)) } }
        (table_frame(html! {
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
        }))
    };
    Ok(page(lang, t(Msg::StandardAnswers), Some(&a), body).into_response())
}

/// A new answer's form: today onwards for two years, and the greeting and
/// signature every answer has (`answers/README.md`).
fn blank_fields() -> Fields {
    let today = facteur_kb::Date::today();
    Fields {
        language: "fr".into(),
        valid_from: today.to_string(),
        valid_until: facteur_kb::Date::new(today.year + 2, 12, 31).to_string(),
        body: "Bonjour {{civilite}} {{nom}},\n\n\n\nNous restons à votre disposition.\n\n{{signature}}\n".into(),
        ..Fields::default()
    }
}

pub async fn answer_new(State(st): State<AppState>, lang: Lang, a: Authed) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let fields = blank_fields();
    let body = editor(
        &st,
        lang,
        &a,
        &Editor {
            action: "/answers",
            new: true,
            fields: &fields,
            file: "",
            errors: &[],
            preview: None,
        },
    );
    Ok(page(lang, Msg::NewAnswer.text(lang), Some(&a), body).into_response())
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
/// variables, links, dates, taxonomy) and stores it as a new draft version;
/// returns its id and version.
async fn save_answer(
    st: &AppState,
    a: &Authed,
    expected_id: Option<&str>,
    content: &str,
) -> WebResult<Result<(String, i64), Vec<(usize, Detail)>>> {
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
    let version = st
        .store
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
    Ok(Ok((ans.id, version)))
}

/// What the editor shows after a post that stored nothing: the posted form or
/// file, with the errors found or the preview asked for.
struct Again {
    fields: Fields,
    file: String,
    errors: Vec<(usize, Detail)>,
    preview: Option<(String, Vec<String>)>,
}

/// Handles a posted editor (new answer: `id` is `None`): a preview, or a new
/// version saved as a draft or submitted. `Err` is the editor to show again.
async fn posted(
    st: &AppState,
    a: &Authed,
    id: Option<&str>,
    pairs: &[(String, String)],
) -> WebResult<Result<(String, &'static str), Again>> {
    let (op, form) = read_form(pairs);
    let versions = match id {
        Some(id) => st.store.list_answer_versions(id).await?,
        None => Vec::new(),
    };
    let previous = versions
        .iter()
        .max_by_key(|v| v.version)
        .and_then(|v| read_file(&v.content));
    let next = versions.iter().map(|v| v.version).max().unwrap_or(0) + 1;
    let next = u32::try_from(next).unwrap_or(u32::MAX);
    // The file to judge and store, and the form to show again if it fails.
    let (content, fields, line_numbers) = match form {
        Posted::File(content) => {
            let fields = read_file(&content)
                .map(|f| Fields::of(&f))
                .unwrap_or_else(blank_fields);
            (Ok(content), fields, true)
        }
        Posted::Form(mut fields) => {
            if let Some(id) = id {
                // The id is the answer's, not the form's.
                fields.id = id.to_string();
            }
            let file = fields
                .to_file(next, &a.user.display_name, previous.as_ref())
                .map_err(|e| e.into_iter().map(|d| (0, d)).collect::<Vec<_>>());
            (file, fields, false)
        }
    };
    let again = |file: String, errors: Vec<(usize, Detail)>, preview| Again {
        fields: fields.clone(),
        file,
        errors,
        preview,
    };
    let content = match content {
        Ok(c) => c,
        Err(errors) => return Ok(Err(again(String::new(), errors, None))),
    };
    if op == Op::Preview {
        let shown = match read_file(&content) {
            Some(answer) => Some(preview(&answer, &signature_example(st, a).await)),
            None => None,
        };
        return Ok(Err(again(content, Vec::new(), shown)));
    }
    match save_answer(st, a, id, &content).await? {
        Ok((id, version)) => {
            let done = if op == Op::Submit {
                st.store
                    .submit_answer_version(&id, version, a.user.id)
                    .await?;
                "answer-submitted"
            } else {
                "answer-saved"
            };
            Ok(Ok((id, done)))
        }
        Err(mut errors) => {
            if !line_numbers {
                // Lines of a file the supervisor never saw: the messages name
                // the field.
                for e in &mut errors {
                    e.0 = 0;
                }
            }
            Ok(Err(again(content, errors, None)))
        }
    }
}

/// The signature a preview closes with: the supervisor's first mailbox's, or an
/// example.
async fn signature_example(st: &AppState, a: &Authed) -> String {
    let mailboxes = st.store.list_mailboxes().await.unwrap_or_default();
    mailboxes
        .iter()
        .find(|m| a.user.role != Role::Agent && !m.signature.trim().is_empty())
        .map(|m| m.signature.clone())
        .unwrap_or_else(|| "Le service des impôts des particuliers".into())
}

pub async fn answer_create(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Form(pairs): Form<Vec<(String, String)>>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    match posted(&st, &a, None, &pairs).await? {
        Ok((id, done)) => {
            Ok(Redirect::to(&format!("/answers/{}?ok={done}", urlencode(&id))).into_response())
        }
        Err(again) => {
            let status = if again.errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let body = editor(
                &st,
                lang,
                &a,
                &Editor {
                    action: "/answers",
                    new: true,
                    fields: &again.fields,
                    file: &again.file,
                    errors: &again.errors,
                    preview: again.preview,
                },
            );
            Ok((
                status,
                page(lang, Msg::NewAnswer.text(lang), Some(&a), body),
            )
                .into_response())
        }
    }
}

/// `?diff=N` compares version N with the one before. (What the last action
/// did is the page skeleton's `?ok=` banner.)
#[derive(Deserialize, Default)]
pub struct AnswerQuery {
    pub diff: Option<i64>,
}

async fn answer_page(
    st: &AppState,
    lang: Lang,
    a: &Authed,
    id: &str,
    q: &AnswerQuery,
    again: Option<Again>,
) -> WebResult<Html<String>> {
    let t = |m: Msg| m.text(lang);
    let versions = st.store.list_answer_versions(id).await?;
    let Some(latest) = versions.iter().max_by_key(|v| v.version) else {
        return Err(WebError::NotFound);
    };
    let again = again.unwrap_or_else(|| Again {
        fields: read_file(&latest.content)
            .map(|f| Fields::of(&f))
            .unwrap_or_else(blank_fields),
        file: latest.content.clone(),
        errors: Vec::new(),
        preview: None,
    });
    let action = format!("/answers/{}", urlencode(id));
    let diff = match q.diff {
        Some(n) => {
            let new = versions.iter().find(|v| v.version == n);
            let old = versions
                .iter()
                .filter(|v| v.version < n)
                .max_by_key(|v| v.version);
            match (old, new) {
                (Some(old), Some(new)) => Some(super::answer_diff::diff(lang, old, new)),
                _ => return Err(WebError::NotFound),
            }
        }
        None => None,
    };
    let body = html! {
        (versions_table(lang, a, &action, &versions))
        @if let Some(d) = diff { (d) }
        h2 { (t(Msg::Edit)) }
        (editor(st, lang, a, &Editor {
            action: &action,
            new: false,
            fields: &again.fields,
            file: &again.file,
            errors: &again.errors,
            preview: again.preview,
        }))
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
    Query(q): Query<AnswerQuery>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    Ok(answer_page(&st, lang, &a, &id, &q, None)
        .await?
        .into_response())
}

pub async fn answer_save(
    State(st): State<AppState>,
    lang: Lang,
    a: Authed,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    match posted(&st, &a, Some(&id), &pairs).await? {
        Ok((id, done)) => {
            Ok(Redirect::to(&format!("/answers/{}?ok={done}", urlencode(&id))).into_response())
        }
        Err(again) => {
            let status = if again.errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let page =
                answer_page(&st, lang, &a, &id, &AnswerQuery::default(), Some(again)).await?;
            Ok((status, page).into_response())
        }
    }
}
