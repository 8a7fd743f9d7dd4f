//! Kill switches and training exclusions over the store, shared by every node.
//!
//! Older versions kept both in files of one node's data directory
//! (`learn/kill_switches.json`, `learn/exclusions.jsonl`): with several nodes on
//! one database a switch pulled on node A was ignored by node B. The files are
//! now only imported, once: the first read or write through a store-backed
//! implementation that finds a legacy file imports it (audited, rows already in
//! the store win) and renames it to `*.imported`, so an upgraded single-node
//! install loses no switch and no exclusion.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use facteur_store::{ImportedControls, Store, StoredExclusion, StoredSwitch};

use crate::feedback::{ExclusionStore, FileExclusions};
use crate::review::{FileSwitches, KillSwitch, SwitchScope, SwitchStore};
use crate::{LearnError, LearnResult};

/// Kill switches in the database.
#[derive(Debug, Clone)]
pub struct StoreSwitches {
    store: Store,
    /// The node's data directory, whose legacy files are imported on first use.
    data_dir: Option<PathBuf>,
}

impl StoreSwitches {
    /// Store only (no legacy file to import).
    pub fn new(store: Store) -> Self {
        Self {
            store,
            data_dir: None,
        }
    }

    /// Store, importing this data directory's legacy files on first use.
    pub fn with_data_dir(store: Store, data_dir: &Path) -> Self {
        Self {
            store,
            data_dir: Some(data_dir.to_path_buf()),
        }
    }

    async fn import(&self) -> LearnResult<()> {
        if let Some(d) = &self.data_dir {
            import_legacy(&self.store, d).await?;
        }
        Ok(())
    }
}

impl SwitchStore for StoreSwitches {
    async fn switches(&self) -> LearnResult<Vec<KillSwitch>> {
        self.import().await?;
        self.store
            .list_kill_switches()
            .await?
            .into_iter()
            .map(|s| {
                // A row this code never writes: refuse rather than ignore it, so
                // the caller fails safe (no suggestion) instead of dropping a switch.
                let scope =
                    SwitchScope::from_stored(&s.scope_kind, &s.scope_value).ok_or_else(|| {
                        LearnError::BadSwitch {
                            kind: s.scope_kind.clone(),
                            value: s.scope_value.clone(),
                        }
                    })?;
                Ok(KillSwitch {
                    scope,
                    set_by: s.set_by,
                    set_at: s.set_at,
                    reason: s.reason,
                })
            })
            .collect()
    }

    /// `s.set_at` is ignored: the store records its own clock's time.
    async fn switch_off(&self, s: KillSwitch) -> LearnResult<()> {
        self.import().await?;
        let (kind, value) = s.scope.to_stored();
        self.store
            .switch_off(kind, &value, &s.reason, s.set_by)
            .await?;
        tracing::warn!(scope = ?s.scope, by = s.set_by, "suggestions switched off");
        Ok(())
    }

    async fn switch_on(&self, scope: &SwitchScope, by: i64) -> LearnResult<()> {
        self.import().await?;
        let (kind, value) = scope.to_stored();
        if self.store.switch_on(kind, &value, by).await? {
            tracing::info!(?scope, by, "suggestions switched back on");
        }
        Ok(())
    }
}

/// Training exclusions in the database.
#[derive(Debug, Clone)]
pub struct StoreExclusions {
    store: Store,
    data_dir: Option<PathBuf>,
}

impl StoreExclusions {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            data_dir: None,
        }
    }

    /// Store, importing this data directory's legacy files on first use.
    pub fn with_data_dir(store: Store, data_dir: &Path) -> Self {
        Self {
            store,
            data_dir: Some(data_dir.to_path_buf()),
        }
    }

    /// Every exclusion with who, when and why (the supervision pages list them).
    pub async fn list(&self) -> LearnResult<Vec<StoredExclusion>> {
        if let Some(d) = &self.data_dir {
            import_legacy(&self.store, d).await?;
        }
        Ok(self.store.list_training_exclusions().await?)
    }
}

