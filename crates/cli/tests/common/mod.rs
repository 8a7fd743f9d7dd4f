//! Helpers shared by the CLI's integration test binaries (each binary uses a subset).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared data folder: `$FACTEUR_SHARED_DATA`, else `../shared/data` beside the repo.
pub fn shared() -> PathBuf {
    std::env::var_os("FACTEUR_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data"))
}

/// A name no other test (or earlier run) uses: Dovecot users, databases, domains.
pub fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{}", std::process::id(), n % 1_000_000_000)
}

/// Message-IDs of the replies the SMTP server stored in its Maildir for addresses of
/// `to_domain` (each test sends to a domain of its own).
pub fn received_replies(maildir: &Path, to_domain: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(rd) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(bytes) = std::fs::read(e.path()) else {
                continue;
            };
            if !String::from_utf8_lossy(&bytes).contains(to_domain) {
                continue;
            }
            ids.push(facteur_mail::parse_message(&bytes).message_id);
        }
    }
    ids
}
