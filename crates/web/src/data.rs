//! Store calls that are workarounds for store methods not written yet (see
//! /work/notes/store-requests.md). Each is one function so the call site changes
//! in one line when the store grows the real method.

use facteur_core::{AnswerStatus, MessageState};
use facteur_store::{
    AnswerVersion, OutboxItem, QueuePage, QueueQuery, QueueSort, Store, StoreResult,
};

/// Messages per state for /metrics. `None` = every state (only the total is
/// known until the store can count by state).
pub async fn messages_by_state(store: &Store) -> StoreResult<Vec<(Option<MessageState>, i64)>> {
    Ok(vec![(None, store.count_messages(None).await?)])
}

/// Recent outbox items of these mailboxes (`None` = all), newest first.
pub async fn outbox_items(
    store: &Store,
    mailbox_ids: Option<Vec<i64>>,
    limit: u32,
) -> StoreResult<Vec<OutboxItem>> {
    let rows = store
        .list_queue(&QueueQuery {
            mailbox_ids,
            states: vec![MessageState::Validated, MessageState::Sent],
            category: None,
            assigned_to: None,
            sort: QueueSort::Age,
            page: QueuePage::First,
            limit,
        })
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        if let Some(o) = store.get_outbox_for_message(r.id).await? {
            out.push(o);
        }
    }
    out.sort_by_key(|o| std::cmp::Reverse(o.created_at));
    Ok(out)
}

/// The latest version of every standard answer, for the supervisor's list.
pub async fn all_answers(store: &Store) -> StoreResult<Vec<AnswerVersion>> {
    let mut v = store.validated_answers().await?;
    v.retain(|a| a.status != AnswerStatus::Retired);
    v.sort_by(|a, b| {
        a.answer_id
            .cmp(&b.answer_id)
            .then(a.language.cmp(&b.language))
    });
    Ok(v)
}
