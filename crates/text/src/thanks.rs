//! Mail that only thanks or closes the exchange ("Merci pour votre réponse
//! rapide", "C'est parfait, bonne journée"): it needs no answer, and the agent
//! is offered to close it without one.
//!
//! Precision is what matters: a question that also says thank you ("Merci pour
//! votre réponse, mais je n'ai toujours pas reçu mon avis") left without an
//! answer is a citizen failed, while a thanks-only mail shown as a question only
//! costs the agent a glance. So every clause of the new text must be a thanks,
//! an acknowledgement or a wish, and anything that could carry a request (a
//! question mark, "mais", a negation, a number, a request verb, an attachment:
//! "ci-joint mon avis" is a document to read) rules it out.

use crate::normalize::fold_prefix;

/// Longer than this, it says more than thanks.
const MAX_CHARS: usize = 400;

/// What each clause may start with.
const CLAUSE_STARTS: &[&str] = &[
    "merci",
    "encore merci",
    "un grand merci",
    "mille merci",
    "je vous remercie",
    "nous vous remercions",
    "thank",
    "thanks",
    "many thanks",
    "parfait",
    "c'est parfait",
    "super",
    "tres bien",
    "bien recu",
    "bien note",
    "ok",
    "d'accord",
    "c'est note",
    "c'est tres clair",
    "c'est clair",
    "c'est tres gentil",
    "great",
    "perfect",
    "noted",
    "bonne journee",
    "bonne soiree",
    "bonne fin de journee",
    "belle journee",
    "bon week-end",
    "have a nice day",
    "have a good day",
    "that's perfect",
    "that's great",
    "that answers my question",
    "cela repond a ma question",
    "ca repond a ma question",
    "tout est en ordre",
    "tout est regle",
    "cordialement",
    "bien a vous",
    "a bientot",
    "best regards",
    "kind regards",
];

/// Words that mean there is more than thanks (folded, matched as words or
/// phrases anywhere in the text).
const BLOCKERS: &[&str] = &[
    "mais",
    "pourtant",
    "cependant",
    "toutefois",
    "neanmoins",
    "toujours",
    "encore une",
    "pas",
    "plus",
    "ne",
    "n'",
    "jamais",
    "aucun",
    "aucune",
    "but",
    "however",
    "still",
    "not",
    "no",
    "ci-joint",
    "ci-jointe",
    "ci joint",
    "piece jointe",
    "pieces jointes",
    "en piece jointe",
    "attached",
    "attachment",
    "voir",
    "vous trouverez",
    "comment",
    "pourquoi",
    "quand",
    "combien",
    "ou",
    "quel",
    "quelle",
    "how",
    "when",
    "why",
    "what",
    "where",
    "pouvez",
    "pourriez",
    "pourrais",
    "could",
    "can",
    "would",
    "please",
    "svp",
    "s'il vous plait",
    "dois-je",
    "faut-il",
    "est-ce",
    "question",
    "souhaite",
    "souhaiterais",
    "voudrais",
    "veuillez",
    "demande",
    "besoin",
    "urgent",
    "probleme",
    "erreur",
    "reclamation",
];

fn has_word(f: &str, w: &str) -> bool {
    f.match_indices(w).any(|(i, _)| {
        let before = f[..i].chars().next_back();
        let after = f[i + w.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        // "n'" ends with its own boundary.
        boundary(before) && (w.ends_with('\'') || boundary(after))
    })
}

/// "Merci de m'envoyer le formulaire", "merci d'indiquer…" is a request in
/// French politeness; "merci de votre aide" is thanks.
fn polite_request(clause: &str) -> bool {
    let rest = clause
        .strip_prefix("merci de ")
        .or_else(|| clause.strip_prefix("merci d'"))
        .or_else(|| clause.strip_prefix("merci par avance de "))
        .or_else(|| clause.strip_prefix("merci d'avance de "));
    rest.is_some_and(|r| {
        ![
            "votre", "vos", "ta", "tes", "cette", "ce ", "l'", "la ", "le ", "ces",
        ]
        .iter()
        .any(|p| r.starts_with(p))
    })
}

/// Whether `new_text` (the cleaned new text of a mail) only thanks, acknowledges
/// or wishes a good day.
pub fn thanks_only(new_text: &str) -> bool {
    if new_text.chars().nth(MAX_CHARS).is_some() {
        return false;
    }
    let f = fold_prefix(new_text, MAX_CHARS);
    if f.is_empty()
        || f.contains('?')
        || f.bytes().any(|b| b.is_ascii_digit())
        || BLOCKERS.iter().any(|w| has_word(&f, w))
    {
        return false;
    }
    let clauses: Vec<&str> = f
        .split(['.', '!', ';', ',', '\n', ':', '-', '('])
        .map(|c| c.trim_matches(|c: char| c.is_whitespace() || c == ')' || c == '"'))
        .filter(|c| !c.is_empty())
        .collect();
    let thanks = clauses.iter().any(|c| {
        [
            "merci",
            "remercie",
            "thank",
            "thanks",
            "parfait",
            "perfect",
            "bien recu",
        ]
        .iter()
        .any(|w| c.contains(w))
    });
    thanks
        && !clauses.iter().any(|c| polite_request(c))
        && clauses.iter().all(|c| {
            c.split_whitespace().count() <= 9
                && CLAUSE_STARTS.iter().any(|s| {
                    c.starts_with(s)
                        && c[s.len()..]
                            .chars()
                            .next()
                            .is_none_or(|ch| !ch.is_alphanumeric())
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thanks_and_closings_need_no_answer() {
        for t in [
            "Merci pour votre réponse rapide.",
            "C'est parfait, bonne journée.",
            "Merci beaucoup !",
            "Bien reçu, merci.",
            "Je vous remercie, tout est en ordre maintenant.",
            "Thanks, that's perfect.",
            "Ok merci beaucoup.",
        ] {
            assert!(thanks_only(t), "{t}");
        }
    }

    #[test]
    fn questions_and_attachments_that_thank_are_not_thanks_only() {
        for t in [
            "Merci pour votre réponse, mais je n'ai toujours pas reçu mon avis.",
            "Merci, ci-joint mon avis d'impôt.",
            "Merci, vous trouverez en pièce jointe le justificatif.",
            "Merci. Pouvez-vous me rappeler",
            "Merci pour votre réponse. Quand serai-je remboursé ?",
            "Merci, je souhaite aussi changer mon RIB.",
            "Merci pour le remboursement de 120 euros.",
            "Merci de m'envoyer le formulaire.",
            "Thanks, see attachment.",
            "",
        ] {
            assert!(!thanks_only(t), "{t}");
        }
    }
}
