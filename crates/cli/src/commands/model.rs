//! `facteur model`: the model registry. Train a candidate from the base examples plus
//! the agents' corrections, evaluate it on the fixed set, compare it with the active
//! model, and promote, roll back or review it — promotion, rollback and review need
//! a named supervisor.

use crate::config::Config;
use crate::service::Service;
use anyhow::{Context, Result};
use clap::Subcommand;
use facteur_learn::feedback::ExclusionStore;
use facteur_learn::registry::{self, RegistryConfig, TrainRequest};
use facteur_learn::review::ReviewDecision;
use facteur_learn::StoreExclusions;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Every model version with its status, metrics and review dates.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Train a candidate from base examples plus the agents' feedback, evaluate it on
    /// the fixed evaluation set and compare it with the active model, per class.
    Train {
        /// Base training examples (JSON lines {"text","label"}).
        #[arg(long, value_name = "TRAIN.jsonl")]
        base: PathBuf,
        /// The fixed evaluation set (never trained on).
        #[arg(long, value_name = "EVAL.jsonl")]
        eval: PathBuf,
        /// Who trains it (user name), recorded with the version.
        #[arg(long, value_name = "USER")]
        by: Option<String>,
        #[arg(long)]
        note: Option<String>,
        /// Train on the base examples only, without the agents' feedback.
        #[arg(long)]
        no_feedback: bool,
        #[arg(long)]
        json: bool,
    },
    /// Evaluate a version on labelled examples.
    Eval {
        version: String,
        #[arg(long, value_name = "EVAL.jsonl")]
        data: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Make a candidate the active model. Needs a named supervisor or admin.
    Promote {
        version: String,
        #[arg(long, value_name = "USER")]
        by: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Go back to the previously active model. Needs a named supervisor or admin.
    Rollback {
        #[arg(long, value_name = "USER")]
        by: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Exclude an agent-feedback example (by message id) from future training, with a
    /// reason. Needs a named supervisor or admin.
    Exclude {
        /// The message whose feedback must not be learned from.
        #[arg(long, value_name = "MESSAGE_ID")]
        message: i64,
        #[arg(long, value_name = "USER")]
        by: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Record the quarterly review of a version: keep, retrain or withdraw.
    Review {
        version: String,
        #[arg(long, value_name = "USER")]
        by: Option<String>,
        /// keep, retrain or withdraw.
        #[arg(long)]
        decision: String,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

async fn user_id(svc: &Service, name: Option<&str>) -> Result<Option<i64>> {
    match name {
        None => Ok(None),
        Some(n) => Ok(Some(
            svc.store
                .get_user_by_username(n)
                .await?
                .with_context(|| format!("no account named {n:?}: see `facteur user list`"))?
                .id,
        )),
    }
}

fn read(path: &std::path::Path) -> Result<Vec<facteur_classify::Example>> {
    facteur_classify::read_jsonl(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn run(cfg: &Config, cmd: ModelCommand) -> Result<()> {
    let reg = RegistryConfig::default();
    super::runtime()?.block_on(async {
        let svc = Service::open(cfg).await?;
        let data_dir = cfg.data_dir.clone();
        match cmd {
            ModelCommand::List { json } => {
                let versions = registry::list(&svc.store, &data_dir, &reg).await?;
                if json {
                    for v in &versions {
                        super::print_json(v)?;
                    }
                } else if versions.is_empty() {
                    println!("no model version yet: train one with `facteur model train`");
                } else {
                    for v in &versions {
                        println!("{}", serde_json::to_string(v)?);
                    }
                }
            }
            ModelCommand::Train { base, eval, by, note, no_feedback, json } => {
                let base = read(&base)?;
                let eval = read(&eval)?;
                let feedback = if no_feedback {
                    Vec::new()
                } else {
                    let fb = facteur_learn::collect::collect_feedback(&svc.store).await?;
                    let excluded = StoreExclusions::with_data_dir(svc.store.clone(), &data_dir)
                        .excluded()
                        .await?;
                    facteur_learn::feedback::training_examples(&fb, &excluded)
                };
                let trained_by = user_id(&svc, by.as_deref()).await?;
                let outcome = registry::train_candidate(
                    &svc.store,
                    &data_dir,
                    &reg,
                    TrainRequest { base: &base, feedback: &feedback, eval_set: &eval, trained_by, note },
                )
                .await?;
                if json {
                    super::print_json(&outcome)?;
                } else {
                    println!("candidate {} trained ({} feedback examples)", outcome.candidate.version, feedback.len());
                    println!("{}", serde_json::to_string_pretty(&outcome)?);
                }
            }
            ModelCommand::Eval { version, data, json } => {
                let examples = read(&data)?;
                let s = registry::evaluate_version(&data_dir, &version, &examples).await?;
                if json {
                    super::print_json(&s)?;
                } else {
                    println!("{}", serde_json::to_string_pretty(&s)?);
                }
            }
            ModelCommand::Promote { version, by, json } => {
                let by = user_id(&svc, by.as_deref()).await?;
                let r = registry::promote(&svc.store, &data_dir, &reg, &version, by).await.context(
                    "promotion refused: it needs --by with the user name of an active supervisor or admin",
                )?;
                if json {
                    super::print_json(&r)?;
                } else {
                    println!("{}", serde_json::to_string_pretty(&r)?);
                }
            }
            ModelCommand::Rollback { by, json } => {
                let by = user_id(&svc, by.as_deref()).await?;
                let r = registry::rollback(&svc.store, &data_dir, &reg, by).await.context(
                    "rollback refused: it needs --by with the user name of an active supervisor or admin",
                )?;
                if json {
                    super::print_json(&r)?;
                } else {
                    println!("{}", serde_json::to_string_pretty(&r)?);
                }
            }
            ModelCommand::Exclude { message, by, reason, json } => {
                let user = svc
                    .store
                    .get_user_by_username(&by)
                    .await?
                    .with_context(|| format!("no account named {by:?}: see `facteur user list`"))?;
                facteur_learn::registry::authorize(Some(&user), "exclusion")
                    .context("exclusion refused: it needs an active supervisor or admin")?;
                // Training leaves examples out by example id (the agent action's
                // id): exclude every example this message's feedback yields.
                let msg = svc
                    .store
                    .get_message(message)
                    .await?
                    .with_context(|| format!("message {message} does not exist"))?;
                let actions = svc.store.list_actions(message).await?;
                let examples = facteur_learn::feedback::examples_from_actions(
                    facteur_learn::feedback::MessageFeedback {
                        message_id: msg.id,
                        mailbox_id: msg.mailbox_id,
                        pseudonymised_text: &msg.pseudonymised_text,
                        actions: &actions,
                    },
                );
                let ids: Vec<i64> = examples.iter().map(|e| e.id).collect();
                // The store audits each new exclusion; excluding again is a no-op.
                let store = StoreExclusions::with_data_dir(svc.store.clone(), &data_dir);
                let mut newly = 0;
                for id in &ids {
                    if store.exclude(*id, user.id, &reason).await? {
                        newly += 1;
                    }
                }
                if json {
                    super::print_json(&serde_json::json!({"message": message, "examples": ids, "newly_excluded": newly}))?;
                } else if ids.is_empty() {
                    println!("message {message} has no agent feedback to exclude: nothing to do");
                } else {
                    println!("message {message}: {} feedback example(s) excluded from training ({newly} new)", ids.len());
                }
            }
            ModelCommand::Review { version, by, decision, note, json } => {
                let decision = match decision.as_str() {
                    "keep" => ReviewDecision::Keep,
                    "retrain" => ReviewDecision::Retrain,
                    "withdraw" => ReviewDecision::Withdraw,
                    other => anyhow::bail!("decision {other:?}: use keep, retrain or withdraw"),
                };
                let by = user_id(&svc, by.as_deref()).await?;
                let seen = serde_json::to_value(registry::get_version(&svc.store, &data_dir, &reg, &version).await?)?;
                let r = registry::record_review(&svc.store, &version, by, decision, seen, note)
                    .await
                    .context("review refused: it needs --by with the user name of an active supervisor or admin")?;
                if json {
                    super::print_json(&r)?;
                } else {
                    println!("{}", serde_json::to_string_pretty(&r)?);
                }
            }
        }
        Ok(())
    })
}
