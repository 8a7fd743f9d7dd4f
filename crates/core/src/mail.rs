//! A parsed e-mail as the rest of Facteur sees it: decoded to UTF-8, with what was
//! malformed recorded as defects rather than hidden or fatal.

use serde::{Deserialize, Serialize};

/// One mailbox address (`"Name" <local@domain>`). Both parts are optional because
/// hostile or broken headers routinely lose one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MailAddress {
    /// Display name as decoded from the header; `None` when the header has none.
    pub name: Option<String>,
    /// `local@domain` as written (not lowercased); `None` when the header lost it.
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
    /// The category scripts and supervision count on.
    pub kind: DefectKind,
    /// Short English explanation for the agent, e.g. which part or header; never personal data.
    pub detail: String,
}

impl Defect {
    /// A defect of `kind` with its human detail.
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
    /// Name the sender gave the file, decoded; `None` for unnamed parts.
    pub filename: Option<String>,
    /// Lowercased MIME type (`type/subtype`); guessed from the part when it declares none.
    pub content_type: String,
    /// Size in bytes of the decoded content, as an agent would download it.
    pub size: usize,
    /// SHA-256 of the decoded content, hex.
    pub sha256: String,
}

/// What ingest keeps of a parsed mail beside its raw bytes, so the message page
/// and validation never parse a stored (hostile) mail again to show its
/// attachments or find where the reply goes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MailSummary {
    /// Attachment metadata, listed on the message page.
    #[serde(default)]
    pub attachments: Vec<AttachmentMeta>,
    /// Parse defects, shown to the agent beside the message.
    #[serde(default)]
    pub defects: Vec<Defect>,
    /// `In-Reply-To` Message-IDs without brackets, kept for threading.
    #[serde(default)]
    pub in_reply_to: Vec<String>,
    /// `References` Message-IDs without brackets, in header order: the base of our reply's `References`.
    #[serde(default)]
    pub references: Vec<String>,
    /// Size of the raw message in bytes, as received.
    #[serde(default)]
    pub raw_size: usize,
    /// Where a reply goes: `Some(None)` without a Reply-To header, `Some("")` for
    /// one with no address, and `None` for a message stored before this was
    /// kept (its header is then read again).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub reply_to: Option<Option<String>>,
    /// Only the header was kept: the mail was over the size limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// A key that is present (even `null`) is `Some`: tells "no Reply-To" from
/// "not recorded".
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl MailSummary {
    /// The summary of a freshly parsed mail, with the Reply-To always recorded.
    pub fn of(mail: &ParsedMail) -> Self {
        Self {
            attachments: mail.attachments.clone(),
            defects: mail.defects.clone(),
            in_reply_to: mail.in_reply_to.clone(),
            references: mail.references.clone(),
            raw_size: mail.raw_size,
            reply_to: Some(
                mail.reply_to
                    .as_ref()
                    .map(|a| a.address.clone().unwrap_or_default()),
            ),
            truncated: false,
        }
    }
}

/// Language of the new text. Only the languages the standard answers exist in are
/// named; everything else is `Other` with its ISO 639-1 code when known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Language {
    /// French, the mailboxes' language; also the default when nothing better is known.
    #[default]
    Fr,
    /// English: standard answers have English variants.
    En,
    /// Any other detected language, by its lowercase ISO 639-1 code.
    Other(String),
    /// Too little text to tell; callers then treat the mail as French.
    Unknown,
}

impl Language {
    /// ISO 639-1 code as stored and serialised; `und` for `Unknown`.
    pub fn code(&self) -> &str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
            Language::Other(c) => c.as_str(),
            Language::Unknown => "und",
        }
    }

    /// Reads a stored code back, case-insensitively; empty or `und` gives `Unknown`.
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
    /// Decoded Subject header; empty when missing.
    pub subject: String,
    /// First address of the From header; `None` when missing or unparsable.
    pub from: Option<MailAddress>,
    /// Addresses of the To header, in order.
    pub to: Vec<MailAddress>,
    /// Addresses of the Cc header, in order.
    pub cc: Vec<MailAddress>,
    /// First Reply-To address: where the reply goes instead of `from` when it is usable.
    pub reply_to: Option<MailAddress>,
    /// RFC 3339, when the Date header could be parsed.
    pub date: Option<String>,
    /// The same instant in Unix milliseconds: when the message arrived, for a
    /// message whose server gave no arrival time (a file import).
    #[serde(default)]
    pub date_ms: Option<i64>,
    /// `In-Reply-To` Message-IDs without brackets, for threading.
    pub in_reply_to: Vec<String>,
    /// `References` Message-IDs without brackets, for threading.
    pub references: Vec<String>,
    /// Readable UTF-8 text of the body: what segmentation, the classifier and the agent read.
    pub body_text: String,
    /// Raw HTML part, unsanitised; `None` when the mail has no HTML part.
    pub body_html: Option<String>,
    /// Attachments (uuencoded blocks included), metadata only.
    pub attachments: Vec<AttachmentMeta>,
    /// What was malformed, deduplicated and capped.
    pub defects: Vec<Defect>,
    /// SHA-256 of the raw bytes, hex: with the Message-ID, the idempotency key of ingest.
    pub content_hash: String,
    /// Size of the raw message in bytes, also when only its header was read.
    pub raw_size: usize,
    /// Set when the headers or the report structure show a machine wrote it (an
    /// auto-reply or a bounce): such mail is never answered. Absent in rows
    /// stored before the detection existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic: Option<crate::automatic::Automatic>,
    /// Text read from the attachments (PDF text layer, OCR), when extraction ran:
    /// it is not part of parsing, which never runs a tool on hostile bytes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachment_texts: Vec<AttachmentText>,
}

