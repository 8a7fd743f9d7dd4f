//! The human workflow around a message: who may act, the states a message moves
//! through, what an agent did, and where a validated reply is in the outbox.
//!
//! Kept here (pure, no I/O) so the store, the web app and the sender agree on one
//! vocabulary, and the names stored in the database are the serde names below.

use serde::{Deserialize, Serialize};

use crate::routing::Route;

/// Declares a string-coded enum: serde name == database value == `as_str()`.
macro_rules! coded_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $code)] $variant),+
        }

        impl $name {
            /// Every variant, for listings and exhaustive tests.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code stored in the database and shown in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Parse a stored code; `None` for anything unknown.
            pub fn parse(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

coded_enum! {
    /// What a user may do. Ordered by power: an admin can do what a supervisor can.
    Role {
        /// Works through the queues of the mailboxes they are given.
        Agent => "agent",
        /// Manages standard answers and model versions; sees every mailbox.
        Supervisor => "supervisor",
        /// Manages mailboxes, accounts, taxonomy and retention.
        Admin => "admin",
    }
}

impl Role {
    /// Supervisors and admins see every mailbox; agents only those assigned.
    pub fn sees_all_mailboxes(self) -> bool {
        matches!(self, Role::Supervisor | Role::Admin)
    }
}

coded_enum! {
    /// Where a message is in its life. The first five are "open" (in a queue).
    MessageState {
        /// Stored, not triaged yet.
        New => "new",
        /// A draft is ready for an agent.
        ReadyToValidate => "ready_to_validate",
        /// A person must research the case; no draft.
        NeedsResearch => "needs_research",
        /// Sensitive: complaint, deadline, distress, threat.
        Escalated => "escalated",
        /// The model was unsure and offered nothing.
        Abstained => "abstained",
        /// An agent validated a reply; it is in the outbox.
        Validated => "validated",
        /// The reply left through SMTP.
        Sent => "sent",
        /// Closed without a reply (spam, duplicate, handled elsewhere).
        Closed => "closed",
        /// Written by a machine (auto-reply, bounce): "automatique — pas de
        /// réponse". Not in the work queues, and no draft is ever offered.
        Automatic => "automatic",
    }
}

impl MessageState {
    /// Open states are the ones that appear in work queues.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            MessageState::New
                | MessageState::ReadyToValidate
                | MessageState::NeedsResearch
                | MessageState::Escalated
                | MessageState::Abstained
        )
    }
}

impl From<Route> for MessageState {
    fn from(r: Route) -> Self {
        match r {
            Route::ReadyToValidate => MessageState::ReadyToValidate,
            Route::NeedsResearch => MessageState::NeedsResearch,
            Route::Escalate => MessageState::Escalated,
            Route::Abstain => MessageState::Abstained,
            Route::Automatic => MessageState::Automatic,
        }
    }
}

coded_enum! {
    /// Why an agent rejected a draft: the tag feeds retraining and dashboards.
    RejectReason {
        /// The model picked the wrong request type ("Mauvais type de demande").
        WrongType => "wrong_type",
        /// The standard answer no longer matches the rules in force.
        OutdatedAnswer => "outdated_answer",
        /// The case needs personal research a standard answer cannot give.
        NeedsResearch => "needs_research",
        /// The content was right but the wording did not suit the citizen.
        Tone => "tone",
        /// Any other reason.
        Other => "other",
    }
}

coded_enum! {
    /// Why an agent escalated a message: shown to whoever picks it up, and counted
    /// on supervision. Codes only: a free-text reason could carry personal data.
    EscalationReason {
        /// Needs research into the citizen's own file, payment or situation.
        PersonalResearch => "personal_research",
        /// A complaint or dispute ("réclamation ou contestation").
        Complaint => "complaint",
        /// A legal question or litigation.
        Legal => "legal",
        /// Belongs to another service.
        OtherService => "other_service",
        /// Any other reason.
        Other => "other",
    }
}

coded_enum! {
    /// The kind of an agent action, as stored in `agent_actions.kind`.
    AgentActionKind {
        /// An agent validated a reply and queued it in the outbox.
        ValidateSend => "validate_send",
        /// An agent edited the draft text; declared but not recorded by the store today.
        Edit => "edit",
        /// An agent set the right request type: training data for the next model.
        CorrectCategory => "correct_category",
        /// An agent rejected the draft; the message went to `needs_research`.
        Reject => "reject",
        /// The message was assigned to a user who may access its mailbox.
        Assign => "assign",
        /// An agent escalated the message, with an `EscalationReason`.
        Escalate => "escalate",
        /// An agent unmasked the personal data of the message.
        RevealPii => "reveal_pii",
        /// An agent took back a validated reply during its send delay.
        UndoSend => "undo_send",
        /// An agent closed the message without a reply, with a `CloseReason`.
        Close => "close",
    }
}

