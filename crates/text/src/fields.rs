//! Field extraction: tax years, amounts, dates and file references.
//!
//! Regexes on the folded text (digits survive folding unchanged) so that "Impôt",
//! "IMPOT" and "impôt" and every space variant between digits are one case.
//! References are taken from the case-preserving text because their letters matter.

use once_cell::sync::Lazy;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::normalize::{fold, soften};

/// What a mail mentions that an agent would otherwise look up by hand.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Fields {
    /// Years the mail is about ("revenus 2023", "impôt 2024"), in order, once each.
    pub tax_years: Vec<u16>,
    /// Amounts with a currency, normalised: "1 234,56 €" → "1234.56", "150 €" → "150".
    pub amounts: Vec<String>,
    /// Dates, ISO `yyyy-mm-dd`, validated (no 31 February).
    pub dates: Vec<String>,
    /// File references as written: "2023 12 345678 9", "ABC-123".
    pub references: Vec<String>,
}

use crate::normalize::pattern as re;

static TAX_YEAR: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\b(?:revenus?|impots?|imposition|declarations?|annee|avis|exercice|taxe fonciere|taxe d'habitation|ifi|income|tax(?:es)?|tax year|tax return)(?:\s*(?:de|des|du|d'|sur|le|la|les|l'|au|titre|revenus?|impots?|imposition|annee|fiscale?|foncieres?|of|for|the|year|return))*\s+(?:en\s+)?(\d{4})\b",
    )
});

static AMOUNT: Lazy<Regex> = Lazy::new(|| {
    re(
        r"(?:(€|\beur\b|\beuros?\b)\s*)?\b(\d{1,3}(?:[ .]\d{3})+|\d+)(?:[,.](\d{1,2}))?\b(?:\s*(€|euros?\b|eur\b))?",
    )
});

static DATE_NUM: Lazy<Regex> = Lazy::new(|| re(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})\b"));
static DATE_ISO: Lazy<Regex> = Lazy::new(|| re(r"\b(\d{4})-(\d{2})-(\d{2})\b"));
static DATE_TEXT: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\b(\d{1,2}|1er)\s+(janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre|janv|fevr?|avr|juil|sept?|oct|nov|dec|january|february|march|april|may|june|july|august|september|october|november|december)\.?\s+(\d{4})\b",
    )
});
static DATE_EN: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\b(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|oct|nov|dec)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b",
    )
});

static REF_LABELLED: Lazy<Regex> = Lazy::new(|| {
    re(
        r"(?i)\b(?:r[ée]f(?:[ée]rence)?s?\b\.?|n[°º]\s*(?:de\s+)?(?:dossier|r[ée]clamation|d'avis|avis|demande)|num[ée]ro\s+(?:de\s+|d')?(?:dossier|r[ée]clamation|avis|demande|r[ée]f[ée]rence)|dossier)\s*(?:de\s+(?:l'avis|la\s+demande|la\s+r[ée]clamation)\s*|d'avis\s*)?(?:n[°º]|no\.?|num[ée]ro)?\s*[:#]?\s*((?-i:[A-Z0-9][A-Z0-9\-/_.]*(?: (?:\d+|[A-Z]*\d[A-Z0-9]*))*))",
    )
});
static REF_AVIS: Lazy<Regex> = Lazy::new(|| re(r"\b(?:19|20)\d{2} \d{2} \d{6,7} \d{1,2}\b"));

