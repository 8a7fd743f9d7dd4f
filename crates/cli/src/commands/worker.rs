//! `facteur worker`: one of any number of processes sharing one service's work
//! through the database (PostgreSQL for scale-out; SQLite works too, on one host).
//!
//! Nothing is assigned to a worker: each one claims what is due, with a lease.
//! - `triage` jobs (key = message store id), enqueued by `facteur import
//!   --defer-triage` and by the IMAP connector of whichever worker holds a
//!   mailbox's sync lease. `claim_job` is `FOR UPDATE SKIP LOCKED`, so workers
//!   skip each other's rows instead of queueing behind them.
//! - IMAP sync, one process per mailbox at a time (the per-mailbox sync lease);
//!   the others stand by and take over when the holder stops or dies.
//! - the SMTP outbox, whose claims are leases too (`claim_outbox`).
//!
//! A worker killed with `kill -9` holds nothing forever: its leases expire and
//! another worker takes the work over. Triage is idempotent at this level: a job
//! whose message is no longer `new` (a dead worker recorded the triage but not
//! the job's completion) is completed without triaging again.

use crate::config::{Config, MailboxConfig};
use crate::service::Service;
use anyhow::Result;
use clap::Args;
use facteur_connect::{ImapIngest, IngestHook, Sender, StoredMessage};
use facteur_core::workflow::MessageState;
use facteur_store::{Job, QueuePage, QueueQuery, QueueSort, Store, StoreError};
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The job kind of "triage this stored message".
pub const TRIAGE_JOB: &str = "triage";

/// Failed triage jobs are retried this many claims in all, then left `failed`
/// (visible, with their error) rather than retried forever.
const MAX_ATTEMPTS: i64 = 5;

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// How long a claimed triage job is held. A worker that dies holding one is
    /// taken over after this.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub job_lease_seconds: u64,
    /// How long the IMAP sync lease of a mailbox is held between renewals.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub sync_lease_seconds: u64,
    /// Pause when no job is due.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    pub idle_ms: u64,
    /// Triage jobs claimed at once: triaged on every core and recorded with one
    /// commit. 1 claims them one by one.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub triage_batch: usize,
    /// Pause between two passes over the outbox.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub send_interval_ms: u64,
    /// Do not run the IMAP connectors from this process.
    #[arg(long)]
    pub no_imap: bool,
    /// Do not send the validated replies from this process.
    #[arg(long)]
    pub no_send: bool,
    /// On stop, print one JSON line {"worker","triaged","skipped","failed","lease_lost","sent",…}.
    #[arg(long)]
    pub json_stats: bool,
}

/// What one worker process did, printed on a clean stop.
#[derive(Debug, Default, Clone, Serialize)]
pub struct WorkerStats {
    pub worker: String,
    /// Triage jobs that triaged a message.
    pub triaged: u64,
    /// Triage jobs completed without work (message already triaged or gone).
    pub skipped: u64,
    /// Triage jobs that failed (queued again, or failed for good after MAX_ATTEMPTS).
    pub failed: u64,
    /// Jobs whose lease this worker lost before completing (taken over).
    pub lease_lost: u64,
    /// `triage` jobs enqueued by the sweep for messages left `new` without a job.
    pub swept: u64,
    /// Replies sent by this process.
    pub sent: u64,
    pub send_errors: u64,
    /// Messages stored by this process's IMAP connectors.
    pub imap_stored: u64,
    pub seconds: f64,
}

/// The ingest hook of deferred triage: the message is stored, a worker will
/// triage it. Enqueueing is idempotent on the message id.
pub struct EnqueueTriage(pub Store);

impl IngestHook for EnqueueTriage {
    fn on_stored<'a>(
        &'a self,
        msg: &'a StoredMessage,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            // A lost enqueue is not lost work: the workers' sweep enqueues any
            // message left `new` without a job.
            if let Err(e) = enqueue_triage(&self.0, msg.id).await {
                tracing::warn!(message = msg.id, error = %e, "cannot enqueue the triage job");
            }
        })
    }
}

pub async fn enqueue_triage(store: &Store, message_id: i64) -> Result<(), StoreError> {
    store
        .enqueue_job(
            TRIAGE_JOB,
            &message_id.to_string(),
            &serde_json::json!({ "message_id": message_id }),
        )
        .await
        .map(|_| ())
}

