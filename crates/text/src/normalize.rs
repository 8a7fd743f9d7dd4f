//! Cheap text normalisation shared by every detector.
//!
//! Mail text arrives with every variant of the same character: NBSP and narrow NBSP
//! before French colons, curly apostrophes, decomposed accents from Mac clients,
//! uppercase subjects. Matching all of them in each pattern would make the patterns
//! unreadable and slow, so detectors match on a *folded* copy instead: lowercase,
//! accents removed, one kind of apostrophe, quote and dash, whitespace collapsed.
//! Hand-written rather than `unicode-normalization` + a case-folding crate because it
//! runs on every line of every mail and only needs the Latin letters French, English
//! and neighbouring languages use.

/// Split into lines on `\n`, `\r\n`, lone `\r` and the Unicode line breaks some
/// converters emit (U+0085 NEL, U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR),
/// without the terminators: a signature after a U+2028 is on its own line for the
/// reader, so it must be for the cleaner too.
///
/// This is the line definition of [`crate::clean`]'s no-loss guarantee: every
/// non-blank line this function yields for the body is found, unchanged, in exactly
/// one segment.
pub fn split_lines(body: &str) -> Vec<&str> {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 40 + 1);
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // ASCII bytes are always char boundaries in UTF-8: slicing here is safe.
            b'\n' => {
                out.push(&body[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&body[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            // U+0085 is C2 85; U+2028 / U+2029 are E2 80 A8 / E2 80 A9. These lead
            // bytes start a character, so the slices stay on char boundaries.
            0xC2 if bytes.get(i + 1) == Some(&0x85) => {
                out.push(&body[start..i]);
                i += 1;
                start = i + 1;
            }
            0xE2 if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(&0xA8) | Some(&0xA9)) =>
            {
                out.push(&body[start..i]);
                i += 2;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        out.push(&body[start..]);
    }
    out
}

/// Characters that take no room on screen (zero-width spaces and joiners, word
/// joiner, byte-order mark, soft hyphen). Webmail and HTML-to-text conversion leave
/// them at the start of lines, where they hide a marker from a prefix check just as
/// an indent would.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{ad}'
    )
}

/// Whitespace of any kind (NBSP, narrow NBSP, figure and ideographic spaces, tabs)
/// or an invisible character.
fn is_space_like(c: char) -> bool {
    c.is_whitespace() || is_invisible(c)
}

/// `line` without leading and trailing whitespace of any kind nor invisible
/// characters: what a marker check on the raw line must look at, since an indented
/// " Envoyé de mon iPhone" or "\u{a0}> cité" is the same marker.
pub fn trim_ws(line: &str) -> &str {
    line.trim_matches(is_space_like)
}

/// A line is blank when it holds only whitespace (NBSP included) and invisible
/// characters.
pub fn is_blank(line: &str) -> bool {
    trim_ws(line).is_empty()
}

/// Fold `s` into `out`: lowercase, no accents, `'` for every apostrophe, `"` for
/// every quote, `-` for every dash, single spaces, trimmed. Stops after `max_chars`
/// input characters so that a pathological 1 MB line costs no more than a short one
/// for the line classifiers (which only ever look at the start of a line).
pub fn fold_into(s: &str, out: &mut String, max_chars: usize) {
    let mut pending_space = false;
    for (n, c) in s.chars().enumerate() {
        if n >= max_chars {
            break;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_ascii() {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c.to_ascii_lowercase());
            continue;
        }
        // Combining marks (decomposed accents) vanish.
        if ('\u{300}'..='\u{36f}').contains(&c) || is_invisible(c) {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        for l in c.to_lowercase() {
            push_folded(l, out);
        }
    }
}

fn push_folded(c: char, out: &mut String) {
    let r: &str = match c {
        'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => "a",
        'ç' => "c",
        'é' | 'è' | 'ê' | 'ë' => "e",
        'î' | 'ï' | 'í' | 'ì' => "i",
        'ô' | 'ö' | 'ó' | 'ò' | 'õ' | 'ø' => "o",
        'ù' | 'û' | 'ü' | 'ú' => "u",
        'ÿ' | 'ý' => "y",
        'ñ' => "n",
        'œ' => "oe",
        'æ' => "ae",
        'ß' => "ss",
        '\u{2019}' | '\u{2018}' | '\u{2bc}' | '\u{b4}' | '`' | '\u{2032}' => "'",
        '«' | '»' | '\u{201c}' | '\u{201d}' | '\u{201e}' => "\"",
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}' => "-",
        '\u{2026}' => "...",
        'º' | '°' => "°",
        other => {
            out.push(other);
            return;
        }
    };
    out.push_str(r);
}

