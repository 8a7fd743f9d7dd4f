//! Versioned things a supervisor governs: standard answers and model versions.

use facteur_core::{AnswerStatus, ModelStatus};
use serde_json::{json, Value};

use crate::audit::audit_append;
use crate::error::{OpContext, StoreError, StoreResult};
use crate::people::actor_of;
use crate::types::parse_json;
use crate::{with_pool, AnswerVersion, Backend, BeginWrite, ModelVersion, NewAnswerVersion, Store};

/// The PostgreSQL channel notified (with the new revision as payload) in the
/// transaction of every change of the standard answers.
pub const KB_CHANNEL: &str = "facteur_kb";

/// Bump the knowledge-base revision inside the transaction `$tx` that changes
/// `answer_versions`, and on PostgreSQL queue `NOTIFY facteur_kb` (sent at
/// commit, so listeners never see a revision whose rows they cannot read yet).
macro_rules! bump_kb_revision {
    ($tx:expr, $now:expr, $notify:expr) => {{
        async {
            let rev: i64 = sqlx::query_scalar(
                "UPDATE kb_revision SET revision = revision + 1, updated_at = $1 \
                 WHERE id = 1 RETURNING revision",
            )
            .bind($now)
            .fetch_one(&mut *$tx)
            .await?;
            if $notify {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(KB_CHANNEL)
                    .bind(rev.to_string())
                    .execute(&mut *$tx)
                    .await?;
            }
            Ok::<i64, sqlx::Error>(rev)
        }
        .await
    }};
}

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
    submitted_at: Option<i64>,
}

const ANSWER_COLS: &str =
    "answer_id, version, status, title, language, content, valid_from, valid_until, author_id, created_at, submitted_at";

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
            submitted_at: self.submitted_at,
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

/// A PostgreSQL connection listening for knowledge-base changes.
pub struct KbListener(sqlx::postgres::PgListener);

impl std::fmt::Debug for KbListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KbListener")
    }
}

impl KbListener {
    /// Wait for the next change; returns the revision it announced (`None` when the
    /// payload is not a number: the caller reads the revision itself). A lost
    /// connection is re-established by the driver; an error is returned only when
    /// that fails, and the caller falls back to polling.
    pub async fn recv(&mut self) -> StoreResult<Option<i64>> {
        let n = self
            .0
            .recv()
            .await
            .op(|| format!("receive a notification on {KB_CHANNEL}"))?;
        Ok(n.payload().parse().ok())
    }
}

impl Store {
    // ------------------------------------------------------------ answers