impl ExclusionStore for StoreExclusions {
    async fn excluded(&self) -> LearnResult<HashSet<i64>> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .map(|e| e.example_id)
            .collect())
    }

    async fn exclude(&self, example_id: i64, by: i64, reason: &str) -> LearnResult<bool> {
        if let Some(d) = &self.data_dir {
            import_legacy(&self.store, d).await?;
        }
        let new = self
            .store
            .exclude_from_training(example_id, reason, by)
            .await?;
        if new {
            tracing::info!(example_id, by, "training example excluded");
        }
        Ok(new)
    }
}

/// Import the legacy files of `data_dir` (kill switches, exclusions) into the
/// store, then rename each to `<name>.imported`. Costs one `stat` per file when
/// there is nothing to import. Returns what was added (`None`: no legacy file).
///
/// Importing is idempotent (rows already in the store win), so two processes on
/// one data directory racing here import nothing twice; the loser's rename finds
/// no file, which is fine.
pub async fn import_legacy(
    store: &Store,
    data_dir: &Path,
) -> LearnResult<Option<ImportedControls>> {
    let sw_file = FileSwitches::in_data_dir(data_dir);
    let ex_file = FileExclusions::in_data_dir(data_dir);
    let (has_sw, has_ex) = (sw_file.path.is_file(), ex_file.path.is_file());
    if !has_sw && !has_ex {
        return Ok(None);
    }
    let mut total = ImportedControls::default();
    if has_sw {
        let rows: Vec<StoredSwitch> = sw_file
            .read()?
            .into_iter()
            .map(|s| {
                let (kind, value) = s.scope.to_stored();
                StoredSwitch {
                    scope_kind: kind.to_string(),
                    scope_value: value,
                    reason: s.reason,
                    set_by: s.set_by,
                    set_at: s.set_at,
                }
            })
            .collect();
        let r = store
            .import_learn_controls(&rows, &[], "file:learn/kill_switches.json")
            .await?;
        total.switches += r.switches;
        retire(&sw_file.path)?;
    }
    if has_ex {
        let rows: Vec<StoredExclusion> = ex_file
            .read()?
            .into_iter()
            .map(|l| StoredExclusion {
                example_id: l.id,
                reason: l.reason,
                excluded_by: l.by,
                excluded_at: l.at,
            })
            .collect();
        let r = store
            .import_learn_controls(&[], &rows, "file:learn/exclusions.jsonl")
            .await?;
        total.exclusions += r.exclusions;
        retire(&ex_file.path)?;
    }
    tracing::info!(
        switches = total.switches,
        exclusions = total.exclusions,
        "legacy kill switches / exclusions files imported into the store"
    );
    Ok(Some(total))
}

