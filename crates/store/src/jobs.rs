//! Work shared by several processes on one database (`facteur serve` and
//! `facteur worker` on several hosts): claimable jobs, per-mailbox IMAP sync
//! leases and the IMAP sync position.
//!
//! A claim is a lease, never a lock held across the work: a crashed worker's
//! claim simply expires and another takes it over. Claiming runs inside a write
//! transaction — `BEGIN IMMEDIATE` on SQLite (one writer at a time, so two
//! claimers cannot read the same candidate), `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL (concurrent claimers skip each other's candidate row instead of
//! queueing behind it).

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::error::{OpContext, StoreError, StoreResult};
use crate::types::parse_json;
use crate::{with_pool, Backend, BeginWrite, InsertOutcome, Millis, Store};

/// Life of a job: `queued` → `running` (leased) → `done`, or back to `queued`
/// with a later `run_at` on a retryable failure, or `failed` for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for `run_at`, then for a worker to claim it.
    Queued,
    /// Leased to a worker until `lease_until`; taken over if the lease lapses.
    Running,
    /// Finished; purged after a while, which lets its (kind, key) be enqueued again.
    Done,
    /// Failed for good: no retry is scheduled.
    Failed,
}

impl JobState {
    /// The code stored in `jobs.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
    /// Reads a stored code; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            _ => return None,
        })
    }
}

/// A unit of claimable work, row of `jobs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Row id in `jobs`; what `complete_job` and `fail_job` take.
    pub id: i64,
    /// What to do (`"ingest"`, `"triage"`…); workers claim the kinds they handle.
    pub kind: String,
    /// Identity of the work within its kind (e.g. a message id): enqueueing the
    /// same (kind, key) twice is a no-op.
    pub key: String,
    /// Must not hold personal data (ids only): it is not encrypted nor audited.
    pub payload: Value,
    /// Where the job is in its life.
    pub state: JobState,
    /// Claims so far, including the current one.
    pub attempts: i64,
    /// Earliest time a worker may claim it, Unix milliseconds; pushed back on a retryable failure.
    pub run_at: Millis,
    /// Name of the worker holding it; `None` when not running.
    pub lease_owner: Option<String>,
    /// When that lease lapses and another worker may take over, Unix milliseconds.
    pub lease_until: Option<Millis>,
    /// Error of the last failed attempt, as the worker reported it (no personal data).
    pub last_error: Option<String>,
    /// When it was first enqueued, Unix milliseconds.
    pub created_at: Millis,
    /// Last change of state, Unix milliseconds: finished jobs are purged by it.
    pub updated_at: Millis,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    key: String,
    payload: String,
    state: String,
    attempts: i64,
    run_at: i64,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

const JOB_COLS: &str = "id, kind, key, payload, state, attempts, run_at, lease_owner, \
    lease_until, last_error, created_at, updated_at";

