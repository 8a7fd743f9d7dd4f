//! Agent actions as labelled data. Pure: the store hands over a message's
//! pseudonymised text and its action rows; this module decides what each action
//! says about the label, and keeps who/when/which model as provenance so a
//! supervisor can audit or exclude any example.

use std::collections::{BTreeMap, HashSet};

use facteur_classify::Example;
use facteur_core::{AgentActionKind, RejectReason};
use facteur_store::{ActionRecord, Millis};
use serde::{Deserialize, Serialize};

/// What an action tells about the request type of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "label", rename_all = "snake_case")]
pub enum Evidence {
    /// The message is of this type (validated draft, or corrected category).
    Is(String),
    /// The message is NOT of this type (draft rejected as "wrong type"). Kept as
    /// data and for dashboards; the classifier trains on positives only, so such
    /// a message never becomes a positive example for the rejected class.
    IsNot(String),
}

/// Who said it, when, and what the model had suggested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub action_id: i64,
    pub action: AgentActionKind,
    pub user_id: i64,
    pub at: Millis,
    pub model_version: Option<String>,
    /// The category shown to the agent before the action.
    pub suggested: Option<String>,
}

/// One labelled example. `text` is what the classifier read for the message
/// (subject and new text with personal data removed, see
/// `facteur_triage::classify_text`), so the model learns from the input it is
/// given live; the raw mail never enters the training store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackExample {
    /// The action id: stable key for exclusion.
    pub id: i64,
    pub message_id: i64,
    pub mailbox_id: i64,
    pub text: String,
    pub evidence: Evidence,
    pub provenance: Provenance,
}

/// A message with what the store knows of it, as the pure extraction needs it.
#[derive(Debug, Clone, Copy)]
pub struct MessageFeedback<'a> {
    pub message_id: i64,
    pub mailbox_id: i64,
    /// The text to learn from: pass [`facteur_store::Message::training_text`]
    /// (what the classifier read, or the pseudonymised body of messages triaged
    /// before it was recorded), never the raw mail.
    pub pseudonymised_text: &'a str,
    /// Actions in the order they happened.
    pub actions: &'a [ActionRecord],
}

