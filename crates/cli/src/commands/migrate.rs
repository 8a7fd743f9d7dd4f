//! `facteur migrate`: move a service from one database to another — in practice
//! from the SQLite of a single office to the PostgreSQL of a scaled-out service.
//!
//! The copy itself is the store's (`Store::copy_to`: one target transaction, ids
//! and audit rows byte for byte, sequences moved past the copied ids); this
//! command refuses the obvious mistakes and says whether the result can be trusted.

use crate::service::redact_url;
use anyhow::{bail, Context, Result};
use clap::Args;
use facteur_store::{Store, StoreError};

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The source database, e.g. `sqlite:/var/lib/facteur/facteur.db`.
    #[arg(long, value_name = "URL", required_unless_present = "check")]
    pub from: Option<String>,
    /// The target database, e.g. `postgres://facteur@db/facteur`: created tables,
    /// but no data (a fresh database).
    #[arg(long, value_name = "URL", required_unless_present = "check")]
    pub to: Option<String>,
    /// Change nothing: list the schema migrations this version will apply to the
    /// configured database at its next start (before an upgrade), and whether the
    /// database is newer than this version. Exit status 0 either way but newer.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub check: bool,
    /// Print the report as one JSON line {"tables":[{"table","source","target"}],"target_audit","ok"}.
    #[arg(long)]
    pub json: bool,
}

struct Copy {
    from: String,
    to: String,
    json: bool,
}

/// A database URL the store opens, or an error saying what to write: an
/// administrator often gives the bare path of the `facteur.db`.
fn check_url(option: &str, url: &str) -> Result<()> {
    let url = url.trim();
    if ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|p| url.starts_with(p))
    {
        return Ok(());
    }
    if url.ends_with(".db") || std::path::Path::new(url).is_file() {
        bail!(tr!(
            "{option} {url} : une base SQLite s'écrit avec son préfixe, {option} sqlite:{url}",
            "{option} {url}: a SQLite database is written with its prefix, {option} sqlite:{url}"
        ));
    }
    bail!(tr!(
        "{option} {url} : attendu sqlite:CHEMIN (le facteur.db du service) ou postgres://UTILISATEUR@HÔTE/BASE",
        "{option} {url}: expected sqlite:PATH (the service's facteur.db) or postgres://USER@HOST/DATABASE"
    ));
}

/// `facteur migrate --check`.
fn check(cfg: &crate::config::Config, json: bool) -> Result<()> {
    let url = cfg.database_url();
    super::runtime()?.block_on(async {
        let status = facteur_store::schema_status(&url).await.with_context(|| {
            tr!(
                "impossible de lire le schéma de {}",
                "cannot read the schema of {}",
                redact_url(&url)
            )
        })?;
        if json {
            super::print_json(&status)?;
        } else if status.pending.is_empty() && status.unknown.is_empty() {
            println!("{}", crate::i18n::tr("schéma à jour : aucune migration à appliquer", "schema up to date: no migration to apply"));
        } else {
            for m in &status.pending {
                println!("{}", tr!("à appliquer : {:04} {}", "to apply: {:04} {}", m.version, m.description));
            }
        }
        if !status.unknown.is_empty() {
            bail!(tr!(
                "la base a des migrations inconnues de cette version ({:?}) : elle a été mise à jour par une version plus récente de Facteur",
                "the database has migrations unknown to this version ({:?}): a newer Facteur upgraded it",
                status.unknown
            ));
        }
        Ok(())
    })
}

pub fn run(cfg: &crate::config::Config, a: MigrateArgs) -> Result<()> {
    if a.check {
        return check(cfg, a.json);
    }
    let (Some(from), Some(to)) = (a.from.clone(), a.to.clone()) else {
        bail!(crate::i18n::tr(
            "donnez --from et --to, ou --check",
            "give --from and --to, or --check"
        ));
    };
    let a = Copy {
        from,
        to,
        json: a.json,
    };
    check_url("--from", &a.from)?;
    check_url("--to", &a.to)?;
    if a.from.trim() == a.to.trim() {
        bail!(tr!(
            "--from et --to désignent la même base : donnez une cible neuve et vide",
            "--from and --to name the same database: give a fresh, empty target"
        ));
    }
    if let Some(path) = a.from.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if !std::path::Path::new(path).is_file() {
            bail!(tr!(
                "la base source {path} n'existe pas : donnez --from sqlite:CHEMIN du facteur.db du service",
                "the source database {path} does not exist: give --from sqlite:PATH of the service's facteur.db"
            ));
        }
    }
    super::runtime()?.block_on(async {
        let source = Store::open(&a.from)
            .await
            .with_context(|| {
                tr!(
                    "impossible d'ouvrir la base source {}",
                    "cannot open the source database {}",
                    redact_url(&a.from)
                )
            })?;
        let target = Store::open(&a.to)
            .await
            .with_context(|| {
                tr!(
                    "impossible d'ouvrir la base cible {}",
                    "cannot open the target database {}",
                    redact_url(&a.to)
                )
            })?;
        // The chain is copied byte for byte: the target verifies under the
        // source's key, which stays in the same file.
        let (source, target) = match crate::audit_key::existing(cfg)? {
            Some(k) => (source.with_audit_key(k.clone()), target.with_audit_key(k)),
            None => (source, target),
        };
        let report = match source.copy_to(&target).await {
            Ok(r) => r,
            Err(StoreError::Conflict { op, detail }) => bail!(tr!(
                "la cible {} contient déjà des données ({op} : {detail}) : migrez vers une base neuve et vide (CREATE DATABASE …), rien n'a été copié",
                "the target {} already holds data ({op}: {detail}): migrate into a fresh, empty database (CREATE DATABASE …), nothing was copied",
                redact_url(&a.to)
            )),
            Err(e) => {
                return Err(anyhow::anyhow!(e)).context(crate::i18n::tr(
                    "la copie a échoué et a été annulée : la cible n'en contient rien",
                    "the copy failed and was rolled back: the target holds nothing of it",
                ))
            }
        };
        source.close().await;
        target.close().await;
        if a.json {
            super::print_json(&report)?;
        } else {
            let tr = crate::i18n::tr;
            println!(
                "{:<28} {:>10} {:>10}",
                "table",
                "source",
                tr("cible", "target")
            );
            for t in &report.tables {
                let mark = if t.source == t.target {
                    ""
                } else {
                    tr("  <- différent", "  <- differs")
                };
                println!("{:<28} {:>10} {:>10}{mark}", t.table, t.source, t.target);
            }
            let state = if report.target_audit.ok {
                tr("vérifiée", "verified")
            } else {
                tr("ROMPUE", "BROKEN")
            };
            println!(
                "{}",
                tr!(
                    "chaîne d'audit de la cible : {} lignes, {}",
                    "audit chain on the target: {} rows, {}",
                    report.target_audit.rows,
                    state
                )
            );
        }
        if !report.ok {
            bail!(tr!(
                "la copie ne correspond pas à la source (voir le rapport) : ne basculez pas le service sur la cible",
                "the copy does not match the source (see the report): do not switch the service to the target"
            ));
        }
        if !a.json {
            println!(
                "{}",
                tr!(
                    "ok : faites pointer database_url vers {} et démarrez le service avec le même dossier de données (son sous-dossier models/ contient les modèles du registre)",
                    "ok: point database_url at {} and start the service with the same data directory (its models/ folder holds the registry's models)",
                    redact_url(&a.to)
                )
            );
        }
        Ok(())
    })
}
