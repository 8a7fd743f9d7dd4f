//! A standard answer's versions: the history table (state, diff with the one
//! before, the file to download) and what a supervisor does to one version:
//! submit it (its author), validate it (another supervisor: four eyes), retire
//! it, or download it as an answer file, the import format.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use facteur_core::{AnswerStatus, Role};
use facteur_store::AnswerVersion;
use maud::{html, Markup};

use super::queue::urlencode;
use crate::auth::Authed;
use crate::error::{WebError, WebResult};
use crate::extract::Path;
use crate::i18n::{Lang, Msg};
use crate::views::{answer_status_label, csrf_input, table_frame};
use crate::AppState;

/// A version's state in words: a draft is still being written, or submitted
/// and waiting for another supervisor.
fn version_state(lang: Lang, v: &AnswerVersion) -> (&'static str, &'static str) {
    if v.status == AnswerStatus::Draft && v.submitted_at.is_some() {
        (Msg::AnswerSubmitted.text(lang), "fr-badge--info")
    } else {
        (answer_status_label(lang, v.status), answer_badge(v.status))
    }
}

/// Whether `v` may be validated now: a draft its author submitted (or one the
/// CLI imported, which has no author).
fn awaits_validation(v: &AnswerVersion) -> bool {
    v.status == AnswerStatus::Draft && (v.submitted_at.is_some() || v.author_id.is_none())
}

