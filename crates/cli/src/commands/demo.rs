use crate::config::{Config, MailboxConfig};
use crate::demo_mail;
use crate::progress;
use crate::service::Service;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use facteur_core::workflow::Role;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[command(subcommand)]
    pub command: Option<DemoCommand>,
    /// Where to build the demo (created if missing).
    #[arg(long, value_name = "DIR", default_value = "./facteur-demo")]
    pub data_dir: PathBuf,
    /// The standard answers folder (with taxonomy.toml and demo/).
    #[arg(long, value_name = "DIR", default_value = "./answers")]
    pub answers: PathBuf,
    /// The shared data folder (default: $FACTEUR_SHARED_DATA, ../shared/data or ./shared/data).
    #[arg(long, value_name = "DIR")]
    pub shared_data: Option<PathBuf>,
    /// How many demo messages.
    #[arg(long, default_value_t = 500)]
    pub count: usize,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Build the demo service but do not serve it.
    #[arg(long)]
    pub no_serve: bool,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

#[derive(Subcommand, Debug)]
pub enum DemoCommand {
    /// Only write a demo mailbox as an mbox file (for tests and benchmarks).
    Mailbox {
        /// Where to write the mbox.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// How many demo messages.
        #[arg(long, default_value_t = 500)]
        count: usize,
        /// Random seed: the same seed writes the same mailbox.
        #[arg(long, default_value_t = 20261129)]
        seed: u64,
        /// The standard answers folder (with taxonomy.toml and demo/).
        #[arg(long, value_name = "DIR", default_value = "./answers")]
        answers: PathBuf,
        /// The shared data folder (default: $FACTEUR_SHARED_DATA, ../shared/data or ./shared/data).
        #[arg(long, value_name = "DIR")]
        shared_data: Option<PathBuf>,
        /// Mailbox address the demo mails are sent to.
        #[arg(long, default_value = "sip.demo@example.test")]
        to: String,
    },
}

fn shared(explicit: Option<PathBuf>) -> Result<PathBuf> {
    explicit
        .or_else(demo_mail::shared_data_dir)
        .context(crate::i18n::tr(
            "données partagées introuvables : passez --shared-data DOSSIER (le dossier contenant service-public-fiches-2020/) ou définissez FACTEUR_SHARED_DATA",
            "cannot find the shared data: pass --shared-data DIR (the folder holding service-public-fiches-2020/) or set FACTEUR_SHARED_DATA",
        ))
}

pub fn write_mailbox(
    out: &Path,
    count: usize,
    seed: u64,
    answers: &Path,
    shared_dir: &Path,
    to: &str,
) -> Result<usize> {
    let questions = demo_mail::load_questions(shared_dir, answers)?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    let f = std::fs::File::create(out)
        .with_context(|| tr!("impossible de créer {}", "cannot create {}", out.display()))?;
    let mut w = std::io::BufWriter::new(f);
    let labelled = demo_mail::write_mbox(&mut w, &questions, count, seed, to)?;
    std::io::Write::flush(&mut w)?;
    Ok(labelled)
}

pub fn run(cfg: &Config, a: DemoArgs) -> Result<()> {
    match a.command {
        Some(DemoCommand::Mailbox {
            out,
            count,
            seed,
            answers,
            shared_data,
            to,
        }) => {
            let shared_dir = shared(shared_data)?;
            let labelled = write_mailbox(&out, count, seed, &answers, &shared_dir, &to)?;
            if a.json {
                super::print_json(
                    &serde_json::json!({"mbox": out.display().to_string(), "messages": count, "labelled": labelled}),
                )
            } else {
                let out = out.display();
                println!(
                    "{}",
                    tr!(
                        "{count} messages de démonstration écrits dans {out} ({labelled} avec une étiquette de démonstration)",
                        "{count} demo messages written to {out} ({labelled} with a demo label)"
                    )
                );
                Ok(())
            }
        }
        None => {
            let built = build(&a)?;
            serve_demo(cfg, &a, built)
        }
    }
}

/// The demo accounts: (username, display name, role).
const ACCOUNTS: &[(&str, &str, Role)] = &[
    ("agent", "Agent Démo", Role::Agent),
    ("superviseur", "Superviseure Démo", Role::Supervisor),
    ("admin", "Admin Démo", Role::Admin),
];

