//! URLs, phone numbers and e-mail addresses in answer text, and the whitelist check.
//!
//! A reply that sends a citizen to a wrong site or number is the worst failure of a
//! drafting tool (phishing look-alikes, outdated numbers), so every contact point in a
//! draft must be one a reviewer approved in the answer's `links`.

use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    Url,
    Email,
    Phone,
}

impl ContactKind {
    pub fn label(self) -> &'static str {
        match self {
            ContactKind::Url => "URL",
            ContactKind::Email => "e-mail address",
            ContactKind::Phone => "phone number",
        }
    }
}

/// A contact point found in a text (byte range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub kind: ContactKind,
    pub start: usize,
    pub end: usize,
    pub text: String,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+").expect("valid regex")
});
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:https?://|www\.)[^\s<>"'()\[\]]+"#).expect("valid regex")
});
/// A bare domain ("impots.gouv.fr", "paiement-amende.com"): a name or value could
/// smuggle one in without any scheme.
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+(?:fr|com|org|net|eu|info|io|biz|co|be|ch|de|uk|es|it|ly|me|xyz|online|site|gouv\.fr)\b")
        .expect("valid regex")
});
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+33[\s.\-]?(?:\(0\)[\s.\-]?)?|\b0[\s.\-]?)[1-9](?:[\s.\-]?\d){8}\b")
        .expect("valid regex")
});

fn trim_url(s: &str) -> &str {
    s.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '»'])
}

fn digits(s: &str) -> String {
    let d: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    // +33 1 23 … and 01 23 … are the same number.
    match d.strip_prefix("33") {
        Some(rest) if s.trim_start().starts_with('+') => {
            format!("0{}", rest.trim_start_matches('0'))
        }
        _ => d,
    }
}

impl Contact {
    /// Whether a whitelist entry names this contact point. URLs match exactly (modulo
    /// a trailing slash), phones by their digits, e-mails case-insensitively.
    pub fn matches(&self, entry: &str) -> bool {
        let entry = entry.trim();
        match self.kind {
            ContactKind::Url => {
                let a = self.text.trim_end_matches('/');
                let b = entry.trim_end_matches('/');
                a.eq_ignore_ascii_case(b)
            }
            ContactKind::Email => self.text.eq_ignore_ascii_case(entry),
            ContactKind::Phone => {
                let d = digits(entry);
                !d.is_empty() && digits(&self.text) == d
            }
        }
    }
}

/// All contact points, non-overlapping, in order. E-mails first so that the domain of
/// an address is not also reported as a URL.
pub fn find_contacts(text: &str) -> Vec<Contact> {
    let mut out: Vec<Contact> = Vec::new();
    let overlaps =
        |out: &[Contact], s: usize, e: usize| out.iter().any(|c| s < c.end && c.start < e);
    for m in EMAIL.find_iter(text) {
        let t = m.as_str().trim_end_matches('.');
        out.push(Contact {
            kind: ContactKind::Email,
            start: m.start(),
            end: m.start() + t.len(),
            text: t.to_string(),
        });
    }
    for m in URL.find_iter(text) {
        let t = trim_url(m.as_str());
        let (s, e) = (m.start(), m.start() + t.len());
        if !overlaps(&out, s, e) {
            out.push(Contact {
                kind: ContactKind::Url,
                start: s,
                end: e,
                text: t.to_string(),
            });
        }
    }
    for m in DOMAIN.find_iter(text) {
        let (s, e) = (m.start(), m.end());
        if !overlaps(&out, s, e) {
            out.push(Contact {
                kind: ContactKind::Url,
                start: s,
                end: e,
                text: m.as_str().to_string(),
            });
        }
    }
    for m in PHONE.find_iter(text) {
        let (s, e) = (m.start(), m.end());
        if !overlaps(&out, s, e) {
            out.push(Contact {
                kind: ContactKind::Phone,
                start: s,
                end: e,
                text: m.as_str().to_string(),
            });
        }
    }
    out.sort_by_key(|c| c.start);
    out
}

/// Removes every contact point not named in `links`.
pub fn strip_unlisted(text: &str, links: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for c in find_contacts(text) {
        if links.iter().any(|l| c.matches(l)) {
            continue;
        }
        if let Some(before) = text.get(last..c.start) {
            out.push_str(before);
        }
        last = c.end;
    }
    if let Some(rest) = text.get(last..) {
        out.push_str(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_all_three_kinds() {
        let c = find_contacts(
            "Voir https://www.impots.gouv.fr/portail. Appelez le 0 809 401 401 ou le +33 1 23 45 67 89, écrivez à sip.paris@dgfip.finances.gouv.fr.",
        );
        let kinds: Vec<_> = c.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                ContactKind::Url,
                ContactKind::Phone,
                ContactKind::Phone,
                ContactKind::Email
            ]
        );
        assert_eq!(c[0].text, "https://www.impots.gouv.fr/portail");
        assert_eq!(c[3].text, "sip.paris@dgfip.finances.gouv.fr");
    }

    #[test]
    fn whitelist_matching() {
        let c = &find_contacts("tel 0809401401")[0];
        assert!(c.matches("0 809 401 401"));
        assert!(!c.matches("0 809 401 402"));
        let c = &find_contacts("+33 1 23 45 67 89")[0];
        assert!(c.matches("01 23 45 67 89"));
    }

    #[test]
    fn bare_domains_are_contacts() {
        let c = find_contacts("sur impots.gouv.fr ou sur paiement-amendes.com.");
        assert_eq!(c.len(), 2);
        assert!(c[0].matches("impots.gouv.fr"));
        assert_eq!(c[1].text, "paiement-amendes.com");
        assert!(find_contacts("Article L. 123, art. 4.1 du code").is_empty());
    }

    #[test]
    fn years_and_amounts_are_not_phones() {
        assert!(find_contacts("En 2024, 1 500 euros pour 12 mois.").is_empty());
    }

    #[test]
    fn strip_keeps_listed_only() {
        let s = strip_unlisted(
            "a https://ok.fr b https://bad.example c",
            &["https://ok.fr".to_string()],
        );
        assert_eq!(s, "a https://ok.fr b  c");
    }
}
