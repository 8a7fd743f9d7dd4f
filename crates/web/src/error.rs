//! One error type for every handler. A handler returns it without knowing whether
//! the caller is a browser or an API client: `into_response` only tags the response,
//! and the `render_errors` middleware (which sees the path and the language) turns
//! it into an HTML page, a redirect to /login, or a JSON body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use facteur_core::reply::ReplyProblem;
use facteur_store::StoreError;

use crate::i18n::{Lang, Msg};

/// What exactly was wrong, built from the one catalogue (`Msg`) and the values it
/// is about, so that it reads in the agent's language: the page shows it under the
/// error's headline; the API and the logs use the English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail(pub Vec<Word>);

/// A piece of a [`Detail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    /// A sentence or phrase of the catalogue.
    Msg(Msg),
    /// A value as it is (a name, an answer's id), the same in both languages.
    Text(String),
    /// A value the user sent, quoted after a colon: ` : « x »`, `: 'x'`.
    Quoted(String),
    /// A colon as each language spaces it: ` : `, `: `.
    Colon,
    /// A sentence of the catalogue whose `{}` takes a value, quoted as each
    /// language quotes (« x », `x`); without a value, the `{}` goes.
    Fill(Msg, Option<String>),
    /// An instant, as agents read it.
    Time(i64),
    /// Technical words only the English shows (axum's reason for a rejection).
    EnglishOnly(String),
}

impl Detail {
    /// The sentence `msg` alone.
    pub fn of(msg: Msg) -> Self {
        Self(vec![Word::Msg(msg)])
    }

    /// The sentence `msg` about `value`.
    pub fn about(msg: Msg, value: impl std::fmt::Display) -> Self {
        Self(vec![
            Word::Msg(msg),
            Word::Quoted(value.to_string()),
            Word::Text(".".into()),
        ])
    }