/// Load the demo into the store (mailbox, accounts, messages triaged on arrival)
/// and serve it.
fn serve_demo(cfg: &Config, a: &DemoArgs, built: Built) -> Result<()> {
    let mut demo_cfg = cfg.clone();
    demo_cfg.data_dir = a.data_dir.clone();
    demo_cfg.database_url = None;
    demo_cfg.model_dir = None;
    demo_cfg.answers_dir = a.answers.clone();
    demo_cfg.mailboxes = vec![MailboxConfig {
        name: "sip-demo".into(),
        address: "sip.demo@example.test".into(),
        signature: Some(
            "Le service des impôts des particuliers de Démo-sur-Loire\n(données de démonstration)"
                .into(),
        ),
        imap: None,
        smtp: None,
    }];
    super::runtime()?.block_on(async move {
        let svc = Service::open(&demo_cfg).await?;
        // The store is where every node reads the standard answers from.
        let taxonomy = facteur_kb::answers::Taxonomy::load(&a.answers.join("taxonomy.toml"))?;
        let (answers, _) = facteur_kb::answers::load_dir(&a.answers.join("demo"), Some(&taxonomy), facteur_kb::Date::today())?;
        super::kb::record_answers(&svc.store, &answers).await?;
        svc.refresh_kb().await?;
        let mailbox = svc.mailbox_id("sip-demo").await?;
        let mut passwords = Vec::new();
        for (user, name, role) in ACCOUNTS {
            let password = super::store_cmds::random_password();
            match svc.store.get_user_by_username(user).await? {
                Some(u) => {
                    let hash = facteur_web::auth::hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
                    svc.store.set_password_hash(u.id, &hash).await?;
                }
                None => {
                    super::store_cmds::create_user(&svc, user, Some(name), *role, &password, &["sip-demo".to_string()]).await?;
                }
            }
            passwords.push((user.to_string(), role.as_str(), password));
        }
        let raws = facteur_mail::read_source(&facteur_mail::MailSource {
            size: std::fs::metadata(&built.mbox).map(|m| m.len()).unwrap_or(0),
            path: built.mbox.clone(),
            kind: facteur_mail::SourceKind::Mbox,
        })?;
        let pb = progress::bar(raws.len() as u64, "import");
        let hook = crate::service::TriageHook(svc.clone());
        let mut report = facteur_connect::SyncReport::default();
        for chunk in raws.chunks(50) {
            let r = facteur_connect::import_raw(&svc.store, mailbox, chunk.to_vec(), &hook).await;
            report.stored += r.stored;
            report.duplicates_skipped += r.duplicates_skipped;
            pb.inc(chunk.len() as u64);
        }
        pb.finish_and_clear();
        let summary = serde_json::json!({
            "data_dir": a.data_dir.display().to_string(),
            "url": format!("http://{}", a.listen),
            "stored": report.stored,
            "already_there": report.duplicates_skipped,
            "accounts": passwords.iter().map(|(u, r, p)| serde_json::json!({"username": u, "role": r, "password": p})).collect::<Vec<_>>(),
            "demo_eval": built.eval,
        });
        if a.json {
            super::print_json(&summary)?;
        } else {
            let (dir, stored, already) = (a.data_dir.display(), report.stored, report.duplicates_skipped);
            println!("{}", tr!(
                "Démo Facteur prête dans {dir} ({stored} messages importés, {already} déjà présents).",
                "Facteur demo ready in {dir} ({stored} messages imported, {already} already there)."
            ));
            println!("{}", crate::i18n::tr(
                "Comptes de démonstration (mots de passe affichés une seule fois) :",
                "Demo accounts (passwords shown once):"
            ));
            for (u, r, p) in &passwords {
                println!("  {u:<12} ({r:<10}) {p}");
            }
            println!("{}", tr!("Ouvrez http://{}/login", "Open http://{}/login", a.listen));
        }
        if a.no_serve {
            return Ok(());
        }
        super::serve::serve_service(&demo_cfg, svc, &a.listen, false).await
    })
}

/// What `build` made.
struct Built {
    mbox: PathBuf,
    eval: serde_json::Value,
}

/// Build the whole demo: knowledge base, model, mailbox.
fn build(a: &DemoArgs) -> Result<Built> {
    let shared_dir = shared(a.shared_data.clone())?;
    let dir = &a.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| tr!("impossible de créer {}", "cannot create {}", dir.display()))?;
    let pb = progress::bar(4, crate::i18n::tr("démo", "demo"));
    // 1. Knowledge base: the tax fiches and the demo standard answers.
    let mut kb =
        facteur_kb::KnowledgeBase::open(dir).with_context(|| super::kb::open_kb_failed(dir))?;
    let fiches = shared_dir
        .join("service-public-fiches-2020")
        .join("kb_fiscalite.jsonl");
    kb.import_fiches(&fiches).with_context(|| {
        tr!(
            "impossible d'importer {}",
            "cannot import {}",
            fiches.display()
        )
    })?;
    let demo_answers = a.answers.join("demo");
    let taxonomy = a.answers.join("taxonomy.toml");
    let (_, errors) = kb
        .import_answers(&demo_answers, Some(&taxonomy))
        .with_context(|| {
            tr!(
                "impossible d'importer les réponses types de {}",
                "cannot import the answers of {}",
                demo_answers.display()
            )
        })?;
    for e in &errors {
        eprintln!("{} {e}", crate::i18n::tr("attention :", "warning:"));
    }
    pb.inc(1);
    // 2. Demo model from the demo examples.
    let examples_path = demo_answers.join("examples.jsonl");
    let examples = facteur_classify::read_jsonl(&examples_path).with_context(|| {
        tr!(
            "impossible de lire {}",
            "cannot read {}",
            examples_path.display()
        )
    })?;
    let mut model = facteur_classify::train(
        &examples,
        &facteur_classify::TrainConfig::default(),
        &mut |_| {},
    )?;
    model.set_target_precision(0.95);
    let model_dir = dir.join("model");
    std::fs::create_dir_all(&model_dir)?;
    model.save(&model_dir)?;
    pb.inc(1);
    // 3. Demo mailbox.
    let mbox = dir.join("demo-mailbox.mbox");
    write_mailbox(
        &mbox,
        a.count,
        20261129,
        &a.answers,
        &shared_dir,
        "sip.demo@example.test",
    )?;
    pb.inc(1);
    // 4. Evaluate the demo model on the fixed demo evaluation set.
    let eval_path = demo_answers.join("eval.jsonl");
    let report = if eval_path.is_file() {
        let ev = facteur_classify::read_jsonl(&eval_path)?;
        Some(facteur_classify::evaluate(&model, &ev))
    } else {
        None
    };
    pb.finish_and_clear();
    let eval = match &report {
        Some(r) => {
            serde_json::json!({"macro_f1": r.macro_f1, "accuracy": r.accuracy, "examples": r.examples})
        }
        None => serde_json::Value::Null,
    };
    if errors.is_empty() {
        tracing::info!("demo answers all valid");
    }
    Ok(Built { mbox, eval })
}
