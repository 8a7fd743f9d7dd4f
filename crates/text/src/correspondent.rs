//! Who wrote the mail, for the salutation of the draft ("Madame Dupont,").
//!
//! A wrong name or civility in an administration's answer is worse than a neutral
//! "Madame, Monsieur": every rule here returns `None` rather than guess.

use facteur_core::SegmentKind;
use once_cell::sync::Lazy;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::normalize::{fold, soften};
use crate::segment::Cleaned;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Correspondent {
    /// "Madame" or "Monsieur".
    pub civilite: Option<String>,
    /// The name as written ("Jean Dupont", "DUPONT Jean"), trimmed.
    pub name: Option<String>,
}

static SOUSSIGNE: Lazy<Regex> = Lazy::new(|| {
    crate::normalize::pattern(
        r"(?i:\bje\s+soussign(?:é|e))(\(e\)|e)?\s*,?\s*(?:((?i:m\.|mr\.?|mme\.?|mlle\.?|monsieur|madame|mademoiselle))\s+)?(\p{Lu}[\p{L}'\-]*(?:\s+(?:(?:de|du|des|van|von|le|la)\s+)?\p{Lu}[\p{L}'\-]*){0,3})",
    )
});

/// Tokens that make a line an organisation, a device or a formula, not a person.
const NOT_A_NAME: &[&str] = &[
    "service",
    "services",
    "direction",
    "centre",
    "impots",
    "impot",
    "finances",
    "publiques",
    "sip",
    "sie",
    "dgfip",
    "mairie",
    "contact",
    "info",
    "infos",
    "noreply",
    "no-reply",
    "support",
    "equipe",
    "cabinet",
    "societe",
    "sarl",
    "sas",
    "association",
    "iphone",
    "android",
    "envoye",
    "sent",
    "cordialement",
    "merci",
    "bonjour",
    "madame",
    "monsieur",
    "tel",
    "tel.",
    "telephone",
    "portable",
    "mobile",
    "adresse",
    "rue",
    "avenue",
    "boulevard",
    "gmail",
    "orange",
    "outlook",
    "free",
    "yahoo",
    "hotmail",
    "regards",
    "salutations",
    "administrateur",
    "admin",
    "comptabilite",
    "secretariat",
    "accueil",
    "the",
    "team",
];

const PARTICLES: &[&str] = &[
    "de", "du", "des", "d'", "van", "von", "le", "la", "del", "da", "di",
];

fn civility_of(token: &str) -> Option<&'static str> {
    match fold(token).trim_end_matches('.') {
        "m" | "mr" | "monsieur" => Some("Monsieur"),
        // English titles too: an English display name "Mrs Jane Smith" must not give
        // the name "Mrs Jane Smith" (the draft maps the civility back to English).
        "mme" | "madame" | "mlle" | "mademoiselle" | "mrs" | "ms" | "miss" => Some("Madame"),
        _ => None,
    }
}

/// A person's name as written on a signature line or in a From display name.
/// `allow_lowercase` accepts "jean dupont" (display names are often typed so).
fn name_like(s: &str, allow_lowercase: bool) -> Option<(Option<&'static str>, String)> {
    let s = soften(s);
    let s = s
        .trim()
        .trim_matches(|c: char| {
            c == '"' || c == '\'' || c == ',' || c == ';' || c == '.' || c == '-'
        })
        .trim();
    if s.is_empty() || s.chars().count() > 60 || s.contains('@') {
        return None;
    }
    let mut tokens: Vec<&str> = s.split_whitespace().collect();
    let mut civ = None;
    if let Some(c) = tokens.first().and_then(|t| civility_of(t)) {
        civ = Some(c);
        tokens.remove(0);
    }
    let min = if civ.is_some() { 1 } else { 2 };
    if tokens.len() < min || tokens.len() > 4 {
        return None;
    }
    let last = tokens.len() - 1;
    for (k, t) in tokens.iter().enumerate() {
        let t = t.trim_end_matches(',');
        let tf = fold(t);
        if NOT_A_NAME.contains(&tf.as_str()) || civility_of(t).is_some() {
            return None;
        }
        if !t
            .chars()
            .all(|c| c.is_alphabetic() || c == '-' || c == '\'' || c == '.')
        {
            return None;
        }
        let first = t.chars().next()?;
        let particle = k > 0 && k < last && PARTICLES.contains(&tf.as_str());
        // "d'Artagnan", "d'Estaing": an elided particle glued to a capitalised name.
        let elided = k > 0
            && t.strip_prefix("d'")
                .and_then(|r| r.chars().next())
                .is_some_and(char::is_uppercase);
        if !first.is_uppercase() && !particle && !elided && !allow_lowercase {
            return None;
        }
    }
    Some((civ, tokens.join(" ").trim_end_matches(',').to_string()))
}

