//! The application layer: the running [`Service`] (the store, the triage engine,
//! the knowledge base kept in step with the store) and the rules that say what
//! happens to a message, shared by the CLI and the web app so that both apply the
//! same rule. The binary only wires it: config, model file, embedder.
//!
//! The rules: "may a prepared draft be offered" ([`drafts`]: one [`Suggestions`]
//! gate with its kill-switch and review caches, used by triage, the queue, the
//! message page and the API), drafts on a retired answer version ([`stale`]),
//! what the store keeps of a triage ([`record`]), the knowledge base following
//! the store ([`kb_sync`]), and the same citizen writing again ([`followups`]).
#![warn(missing_docs)]

pub mod drafts;
pub mod error;
pub mod followups;
pub mod kb_sync;
pub mod record;
pub mod service;
pub mod stale;

pub use drafts::{
    draft_rejected, masked_sender, shown_subject, DraftRules, Suggestions, SWITCH_CACHE,
};
pub use error::AppError;
pub use followups::{link_repeat, DEFAULT_FOLLOWUP_DAYS};
pub use kb_sync::{answers_of_store_versions, StoreAnswers};
pub use record::triage_record;
pub use service::{KbHit, KbOpener, Service, ServiceParts, ToTriage};
pub use stale::{may_validate, rebuild_stale_drafts, retired_version, RetiredVersion};
