//! Understanding French (and English) mail text short of the classifier: separates the
//! new text from quoted history, forwarded chains, greetings, closings and signatures
//! (keeping every part labelled), guesses the language, extracts fields (tax year,
//! references, amounts, dates) and flags sensitive mail (complaint, deadline, distress).
//!
//! Everything here is pure, allocation-light and panic-free on any input: it runs
//! on every incoming mail before anything else looks at it, and mail is hostile
//! input. Nothing is logged: the text is personal data.

mod attachment;
mod auto_reply;
mod correspondent;
mod fields;
mod flags;
mod framing;
mod language;
mod normalize;
mod segment;
mod thanks;

pub use attachment::mentions_attachment;
pub use auto_reply::auto_reply_text;
pub use correspondent::{correspondent, Correspondent};
pub use fields::{extract_fields, Fields};
pub use flags::{detect_flags, flag_evidence, Flag};
pub use framing::{frames_only, without_framing};
pub use language::detect_language;
pub use normalize::{fold, is_blank, split_lines, trim_ws};
pub use segment::{clean, Cleaned};
pub use thanks::thanks_only;
