//! The application layer: the rules that say what happens to a message, shared by
//! the CLI's triage and the web app so that both apply the same rule.
//!
//! Today it holds the rule "may a prepared draft be offered" ([`drafts`]): one
//! [`Suggestions`] gate, with its kill-switch and review caches, used by triage,
//! the queue, the message page and the API. And the same citizen writing again
//! ([`followups`]): which message repeats an open one.
#![warn(missing_docs)]

pub mod drafts;
pub mod error;
pub mod followups;
pub mod record;
pub mod stale;

pub use drafts::{
    draft_rejected, masked_sender, shown_subject, DraftRules, Suggestions, SWITCH_CACHE,
};
pub use error::AppError;
pub use followups::{link_repeat, DEFAULT_FOLLOWUP_DAYS};
pub use record::triage_record;
pub use stale::{may_validate, rebuild_stale_drafts, retired_version, RetiredVersion};