impl JobRow {
    fn into_job(self) -> StoreResult<Job> {
        let state = JobState::parse(&self.state).ok_or_else(|| StoreError::Corrupt {
            op: format!("read job {}", self.id),
            detail: format!("unknown state '{}'", self.state),
        })?;
        Ok(Job {
            id: self.id,
            kind: self.kind,
            key: self.key,
            payload: parse_json(&self.payload),
            state,
            attempts: self.attempts,
            run_at: self.run_at,
            lease_owner: self.lease_owner,
            lease_until: self.lease_until,
            last_error: self.last_error,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn lease_end(now: Millis, lease: Duration) -> Millis {
    now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
}

impl Store {
    // ------------------------------------------------------------ jobs

    /// Add a job, runnable now. Idempotent on (kind, key): an existing job (in
    /// any state, even done) is left untouched and its id returned as `Duplicate`.
    pub async fn enqueue_job(
        &self,
        kind: &str,
        key: &str,
        payload: &Value,
    ) -> StoreResult<InsertOutcome> {
        let now = self.now_ms();
        let op = || format!("enqueue job {kind}/{key}");
        let payload = payload.to_string();
        with_pool!(self, p => {
            let inserted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO jobs (kind, key, payload, state, run_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'queued', $4, $4, $4) \
                 ON CONFLICT (kind, key) DO NOTHING RETURNING id",
            )
            .bind(kind)
            .bind(key)
            .bind(&payload)
            .bind(now)
            .fetch_optional(p)
            .await
            .op(op)?;
            if let Some(id) = inserted {
                return Ok(InsertOutcome::Inserted(id));
            }
            let id: i64 = sqlx::query_scalar("SELECT id FROM jobs WHERE kind = $1 AND key = $2")
                .bind(kind)
                .bind(key)
                .fetch_one(p)
                .await
                .op(op)?;
            Ok(InsertOutcome::Duplicate(id))
        })
    }

    /// Lease the oldest due job of one of `kinds` to `worker`: a queued one whose
    /// `run_at` has come, or a running one whose lease expired (its worker died).
    pub async fn claim_job(
        &self,
        kinds: &[&str],
        worker: &str,
        lease: Duration,
    ) -> StoreResult<Option<Job>> {
        Ok(self.claim_jobs(kinds, worker, lease, 1).await?.pop())
    }

    /// Lease up to `limit` of the oldest due jobs at once, oldest first: a worker
    /// takes a batch with one round trip and one commit, and other workers skip
    /// the rows it locked (`SKIP LOCKED`) instead of waiting on them.
    pub async fn claim_jobs(
        &self,
        kinds: &[&str],
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreResult<Vec<Job>> {
        if kinds.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let now = self.now_ms();
        let until = lease_end(now, lease);
        let skip = match self.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let ph = crate::placeholders(5, kinds.len());
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE kind IN ({ph}) AND \
               ((state = 'queued' AND run_at <= $3) OR (state = 'running' AND lease_until < $3)) \
             ORDER BY run_at, id LIMIT $4{skip}) \
             RETURNING {JOB_COLS}"
        );
        let op = || format!("claim {limit} job(s) of {kinds:?} for worker '{worker}'");
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<JobRow> = with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let mut q = sqlx::query_as::<_, JobRow>(&sql)
                .bind(worker)
                .bind(until)
                .bind(now)
                .bind(limit_sql);
            for k in kinds {
                q = q.bind(*k);
            }
            let rows = q.fetch_all(&mut *tx).await.op(op)?;
            tx.commit().await.op(op)?;
            rows
        });
        let mut jobs = rows
            .into_iter()
            .map(JobRow::into_job)
            .collect::<StoreResult<Vec<_>>>()?;
        // RETURNING follows no order.
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    /// The work is done. Only the lease holder may say so (`Conflict` for a
    /// worker whose lease expired and was taken over).
    pub async fn complete_job(&self, id: i64, worker: &str) -> StoreResult<()> {
        if self.complete_jobs(&[id], worker).await?.is_empty() {
            return Err(StoreError::Conflict {
                op: format!("complete job {id} by worker '{worker}'"),
                detail: "not leased by this worker".into(),
            });
        }
        Ok(())
    }

    /// [`Store::complete_job`] for a batch, in one statement: the ids this worker
    /// still held and has now completed. A job missing from the answer was taken
    /// over after its lease ran out.
    pub async fn complete_jobs(&self, ids: &[i64], worker: &str) -> StoreResult<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now_ms();
        let op = || match ids {
            [id] => format!("complete job {id} by worker '{worker}'"),
            _ => format!("complete {} jobs by worker '{worker}'", ids.len()),
        };
        let ph = crate::placeholders(3, ids.len());
        let sql = format!(
            "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, \
             last_error = NULL, updated_at = $1 \
             WHERE id IN ({ph}) AND state = 'running' AND lease_owner = $2 RETURNING id"
        );
        with_pool!(self, p => {
            let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(now).bind(worker);
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(p).await.op(op)
        })
    }

