//! The 3-month review and the kill switch. Pure: the previous self-managing tool
//! drifted unnoticed, so a model's review date and the supervisor's switches are
//! plain data that the router consults on every message.

use facteur_store::Millis;
use serde::{Deserialize, Serialize};

pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// Where a model stands against its review schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewStatus {
    /// ISO date (UTC) the review is due.
    pub due_on: String,
    pub due_at: Millis,
    pub overdue: bool,
    /// Whole days left; negative once overdue.
    pub days_left: i64,
}

/// Due date = the later of promotion and the last recorded review, plus the review
/// period: recording a review restarts the clock.
pub fn review_status(
    promoted_at: Millis,
    last_review_at: Option<Millis>,
    now: Millis,
    period_days: u32,
) -> ReviewStatus {
    let since = last_review_at.map_or(promoted_at, |r| r.max(promoted_at));
    let due_at = since.saturating_add(i64::from(period_days) * DAY_MS);
    let left = due_at - now;
    let days_left = left.div_euclid(DAY_MS);
    ReviewStatus {
        due_on: iso_date(due_at),
        due_at,
        overdue: now >= due_at,
        days_left,
    }
}

/// `YYYY-MM-DD` in UTC; empty for an out-of-range timestamp.
pub fn iso_date(ms: Millis) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| {
            let d = t.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        })
        .unwrap_or_default()
}

/// What a supervisor decided after looking at a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Fit for another period.
    Keep,
    /// Keep for now, but a new candidate must be trained.
    Retrain,
    /// Stop using it (roll back or switch suggestions off).
    Withdraw,
}

/// A recorded review: who, when, the metrics they saw, the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewRecord {
    pub version: String,
    pub reviewed_by: i64,
    pub reviewed_at: Millis,
    pub metrics_seen: serde_json::Value,
    pub decision: ReviewDecision,
    pub note: Option<String>,
}

/// What a kill switch turns off.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", content = "value", rename_all = "snake_case")]
pub enum SwitchScope {
    /// Every draft suggestion of the service (an incident, a bad model).
    All,
    Mailbox(i64),
    RequestType(String),
}

impl SwitchScope {
    /// `(scope_kind, scope_value)` as the store keeps them.
    pub fn to_stored(&self) -> (&'static str, String) {
        match self {
            SwitchScope::All => ("all", String::new()),
            SwitchScope::Mailbox(m) => ("mailbox", m.to_string()),
            SwitchScope::RequestType(t) => ("request_type", t.clone()),
        }
    }

    /// The inverse of [`SwitchScope::to_stored`]; `None` for a kind or a value it
    /// never writes.
    pub fn from_stored(kind: &str, value: &str) -> Option<SwitchScope> {
        match kind {
            "all" if value.is_empty() => Some(SwitchScope::All),
            "mailbox" => value.parse().ok().map(SwitchScope::Mailbox),
            "request_type" if !value.is_empty() => Some(SwitchScope::RequestType(value.into())),
            _ => None,
        }
    }
}

/// Suggestions switched off by a supervisor, at once, until switched back on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KillSwitch {
    pub scope: SwitchScope,
    pub set_by: i64,
    pub set_at: Millis,
    pub reason: String,
}

/// Whether the pipeline may offer a draft. Off when a switch covers the whole
/// service, the mailbox or the request type; with `strict_review`, also off when
/// the model is overdue for review or when there is no review status at all (no
/// model has been promoted).
pub fn suggestions_enabled(
    mailbox_id: i64,
    request_type: Option<&str>,
    switches: &[KillSwitch],
    review: Option<&ReviewStatus>,
    strict_review: bool,
) -> bool {
    let switched_off = switches.iter().any(|s| match &s.scope {
        SwitchScope::All => true,
        SwitchScope::Mailbox(m) => *m == mailbox_id,
        SwitchScope::RequestType(t) => request_type == Some(t.as_str()),
    });
    if switched_off {
        return false;
    }
    !(strict_review && review.is_none_or(|r| r.overdue))
}

/// Where kill switches live: [`crate::controls::StoreSwitches`], in the database
/// every node shares, so a switch pulled on one node is obeyed by all.
#[allow(async_fn_in_trait)]
pub trait SwitchStore {
    async fn switches(&self) -> crate::LearnResult<Vec<KillSwitch>>;
    /// Turn suggestions off for a scope (replaces an existing switch on it).
    async fn switch_off(&self, s: KillSwitch) -> crate::LearnResult<()>;
    /// Turn suggestions back on for a scope, by a named user (audited).
    async fn switch_on(&self, scope: &SwitchScope, by: i64) -> crate::LearnResult<()>;
}

/// The JSON file older versions kept the switches in, under one node's data
/// directory. Only read now, by the one-time import into the store
/// ([`crate::controls::import_legacy`]).
#[derive(Debug, Clone)]
pub struct FileSwitches {
    pub path: std::path::PathBuf,
}

