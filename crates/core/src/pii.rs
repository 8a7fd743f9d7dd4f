//! Personal data found in a text, and the pseudonymised copy that logs and any
//! model call are allowed to see.

use serde::{Deserialize, Serialize};

/// The kinds of personal data the detector finds and masks; each has its own placeholder stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// Numéro fiscal (SPI): 13 digits, first digit 0–3.
    FiscalNumber,
    /// Numéro de sécurité sociale (NIR) with a valid key.
    Nir,
    /// IBAN with a valid mod-97 check.
    Iban,
    /// A French telephone number (`0…` or `+33`/`0033` form).
    Phone,
    /// An e-mail address.
    Email,
    /// A postal address: street line, boîte postale, or postcode and town.
    PostalAddress,
    /// A person's name, taken only where the context announces one (civility, greeting, signature).
    PersonName,
}

impl PiiKind {
    /// The placeholder stem used in pseudonymised text: `[NUMERO_FISCAL_1]`.
    pub fn placeholder_stem(self) -> &'static str {
        match self {
            PiiKind::FiscalNumber => "NUMERO_FISCAL",
            PiiKind::Nir => "NIR",
            PiiKind::Iban => "IBAN",
            PiiKind::Phone => "TELEPHONE",
            PiiKind::Email => "EMAIL",
            PiiKind::PostalAddress => "ADRESSE",
            PiiKind::PersonName => "NOM",
        }
    }
}

/// A finding: byte range in the original text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiSpan {
    /// What was found, which decides the placeholder and the UI masking.
    pub kind: PiiKind,
    /// Byte offset where the value starts in the original text.
    pub start: usize,
    /// Byte offset just past the value's end (exclusive).
    pub end: usize,
    /// The placeholder that replaces it in the pseudonymised copy.
    pub placeholder: String,
}

/// The output of protection: the masked text plus where each value was.
/// The mapping placeholder → value is deliberately *not* here: it stays with the
/// caller that owns the original text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Pseudonymised {
    /// The text with each value replaced by its `[KIND_N]` placeholder.
    pub text: String,
    /// Where each value was in the original text, sorted by start.
    pub spans: Vec<PiiSpan>,
}

impl Pseudonymised {
    /// The distinct kinds found, sorted: what `triage --json` reports as `pii`.
    pub fn kinds(&self) -> Vec<PiiKind> {
        let mut k: Vec<PiiKind> = self.spans.iter().map(|s| s.kind).collect();
        k.sort();
        k.dedup();
        k
    }
}
