//! Candidate finders for the kinds with a recognisable shape: identifiers (IBAN,
//! NIR, fiscal number), phones, e-mails and postal addresses.
//!
//! The `regex` crate has no look-around, so the "not inside a longer digit run"
//! rules are checked by hand around each match, and a rejected match is retried
//! one character further so that a valid value hiding behind it is not skipped.

use facteur_core::PiiKind;
use once_cell::sync::Lazy;
use regex::Regex;

use crate::checksum::{is_id_separator, is_valid_fiscal_number, is_valid_iban, is_valid_nir};
use crate::Candidate;

const SEP: &str = r"[ .\-\u{a0}\u{202f}]";

pub(crate) static IBAN_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"[A-Z]{2}[0-9]{2}(?:[ \u{a0}\u{202f}]?[A-Z0-9]){11,30}").expect("constant regex")
});

pub(crate) static NIR_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(&format!(
        r"[1-478](?:{SEP}?[0-9]){{4}}{SEP}?(?:[0-9]{SEP}?[0-9]|2[ABab])(?:{SEP}?[0-9]){{8}}"
    ))
    .expect("constant regex")
});

pub(crate) static FISCAL_RE: Lazy<Regex> =
    Lazy::new(|| Regex::new(&format!(r"[0-3](?:{SEP}?[0-9]){{12}}")).expect("constant regex"));

/// Words that announce a fiscal number; with one of them just before, the
/// boundary rule is relaxed (a number may be followed by " 2 enfants").
pub(crate) static FISCAL_CONTEXT_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(
        r"(?i)(?:fiscal|(?-u:\b)spi(?-u:\b)|n°\s*fiscal|identifiant\s+fiscal|num[ée]ro\s+fiscal)",
    )
    .expect("constant regex")
});

pub(crate) static PHONE_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(&format!(
        r"(?:(?:\+|00)33{SEP}?(?:\(0\){SEP}?)?|0)[1-9](?:{SEP}?[0-9]{{2}}){{4}}"
    ))
    .expect("constant regex")
});

pub(crate) static EMAIL_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(
        r"[\p{L}\p{N}_%+\-][\p{L}\p{N}._%+\-]*@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,}",
    )
    .expect("constant regex")
});

/// A capitalised street-name tail: "de la Paix", "Victor Hugo", "du 8 Mai 1945".
const TAIL: &str = r"(?:[ \u{a0}]+(?:(?:de|du|des|la|le|les|aux|au|à|sur|sous|en)[ \u{a0}]+)*(?:[dlDL]['’])?(?:\p{Lu}\p{Ll}{0,2}\.|\p{Lu}[\p{L}\-'’]*|[0-9]{1,4}(?:er|e)?(?-u:\b)))+";
/// Fallback when the street is typed in lower case: at most three words, so a
/// whole sentence is not swallowed.
const TAIL_LOWER: &str = r"(?:[ \u{a0}]+\p{Ll}[\p{L}\-'’]*){1,3}";
const STREET_TYPES: &str = r"(?:rue|avenue|ave|boulevard|bd|bld|blvd|all[ée]e|place|chemin|impasse|route|rte|quai|cours|square|lieu-dit|lieudit|r[ée]sidence|passage|sentier|voie|esplanade|faubourg|fbg|hameau|rond-point|promenade|villa|clos|parvis|mont[ée]e|traverse|venelle|ruelle|lotissement|domaine|chauss[ée]e)(?-u:\b)|cite(?-u:\b)|cité|(?:av|pl|ch|imp|sq|fg|bd)\.";

pub(crate) static STREET_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(&format!(
        r"(?:(?i:b[âa]t(?:iment)?\.?|esc(?:alier)?\.?|app?t\.?|appartement|entr[ée]e)[ \u{{a0}}]*[A-Z0-9]{{1,4}}[ \u{{a0}}]*,?[ \u{{a0}}]*)*(?-u:\b)[0-9]{{1,4}}(?:[ \u{{a0}}]?(?i:bis|ter|quater|[a-d])(?-u:\b))?,?[ \u{{a0}}]*(?i:{STREET_TYPES})(?:{TAIL}|{TAIL_LOWER})"
    ))
    .expect("constant regex")
});

