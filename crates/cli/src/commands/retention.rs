//! `facteur retention purge` and the daily purge that `serve` and `worker` run:
//! the `[retention]` delays applied by the store (`Store::purge_expired`).

use anyhow::Result;
use clap::Subcommand;
use facteur_store::{RetentionPolicy, Store};
use std::time::Duration;
use tokio::sync::watch;

use crate::config::Config;

/// Messages per transaction: short transactions, so agents never wait on a purge.
pub const PURGE_BATCH: u32 = 500;
/// Every node runs it; the purge is idempotent and cheap when nothing expired.
const EVERY: Duration = Duration::from_secs(24 * 3600);

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Apply the [retention] delays now (serve and worker do it daily) and print
    /// what was removed: counts only, audited.
    Purge {
        /// Print {"raw_emptied","content_removed","messages_deleted","audit_seq"}.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cfg: &Config, cmd: RetentionCommand) -> Result<()> {
    let RetentionCommand::Purge { json } = cmd;
    super::runtime()?.block_on(async {
        let svc = crate::service::open_admin(cfg).await?;
        let r = svc.store.purge_expired(&cfg.retention, PURGE_BATCH).await?;
        if json {
            super::print_json(&r)?;
        } else {
            println!(
                "{}",
                tr!(
                    "purge : {} mails d'origine vidés, {} messages réduits au texte d'entraînement, {} messages supprimés",
                    "purge: {} original mails emptied, {} messages reduced to their training text, {} messages deleted",
                    r.raw_emptied,
                    r.content_removed,
                    r.messages_deleted
                )
            );
        }
        svc.store.close().await;
        Ok(())
    })
}

/// Apply `policy` at start and then daily until `stop`.
pub async fn daily_purge(store: Store, policy: RetentionPolicy, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = store.purge_expired(&policy, PURGE_BATCH).await {
            tracing::warn!(error = %e, "retention purge failed; retrying tomorrow");
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            r = stop.changed() => if r.is_err() || *stop.borrow() { break },
        }
    }
}
