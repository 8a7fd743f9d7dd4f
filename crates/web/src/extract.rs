//! axum's `Form`, `Json`, `Path` and `Query`, with their rejections turned into
//! [`WebError`]s: a malformed request then gets the same answer as any other
//! error (an HTML page in the agent's language, or `{"error","message"}` JSON on
//! /api/) instead of axum's plain English text.

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

use crate::error::{Detail, WebError, Word};
use crate::i18n::Msg;

/// The English detail axum gives is shown to the user who sent the request (in
/// the English UI), but never logged: a JSON type error quotes the value sent
/// (`invalid type: string "…"`), which can be a reply to a citizen. The log
/// keeps the kind of rejection and the status only.
fn rejected(
    kind: &'static str,
    status: axum::http::StatusCode,
    msg: Msg,
    axum_text: String,
) -> WebError {
    tracing::debug!(status = %status, kind, "request rejected");
    WebError::Rejected(
        status,
        Detail(vec![
            Word::Msg(msg),
            Word::EnglishOnly(format!(" ({axum_text})")),
        ]),
    )
}

impl From<FormRejection> for WebError {
    fn from(r: FormRejection) -> Self {
        rejected("form", r.status(), Msg::FormMalformed, r.body_text())
    }
}

impl From<JsonRejection> for WebError {
    fn from(r: JsonRejection) -> Self {
        rejected("json", r.status(), Msg::JsonMalformed, r.body_text())
    }
}

impl From<PathRejection> for WebError {
    fn from(r: PathRejection) -> Self {
        rejected("path", r.status(), Msg::PathInvalid, r.body_text())
    }
}

impl From<QueryRejection> for WebError {
    fn from(r: QueryRejection) -> Self {
        rejected("query", r.status(), Msg::QueryInvalid, r.body_text())
    }
}

/// `axum::Form` answering with a [`WebError`].
pub struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    axum::Form<T>: FromRequest<S, Rejection = FormRejection>,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, WebError> {
        let axum::Form(v) = axum::Form::<T>::from_request(req, state).await?;
        Ok(Form(v))
    }
}

/// `axum::Json` as a request body, answering with a [`WebError`].
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, WebError> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(JsonBody(v))
    }
}

/// `axum::extract::Path` answering with a [`WebError`].
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    axum::extract::Path<T>: FromRequestParts<S, Rejection = PathRejection>,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, WebError> {
        let axum::extract::Path(v) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(v))
    }
}

/// `axum::extract::Query` answering with a [`WebError`].
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    axum::extract::Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, WebError> {
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer into a shared buffer, for the log capture below.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_rejected_value_reaches_its_sender_but_not_the_logs() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        let axum_text = "Failed to deserialize the JSON body into the target type: reply: \
                         invalid type: string \"Bonjour M. Kerbrat\", expected a map"
            .to_string();
        let err = tracing::subscriber::with_default(subscriber, || {
            rejected(
                "json",
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                Msg::JsonMalformed,
                axum_text,
            )
        });
        let logged = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            logged.contains("request rejected") && logged.contains("json"),
            "{logged}"
        );
        assert!(!logged.contains("Kerbrat"), "{logged}");
        let WebError::Rejected(status, detail) = err else {
            panic!("not a rejection");
        };
        assert_eq!(status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert!(detail.text(crate::i18n::Lang::En).contains("Kerbrat"));
        // The French page names the problem without axum's English.
        assert!(!detail.text(crate::i18n::Lang::Fr).contains("Kerbrat"));
    }
}
