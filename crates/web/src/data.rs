//! The few store reads that pages and the API share, in one place so a change of
//! store API is a one-line change here.

use facteur_core::MessageState;
use facteur_store::{AnswerVersion, OutboxListing, Store, StoreResult};

/// Messages per state for /metrics (every state, zeros included).
pub async fn messages_by_state(store: &Store) -> StoreResult<Vec<(Option<MessageState>, i64)>> {
    Ok(store
        .count_messages_by_state(None)
        .await?
        .into_iter()
        .map(|(s, n)| (Some(s), n))
        .collect())
}

/// Recent outbox items of these mailboxes (`None` = all), newest first, each
/// with the answered sender's name (to mask it in the subject, as the message
/// page does).
pub async fn outbox_items(
    store: &Store,
    mailbox_ids: Option<Vec<i64>>,
    limit: u32,
) -> StoreResult<Vec<OutboxListing>> {
    store
        .list_outbox_with_senders(mailbox_ids.as_deref(), limit)
        .await
}

/// The latest version of every standard answer, drafts and retired included.
pub async fn all_answers(store: &Store) -> StoreResult<Vec<AnswerVersion>> {
    store.list_answers().await
}