/// Rename an imported file to `<name>.imported`; kept, not deleted, so an
/// administrator can check what was imported.
fn retire(path: &Path) -> LearnResult<()> {
    let mut to = path.as_os_str().to_owned();
    to.push(".imported");
    match std::fs::rename(path, &to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(crate::error::io_err("rename", path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::suggestions_enabled;

    async fn store(dir: &Path) -> Store {
        Store::open(&format!("sqlite:{}", dir.join("facteur.db").display()))
            .await
            .expect("open store")
    }

    async fn audit_count(s: &Store, action: &str) -> usize {
        s.list_audit(0, 10_000)
            .await
            .expect("audit")
            .iter()
            .filter(|r| r.action == action)
            .count()
    }

    fn write_legacy(data_dir: &Path) {
        std::fs::create_dir_all(data_dir.join("learn")).expect("mkdir");
        std::fs::write(
            data_dir.join("learn/kill_switches.json"),
            r#"[{"scope":{"scope":"mailbox","value":2},"set_by":1,"set_at":5,"reason":"incident"},
               {"scope":{"scope":"request_type","value":"deces"},"set_by":1,"set_at":6,"reason":"périmée"}]"#,
        )
        .expect("write switches");
        std::fs::write(
            data_dir.join("learn/exclusions.jsonl"),
            "{\"id\":3,\"by\":1,\"at\":10,\"reason\":\"duplicate\"}\n{\"id\":9,\"by\":1,\"at\":11,\"reason\":\"spam\"}\n",
        )
        .expect("write exclusions");
    }

    #[tokio::test]
    async fn legacy_files_are_imported_once_and_renamed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        write_legacy(&data);
        let s = store(dir.path()).await;
        let sw = StoreSwitches::with_data_dir(s.clone(), &data);

        // First read: the file's switches, with their author and time.
        let all = sw.switches().await.expect("switches");
        assert_eq!(all.len(), 2);
        assert!(all.contains(&KillSwitch {
            scope: SwitchScope::Mailbox(2),
            set_by: 1,
            set_at: 5,
            reason: "incident".into(),
        }));
        assert!(!suggestions_enabled(2, None, &all, None, false));
        assert!(!data.join("learn/kill_switches.json").exists());
        assert!(data.join("learn/kill_switches.json.imported").is_file());
        // The exclusions file went in on the same pass.
        assert!(!data.join("learn/exclusions.jsonl").exists());
        assert!(data.join("learn/exclusions.jsonl.imported").is_file());
        let ex = StoreExclusions::with_data_dir(s.clone(), &data);
        assert_eq!(
            ex.excluded().await.expect("excluded"),
            HashSet::from([3, 9])
        );
        assert_eq!(audit_count(&s, "learn.import").await, 2);

        // Later reads and writes import nothing again.
        sw.switch_on(&SwitchScope::Mailbox(2), 4).await.expect("on");
        let all = sw.switches().await.expect("switches");
        assert_eq!(all.len(), 1);
        assert!(suggestions_enabled(2, None, &all, None, false));
        assert_eq!(audit_count(&s, "learn.import").await, 2);
        assert_eq!(audit_count(&s, "kill_switch.on").await, 1);

        // A legacy file that shows up again (a restored backup) is imported
        // again, on the safe side: a switch missing from the store is added
        // back, a row already there keeps its author and reason.
        write_legacy(&data);
        let all = sw.switches().await.expect("switches");
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(s.verify_audit().await.expect("verify").ok);
        s.close().await;
    }

    #[tokio::test]
    async fn store_switches_and_exclusions_round_trip_without_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path()).await;
        let sw = StoreSwitches::with_data_dir(s.clone(), &dir.path().join("empty"));
        assert!(sw.switches().await.expect("empty").is_empty());
        let off = |scope| KillSwitch {
            scope,
            set_by: 1,
            set_at: 0,
            reason: "r".into(),
        };
        sw.switch_off(off(SwitchScope::All)).await.expect("off");
        sw.switch_off(off(SwitchScope::RequestType("deces".into())))
            .await
            .expect("off");
        sw.switch_off(off(SwitchScope::All)).await.expect("again");
        let all = sw.switches().await.expect("read");
        assert_eq!(all.len(), 2);
        assert!(!suggestions_enabled(7, None, &all, None, false));
        // Another handle without a data dir sees the same switches.
        let other = StoreSwitches::new(s.clone());
        other.switch_on(&SwitchScope::All, 1).await.expect("on");
        let all = sw.switches().await.expect("read");
        assert!(suggestions_enabled(7, None, &all, None, false));
        assert!(!suggestions_enabled(7, Some("deces"), &all, None, false));

        let ex = StoreExclusions::new(s.clone());
        assert!(ex.exclude(5, 1, "doublon").await.expect("exclude"));
        assert!(!ex.exclude(5, 2, "encore").await.expect("again"));
        assert_eq!(ex.excluded().await.expect("read"), HashSet::from([5]));
        assert_eq!(audit_count(&s, "learn.import").await, 0);
        s.close().await;
    }

    #[tokio::test]
    async fn an_unreadable_legacy_file_is_an_error_and_stays_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("learn")).expect("mkdir");
        std::fs::write(data.join("learn/kill_switches.json"), "{broken").expect("write");
        let s = store(dir.path()).await;
        let sw = StoreSwitches::with_data_dir(s.clone(), &data);
        // The caller (triage) fails safe on this error: no suggestion.
        assert!(matches!(
            sw.switches().await,
            Err(LearnError::BadFile { .. })
        ));
        assert!(data.join("learn/kill_switches.json").is_file());
        s.close().await;
    }
}