struct Found {
    civ: Option<&'static str>,
    name: Option<String>,
}

fn from_soussigne(text: &str) -> Option<Found> {
    let t = soften(text);
    let c = SOUSSIGNE.captures(&t)?;
    let feminine = c
        .get(1)
        .is_some_and(|m| m.as_str().eq_ignore_ascii_case("e"));
    let explicit = c.get(2).and_then(|m| civility_of(m.as_str()));
    let name = c.get(3).and_then(|m| {
        let n = m.as_str().trim();
        // A capitalised sentence start ("Je soussignée Demande…") is not a name:
        // require it to pass the same test as a signature, one word allowed.
        let ok = n
            .split_whitespace()
            .all(|w| !NOT_A_NAME.contains(&fold(w).as_str()) && civility_of(w).is_none());
        ok.then(|| n.to_string())
    });
    let civ = explicit.or(if feminine { Some("Madame") } else { None });
    (civ.is_some() || name.is_some()).then_some(Found { civ, name })
}

fn from_signature(cleaned: &Cleaned) -> Option<Found> {
    let own: Vec<_> = cleaned.own_segments().collect();
    let mut candidates: Vec<String> = Vec::new();
    if let Some(ci) = own.iter().rposition(|s| s.kind == SegmentKind::Closing) {
        // "Cordialement, Jean Dupont" on one line.
        if let Some(last) = own[ci].text.lines().last() {
            if let Some((_, after)) = last.split_once(',') {
                candidates.push(after.to_string());
            }
        }
        if let Some(sig) = own.get(ci + 1).filter(|s| s.kind == SegmentKind::Signature) {
            candidates.extend(
                sig.text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .take(2)
                    .map(String::from),
            );
        }
    } else if let Some(sig) = own.iter().find(|s| s.kind == SegmentKind::Signature) {
        // "-- " block: the name is the line right after the marker.
        let mut lines = sig.text.lines().filter(|l| !l.trim().is_empty());
        if lines.next().is_some_and(|l| l.trim() == "--") {
            candidates.extend(lines.take(1).map(String::from));
        }
    }
    candidates.iter().find_map(|c| {
        name_like(c, false).map(|(civ, name)| Found {
            civ,
            name: Some(name),
        })
    })
}

fn from_display(name: &str) -> Option<Found> {
    // "Dupont, Jean" is written so by some directories (surname, given name): the
    // greeting reads it back in order, "Jean Dupont", rather than "Dupont, Jean,".
    let s = soften(name);
    let unquoted = s.trim().trim_matches('"').trim();
    let reordered = match unquoted.split_once(',') {
        Some((last, first)) if !first.contains(',') && !first.trim().is_empty() => {
            format!("{} {}", first.trim(), last.trim())
        }
        _ => unquoted.to_string(),
    };
    name_like(&reordered, true).map(|(civ, _)| Found {
        civ,
        name: Some({
            let t = reordered.as_str();
            // Drop the civility the name started with.
            let mut parts = t.splitn(2, char::is_whitespace);
            match (parts.next(), parts.next()) {
                (Some(first), Some(rest)) if civility_of(first).is_some() => {
                    rest.trim().to_string()
                }
                _ => t.to_string(),
            }
        }),
    })
}

