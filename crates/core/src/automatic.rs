//! Mail written by a machine: auto-replies (out of office, "réponse automatique")
//! and delivery failures (bounces). Neither is a citizen's question: drafting a
//! reply to an auto-responder risks a mail loop, and a bounce of one of our replies
//! means the citizen never got it, which the outbox must say.
//!
//! The detection itself lives in `facteur-mail` (headers, report structure) and
//! `facteur-text` (the words); these are the types they agree on with the store
//! and the web app.

use serde::{Deserialize, Serialize};

/// What kind of machine wrote the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutomaticKind {
    /// Out-of-office and other auto-responders, mailing-list and bulk mail.
    AutoReply,
    /// A delivery status notification saying a message was not delivered.
    Bounce,
}

/// Which signal decided: shown to the agent ("why is this not a question?") and
/// counted by supervision. Never personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutomaticSignal {
    /// `Auto-Submitted:` other than `no` (RFC 3834).
    AutoSubmitted,
    /// `X-Autoreply:` / `X-Autorespond:` / `X-Auto-Response-Suppress`-style vendor headers.
    AutoreplyHeader,
    /// `Precedence: bulk`, `junk` or `list`.
    Precedence,
    /// `List-Id:` (mailing lists never expect a personal answer).
    ListId,
    /// `Return-Path: <>`: the null sender of notifications (RFC 5321 §4.5.5).
    NullReturnPath,
    /// The text says so ("Je suis absent du bureau", "out of office").
    Text,
    /// `multipart/report; report-type=delivery-status` (RFC 3464).
    DeliveryReport,
    /// A vendor's non-standard bounce text (Exchange, Postfix, Gmail, …).
    BounceText,
}

/// The vendor format a bounce was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceFormat {
    /// A standard `multipart/report` delivery-status notification (RFC 3464).
    Rfc3464,
    /// Microsoft Exchange / Outlook "Undeliverable" text, French or English.
    Exchange,
    /// Postfix's "This is the mail system at host …" text.
    Postfix,
    /// Gmail's "Address not found" / "message wasn't delivered" text.
    Gmail,
    /// Another mailer's failure text ("could not be delivered", "permanent error", …).
    Other,
}

/// What a bounce reports. Fields are as the report gives them (the diagnostic may
/// quote the failed address: mask it before showing or storing it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BounceReport {
    /// The Message-ID of the message that was not delivered, without brackets:
    /// what links the bounce to the outbox row of our reply.
    pub original_message_id: Option<String>,
    /// The address that failed (`Final-Recipient`, or read from the text).
    pub recipient: Option<String>,
    /// The enhanced status code (RFC 3463), e.g. `5.1.1`.
    pub status: Option<String>,
    /// The remote server's words (`Diagnostic-Code`, or the vendor text's line).
    pub diagnostic: Option<String>,
    /// Which vendor format the report was read from; `None` when not recorded.
    pub format: Option<BounceFormat>,
}

impl BounceReport {
    /// A 4.x.x status is a delay the relay keeps retrying, not a failure.
    pub fn is_temporary(&self) -> bool {
        self.status.as_deref().is_some_and(|s| s.starts_with('4'))
    }
}

/// A machine-written mail, with the signal that gave it away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Automatic {
    /// Auto-reply or bounce: decides between "no reply" and the outbox's "non distribuée".
    pub kind: AutomaticKind,
    /// The header or text that gave it away, shown to the agent.
    pub signal: AutomaticSignal,
    /// What the bounce says; `Some` only for `AutomaticKind::Bounce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounce: Option<BounceReport>,
}

impl Automatic {
    /// An auto-responder or bulk mail caught by `signal`; carries no report.
    pub fn auto_reply(signal: AutomaticSignal) -> Self {
        Self {
            kind: AutomaticKind::AutoReply,
            signal,
            bounce: None,
        }
    }

    /// A delivery failure caught by `signal`, with what its report says.
    pub fn bounce(signal: AutomaticSignal, report: BounceReport) -> Self {
        Self {
            kind: AutomaticKind::Bounce,
            signal,
            bounce: Some(report),
        }
    }
}