impl FileSwitches {
    pub fn in_data_dir(data_dir: &std::path::Path) -> Self {
        Self {
            path: data_dir.join("learn").join("kill_switches.json"),
        }
    }

    /// The switches of the file; empty when there is no file.
    pub fn read(&self) -> crate::LearnResult<Vec<KillSwitch>> {
        match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| crate::LearnError::BadFile {
                path: self.path.clone(),
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(crate::error::io_err("read", &self.path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_750_000_000_000; // 2025-06-15

    #[test]
    fn due_ninety_days_after_promotion_and_review_restarts_the_clock() {
        let s = review_status(T0, None, T0 + 10 * DAY_MS, 90);
        assert_eq!(s.due_at, T0 + 90 * DAY_MS);
        assert_eq!(s.days_left, 80);
        assert!(!s.overdue);
        assert_eq!(s.due_on, "2025-09-13");
        let late = review_status(T0, None, T0 + 91 * DAY_MS, 90);
        assert!(late.overdue);
        assert_eq!(late.days_left, -1);
        let reviewed = review_status(T0, Some(T0 + 80 * DAY_MS), T0 + 91 * DAY_MS, 90);
        assert!(!reviewed.overdue);
        assert_eq!(reviewed.days_left, 79);
        // A review older than the promotion does not count.
        let old = review_status(T0, Some(T0 - 50 * DAY_MS), T0 + 91 * DAY_MS, 90);
        assert!(old.overdue);
        // Configurable period.
        assert!(review_status(T0, None, T0 + 31 * DAY_MS, 30).overdue);
    }

    #[test]
    fn switches_and_strict_review_turn_suggestions_off() {
        let ok = review_status(T0, None, T0 + DAY_MS, 90);
        let late = review_status(T0, None, T0 + 100 * DAY_MS, 90);
        let sw = vec![
            KillSwitch {
                scope: SwitchScope::Mailbox(3),
                set_by: 1,
                set_at: T0,
                reason: "incident".into(),
            },
            KillSwitch {
                scope: SwitchScope::RequestType("deces".into()),
                set_by: 1,
                set_at: T0,
                reason: "answer outdated".into(),
            },
        ];
        assert!(suggestions_enabled(
            1,
            Some("pas-taux"),
            &sw,
            Some(&ok),
            true
        ));
        assert!(!suggestions_enabled(
            3,
            Some("pas-taux"),
            &sw,
            Some(&ok),
            false
        ));
        assert!(!suggestions_enabled(
            1,
            Some("deces"),
            &sw,
            Some(&ok),
            false
        ));
        assert!(suggestions_enabled(1, None, &sw, Some(&late), false));
        assert!(!suggestions_enabled(1, None, &sw, Some(&late), true));
        assert!(!suggestions_enabled(1, None, &[], None, true));
        assert!(suggestions_enabled(1, None, &[], None, false));
    }

    #[test]
    fn a_whole_service_switch_covers_everything_and_scopes_round_trip() {
        let all = vec![KillSwitch {
            scope: SwitchScope::All,
            set_by: 1,
            set_at: T0,
            reason: "panne".into(),
        }];
        assert!(!suggestions_enabled(1, None, &all, None, false));
        assert!(!suggestions_enabled(9, Some("deces"), &all, None, false));
        for scope in [
            SwitchScope::All,
            SwitchScope::Mailbox(42),
            SwitchScope::RequestType("pas-taux".into()),
        ] {
            let (k, v) = scope.to_stored();
            assert_eq!(SwitchScope::from_stored(k, &v), Some(scope));
        }
        assert_eq!(SwitchScope::from_stored("mailbox", "x"), None);
        assert_eq!(SwitchScope::from_stored("request_type", ""), None);
        assert_eq!(SwitchScope::from_stored("planet", "mars"), None);
    }

    #[test]
    fn legacy_file_reads_what_older_versions_wrote() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = FileSwitches::in_data_dir(dir.path());
        assert!(f.read().expect("no file").is_empty());
        std::fs::create_dir_all(dir.path().join("learn")).expect("mkdir");
        std::fs::write(
            &f.path,
            r#"[{"scope":{"scope":"mailbox","value":2},"set_by":1,"set_at":5,"reason":"r"},
               {"scope":{"scope":"request_type","value":"deces"},"set_by":1,"set_at":6,"reason":"s"}]"#,
        )
        .expect("write");
        let all = f.read().expect("read");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].scope, SwitchScope::Mailbox(2));
        assert!(!suggestions_enabled(1, Some("deces"), &all, None, false));
        std::fs::write(&f.path, "not json").expect("write");
        assert!(matches!(f.read(), Err(crate::LearnError::BadFile { .. })));
    }
}