/// Unique per process, and readable in the jobs table: host, pid, start time.
fn worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "facteur".into());
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() % 1_000_000_000)
        .unwrap_or(0);
    format!("{host}-{}-{t}", std::process::id())
}

pub fn run(cfg: &Config, a: WorkerArgs) -> Result<()> {
    super::runtime()?.block_on(async move {
        let stop = stop_signal();
        let svc = crate::service::open(cfg).await?;
        let worker = worker_id();
        let started = Instant::now();
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            stop.await;
            eprintln!(
                "{}",
                crate::i18n::tr(
                    "arrêt demandé : fin du travail en cours",
                    "stop requested: finishing the work in progress"
                )
            );
            let _ = stop_tx.send(true);
        });

        let refresher = svc.spawn_kb_refresher(
            Duration::from_secs(cfg.kb_refresh_secs.max(1)),
            stop_rx.clone(),
        );
        let purger = tokio::spawn(purge_loop(
            svc.store.clone(),
            Duration::from_secs(u64::from(cfg.jobs_retention_days.max(1)) * 24 * 3600),
            stop_rx.clone(),
        ));

        let retention = tokio::spawn(super::retention::daily_purge(
            svc.store.clone(),
            cfg.retention,
            stop_rx.clone(),
        ));

        let mut imap = Vec::new();
        if !a.no_imap {
            let hook: facteur_connect::SharedHook = Arc::new(EnqueueTriage(svc.store.clone()));
            for b in &cfg.mailboxes {
                let mailbox_id = svc
                    .mailbox_id(&b.name)
                    .await
                    .map_err(crate::service::explained)?;
                let Some(c) = super::sync::imap_config_in_store(&svc.store, b, mailbox_id).await?
                else {
                    continue;
                };
                let mut ingest = ImapIngest::new(svc.store.clone(), mailbox_id, c)
                    .with_hook(hook.clone())
                    .with_sync_lease(
                        worker.clone(),
                        Duration::from_secs(a.sync_lease_seconds.max(2)),
                    );
                let status = ingest.status();
                let stop = stop_rx.clone();
                imap.push((status, tokio::spawn(async move { ingest.run(stop).await })));
            }
        }

        let sender_task = match relay(cfg)? {
            Some(c) if !a.no_send => {
                let sender = super::sync::sender(cfg, &svc, c, worker.clone()).await?;
                let stop = stop_rx.clone();
                let interval = Duration::from_millis(a.send_interval_ms);
                Some(tokio::spawn(send_loop(sender, interval, stop)))
            }
            _ => None,
        };

        let mut stats = triage_loop(&svc, &worker, &a, stop_rx.clone()).await;
        if let Some(t) = sender_task {
            if let Ok((sent, errors)) = t.await {
                stats.sent = sent;
                stats.send_errors = errors;
            }
        }
        for (status, t) in imap {
            let _ = t.await;
            stats.imap_stored += status.get().total_stored;
        }
        let _ = refresher.await;
        let _ = purger.await;
        let _ = retention.await;
        stats.seconds = started.elapsed().as_secs_f64();
        if a.json_stats {
            super::print_json(&stats)?;
        } else {
            eprintln!(
                "{}",
                tr!(
                    "processus {} : {} triés, {} ignorés, {} en échec, {} envoyés",
                    "worker {}: {} triaged, {} skipped, {} failed, {} sent",
                    stats.worker,
                    stats.triaged,
                    stats.skipped,
                    stats.failed,
                    stats.sent
                )
            );
        }
        Ok(())
    })
}