    /// The work failed: `retry_at: Some(t)` queues it again for `t`, `None`
    /// fails it for good. `error` is kept on the row (no personal data).
    pub async fn fail_job(
        &self,
        id: i64,
        worker: &str,
        retry_at: Option<Millis>,
        error: &str,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("fail job {id} by worker '{worker}'");
        let (state, run_at) = match retry_at {
            Some(t) => (JobState::Queued, t),
            None => (JobState::Failed, now),
        };
        let n = with_pool!(self, p => {
            sqlx::query(
                "UPDATE jobs SET state = $1, run_at = $2, last_error = $3, lease_owner = NULL, \
                 lease_until = NULL, updated_at = $4 \
                 WHERE id = $5 AND state = 'running' AND lease_owner = $6",
            )
            .bind(state.as_str())
            .bind(run_at)
            .bind(error)
            .bind(now)
            .bind(id)
            .bind(worker)
            .execute(p)
            .await
            .op(op)?
            .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::Conflict {
                op: op(),
                detail: "not leased by this worker".into(),
            });
        }
        Ok(())
    }

    /// One job by row id; `None` when unknown or purged.
    pub async fn get_job(&self, id: i64) -> StoreResult<Option<Job>> {
        let row: Option<JobRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {JOB_COLS} FROM jobs WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
                .op(|| format!("get job {id}"))
        })?;
        row.map(JobRow::into_job).transpose()
    }

    /// Delete the jobs that finished (`done`, or `failed` for good) before
    /// `now - older_than`, so the table does not grow forever; returns how many.
    /// Queued and running jobs are never touched, whatever their age. A purge that
    /// deleted something is audited (the count and the cutoff, no payload).
    ///
    /// Purging a done job lets its (kind, key) be enqueued again: harmless for
    /// triage, whose handler skips messages that are no longer `new`.
    pub async fn purge_finished_jobs(&self, older_than: Duration) -> StoreResult<u64> {
        let now = self.now_ms();
        let cutoff = now.saturating_sub(i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX));
        let op = || format!("purge jobs finished before {cutoff}");
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let n = sqlx::query(
                "DELETE FROM jobs WHERE state IN ('done', 'failed') AND updated_at < $1",
            )
            .bind(cutoff)
            .execute(&mut *tx)
            .await
            .op(op)?
            .rows_affected();
            if n > 0 {
                crate::audit::audit_append!(self, tx, now, "system".to_string(), "jobs.purge",
                    "jobs".to_string(), serde_json::json!({"deleted": n, "finished_before": cutoff}))
                .op(op)?;
            }
            tx.commit().await.op(op)?;
            Ok(n)
        })
    }

    // ------------------------------------------------------------ IMAP sync leases

    /// Become the one process syncing `mailbox_id` for `lease`. True when this
    /// worker holds the lease (newly, or it already held it — then it is
    /// extended); false while another worker's lease runs.
    pub async fn try_lease_mailbox_sync(
        &self,
        mailbox_id: i64,
        worker: &str,
        lease: Duration,
    ) -> StoreResult<bool> {
        let now = self.now_ms();
        let until = lease_end(now, lease);
        let op = || format!("lease sync of mailbox {mailbox_id} for worker '{worker}'");
        let got: Option<String> = with_pool!(self, p => {
            sqlx::query_scalar(
                "INSERT INTO mailbox_sync_leases (mailbox_id, owner, lease_until) VALUES ($1, $2, $3) \
                 ON CONFLICT (mailbox_id) DO UPDATE SET owner = excluded.owner, \
                 lease_until = excluded.lease_until \
                 WHERE mailbox_sync_leases.owner = excluded.owner \
                    OR mailbox_sync_leases.lease_until < $4 \
                 RETURNING owner",
            )
            .bind(mailbox_id)
            .bind(worker)
            .bind(until)
            .bind(now)
            .fetch_optional(p)
            .await
            .op(op)
        })?;
        Ok(got.is_some())
    }

    /// Extend a held lease. False when this worker no longer holds it (it was
    /// taken over after expiring): the caller must stop syncing.
    pub async fn renew_mailbox_sync(
        &self,
        mailbox_id: i64,
        worker: &str,
        lease: Duration,
    ) -> StoreResult<bool> {
        let until = lease_end(self.now_ms(), lease);
        let n = with_pool!(self, p => {
            sqlx::query(
                "UPDATE mailbox_sync_leases SET lease_until = $1 WHERE mailbox_id = $2 AND owner = $3",
            )
            .bind(until)
            .bind(mailbox_id)
            .bind(worker)
            .execute(p)
            .await
            .op(|| format!("renew sync lease of mailbox {mailbox_id} for worker '{worker}'"))?
            .rows_affected()
        });
        Ok(n > 0)
    }

    /// Give the lease up (clean shutdown) so a standby takes over at once.
    /// Releasing a lease this worker does not hold does nothing.
    pub async fn release_mailbox_sync(&self, mailbox_id: i64, worker: &str) -> StoreResult<()> {
        with_pool!(self, p => {
            sqlx::query("DELETE FROM mailbox_sync_leases WHERE mailbox_id = $1 AND owner = $2")
                .bind(mailbox_id)
                .bind(worker)
                .execute(p)
                .await
                .op(|| format!("release sync lease of mailbox {mailbox_id} by worker '{worker}'"))?;
        });
        Ok(())
    }

    // ------------------------------------------------------------ IMAP sync position

    /// Where the IMAP `folder` of `mailbox_id` was read up to:
    /// `(uidvalidity, last_uid)`.
    pub async fn get_sync_position(
        &self,
        mailbox_id: i64,
        folder: &str,
    ) -> StoreResult<Option<(u32, u32)>> {
        let op = || format!("get sync position of mailbox {mailbox_id}");
        let row: Option<(i64, i64)> = with_pool!(self, p => {
            sqlx::query_as(
                "SELECT uidvalidity, last_uid FROM sync_positions WHERE mailbox_id = $1 AND folder = $2",
            )
            .bind(mailbox_id)
            .bind(folder)
            .fetch_optional(p)
            .await
            .op(op)
        })?;
        row.map(|(v, u)| match (u32::try_from(v), u32::try_from(u)) {
            (Ok(v), Ok(u)) => Ok((v, u)),
            _ => Err(StoreError::Corrupt {
                op: op(),
                detail: format!("uidvalidity {v} / last uid {u} out of range"),
            }),
        })
        .transpose()
    }

    /// Record (upsert) the position. Callers advance it only after the messages
    /// up to `last_uid` are stored.
    pub async fn set_sync_position(
        &self,
        mailbox_id: i64,
        folder: &str,
        uidvalidity: u32,
        last_uid: u32,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO sync_positions (mailbox_id, folder, uidvalidity, last_uid, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (mailbox_id, folder) DO UPDATE SET \
                 uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, \
                 updated_at = excluded.updated_at",
            )
            .bind(mailbox_id)
            .bind(folder)
            .bind(i64::from(uidvalidity))
            .bind(i64::from(last_uid))
            .bind(now)
            .execute(p)
            .await
            .op(|| format!("set sync position of mailbox {mailbox_id}"))?;
        });
        Ok(())
    }

    /// Forget the position (the folder is read again from the start).
    pub async fn clear_sync_position(&self, mailbox_id: i64, folder: &str) -> StoreResult<()> {
        with_pool!(self, p => {
            sqlx::query("DELETE FROM sync_positions WHERE mailbox_id = $1 AND folder = $2")
                .bind(mailbox_id)
                .bind(folder)
                .execute(p)
                .await
                .op(|| format!("clear sync position of mailbox {mailbox_id}"))?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_state_round_trips() {
        for s in [
            JobState::Queued,
            JobState::Running,
            JobState::Done,
            JobState::Failed,
        ] {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobState::parse("sent"), None);
    }

    #[test]
    fn lease_end_saturates() {
        assert_eq!(lease_end(10, Duration::from_millis(5)), 15);
        assert_eq!(lease_end(i64::MAX - 1, Duration::from_secs(10)), i64::MAX);
    }
}
