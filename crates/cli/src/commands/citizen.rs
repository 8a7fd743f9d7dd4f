//! `facteur citizen export` (right of access) and `facteur citizen erase`
//! (right to erasure): which messages belong to a person is the store's
//! (`Citizen`, `Store::citizen_message_ids`); this writes the export folder and
//! asks for the supervisor's name and reason.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use facteur_store::Citizen;
use serde::Serialize;
use std::path::PathBuf;

use crate::config::Config;

#[derive(Args, Debug)]
pub struct Who {
    /// The person's e-mail address (any case).
    #[arg(long, value_name = "ADDRESS")]
    pub address: String,
    /// Their fiscal number (13 digits, spaces allowed): also finds mails that
    /// quote it from another address.
    #[arg(long, value_name = "NUMBER")]
    pub fiscal_number: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum CitizenCommand {
    /// Right of access: write everything about one person into an empty folder
    /// (citizen.json plus each original mail as NNN.eml). Audited (counts only).
    Export {
        #[command(flatten)]
        who: Who,
        /// The folder to create (must not exist or be empty).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// Who answers the request (kept in the audit log).
        #[arg(long, value_name = "NAME")]
        by: String,
    },
    /// Right to erasure: delete every message about one person, with its replies,
    /// triage results and agents' actions. Audited with the supervisor's name and
    /// the reason (which must not name the person); every model version is
    /// flagged for its next review.
    Erase {
        #[command(flatten)]
        who: Who,
        /// The supervisor who decided the erasure.
        #[arg(long, value_name = "NAME")]
        by: String,
        /// Why (legal basis, request reference): kept forever in the audit log.
        #[arg(long)]
        reason: String,
        /// Print {"messages","replies","models_flagged","audit_seq","at"}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct ExportedMessage {
    message: facteur_store::Message,
    triage: Option<facteur_store::TriageResult>,
    actions: Vec<facteur_store::ActionRecord>,
    reply: Option<facteur_store::OutboxItem>,
    /// The original mail's file in the folder, when it is still kept.
    original: Option<String>,
}

#[derive(Serialize)]
struct Export {
    generated_at: i64,
    address: String,
    fiscal_number: Option<String>,
    messages: Vec<ExportedMessage>,
}

fn citizen(who: &Who) -> Result<Citizen> {
    Citizen::new(&who.address, who.fiscal_number.as_deref()).context(crate::i18n::tr(
        "donnez une adresse électronique (--address) et, si besoin, un numéro fiscal de 13 chiffres (--fiscal-number)",
        "give an e-mail address (--address) and, if needed, a 13-digit fiscal number (--fiscal-number)",
    ))
}

pub fn run(cfg: &Config, cmd: CitizenCommand) -> Result<()> {
    super::runtime()?.block_on(async {
        let svc = crate::service::open_admin(cfg).await?;
        let store = &svc.store;
        match cmd {
            CitizenCommand::Export { who, to, by } => {
                let c = citizen(&who)?;
                if to.exists() && std::fs::read_dir(&to)?.next().is_some() {
                    bail!(tr!(
                        "{} n'est pas vide : donnez un dossier neuf",
                        "{} is not empty: give a new folder",
                        to.display()
                    ));
                }
                std::fs::create_dir_all(&to)
                    .with_context(|| tr!("impossible de créer {}", "cannot create {}", to.display()))?;
                let mut messages = Vec::new();
                for id in store.citizen_message_ids(&c).await? {
                    let Some(message) = store.get_message(id).await? else { continue };
                    let raw = store.get_raw(id).await?.unwrap_or_default();
                    let original = if raw.is_empty() {
                        None
                    } else {
                        let name = format!("{id:06}.eml");
                        std::fs::write(to.join(&name), &raw)?;
                        Some(name)
                    };
                    messages.push(ExportedMessage {
                        triage: store.latest_triage(id).await?,
                        actions: store.list_actions(id).await?,
                        reply: store.get_outbox_for_message(id).await?,
                        message,
                        original,
                    });
                }
                let n = messages.len();
                let export = Export {
                    generated_at: store.now_ms(),
                    address: who.address.trim().to_string(),
                    fiscal_number: who.fiscal_number.clone(),
                    messages,
                };
                std::fs::write(to.join("citizen.json"), serde_json::to_vec_pretty(&export)?)?;
                store
                    .audit(
                        &format!("supervisor:{}", by.trim()),
                        "citizen.export",
                        "citizen",
                        &serde_json::json!({"messages": n}),
                    )
                    .await?;
                println!(
                    "{}",
                    tr!(
                        "{n} messages exportés dans {}",
                        "{n} messages exported into {}",
                        to.display()
                    )
                );
            }
            CitizenCommand::Erase { who, by, reason, json } => {
                let c = citizen(&who)?;
                let r = store.erase_citizen(&c, &by, &reason).await?;
                if json {
                    super::print_json(&r)?;
                } else {
                    println!(
                        "{}",
                        tr!(
                            "effacé : {} messages, {} réponses ; {} versions de modèle à revoir (elles ont pu apprendre de ces messages)",
                            "erased: {} messages, {} replies; {} model versions flagged for review (they may have learnt from these messages)",
                            r.messages,
                            r.replies,
                            r.models_flagged
                        )
                    );
                }
            }
        }
        store.close().await;
        Ok(())
    })
}