/// A named place without a street number: "Résidence Les Pins", "lieu-dit Le Bourg".
pub(crate) static PLACE_RE: Lazy<Regex> = Lazy::new(|| {
    // The keyword capitalised (or lieu-dit) and a capitalised name right after it:
    // "carte de résidence en France" and "résidence de 10 ans" are not places.
    Regex::new(&format!(
        r"(?-u:\b)(?:R[ée]sidence|R[ÉE]SIDENCE|Lotissement|LOTISSEMENT|Hameau|HAMEAU|(?i:lieu-dit|lieudit))[ \u{{a0}}]+\p{{Lu}}[\p{{L}}\-'’]*(?:{TAIL})?"
    ))
    .expect("constant regex")
});

pub(crate) static BP_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?-u:\b)(?:BP|B\.P\.|CS|TSA)[ \u{a0}]?[0-9]{1,6}(?-u:\b)").expect("constant regex")
});

const CITY_WORD: &str = r"(?:\p{Lu}[\p{L}'’]*(?:-(?:\p{Lu}[\p{L}'’]*|sur|sous|en|le|la|les|lès|lez|de|du|des|et|[dl]['’]\p{Lu}[\p{L}]*))*)";

pub(crate) static POSTCODE_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(&format!(
        r"(?-u:\b)(?:0[1-9]|[1-8][0-9]|9[0-8])[0-9]{{3}}[ \u{{a0}}]+{CITY_WORD}(?:[ \u{{a0}}]{CITY_WORD}){{0,3}}(?:[ \u{{a0}}]+(?i:cedex)(?:[ \u{{a0}}]+[0-9]{{1,2}}(?-u:\b))?)?"
    ))
    .expect("constant regex")
});

pub(crate) static CEDEX_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(
        r"(?-u:\b)\p{Lu}[\p{L}\-'’]+[ \u{a0}]+(?i:cedex)(?-u:\b)(?:[ \u{a0}]+[0-9]{1,2}(?-u:\b))?",
    )
    .expect("constant regex")
});

/// Words that follow a 5-digit number without being a city: amounts, counts and
/// the start of the next sentence.
fn is_city_stopword(w: &str) -> bool {
    matches!(
        w.to_lowercase().as_str(),
        "euros"
            | "euro"
            | "eur"
            | "francs"
            | "habitants"
            | "personnes"
            | "je"
            | "j'ai"
            | "nous"
            | "vous"
            | "il"
            | "elle"
            | "merci"
            | "cordialement"
            | "bonjour"
            | "madame"
            | "monsieur"
            | "tél"
            | "tel"
            | "téléphone"
            | "mail"
            | "email"
            | "e-mail"
            | "le"
            | "la"
            | "les"
            | "objet"
            | "référence"
            | "ref"
            | "numéro"
            | "n°"
    )
}

pub(crate) fn prev_char(text: &str, i: usize) -> Option<char> {
    text.get(..i).and_then(|s| s.chars().next_back())
}

pub(crate) fn next_char(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

fn next_boundary(text: &str, i: usize) -> usize {
    next_char(text, i).map_or(text.len(), |c| i + c.len_utf8())
}

/// True when the match touches a letter or digit, or continues a digit run
/// across one separator ("12 1234567890123", "…123,45").
fn touches_digits(text: &str, start: usize, end: usize, strict_only: bool) -> bool {
    let before = prev_char(text, start);
    let after = next_char(text, end);
    if before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric) {
        return true;
    }
    if strict_only {
        return false;
    }
    if let Some(b) = before {
        if is_id_separator(b) || b == ',' {
            let start2 = start - b.len_utf8();
            if prev_char(text, start2).is_some_and(|c| c.is_ascii_digit()) {
                return true;
            }
        }
    }
    if let Some(a) = after {
        if (is_id_separator(a) || a == ',')
            && next_char(text, end + a.len_utf8()).is_some_and(|c| c.is_ascii_digit())
        {
            return true;
        }
    }
    false
}