coded_enum! {
    /// Why a message was closed without a reply. Codes only, like escalation
    /// reasons: counted on supervision, and no free text that could carry
    /// personal data.
    CloseReason {
        /// The citizen only thanks or closes the conversation ("merci, c'est
        /// parfait"): triage suggests it, an agent confirms.
        Thanks => "thanks",
        /// The same request as another message of the same citizen, answered
        /// with that one's reply.
        Duplicate => "duplicate",
        /// Already handled through another channel (phone, counter, letter).
        AnsweredElsewhere => "answered_elsewhere",
        /// Unsolicited mail: advertising, phishing, nothing for the service.
        Spam => "spam",
    }
}

/// What an agent did to a message, with the payload each kind needs. Free text
/// (edited reply, notes) never goes into the audit log, only into the action row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgentAction {
    /// Validate and send; `edited` when the text differs from the draft.
    ValidateSend {
        /// True when the agent changed the draft before sending.
        edited: bool,
    },
    /// The agent edited the draft without sending it.
    Edit,
    /// The agent corrected the request type.
    CorrectCategory {
        /// The request type before the correction; `None` when there was none.
        from: Option<String>,
        /// The request type the agent chose.
        to: String,
    },
    /// The agent rejected the draft.
    Reject {
        /// Why, for retraining and dashboards.
        reason: RejectReason,
    },
    /// The agent handed the message to a colleague.
    Assign {
        /// Row id in `users` of the new assignee.
        to_user: i64,
    },
    /// The agent escalated the message (state `escalated`).
    Escalate {
        /// Why, shown to whoever picks it up.
        reason: EscalationReason,
    },
    /// The agent unmasked personal data: always logged.
    RevealPii,
    /// The agent closed the message without a reply (state `closed`).
    Close {
        /// Why no reply was needed.
        reason: CloseReason,
    },
}

impl AgentAction {
    /// The kind code stored in `agent_actions.kind` for this action.
    pub fn kind(&self) -> AgentActionKind {
        match self {
            AgentAction::ValidateSend { .. } => AgentActionKind::ValidateSend,
            AgentAction::Edit => AgentActionKind::Edit,
            AgentAction::CorrectCategory { .. } => AgentActionKind::CorrectCategory,
            AgentAction::Reject { .. } => AgentActionKind::Reject,
            AgentAction::Assign { .. } => AgentActionKind::Assign,
            AgentAction::Escalate { .. } => AgentActionKind::Escalate,
            AgentAction::RevealPii => AgentActionKind::RevealPii,
            AgentAction::Close { .. } => AgentActionKind::Close,
        }
    }
}

coded_enum! {
    /// A reply's place in the outbox. `Failed` may be retried unless permanent
    /// (the store keeps `next_attempt_at` NULL for permanent failures).
    OutboxState {
        /// Validated, never tried yet: held during the send delay, then due.
        Queued => "queued",
        /// Claimed by a sender under a lease; an expired lease lets another sender take it over.
        Sending => "sending",
        /// The SMTP server accepted the reply.
        Sent => "sent",
        /// The last attempt failed; retried at `next_attempt_at` unless permanent.
        Failed => "failed",
        /// Sent, then reported back by a bounce ("non distribuée"): the citizen
        /// never received it. The row keeps the status and masked diagnostic.
        Undelivered => "undelivered",
    }
}

coded_enum! {
    /// Lifecycle of a model version: a supervisor promotes or retires it.
    ModelStatus {
        /// Freshly trained, not serving yet: awaits a supervisor's promotion.
        Candidate => "candidate",
        /// The one model triage uses; promoting another retires it.
        Active => "active",
        /// No longer used; can be promoted again as a rollback.
        Retired => "retired",
    }
}

coded_enum! {
    /// Lifecycle of a standard answer version.
    AnswerStatus {
        /// Being written: never proposed in a draft reply.
        Draft => "draft",
        /// Reviewed and in force: the only status a draft may be built on.
        Validated => "validated",
        /// No longer in force; drafts built on it are flagged as stale.
        Retired => "retired",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in MessageState::ALL {
            assert_eq!(MessageState::parse(s.as_str()), Some(*s));
        }
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::parse(r.as_str()), Some(*r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn routes_map_to_open_states() {
        for r in [
            Route::ReadyToValidate,
            Route::NeedsResearch,
            Route::Escalate,
            Route::Abstain,
        ] {
            assert!(MessageState::from(r).is_open());
        }
        assert!(!MessageState::from(Route::Automatic).is_open());
        assert!(!MessageState::Sent.is_open());
        assert_eq!(
            AgentAction::Escalate {
                reason: EscalationReason::Legal
            }
            .kind(),
            AgentActionKind::Escalate
        );
        for r in EscalationReason::ALL {
            assert_eq!(EscalationReason::parse(r.as_str()), Some(*r));
        }
    }
}
