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
use facteur_learn::{LearnError, StoreExclusions, StoreSwitches};
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
        /// Labelled mail held apart from training (JSON lines {"text", "label"}; a
        /// label that is not a type of the model marks an out-of-scope mail): the
        /// abstain threshold is refitted on it, so that drafts reach the target
        /// precision on mail like it rather than on the training examples.
        #[arg(long, value_name = "CAL.jsonl")]
        calibrate: Option<PathBuf>,
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
        /// Promote even when the candidate knows request types that are not in the
        /// taxonomy (recorded in the audit log).
        #[arg(long)]
        force: bool,
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
        /// Why (optional, as in the web form): shown to supervisors and kept in the
        /// audit log.
        #[arg(long, default_value = "")]
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
///
/// With `taxonomy`, a request type must be one of its ids: a mistyped type would
/// otherwise make a switch that stops nothing while the supervisor believes the
/// drafts stopped. Without a taxonomy file the type is accepted with a warning.
/// Turning a switch back on is not checked, so that a switch on a type since
/// removed from the taxonomy can still be lifted.
async fn parse_scope(
    svc: &Service,
    scope: &str,
    taxonomy: Option<&std::path::Path>,
) -> Result<SwitchScope> {
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
        let t = t.trim();
        if let Some(path) = taxonomy {
            check_request_type(t, path)?;
        }
        return Ok(SwitchScope::RequestType(t.to_string()));
    }
    anyhow::bail!(tr!(
        "portée {scope:?} : utilisez all, mailbox:NAME ou type:REQUEST_TYPE",
        "scope {scope:?}: use all, mailbox:NAME or type:REQUEST_TYPE"
    ))
}

/// Refuse a request type that the service's taxonomy does not know.
fn check_request_type(t: &str, path: &std::path::Path) -> Result<()> {
    if !path.is_file() {
        eprintln!(
            "{}",
            tr!(
                "attention : pas de taxonomie ({}) : le type {t:?} n'a pas pu être vérifié",
                "warning: no taxonomy ({}): the type {t:?} could not be checked",
                path.display()
            )
        );
        return Ok(());
    }
    let taxonomy = facteur_kb::answers::Taxonomy::load(path).with_context(|| {
        tr!(
            "impossible de charger la taxonomie {}",
            "cannot load the taxonomy {}",
            path.display()
        )
    })?;
    if taxonomy.contains(t) {
        return Ok(());
    }
    let ids: Vec<&str> = taxonomy
        .request_types
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    anyhow::bail!(tr!(
        "type de demande inconnu {t:?} : les types valides sont les id des [[request_type]] de {} ({})",
        "unknown request type {t:?}: the valid types are the ids of the [[request_type]] entries of {} ({})",
        path.display(),
        ids.join(", ")
    ))
}

fn scope_json(s: &SwitchScope) -> serde_json::Value {
    let (kind, value) = s.to_stored();
    serde_json::json!({"kind": kind, "value": value})
}

