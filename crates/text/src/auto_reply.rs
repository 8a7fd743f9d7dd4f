//! The words of an auto-reply, for responders that set none of the headers
//! `facteur-mail` reads (many webmails and old Exchange servers): "Je suis
//! absente du bureau jusqu'au 12 mars", "Réponse automatique : …", "I am out of
//! the office".
//!
//! Precision first: a citizen's "je suis absent de France depuis 2023, comment
//! déclarer ?" is a question, and calling it automatic would leave it without an
//! answer. So one clue of absence is never enough: it takes the subject of an
//! auto-reply, an explicit "réponse automatique" / "automatic reply" in a short
//! text, or two distinct clues (absence + return date, absence + no access to
//! mail) in a short text.

use crate::normalize::fold_prefix;

/// Auto-replies are short; a long text with one of these words is a letter.
const MAX_CHARS: usize = 1500;

/// Subjects responders put in front of the original subject.
const SUBJECT_PREFIXES: &[&str] = &[
    "reponse automatique",
    "message automatique",
    "absence du bureau",
    "message d'absence",
    "absent du bureau",
    "absente du bureau",
    "absent(e) du bureau",
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto:",
    "out of office",
    "out of the office",
    "ooo:",
];

/// Sentences only a responder writes.
const EXPLICIT: &[&str] = &[
    "ceci est une reponse automatique",
    "ceci est un message automatique",
    "ceci est un courriel automatique",
    "reponse automatique",
    "message d'absence",
    "this is an automatic reply",
    "this is an automated reply",
    "this is an automated response",
    "this is an auto-reply",
    "automatic reply",
    "out of office",
    "out of the office",
];

/// Clues of absence, grouped: two clues from different groups are needed.
const CLUES: &[&[&str]] = &[
    // Away.
    &[
        "je suis absent",
        "je suis absente",
        "je suis absent(e)",
        "je serai absent",
        "je serai absente",
        "je suis actuellement absent",
        "je suis actuellement absente",
        "absent du bureau",
        "absente du bureau",
        "absent(e) du bureau",
        "hors du bureau",
        "je suis en conge",
        "je suis actuellement en conge",
        "en conges jusqu",
        "en conge jusqu",
        "i am away",
        "i am currently away",
        "i'm currently away",
        "i am currently out",
        "i'm currently out",
        "i am on leave",
        "i am on annual leave",
        "i am on holiday",
        "away from the office",
        "on leave until",
    ],
    // Back on a date.
    &[
        "de retour le",
        "de retour a partir du",
        "je serai de retour",
        "a mon retour",
        "des mon retour",
        "i will be back",
        "i'll be back",
        "i will return",
        "upon my return",
        "on my return",
        "back in the office",
    ],
    // Mail not read, someone else to contact.
    &[
        "pas acces a ma messagerie",
        "sans acces a ma messagerie",
        "acces limite a ma messagerie",
        "ne sera pas lu",
        "ne sera pas transfere",
        "en cas d'urgence",
        "pour toute urgence",
        "vous pouvez contacter",
        "limited access to email",
        "limited access to my email",
        "no access to email",
        "will not be read",
        "for urgent matters",
        "in case of emergency",
        "please contact",
    ],
];

/// Whether `subject` and `text` (the new text of the mail) read as an
/// auto-reply. Pure and bounded: only the first [`MAX_CHARS`] characters are
/// folded.
pub fn auto_reply_text(subject: &str, text: &str) -> bool {
    let subj = fold_prefix(subject, 200);
    let subj = subj.trim_start_matches(['[', ' ']).to_string();
    if SUBJECT_PREFIXES.iter().any(|p| subj.starts_with(p)) {
        return true;
    }
    if text.chars().nth(MAX_CHARS).is_some() {
        return false;
    }
    let f = fold_prefix(text, MAX_CHARS);
    if EXPLICIT.iter().any(|p| f.contains(p)) {
        return true;
    }
    let groups = CLUES
        .iter()
        .filter(|g| g.iter().any(|p| f.contains(p)))
        .count();
    // Away is required: "à mon retour" + "vous pouvez contacter" could be a citizen.
    groups >= 2 && CLUES[0].iter().any(|p| f.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_and_english_auto_replies() {
        for (s, t) in [
            ("Réponse automatique : votre demande", "Je suis absente."),
            ("Absence du bureau", ""),
            ("Automatic reply: question", "Thanks"),
            ("[Auto-Reply] Re: avis", ""),
            ("Re: avis", "Bonjour,\nJe suis absent du bureau jusqu'au 12 mars. Je serai de retour le 13.\nCordialement"),
            ("Re: avis", "Ceci est une réponse automatique. Votre message a bien été reçu."),
            ("RE: tax", "I am currently out of the office with limited access to email. I will be back on Monday."),
            ("RE: tax", "Hello, I am on annual leave until 3 May. For urgent matters please contact my colleague."),
        ] {
            assert!(auto_reply_text(s, t), "{s} / {t}");
        }
    }

    #[test]
    fn citizens_mentioning_absence_are_not_auto_replies() {
        for (s, t) in [
            ("Déclaration", "Je suis absent de France depuis 2023 : comment déclarer mes revenus ?"),
            ("Avis", "J'étais en congé et je n'ai pas pu payer à temps, je serai de retour en France le 3 mai, que faire ?"),
            ("Question", "Mon employeur m'a mis en congé maternité, dois-je déclarer les indemnités ?"),
            ("Re: ma demande", "Merci pour votre réponse rapide."),
            ("Out of pocket expenses", "How do I declare my expenses?"),
        ] {
            assert!(!auto_reply_text(s, t), "{s} / {t}");
        }
        // A long letter quoting "réponse automatique" is a letter.
        let long = format!(
            "J'ai reçu une réponse automatique. {}",
            "Ma situation est compliquée. ".repeat(80)
        );
        assert!(!auto_reply_text("Réclamation", &long));
    }
}
