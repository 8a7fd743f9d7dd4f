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
use facteur_learn::review::{KillSwitch, ReviewDecision, SwitchScope, SwitchStore};
use facteur_learn::{StoreExclusions, StoreSwitches};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Every model version with its status, metrics and review dates.
    List {
        /// Machine-readable output (JSON) for scripts.
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
        /// A free note kept with the record.
        #[arg(long)]
        note: Option<String>,
        /// Train on the base examples only, without the agents' feedback.
        #[arg(long)]
        no_feedback: bool,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate a version on labelled examples.
    Eval {
        /// The model version (as `facteur model list` shows it).
        #[arg(id = "model_version", value_name = "VERSION")]
        version: String,
        /// Labelled examples, JSON lines {"text": …, "label": …}.
        #[arg(long, value_name = "EVAL.jsonl")]
        data: PathBuf,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Make a candidate the active model. Needs a named supervisor or admin.
    Promote {
        /// The model version (as `facteur model list` shows it).
        #[arg(id = "model_version", value_name = "VERSION")]
        version: String,
        /// The account (user name) that acts: recorded in the audit log.
        #[arg(long, value_name = "USER")]
        by: Option<String>,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Go back to the previously active model. Needs a named supervisor or admin.
    Rollback {
        /// The account (user name) that acts: recorded in the audit log.
        #[arg(long, value_name = "USER")]
        by: Option<String>,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Exclude an agent-feedback example (by message id) from future training, with a
    /// reason. Needs a named supervisor or admin.
    Exclude {
        /// The message whose feedback must not be learned from.
        #[arg(long, value_name = "MESSAGE_ID")]
        message: i64,
        /// The account (user name) that acts: recorded in the audit log.
        #[arg(long, value_name = "USER")]
        by: String,
        /// Why: shown to supervisors and kept in the audit log.
        #[arg(long)]
        reason: String,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Kill switches: stop or resume draft suggestions for the whole service, a
    /// mailbox or a request type. Shared through the database: every node obeys
    /// within seconds. The same switches as the supervision page.
    #[command(subcommand)]
    Switch(SwitchCommand),
    /// Record the quarterly review of a version: keep, retrain or withdraw.
    Review {
        /// The model version (as `facteur model list` shows it).
        #[arg(id = "model_version", value_name = "VERSION")]
        version: String,
        /// The account (user name) that acts: recorded in the audit log.
        #[arg(long, value_name = "USER")]
        by: Option<String>,
        /// keep, retrain or withdraw.
        #[arg(long)]
        decision: String,
        /// A free note kept with the record.
        #[arg(long)]
        note: Option<String>,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SwitchCommand {
    /// The switches in force, with who set them, when and why.
    List {
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Stop draft suggestions (messages are still stored and classified; agents
    /// answer by hand). Needs a named supervisor or admin.
    Off {
        /// `all`, `mailbox:NAME` or `type:REQUEST_TYPE`.
        #[arg(long)]
        scope: String,
        /// The account (user name) that acts: recorded in the audit log.
        #[arg(long, value_name = "USER")]
        by: String,
        /// Why: shown to supervisors and kept in the audit log.
        #[arg(long)]
        reason: String,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Resume draft suggestions for a scope. Needs a named supervisor or admin.
    On {
        /// `all`, `mailbox:NAME` or `type:REQUEST_TYPE`.
        #[arg(long)]
        scope: String,
        /// The account (user name) that acts: recorded in the audit log.
        #[arg(long, value_name = "USER")]
        by: String,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// `all`, `mailbox:NAME` or `type:REQUEST_TYPE` → the scope, resolving the
/// mailbox name.
async fn parse_scope(svc: &Service, scope: &str) -> Result<SwitchScope> {
    let scope = scope.trim();
    if scope == "all" {
        return Ok(SwitchScope::All);
    }
    if let Some(name) = scope.strip_prefix("mailbox:") {
        let mb = svc
            .store
            .get_mailbox_by_name(name)
            .await?
            .with_context(|| {
                tr!(
                    "aucune boîte nommée {name:?} : voir les sections [[mailbox]] de la configuration",
                    "no mailbox named {name:?}: see the [[mailbox]] sections of the config"
                )
            })?;
        return Ok(SwitchScope::Mailbox(mb.id));
    }
    if let Some(t) = scope.strip_prefix("type:").filter(|t| !t.trim().is_empty()) {
        return Ok(SwitchScope::RequestType(t.trim().to_string()));
    }
    anyhow::bail!(tr!(
        "portée {scope:?} : utilisez all, mailbox:NAME ou type:REQUEST_TYPE",
        "scope {scope:?}: use all, mailbox:NAME or type:REQUEST_TYPE"
    ))
}

fn scope_json(s: &SwitchScope) -> serde_json::Value {
    let (kind, value) = s.to_stored();
    serde_json::json!({"kind": kind, "value": value})
}

async fn switch(svc: &Service, data_dir: &std::path::Path, cmd: SwitchCommand) -> Result<()> {
    let switches = StoreSwitches::with_data_dir(svc.store.clone(), data_dir);
    let supervisor = |by: String| async move {
        let user = svc
            .store
            .get_user_by_username(&by)
            .await?
            .with_context(|| no_account(&by))?;
        facteur_learn::registry::authorize(Some(&user), "kill switch").context(
            crate::i18n::tr(
                "interrupteur refusé : il faut un superviseur (supervisor) ou un administrateur (admin) actif",
                "kill switch refused: it needs an active supervisor or admin",
            ),
        )
    };
    match cmd {
        SwitchCommand::List { json } => {
            let list = switches.switches().await?;
            if json {
                for s in &list {
                    super::print_json(&serde_json::json!({
                        "scope": scope_json(&s.scope), "set_by": s.set_by,
                        "set_at": s.set_at, "reason": s.reason,
                    }))?;
                }
            } else if list.is_empty() {
                println!(
                    "{}",
                    crate::i18n::tr(
                        "aucun interrupteur en vigueur : les brouillons sont suggérés",
                        "no kill switch in force: drafts are suggested"
                    )
                );
            } else {
                for s in &list {
                    let (kind, value) = s.scope.to_stored();
                    println!(
                        "{}",
                        tr!(
                            "{kind}:{value}  posé par l'utilisateur {} — {}",
                            "{kind}:{value}  set by user {} — {}",
                            s.set_by,
                            s.reason
                        )
                    );
                }
            }
        }
        SwitchCommand::Off {
            scope,
            by,
            reason,
            json,
        } => {
            if reason.trim().is_empty() {
                anyhow::bail!(tr!(
                    "un interrupteur demande un motif (--reason \"...\") : il est montré aux superviseurs et conservé dans le journal d'audit",
                    "a kill switch needs a reason (--reason \"...\"): it is shown to supervisors and kept in the audit log"
                ));
            }
            let scope = parse_scope(svc, &scope).await?;
            let by = supervisor(by).await?;
            switches
                .switch_off(KillSwitch {
                    scope: scope.clone(),
                    set_by: by,
                    set_at: 0,
                    reason,
                })
                .await?;
            if json {
                super::print_json(
                    &serde_json::json!({"scope": scope_json(&scope), "suggestions": "off"}),
                )?;
            } else {
                let (kind, value) = scope.to_stored();
                println!(
                    "{}",
                    tr!(
                        "suggestions suspendues pour {kind}:{value}, sur chaque nœud en quelques secondes",
                        "suggestions off for {kind}:{value}, on every node within seconds"
                    )
                );
            }
        }
        SwitchCommand::On { scope, by, json } => {
            let scope = parse_scope(svc, &scope).await?;
            let by = supervisor(by).await?;
            switches.switch_on(&scope, by).await?;
            if json {
                super::print_json(
                    &serde_json::json!({"scope": scope_json(&scope), "suggestions": "on"}),
                )?;
            } else {
                let (kind, value) = scope.to_stored();
                println!(
                    "{}",
                    tr!(
                        "suggestions reprises pour {kind}:{value}",
                        "suggestions back on for {kind}:{value}"
                    )
                );
            }
        }
    }
    Ok(())
}

async fn user_id(svc: &Service, name: Option<&str>) -> Result<Option<i64>> {
    match name {
        None => Ok(None),
        Some(n) => Ok(Some(
            svc.store
                .get_user_by_username(n)
                .await?
                .with_context(|| no_account(n))?
                .id,
        )),
    }
}

/// The error of a `--by` that names no account.
fn no_account(name: &str) -> String {
    tr!(
        "aucun compte nommé {name:?} : voir `facteur user list`",
        "no account named {name:?}: see `facteur user list`"
    )
}

/// The context of a refused supervisor action (promotion, rollback, review).
fn needs_supervisor(fr_action: &str, en_action: &str) -> String {
    tr!(
        "{fr_action} refusée : il faut --by avec l'identifiant d'un superviseur (supervisor) ou administrateur (admin) actif",
        "{en_action} refused: it needs --by with the user name of an active supervisor or admin"
    )
}

fn read(path: &std::path::Path) -> Result<Vec<facteur_classify::Example>> {
    facteur_classify::read_jsonl(path)
        .with_context(|| tr!("impossible de lire {}", "cannot read {}", path.display()))
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
                    println!(
                        "{}",
                        crate::i18n::tr(
                            "aucune version de modèle pour l'instant : entraînez-en une avec `facteur model train`",
                            "no model version yet: train one with `facteur model train`"
                        )
                    );
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
                    println!(
                        "{}",
                        tr!(
                            "candidat {} entraîné ({} exemples issus des retours)",
                            "candidate {} trained ({} feedback examples)",
                            outcome.candidate.version,
                            feedback.len()
                        )
                    );
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
                let r = registry::promote(&svc.store, &data_dir, &reg, &version, by)
                    .await
                    .with_context(|| needs_supervisor("promotion", "promotion"))?;
                if json {
                    super::print_json(&r)?;
                } else {
                    println!("{}", serde_json::to_string_pretty(&r)?);
                }
            }
            ModelCommand::Rollback { by, json } => {
                let by = user_id(&svc, by.as_deref()).await?;
                let r = registry::rollback(&svc.store, &data_dir, &reg, by)
                    .await
                    .with_context(|| needs_supervisor("restauration", "rollback"))?;
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
                    .with_context(|| no_account(&by))?;
                facteur_learn::registry::authorize(Some(&user), "exclusion").context(
                    crate::i18n::tr(
                        "exclusion refusée : il faut un superviseur (supervisor) ou un administrateur (admin) actif",
                        "exclusion refused: it needs an active supervisor or admin",
                    ),
                )?;
                // Training leaves examples out by example id (the agent action's
                // id): exclude every example this message's feedback yields.
                let msg = svc
                    .store
                    .get_message(message)
                    .await?
                    .with_context(|| {
                        tr!(
                            "le message {message} n'existe pas",
                            "message {message} does not exist"
                        )
                    })?;
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
                    println!(
                        "{}",
                        tr!(
                            "le message {message} n'a aucun retour d'agent à exclure : rien à faire",
                            "message {message} has no agent feedback to exclude: nothing to do"
                        )
                    );
                } else {
                    let n = ids.len();
                    println!(
                        "{}",
                        tr!(
                            "message {message} : {n} exemple(s) issu(s) des retours exclu(s) de l'entraînement ({newly} nouveau(x))",
                            "message {message}: {n} feedback example(s) excluded from training ({newly} new)"
                        )
                    );
                }
            }
            ModelCommand::Switch(cmd) => switch(&svc, &data_dir, cmd).await?,
            ModelCommand::Review { version, by, decision, note, json } => {
                let decision = match decision.as_str() {
                    "keep" => ReviewDecision::Keep,
                    "retrain" => ReviewDecision::Retrain,
                    "withdraw" => ReviewDecision::Withdraw,
                    other => anyhow::bail!(tr!(
                        "décision {other:?} : utilisez keep (garder), retrain (réentraîner) ou withdraw (retirer)",
                        "decision {other:?}: use keep, retrain or withdraw"
                    )),
                };
                let by = user_id(&svc, by.as_deref()).await?;
                let seen = serde_json::to_value(registry::get_version(&svc.store, &data_dir, &reg, &version).await?)?;
                let r = registry::record_review(&svc.store, &version, by, decision, seen, note)
                    .await
                    .with_context(|| needs_supervisor("revue", "review"))?;
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