/// Runs `re` over `text`, keeping matches `accept` approves (possibly narrowed);
/// after a rejection the search restarts one character after the rejected start.
fn scan(
    re: &Regex,
    text: &str,
    kind: PiiKind,
    out: &mut Vec<Candidate>,
    mut accept: impl FnMut(usize, usize) -> Option<(usize, usize)>,
) {
    let mut pos = 0;
    while pos <= text.len() {
        let Some(m) = re.find_at(text, pos) else {
            break;
        };
        if let Some((s, e)) = accept(m.start(), m.end()) {
            out.push(Candidate {
                kind,
                start: s,
                end: e,
            });
            pos = e.max(next_boundary(text, m.start()));
        } else {
            pos = next_boundary(text, m.start());
        }
        if m.start() >= text.len() {
            break;
        }
    }
}

fn has_fiscal_context(text: &str, start: usize) -> bool {
    let mut from = start.saturating_sub(60);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    text.get(from..start)
        .is_some_and(|w| FISCAL_CONTEXT_RE.is_match(w))
}

/// An amount written with a large number of digits: "1 234 567 890 123 €".
fn followed_by_currency(text: &str, end: usize) -> bool {
    let rest = text.get(end..).unwrap_or("");
    let rest = rest.trim_start_matches([' ', '\u{a0}', '\u{202f}']);
    rest.starts_with('€') || rest.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("eur"))
}

pub(crate) fn find_identifiers(text: &str, out: &mut Vec<Candidate>) {
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return;
    }
    scan(&IBAN_RE, text, PiiKind::Iban, out, |s, e| {
        if prev_char(text, s).is_some_and(char::is_alphanumeric) {
            return None;
        }
        // The regex is greedy and may eat the next word: try shorter ends, longest
        // first, stopping only where the text has a word boundary.
        let sub = &text[s..e];
        let mut ends: Vec<usize> = sub
            .char_indices()
            .filter(|(_, c)| c.is_ascii_alphanumeric())
            .map(|(i, c)| s + i + c.len_utf8())
            .collect();
        ends.reverse();
        ends.into_iter()
            .filter(|&end| !next_char(text, end).is_some_and(char::is_alphanumeric))
            .find(|&end| is_valid_iban(&text[s..end]))
            .map(|end| (s, end))
    });
    scan(&NIR_RE, text, PiiKind::Nir, out, |s, e| {
        (!touches_digits(text, s, e, false) && is_valid_nir(&text[s..e])).then_some((s, e))
    });
    scan(&FISCAL_RE, text, PiiKind::FiscalNumber, out, |s, e| {
        let context = has_fiscal_context(text, s);
        (!touches_digits(text, s, e, context)
            && is_valid_fiscal_number(&text[s..e])
            && (context || !followed_by_currency(text, e))
            // "0033 6 12 34 56 78" is a phone written with its international prefix.
            && (context || !text[s..e].starts_with("0033")))
        .then_some((s, e))
    });
    scan(&PHONE_RE, text, PiiKind::Phone, out, |s, e| {
        (!touches_digits(text, s, e, false)).then_some((s, e))
    });
}

pub(crate) fn find_emails(text: &str, out: &mut Vec<Candidate>) {
    if !text.contains('@') {
        return;
    }
    scan(&EMAIL_RE, text, PiiKind::Email, out, |s, e| {
        // A leading dot is punctuation, not part of the address.
        let s = s + text[s..e].len() - text[s..e].trim_start_matches('.').len();
        Some((s, e))
    });
}

