//! Detecting personal data (fiscal number, NIR, IBAN, phone, e-mail, postal address,
//! names) and producing the pseudonymised copy that logs and models see.
//!
//! Detection is rule-based on purpose: it runs offline, on CPU, on every message,
//! and each rule can be explained to a data-protection officer. Identifiers are
//! only reported when their checksum holds (NIR key, IBAN mod-97) so that
//! reference numbers do not drown the agent in false alarms; names are only
//! taken where the context announces one. When findings overlap, the most
//! specific kind wins (IBAN > NIR > e-mail > fiscal number > phone > address >
//! name), then the longest span, so the result never depends on rule order.

mod checksum;
mod display;
mod names;
mod patterns;

use std::collections::HashMap;

use facteur_core::{PiiKind, PiiSpan, Pseudonymised};

pub use checksum::{is_valid_fiscal_number, is_valid_iban, is_valid_nir, nir_key};
pub use display::mask_for_display;

/// A raw finding before overlap resolution and numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
}

/// Lower wins when two findings overlap.
fn specificity(kind: PiiKind) -> u8 {
    match kind {
        PiiKind::Iban => 0,
        PiiKind::Nir => 1,
        PiiKind::Email => 2,
        PiiKind::FiscalNumber => 3,
        PiiKind::Phone => 4,
        PiiKind::PostalAddress => 5,
        PiiKind::PersonName => 6,
    }
}

/// The personal-data detector. The patterns are compiled once per process (on
/// first use) and shared, so a `Detector` is free to create, copy and send
/// across threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Detector {
    _private: (),
}

// Shared across worker threads by the pipeline: keep it that way.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Detector>();
};

impl Detector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Spans sorted by start, non-overlapping, on char boundaries (byte offsets
    /// into `text`), each with the placeholder `pseudonymise` would use.
    pub fn detect(&self, text: &str) -> Vec<PiiSpan> {
        self.detect_with_names(text, &[])
    }

    /// `detect`, also finding the names the caller knows (e.g. the From display
    /// name) wherever they occur, case-insensitively.
    pub fn detect_with_names(&self, text: &str, known_names: &[&str]) -> Vec<PiiSpan> {
        let resolved = find(text, known_names);
        number(text, &resolved)
    }

    /// Masked copy: each distinct value gets a stable placeholder
    /// `[NUMERO_FISCAL_1]`, `[NOM_2]`… (same value → same placeholder within one
    /// call; numbering per kind by first appearance).
    pub fn pseudonymise(&self, text: &str) -> Pseudonymised {
        self.pseudonymise_with_names(text, &[])
    }

    /// Same, also masking names known from elsewhere wherever they occur.
    pub fn pseudonymise_with_names(&self, text: &str, known_names: &[&str]) -> Pseudonymised {
        let spans = self.detect_with_names(text, known_names);
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for s in &spans {
            out.push_str(&text[last..s.start]);
            out.push_str(&s.placeholder);
            last = s.end;
        }
        out.push_str(&text[last..]);
        Pseudonymised { text: out, spans }
    }
}

/// All findings, overlaps resolved, sorted by start.
fn find(text: &str, known_names: &[&str]) -> Vec<Candidate> {
    let mut cands = Vec::new();
    patterns::find_identifiers(text, &mut cands);
    patterns::find_emails(text, &mut cands);
    patterns::find_addresses(text, &mut cands);
    let before_names = cands.len();
    names::find_names(text, &mut cands);
    // A name found in one place is masked everywhere it recurs.
    let found: Vec<String> = cands[before_names..]
        .iter()
        .map(|c| text[c.start..c.end].to_string())
        .collect();
    if !found.is_empty() {
        names::propagate(text, &found, &mut cands);
    }
    names::find_known(text, known_names, &mut cands);
    resolve(text, cands)
}

