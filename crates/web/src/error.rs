//! One error type for every handler. A handler returns it without knowing whether
//! the caller is a browser or an API client: `into_response` only tags the response,
//! and the `render_errors` middleware (which sees the path and the language) turns
//! it into an HTML page, a redirect to /login, or a JSON body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use facteur_core::reply::ReplyProblem;
use facteur_store::StoreError;

use crate::i18n::Msg;

#[derive(Debug, Clone, thiserror::Error)]
pub enum WebError {
    #[error("not signed in")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("conflict: {0}")]
    Conflict(String),
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
            WebError::ReplyRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Conflict(_) => StatusCode::CONFLICT,
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
            WebError::BadRequest(_) => Msg::BadRequest,
            WebError::ReplyRefused(ReplyProblem::Empty) => Msg::ReplyEmpty,
            WebError::ReplyRefused(ReplyProblem::Unfilled(_)) => Msg::ReplyUnfilled,
            WebError::Conflict(_) => Msg::Conflict,
            WebError::Csrf => Msg::CsrfFailed,
            WebError::RateLimited => Msg::TooManyAttempts,
            WebError::Internal(_) => Msg::ServerError,
        }
    }

    /// Stable machine code for the JSON API.
    pub fn code(&self) -> &'static str {
        match self {
            WebError::Unauthenticated => "unauthenticated",
            WebError::Forbidden => "forbidden",
            WebError::NotFound => "not_found",
            WebError::BadRequest(_) => "bad_request",
            WebError::ReplyRefused(ReplyProblem::Empty) => "reply_empty",
            WebError::ReplyRefused(ReplyProblem::Unfilled(_)) => "reply_unfilled",
            WebError::Conflict(_) => "conflict",
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
            StoreError::InvalidState { state, .. } => {
                WebError::Conflict(format!("message is in state '{state}'"))
            }
            StoreError::Conflict { .. } => WebError::Conflict("already exists".into()),
            StoreError::ReplyRefused { problem, .. } => WebError::ReplyRefused(problem.clone()),
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