pub(crate) fn find_addresses(text: &str, out: &mut Vec<Candidate>) {
    let kind = PiiKind::PostalAddress;
    let has_digit = text.bytes().any(|b| b.is_ascii_digit());
    if has_digit {
        scan(&STREET_RE, text, kind, out, |s, e| Some((s, e)));
        scan(&BP_RE, text, kind, out, |s, e| Some((s, e)));
        scan(&POSTCODE_RE, text, kind, out, |s, e| {
            if touches_digits(text, s, s + 5, false) {
                return None;
            }
            // Drop trailing words that start the next sentence; reject amounts.
            let m = &text[s..e];
            let mut words: Vec<(usize, &str)> = Vec::new();
            let mut word_start = None;
            for (i, c) in m.char_indices() {
                if c == ' ' || c == '\u{a0}' {
                    if let Some(st) = word_start.take() {
                        words.push((st, &m[st..i]));
                    }
                } else if word_start.is_none() {
                    word_start = Some(i);
                }
            }
            if let Some(st) = word_start {
                words.push((st, &m[st..]));
            }
            // words[0] is the postcode.
            let first_city = words.get(1)?.1;
            if is_city_stopword(first_city)
                && !matches!(first_city.to_lowercase().as_str(), "le" | "la" | "les")
            {
                return None;
            }
            let mut last = words.len() - 1;
            while last >= 1
                && is_city_stopword(words[last].1)
                && !words[last].1.eq_ignore_ascii_case("cedex")
            {
                last -= 1;
            }
            if last == 0 {
                return None;
            }
            let (off, w) = words[last];
            Some((s, s + off + w.len()))
        });
    }
    // Cheap gates for the rarer rules: one ASCII-lowercased copy, plain substring
    // searches, instead of running each regex over every mail.
    let lower = text.to_ascii_lowercase();
    if lower.contains("cedex") {
        scan(&CEDEX_RE, text, kind, out, |s, e| Some((s, e)));
    }
    if ["sidence", "lieu", "hameau", "lotissement"]
        .iter()
        .any(|k| lower.contains(k))
    {
        scan(&PLACE_RE, text, kind, out, |s, e| Some((s, e)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str, f: fn(&str, &mut Vec<Candidate>)) -> Vec<(PiiKind, String)> {
        let mut v = Vec::new();
        f(text, &mut v);
        v.into_iter()
            .map(|c| (c.kind, text[c.start..c.end].to_string()))
            .collect()
    }

    #[test]
    fn iban_greedy_match_is_trimmed_to_the_valid_length() {
        let v = found(
            "IBAN FR76 3000 6000 0112 3456 7890 189 A compter de ce jour",
            find_identifiers,
        );
        assert!(v.contains(&(PiiKind::Iban, "FR76 3000 6000 0112 3456 7890 189".into())));
    }

    #[test]
    fn digit_runs_are_not_split() {
        let v = found("ref 01234567890123 fin", find_identifiers);
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn fiscal_context_relaxes_boundary() {
        let with = found("Numéro fiscal 1234567890123 2 enfants", find_identifiers);
        assert_eq!(with, vec![(PiiKind::FiscalNumber, "1234567890123".into())]);
        let without = found("code 1234567890123 2 enfants", find_identifiers);
        assert!(without.is_empty(), "{without:?}");
    }

    #[test]
    fn postcode_followed_by_amount_word_is_not_an_address() {
        assert!(found("un total de 12345 Euros", find_addresses).is_empty());
        assert_eq!(
            found("75002 Paris Merci", find_addresses),
            vec![(PiiKind::PostalAddress, "75002 Paris".into())]
        );
        // Non-breaking spaces are two bytes: offsets must still land right.
        assert_eq!(
            found("75002\u{a0}\u{a0}Saint-Denis\u{a0}Merci", find_addresses),
            vec![(
                PiiKind::PostalAddress,
                "75002\u{a0}\u{a0}Saint-Denis".into()
            )]
        );
    }
}
