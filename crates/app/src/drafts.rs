//! May a prepared draft be offered to an agent? One rule for triage, the queue,
//! the message page and the API: no kill switch covers the mailbox or the request
//! type, the model's review is not overdue when the review is strict, and no
//! agent rejected the draft of that very triage. Also how a subject is shown
//! before the audited reveal.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use facteur_core::AgentActionKind;
use facteur_learn::review::{KillSwitch, ReviewStatus, SwitchStore};
use facteur_learn::StoreSwitches;
use facteur_store::Store;
use tokio::sync::Mutex;

use crate::AppError;

/// How long the kill switches read are reused: a switch reaches every node
/// within this delay (plus the triage already running). The node that set the
/// switch forgets its cache at once ([`Suggestions::forget`]).
pub const SWITCH_CACHE: Duration = Duration::from_secs(2);

/// How long the active model's review status is reused: reading it scans the
/// review records, too costly per message.
const REVIEW_CACHE: Duration = Duration::from_secs(60);

/// The gate every draft goes through, with its caches. One per process, shared
/// by the triage service and the web app.
pub struct Suggestions {
    store: Store,
    /// This node's data directory: its legacy kill-switch file is imported on first
    /// use, and the registry's model files live under it.
    data_dir: Option<PathBuf>,
    strict_review: bool,
    registry: facteur_learn::registry::RegistryConfig,
    switches: Mutex<Option<(Instant, Vec<KillSwitch>)>>,
    review: Mutex<(Option<Instant>, Option<ReviewStatus>)>,
}

/// The rule's inputs read once (a queue page checks every row against the same
/// snapshot). `switches: None`: they could not be read, which withdraws every
/// draft, failing safe.
#[derive(Debug, Clone)]
pub struct DraftRules {
    /// The kill switches in force, `None` when unreadable.
    pub switches: Option<Vec<KillSwitch>>,
    /// The active model's review status (`None` without a promoted model).
    pub review: Option<ReviewStatus>,
    /// Whether an overdue (or missing) review also stops suggestions.
    pub strict_review: bool,
}

impl DraftRules {
    /// Whether drafts may be offered for this mailbox and request type.
    pub fn enabled(&self, mailbox_id: i64, request_type: Option<&str>) -> bool {
        match &self.switches {
            Some(sw) => facteur_learn::review::suggestions_enabled(
                mailbox_id,
                request_type,
                sw,
                self.review.as_ref(),
                self.strict_review,
            ),
            None => false,
        }
    }

    /// The supervisor (or an overdue strict review) stopped this suggestion: no
    /// agent (page, queue or API) should be handed the draft.
    pub fn withdrawn(&self, mailbox_id: i64, request_type: Option<&str>) -> bool {
        !self.enabled(mailbox_id, request_type)
    }
}

impl Suggestions {
    /// A gate over `store`. `review_period_days` is the registry's review period.
    pub fn new(
        store: Store,
        data_dir: Option<PathBuf>,
        strict_review: bool,
        review_period_days: u32,
    ) -> Self {
        Self {
            store,
            data_dir,
            strict_review,
            registry: facteur_learn::registry::RegistryConfig {
                review_period_days,
                ..Default::default()
            },
            switches: Mutex::new(None),
            review: Mutex::new((None, None)),
        }
    }

    fn switch_store(&self) -> StoreSwitches {
        match &self.data_dir {
            Some(d) => StoreSwitches::with_data_dir(self.store.clone(), d),
            None => StoreSwitches::new(self.store.clone()),
        }
    }

    /// The kill switches in force, read from the database every node shares,
    /// uncached.
    pub async fn read_kill_switches(&self) -> Result<Vec<KillSwitch>, AppError> {
        self.switch_store()
            .switches()
            .await
            .map_err(AppError::KillSwitches)
    }

    /// The kill switches in force (cached at most [`SWITCH_CACHE`]). `None` when
    /// they cannot be read: the caller fails safe and offers no suggestion, and
    /// the next call reads again.
    pub async fn kill_switches(&self) -> Option<Vec<KillSwitch>> {
        let mut guard = self.switches.lock().await;
        if let Some((at, s)) = guard.as_ref() {
            if at.elapsed() < SWITCH_CACHE {
                return Some(s.clone());
            }
        }
        match self.read_kill_switches().await {
            Ok(s) => {
                *guard = Some((Instant::now(), s.clone()));
                Some(s)
            }
            Err(e) => {
                *guard = None;
                tracing::warn!(error = %e, "kill switches unreadable: prepared drafts withheld");
                None
            }
        }
    }

