//! The knowledge base: standard answers (réponses types) as Markdown files with TOML
//! front matter, the service-public fiches, one French full-text index over both,
//! retrieval with the passages that matched, and drafting a reply.
//!
//! Nothing here ever sends anything: a draft is a proposal an agent validates, and the
//! drafting rules (only validated, current answers; whitelisted links only; visible
//! markers instead of invented values) exist so that proposal is safe to validate.

pub mod analysis;
pub mod answers;
mod dense;
pub mod draft;
pub mod eval;
mod index;
pub mod links;
mod prior;
mod scorer;
pub mod stem_cache;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use answers::{
    load_dir, validate, AnswerError, AnswerErrorKind, AnswerStatus, StandardAnswer, Taxonomy,
};
pub use dense::{Fusion, PASSAGE_TOKENS};
pub use draft::{best_answer, draft, draft_answer, DraftContext, DraftOutcome};
pub use eval::{evaluate, is_held_out, read_queries, RelevanceQuery, RetrievalReport};
pub use index::{
    DocKind, Hit, ImportReport, KnowledgeBase, Passage, SearchOptions, Tuning, SEMANTIC_MARK,
};
pub use prior::{FicheMeta, Priors};

/// A calendar date. Our own small type because answer validity is day-granular and
/// comparing (year, month, day) is all we need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    pub const fn new(year: i32, month: u8, day: u8) -> Self {
        Self { year, month, day }
    }

    /// Today in UTC, from the system clock.
    pub fn today() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self::from_days((secs / 86_400) as i64)
    }

    /// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    pub fn from_days(z: i64) -> Self {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = if m <= 2 { y + 1 } else { y };
        Self::new(y as i32, m as u8, d as u8)
    }

    /// yyyymmdd, the form stored in the index for range filters.
    pub fn as_number(self) -> i64 {
        self.year as i64 * 10_000 + self.month as i64 * 100 + self.day as i64
    }

    /// "31/12/2025", the French way, for `{{date_du_jour}}`.
    pub fn french(self) -> String {
        format!("{:02}/{:02}/{:04}", self.day, self.month, self.year)
    }
}

impl From<(i32, u8, u8)> for Date {
    fn from((y, m, d): (i32, u8, u8)) -> Self {
        Self::new(y, m, d)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: invalid taxonomy: {message}")]
    Taxonomy {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}:{line}: {message}")]
    BadLine {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("search index error in {path}: {source}")]
    Index {
        path: PathBuf,
        source: tantivy::TantivyError,
    },
    #[error("invalid query: {0}")]
    Query(String),
    #[error("embed knowledge-base documents: {0}")]
    Embedding(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(Date::from_days(0), Date::new(1970, 1, 1));
        assert_eq!(Date::from_days(20_089), Date::new(2025, 1, 1));
        assert_eq!(Date::from_days(19_782), Date::new(2024, 2, 29));
        assert!(Date::new(2024, 12, 31) < Date::new(2025, 1, 1));
        assert_eq!(Date::new(2025, 3, 7).french(), "07/03/2025");
    }
}
