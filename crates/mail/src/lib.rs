//! Reading mail: .eml, mbox and Maildir sources, MIME decoding of any charset to UTF-8,
//! HTML to text, and threading. Mail is hostile input: nothing here may panic on any
//! byte sequence, and what was malformed is reported as defects.
//!
//! MIME decoding itself is delegated to `mail-parser` (fast, zero-copy, every charset
//! through encoding_rs). It is lenient and silent, so this crate adds what an agent
//! needs on top: a cheap structural scan that names the damage ([`DefectKind`]),
//! uuencoded blocks lifted out of text bodies, an HTML to text conversion that keeps
//! link targets, and mailbox formats.
//!
//! [`DefectKind`]: facteur_core::DefectKind
#![warn(missing_docs)]

mod automatic;
mod defects;
mod error;
pub mod html;
mod parse;
mod source;
pub mod thread;
pub mod uuencode;

pub use error::MailError;
pub use html::html_to_text;
pub use parse::{
    attachment_by_sha256, attachments_by_sha256, header_block, is_placeholder_message_id,
    parse_message, parse_message_capped, DEFAULT_MAX_MESSAGE_BYTES,
};
pub use source::{
    discover, read_messages, read_source, split_input, split_mbox, unescape_mbox_from, MailSource,
    MboxStream, MessageReader, RawMessage, SourceKind,
};
