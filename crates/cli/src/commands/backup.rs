//! `facteur backup --to DIR` and `facteur restore --from DIR` for a SQLite
//! service: the store's online snapshot (`VACUUM INTO`, consistent while
//! `serve`, imports and senders write), the data directory's files (knowledge
//! base index and manifest, model registry, active model) and the answers
//! folder, described by `manifest.json` with a SHA-256 per file, the row count
//! of every table and the audit head. A restore goes into an empty data
//! directory, checks every checksum before copying, then opens the restored
//! database and checks the counts, the audit chain and its head.
//! PostgreSQL is backed up with `pg_dump` (docs/DEPLOY.md).

use anyhow::{bail, Context, Result};
use clap::Args;
use facteur_store::{SnapshotInfo, Store};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

use crate::config::Config;

const DB_FILE: &str = "facteur.db";

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The folder to create (must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Print the manifest's summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// A folder written by `facteur backup`.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// Print the check's result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileEntry {
    /// Relative to the backup folder, `/`-separated.
    path: String,
    bytes: u64,
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    facteur_version: String,
    created_at: i64,
    snapshot: SnapshotInfo,
    files: Vec<FileEntry>,
}

#[derive(Debug, Serialize)]
struct RestoreReport {
    files: usize,
    snapshot: SnapshotInfo,
    audit_rows: u64,
    audit_ok: bool,
}

fn sqlite_path(cfg: &Config) -> Result<PathBuf> {
    let url = cfg.database_url();
    let Some(p) = url.strip_prefix("sqlite:") else {
        bail!(crate::i18n::tr(
            "facteur backup et restore servent une base SQLite ; une base PostgreSQL se sauvegarde avec pg_dump et se restaure avec pg_restore (voir docs/DEPLOY.md), puis `facteur audit verify`",
            "facteur backup and restore handle a SQLite database; back a PostgreSQL database up with pg_dump and restore it with pg_restore (see docs/DEPLOY.md), then `facteur audit verify`"
        ));
    };
    let p = p.trim_start_matches("//");
    Ok(PathBuf::from(p.split('?').next().unwrap_or(p)))
}

/// True for a folder holding a backup under way or done (`data/` + `manifest.json`,
/// or the `data/facteur.db` snapshot being written).
fn is_backup_root(dir: &Path) -> bool {
    dir.join("manifest.json").is_file() || dir.join("data").join(DB_FILE).is_file()
}

fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path)
        .with_context(|| tr!("impossible de lire {}", "cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    let bytes = std::io::copy(&mut f, &mut h)?;
    Ok((bytes, hex::encode(h.finalize())))
}

fn empty_or_missing(dir: &Path) -> Result<bool> {
    Ok(!dir.exists() || std::fs::read_dir(dir)?.next().is_none())
}

/// Copy the files under `from` into `to` (skipping the database and its
/// journals), appending their entries under `prefix`.
/// A backup folder inside the data directory (`/var/lib/facteur/backups/…`) is
/// skipped: it would otherwise copy itself.
fn copy_tree(from: &Path, to: &Path, prefix: &str, out: &mut Vec<FileEntry>) -> Result<()> {
    if !from.is_dir() {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(from)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().to_string();
        if prefix.is_empty() && name.starts_with(DB_FILE) {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if is_backup_root(&src) {
            continue;
        }
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let ft = e.file_type()?;
        if ft.is_dir() {
            std::fs::create_dir_all(&dst)?;
            copy_tree(&src, &dst, &rel, out)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)
                .with_context(|| tr!("impossible de copier {}", "cannot copy {}", src.display()))?;
            let (bytes, sha256) = sha256_file(&dst)?;
            out.push(FileEntry {
                path: rel,
                bytes,
                sha256,
            });
        }
    }
    Ok(())
}

pub fn backup(cfg: &Config, a: BackupArgs) -> Result<()> {
    sqlite_path(cfg)?;
    if !empty_or_missing(&a.to)? {
        bail!(tr!(
            "{} n'est pas vide : donnez un dossier neuf",
            "{} is not empty: give a new folder",
            a.to.display()
        ));
    }
    std::fs::create_dir_all(a.to.join("data"))?;
    let to = a.to.canonicalize()?;
    super::runtime()?.block_on(async {
        let live = Store::open(&cfg.database_url()).await?;
        live.snapshot_sqlite_into(&to.join("data").join(DB_FILE))
            .await?;
        let created_at = live.now_ms();
        live.close().await;
        // The figures of the snapshot itself, not of the live database.
        let snap = Store::open(&format!(
            "sqlite:{}",
            to.join("data").join(DB_FILE).display()
        ))
        .await?;
        let snapshot = snap.snapshot_info().await?;
        snap.close().await;
        let mut files = Vec::new();
        // The data directory's files (not the live database), then every file
        // under data/ listed with the snapshot included, then the answers.
        copy_tree(&cfg.data_dir, &to.join("data"), "", &mut Vec::new())?;
        collect(&to, &to.join("data"), &mut files)?;
        if cfg.answers_dir.is_dir() {
            std::fs::create_dir_all(to.join("answers"))?;
            copy_tree(&cfg.answers_dir, &to.join("answers"), "answers", &mut files)?;
        }
        let manifest = Manifest {
            format: 1,
            facteur_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at,
            snapshot,
            files,
        };
        std::fs::write(
            to.join("manifest.json"),
            serde_json::to_vec_pretty(&manifest)?,
        )?;
        if a.json {
            super::print_json(&serde_json::json!({
                "files": manifest.files.len(),
                "audit_head": manifest.snapshot.audit_head,
                "tables": manifest.snapshot.tables,
            }))?;
        } else {
            println!(
                "{}",
                tr!(
                    "sauvegarde écrite dans {} : {} fichiers, journal d'audit jusqu'à la ligne {}",
                    "backup written into {}: {} files, audit log up to row {}",
                    to.display(),
                    manifest.files.len(),
                    manifest.snapshot.audit_head.seq
                )
            );
        }
        Ok(())
    })
}

/// Every file under `dir`, as entries relative to `root`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<FileEntry>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        // SQLite's -wal/-shm/-journal beside the snapshot are transient (the
        // snapshot was opened to count its rows and closed): never part of it.
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with(DB_FILE) && name != DB_FILE {
            continue;
        }
        if e.file_type()?.is_dir() {
            collect(root, &p, out)?;
        } else {
            let rel = p.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
            let (bytes, sha256) = sha256_file(&p)?;
            out.push(FileEntry {
                path: rel,
                bytes,
                sha256,
            });
        }
    }
    Ok(())
}

