//! Durable connector state kept beside the store: the IMAP sync position per
//! mailbox and folder, and the outbox hand-off journal.
//!
//! Why files and not the store: the store has no table for them yet (requested in
//! notes/store-requests.md). Correctness never depends on the sync position (ingest
//! is idempotent, so a lost position only costs a re-fetch); the hand-off journal
//! does matter, and it must be written *synchronously* just before the SMTP
//! end-of-data, which a plain fsync'ed file does well. With several senders on
//! different hosts the directory must be shared (or the store methods added).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ConnectError, ConnectResult};

/// Where an IMAP folder was read up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPosition {
    pub uidvalidity: u32,
    /// Every UID up to and including this one is stored.
    pub last_uid: u32,
}

/// One directory of small files, each replaced atomically (write, fsync, rename,
/// fsync the directory), so a crash leaves either the old or the new content.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn open(root: impl Into<PathBuf>) -> ConnectResult<StateDir> {
        let root = root.into();
        for sub in ["imap", "handoff"] {
            fs::create_dir_all(root.join(sub)).map_err(|e| state_err(&root, e))?;
        }
        Ok(StateDir { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn position_path(&self, mailbox_id: i64, folder: &str) -> PathBuf {
        // Folder names may hold any character: hex keeps the file name safe.
        self.root.join("imap").join(format!(
            "{mailbox_id}-{}.json",
            hex::encode(folder.as_bytes())
        ))
    }

    pub fn load_position(
        &self,
        mailbox_id: i64,
        folder: &str,
    ) -> ConnectResult<Option<SyncPosition>> {
        let path = self.position_path(mailbox_id, folder);
        match fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(state_err(&path, e)),
        }
    }

    pub fn save_position(
        &self,
        mailbox_id: i64,
        folder: &str,
        pos: SyncPosition,
    ) -> ConnectResult<()> {
        let path = self.position_path(mailbox_id, folder);
        let bytes = serde_json::to_vec(&pos).unwrap_or_default();
        write_atomic(&path, &bytes).map_err(|e| state_err(&path, e))
    }

    pub fn forget_position(&self, mailbox_id: i64, folder: &str) -> ConnectResult<()> {
        let path = self.position_path(mailbox_id, folder);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(state_err(&path, e)),
        }
    }

    fn handoff_path(&self, outbox_id: i64) -> PathBuf {
        self.root
            .join("handoff")
            .join(format!("outbox-{outbox_id}"))
    }

    /// Record, durably, that the complete reply of `outbox_id` is about to be
    /// committed to the SMTP server (the end-of-data dot goes next).
    pub fn record_handoff(&self, outbox_id: i64, worker: &str) -> std::io::Result<()> {
        write_atomic(&self.handoff_path(outbox_id), worker.as_bytes())
    }

    pub fn handed_off(&self, outbox_id: i64) -> bool {
        self.handoff_path(outbox_id).exists()
    }

    /// The server answered: the outcome is known, the marker is no longer needed.
    pub fn clear_handoff(&self, outbox_id: i64) -> std::io::Result<()> {
        match fs::remove_file(self.handoff_path(outbox_id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

fn state_err(path: &Path, e: std::io::Error) -> ConnectError {
    ConnectError::State {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_handoffs_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::open(dir.path()).unwrap();
        assert_eq!(s.load_position(1, "INBOX").unwrap(), None);
        let p = SyncPosition {
            uidvalidity: 7,
            last_uid: 42,
        };
        s.save_position(1, "INBOX", p).unwrap();
        s.save_position(
            1,
            "Archives/été",
            SyncPosition {
                uidvalidity: 1,
                last_uid: 1,
            },
        )
        .unwrap();
        let s2 = StateDir::open(dir.path()).unwrap();
        assert_eq!(s2.load_position(1, "INBOX").unwrap(), Some(p));
        assert_eq!(s2.load_position(2, "INBOX").unwrap(), None);
        s2.forget_position(1, "INBOX").unwrap();
        assert_eq!(s2.load_position(1, "INBOX").unwrap(), None);

        assert!(!s2.handed_off(5));
        s2.record_handoff(5, "w1").unwrap();
        assert!(StateDir::open(dir.path()).unwrap().handed_off(5));
        s2.clear_handoff(5).unwrap();
        s2.clear_handoff(5).unwrap();
        assert!(!s2.handed_off(5));
    }
}
