//! The rules that decide whether a prepared draft may be offered to an agent
//! (kill switches, an earlier reject) and how a subject is shown before a reveal.

use facteur_core::AgentActionKind;

use crate::AppState;

/// The kill switches in force, read once per request (a queue page checks every
/// row against the same list). `None`: they could not be read, which withdraws
/// every prepared draft, failing safe like triage.
pub(crate) async fn load_switches(st: &AppState) -> Option<Vec<facteur_learn::KillSwitch>> {
    use facteur_learn::review::SwitchStore;
    match crate::pages::registry::switch_store(st).switches().await {
        Ok(sw) => Some(sw),
        Err(e) => {
            tracing::warn!(error = %e, "kill switches unreadable: prepared drafts withheld");
            None
        }
    }
}

/// Whether a kill switch in force covers this mailbox or the request type a draft
/// was prepared for: the supervisor stopped that suggestion, so no agent (page,
/// queue or API) should be handed it.
pub(crate) fn draft_withdrawn(
    switches: Option<&[facteur_learn::KillSwitch]>,
    mailbox_id: i64,
    request_type: Option<&str>,
) -> bool {
    match switches {
        Some(sw) => {
            !facteur_learn::review::suggestions_enabled(mailbox_id, request_type, sw, None, false)
        }
        None => true,
    }
}

/// True when one of `actions` rejected the draft of triage `tr`. A reject names the
/// triage it refused (its id, recorded by the store), so a re-triage in the same
/// millisecond as a reject is told apart from it. Rejects recorded before the
/// store kept that id fall back to their time: at or after the triage counts as
/// rejecting it (on a tie, hiding a draft is the safe side).
pub(crate) fn draft_rejected(
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

/// The subject as this session may see it: pseudonymised with the pipeline's
/// detector (the sender's name masked wherever it recurs, as triage does for the
/// body) unless the agent revealed the message through the audited action.
pub(crate) fn shown_subject(subject: &str, from_name: Option<&str>, revealed: bool) -> String {
    if revealed {
        return subject.to_string();
    }
    let names: Vec<&str> = from_name
        .filter(|n| !n.trim().is_empty())
        .into_iter()
        .collect();
    facteur_privacy::Detector::new()
        .pseudonymise_with_names(subject, &names)
        .text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::Value;

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
            passages: json!([]),
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
}