/// Who wrote: "Je soussigné(e) X" first, then the signature (the name after the
/// closing), then the From display name. Civility only from a source that names
/// the same person (or no one), so a spouse's From address cannot gender a letter.
pub fn correspondent(cleaned: &Cleaned, from_display_name: Option<&str>) -> Correspondent {
    let new_text = cleaned.new_text();
    let sources: Vec<Found> = [
        from_soussigne(&new_text),
        from_signature(cleaned),
        from_display_name.and_then(from_display),
    ]
    .into_iter()
    .flatten()
    .collect();
    let name = sources.iter().find_map(|f| f.name.clone());
    let same = |f: &Found| match (&f.name, &name) {
        (None, _) | (_, None) => true,
        (Some(a), Some(b)) => fold(a) == fold(b),
    };
    let civ = sources.iter().filter(|f| same(f)).find_map(|f| f.civ);
    Correspondent {
        civilite: civ.map(String::from),
        name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::clean;

    #[test]
    fn soussignee_gives_madame_and_name() {
        let c = clean("Bonjour,\n\nJe soussignée Marie MARTIN, demeurant à Lyon, conteste l'avis.\n\nCordialement");
        let r = correspondent(&c, None);
        assert_eq!(r.civilite.as_deref(), Some("Madame"));
        assert_eq!(r.name.as_deref(), Some("Marie MARTIN"));
    }

    #[test]
    fn soussigne_masculine_does_not_guess_civility() {
        let c = clean("Je soussigné Paul Durand demande un délai.");
        let r = correspondent(&c, None);
        assert_eq!(r.name.as_deref(), Some("Paul Durand"));
        assert_eq!(r.civilite, None);
        let c = clean("Je soussigné M. Paul Durand demande un délai.");
        assert_eq!(
            correspondent(&c, None).civilite.as_deref(),
            Some("Monsieur")
        );
    }

    #[test]
    fn signature_name_after_closing() {
        let c = clean(
            "Bonjour,\nJe n'ai pas reçu mon avis.\nCordialement,\nJean Dupont\n06 12 34 56 78",
        );
        let r = correspondent(&c, Some("Service courrier"));
        assert_eq!(r.name.as_deref(), Some("Jean Dupont"));
        assert_eq!(r.civilite, None);
        let c = clean("Bonjour,\nJe n'ai pas reçu mon avis.\nBien à vous,\nMme Claire Petit");
        let r = correspondent(&c, None);
        assert_eq!(r.name.as_deref(), Some("Claire Petit"));
        assert_eq!(r.civilite.as_deref(), Some("Madame"));
    }

    #[test]
    fn from_name_fallback_and_civility_from_from() {
        let c = clean("Bonjour, où en est mon remboursement ?\nMerci");
        let r = correspondent(&c, Some("\"M. Ahmed Benali\""));
        assert_eq!(r.name.as_deref(), Some("Ahmed Benali"));
        assert_eq!(r.civilite.as_deref(), Some("Monsieur"));
        let r = correspondent(&c, Some("jean dupont"));
        assert_eq!(r.name.as_deref(), Some("jean dupont"));
    }

    #[test]
    fn none_when_unsure() {
        let c = clean("Bonjour, où en est mon remboursement ?\nCordialement\nJean");
        let r = correspondent(&c, Some("jdupont75"));
        assert_eq!(r, Correspondent::default());
        let r = correspondent(&c, Some("SIP Paris 12"));
        assert_eq!(r, Correspondent::default());
        let r = correspondent(&clean(""), None);
        assert_eq!(r, Correspondent::default());
    }

    #[test]
    fn elided_particle_names_are_names() {
        let c = clean("Bonjour,\nJe n'ai pas reçu mon avis.\nCordialement,\nPierre d'Artagnan");
        assert_eq!(
            correspondent(&c, None).name.as_deref(),
            Some("Pierre d'Artagnan")
        );
        let c = clean(
            "Bonjour,\nJe n'ai pas reçu mon avis.\nBien à vous,\nMme Valérie d\u{2019}Estaing",
        );
        let r = correspondent(&c, None);
        assert_eq!(r.name.as_deref(), Some("Valérie d'Estaing"));
        assert_eq!(r.civilite.as_deref(), Some("Madame"));
        // Still not a sentence: "Cordialement, merci d'avance".
        let c = clean("Bonjour,\nMa question.\nCordialement,\nmerci d'avance");
        assert_eq!(correspondent(&c, None).name, None);
    }

    #[test]
    fn a_directory_display_name_is_put_back_in_reading_order() {
        // "Dupont, Jean" would read "Bonjour Madame Dupont, Jean," in the greeting.
        let c = clean("Bonjour, où en est mon remboursement ?\nMerci");
        for (from, want) in [
            ("Dupont, Jean", "Jean Dupont"),
            ("\"LE GOFF, Marie-Ève\"", "Marie-Ève LE GOFF"),
            ("Dupont Jean", "Dupont Jean"),
        ] {
            assert_eq!(
                correspondent(&c, Some(from)).name.as_deref(),
                Some(want),
                "{from}"
            );
        }
    }

    #[test]
    fn english_titles_are_civilities_not_names() {
        let c = clean("Hello, I have not received my tax notice.\nThanks");
        for from in ["Mrs Jane Smith", "Ms. Jane Smith", "Miss Jane Smith"] {
            let r = correspondent(&c, Some(from));
            assert_eq!(r.name.as_deref(), Some("Jane Smith"), "{from}");
            assert_eq!(r.civilite.as_deref(), Some("Madame"), "{from}");
        }
    }

    #[test]
    fn civility_not_taken_from_another_person() {
        let c = clean("Bonjour,\nMa question.\nCordialement,\nMarie Durand");
        let r = correspondent(&c, Some("M. Paul Durand"));
        assert_eq!(r.name.as_deref(), Some("Marie Durand"));
        assert_eq!(r.civilite, None);
    }
}