    pub fn text(&self, lang: Lang) -> String {
        let mut s = String::new();
        for w in &self.0 {
            match w {
                Word::Msg(m) => s.push_str(m.text(lang)),
                Word::Text(t) => s.push_str(t),
                Word::Quoted(v) => match lang {
                    Lang::Fr => s.push_str(&format!(" : « {v} »")),
                    Lang::En => s.push_str(&format!(": '{v}'")),
                },
                Word::Colon => s.push_str(if lang == Lang::Fr { " : " } else { ": " }),
                Word::Fill(m, v) => {
                    let quoted = match (v, lang) {
                        (Some(v), Lang::Fr) => format!("« {v} »"),
                        (Some(v), Lang::En) => format!("`{v}`"),
                        (None, _) => String::new(),
                    };
                    let filled = m.text(lang).replacen("{}", &quoted, 1);
                    s.push_str(
                        &filled
                            .replace("  ", " ")
                            .replace(" :", if lang == Lang::Fr { " :" } else { ":" }),
                    );
                }
                Word::Time(ms) => s.push_str(&crate::i18n::timestamp(lang, *ms)),
                Word::EnglishOnly(t) => {
                    if lang == Lang::En {
                        s.push_str(t)
                    }
                }
            }
        }
        s
    }
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(Lang::En))
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum WebError {
    #[error("not signed in")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(Detail),
    /// A request axum could not read (form, JSON body, path, query string), with
    /// the status axum chose (400, 415, 422…).
    #[error("invalid request: {1}")]
    Rejected(StatusCode, Detail),
    /// The action clashes with what exists: `msg` says which clash in words that
    /// fit the action (a taken username, no previous model, the message's state…).
    #[error("conflict: {}{}", .msg.text(Lang::En), .detail.as_ref().map(|d| format!(" {d}")).unwrap_or_default())]
    Conflict { msg: Msg, detail: Option<Detail> },
    #[error("missing or invalid CSRF token")]
    Csrf,
    /// The reply may not be queued as typed (blank, or `[[à compléter : …]]` left).
    #[error("{0}")]
    ReplyRefused(facteur_core::reply::ReplyProblem),
    #[error("too many failed login attempts")]
    RateLimited,
    #[error("internal error: {0}")]
    Internal(String),
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Unauthenticated => StatusCode::UNAUTHORIZED,
            WebError::Forbidden | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Rejected(s, _) => *s,
            WebError::ReplyRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Conflict { .. } => StatusCode::CONFLICT,
            WebError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message an agent reads.
    pub fn msg(&self) -> Msg {
        match self {
            WebError::Unauthenticated => Msg::Login,
            WebError::Forbidden => Msg::Forbidden,
            WebError::NotFound => Msg::NotFound,
            WebError::BadRequest(_) | WebError::Rejected(..) => Msg::BadRequest,
            WebError::ReplyRefused(ReplyProblem::Empty) => Msg::ReplyEmpty,
            WebError::ReplyRefused(ReplyProblem::Unfilled(_)) => Msg::ReplyUnfilled,
            WebError::Conflict { msg, .. } => *msg,
            WebError::Csrf => Msg::CsrfFailed,
            WebError::RateLimited => Msg::TooManyAttempts,
            WebError::Internal(_) => Msg::ServerError,
        }
    }

    /// A 400 saying `msg`.
    pub fn bad(msg: Msg) -> Self {
        WebError::BadRequest(Detail::of(msg))
    }

    /// A 400 saying `msg` about the `value` sent.
    pub fn bad_value(msg: Msg, value: impl std::fmt::Display) -> Self {
        WebError::BadRequest(Detail::about(msg, value))
    }

    /// A 409 whose headline is `msg`.
    pub fn conflict(msg: Msg) -> Self {
        WebError::Conflict { msg, detail: None }
    }

    /// The detail shown under the headline, in `lang`.
    pub fn detail(&self, lang: Lang) -> Option<String> {
        match self {
            WebError::BadRequest(d) | WebError::Rejected(_, d) => Some(d.text(lang)),
            WebError::Conflict { detail, .. } => detail.as_ref().map(|d| d.text(lang)),
            WebError::ReplyRefused(ReplyProblem::Unfilled(fields)) => Some(
                fields
                    .iter()
                    .map(|f| facteur_core::reply::missing_marker(f))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        }
    }

    /// A store conflict ("already exists") told as `msg`; other store errors as usual.
    pub fn store_conflict_as(e: StoreError, msg: Msg) -> Self {
        match e {
            StoreError::Conflict { .. } => WebError::conflict(msg),
            other => WebError::from(other),
        }
    }

    /// Stable machine code for the JSON API.
    pub fn code(&self) -> &'static str {
        match self {
            WebError::Unauthenticated => "unauthenticated",
            WebError::Forbidden => "forbidden",
            WebError::NotFound => "not_found",
            WebError::BadRequest(_) | WebError::Rejected(..) => "bad_request",
            WebError::ReplyRefused(ReplyProblem::Empty) => "reply_empty",
            WebError::ReplyRefused(ReplyProblem::Unfilled(_)) => "reply_unfilled",
            WebError::Conflict { .. } => "conflict",
            WebError::Csrf => "csrf",
            WebError::RateLimited => "rate_limited",
            WebError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { .. } => WebError::NotFound,
            StoreError::Forbidden { .. } => WebError::Forbidden,
            StoreError::InvalidState { state, .. } => WebError::Conflict {
                msg: Msg::Conflict,
                detail: Some(match facteur_core::MessageState::parse(state) {
                    Some(s) => Detail(vec![
                        Word::Msg(Msg::MessageStateIs),
                        Word::Colon,
                        Word::Msg(crate::i18n::state_msg(s)),
                        Word::Text(".".into()),
                    ]),
                    None => Detail::about(Msg::MessageStateIs, state),
                }),
            },
            StoreError::Conflict { .. } => WebError::conflict(Msg::AlreadyExists),
            StoreError::MailboxAddressTaken { .. } => WebError::conflict(Msg::MailboxTaken),
            StoreError::LastAdmin { .. } => WebError::conflict(Msg::LastAdmin),
            StoreError::FourEyes { .. } => WebError::conflict(Msg::FourEyes),
            StoreError::ReplyRefused { problem, .. } => WebError::ReplyRefused(problem.clone()),
            StoreError::RecipientAutomatic { .. } => WebError::conflict(Msg::RecipientAutomatic),
            _ => {
                // The store's errors name ids, never personal data: safe to log.
                tracing::error!(error = %e, "store operation failed");
                WebError::Internal("storage".into())
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut r = self.status().into_response();
        r.extensions_mut().insert(self);
        r
    }
}

pub type WebResult<T> = Result<T, WebError>;

/// Every error: a stable code and a message in the user's language.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// One of `unauthenticated`, `forbidden`, `not_found`, `bad_request`,
    /// `conflict`, `csrf`, `rate_limited`, `internal`.
    pub error: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_address_refused_by_the_database_reads_like_the_handler_check() {
        // Two creations racing past the handler's check: the loser gets the store's
        // refusal, which must tell the same thing as the check itself.
        let e = WebError::from(StoreError::MailboxAddressTaken {
            op: "create mailbox 'x'".into(),
        });
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert_eq!(e.msg(), Msg::MailboxTaken);
        assert_eq!(e.code(), "conflict");
        let e = WebError::store_conflict_as(
            StoreError::MailboxAddressTaken {
                op: "create mailbox 'x'".into(),
            },
            Msg::MailboxNameTaken,
        );
        assert_eq!(e.msg(), Msg::MailboxTaken);
    }
}
