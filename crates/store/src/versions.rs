//! Versioned things a supervisor governs: standard answers and model versions.

use facteur_core::{AnswerStatus, ModelStatus};
use serde_json::{json, Value};

use crate::audit::audit_append;
use crate::error::{OpContext, StoreError, StoreResult};
use crate::people::actor_of;
use crate::types::parse_json;
use crate::{with_pool, AnswerVersion, BeginWrite, ModelVersion, NewAnswerVersion, Store};

/// A promoted model must be reviewed within 90 days.
pub const MODEL_REVIEW_PERIOD_MS: i64 = 90 * 24 * 3600 * 1000;

#[derive(sqlx::FromRow)]
struct AnswerRow {
    answer_id: String,
    version: i64,
    status: String,
    title: String,
    language: String,
    content: String,
    valid_from: Option<String>,
    valid_until: Option<String>,
    author_id: Option<i64>,
    created_at: i64,
}

const ANSWER_COLS: &str =
    "answer_id, version, status, title, language, content, valid_from, valid_until, author_id, created_at";

impl AnswerRow {
    fn into_answer(self) -> StoreResult<AnswerVersion> {
        let status = AnswerStatus::parse(&self.status).ok_or_else(|| StoreError::Corrupt {
            op: format!("read answer {}@{}", self.answer_id, self.version),
            detail: format!("unknown status '{}'", self.status),
        })?;
        Ok(AnswerVersion {
            answer_id: self.answer_id,
            version: self.version,
            status,
            title: self.title,
            language: self.language,
            content: self.content,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            author_id: self.author_id,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ModelRow {
    id: String,
    created_at: i64,
    status: String,
    metrics: String,
    trained_by: Option<i64>,
    promoted_by: Option<i64>,
    promoted_at: Option<i64>,
    review_due: Option<i64>,
}

const MODEL_COLS: &str =
    "id, created_at, status, metrics, trained_by, promoted_by, promoted_at, review_due";

impl ModelRow {
    fn into_model(self) -> StoreResult<ModelVersion> {
        let status = ModelStatus::parse(&self.status).ok_or_else(|| StoreError::Corrupt {
            op: format!("read model version {}", self.id),
            detail: format!("unknown status '{}'", self.status),
        })?;
        Ok(ModelVersion {
            id: self.id,
            created_at: self.created_at,
            status,
            metrics: parse_json(&self.metrics),
            trained_by: self.trained_by,
            promoted_by: self.promoted_by,
            promoted_at: self.promoted_at,
            review_due: self.review_due,
        })
    }
}

impl Store {
    // ------------------------------------------------------------ answers

    /// Add a new draft version of a standard answer; returns its version number.
    pub async fn create_answer_version(&self, a: &NewAnswerVersion) -> StoreResult<i64> {
        let now = self.now_ms();
        let op = || format!("create version of answer '{}'", a.answer_id);
        let actor = actor_of(a.author_id);
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let version: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM answer_versions WHERE answer_id = $1",
            )
            .bind(&a.answer_id)
            .fetch_one(&mut *tx)
            .await
            .op(op)?;
            sqlx::query(
                "INSERT INTO answer_versions (answer_id, version, status, title, language, content, \
                 valid_from, valid_until, author_id, created_at) \
                 VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&a.answer_id)
            .bind(version)
            .bind(&a.title)
            .bind(&a.language)
            .bind(&a.content)
            .bind(&a.valid_from)
            .bind(&a.valid_until)
            .bind(a.author_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .op(op)?;
            audit_append!(tx, now, actor.clone(), "answer.create",
                format!("answer:{}@{version}", a.answer_id), json!({})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(version)
        })
    }

    /// Move a version through draft → validated → retired. Validating a version
    /// retires the previously validated one of the same answer and language, so
    /// at most one is current.
    pub async fn set_answer_status(
        &self,
        answer_id: &str,
        version: i64,
        status: AnswerStatus,
        by: i64,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("set answer {answer_id}@{version} to {status} by user {by}");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let lang: Option<String> = sqlx::query_scalar(
                "SELECT language FROM answer_versions WHERE answer_id = $1 AND version = $2",
            )
            .bind(answer_id)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await
            .op(op)?;
            let Some(lang) = lang else { return Err(StoreError::NotFound { op: op() }) };
            if status == AnswerStatus::Validated {
                sqlx::query(
                    "UPDATE answer_versions SET status = 'retired' WHERE answer_id = $1 \
                     AND language = $2 AND status = 'validated' AND version <> $3",
                )
                .bind(answer_id)
                .bind(&lang)
                .bind(version)
                .execute(&mut *tx)
                .await
                .op(op)?;
            }
            sqlx::query("UPDATE answer_versions SET status = $1 WHERE answer_id = $2 AND version = $3")
                .bind(status.as_str())
                .bind(answer_id)
                .bind(version)
                .execute(&mut *tx)
                .await
                .op(op)?;
            audit_append!(tx, now, format!("user:{by}"), "answer.status",
                format!("answer:{answer_id}@{version}"), json!({"status": status.as_str()})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    pub async fn get_answer_version(
        &self,
        answer_id: &str,
        version: i64,
    ) -> StoreResult<Option<AnswerVersion>> {
        let row: Option<AnswerRow> = with_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {ANSWER_COLS} FROM answer_versions WHERE answer_id = $1 AND version = $2"
            ))
            .bind(answer_id)
            .bind(version)
            .fetch_optional(p)
            .await
            .op(|| format!("get answer {answer_id}@{version}"))
        })?;
        row.map(AnswerRow::into_answer).transpose()
    }

    /// Every validated answer version (what the search index is built from).
    pub async fn validated_answers(&self) -> StoreResult<Vec<AnswerVersion>> {
        let rows: Vec<AnswerRow> = with_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {ANSWER_COLS} FROM answer_versions WHERE status = 'validated' ORDER BY answer_id, language"
            ))
            .fetch_all(p)
            .await
            .op(|| "list validated answers".to_string())
        })?;
        rows.into_iter().map(AnswerRow::into_answer).collect()
    }

    /// The latest version of every answer id, whatever its status (the
    /// supervisor's list shows drafts and retired answers too), by answer id.
    pub async fn list_answers(&self) -> StoreResult<Vec<AnswerVersion>> {
        let rows: Vec<AnswerRow> = with_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {ANSWER_COLS} FROM answer_versions a WHERE version = \
                 (SELECT MAX(b.version) FROM answer_versions b WHERE b.answer_id = a.answer_id) \
                 ORDER BY answer_id"
            ))
            .fetch_all(p)
            .await
            .op(|| "list answers".to_string())
        })?;
        rows.into_iter().map(AnswerRow::into_answer).collect()
    }

    pub async fn list_answer_versions(&self, answer_id: &str) -> StoreResult<Vec<AnswerVersion>> {
        let rows: Vec<AnswerRow> = with_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {ANSWER_COLS} FROM answer_versions WHERE answer_id = $1 ORDER BY version"
            ))
            .bind(answer_id)
            .fetch_all(p)
            .await
            .op(|| format!("list versions of answer '{answer_id}'"))
        })?;
        rows.into_iter().map(AnswerRow::into_answer).collect()
    }

    // ------------------------------------------------------------ models

    /// Register a freshly trained model as a candidate.
    pub async fn create_model_version(
        &self,
        id: &str,
        metrics: &Value,
        trained_by: Option<i64>,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("create model version '{id}'");
        let actor = actor_of(trained_by);
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            sqlx::query(
                "INSERT INTO model_versions (id, created_at, status, metrics, trained_by) \
                 VALUES ($1, $2, 'candidate', $3, $4)",
            )
            .bind(id)
            .bind(now)
            .bind(metrics.to_string())
            .bind(trained_by)
            .execute(&mut *tx)
            .await
            .op(op)?;
            audit_append!(tx, now, actor.clone(), "model.create", format!("model:{id}"), json!({})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    /// Make `id` the active model (promotion or rollback): the previous active one
    /// is retired and the review date is set 90 days ahead.
    pub async fn promote_model(&self, id: &str, by: i64) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("promote model version '{id}' by user {by}");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let previous: Option<String> = sqlx::query_scalar(
                "SELECT id FROM model_versions WHERE status = 'active'",
            )
            .fetch_optional(&mut *tx)
            .await
            .op(op)?;
            sqlx::query("UPDATE model_versions SET status = 'retired' WHERE status = 'active' AND id <> $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .op(op)?;
            let n = sqlx::query(
                "UPDATE model_versions SET status = 'active', promoted_by = $1, promoted_at = $2, \
                 review_due = $3 WHERE id = $4",
            )
            .bind(by)
            .bind(now)
            .bind(now.saturating_add(MODEL_REVIEW_PERIOD_MS))
            .bind(id)
            .execute(&mut *tx)
            .await
            .op(op)?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound { op: op() });
            }
            audit_append!(tx, now, format!("user:{by}"), "model.promote", format!("model:{id}"),
                json!({"previous": previous})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    pub async fn active_model(&self) -> StoreResult<Option<ModelVersion>> {
        let row: Option<ModelRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {MODEL_COLS} FROM model_versions WHERE status = 'active'"))
                .fetch_optional(p)
                .await
                .op(|| "get active model".to_string())
        })?;
        row.map(ModelRow::into_model).transpose()
    }

    pub async fn list_model_versions(&self) -> StoreResult<Vec<ModelVersion>> {
        let rows: Vec<ModelRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {MODEL_COLS} FROM model_versions ORDER BY created_at, id"))
                .fetch_all(p)
                .await
                .op(|| "list model versions".to_string())
        })?;
        rows.into_iter().map(ModelRow::into_model).collect()
    }
}