/// How an attachment's text was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractMethod {
    /// The PDF's own text layer.
    PdfText,
    /// Optical character recognition of an image or a scanned page.
    Ocr,
}

impl ExtractMethod {
    /// The stable code (`pdf_text`, `ocr`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PdfText => "pdf_text",
            Self::Ocr => "ocr",
        }
    }

    /// The method a code names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pdf_text" => Some(Self::PdfText),
            "ocr" => Some(Self::Ocr),
            _ => None,
        }
    }
}

/// Why an attachment gave no text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractFailure {
    /// Larger than the extraction limit.
    TooLarge,
    /// The message's time budget ran out first.
    Timeout,
    /// Read, but no text in it (a scan while OCR is off).
    NoText,
    /// The tool refused the file (damaged, encrypted, not what it claims).
    Unreadable,
    /// The tool is not installed on this machine.
    ToolMissing,
}

impl ExtractFailure {
    /// The stable code (`too_large`, `timeout`, `no_text`, `unreadable`, `tool_missing`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Timeout => "timeout",
            Self::NoText => "no_text",
            Self::Unreadable => "unreadable",
            Self::ToolMissing => "tool_missing",
        }
    }

    /// The failure a code names.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::TooLarge,
            Self::Timeout,
            Self::NoText,
            Self::Unreadable,
            Self::ToolMissing,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// The text of one attachment, as triage read it (issue 19): what the agent sees
/// folded under the mail, masked, and what the classifier reads after the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentText {
    /// The file's name as the sender gave it.
    pub filename: Option<String>,
    /// Lowercased MIME type.
    pub content_type: String,
    /// How the text was read; `None` when it could not be.
    pub method: Option<ExtractMethod>,
    /// Pages read (1 for an image).
    pub pages: u32,
    /// The text: as extracted in a parsed mail, masked once triage has run.
    pub text: String,
    /// The text was cut at the extraction limit.
    pub truncated: bool,
    /// Why there is no text, when there is none.
    pub failure: Option<ExtractFailure>,
}

/// The role a stretch of the body plays. The agent sees every segment; only
/// `NewText` feeds the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// Opening salutation ("Bonjour Madame,").
    Greeting,
    /// The writer's own new words: the only part the classifier reads.
    NewText,
    /// The closing formula ("Je vous prie d'agréer…", "Cordialement").
    Closing,
    /// From a signature marker to the end of the own text, or the contact block after the closing.
    Signature,
    /// A confidentiality or legal notice paragraph.
    Disclaimer,
    /// Earlier messages quoted in a reply (`>` lines, "Le … a écrit :" history).
    Quoted,
    /// A forwarded message, its header lines included.
    Forwarded,
}

/// A labelled stretch of the body, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The role of this stretch.
    pub kind: SegmentKind,
    /// The lines of this stretch, as in the body.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_tells_no_reply_to_from_not_recorded() {
        let none: MailSummary = serde_json::from_str(r#"{"reply_to": null}"#).unwrap();
        assert_eq!(none.reply_to, Some(None));
        let old: MailSummary = serde_json::from_str(r#"{"defects": []}"#).unwrap();
        assert_eq!(old.reply_to, None);
        let set: MailSummary = serde_json::from_str(r#"{"reply_to": "a@b.fr"}"#).unwrap();
        assert_eq!(set.reply_to, Some(Some("a@b.fr".into())));
        for s in [none, old, set] {
            let back: MailSummary =
                serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn a_summary_keeps_what_the_page_and_the_reply_need() {
        let mail = ParsedMail {
            references: vec!["<a@x>".into()],
            raw_size: 1234,
            reply_to: Some(MailAddress {
                name: None,
                address: Some("r@x.fr".into()),
            }),
            ..Default::default()
        };
        let s = MailSummary::of(&mail);
        assert_eq!(s.reply_to, Some(Some("r@x.fr".into())));
        assert_eq!(
            (s.raw_size, s.references.len(), s.truncated),
            (1234, 1, false)
        );
    }
}
