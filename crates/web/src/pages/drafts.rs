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

/// The prepared draft as this session may see it: the same rule as the mail.
/// Drafting fills `{{nom}}` and other variables from the original, so before
/// the audited reveal the draft is pseudonymised like the subject (a bulk read
/// of `/api/messages/ID` harvested citizens' names). Validation puts the real
/// values back ([`unmask_draft`]).
pub(crate) fn shown_draft(draft: &str, from_name: Option<&str>, revealed: bool) -> String {
    shown_subject(draft, from_name, revealed)
}

/// `submitted` (the reply an agent validates, typed over the masked draft) with
/// each placeholder of the masked `original_draft` replaced by the value it
/// hid there, so the citizen receives their real name. Placeholders the
/// original did not have stay as typed (the reply check then refuses any
/// bracketed marker the agent left).
pub(crate) fn unmask_draft(
    submitted: &str,
    original_draft: &str,
    from_name: Option<&str>,
) -> String {
    if !submitted.contains('[') {
        return submitted.to_string();
    }
    let names: Vec<&str> = from_name
        .filter(|n| !n.trim().is_empty())
        .into_iter()
        .collect();
    let spans = facteur_privacy::Detector::new().detect_with_names(original_draft, &names);
    let mut out = submitted.to_string();
    // Longest placeholders first: [NOM_12] before [NOM_1].
    let mut pairs: Vec<(&str, &str)> = spans
        .iter()
        .filter_map(|s| Some((s.placeholder.as_str(), original_draft.get(s.start..s.end)?)))
        .collect();
    pairs.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    pairs.dedup_by_key(|(p, _)| *p);
    for (placeholder, value) in pairs {
        out = out.replace(placeholder, value);
    }
    out
}

/// A relay's error as agents see it: SMTP servers quote the recipient
/// ("550 5.1.1 <jeanne.martin@example.org>: user unknown"), which is personal
/// data outside any reveal; addresses and other detected values are masked.
pub(crate) fn shown_relay_error(error: &str) -> String {
    facteur_privacy::Detector::new().pseudonymise(error).text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_draft_is_masked_until_the_reveal_and_validated_with_the_real_values() {
        let draft =
            "Bonjour Madame Jeanne Martin,\nvotre numéro fiscal 1234567890123 est bien enregistré.";
        let shown = shown_draft(draft, Some("Jeanne Martin"), false);
        assert!(!shown.contains("Martin"), "{shown}");
        assert!(!shown.contains("1234567890123") || !shown.contains("Martin"));
        assert_eq!(shown_draft(draft, Some("Jeanne Martin"), true), draft);
        let edited = format!("{shown}\nCordialement");
        let sent = unmask_draft(&edited, draft, Some("Jeanne Martin"));
        assert_eq!(sent, format!("{draft}\nCordialement"));
        assert_eq!(
            unmask_draft("Pas de marque.", draft, None),
            "Pas de marque."
        );
        let e =
            shown_relay_error("550 5.1.1 <jeanne.martin@example.org>: Recipient address rejected");
        assert!(!e.contains("jeanne.martin"), "{e}");
        assert!(e.contains("550 5.1.1"), "{e}");
    }
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
