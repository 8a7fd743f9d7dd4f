//! Facteur's domain: the types every other crate speaks, and the pure policies
//! (routing, review dates) that decide what happens to a message.
//!
//! This crate does no I/O on purpose: it can be reasoned about and tested alone,
//! and every adapter (mail, store, web, connectors) depends on it, never the reverse.
#![warn(missing_docs)]

pub mod automatic;
pub mod evidence;
pub mod mail;
pub mod pii;
pub mod prediction;
pub mod reply;
pub mod routing;
pub mod workflow;

pub use automatic::{Automatic, AutomaticKind, AutomaticSignal, BounceFormat, BounceReport};
pub use evidence::{DocKind, Hit, Passage};
pub use mail::{
    AttachmentMeta, AttachmentText, Defect, DefectKind, ExtractFailure, ExtractMethod, Language,
    MailAddress, MailSummary, ParsedMail, Segment, SegmentKind,
};
pub use pii::{PiiKind, PiiSpan, Pseudonymised};
pub use prediction::{Candidate, Prediction, ScoredLabel};
pub use routing::{route, route_mail, Route, RoutingPolicy};
pub use workflow::{
    AgentAction, AgentActionKind, AnswerStatus, CloseReason, EscalationReason, MessageState,
    ModelStatus, OutboxState, RejectReason, Role,
};
