//! The text triage read from a message's attachments, masked (issue 19): kept
//! beside the triage result, one row per attachment, in the order of the mail.

use facteur_core::{AttachmentText, ExtractFailure, ExtractMethod};

use crate::error::{OpContext, StoreResult};
use crate::{with_pool, Store};

#[derive(sqlx::FromRow)]
struct Row {
    filename: Option<String>,
    content_type: String,
    method: Option<String>,
    pages: i64,
    text: String,
    truncated: i64,
    failure: Option<String>,
}

/// Replaces message `$message_id`'s attachment texts with `$texts` inside the
/// caller's write transaction `$tx` (errors named by `$op`). A macro, as
/// `with_pool!` bodies are: the statements are compiled once per backend.
macro_rules! replace_attachment_texts {
    ($tx:ident, $message_id:expr, $texts:expr, $op:expr) => {
        sqlx::query("DELETE FROM attachment_texts WHERE message_id = $1")
            .bind($message_id)
            .execute(&mut *$tx)
            .await
            .op($op)?;
        for (i, t) in $texts.iter().enumerate() {
            sqlx::query(
                "INSERT INTO attachment_texts (message_id, position, filename, content_type, \
                 method, pages, text, truncated, failure) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind($message_id)
            .bind(i64::try_from(i).unwrap_or(i64::MAX))
            .bind(&t.filename)
            .bind(&t.content_type)
            .bind(t.method.map(facteur_core::ExtractMethod::as_str))
            .bind(i64::from(t.pages))
            .bind(&t.text)
            .bind(i64::from(t.truncated))
            .bind(t.failure.map(facteur_core::ExtractFailure::as_str))
            .execute(&mut *$tx)
            .await
            .op($op)?;
        }
    };
}
pub(crate) use replace_attachment_texts;

impl Store {
    /// Message `message_id`'s attachment texts, in the order of the mail.
    pub async fn attachment_texts(&self, message_id: i64) -> StoreResult<Vec<AttachmentText>> {
        let rows: Vec<Row> = with_pool!(self, p => {
            sqlx::query_as(
                "SELECT filename, content_type, method, pages, text, truncated, failure \
                 FROM attachment_texts WHERE message_id = $1 ORDER BY position",
            )
            .bind(message_id)
            .fetch_all(p)
            .await
            .op(|| format!("read the attachment texts of message {message_id}"))
        })?;
        Ok(rows
            .into_iter()
            .map(|r| AttachmentText {
                filename: r.filename,
                content_type: r.content_type,
                method: r.method.as_deref().and_then(ExtractMethod::parse),
                pages: u32::try_from(r.pages).unwrap_or(0),
                text: r.text,
                truncated: r.truncated != 0,
                failure: r.failure.as_deref().and_then(ExtractFailure::parse),
            })
            .collect())
    }
}