async fn switch(
    svc: &Service,
    data_dir: &std::path::Path,
    taxonomy: &std::path::Path,
    cmd: SwitchCommand,
) -> Result<()> {
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
                    let why = if s.reason.is_empty() {
                        "-"
                    } else {
                        s.reason.as_str()
                    };
                    println!(
                        "{}",
                        tr!(
                            "{kind}:{value}  posé par l'utilisateur {} — {}",
                            "{kind}:{value}  set by user {} — {}",
                            s.set_by,
                            why
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
            let scope = parse_scope(svc, &scope, Some(taxonomy)).await?;
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
            let scope = parse_scope(svc, &scope, None).await?;
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

use facteur_core::ModelStatus;
use facteur_learn::registry::{Comparison, EvalSummary, ModelVersionView, PromotionReceipt};
use facteur_learn::review::iso_date;

fn status_word(s: ModelStatus) -> &'static str {
    match s {
        ModelStatus::Candidate => crate::i18n::tr("candidat", "candidate"),
        ModelStatus::Active => crate::i18n::tr("actif", "active"),
        ModelStatus::Retired => crate::i18n::tr("retiré", "retired"),
    }
}

/// The user name of an account id (the id itself when the account is gone).
async fn username(svc: &Service, id: Option<i64>) -> String {
    match id {
        None => "-".into(),
        Some(id) => match svc.store.get_user(id).await {
            Ok(Some(u)) => u.username,
            _ => format!("#{id}"),
        },
    }
}

/// `facteur model list` (and `train`) for a person: one row per version.
async fn print_versions(svc: &Service, versions: &[ModelVersionView]) -> Result<()> {
    let header = [
        "version",
        crate::i18n::tr("statut", "status"),
        crate::i18n::tr("entraîné le", "trained"),
        crate::i18n::tr("exemples", "examples"),
        crate::i18n::tr("F1 macro", "macro-F1"),
        crate::i18n::tr("couv.@95", "cov.@95"),
        crate::i18n::tr("promu par", "promoted by"),
        crate::i18n::tr("promu le", "promoted"),
        crate::i18n::tr("revue avant", "review due"),
    ];
    let mut rows = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    for v in versions {
        let rec = v.record.as_ref();
        let review = match &v.review {
            Some(r) if r.overdue => tr!("{} (en retard)", "{} (overdue)", r.due_on),
            Some(r) => r.due_on.clone(),
            None => "-".into(),
        };
        rows.push(vec![
            v.version.clone(),
            status_word(v.status).to_string(),
            iso_date(rec.map_or(v.created_at, |r| r.trained_at)),
            rec.map_or("-".into(), |r| r.training_examples.to_string()),
            rec.map_or("-".into(), |r| format!("{:.3}", r.eval.macro_f1)),
            rec.map_or("-".into(), |r| {
                format!("{:.3}", r.eval.coverage_at_95_precision)
            }),
            if v.promoted_by.is_some() {
                username(svc, v.promoted_by).await
            } else {
                "-".into()
            },
            v.promoted_at.map_or("-".into(), iso_date),
            review,
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    for v in versions {
        if let Some(n) = v
            .record
            .as_ref()
            .and_then(|r| r.note.as_deref())
            .filter(|n| !n.is_empty())
        {
            println!("{}", tr!("note de {} : {n}", "note of {}: {n}", v.version));
        }
    }
    if let Some(w) = overdue_warning(versions) {
        println!("{w}");
    }
    Ok(())
}

/// The loud line under the table when the active model is past its review date:
/// a "(en retard)" in a table cell is easy to miss, and the product asks that an
/// overdue review be shown everywhere, with what to do about it.
fn overdue_warning(versions: &[ModelVersionView]) -> Option<String> {
    let (v, r) = versions
        .iter()
        .find_map(|v| v.review.as_ref().filter(|r| r.overdue).map(|r| (v, r)))?;
    let late = -r.days_left;
    Some(tr!(
        "ATTENTION : la revue trimestrielle du modèle actif {} est en retard depuis le {} ({late} jour(s)). Un superviseur doit l'examiner et l'enregistrer : facteur model review {} --by UTILISATEUR --decision keep|retrain|withdraw",
        "WARNING: the quarterly review of the active model {} is overdue since {} ({late} day(s)). A supervisor must examine it and record it: facteur model review {} --by USER --decision keep|retrain|withdraw",
        v.version,
        r.due_on,
        v.version
    ))
}

fn print_eval(s: &EvalSummary) {
    println!(
        "{}",
        tr!(
            "{} exemples  exactitude {:.3}  F1 macro {:.3}  couverture@95%P {:.3}  ECE {:.3}",
            "{} examples  accuracy {:.3}  macro-F1 {:.3}  coverage@95%P {:.3}  ECE {:.3}",
            s.examples,
            s.accuracy,
            s.macro_f1,
            s.coverage_at_95_precision,
            s.expected_calibration_error
        )
    );
    for (label, f1) in &s.per_class_f1 {
        println!("  {label:<40} F1 {f1:.3}");
    }
}

fn print_comparison(c: &Comparison) {
    println!(
        "{}",
        tr!(
            "par rapport à la version active {} : F1 macro {:+.3}, couverture {:+.3}, calibration (ECE) {:+.3}",
            "against the active version {}: macro-F1 {:+.3}, coverage {:+.3}, calibration (ECE) {:+.3}",
            c.active,
            c.macro_f1_delta,
            c.coverage_delta,
            c.calibration_delta
        )
    );
    if !c.same_eval_set {
        println!(
            "  {}",
            crate::i18n::tr(
                "attention : mesurées sur des jeux d'évaluation différents, ces différences ne sont pas comparables",
                "warning: measured on different evaluation sets, these differences are not comparable"
            )
        );
    }
    if !c.regressions.is_empty() {
        println!(
            "  {}",
            tr!(
                "types de demande en recul (F1 -0,05 ou pire) : {}",
                "request types getting worse (F1 -0.05 or worse): {}",
                c.regressions.join(", ")
            )
        );
    }
}

async fn print_receipt(svc: &Service, r: &PromotionReceipt) -> Result<()> {
    let who = username(svc, Some(r.promoted_by)).await;
    let date = iso_date(r.promoted_at);
    let previous = r.previous.clone().unwrap_or_else(|| "-".into());
    if r.rollback {
        println!(
            "{}",
            tr!(
                "retour à la version {} (active jusque-là : {previous}), par {who} le {date}",
                "rolled back to version {} (active until now: {previous}), by {who} on {date}",
                r.version
            )
        );
    } else {
        println!(
            "{}",
            tr!(
                "version {} active (précédente : {previous}), promue par {who} le {date}",
                "version {} active (previous: {previous}), promoted by {who} on {date}",
                r.version
            )
        );
    }
    if let Some(rv) = &r.review {
        println!(
            "  {}",
            tr!(
                "revue trimestrielle avant le {}",
                "quarterly review due by {}",
                rv.due_on
            )
        );
    }
    if let Some(c) = &r.comparison {
        print_comparison(c);
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

/// A registry refusal (promotion, rollback, review) as the person at the terminal
/// needs it: in their language, naming the real cause and what to do. Each cause
/// has its own sentence: wrapping every failure in "it needs a supervisor" told a
/// supervisor who had given `--by` that the version was missing a supervisor when
/// it was unknown, already active, or had nothing to roll back to.
fn refusal(e: LearnError, fr_action: &str, en_action: &str) -> anyhow::Error {
    let msg = match &e {
        LearnError::NoSupervisor { .. } => tr!(
            "{fr_action} refusée : il faut --by avec l'identifiant d'un superviseur (supervisor) ou administrateur (admin) actif",
            "{en_action} refused: it needs --by with the user name of an active supervisor or admin"
        ),
        LearnError::NotSupervisor { .. } => tr!(
            "{fr_action} refusée : le compte donné par --by n'est pas un superviseur (supervisor) ou administrateur (admin) actif ; voir `facteur user list`",
            "{en_action} refused: the account given with --by is not an active supervisor or admin; see `facteur user list`"
        ),
        LearnError::UnknownVersion(v) => tr!(
            "{fr_action} refusée : aucune version de modèle {v:?} ; voir `facteur model list`",
            "{en_action} refused: no model version {v:?}; see `facteur model list`"
        ),
        LearnError::WrongStatus { version, .. } => tr!(
            "{fr_action} refusée : la version {version} est déjà le modèle actif, rien à faire ; voir `facteur model list`",
            "{en_action} refused: version {version} is already the active model, nothing to do; see `facteur model list`"
        ),
        LearnError::NothingToRollBack => tr!(
            "{fr_action} refusée : aucune version n'a été active avant le modèle actuel. Pour changer de modèle, entraînez un candidat (`facteur model train`) puis promouvez-le (`facteur model promote`)",
            "{en_action} refused: no version was active before the current model. To change the model, train a candidate (`facteur model train`) then promote it (`facteur model promote`)"
        ),
        LearnError::Classify { version, .. } => {
            let msg = tr!(
                "{fr_action} refusée : les fichiers de la version {version} ne se chargent pas ; réentraînez un candidat (`facteur model train`)",
                "{en_action} refused: the files of version {version} do not load; train a new candidate (`facteur model train`)"
            );
            return anyhow::Error::new(e).context(msg);
        }
        _ => {
            let msg = tr!("{fr_action} impossible", "{en_action} failed");
            return anyhow::Error::new(e).context(msg);
        }
    };
    anyhow::anyhow!(msg)
}

fn read(path: &std::path::Path) -> Result<Vec<facteur_classify::Example>> {
    facteur_classify::read_jsonl(path)
        .with_context(|| tr!("impossible de lire {}", "cannot read {}", path.display()))
}

pub fn run(cfg: &Config, cmd: ModelCommand) -> Result<()> {
    let reg = RegistryConfig::default();
    super::runtime()?.block_on(async {
        let svc = crate::service::open_admin(cfg).await?;
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
                    print_versions(&svc, &versions).await?;
                }
            }
            ModelCommand::Train { base, eval, by, note, no_feedback, calibrate, json } => {
                let base_path = base;
                let base = read(&base_path)?;
                let eval = read(&eval)?;
                let calibration = match &calibrate {
                    Some(p) => crate::calibration::read(p)?,
                    None => Vec::new(),
                };
                let feedback = if no_feedback {
                    Vec::new()
                } else {
                    let fb = facteur_learn::collect::collect_feedback(&svc.store).await?;
                    let excluded = StoreExclusions::with_data_dir(svc.store.clone(), &data_dir)
                        .excluded()
                        .await?;
                    facteur_learn::feedback::training_examples(&fb, &excluded)
                };
                // The candidate is for this service: its labels must be the
                // service's request types.
                super::warn_labels_outside_taxonomy(
                    cfg,
                    &base_path,
                    base.iter().chain(&feedback).map(|e| e.label.as_str()),
                )?;
                let trained_by = user_id(&svc, by.as_deref()).await?;
                let embedder = crate::embedding::registry_embedder()?;
                let embeddings = embedder.as_ref().map(|e| e.view());
                let outcome = registry::train_candidate(
                    &svc.store,
                    &data_dir,
                    &reg,
                    TrainRequest {
                        embeddings: embeddings.as_ref(),
                        base: &base,
                        feedback: &feedback,
                        eval_set: &eval,
                        calibration: &calibration,
                        trained_by,
                        note,
                    },
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
                    if let Some(c) = outcome
                        .candidate
                        .record
                        .as_ref()
                        .and_then(|r| r.calibration.as_ref())
                    {
                        println!("{}", crate::calibration::summary(c));
                    }
                    print_versions(&svc, std::slice::from_ref(&outcome.candidate)).await?;
                    if let Some(c) = &outcome.comparison {
                        print_comparison(c);
                    }
                }
            }
            ModelCommand::Eval { version, data, json } => {
                let examples = read(&data)?;
                let embedder = crate::embedding::registry_embedder()?;
                let embeddings = embedder.as_ref().map(|e| e.view());
                let s = registry::evaluate_version(&data_dir, &version, &examples, embeddings.as_ref())
                    .await?;
                if json {
                    super::print_json(&s)?;
                } else {
                    println!("{}", tr!("version {version}", "version {version}"));
                    print_eval(&s);
                }
            }
            ModelCommand::Promote { version, by, force, json } => {
                let by = user_id(&svc, by.as_deref()).await?;
                // A model predicting request types the taxonomy lacks would suggest
                // categories with no standard answer: refused unless forced.
                let labels = registry::get_version(&svc.store, &data_dir, &reg, &version)
                    .await
                    .ok()
                    .and_then(|v| v.record)
                    .map(|r| r.taxonomy)
                    .unwrap_or_default();
                let unknown = match super::labels_outside_taxonomy(cfg, labels.iter().map(String::as_str))? {
                    Some((path, unknown)) if !unknown.is_empty() => Some((path, unknown)),
                    _ => None,
                };
                if let (Some((path, unknown)), false) = (&unknown, force) {
                    anyhow::bail!(tr!(
                        "promotion refusée : la version {version} connaît {} type(s) de demande absent(s) de la taxonomie {} ({}). Corrigez les étiquettes et réentraînez, ou ajoutez --force (consigné dans le journal d'audit)",
                        "promotion refused: version {version} knows {} request type(s) that are not in the taxonomy {} ({}). Fix the labels and retrain, or add --force (recorded in the audit log)",
                        unknown.len(),
                        path.display(),
                        super::few(unknown)
                    ));
                }
                let r = registry::promote(&svc.store, &data_dir, &reg, &version, by)
                    .await
                    .map_err(|e| refusal(e, "promotion", "promotion"))?;
                if let Some((_, unknown)) = &unknown {
                    svc.store
                        .audit(
                            &format!("user:{}", r.promoted_by),
                            "model.promote.forced",
                            &format!("model:{version}"),
                            &serde_json::json!({"labels_outside_taxonomy": unknown}),
                        )
                        .await?;
                }
                if json {
                    super::print_json(&r)?;
                } else {
                    print_receipt(&svc, &r).await?;
                }
            }
            ModelCommand::Rollback { by, json } => {
                let by = user_id(&svc, by.as_deref()).await?;
                let r = registry::rollback(&svc.store, &data_dir, &reg, by)
                    .await
                    .map_err(|e| refusal(e, "restauration", "rollback"))?;
                if json {
                    super::print_json(&r)?;
                } else {
                    print_receipt(&svc, &r).await?;
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
                        pseudonymised_text: msg.training_text(),
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
            ModelCommand::Switch(cmd) => switch(&svc, &data_dir, &cfg.taxonomy_path(), cmd).await?,
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
                let seen = serde_json::to_value(
                    registry::get_version(&svc.store, &data_dir, &reg, &version)
                        .await
                        .map_err(|e| refusal(e, "revue", "review"))?,
                )?;
                let r = registry::record_review(&svc.store, &version, by, decision, seen, note)
                    .await
                    .map_err(|e| refusal(e, "revue", "review"))?;
                if json {
                    super::print_json(&r)?;
                } else {
                    let who = username(&svc, Some(r.reviewed_by)).await;
                    let date = iso_date(r.reviewed_at);
                    let decision = match r.decision {
                        ReviewDecision::Keep => crate::i18n::tr("garder", "keep"),
                        ReviewDecision::Retrain => crate::i18n::tr("réentraîner", "retrain"),
                        ReviewDecision::Withdraw => crate::i18n::tr("retirer", "withdraw"),
                    };
                    println!(
                        "{}",
                        tr!(
                            "revue de la version {} enregistrée : décision « {decision} », par {who} le {date}",
                            "review of version {} recorded: decision \"{decision}\", by {who} on {date}",
                            r.version
                        )
                    );
                    if let Some(n) = r.note.as_deref().filter(|n| !n.is_empty()) {
                        println!("  {}", tr!("note : {n}", "note: {n}"));
                    }
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{:#}`-like rendering of the whole chain, as `main` prints it.
    fn shown(e: anyhow::Error) -> String {
        e.chain()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(": ")
    }

    #[test]
    fn each_refusal_names_its_own_cause_in_french_with_what_to_do() {
        crate::i18n::set_lang(crate::i18n::Lang::Fr);
        let no_by = shown(refusal(
            LearnError::NoSupervisor {
                action: "promotion",
            },
            "promotion",
            "promotion",
        ));
        assert!(
            no_by.starts_with("promotion refusée : il faut --by"),
            "{no_by}"
        );
        assert!(!no_by.contains("refused"), "English leaked: {no_by}");

        let unknown = shown(refusal(
            LearnError::UnknownVersion("m-nope".into()),
            "promotion",
            "promotion",
        ));
        assert!(
            unknown.contains("aucune version de modèle \"m-nope\""),
            "{unknown}"
        );
        assert!(unknown.contains("facteur model list"), "{unknown}");
        assert!(
            !unknown.contains("--by"),
            "not a supervisor problem: {unknown}"
        );
        assert!(
            !unknown.contains("not registered"),
            "English leaked: {unknown}"
        );

        let active = shown(refusal(
            LearnError::WrongStatus {
                version: "m1".into(),
                status: "active".into(),
                detail: "it is already active",
            },
            "promotion",
            "promotion",
        ));
        assert!(active.contains("m1 est déjà le modèle actif"), "{active}");
        assert!(!active.contains("--by"), "{active}");

        let nothing = shown(refusal(
            LearnError::NothingToRollBack,
            "restauration",
            "rollback",
        ));
        assert!(
            nothing.starts_with("restauration refusée : aucune version"),
            "{nothing}"
        );
        assert!(nothing.contains("facteur model promote"), "{nothing}");
        assert!(!nothing.contains("--by"), "{nothing}");

        let agent = shown(refusal(
            LearnError::NotSupervisor {
                action: "review",
                user_id: 3,
            },
            "revue",
            "review",
        ));
        assert!(agent.contains("n'est pas un superviseur"), "{agent}");
        assert!(agent.contains("facteur user list"), "{agent}");
    }

    fn version(review: Option<facteur_learn::ReviewStatus>) -> ModelVersionView {
        ModelVersionView {
            version: "m1".into(),
            status: ModelStatus::Active,
            created_at: 0,
            trained_by: None,
            promoted_by: Some(2),
            promoted_at: Some(0),
            review,
            last_review: None,
            record: None,
            dir: PathBuf::new(),
        }
    }

    #[test]
    fn an_overdue_review_gets_a_loud_line_with_the_command_to_run() {
        crate::i18n::set_lang(crate::i18n::Lang::Fr);
        const DAY: i64 = 24 * 3600 * 1000;
        // Promoted 30/11/2026: due 90 days later, 28/02/2027; seen on 03/03/2027.
        let promoted = 1_796_000_262_958;
        let late = facteur_learn::review_status(promoted, None, promoted + 93 * DAY, 90);
        assert_eq!(late.due_on, "2027-02-28");
        let w = overdue_warning(&[version(Some(late))]).expect("a warning");
        assert!(w.starts_with("ATTENTION"), "{w}");
        assert!(
            w.contains("en retard depuis le 2027-02-28 (3 jour(s))"),
            "{w}"
        );
        assert!(w.contains("facteur model review m1 --by"), "{w}");
        let fine = facteur_learn::review_status(promoted, None, promoted + 89 * DAY, 90);
        assert_eq!(overdue_warning(&[version(Some(fine))]), None);
        assert_eq!(overdue_warning(&[version(None)]), None);
    }
}