/// Folded copy of a whole line or text (see [`fold_into`]).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out, usize::MAX);
    out
}

/// Folded copy of at most the first `max_chars` characters.
pub fn fold_prefix(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 2));
    fold_into(s, &mut out, max_chars);
    out
}

/// Case-preserving cleanup for extractors that must return values as written
/// (references, names): NBSP-like spaces become plain spaces, curly apostrophes
/// straight ones. Character count and order are kept.
pub fn soften(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{a0}' | '\u{202f}' | '\u{2009}' | '\u{2007}' | '\t' => ' ',
            '\u{2019}' | '\u{2018}' | '\u{2bc}' => '\'',
            '\u{2010}' | '\u{2011}' | '\u{2013}' => '-',
            c => c,
        })
        .collect()
}

/// `s[start..end]` widened to the nearest char boundaries and clamped to `s`:
/// regex offsets plus a margin may fall inside a multi-byte character.
pub fn window(s: &str, start: usize, end: usize) -> &str {
    let mut a = start.min(s.len());
    while !s.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = end.min(s.len()).max(a);
    while !s.is_char_boundary(b) {
        b += 1;
    }
    &s[a..b]
}

/// Compile a built-in pattern with ASCII word boundaries. A Unicode `\b` makes
/// the regex engine leave its fast DFA at the first non-ASCII byte (an "€", an
/// accent) and fall back to a much slower engine; the texts matched here are
/// folded, so ASCII boundaries are what the patterns mean anyway.
pub(crate) fn pattern(p: &str) -> regex::Regex {
    let p = p.replace(r"\b", r"(?-u:\b)");
    // The patterns are constants: a failure is a programming error caught by tests.
    regex::Regex::new(&p).unwrap_or_else(|e| panic!("invalid built-in pattern {p}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_lines_handles_all_terminators() {
        assert_eq!(split_lines("a\r\nb\nc\rd"), vec!["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\n"), vec!["a"]);
        assert_eq!(split_lines("a\n\nb"), vec!["a", "", "b"]);
        assert!(split_lines("").is_empty());
        assert_eq!(
            split_lines("a\u{2028}b\u{2029}c\u{85}d\u{e9}"),
            vec!["a", "b", "c", "d\u{e9}"]
        );
    }

    #[test]
    fn invisible_and_odd_spaces_are_trimmed_and_folded_away() {
        assert_eq!(trim_ws("\u{200b}\u{a0} > x\u{feff}"), "> x");
        assert!(is_blank("\u{200b}\u{a0}\u{2060}\t"));
        assert_eq!(fold("\u{feff}\u{2060}Envoy\u{e9}\u{ad} de"), "envoye de");
    }

    #[test]
    fn fold_removes_accents_case_and_odd_spaces() {
        assert_eq!(
            fold("  Le 3 MARS\u{a0}2024,\tJean a écrit\u{202f}:"),
            "le 3 mars 2024, jean a ecrit :"
        );
        assert_eq!(fold("J’ai reçu l\u{2019}AVIS"), "j'ai recu l'avis");
        // Decomposed accent (e + combining acute).
        assert_eq!(fold("Envoye\u{301} de mon iPhone"), "envoye de mon iphone");
        assert_eq!(fold("Œuvre ÉTÉ"), "oeuvre ete");
    }

    #[test]
    fn fold_prefix_bounds_work() {
        assert_eq!(fold_prefix("ABCDEF", 3), "abc");
    }
}
