use crate::config::{Config, MailboxConfig};
use crate::demo_mail;
use crate::progress;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use facteur_core::workflow::Role;
use facteur_core::ModelStatus;
use facteur_learn::registry::{self, ModelVersionView, RegistryConfig, TrainRequest};
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
    /// Give the demo accounts that already exist new passwords (by default a re-run
    /// keeps them).
    #[arg(long)]
    pub reset_passwords: bool,
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

/// The demo's standard answers folder, checked before any work: run from elsewhere than
/// the repository, the default `./answers` is missing, and the error deep inside the
/// import ("cannot read ./answers/taxonomy.toml") does not say which option fixes it.
fn answers_folder(dir: &Path) -> Result<()> {
    if dir.join("taxonomy.toml").is_file() && dir.join("demo").is_dir() {
        return Ok(());
    }
    anyhow::bail!(tr!(
        "réponses types de démonstration introuvables dans {} : lancez la commande depuis le dossier du dépôt Facteur, ou passez --answers DOSSIER (le dossier answers/ du dépôt, qui contient taxonomy.toml et demo/)",
        "demo standard answers not found in {}: run the command from the Facteur repository folder, or pass --answers DIR (the repository's answers/ folder, holding taxonomy.toml and demo/)",
        dir.display()
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
            answers_folder(&answers)?;
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

/// The demo's config: what `serve_demo` serves, also written as `facteur.toml` in the
/// demo folder so that `facteur --config DIR/facteur.toml …` (serve, model list,
/// messages count) works on the demo later.
fn demo_config(cfg: &Config, a: &DemoArgs) -> Config {
    let mut demo_cfg = cfg.clone();
    demo_cfg.data_dir = absolute(&a.data_dir);
    demo_cfg.database_url = None;
    demo_cfg.model_dir = None;
    demo_cfg.answers_dir = absolute(&a.answers);
    demo_cfg.mailboxes = vec![MailboxConfig {
        name: "sip-demo".into(),
        address: "sip.demo@example.test".into(),
        signature: Some(DEMO_SIGNATURE.into()),
        imap: None,
        smtp: None,
    }];
    demo_cfg
}

const DEMO_SIGNATURE: &str =
    "Le service des impôts des particuliers de Démo-sur-Loire\n(données de démonstration)";

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// `facteur.toml` of the demo folder (absolute paths: it is read from anywhere).
fn write_demo_config(demo_cfg: &Config) -> Result<PathBuf> {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let text = format!(
        "# Written by `facteur demo`: the demo service.\n\
         data_dir = {}\n\
         answers_dir = {}\n\n\
         [[mailbox]]\n\
         name = \"sip-demo\"\n\
         address = \"sip.demo@example.test\"\n\
         signature = {}\n",
        q(&demo_cfg.data_dir.display().to_string()),
        q(&demo_cfg.answers_dir.display().to_string()),
        q(DEMO_SIGNATURE),
    );
    let path = demo_cfg.data_dir.join("facteur.toml");
    std::fs::write(&path, text)
        .with_context(|| tr!("impossible d'écrire {}", "cannot write {}", path.display()))?;
    Ok(path)
}

/// A demo account after this run: its new password, or `None` when it existed and
/// kept its password.
struct DemoAccount {
    username: &'static str,
    role: Role,
    id: i64,
    created: bool,
    password: Option<String>,
}

/// Create the demo accounts, or give existing ones new passwords only when asked:
/// a re-run must not lock out people who use the demo.
async fn demo_accounts(store: &facteur_store::Store, reset: bool) -> Result<Vec<DemoAccount>> {
    let hash = |p: &str| facteur_web::auth::hash_password(p).map_err(|e| anyhow::anyhow!("{e}"));
    let mut out = Vec::new();
    for (user, name, role) in ACCOUNTS {
        let account = match store.get_user_by_username(user).await? {
            Some(u) if reset => {
                let password = super::store_cmds::random_password();
                store.set_password_hash(u.id, &hash(&password)?).await?;
                DemoAccount {
                    username: user,
                    role: *role,
                    id: u.id,
                    created: false,
                    password: Some(password),
                }
            }
            Some(u) => DemoAccount {
                username: user,
                role: *role,
                id: u.id,
                created: false,
                password: None,
            },
            None => {
                let password = super::store_cmds::random_password();
                let id = store
                    .create_user(
                        &facteur_store::NewUser {
                            username: user.to_string(),
                            display_name: name.to_string(),
                            password_hash: hash(&password)?,
                            role: *role,
                        },
                        None,
                    )
                    .await
                    .with_context(|| {
                        tr!(
                            "impossible de créer le compte {user:?}",
                            "cannot create the account {user:?}"
                        )
                    })?;
                DemoAccount {
                    username: user,
                    role: *role,
                    id,
                    created: true,
                    password: Some(password),
                }
            }
        };
        out.push(account);
    }
    Ok(out)
}

/// The demo model as a version of the model registry, active and promoted by the
/// demo's supervisor, evaluated on the demo evaluation set: the transparency sheet,
/// the model pages and the supervision page then tell the truth about the model
/// that makes the demo's drafts. Registered once: a re-run finds the version noted
/// "demo" and registers nothing; a service whose supervisor already made another
/// version active keeps it. Returns the demo version.
async fn register_demo_model(
    store: &facteur_store::Store,
    data_dir: &Path,
    answers: &Path,
    supervisor: i64,
) -> Result<Option<ModelVersionView>> {
    let reg = RegistryConfig::default();
    let versions = registry::list(store, data_dir, &reg).await?;
    let demo = versions
        .iter()
        .rev()
        .find(|v| v.record.as_ref().and_then(|r| r.note.as_deref()) == Some(DEMO_NOTE));
    if let Some(v) = demo {
        return Ok(Some(v.clone()));
    }
    if let Some(active) = versions.iter().find(|v| v.status == ModelStatus::Active) {
        tracing::info!(version = %active.version, "an active model is already registered: the demo model is not");
        return Ok(None);
    }
    let read = |p: PathBuf| {
        facteur_classify::read_jsonl(&p)
            .with_context(|| tr!("impossible de lire {}", "cannot read {}", p.display()))
    };
    let examples = read(answers.join("demo").join("examples.jsonl"))?;
    let eval = read(answers.join("demo").join("eval.jsonl"))?;
    // The demo's training examples are harder than its mail (they cover each type's
    // confusable cases), so its threshold is refitted on mail written like the
    // mailbox's, held apart from both (`calibration.rs`).
    let cal_path = answers.join("demo").join("calibration.jsonl");
    let calibration = if cal_path.is_file() {
        crate::calibration::read(&cal_path)?
    } else {
        Vec::new()
    };
    // With the embedding switch on, the demo model gets an embedding view too.
    let embedder = crate::embedding::registry_embedder()?;
    let embeddings = embedder.as_ref().map(|e| e.view());
    let outcome = registry::train_candidate(
        store,
        data_dir,
        &reg,
        TrainRequest {
            embeddings: embeddings.as_ref(),
            base: &examples,
            feedback: &[],
            eval_set: &eval,
            calibration: &calibration,
            trained_by: Some(supervisor),
            note: Some(DEMO_NOTE.to_string()),
        },
    )
    .await?;
    let version = outcome.candidate.version;
    // Audited by the store (`model.promote`, by the demo supervisor).
    registry::promote(store, data_dir, &reg, &version, Some(supervisor)).await?;
    Ok(Some(
        registry::get_version(store, data_dir, &reg, &version).await?,
    ))
}

/// The note of the demo model's registry record: how a re-run recognises it.
const DEMO_NOTE: &str = "demo";

/// Load the demo into the store (accounts, demo model in the registry, mailbox,
/// messages triaged on arrival) and serve it.
fn serve_demo(cfg: &Config, a: &DemoArgs, built: Built) -> Result<()> {
    let demo_cfg = demo_config(cfg, a);
    let config_path = write_demo_config(&demo_cfg)?;
    super::runtime()?.block_on(async move {
        // Accounts and the registry first, on the store alone, so that the service
        // opens with the registered demo model active.
        let url = demo_cfg.database_url();
        let store = facteur_store::Store::open(&url).await.with_context(|| {
            tr!("impossible d'ouvrir la base de données {}", "cannot open the database {}", url)
        })?;
        let store = crate::audit_key::keyed(&demo_cfg, store).await?;
        let accounts = demo_accounts(&store, a.reset_passwords).await?;
        let supervisor = accounts
            .iter()
            .find(|acc| acc.role == Role::Supervisor)
            .map(|acc| acc.id)
            .context("demo supervisor account")?;
        let demo_model = register_demo_model(&store, &demo_cfg.data_dir, &demo_cfg.answers_dir, supervisor).await?;
        store.close().await;
        // The model directory (what `--model`-less commands and a store without
        // registry fall back to) holds the same model.
        if let Some(v) = &demo_model {
            let model_dir = demo_cfg.data_dir.join("model");
            std::fs::create_dir_all(&model_dir)?;
            for f in ["model.bin", "model.json"] {
                let (from, to) = (v.dir.join(f), model_dir.join(f));
                if from.is_file() {
                    std::fs::copy(&from, &to).with_context(|| {
                        tr!("impossible de copier {} vers {}", "cannot copy {} to {}", from.display(), to.display())
                    })?;
                }
            }
        }
        let svc = crate::service::open(&demo_cfg).await?;
        // The store is where every node reads the standard answers from.
        let taxonomy = facteur_kb::answers::Taxonomy::load(&a.answers.join("taxonomy.toml"))?;
        let (answers, _) = facteur_kb::answers::load_dir(&a.answers.join("demo"), Some(&taxonomy), facteur_kb::Date::today())?;
        super::kb::record_answers(&svc.store, &answers).await?;
        svc.refresh_kb().await?;
        let mailbox = svc.mailbox_id("sip-demo").await.map_err(crate::service::explained)?;
        for acc in accounts.iter().filter(|acc| acc.created) {
            svc.store.set_mailbox_access(acc.id, mailbox, true, None).await?;
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
            report.errors.extend(r.errors);
            pb.inc(chunk.len() as u64);
        }
        pb.finish_and_clear();
        if let Some(first) = report.errors.first() {
            // Said, not hidden: a demo that stored less than its mailbox looks empty.
            eprintln!("{}", tr!(
                "{} messages de la démo n'ont pas été enregistrés (le premier : {first}) ; relancez `facteur demo`, ce qui est enregistré est ignoré",
                "{} demo messages were not stored (the first: {first}); re-run `facteur demo`, what was stored is skipped",
                report.errors.len()
            ));
        }
        let demo_eval = match demo_model.as_ref().and_then(|v| v.record.as_ref()) {
            Some(r) => serde_json::json!({"macro_f1": r.eval.macro_f1, "accuracy": r.eval.accuracy, "examples": r.eval.examples}),
            None => serde_json::Value::Null,
        };
        let serve_cmd = format!(
            "facteur --config {} serve --listen {}",
            config_path.display(),
            a.listen
        );
        let summary = serde_json::json!({
            "data_dir": a.data_dir.display().to_string(),
            "url": format!("http://{}", a.listen),
            "stored": report.stored,
            "already_there": report.duplicates_skipped,
            "errors": report.errors.len(),
            "accounts": accounts.iter().map(|acc| serde_json::json!({
                "username": acc.username, "role": acc.role.as_str(), "password": acc.password,
                "password_unchanged": acc.password.is_none(),
            })).collect::<Vec<_>>(),
            "demo_eval": demo_eval,
            "model_version": demo_model.as_ref().map(|v| v.version.clone()),
            "config": config_path.display().to_string(),
            "serve_command": serve_cmd,
        });
        if a.json {
            super::print_json(&summary)?;
        } else {
            let (dir, stored, already) = (a.data_dir.display(), report.stored, report.duplicates_skipped);
            println!("{}", tr!(
                "Démo Facteur prête dans {dir} ({stored} messages importés, {already} déjà présents).",
                "Facteur demo ready in {dir} ({stored} messages imported, {already} already there)."
            ));
            if let Some(v) = &demo_model {
                println!("{}", tr!(
                    "Modèle de démonstration : version {} (active dans le registre).",
                    "Demo model: version {} (active in the registry).",
                    v.version
                ));
            }
            if accounts.iter().any(|acc| acc.password.is_some()) {
                println!("{}", crate::i18n::tr(
                    "Comptes de démonstration (mots de passe affichés une seule fois) :",
                    "Demo accounts (passwords shown once):"
                ));
            } else {
                println!("{}", crate::i18n::tr("Comptes de démonstration :", "Demo accounts:"));
            }
            for acc in &accounts {
                let (u, r) = (acc.username, acc.role.as_str());
                match &acc.password {
                    Some(p) => println!("  {u:<12} ({r:<10}) {p}"),
                    None => println!("  {u:<12} ({r:<10}) {}", crate::i18n::tr(
                        "mot de passe inchangé (--reset-passwords pour en donner un nouveau)",
                        "password unchanged (--reset-passwords gives a new one)"
                    )),
                }
            }
            if a.no_serve {
                println!("{}", tr!(
                    "Pour la servir : {serve_cmd}  (puis ouvrez http://{}/login)",
                    "To serve it: {serve_cmd}  (then open http://{}/login)",
                    a.listen
                ));
            } else {
                println!("{}", tr!("Ouvrez http://{}/login", "Open http://{}/login", a.listen));
            }
        }
        if a.no_serve {
            // Closing the pool checkpoints SQLite's write-ahead log into the
            // database file: a copy of `facteur.db` alone then holds the demo.
            svc.store.close().await;
            return Ok(());
        }
        super::serve::serve_service(&demo_cfg, svc, &a.listen, false).await
    })
}

/// What `build` made.
struct Built {
    mbox: PathBuf,
}

/// Build the whole demo: knowledge base, model, mailbox.
fn build(a: &DemoArgs) -> Result<Built> {
    let shared_dir = shared(a.shared_data.clone())?;
    answers_folder(&a.answers)?;
    let dir = &a.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| tr!("impossible de créer {}", "cannot create {}", dir.display()))?;
    let pb = progress::bar(4, crate::i18n::tr("démo", "demo"));
    // 1. Knowledge base: the tax fiches and the demo standard answers.
    let mut kb = facteur_kb::KnowledgeBase::open(dir)
        .with_context(|| crate::service::open_kb_failed(dir))?;
    crate::embedding::attach(&mut kb)?;
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
    // 2. The demo model is trained and registered in `serve_demo`, once the
    // store is open (the registry lives there).
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
    pb.finish_and_clear();
    if errors.is_empty() {
        tracing::info!("demo answers all valid");
    }
    Ok(Built { mbox })
}