pub(super) fn versions_table(
    lang: Lang,
    a: &Authed,
    action: &str,
    versions: &[AnswerVersion],
) -> Markup {
    let t = |m: Msg| m.text(lang);
    html! {
        (table_frame(html! {
        table #versions {
            caption { (t(Msg::VersionHistory)) }
            thead { tr {
                th scope="col" { (t(Msg::Version)) }
                th scope="col" { (t(Msg::Language)) }
                th scope="col" { (t(Msg::Status)) }
                th scope="col" { (t(Msg::ValidFrom)) }
                th scope="col" { (t(Msg::ValidUntil)) }
                th scope="col" { (t(Msg::Actions)) }
            } }
            tbody {
                @for v in versions {
                    @let (state, badge) = version_state(lang, v);
                    tr data-version=(v.version) {
                        td { (v.version) } td { (v.language) }
                        td data-status=(v.status.as_str()) data-submitted=(v.submitted_at.is_some()) {
                            span class={ "fr-badge fr-badge--sm fr-badge--no-icon " (badge) } { (state) }
                        }
                        td { (v.valid_from.as_deref().unwrap_or("")) } td { (v.valid_until.as_deref().unwrap_or("")) }
                        td.version-actions {
                            @if v.version > 1 {
                                a.fr-link href={ (action) "?diff=" (v.version) "#answer-diff" } { (t(Msg::CompareWithPrevious)) }
                                " "
                            }
                            a.fr-link href={ (action) "/" (v.version) "/fichier" } download { (t(Msg::DownloadFile)) }
                            // Four eyes: the author submits, another supervisor
                            // validates; each sees only the button that is theirs.
                            @if v.status == AnswerStatus::Draft && v.author_id == Some(a.user.id) {
                                @if v.submitted_at.is_some() {
                                    p.awaits-validation { (t(Msg::AwaitsAnotherSupervisor)) }
                                } @else {
                                    form method="post" action={ (action) "/" (v.version) "/submit" } {
                                        (csrf_input(a)) button.fr-btn.fr-btn--sm type="submit" { (t(Msg::SubmitForValidation)) }
                                    }
                                }
                            } @else if awaits_validation(v) {
                                form method="post" action={ (action) "/" (v.version) "/validate" } {
                                    (csrf_input(a)) button.fr-btn.fr-btn--sm type="submit" { (t(Msg::ValidateAnswer)) }
                                }
                            } @else if v.status == AnswerStatus::Draft {
                                p.note { (t(Msg::DraftNotSubmitted)) }
                            }
                            @if v.status != AnswerStatus::Retired {
                                form method="post" action={ (action) "/" (v.version) "/retire" } {
                                    (csrf_input(a)) button.fr-btn.fr-btn--sm.fr-btn--secondary type="submit" { (t(Msg::Retire)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        }))
    }
}

/// The stored version `v` of answer `id`, or 404.
async fn version_of(st: &AppState, id: &str, v: i64) -> WebResult<AnswerVersion> {
    st.store
        .get_answer_version(id, v)
        .await?
        .ok_or(WebError::NotFound)
}

/// Moves version `version` of answer `id` to `status` in the store, then
/// rebuilds the pending drafts (a retired text must not stay in them, a newly
/// validated one replaces its predecessor's), and says so with banner `ok`.
async fn set_status(
    st: &AppState,
    a: &Authed,
    id: &str,
    version: i64,
    status: AnswerStatus,
    ok: &str,
) -> WebResult<Response> {
    st.store
        .set_answer_status(id, version, status, a.user.id)
        .await?;
    crate::actions::rebuild_stale_drafts(st).await;
    Ok(Redirect::to(&format!("/answers/{}?ok={ok}", urlencode(id))).into_response())
}

pub async fn answer_retire(
    State(st): State<AppState>,
    a: Authed,
    Path((id, version)): Path<(String, i64)>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    set_status(
        &st,
        &a,
        &id,
        version,
        AnswerStatus::Retired,
        "answer-retired",
    )
    .await
}

pub async fn answer_validate(
    State(st): State<AppState>,
    a: Authed,
    Path((id, version)): Path<(String, i64)>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    // Only what its author submitted is validated: a draft still being written
    // is not offered, and a forged request for one is refused here.
    let v = version_of(&st, &id, version).await?;
    if v.status == AnswerStatus::Draft && !awaits_validation(&v) && v.author_id != Some(a.user.id) {
        return Err(WebError::conflict(Msg::AnswerNotSubmitted));
    }
    set_status(
        &st,
        &a,
        &id,
        version,
        AnswerStatus::Validated,
        "answer-validated",
    )
    .await
}

/// "Soumettre pour validation" on a draft already saved (its author only).
pub async fn answer_submit(
    State(st): State<AppState>,
    a: Authed,
    Path((id, version)): Path<(String, i64)>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let v = version_of(&st, &id, version).await?;
    if v.author_id != Some(a.user.id) {
        return Err(WebError::Forbidden);
    }
    st.store
        .submit_answer_version(&id, version, a.user.id)
        .await?;
    Ok(Redirect::to(&format!("/answers/{}?ok=answer-submitted", urlencode(&id))).into_response())
}

/// A version as an answer file, the import format, with its real version number
/// and status written in (the stored text keeps what was typed when it was saved).
pub async fn answer_file(
    State(st): State<AppState>,
    a: Authed,
    Path((id, version)): Path<(String, i64)>,
) -> WebResult<Response> {
    a.require_role(Role::Supervisor)?;
    let v = version_of(&st, &id, version).await?;
    let file = with_stored_status(&v.content, v.version, v.status);
    let name = format!("{}.{}.md", v.answer_id, v.language).replace(
        |c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'),
        "_",
    );
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        file,
    )
        .into_response())
}

/// `content` with its front matter's `version` and `status` lines set to the
/// store's.
fn with_stored_status(content: &str, version: i64, status: AnswerStatus) -> String {
    let mut out = String::with_capacity(content.len());
    let mut fences = 0;
    for line in content.split_inclusive('\n') {
        if line.trim_end() == "+++" {
            fences += 1;
        }
        let key = line.split('=').next().unwrap_or("").trim();
        if fences == 1 && key == "version" {
            out.push_str(&format!("version = {version}\n"));
        } else if fences == 1 && key == "status" {
            out.push_str(&format!("status = \"{}\"\n", status.as_str()));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The DSFR badge colour of an answer's status.
pub(super) fn answer_badge(s: facteur_core::AnswerStatus) -> &'static str {
    use facteur_core::AnswerStatus;
    match s {
        AnswerStatus::Draft => "fr-badge--new",
        AnswerStatus::Validated => "fr-badge--success",
        AnswerStatus::Retired => "",
    }
}
