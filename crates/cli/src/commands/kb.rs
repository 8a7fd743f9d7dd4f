use crate::config::Config;
use crate::progress;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use facteur_kb::{KnowledgeBase, SearchOptions};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum KbCommand {
    /// Import service-public fiche files (.jsonl) and standard-answer folders (Markdown
    /// files with TOML front matter, and their taxonomy.toml). Re-importing unchanged
    /// files changes nothing.
    Import {
        /// Data directory (default: the configured one).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Taxonomy of request types for the answers (default: taxonomy.toml in or above each answer folder).
        #[arg(long, value_name = "FILE")]
        taxonomy: Option<PathBuf>,
        /// Fiche files (.jsonl) and standard-answer folders to import.
        #[arg(required = true, value_name = "FILE.jsonl|DIR")]
        paths: Vec<PathBuf>,
        /// Print a JSON summary on stdout.
        #[arg(long)]
        json: bool,
        /// Only index locally: do not record the answers in the database (which is
        /// otherwise the source every `serve`/`worker` node follows).
        #[arg(long)]
        no_store: bool,
    },
    /// Search the knowledge base and show the passages that matched.
    Search {
        /// The data directory holding the index (default: the config's data_dir).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// What to look for, in plain words.
        query: String,
        /// How many results.
        #[arg(long, short = 'n', default_value_t = 10)]
        limit: usize,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate retrieval on graded queries {"query","relevant":{id:grade}}: nDCG@10, recall@10, MRR@10, queries/s.
    Eval {
        /// The data directory holding the index (default: the config's data_dir).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Graded queries, JSON lines {"query","relevant":{id:grade}}.
        #[arg(long, value_name = "Q.jsonl")]
        queries: PathBuf,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Check standard-answer files without importing them: every error with its file and line.
    Check {
        /// The request-type taxonomy (default: taxonomy.toml in or above the answers folder).
        #[arg(long, value_name = "FILE")]
        taxonomy: Option<PathBuf>,
        /// The standard-answers folder to check.
        #[arg(required = true, value_name = "DIR")]
        dir: PathBuf,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Open a data directory that must already hold an index.
pub fn open_existing(dir: &Path) -> Result<KnowledgeBase> {
    if !dir.exists() {
        bail!(tr!(
            "le dossier de données {} n'existe pas : créez-le avec `facteur kb import --data-dir {} FICHES.jsonl DOSSIER_REPONSES`",
            "the data directory {} does not exist: create it with `facteur kb import --data-dir {} FICHES.jsonl ANSWERS_DIR`",
            dir.display(),
            dir.display()
        ));
    }
    let mut kb = KnowledgeBase::open(dir).with_context(|| crate::service::open_kb_failed(dir))?;
    crate::embedding::attach(&mut kb)?;
    Ok(kb)
}

/// The taxonomy next to an answer folder: DIR/taxonomy.toml or DIR/../taxonomy.toml.
fn find_taxonomy(dir: &Path) -> Option<PathBuf> {
    [
        dir.join("taxonomy.toml"),
        dir.join("..").join("taxonomy.toml"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

pub fn run(cfg: &Config, cmd: KbCommand) -> Result<()> {
    match cmd {
        KbCommand::Import {
            data_dir,
            taxonomy,
            paths,
            json,
            no_store,
        } => {
            let dir = data_dir.unwrap_or_else(|| cfg.data_dir.clone());
            // The database of that data directory, and the audit key beside it,
            // unless they are configured: `--data-dir` names the whole node's
            // folder, so `sync` or `serve` over that folder find both.
            let mut node = cfg.clone();
            node.data_dir = dir.clone();
            let cfg = &node;
            let db_url = cfg
                .database_url
                .clone()
                .unwrap_or_else(|| format!("sqlite:{}", dir.join("facteur.db").display()));
            let mut recorded = RecordReport::default();
            std::fs::create_dir_all(&dir).with_context(|| {
                tr!(
                    "impossible de créer le dossier de données {}",
                    "cannot create the data directory {}",
                    dir.display()
                )
            })?;
            let mut kb =
                KnowledgeBase::open(&dir).with_context(|| crate::service::open_kb_failed(&dir))?;
            crate::embedding::attach(&mut kb)?;
            let pb = progress::bar(paths.len() as u64, "import");
            let mut reports = Vec::new();
            let mut answer_errors = Vec::new();
            for p in &paths {
                if !p.exists() {
                    bail!(tr!(
                        "{} n'existe pas : donnez des fichiers de fiches (.jsonl) ou des dossiers de réponses types",
                        "{} does not exist: give fiche files (.jsonl) or answer folders",
                        p.display()
                    ));
                }
                if p.is_dir() {
                    let tax = taxonomy.clone().or_else(|| find_taxonomy(p));
                    let import_failed = || {
                        tr!(
                            "impossible d'importer les réponses types de {}",
                            "cannot import the answers in {}",
                            p.display()
                        )
                    };
                    // With a database, the index mirrors the store's validated
                    // answers (as every serve/worker does), never the files: a
                    // supervisor's later edit stays what this node drafts from.
                    let stored = if no_store {
                        None
                    } else {
                        let d = record_answer_dir(cfg, &db_url, p, tax.as_deref())?;
                        recorded.recorded += d.recorded.recorded;
                        recorded.unchanged += d.recorded.unchanged;
                        Some(d)
                    };
                    let report = match stored {
                        Some(StoredDir {
                            validated: Some(answers),
                            errors,
                            taxonomy,
                            ..
                        }) => {
                            answer_errors.extend(errors);
                            kb.sync_answers(&answers, taxonomy.as_ref())
                                .with_context(import_failed)?
                        }
                        _ => {
                            let (report, errors) = kb
                                .import_answers(p, tax.as_deref())
                                .with_context(import_failed)?;
                            answer_errors.extend(errors.into_iter().map(|e| e.to_string()));
                            report
                        }
                    };
                    reports.push(serde_json::json!({"path": p.display().to_string(), "kind": "answers", "report": report}));
                } else {
                    let report = kb.import_fiches(p).with_context(|| {
                        tr!(
                            "impossible d'importer les fiches de {}",
                            "cannot import the fiches of {}",
                            p.display()
                        )
                    })?;
                    reports.push(serde_json::json!({"path": p.display().to_string(), "kind": "fiches", "report": report}));
                }
                pb.inc(1);
            }
            pb.finish_and_clear();
            for e in &answer_errors {
                eprintln!("{} {e}", crate::i18n::tr("attention :", "warning:"));
            }
            if json {
                super::print_json(&serde_json::json!({
                    "imports": reports,
                    "answer_errors": answer_errors,
                    "store": (!no_store).then_some(&recorded),
                }))?;
            } else {
                for r in &reports {
                    println!(
                        "{} ({}): {}",
                        r["path"].as_str().unwrap_or(""),
                        r["kind"].as_str().unwrap_or(""),
                        r["report"]
                    );
                }
                if !answer_errors.is_empty() {
                    println!(
                        "{}",
                        tr!(
                            "{} fichier(s) de réponse type refusé(s), voir les avertissements ci-dessus",
                            "{} answer file(s) rejected, see the warnings above",
                            answer_errors.len()
                        )
                    );
                }
                if !no_store && recorded.recorded + recorded.unchanged > 0 {
                    println!(
                        "{}",
                        tr!(
                            "base de données : {} nouvelle(s) version(s) de réponse, {} déjà connue(s)",
                            "database: {} new answer version(s), {} already known",
                            recorded.recorded,
                            recorded.unchanged
                        )
                    );
                }
            }
            Ok(())
        }
        KbCommand::Search {
            data_dir,
            query,
            limit,
            json,
        } => {
            let dir = data_dir.unwrap_or_else(|| cfg.data_dir.clone());
            let kb = open_existing(&dir)?;
            let opts = SearchOptions {
                limit,
                snippets: true,
                ..SearchOptions::default()
            };
            let hits = kb.search(&query, &opts)?;
            if json {
                return super::print_json(&hits);
            }
            if hits.is_empty() {
                println!(
                    "{}",
                    tr!("aucun résultat pour {query:?}", "no result for {query:?}")
                );
            }
            for (i, h) in hits.iter().enumerate() {
                println!(
                    "{:>2}. [{}] {} ({}) score {:.2}",
                    i + 1,
                    kind_name(h.kind),
                    h.title,
                    h.id,
                    h.score
                );
                for p in &h.passages {
                    println!("      … {} …", p.text);
                }
            }
            Ok(())
        }
        KbCommand::Eval {
            data_dir,
            queries,
            json,
        } => {
            let dir = data_dir.unwrap_or_else(|| cfg.data_dir.clone());
            let kb = open_existing(&dir)?;
            let qs = facteur_kb::read_queries(&queries).with_context(|| {
                tr!(
                    "impossible de lire les requêtes {}",
                    "cannot read queries {}",
                    queries.display()
                )
            })?;
            let report = facteur_kb::evaluate(&kb, &qs);
            if json {
                return super::print_json(&report);
            }
            println!(
                "{}",
                tr!(
                    "{} requêtes  nDCG@10 {:.4}  rappel@10 {:.4}  MRR@10 {:.4}  {:.0} requêtes/s (1 fil)",
                    "{} queries  nDCG@10 {:.4}  recall@10 {:.4}  MRR@10 {:.4}  {:.0} queries/s (1 thread)",
                    report.queries,
                    report.ndcg_at_10,
                    report.recall_at_10,
                    report.mrr_at_10,
                    report.queries_per_second
                )
            );
            Ok(())
        }
        KbCommand::Check {
            taxonomy,
            dir,
            json,
        } => {
            let tax = taxonomy.or_else(|| find_taxonomy(&dir));
            let taxonomy = match tax.as_deref() {
                Some(t) => Some(facteur_kb::answers::Taxonomy::load(t)?),
                None => None,
            };
            let (good, errors) =
                facteur_kb::answers::load_dir(&dir, taxonomy.as_ref(), facteur_kb::Date::today())?;
            let answers = good.len();
            let errs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            if json {
                super::print_json(&serde_json::json!({"valid": answers, "errors": errs}))?;
            } else {
                let n = errs.len();
                println!(
                    "{}",
                    tr!(
                        "{answers} fichier(s) de réponse type valide(s), {n} erreur(s)",
                        "{answers} valid answer file(s), {n} error(s)"
                    )
                );
                for e in &errs {
                    println!("  {e}");
                }
            }
            if !errs.is_empty() {
                std::process::exit(3);
            }
            Ok(())
        }
    }
}

/// What recording answer files in the store did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RecordReport {
    /// New versions (content the store had never seen).
    pub recorded: usize,
    /// Files whose content the store already holds.
    pub unchanged: usize,
}

/// An answer folder recorded in the store.
struct StoredDir {
    recorded: RecordReport,
    /// The files refused, each with its file and line.
    errors: Vec<String>,
    /// The store's validated answers after recording, which the local index must
    /// mirror; `None` when the store holds no answer version at all.
    validated: Option<Vec<facteur_kb::StandardAnswer>>,
    taxonomy: Option<facteur_kb::answers::Taxonomy>,
}

/// Record the valid answer files of `dir` in the store of `db_url`, each as a
/// version with its file's status, so every node's index follows them.
fn record_answer_dir(
    cfg: &Config,
    db_url: &str,
    dir: &Path,
    taxonomy: Option<&Path>,
) -> Result<StoredDir> {
    let tax = taxonomy
        .map(facteur_kb::answers::Taxonomy::load)
        .transpose()?;
    let today = facteur_kb::Date::today();
    let (answers, errors) = facteur_kb::answers::load_dir(dir, tax.as_ref(), today)?;
    let errors = errors.into_iter().map(|e| e.to_string()).collect();
    let (recorded, (_, count, versions)) = super::runtime()?.block_on(async {
        let store = facteur_store::Store::open(db_url).await.with_context(|| {
            tr!(
                "impossible d'ouvrir la base de données {} pour y enregistrer les réponses (--no-store pour seulement les indexer localement)",
                "cannot open the database {} to record the answers (use --no-store to only index them locally)",
                crate::service::redact_url(db_url)
            )
        })?;
        let store = crate::audit_key::keyed(cfg, store).await?;
        let r = record_answers(&store, &answers).await;
        let snapshot = match &r {
            Ok(_) => store
                .validated_answers_snapshot()
                .await
                .map_err(anyhow::Error::from),
            Err(_) => Ok((0, 0, Vec::new())),
        };
        store.close().await;
        anyhow::Ok((r?, snapshot?))
    })?;
    let mut stored = StoredDir {
        recorded,
        errors,
        validated: None,
        taxonomy: tax,
    };
    if count == 0 {
        return Ok(stored);
    }
    // The same reading of a stored version as the refresher of serve/worker.
    let validated = facteur_app::answers_of_store_versions(versions, today);
    stored.validated = Some(validated);
    Ok(stored)
}

/// Record answers read from files as versions of the store (idempotent: content
/// the store already holds for that answer and language creates nothing).
pub async fn record_answers(
    store: &facteur_store::Store,
    answers: &[facteur_kb::StandardAnswer],
) -> Result<RecordReport> {
    let mut report = RecordReport::default();
    for a in answers {
        let content = std::fs::read_to_string(&a.path)
            .with_context(|| tr!("impossible de lire {}", "cannot read {}", a.path.display()))?
            .replace("\r\n", "\n");
        let status = match a.status {
            facteur_kb::AnswerStatus::Draft => facteur_core::AnswerStatus::Draft,
            facteur_kb::AnswerStatus::Validated => facteur_core::AnswerStatus::Validated,
            facteur_kb::AnswerStatus::Retired => facteur_core::AnswerStatus::Retired,
        };
        let new = facteur_store::NewAnswerVersion {
            answer_id: a.id.clone(),
            title: a.title.clone(),
            language: a.language.clone(),
            content,
            valid_from: Some(a.valid_from.to_string()),
            valid_until: Some(a.valid_until.to_string()),
            author_id: None,
        };
        match store
            .record_imported_answer(&new, status)
            .await
            .with_context(|| {
                tr!(
                    "impossible d'enregistrer la réponse type {} dans la base de données",
                    "cannot record the answer {} in the database",
                    a.path.display()
                )
            })? {
            Some(_) => report.recorded += 1,
            None => report.unchanged += 1,
        }
    }
    Ok(report)
}

/// The kind as users read it.
pub fn kind_name(k: facteur_kb::DocKind) -> &'static str {
    match k {
        facteur_kb::DocKind::Fiche => "fiche",
        // A product term, in both languages (as on the web pages).
        facteur_kb::DocKind::Answer => "réponse type",
    }
}