/// The first mailbox with SMTP settings is the relay, as in `facteur sync`: the
/// outbox rows carry their own mailbox.
fn relay(cfg: &Config) -> Result<Option<facteur_connect::SmtpConfig>> {
    let boxes: Vec<&MailboxConfig> = cfg.mailboxes.iter().collect();
    for b in boxes {
        if let Some(c) = super::sync::smtp_config(b)? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Ctrl-C or SIGTERM (what `systemctl stop` and container runtimes send).
///
/// The handlers are installed when this is called, not when the future is first
/// polled: until then the signal's default action kills the process, so callers
/// call it first thing (a SIGTERM sent as soon as `serve` listens used to kill it).
/// Must be called inside the Tokio runtime.
pub(crate) fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt()).ok();
        let term = signal(SignalKind::terminate()).ok();
        async move {
            match (int, term) {
                (Some(mut int), Some(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// How often a worker purges finished jobs. Every worker does it: the delete is
/// idempotent and cheap when there is nothing to delete.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Delete finished jobs older than `retention`, at start and then hourly.
async fn purge_loop(store: Store, retention: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        match store.purge_finished_jobs(retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                retention_days = retention.as_secs() / 86_400,
                "finished jobs purged"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot purge finished jobs; retrying later"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PURGE_EVERY) => {}
            r = stop.changed() => if r.is_err() || *stop.borrow() { break },
        }
    }
}

async fn send_loop(
    sender: Sender,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> (u64, u64) {
    let (mut sent, mut errors) = (0u64, 0u64);
    loop {
        if *stop.borrow() {
            break;
        }
        let r = sender.drain().await;
        sent += r.sent;
        errors += r.errors.len() as u64;
        if !r.errors.is_empty() {
            tracing::warn!(errors = r.errors.len(), "outbox pass with errors");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            r = stop.changed() => if r.is_err() { break },
        }
    }
    (sent, errors)
}

async fn triage_loop(
    svc: &Arc<Service>,
    worker: &str,
    a: &WorkerArgs,
    mut stop: watch::Receiver<bool>,
) -> WorkerStats {
    let mut stats = WorkerStats {
        worker: worker.to_string(),
        ..WorkerStats::default()
    };
    let lease = Duration::from_secs(a.job_lease_seconds.max(1));
    let idle = Duration::from_millis(a.idle_ms.max(10));
    let mut last_sweep: Option<Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        match svc
            .store
            .claim_jobs(&[TRIAGE_JOB], worker, lease, a.triage_batch.max(1))
            .await
        {
            Ok(jobs) if !jobs.is_empty() => handle_triage(svc, worker, jobs, &mut stats).await,
            Ok(_) => {
                // Only when idle: catch messages stored without a job (an import
                // killed between storing and enqueueing, a lost enqueue).
                if last_sweep.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    last_sweep = Some(Instant::now());
                    match sweep(&svc.store).await {
                        Ok(n) => stats.swept += n,
                        Err(e) => tracing::warn!(error = %format!("{e:#}"), "sweep failed"),
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(idle) => {}
                    r = stop.changed() => if r.is_err() { break },
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim a job; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(idle * 5) => {}
                    r = stop.changed() => if r.is_err() { break },
                }
            }
        }
    }
    stats
}

/// Triage the messages of a batch of claimed jobs: each still `new` is triaged
/// (all at once, on every core, one commit), the others are skipped; the jobs
/// done are completed in one statement, a failed one is queued again later.
async fn handle_triage(svc: &Arc<Service>, worker: &str, jobs: Vec<Job>, stats: &mut WorkerStats) {
    let mut skipped = Vec::new();
    let mut keyed = Vec::new();
    for job in jobs {
        match job.key.parse::<i64>() {
            Ok(id) => keyed.push((job, id)),
            Err(_) => {
                stats.failed += 1;
                let _ = svc
                    .store
                    .fail_job(job.id, worker, None, "the job key is not a message id")
                    .await;
            }
        }
    }
    // The batch's messages and raw bytes in two queries.
    let ids: Vec<i64> = keyed.iter().map(|(_, id)| *id).collect();
    let loaded = match svc.store.get_messages(&ids).await {
        Ok(ms) => {
            let fresh: Vec<i64> = ms
                .iter()
                .filter(|m| m.state == MessageState::New)
                .map(|m| m.id)
                .collect();
            svc.store.get_raws(&fresh).await.map(|raws| (ms, raws))
        }
        Err(e) => Err(e),
    };
    let (mut messages, mut raws) = match loaded {
        Ok((ms, raws)) => (
            ms.into_iter().map(|m| (m.id, m)).collect::<HashMap<_, _>>(),
            raws.into_iter().collect::<HashMap<_, _>>(),
        ),
        Err(e) => {
            let e = anyhow::Error::from(e);
            for (job, id) in &keyed {
                job_failed(svc, worker, job, *id, &e, stats).await;
            }
            return;
        }
    };
    let mut todo = Vec::new();
    for (job, id) in keyed {
        match (messages.remove(&id), raws.remove(&id)) {
            (Some(m), Some(raw)) if m.state == MessageState::New => todo.push((job, m, raw)),
            // Already triaged (a dead worker recorded it), or gone.
            _ => skipped.push(job.id),
        }
    }
    // Parsing is CPU work: off the runtime's threads, with the triage after it.
    let parsed = tokio::task::spawn_blocking(move || {
        todo.into_iter()
            .map(|(job, m, raw)| {
                let mail = facteur_mail::parse_message(&raw);
                let item = facteur_app::ToTriage {
                    id: m.id,
                    mailbox_id: m.mailbox_id,
                    mail,
                    category: m.category,
                    // Its attachments are read from these bytes, not read again.
                    raw: Some(raw),
                };
                (job, item)
            })
            .unzip::<_, _, Vec<_>, Vec<_>>()
    })
    .await;
    let (jobs, batch) = match parsed {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "parsing a batch of messages failed");
            return;
        }
    };
    let ids: Vec<i64> = batch.iter().map(|t| t.id).collect();
    let mut triaged = Vec::new();
    for ((job, id), r) in jobs.iter().zip(ids).zip(svc.triage_batch(batch).await) {
        match r {
            Ok(_) => triaged.push(job.id),
            Err(e) => job_failed(svc, worker, job, id, &anyhow::Error::from(e), stats).await,
        }
    }
    let done: Vec<i64> = triaged.iter().chain(&skipped).copied().collect();
    match svc.store.complete_jobs(&done, worker).await {
        Ok(completed) => {
            for id in &done {
                if !completed.contains(id) {
                    // Our lease ran out and another worker took the job: it will
                    // find the message triaged and complete the job itself.
                    tracing::warn!(job = id, "lease lost before completion");
                    stats.lease_lost += 1;
                } else if triaged.contains(id) {
                    stats.triaged += 1;
                } else {
                    stats.skipped += 1;
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot complete a batch of jobs; they will be taken over");
            stats.lease_lost += done.len() as u64;
        }
    }
}

/// Record a job's failure: queued again with a growing delay, or failed for good
/// after [`MAX_ATTEMPTS`].
async fn job_failed(
    svc: &Arc<Service>,
    worker: &str,
    job: &Job,
    message: i64,
    e: &anyhow::Error,
    stats: &mut WorkerStats,
) {
    stats.failed += 1;
    let text = format!("{e:#}");
    tracing::warn!(job = job.id, message, error = %text, "triage job failed");
    let retry = (job.attempts < MAX_ATTEMPTS)
        .then(|| svc.store.now_ms() + 1000 * (1i64 << job.attempts.clamp(0, 10)));
    if let Err(e) = svc.store.fail_job(job.id, worker, retry, &text).await {
        tracing::warn!(job = job.id, error = %e, "cannot record the job failure");
        stats.lease_lost += 1;
    }
}

/// Enqueue a `triage` job for every message still `new` (idempotent: existing
/// jobs are left alone).
async fn sweep(store: &Store) -> Result<u64> {
    let mut n = 0;
    let mut page = QueuePage::First;
    loop {
        let rows = store
            .list_queue(&QueueQuery {
                mailbox_ids: None,
                states: vec![MessageState::New],
                category: None,
                assigned_to: None,
                search: None,
                received: None,
                sort: QueueSort::Age,
                page,
                limit: 500,
            })
            .await?;
        let Some(last) = rows.last() else {
            return Ok(n);
        };
        let next = QueuePage::After(last.cursor);
        for r in &rows {
            if let Ok(facteur_store::InsertOutcome::Inserted(_)) = store
                .enqueue_job(
                    TRIAGE_JOB,
                    &r.id.to_string(),
                    &serde_json::json!({ "message_id": r.id }),
                )
                .await
            {
                n += 1;
            }
        }
        if rows.len() < 500 {
            return Ok(n);
        }
        page = next;
    }
}
