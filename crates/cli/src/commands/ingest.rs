//! `facteur import`: mail files into a mailbox of the store, triaged on the way.

use crate::config::Config;
use crate::progress;
use crate::service::TriageHook;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The mailbox to import into (declared in the config, or created by an admin).
    #[arg(long, value_name = "NAME")]
    pub mailbox: String,
    /// .eml files, mbox files, Maildir folders or directories (walked recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// End with one JSON summary {"fetched","stored","duplicates_skipped","defects","errors"}.
    #[arg(long)]
    pub json: bool,
    /// Store only, and leave the triage to `facteur worker` processes: one `triage`
    /// job per new message (see docs/SCALE.md).
    #[arg(long)]
    pub defer_triage: bool,
}

/// Messages stored per batch by `import`, and the bytes a batch may hold: enough to
/// keep the store busy, small enough that a big archive never sits in memory.
const IMPORT_BATCH: usize = 200;
const IMPORT_BATCH_BYTES: usize = 64 << 20;

pub fn run(cfg: &Config, a: ImportArgs) -> Result<()> {
    super::runtime()?.block_on(async {
        let svc = crate::service::open(cfg).await?;
        let mailbox_id = svc.mailbox_id(&a.mailbox).await.map_err(crate::service::explained)?;
        if !a.defer_triage {
            svc.triage_pending().await?;
        }
        let sources = super::discover(&a.paths)?;
        let total: u64 = sources.iter().map(|s| s.size).sum();
        let pb = progress::bytes_bar(total, "import");
        let hook: Box<dyn facteur_connect::IngestHook> = if a.defer_triage {
            Box::new(super::worker::EnqueueTriage(svc.store.clone()))
        } else {
            Box::new(TriageHook(svc.clone()))
        };
        let mut summary = facteur_connect::SyncReport::default();
        for src in &sources {
            // Stored in batches as they are read: memory stays at one batch however
            // big the archive, and the bar moves within a big mbox. A read error
            // stops the command after what was read before it is stored (a re-run
            // skips those as duplicates).
            let mut messages = super::read_messages(src)?.peekable();
            while messages.peek().is_some() {
                let mut batch = Vec::new();
                let (mut batch_bytes, mut read) = (0usize, 0u64);
                let mut failed = None;
                while batch.len() < IMPORT_BATCH && batch_bytes < IMPORT_BATCH_BYTES {
                    match messages.next() {
                        Some(Ok((m, step))) => {
                            batch_bytes += m.bytes.len();
                            read += step;
                            batch.push(m);
                        }
                        Some(Err(e)) => {
                            failed = Some(e);
                            break;
                        }
                        None => break,
                    }
                }
                let r =
                    facteur_connect::import_raw(&svc.store, mailbox_id, batch, hook.as_ref()).await;
                summary.merge(&r);
                pb.inc(read);
                if let Some(e) = failed {
                    return Err(e);
                }
            }
        }
        pb.finish_and_clear();
        if a.json {
            super::print_json(&summary)?;
        } else {
            println!(
                "{}",
                tr!(
                    "{} lus, {} stockés, {} déjà présents, {} avec défauts, {} erreurs",
                    "{} read, {} stored, {} already there, {} with defects, {} errors",
                    summary.fetched,
                    summary.stored,
                    summary.duplicates_skipped,
                    summary.defects,
                    summary.errors.len()
                )
            );
            for e in &summary.errors {
                eprintln!("{} {e}", crate::i18n::tr("erreur :", "error:"));
            }
        }
        // Closing the pool checkpoints SQLite's write-ahead log into the
        // database file before the process ends.
        svc.store.close().await;
        // A script must not take an archive for imported when messages are
        // missing (it used to exit 0). What was stored stays; a re-run skips it.
        if !summary.errors.is_empty() {
            bail!(tr!(
                "{} message(s) non enregistré(s) (détail ci-dessus) : corrigez la cause puis relancez la même commande ; les messages déjà enregistrés seront ignorés",
                "{} message(s) not stored (details above): fix the cause, then run the same command again; the messages already stored are skipped",
                summary.errors.len()
            ));
        }
        Ok(())
    })
}