    /// The active registry model's review status (None without a promoted model),
    /// cached a minute.
    pub async fn review_status(&self) -> Option<ReviewStatus> {
        let mut guard = self.review.lock().await;
        let fresh = guard.0.is_some_and(|t| t.elapsed() < REVIEW_CACHE);
        if !fresh {
            let dir = self.data_dir.clone().unwrap_or_default();
            let status = match facteur_learn::registry::list(&self.store, &dir, &self.registry)
                .await
                .map_err(AppError::Registry)
            {
                Ok(versions) => versions.into_iter().find_map(|v| v.review),
                Err(e) => {
                    tracing::warn!(error = %e, "review status unavailable");
                    None
                }
            };
            *guard = (Some(Instant::now()), status);
        }
        guard.1.clone()
    }

    /// The rule's inputs, read once. The review is read only when it matters
    /// (strict review), so a non-strict node never scans the registry for it.
    pub async fn rules(&self) -> DraftRules {
        let switches = self.kill_switches().await;
        let review = if self.strict_review {
            self.review_status().await
        } else {
            None
        };
        DraftRules {
            switches,
            review,
            strict_review: self.strict_review,
        }
    }

    /// Whether drafts may be offered for this mailbox and request type now.
    pub async fn suggestions_enabled(&self, mailbox_id: i64, request_type: Option<&str>) -> bool {
        self.rules().await.enabled(mailbox_id, request_type)
    }

    /// Drop both caches: after this node set a switch, promoted, rolled back or
    /// reviewed a model, the next draft must see it at once.
    pub async fn forget(&self) {
        *self.switches.lock().await = None;
        *self.review.lock().await = (None, None);
    }
}

/// True when one of `actions` rejected the draft of triage `tr`. A reject names the
/// triage it refused (its id, recorded by the store), so a re-triage in the same
/// millisecond as a reject is told apart from it. Rejects recorded before the
/// store kept that id fall back to their time: at or after the triage counts as
/// rejecting it (on a tie, hiding a draft is the safe side).
pub fn draft_rejected(
    actions: &[facteur_store::ActionRecord],
    tr: &facteur_store::TriageResult,
) -> bool {
    actions
        .iter()
        .filter(|act| act.kind == AgentActionKind::Reject.as_str())
        .any(|act| match act.triage_id() {
            Some(t) => t == tr.id,
            None => act.at >= tr.created_at,
        })
}

/// The subject as this session may see it: as triage masked it (`stored`, the
/// message's `subject_pseudonymised`) unless the agent revealed the message
/// through the audited action. Before any triage, or for a subject triage never
/// saw (a reply's "Re: …"), the same detector masks it here, the sender's name
/// wherever it recurs.
pub fn shown_subject(
    subject: &str,
    stored: Option<&str>,
    from_name: Option<&str>,
    revealed: bool,
) -> String {
    if revealed {
        return subject.to_string();
    }
    if let Some(masked) = stored {
        return masked.to_string();
    }
    let names: Vec<&str> = from_name
        .filter(|n| !n.trim().is_empty())
        .into_iter()
        .collect();
    facteur_privacy::Detector::new()
        .pseudonymise_with_names(subject, &names)
        .text
}

