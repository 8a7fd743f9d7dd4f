//! Store access: reads messages, triage results and agent actions and turns them
//! into the pure modules' inputs. Kept apart so everything else tests without a
//! database.
//!
//! The store has no bulk "actions since" query yet (requested in
//! notes/store-requests.md), so this walks the messages with keyset paging and
//! reads each one's rows: N+1 queries, fine for a nightly retraining or a weekly
//! dashboard, to be replaced by one query when the store offers it.

use facteur_core::{AgentActionKind, MessageState};
use facteur_store::{Millis, QueuePage, QueueQuery, QueueRow, Store};

use crate::drift::{edit_distance, Observation, Vocabulary};
use crate::feedback::{examples_from_actions, FeedbackExample, MessageFeedback};
use crate::LearnResult;

/// Every message (all states), optionally received at or after `since`.
async fn all_messages(store: &Store, since: Option<Millis>) -> LearnResult<Vec<QueueRow>> {
    let mut out = Vec::new();
    let mut page = QueuePage::First;
    loop {
        let rows = store
            .list_queue(&QueueQuery {
                mailbox_ids: None,
                states: MessageState::ALL.to_vec(),
                limit: 500,
                page,
                ..Default::default()
            })
            .await?;
        let Some(last) = rows.last() else { break };
        page = QueuePage::After(last.cursor);
        let n = rows.len();
        out.extend(
            rows.into_iter()
                .filter(|r| since.is_none_or(|s| r.received_at >= s)),
        );
        if n < 500 {
            break;
        }
    }
    Ok(out)
}

/// Every labelled example agents produced, with provenance, from the text the
/// classifier read for each message ([`facteur_store::Message::training_text`]:
/// subject and new text with personal data removed, the very input of the live
/// model), or the pseudonymised body for messages triaged before that text was
/// recorded.
pub async fn collect_feedback(store: &Store) -> LearnResult<Vec<FeedbackExample>> {
    let mut out = Vec::new();
    for row in all_messages(store, None).await? {
        let actions = store.list_actions(row.id).await?;
        if actions.is_empty() {
            continue;
        }
        let Some(m) = store.get_message(row.id).await? else {
            continue;
        };
        out.extend(examples_from_actions(MessageFeedback {
            message_id: m.id,
            mailbox_id: m.mailbox_id,
            pseudonymised_text: m.training_text(),
            actions: &actions,
        }));
    }
    tracing::info!(examples = out.len(), "feedback collected");
    Ok(out)
}

/// What the model said of a message: (top label, confidence, abstained).
///
/// After a category correction the service re-triages the message with the
/// agent's type (confidence 1, never abstaining) so that the draft follows the
/// agent. Taking that latest triage as the model's prediction would count every
/// correction as a confident right answer and hide the very drift the
/// corrections reveal. The store keeps only the latest triage, so the model's
/// label is the category the first correction replaced (its `before`), the state
/// the first action found tells whether it abstained, and the confidence is
/// unknown.
fn model_prediction(
    t: &facteur_store::TriageResult,
    actions: &[facteur_store::ActionRecord],
) -> (Option<String>, Option<f32>, bool) {
    let first_correction = actions
        .iter()
        .find(|a| a.kind == AgentActionKind::CorrectCategory.as_str());
    match first_correction {
        Some(c) if t.created_at >= c.at => {
            let label = c
                .before
                .get("category")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            let abstained = actions
                .first()
                .and_then(|a| a.before.get("state"))
                .and_then(|s| s.as_str())
                == Some(MessageState::Abstained.as_str());
            (label, None, abstained)
        }
        _ => (
            t.category.clone(),
            t.confidence,
            t.route == facteur_core::Route::Abstain,
        ),
    }
}

/// Drift observations of messages received since `since`: the latest triage,
/// OOV against the active model's vocabulary, and what agents did with drafts.
pub async fn collect_observations(
    store: &Store,
    vocab: Option<&Vocabulary>,
    since: Option<Millis>,
) -> LearnResult<Vec<Observation>> {
    let mut out = Vec::new();
    for row in all_messages(store, since).await? {
        let Some(t) = store.latest_triage(row.id).await? else {
            continue;
        };
        let actions = store.list_actions(row.id).await?;
        let (oov_tokens, tokens) = match (vocab, store.get_message(row.id).await?) {
            // Unseen words of what the model was given, not of the body alone.
            (Some(v), Some(m)) => v.oov_counts(m.training_text()),
            _ => (0, 0),
        };
        let draft_shown = t.draft_text.is_some();
        let validated_at = actions
            .iter()
            .find(|a| a.kind == AgentActionKind::ValidateSend.as_str())
            .map(|a| a.at);
        let sent_edit_distance = match (&t.draft_text, validated_at) {
            (Some(d), Some(_)) => store
                .get_outbox_for_message(row.id)
                .await?
                .map(|o| edit_distance(d, &o.body)),
            _ => None,
        };
        let (predicted, confidence, abstained) = model_prediction(&t, &actions);
        out.push(Observation {
            mailbox_id: row.mailbox_id,
            at: row.received_at,
            predicted,
            confidence,
            abstained,
            oov_tokens,
            tokens,
            draft_shown,
            sent_edit_distance,
            corrected: actions
                .iter()
                .any(|a| a.kind == AgentActionKind::CorrectCategory.as_str()),
            // The store records no "opened" event yet (requested).
            opened_at: None,
            validated_at,
            // The store keeps the latest triage only: after a category correction
            // this is the version that re-triaged the message, the one active then.
            model_version: t.model_version.clone(),
        });
    }
    Ok(out)
}
