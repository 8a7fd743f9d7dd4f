//! A parsed e-mail as the rest of Facteur sees it: decoded to UTF-8, with what was
//! malformed recorded as defects rather than hidden or fatal.

use serde::{Deserialize, Serialize};

/// One mailbox address (`"Name" <local@domain>`). Both parts are optional because
/// hostile or broken headers routinely lose one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MailAddress {
    pub name: Option<String>,
    pub address: Option<String>,
}

impl MailAddress {
    /// The best human display: the name when present, else the address.
    pub fn display(&self) -> String {
        match (&self.name, &self.address) {
            (Some(n), Some(a)) => format!("{n} <{a}>"),
            (Some(n), None) => n.clone(),
            (None, Some(a)) => a.clone(),
            (None, None) => String::new(),
        }
    }
}

/// What kind of damage the parser met. Kept coarse and stable: it is part of the
/// `triage --json` output that scripts read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    /// No blank line between headers and body, or no header at all.
    MissingHeaderBodySeparator,
    /// A header line that is not `Name: value`, or an unparsable address/date.
    InvalidHeader,
    /// A multipart without a boundary parameter.
    NoBoundaryInMultipart,
    /// The opening boundary of a multipart never appears.
    StartBoundaryNotFound,
    /// The closing boundary of a multipart never appears.
    CloseBoundaryNotFound,
    /// Unknown or misspelt Content-Transfer-Encoding.
    InvalidTransferEncoding,
    /// A part's charset is unknown; it was decoded with a fallback.
    UnknownCharset,
    /// Bytes that are not valid in the declared charset (replaced).
    InvalidCharsetBytes,
    /// Base64, quoted-printable or uuencode content that did not decode cleanly.
    InvalidEncodedContent,
    /// No Message-ID header: one was derived from the content hash.
    MissingMessageId,
    /// The message exceeds the configured size limit and was stored raw.
    Oversized,
    /// The input is not recognisable as a mail message at all.
    NotAMessage,
    /// Anything else worth telling the agent about.
    Other,
}

/// A defect with a short human detail (never personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defect {
    pub kind: DefectKind,
    pub detail: String,
}

impl Defect {
    pub fn new(kind: DefectKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// Attachments are kept as metadata only: Facteur never executes or renders them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentMeta {
    pub filename: Option<String>,
    pub content_type: String,
    pub size: usize,
    /// SHA-256 of the decoded content, hex.
    pub sha256: String,
}

/// Language of the new text. Only the languages the standard answers exist in are
/// named; everything else is `Other` with its ISO 639-1 code when known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Language {
    #[default]
    Fr,
    En,
    Other(String),
    Unknown,
}

impl Language {
    pub fn code(&self) -> &str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
            Language::Other(c) => c.as_str(),
            Language::Unknown => "und",
        }
    }

    pub fn from_code(code: &str) -> Self {
        match code.to_ascii_lowercase().as_str() {
            "fr" => Language::Fr,
            "en" => Language::En,
            "" | "und" => Language::Unknown,
            other => Language::Other(other.to_string()),
        }
    }
}

/// Serialised as the bare code (`"fr"`), the form JSON output and the store use.
impl Serialize for Language {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Ok(Language::from_code(&code))
    }
}

/// A message decoded to UTF-8. `body_text` is the readable text of the best text
/// part (HTML converted when there is no plain part); `body_html` is the raw HTML
/// part, if any, which must be sanitised before it is ever shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ParsedMail {
    /// Without angle brackets. Derived from the content hash when missing
    /// (and a `MissingMessageId` defect is recorded).
    pub message_id: String,
    pub subject: String,
    pub from: Option<MailAddress>,
    pub to: Vec<MailAddress>,
    pub cc: Vec<MailAddress>,
    pub reply_to: Option<MailAddress>,
    /// RFC 3339, when the Date header could be parsed.
    pub date: Option<String>,
    /// The same instant in Unix milliseconds: when the message arrived, for a
    /// message whose server gave no arrival time (a file import).
    #[serde(default)]
    pub date_ms: Option<i64>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub attachments: Vec<AttachmentMeta>,
    pub defects: Vec<Defect>,
    /// SHA-256 of the raw bytes, hex: with the Message-ID, the idempotency key of ingest.
    pub content_hash: String,
    pub raw_size: usize,
    /// Set when the headers or the report structure show a machine wrote it (an
    /// auto-reply or a bounce): such mail is never answered. Absent in rows
    /// stored before the detection existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic: Option<crate::automatic::Automatic>,
}

/// The role a stretch of the body plays. The agent sees every segment; only
/// `NewText` feeds the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    Greeting,
    NewText,
    Closing,
    Signature,
    Disclaimer,
    Quoted,
    Forwarded,
}

/// A labelled stretch of the body, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub kind: SegmentKind,
    pub text: String,
}