/// The sender as a list may show it before the audited reveal: the initials of
/// the display name and the address's domain ("J. M. · example.org"). It tells an
/// agent "the same person again" or "a firm, not a citizen" without naming anyone.
pub fn masked_sender(from_name: Option<&str>, from_address: Option<&str>) -> String {
    let initials: Vec<String> = from_name
        .unwrap_or("")
        .split(|c: char| c.is_whitespace() || c == '-' || c == '\'')
        .filter_map(|w| w.chars().find(|c| c.is_alphabetic()))
        .take(3)
        .map(|c| format!("{}.", c.to_uppercase()))
        .collect();
    let domain = from_address
        .and_then(|a| a.rsplit_once('@'))
        .map(|(_, d)| d.trim().trim_end_matches('>').to_lowercase())
        .filter(|d| !d.is_empty());
    match (initials.is_empty(), domain) {
        (false, Some(d)) => format!("{} · {d}", initials.join(" ")),
        (false, None) => initials.join(" "),
        (true, Some(d)) => format!("· {d}"),
        (true, None) => "—".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::Value;

    #[test]
    fn the_subject_shown_is_the_one_triage_masked_until_a_reveal() {
        let raw = "Avis d'impôt de Jean Martin";
        let stored = Some("Avis d'impôt de [NOM_1]");
        // What triage stored is shown as is: no second detector pass per row.
        assert_eq!(
            shown_subject(raw, stored, Some("Jean Martin"), false),
            "Avis d'impôt de [NOM_1]"
        );
        // The audited reveal shows the subject as the citizen wrote it.
        assert_eq!(shown_subject(raw, stored, Some("Jean Martin"), true), raw);
        // Before any triage the same detector masks it, the sender's name included.
        let before = shown_subject(raw, None, Some("Jean Martin"), false);
        assert!(!before.contains("Martin"), "{before}");
        assert!(before.starts_with("Avis d'impôt de ["), "{before}");
    }

    fn triage(id: i64, created_at: i64) -> facteur_store::TriageResult {
        facteur_store::TriageResult {
            id,
            message_id: 1,
            model_version: None,
            category: None,
            confidence: None,
            route: facteur_core::Route::ReadyToValidate,
            answer_id: None,
            answer_version: None,
            draft_text: Some("brouillon".into()),
            passages: Vec::new(),
            candidates: Vec::new(),
            close_suggestion: None,
            created_at,
        }
    }

    fn action(kind: AgentActionKind, at: i64, before: Value) -> facteur_store::ActionRecord {
        facteur_store::ActionRecord {
            id: 1,
            message_id: 1,
            user_id: 1,
            at,
            kind: kind.as_str().into(),
            before,
            after: json!({}),
            model_version: None,
        }
    }

    #[test]
    fn a_reject_hides_the_draft_of_the_triage_it_named_whatever_the_clock() {
        let reject_of_7 = action(AgentActionKind::Reject, 100, json!({"triage_id": 7}));
        // Same millisecond everywhere: only the triage id decides.
        assert!(draft_rejected(
            std::slice::from_ref(&reject_of_7),
            &triage(7, 100)
        ));
        assert!(!draft_rejected(
            std::slice::from_ref(&reject_of_7),
            &triage(8, 100)
        ));
        // Even a triage stamped earlier than the reject (clock stepped back).
        assert!(!draft_rejected(
            std::slice::from_ref(&reject_of_7),
            &triage(8, 50)
        ));
        // Other actions never hide a draft.
        let validate = action(AgentActionKind::ValidateSend, 100, json!({"triage_id": 8}));
        assert!(!draft_rejected(&[validate], &triage(8, 100)));
        // Rejects from before the id was recorded: by time, a tie hides.
        let legacy = action(
            AgentActionKind::Reject,
            100,
            json!({"state": "ready_to_validate"}),
        );
        assert!(draft_rejected(
            std::slice::from_ref(&legacy),
            &triage(8, 100)
        ));
        assert!(!draft_rejected(&[legacy], &triage(8, 101)));
    }

    #[test]
    fn a_sender_is_shown_as_initials_and_domain() {
        assert_eq!(
            masked_sender(Some("Jeanne Martin"), Some("jeanne.martin@Example.org")),
            "J. M. · example.org"
        );
        assert_eq!(
            masked_sender(Some("Marie-Ève d'Artagnan"), Some("m@x.fr")),
            "M. È. D. · x.fr"
        );
        assert_eq!(
            masked_sender(None, Some("anonyme@mail.example")),
            "· mail.example"
        );
        assert_eq!(masked_sender(None, None), "—");
        let shown = masked_sender(Some("Jeanne Martin"), Some("jeanne.martin@example.org"));
        assert!(
            !shown.contains("Jeanne") && !shown.contains("martin@"),
            "{shown}"
        );
    }
}
