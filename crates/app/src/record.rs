//! What the store keeps of a triage. One mapping for ingest, retriage after a
//! correction and the test kits: the stored confidence, draft and flags cannot
//! then depend on which entry point triaged the message.

use facteur_store::NewTriage;
use facteur_triage::Triaged;

/// The store's record of triage `t` of message `message_id`, made with the model
/// `model_version`. A triage that never ran the model (automatic mail, an empty
/// body) records no confidence rather than a zero that would read as "unsure".
pub fn triage_record(message_id: i64, model_version: Option<String>, t: &Triaged) -> NewTriage {
    let draft = t.draft.as_ref();
    NewTriage {
        message_id,
        model_version,
        category: t.category.clone(),
        confidence: (!t.top.is_empty()).then_some(t.confidence),
        route: t.route,
        answer_id: draft.map(|d| d.answer_id.clone()),
        answer_version: draft.map(|d| i64::from(d.answer_version)),
        draft_text: draft.map(|d| d.text.clone()),
        passages: t.passages.clone(),
        language: Some(t.language.clone()),
        pseudonymised_text: Some(t.body_pseudonymised.clone()),
        subject_pseudonymised: Some(t.subject_pseudonymised.clone()),
        // What the model read: feedback on this message trains on it.
        classify_text: Some(t.classify_text.clone()),
        pii_kinds: t.pii.clone(),
        flags: t.flags.iter().map(|f| f.code().to_string()).collect(),
        candidates: t.candidates.clone(),
        // A thanks-only mail: the agent confirms the close in one key.
        close_suggestion: t.thanks_only.then_some(facteur_core::CloseReason::Thanks),
        citizen_ids: t.citizen_ids.clone(),
        attachment_texts: t.attachment_texts.clone(),
    }
}