/// Extract the fields of a text (normally `Cleaned::new_text()`).
pub fn extract_fields(text: &str) -> Fields {
    let f = fold(text);
    Fields {
        tax_years: tax_years(&f),
        amounts: amounts(&f),
        dates: dates(&f),
        references: references(&soften(text)),
    }
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

fn tax_years(f: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for c in TAX_YEAR.captures_iter(f) {
        if let Some(y) = c.get(1).and_then(|m| m.as_str().parse::<u16>().ok()) {
            if (1990..=2100).contains(&y) {
                push_unique(&mut out, y);
            }
        }
    }
    out
}

fn amounts(f: &str) -> Vec<String> {
    let mut out = Vec::new();
    for c in AMOUNT.captures_iter(f) {
        if c.get(1).is_none() && c.get(4).is_none() {
            continue;
        }
        let Some(int) = c.get(2) else { continue };
        let int: String = int
            .as_str()
            .chars()
            .filter(|c| c.is_ascii_digit())
            .collect();
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let v = match c.get(3) {
            Some(d) if d.as_str().len() == 1 => format!("{int}.{}0", d.as_str()),
            Some(d) => format!("{int}.{}", d.as_str()),
            None => int.to_string(),
        };
        push_unique(&mut out, v);
    }
    out
}

fn month_number(m: &str) -> Option<u32> {
    let p = m.get(..3)?;
    Some(match p {
        "jan" => 1,
        "fev" | "feb" => 2,
        "mar" => 3,
        "avr" | "apr" => 4,
        "mai" | "may" => 5,
        "jui" => {
            if m.starts_with("juil") {
                7
            } else {
                6
            }
        }
        "jun" => 6,
        "jul" => 7,
        "aou" | "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    })
}

fn iso(y: u32, m: u32, d: u32) -> Option<String> {
    if !(1900..=2100).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let leap = y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
    let max = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (d <= max).then(|| format!("{y:04}-{m:02}-{d:02}"))
}

fn year4(s: &str) -> Option<u32> {
    let y: u32 = s.parse().ok()?;
    Some(if s.len() == 2 { 2000 + y } else { y })
}

fn dates(f: &str) -> Vec<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    for c in DATE_ISO.captures_iter(f) {
        let p = |i| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
        if let (Some(y), Some(m), Some(d)) = (p(1), p(2), p(3)) {
            if let (Some(s), Some(m0)) = (iso(y, m, d), c.get(0)) {
                found.push((m0.start(), s));
            }
        }
    }
    for c in DATE_NUM.captures_iter(f) {
        let p = |i| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
        let y = c.get(3).and_then(|m| year4(m.as_str()));
        if let (Some(d), Some(m), Some(y)) = (p(1), p(2), y) {
            if let (Some(s), Some(m0)) = (iso(y, m, d), c.get(0)) {
                found.push((m0.start(), s));
            }
        }
    }
    for c in DATE_TEXT.captures_iter(f) {
        let d = c.get(1).map(|m| m.as_str()).and_then(|d| {
            if d == "1er" {
                Some(1)
            } else {
                d.parse::<u32>().ok()
            }
        });
        let m = c.get(2).and_then(|m| month_number(m.as_str()));
        let y = c.get(3).and_then(|m| m.as_str().parse::<u32>().ok());
        if let (Some(d), Some(m), Some(y)) = (d, m, y) {
            if let (Some(s), Some(m0)) = (iso(y, m, d), c.get(0)) {
                found.push((m0.start(), s));
            }
        }
    }
    for c in DATE_EN.captures_iter(f) {
        let m = c.get(1).and_then(|m| month_number(m.as_str()));
        let d = c.get(2).and_then(|m| m.as_str().parse::<u32>().ok());
        let y = c.get(3).and_then(|m| m.as_str().parse::<u32>().ok());
        if let (Some(d), Some(m), Some(y)) = (d, m, y) {
            if let (Some(s), Some(m0)) = (iso(y, m, d), c.get(0)) {
                found.push((m0.start(), s));
            }
        }
    }
    found.sort_by_key(|(p, _)| *p);
    let mut out = Vec::new();
    for (_, s) in found {
        push_unique(&mut out, s);
    }
    out
}

fn references(s: &str) -> Vec<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    for c in REF_LABELLED.captures_iter(s) {
        if let Some(v) = c.get(1) {
            let t = v.as_str().trim_end_matches(['.', '-', '/', '_']);
            if t.len() >= 3 && t.bytes().any(|b| b.is_ascii_digit()) {
                found.push((v.start(), t.to_string()));
            }
        }
    }
    for m in REF_AVIS.find_iter(s) {
        found.push((m.start(), m.as_str().to_string()));
    }
    found.sort_by_key(|(p, _)| *p);
    let mut out: Vec<String> = Vec::new();
    for (_, r) in found {
        // The unlabelled shape may re-find a labelled reference.
        if !out.iter().any(|o| o.contains(&r) || r.contains(o.as_str())) {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_years_from_context_only() {
        let f = extract_fields(
            "Concernant mes revenus 2023 et l'impôt 2024, ainsi que la déclaration de revenus 2022. J'habite au 2025 rue X.",
        );
        assert_eq!(f.tax_years, vec![2023, 2024, 2022]);
        assert_eq!(extract_fields("l'année 2021").tax_years, vec![2021]);
        assert_eq!(
            extract_fields("avis d'impôt sur le revenu 2019").tax_years,
            vec![2019]
        );
        assert!(extract_fields("j'ai 2023 raisons").tax_years.is_empty());
        assert_eq!(
            extract_fields("the property tax of 2023 and my income for 2022").tax_years,
            vec![2023, 2022]
        );
    }

    #[test]
    fn amounts_normalised() {
        let f = extract_fields(
            "J'ai payé 1 234,56 € puis 150 euros, et 1.200 € ; reste 12,5 €. Ref 2023.",
        );
        assert_eq!(f.amounts, vec!["1234.56", "150", "1200", "12.50"]);
        let nbsp = extract_fields("montant : 2\u{202f}000,00\u{a0}€");
        assert_eq!(nbsp.amounts, vec!["2000.00"]);
        assert_eq!(extract_fields("EUR 99.90").amounts, vec!["99.90"]);
        assert!(extract_fields("le 12 mars 2024").amounts.is_empty());
    }

    #[test]
    fn dates_iso_and_validated() {
        let f = extract_fields(
            "Le 04/03/2024, puis le 1er avril 2024 et le 15 août 2023; échéance 2024-06-30. Faux: 31/02/2024.",
        );
        assert_eq!(
            f.dates,
            vec!["2024-03-04", "2024-04-01", "2023-08-15", "2024-06-30"]
        );
        assert_eq!(
            extract_fields("On March 4, 2024 I paid").dates,
            vec!["2024-03-04"]
        );
    }

    #[test]
    fn references() {
        let f = extract_fields(
            "Réf. ABC-123. Mon dossier n° 2023-98765 et l'avis 2023 12 345678 9 ; référence : XK 55.",
        );
        assert_eq!(
            f.references,
            vec!["ABC-123", "2023-98765", "2023 12 345678 9", "XK 55"]
        );
        assert!(extract_fields("mon dossier est en cours")
            .references
            .is_empty());
    }

    #[test]
    fn empty() {
        assert_eq!(extract_fields(""), Fields::default());
    }
}
