//! The same citizen again. A follow-up (a new question, or "any news?") joins
//! the citizen's history on the message page; a repeat of an open request (the
//! same question sent again before it was answered) is marked a duplicate, so
//! answering one closes the others instead of sending the citizen the same reply
//! three times.
//!
//! The store links messages by keyed hashes of the sender's address and the fiscal
//! numbers quoted ([`facteur_store::Store::same_citizen`]); this module decides what
//! counts as the same request.

use std::collections::HashSet;

use facteur_store::{CitizenMessage, Store};
use facteur_triage::Triaged;

use crate::AppError;

/// The default window in which messages of one citizen are linked: a month
/// covers a reminder and the answer to it, not last year's return.
pub const DEFAULT_FOLLOWUP_DAYS: u32 = 30;

/// Word-set similarity from which a message repeats an open one. Set before the
/// corpus of `tests/fixtures/followups/` was written, not fitted on it: a resend
/// keeps most words ("je relance", "toujours pas"), a follow-up on the same file
/// shares the topic but not the sentence. On that corpus: repeats 0.76 and
/// more, follow-ups 0.22 at most (`cargo test -p facteur-app --test followups`).
pub const DUPLICATE_SIMILARITY: f32 = 0.5;

/// Milliseconds in `days` days.
pub fn window_ms(days: u32) -> i64 {
    i64::from(days) * 24 * 3_600_000
}

/// Jaccard similarity of the two texts' word sets (lower-case runs of letters
/// and digits, two characters or more; placeholders such as `[NOM_1]` count as
/// words). Why words rather than an embedding: a repeat is the same sentence
/// again, and the rule must be explainable to the agent ("mêmes mots").
pub fn text_similarity(a: &str, b: &str) -> f32 {
    let words = |t: &str| -> HashSet<String> {
        t.split(|c: char| !c.is_alphanumeric() && c != '_')
            .filter(|w| w.chars().count() >= 2)
            .map(str::to_lowercase)
            .collect()
    };
    let (wa, wb) = (words(a), words(b));
    if wa.is_empty() || wb.is_empty() {
        return 0.0;
    }
    let inter = wa.intersection(&wb).count();
    let union = wa.len() + wb.len() - inter;
    inter as f32 / union as f32
}

/// The open message `text` repeats among `others` (the same citizen's, oldest
/// first): the most similar earlier open one at or above
/// [`DUPLICATE_SIMILARITY`], followed to the first of its own repeats.
pub fn repeated_message(text: &str, received_at: i64, others: &[CitizenMessage]) -> Option<i64> {
    let best = others
        .iter()
        .filter(|o| o.state.is_open() && o.received_at <= received_at)
        .map(|o| (o, text_similarity(text, &o.pseudonymised_text)))
        .filter(|(_, s)| *s >= DUPLICATE_SIMILARITY)
        .max_by(|a, b| a.1.total_cmp(&b.1))?
        .0;
    // A third copy points at the first, so answering the first closes all.
    let root = best
        .duplicate_of
        .filter(|r| others.iter().any(|o| o.id == *r && o.state.is_open()))
        .unwrap_or(best.id);
    Some(root)
}

/// After triage `t` of message `message_id`: marks it a duplicate when it
/// repeats an open message of the same citizen within `followup_days`. Automatic
/// and thanks-only mail repeat nothing. Returns the message it repeats.
pub async fn link_repeat(
    store: &Store,
    message_id: i64,
    t: &Triaged,
    followup_days: u32,
) -> Result<Option<i64>, AppError> {
    if t.automatic.is_some() || t.thanks_only || t.citizen_ids.is_empty() {
        return Ok(None);
    }
    // Most mail is a citizen's only message of the month: one query says so.
    let others = store
        .same_citizen(message_id, window_ms(followup_days))
        .await?;
    if others.is_empty() {
        return Ok(None);
    }
    let Some(m) = store.get_message(message_id).await? else {
        return Ok(None);
    };
    let Some(of) = repeated_message(&m.pseudonymised_text, m.received_at, &others) else {
        return Ok(None);
    };
    if m.duplicate_of != Some(of) {
        store.mark_duplicate(message_id, of).await?;
    }
    Ok(Some(of))
}

#[cfg(test)]
mod tests {
    use super::*;
    use facteur_core::MessageState;

    fn other(id: i64, at: i64, state: MessageState, text: &str) -> CitizenMessage {
        CitizenMessage {
            id,
            mailbox_id: 1,
            received_at: at,
            state,
            category: None,
            subject: String::new(),
            subject_pseudonymised: None,
            from_name: None,
            pseudonymised_text: text.into(),
            duplicate_of: None,
            reply: None,
        }
    }

    const ASK: &str = "Bonjour, je n'ai pas reçu mon avis d'impôt 2024, pouvez-vous me l'envoyer ?";
    const AGAIN: &str =
        "Bonjour, je relance : je n'ai toujours pas reçu mon avis d'impôt 2024, pouvez-vous me l'envoyer ?";
    const OTHER: &str =
        "Bonjour, je souhaite changer mes coordonnées bancaires pour le prélèvement.";

    #[test]
    fn a_resend_is_similar_and_another_question_is_not() {
        assert!(text_similarity(ASK, AGAIN) >= DUPLICATE_SIMILARITY);
        assert!(text_similarity(ASK, OTHER) < DUPLICATE_SIMILARITY);
        assert_eq!(text_similarity("", ASK), 0.0);
        assert_eq!(text_similarity(ASK, ASK), 1.0);
    }

    #[test]
    fn only_an_earlier_open_message_is_repeated_and_copies_point_at_the_first() {
        let open = other(1, 10, MessageState::ReadyToValidate, ASK);
        let answered = other(2, 20, MessageState::Sent, ASK);
        assert_eq!(
            repeated_message(AGAIN, 30, std::slice::from_ref(&open)),
            Some(1)
        );
        // Answered already: the new one is a follow-up, not a repeat.
        assert_eq!(repeated_message(AGAIN, 30, &[answered]), None);
        // A later message is not what this one repeats.
        assert_eq!(
            repeated_message(AGAIN, 5, std::slice::from_ref(&open)),
            None
        );
        assert_eq!(
            repeated_message(OTHER, 30, std::slice::from_ref(&open)),
            None
        );
        let mut second = other(3, 20, MessageState::NeedsResearch, AGAIN);
        second.duplicate_of = Some(1);
        assert_eq!(repeated_message(AGAIN, 30, &[open, second]), Some(1));
    }
}
