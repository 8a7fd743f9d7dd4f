//! "Ci-joint mon avis" with nothing attached: the citizen meant to send a
//! document, and the agent should ask for it rather than answer without it.
//! Only the new text counts (a quoted "> ci-joint" is an earlier message's), and
//! a sentence that says there is no attachment, or asks whether to send one, is
//! not a mention.

use once_cell::sync::Lazy;
use regex::Regex;

use crate::normalize::{fold, pattern as re};

/// Wording of a document sent with the mail, in folded French or English.
static MENTION: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\bci[- ]?join(?:t|te|ts|tes)\b|\ben pj\b|\bpj\s*:|\b(?:en |les |la |une |des |vos |mes |ma |mon )?pieces? jointes?\b|\bje vous (?:joins|transmets ci|adresse ci)\b|\bje joins (?:ci|a (?:ce|mon|ma)|au present|mon|ma|mes|une copie|copie|l'|le (?:document|formulaire|justificatif|bulletin|releve|contrat|bail|courrier)|les (?:documents|justificatifs|bulletins|releves|pieces))|\bvous trouverez (?:ci|en|dans)\b|\bplease find (?:attached|enclosed)\b|\battached (?:is|are|you will find|please find)\b|\bi (?:have )?attached\b|\bsee (?:the )?attach(?:ed|ment)\b|\bin attachment\b|\bas an attachment\b",
    )
});

/// A sentence that denies or asks about an attachment rather than announcing one.
static NOT_SENT: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\b(?:sans|pas de|aucune?|ni) (?:la |les |de )?pieces? jointes?\b|\b(?:dois|faut|puis)[- ]?(?:je|il)\b[^.?!]*\b(?:joindre|piece)|\bwithout (?:an |any )?attachment\b|\bno attachment\b|\bshould i attach\b",
    )
});

/// True when the mail's new text announces an attached document.
pub fn mentions_attachment(new_text: &str) -> bool {
    new_text
        .lines()
        .filter(|l| !l.trim_start().starts_with('>'))
        .flat_map(|l| l.split(['.', '!', '?']))
        .map(fold)
        .any(|s| MENTION.is_match(&s) && !NOT_SENT.is_match(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_documents_are_mentions() {
        for t in [
            "Bonjour, ci-joint mon avis d'impôt.",
            "Veuillez trouver ci-jointe la copie de mon bail",
            "Vous trouverez en pièce jointe mon RIB.",
            "Je vous joins mon justificatif de domicile.",
            "PJ : attestation employeur",
            "Mon RIB en PJ, merci.",
            "Les pièces jointes sont mes trois derniers bulletins.",
            "Please find attached my tax notice.",
            "I have attached the form.",
            "See attachment for details",
        ] {
            assert!(mentions_attachment(t), "{t}");
        }
    }

    #[test]
    fn questions_denials_and_quotes_are_not() {
        for t in [
            "Dois-je joindre une pièce justificative ?",
            "Faut-il envoyer la pièce jointe par courrier ?",
            "Je n'ai aucune pièce jointe à vous transmettre.",
            "Je vous écris sans pièce jointe.",
            "> Ci-joint le formulaire demandé.\nMerci, je l'ai bien reçu.",
            "Should I attach my payslip?",
            "Bonjour, où trouver mon avis d'impôt ?",
            "Je joins le service par téléphone depuis une semaine sans succès.",
        ] {
            assert!(!mentions_attachment(t), "{t}");
        }
    }
}
