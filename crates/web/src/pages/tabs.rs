//! The queue's tabs (which states each shows) and its page cursor: the vocabulary
//! the queue page, the "done" banner and the JSON API share, kept apart so that
//! none of them has to import another's handlers.

use facteur_core::MessageState;
use facteur_store::{QueueCursor, QueuePage};

use crate::error::{WebError, WebResult};
use crate::i18n::Msg;

/// The queue tabs and the states each shows.
pub const TABS: &[(&str, Msg, &[MessageState])] = &[
    ("new", Msg::TabNew, &[MessageState::New]),
    ("ready", Msg::TabReady, &[MessageState::ReadyToValidate]),
    (
        "research",
        Msg::TabResearch,
        &[MessageState::NeedsResearch, MessageState::Abstained],
    ),
    ("escalated", Msg::TabEscalated, &[MessageState::Escalated]),
    // Validated replies wait for the outbox to send them: "sent" means sent, so
    // they have their own tab.
    ("outgoing", Msg::TabOutgoing, &[MessageState::Validated]),
    ("sent", Msg::TabSent, &[MessageState::Sent]),
    // Last, so a message's own tab is found first: the whole mailbox, for
    // searching (closed and automatic mail are only here).
    ("all", Msg::TabAll, MessageState::ALL),
];

/// The states tab `tab` shows; `None` for a tab that does not exist (an edited URL).
pub fn tab_states(tab: &str) -> Option<&'static [MessageState]> {
    TABS.iter().find(|(k, _, _)| *k == tab).map(|(_, _, s)| *s)
}

/// The page a `?after=` cursor names: the first page without one.
pub fn queue_page(after: Option<&str>) -> WebResult<QueuePage> {
    match after.filter(|s| !s.is_empty()) {
        Some(c) => QueueCursor::decode(c)
            .map(QueuePage::After)
            .ok_or_else(|| WebError::bad(Msg::InvalidPageCursor)),
        None => Ok(QueuePage::First),
    }
}