    /// Add a new draft version of a standard answer; returns its version number.
    pub async fn create_answer_version(&self, a: &NewAnswerVersion) -> StoreResult<i64> {
        let now = self.now_ms();
        let op = || format!("create version of answer '{}'", a.answer_id);
        let actor = actor_of(a.author_id);
        let notify = self.backend() == Backend::Postgres;
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            // Bump the revision first: its row lock serialises every writer of the
            // standard answers until commit (SQLite's BEGIN IMMEDIATE already does),
            // so on PostgreSQL two supervisors saving the same answer at once get
            // versions n+1 and n+2 instead of a primary-key clash, and two
            // validations cannot leave two versions validated. An early return
            // rolls the bump back.
            bump_kb_revision!(tx, now, notify).op(op)?;
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
            audit_append!(self, tx, now, actor.clone(), "answer.create",
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
        let notify = self.backend() == Backend::Postgres;
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            // First, to serialise answer writers (see create_answer_version).
            bump_kb_revision!(tx, now, notify).op(op)?;
            let row: Option<(String, Option<i64>)> = sqlx::query_as(
                "SELECT language, author_id FROM answer_versions WHERE answer_id = $1 AND version = $2",
            )
            .bind(answer_id)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await
            .op(op)?;
            let Some((lang, author)) = row else { return Err(StoreError::NotFound { op: op() }) };
            // Four eyes: what citizens will read is validated by someone other
            // than who wrote it. Files imported by an administrator have no
            // author in the store and are validated by the import itself.
            if status == AnswerStatus::Validated && author == Some(by) {
                return Err(StoreError::FourEyes { op: op() });
            }
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
            audit_append!(self, tx, now, format!("user:{by}"), "answer.status",
                format!("answer:{answer_id}@{version}"), json!({"status": status.as_str()})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    /// "Soumettre pour validation": the draft `version` is ready for another
    /// supervisor to read and validate (audited as `answer.submit`). Only a draft
    /// can be submitted; submitting twice changes nothing.
    pub async fn submit_answer_version(
        &self,
        answer_id: &str,
        version: i64,
        by: i64,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("submit answer {answer_id}@{version} by user {by}");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let row: Option<(String, Option<i64>)> = sqlx::query_as(
                "SELECT status, submitted_at FROM answer_versions WHERE answer_id = $1 AND version = $2",
            )
            .bind(answer_id)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await
            .op(op)?;
            let Some((status, submitted)) = row else { return Err(StoreError::NotFound { op: op() }) };
            if status != AnswerStatus::Draft.as_str() {
                return Err(StoreError::InvalidState { op: op(), state: status });
            }
            if submitted.is_none() {
                sqlx::query(
                    "UPDATE answer_versions SET submitted_at = $1 WHERE answer_id = $2 AND version = $3",
                )
                .bind(now)
                .bind(answer_id)
                .bind(version)
                .execute(&mut *tx)
                .await
                .op(op)?;
                audit_append!(self, tx, now, format!("user:{by}"), "answer.submit",
                    format!("answer:{answer_id}@{version}"), json!({})).op(op)?;
            }
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    /// Record a standard answer read from a file (`facteur kb import`, `facteur
    /// demo`) as a version with the file's status, in one transaction.
    ///
    /// Idempotent: when any version of this (answer, language) already holds exactly
    /// this content, nothing is written and `None` is returned — re-importing the
    /// same files creates no version, and an old file re-imported after a
    /// supervisor's edit in the web app does not undo that edit. Otherwise the new
    /// version number is returned. A `validated` version retires the previously
    /// validated one of the same answer and language; a `retired` file retires the
    /// validated one too (the file says the answer must no longer be used).
    pub async fn record_imported_answer(
        &self,
        a: &NewAnswerVersion,
        status: AnswerStatus,
    ) -> StoreResult<Option<i64>> {
        let now = self.now_ms();
        let op = || format!("import answer '{}' ({})", a.answer_id, a.language);
        let actor = actor_of(a.author_id);
        let notify = self.backend() == Backend::Postgres;
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            // First, to serialise answer writers (see create_answer_version).
            bump_kb_revision!(tx, now, notify).op(op)?;
            let known: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM answer_versions WHERE answer_id = $1 AND language = $2 \
                 AND content = $3",
            )
            .bind(&a.answer_id)
            .bind(&a.language)
            .bind(&a.content)
            .fetch_one(&mut *tx)
            .await
            .op(op)?;
            if known > 0 {
                return Ok(None);
            }
            let version: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM answer_versions WHERE answer_id = $1",
            )
            .bind(&a.answer_id)
            .fetch_one(&mut *tx)
            .await
            .op(op)?;
            if status != AnswerStatus::Draft {
                sqlx::query(
                    "UPDATE answer_versions SET status = 'retired' WHERE answer_id = $1 \
                     AND language = $2 AND status = 'validated'",
                )
                .bind(&a.answer_id)
                .bind(&a.language)
                .execute(&mut *tx)
                .await
                .op(op)?;
            }
            sqlx::query(
                "INSERT INTO answer_versions (answer_id, version, status, title, language, content, \
                 valid_from, valid_until, author_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&a.answer_id)
            .bind(version)
            .bind(status.as_str())
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
            audit_append!(self, tx, now, actor.clone(), "answer.import",
                format!("answer:{}@{version}", a.answer_id), json!({"status": status.as_str()})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(Some(version))
        })
    }

    /// The knowledge-base revision: bumped by every change of the standard answers
    /// (never by a read). A node whose index was built at an older revision
    /// rebuilds it.
    pub async fn kb_revision(&self) -> StoreResult<i64> {
        with_pool!(self, p => {
            sqlx::query_scalar("SELECT revision FROM kb_revision WHERE id = 1")
                .fetch_one(p)
                .await
                .op(|| "read the knowledge-base revision".to_string())
        })
    }

    /// How many answer versions exist, whatever their status. Zero means the
    /// standard answers were never recorded here (a store older than the answers
    /// sync, or a node without answers): a node then keeps the answers of its local
    /// index rather than emptying it.
    pub async fn count_answer_versions(&self) -> StoreResult<i64> {
        with_pool!(self, p => {
            sqlx::query_scalar("SELECT COUNT(*) FROM answer_versions")
                .fetch_one(p)
                .await
                .op(|| "count answer versions".to_string())
        })
    }

    /// On PostgreSQL, a connection listening on `facteur_kb`: its `recv` returns as
    /// soon as another process commits a change of the standard answers. `None` on
    /// SQLite, where nodes poll [`Store::kb_revision`].
    pub async fn kb_listener(&self) -> StoreResult<Option<KbListener>> {
        match &self.pool {
            crate::Pool::Sqlite(_) => Ok(None),
            crate::Pool::Postgres(p) => {
                let op = || format!("listen on channel {KB_CHANNEL}");
                let mut l = sqlx::postgres::PgListener::connect_with(p).await.op(op)?;
                l.listen(KB_CHANNEL).await.op(op)?;
                Ok(Some(KbListener(l)))
            }
        }
    }

    /// Messages waiting for validation whose latest draft was built on a version
    /// that is no longer in force (retired, or replaced by a newer validation).
    /// Oldest first. Their drafts must be rebuilt before an agent may send them
    /// without a second confirmation.
    pub async fn stale_drafts(&self) -> StoreResult<Vec<i64>> {
        with_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT m.id FROM messages m \
                 JOIN triage_results t ON t.id = \
                   (SELECT MAX(t2.id) FROM triage_results t2 WHERE t2.message_id = m.id) \
                 JOIN answer_versions a ON a.answer_id = t.answer_id AND a.version = t.answer_version \
                 WHERE m.state = 'ready_to_validate' AND t.draft_text IS NOT NULL \
                 AND a.status = 'retired' ORDER BY m.id",
            )
            .fetch_all(p)
            .await
            .op(|| "list drafts built on retired answer versions".to_string())
        })
    }

    /// One version of a standard answer, whatever its status; `None` when unknown.
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

    /// The knowledge-base revision, how many answer versions exist, and the
    /// validated answers, all read from one snapshot, so a node that rebuilds its
    /// index from them can say exactly which revision it serves (separate reads
    /// could pair an old revision with newer answers).
    pub async fn validated_answers_snapshot(&self) -> StoreResult<(i64, i64, Vec<AnswerVersion>)> {
        let op = || "read a snapshot of the standard answers".to_string();
        let pg = self.backend() == Backend::Postgres;
        let (revision, count, rows): (i64, i64, Vec<AnswerRow>) = with_pool!(self, p => {
            // SQLite: a deferred transaction reads one WAL snapshot from its first
            // statement on. PostgreSQL: REPEATABLE READ gives the same.
            let mut tx = p.begin().await.op(op)?;
            if pg {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut *tx)
                    .await
                    .op(op)?;
            }
            let revision: i64 = sqlx::query_scalar("SELECT revision FROM kb_revision WHERE id = 1")
                .fetch_one(&mut *tx)
                .await
                .op(op)?;
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM answer_versions")
                .fetch_one(&mut *tx)
                .await
                .op(op)?;
            let rows: Vec<AnswerRow> = sqlx::query_as(&format!(
                "SELECT {ANSWER_COLS} FROM answer_versions WHERE status = 'validated' ORDER BY answer_id, language"
            ))
            .fetch_all(&mut *tx)
            .await
            .op(op)?;
            tx.commit().await.op(op)?;
            (revision, count, rows)
        });
        let answers = rows
            .into_iter()
            .map(AnswerRow::into_answer)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((revision, count, answers))
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

    /// Every version of one standard answer, all languages and statuses, oldest first.
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
            audit_append!(self, tx, now, actor.clone(), "model.create", format!("model:{id}"), json!({})).op(op)?;
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
            audit_append!(self, tx, now, format!("user:{by}"), "model.promote", format!("model:{id}"),
                json!({"previous": previous})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    /// The model version triage uses now; `None` before any promotion.
    pub async fn active_model(&self) -> StoreResult<Option<ModelVersion>> {
        let row: Option<ModelRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {MODEL_COLS} FROM model_versions WHERE status = 'active'"))
                .fetch_optional(p)
                .await
                .op(|| "get active model".to_string())
        })?;
        row.map(ModelRow::into_model).transpose()
    }

    /// Every model version, oldest first, for the supervisor's list and rollbacks.
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