fn json_str(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(|x| x.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Turn a message's actions into examples. Assign, escalate, edit and PII reveal
/// say nothing about the type; rejections other than "wrong type" (outdated
/// answer, tone, needs research…) criticise the answer, not the category.
pub fn examples_from_actions(m: MessageFeedback<'_>) -> Vec<FeedbackExample> {
    if m.pseudonymised_text.trim().is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for a in m.actions {
        let Some(kind) = AgentActionKind::parse(&a.kind) else {
            continue;
        };
        let suggested = json_str(&a.before, "category");
        let evidence = match kind {
            AgentActionKind::ValidateSend | AgentActionKind::CorrectCategory => {
                json_str(&a.after, "category").map(Evidence::Is)
            }
            AgentActionKind::Reject => {
                let reason = a
                    .after
                    .get("reason")
                    .and_then(|r| r.as_str())
                    .and_then(RejectReason::parse);
                match (reason, &suggested) {
                    (Some(RejectReason::WrongType), Some(s)) => Some(Evidence::IsNot(s.clone())),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(evidence) = evidence {
            out.push(FeedbackExample {
                id: a.id,
                message_id: m.message_id,
                mailbox_id: m.mailbox_id,
                text: m.pseudonymised_text.to_string(),
                evidence,
                provenance: Provenance {
                    action_id: a.id,
                    action: kind,
                    user_id: a.user_id,
                    at: a.at,
                    model_version: a.model_version.clone(),
                    suggested,
                },
            });
        }
    }
    out
}

/// The training examples that feedback yields: per message, the latest
/// non-excluded evidence decides (a correction after a validation wins; a later
/// "wrong type" rejection of the same label withdraws it; a later validation
/// that merely carries the rejected label does not restore it). Excluded examples are
/// ignored entirely, as if the action had not happened.
pub fn training_examples(examples: &[FeedbackExample], excluded: &HashSet<i64>) -> Vec<Example> {
    let mut latest: BTreeMap<i64, &FeedbackExample> = BTreeMap::new();
    let mut ordered: Vec<&FeedbackExample> = examples
        .iter()
        .filter(|e| !excluded.contains(&e.id))
        .collect();
    ordered.sort_by_key(|e| (e.message_id, e.provenance.at, e.id));
    for e in ordered {
        match (&e.evidence, latest.get(&e.message_id).map(|x| &x.evidence)) {
            (Evidence::IsNot(no), Some(Evidence::Is(yes))) if no != yes => {}
            // Sending after a "wrong type" rejection without correcting the
            // category: the store copies the message's (rejected) category into
            // the validation, which says nothing new. Only a correction undoes a
            // rejection.
            (Evidence::Is(yes), Some(Evidence::IsNot(no)))
                if yes == no && e.provenance.action == AgentActionKind::ValidateSend => {}
            _ => {
                latest.insert(e.message_id, e);
            }
        }
    }
    latest
        .values()
        .filter_map(|e| match &e.evidence {
            Evidence::Is(label) => Some(Example {
                text: e.text.clone(),
                label: label.clone(),
            }),
            Evidence::IsNot(_) => None,
        })
        .collect()
}

/// Merge base data and feedback. Feedback wins on the same text: an agent's
/// correction is more authoritative than the seed data it contradicts.
pub fn merge_training(base: &[Example], feedback: &[Example]) -> Vec<Example> {
    let fb: std::collections::HashMap<&str, &Example> =
        feedback.iter().map(|e| (e.text.trim(), e)).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(base.len() + feedback.len());
    for e in base.iter().chain(feedback.iter()) {
        let key = e.text.trim();
        if key.is_empty() || !seen.insert(key.to_string()) {
            continue;
        }
        out.push(
            fb.get(key)
                .map(|f| (*f).clone())
                .unwrap_or_else(|| e.clone()),
        );
    }
    out
}

/// Where supervisors' exclusions live: [`crate::controls::StoreExclusions`], in
/// the database, so a model trained on any node leaves the same examples out.
#[allow(async_fn_in_trait)]
pub trait ExclusionStore {
    async fn excluded(&self) -> crate::LearnResult<HashSet<i64>>;
    /// Exclude an example (by its id, the agent action's id). Returns false when
    /// it was already excluded (the first exclusion is kept).
    async fn exclude(&self, example_id: i64, by: i64, reason: &str) -> crate::LearnResult<bool>;
}

/// The JSON-lines file `{"id","by","at","reason"}` older versions kept the
/// exclusions in, under one node's data directory. Only read now, by the
/// one-time import into the store ([`crate::controls::import_legacy`]).
#[derive(Debug, Clone)]
pub struct FileExclusions {
    pub path: std::path::PathBuf,
}

/// One line of the legacy exclusions file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExclusionLine {
    pub id: i64,
    pub by: i64,
    pub at: i64,
    pub reason: String,
}

impl FileExclusions {
    pub fn in_data_dir(data_dir: &std::path::Path) -> Self {
        Self {
            path: data_dir.join("learn").join("exclusions.jsonl"),
        }
    }

    /// Every line of the file; empty when there is no file.
    pub fn read(&self) -> crate::LearnResult<Vec<ExclusionLine>> {
        let raw = match std::fs::read_to_string(&self.path) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(crate::error::io_err("read", &self.path)(e)),
        };
        let mut out = Vec::new();
        for (i, line) in raw.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let l: ExclusionLine =
                serde_json::from_str(line).map_err(|e| crate::LearnError::BadFile {
                    path: self.path.clone(),
                    detail: format!("line {}: {e}", i + 1),
                })?;
            out.push(l);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action(
        id: i64,
        at: i64,
        kind: &str,
        before: &str,
        after: serde_json::Value,
    ) -> ActionRecord {
        ActionRecord {
            id,
            message_id: 1,
            user_id: 7,
            at,
            kind: kind.into(),
            before: json!({ "category": before }),
            after,
            model_version: Some("v1".into()),
        }
    }

    fn msg(actions: &[ActionRecord]) -> Vec<FeedbackExample> {
        examples_from_actions(MessageFeedback {
            message_id: 1,
            mailbox_id: 2,
            pseudonymised_text: "Bonjour [NOM_1], mon RIB a changé",
            actions,
        })
    }

    #[test]
    fn validation_confirms_and_correction_relabels() {
        let ex = msg(&[
            action(1, 10, "correct_category", "a", json!({"category": "b"})),
            action(
                2,
                20,
                "validate_send",
                "b",
                json!({"category": "b", "edited": false}),
            ),
        ]);
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].evidence, Evidence::Is("b".into()));
        assert_eq!(ex[0].provenance.suggested.as_deref(), Some("a"));
        assert_eq!(ex[0].provenance.model_version.as_deref(), Some("v1"));
        assert_eq!(ex[0].provenance.user_id, 7);
        let train = training_examples(&ex, &HashSet::new());
        assert_eq!(train.len(), 1);
        assert_eq!(train[0].label, "b");
        assert!(train[0].text.contains("[NOM_1]"));
    }

    #[test]
    fn wrong_type_is_negative_evidence_other_reasons_are_none() {
        let ex = msg(&[action(
            1,
            10,
            "reject",
            "a",
            json!({"reason": "wrong_type"}),
        )]);
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].evidence, Evidence::IsNot("a".into()));
        assert!(training_examples(&ex, &HashSet::new()).is_empty());
        for reason in ["outdated_answer", "tone", "needs_research", "other"] {
            let ex = msg(&[action(1, 10, "reject", "a", json!({ "reason": reason }))]);
            assert!(ex.is_empty(), "{reason}");
        }
        // assign / escalate / reveal carry no label
        let ex = msg(&[
            action(1, 10, "assign", "a", json!({"category": "a"})),
            action(2, 11, "escalate", "a", json!({"category": "a"})),
            action(3, 12, "reveal_pii", "a", json!({"category": "a"})),
        ]);
        assert!(ex.is_empty());
    }

    #[test]
    fn later_rejection_withdraws_a_positive_and_exclusion_removes_it() {
        let ex = msg(&[
            action(1, 10, "validate_send", "a", json!({"category": "a"})),
            action(2, 20, "reject", "a", json!({"reason": "wrong_type"})),
        ]);
        assert!(training_examples(&ex, &HashSet::new()).is_empty());
        let ex = msg(&[action(
            5,
            10,
            "correct_category",
            "a",
            json!({"category": "c"}),
        )]);
        assert_eq!(training_examples(&ex, &HashSet::new()).len(), 1);
        assert!(training_examples(&ex, &HashSet::from([5])).is_empty());
    }

    /// A draft rejected as "wrong type", then a reply written by hand and sent
    /// without correcting the category: the validation carries the category the
    /// agent just rejected (the store copies the message's category), so it must
    /// not turn the rejected type back into a positive example.
    #[test]
    fn sending_a_hand_written_reply_after_a_wrong_type_rejection_confirms_nothing() {
        let ex = msg(&[
            action(1, 10, "reject", "a", json!({"reason": "wrong_type"})),
            action(
                2,
                20,
                "validate_send",
                "a",
                json!({"category": "a", "edited": true}),
            ),
        ]);
        assert!(training_examples(&ex, &HashSet::new()).is_empty());
        // An explicit correction still decides, before or after the sending.
        let ex = msg(&[
            action(1, 10, "reject", "a", json!({"reason": "wrong_type"})),
            action(2, 15, "correct_category", "a", json!({"category": "b"})),
            action(3, 20, "validate_send", "b", json!({"category": "b"})),
        ]);
        let t = training_examples(&ex, &HashSet::new());
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].label, "b");
        let ex = msg(&[
            action(1, 10, "reject", "a", json!({"reason": "wrong_type"})),
            action(2, 20, "correct_category", "a", json!({"category": "a"})),
        ]);
        assert_eq!(training_examples(&ex, &HashSet::new()).len(), 1);
    }

    #[test]
    fn feedback_overrides_base_on_same_text() {
        let base = vec![
            Example {
                text: "x".into(),
                label: "a".into(),
            },
            Example {
                text: "y".into(),
                label: "a".into(),
            },
        ];
        let fb = vec![Example {
            text: " x ".into(),
            label: "b".into(),
        }];
        let m = merge_training(&base, &fb);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].label, "b");
    }

    #[test]
    fn legacy_exclusions_file_is_read_line_by_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = FileExclusions::in_data_dir(dir.path());
        assert!(f.read().expect("no file").is_empty());
        std::fs::create_dir_all(dir.path().join("learn")).expect("mkdir");
        std::fs::write(
            &f.path,
            "{\"id\":3,\"by\":1,\"at\":10,\"reason\":\"duplicate\"}\n\n{\"id\":9,\"by\":1,\"at\":11,\"reason\":\"spam\"}\n",
        )
        .expect("write");
        let lines = f.read().expect("read");
        assert_eq!(lines.iter().map(|l| l.id).collect::<Vec<_>>(), vec![3, 9]);
        std::fs::write(&f.path, "{\"id\":3}\n").expect("write");
        let err = f.read().unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