pub fn restore(cfg: &Config, a: RestoreArgs) -> Result<()> {
    let db = sqlite_path(cfg)?;
    let text = std::fs::read(a.from.join("manifest.json")).with_context(|| {
        tr!(
            "{} n'a pas de manifest.json : est-ce une sauvegarde de facteur backup ?",
            "{} has no manifest.json: is it a backup made by facteur backup?",
            a.from.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)?;
    if !empty_or_missing(&cfg.data_dir)? || db.exists() {
        bail!(tr!(
            "le dossier de données {} n'est pas vide : restaurez dans un dossier neuf (data_dir), jamais par-dessus un service",
            "the data directory {} is not empty: restore into a new folder (data_dir), never over a service",
            cfg.data_dir.display()
        ));
    }
    // Every checksum first: nothing is copied from a damaged backup.
    for f in &manifest.files {
        let (bytes, sha) = sha256_file(&a.from.join(&f.path))?;
        if bytes != f.bytes || sha != f.sha256 {
            bail!(tr!(
                "{} ne correspond pas au manifeste (somme de contrôle) : sauvegarde abîmée, rien n'a été restauré",
                "{} does not match the manifest (checksum): damaged backup, nothing was restored",
                f.path
            ));
        }
    }
    let answers_free = empty_or_missing(&cfg.answers_dir)?;
    for f in &manifest.files {
        let src = a.from.join(&f.path);
        let dst = if let Some(rest) = f.path.strip_prefix("data/") {
            if rest == DB_FILE {
                db.clone()
            } else {
                cfg.data_dir.join(rest)
            }
        } else if let Some(rest) = f.path.strip_prefix("answers/") {
            if !answers_free {
                continue;
            }
            cfg.answers_dir.join(rest)
        } else {
            continue;
        };
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&src, &dst)?;
    }
    super::runtime()?.block_on(async {
        // The chain is checked under the service's key (`audit_key_file`, restored
        // with the data directory when it lives there), as `audit verify` does.
        let store = crate::audit_key::for_verification(cfg, Store::open(&cfg.database_url()).await?)?;
        let snapshot = store.snapshot_info().await?;
        let audit = store.verify_audit().await?;
        store.close().await;
        let same = snapshot.tables == manifest.snapshot.tables
            && snapshot.audit_head == manifest.snapshot.audit_head;
        let report = RestoreReport { files: manifest.files.len(), snapshot, audit_rows: audit.rows, audit_ok: audit.ok };
        if a.json {
            super::print_json(&report)?;
        }
        if !audit.ok || !same {
            bail!(crate::i18n::tr(
                "la copie restaurée ne correspond pas à la sauvegarde (comptes, chaîne d'audit ou tête) : ne démarrez pas le service dessus ; si la clé du journal d'audit est gardée hors du dossier de données, placez-la à l'emplacement audit_key_file avant de restaurer",
                "the restored copy does not match the backup (counts, audit chain or head): do not start the service on it; if the audit log key is kept outside the data directory, put it at audit_key_file before restoring"
            ));
        }
        if !a.json {
            println!("{}", tr!(
                "restauré : {} fichiers vérifiés, {} lignes d'audit, chaîne vérifiée, tête {}",
                "restored: {} files checked, {} audit rows, chain verified, head {}",
                report.files, report.audit_rows, report.snapshot.audit_head.seq
            ));
        }
        Ok(())
    })
}
