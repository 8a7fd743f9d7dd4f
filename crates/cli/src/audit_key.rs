//! The audit chain's key file (`audit_key_file`, default `<data_dir>/audit.key`).
//!
//! Why a file outside the database: whoever can rewrite the database (a stolen
//! backup, a DBA, the application's own role before it was restricted) could
//! recompute a plain hash chain. With the key kept apart, readable by the
//! service's user only, a rewrite no longer verifies. The file also records
//! `unkeyed_until`, the last row written before the key existed, so that
//! boundary cannot be moved from the database either.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use facteur_store::{AuditKey, Store};

use crate::config::Config;

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    /// 64 hex digits.
    key: String,
    unkeyed_until: i64,
}

fn read(path: &Path) -> Result<AuditKey> {
    let text = std::fs::read_to_string(path).with_context(|| {
        tr!(
            "impossible de lire la clé du journal d'audit {} : vérifiez audit_key_file et les droits du fichier",
            "cannot read the audit log key {}: check audit_key_file and the file's permissions",
            path.display()
        )
    })?;
    let f: KeyFile = toml::from_str(&text).with_context(|| {
        tr!(
            "clé du journal d'audit illisible {}",
            "unreadable audit log key {}",
            path.display()
        )
    })?;
    let bytes = hex::decode(f.key.trim()).ok().filter(|b| b.len() == 32);
    let Some(bytes) = bytes else {
        bail!(tr!(
            "clé du journal d'audit {} : « key » doit faire 64 chiffres hexadécimaux",
            "audit log key {}: \"key\" must be 64 hex digits",
            path.display()
        ));
    };
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    Ok(AuditKey {
        key,
        unkeyed_until: f.unkeyed_until,
    })
}

/// Writes a new key file readable by its owner only; `false` when another
/// process created it first (then read that one).
fn create(path: &Path, unkeyed_until: i64) -> Result<bool> {
    // 256 bits from the OS generator, as hex.
    let key = facteur_web::auth::random_token();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => {
            return Err(e).with_context(|| {
                tr!(
                    "impossible de créer la clé du journal d'audit {}",
                    "cannot create the audit log key {}",
                    path.display()
                )
            })
        }
    };
    let body = toml::to_string(&KeyFile { key, unkeyed_until })?;
    file.write_all(
        format!(
            "# Facteur: the audit log's chain key. Keep it outside the database and its backups;\n\
             # readable by the service only; every node sharing the database needs this same file.\n{body}"
        )
        .as_bytes(),
    )?;
    file.sync_all()?;
    Ok(true)
}

/// `store` with the audit key of `cfg`, created on first use. Refuses to go on
/// when the key does not match the chain, or when the chain is keyed and the
/// file is missing: a node writing under another key would break the chain for
/// every later verification.
pub async fn keyed(cfg: &Config, store: Store) -> Result<Store> {
    let path = cfg.audit_key_path();
    if !path.is_file() {
        if !store.audit_last_row_is_plain().await? {
            bail!(tr!(
                "le journal d'audit de cette base est chaîné avec une clé, mais {} n'existe pas : copiez ce fichier depuis le nœud qui l'a créé (audit_key_file)",
                "this database's audit log is chained with a key, but {} does not exist: copy that file from the node that created it (audit_key_file)",
                path.display()
            ));
        }
        let head = store.audit_head().await?;
        if create(&path, head.seq)? {
            tracing::info!(path = %path.display(), unkeyed_until = head.seq, "created the audit log key");
        }
    }
    let store = store.with_audit_key(read(&path)?);
    // Only a last row keyed under *another* key stops a node: that node would
    // fork the chain. A plain last row past the key's boundary was written by a
    // keyless writer (or by a rewrite): `facteur audit verify` reports it, and the
    // service goes on, keyed, so an operator can still act.
    if store.audit_key_matches().await? == Some(false) && !store.audit_last_row_is_plain().await? {
        bail!(tr!(
            "la clé du journal d'audit {} n'est pas celle avec laquelle le journal de cette base a été écrit : copiez le fichier du nœud qui l'a créé",
            "the audit log key {} is not the one this database's log was written with: copy the file from the node that created it",
            path.display()
        ));
    }
    Ok(store)
}

/// `store` with the key of `cfg` when its file exists, unchecked: for `facteur
/// audit verify` and `head`, which must report a rewritten chain rather than
/// refuse to open it.
pub fn for_verification(cfg: &Config, store: Store) -> Result<Store> {
    Ok(match existing(cfg)? {
        Some(k) => store.with_audit_key(k),
        None => store,
    })
}

/// The key of `cfg` when its file exists (for a store that must not create one,
/// e.g. a migration's target).
pub fn existing(cfg: &Config) -> Result<Option<AuditKey>> {
    let path = cfg.audit_key_path();
    if path.is_file() {
        read(&path).map(Some)
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_private_and_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/audit.key");
        assert!(create(&p, 3).unwrap());
        assert!(!create(&p, 9).unwrap(), "never overwritten");
        let k = read(&p).unwrap();
        assert_eq!(k.unkeyed_until, 3);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&p, "key = \"zz\"\nunkeyed_until = 0\n").unwrap();
        assert!(read(&p).is_err());
    }
}