fn resolve(text: &str, mut cands: Vec<Candidate>) -> Vec<Candidate> {
    cands.retain(|c| {
        c.start < c.end && text.is_char_boundary(c.start) && text.is_char_boundary(c.end)
    });
    merge_addresses(text, &mut cands);
    cands.sort_by_key(|c| {
        (
            specificity(c.kind),
            std::cmp::Reverse(c.end - c.start),
            c.start,
        )
    });
    let mut taken = Disjoint::default();
    let mut kept: Vec<Candidate> = Vec::with_capacity(cands.len());
    for c in cands {
        if taken.insert_if_free(c.start, c.end) {
            kept.push(c);
        }
    }
    kept.sort_by_key(|c| c.start);
    kept
}

/// A set of pairwise disjoint byte ranges `[start, end)`, keyed by start.
///
/// Why not a Vec checked one by one: every candidate was compared with every kept
/// span, and a hostile body with 100,000 findings (1 MB of "DUPONT " or of
/// "De : x@y.fr" lines) took 26 s; a lookup here is O(log n).
#[derive(Default)]
pub(crate) struct Disjoint {
    spans: std::collections::BTreeMap<usize, usize>,
}

impl Disjoint {
    /// Whether `[start, end)` overlaps a range in the set. The ranges are
    /// disjoint, so their ends grow with their starts: the range starting last
    /// before `end` is the only one that can reach past `start`.
    pub(crate) fn overlaps(&self, start: usize, end: usize) -> bool {
        self.spans
            .range(..end)
            .next_back()
            .is_some_and(|(_, &e)| e > start)
    }

    /// Adds `[start, end)` unless it overlaps; returns whether it was added.
    pub(crate) fn insert_if_free(&mut self, start: usize, end: usize) -> bool {
        if self.overlaps(start, end) {
            return false;
        }
        self.spans.insert(start, end);
        true
    }
}

/// "12 rue de la Paix, 75002 Paris" is one address, not two; "33000 Bordeaux
/// Cedex 02" found by two rules is one address too.
fn merge_addresses(text: &str, cands: &mut Vec<Candidate>) {
    let mut addrs: Vec<Candidate> = Vec::new();
    cands.retain(|c| {
        if c.kind == PiiKind::PostalAddress {
            addrs.push(*c);
            false
        } else {
            true
        }
    });
    addrs.sort_by_key(|c| (c.start, c.end));
    let mut merged: Vec<Candidate> = Vec::with_capacity(addrs.len());
    for c in addrs {
        if let Some(prev) = merged.last_mut() {
            let touches = c.start <= prev.end || {
                let gap = &text[prev.end..c.start];
                gap.len() <= 4
                    && gap
                        .chars()
                        .all(|g| g.is_whitespace() || g == ',' || g == '-')
            };
            if touches {
                prev.end = prev.end.max(c.end);
                continue;
            }
        }
        merged.push(c);
    }
    cands.extend(merged);
}

/// The identity of a value for numbering: two spellings of the same IBAN or
/// phone number must get the same placeholder.
fn normalise(kind: PiiKind, value: &str) -> String {
    match kind {
        PiiKind::Iban | PiiKind::Nir | PiiKind::FiscalNumber => checksum::compact(value),
        PiiKind::Phone => {
            let d: String = value.chars().filter(char::is_ascii_digit).collect();
            let national = if let Some(r) = d.strip_prefix("0033") {
                r.to_string()
            } else if value.trim_start().starts_with('+') {
                d.strip_prefix("33").unwrap_or(&d).to_string()
            } else {
                d
            };
            if national.starts_with('0') {
                national
            } else {
                format!("0{national}")
            }
        }
        PiiKind::Email => value.to_lowercase(),
        PiiKind::PostalAddress | PiiKind::PersonName => value
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase(),
    }
}

fn number(text: &str, cands: &[Candidate]) -> Vec<PiiSpan> {
    let mut ids: HashMap<(PiiKind, String), usize> = HashMap::new();
    let mut counters: HashMap<PiiKind, usize> = HashMap::new();
    cands
        .iter()
        .map(|c| {
            let key = (c.kind, normalise(c.kind, &text[c.start..c.end]));
            let n = *ids.entry(key).or_insert_with(|| {
                let counter = counters.entry(c.kind).or_insert(0);
                *counter += 1;
                *counter
            });
            PiiSpan {
                kind: c.kind,
                start: c.start,
                end: c.end,
                placeholder: format!("[{}_{}]", c.kind.placeholder_stem(), n),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
