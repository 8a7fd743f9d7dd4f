//! Sensitivity flags: mail that must reach a person whatever its category.
//!
//! Phrase lists on folded text (case and accents ignored), with explicit exclusions
//! where a word is common in harmless mail ("erreur de saisie", "avoir recours à",
//! "je vais venir déposer"). A missed flag sends an angry citizen a template, a
//! false one sends a routine mail to a human: both matter, so every phrase here is
//! a multi-word one unless the single word is unambiguous.

use once_cell::sync::Lazy;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::normalize::{fold, window};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Réclamation, contestation, recours.
    Complaint,
    /// Mise en demeure, huissier, saisie, dated deadline.
    LegalDeadline,
    /// Suicide, despair, hunger, eviction.
    Distress,
    /// Threats against the staff.
    Threat,
}

use crate::normalize::pattern as re;

static COMPLAINT: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\breclamations?\b|\bcontestations?\b|\bje contest|\bnous contest|\bcontester\b|\bcontest(?:e|ons|ez) (?:l'|(?:la|le|les|cette|ce|cet|votre|vos|formellement|fermement)\b)|\brecours (?:gracieux|contentieux|hierarchique)|\b(?:former|faire|deposer|introduire|engager) un recours\b|\bporter plainte\b|\bdeposer (?:une )?plainte\b|\bmediateur\b|\bconciliateur\b|\binadmissible\b|\bscandaleu(?:x|se)\b|\bje proteste\b",
    )
});

/// "recours" alone is a complaint, except in "avoir recours à".
static RECOURS: Lazy<Regex> = Lazy::new(|| re(r"\b(\w+ )?recours\b( a\b| au\b| aux\b)?"));

static DEADLINE: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\bmise en demeure\b|\bmis en demeure\b|\bhuissiers?\b|\bcommissaire de justice\b|\bcommandement de payer\b|\bavis de saisie\b|\bsaisies? (?:sur|administrative|a tiers|attribution|de (?:mon|ma|mes|notre|nos) (?:compte|salaire|pension|retraite|vehicule|voiture|biens|logement|maison))|\bopposition a tiers detenteur\b|\b(?:satd|atd)\b|\bdelai de recours\b|\bdate limite\b|\bdernier delai\b|\bforclusion\b|\btribunal\b|\bavant le (?:\d|1er|premier|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)",
    )
});

static DISTRESS: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\bsuicid|\bme tuer\b|\bmettre fin a mes jours\b|\ben finir avec la vie\b|\bj'en ai marre de vivre\b|\bje n'en peux plus\b|\bje ne m'en sors plus\b|\bdetresse\b|\bdesespere|\bau bout du rouleau\b|\bplus rien a manger\b|\brien a manger\b|\bexpulsion\b|\bexpulse(?:e|s)?\b|\ba la rue\b|\bsans domicile\b|\bsans abri\b|\bviolences? conjugales?\b|\bvictime de violences?\b",
    )
});

static THREAT: Lazy<Regex> = Lazy::new(|| {
    re(
        r"\bvous allez le regretter\b|\bvous le regretterez\b|\btu vas le regretter\b|\bvous allez (?:me )?le payer\b|\bje vais (?:vous|te|les|le|la) (?:tuer|frapper|casser|buter|egorger|cramer|faire la peau)|\bje vais tout (?:casser|bruler|faire sauter)\b|\bfaire justice moi-meme\b|\bje sais ou vous habitez\b|\bje connais votre adresse\b|\bgare a vous\b|\bprenez garde\b|\bdevenir violente?\b|\bfusil\b|\barme a feu\b|\bbombe\b|\bvous etes des (?:voleurs|escrocs)\b.*!",
    )
});

/// "saisie" is a seizure except as data entry ("erreur de saisie", "la saisie de
/// ma déclaration", "saisie en ligne").
static SAISIE: Lazy<Regex> =
    Lazy::new(|| re(r"(\w+ \w+ )?\bsaisies?\b( [\w']+ [\w']+ [\w']+| [\w']+ [\w']+| [\w']+)?"));

static MENACE: Lazy<Regex> = Lazy::new(|| re(r"(\w+ )?\bmenac\w*( d'\w+| de \w+)?"));
static VIOLENCE: Lazy<Regex> = Lazy::new(|| re(r"\bviolen(?:ce|t|te|ts|ces)\b"));
static VENIR: Lazy<Regex> =
    Lazy::new(|| re(r"\bje vais (?:venir|passer|debarquer)\b([^.!?\n]*)([.!?]?)"));

/// Which flags the text raises, in the enum's order, each once.
pub fn detect_flags(text: &str) -> Vec<Flag> {
    let f = fold(text);
    let mut out = Vec::new();
    if COMPLAINT.is_match(&f) || recours_complaint(&f) {
        out.push(Flag::Complaint);
    }
    if DEADLINE.is_match(&f) || seizure(&f) {
        out.push(Flag::LegalDeadline);
    }
    if DISTRESS.is_match(&f) {
        out.push(Flag::Distress);
    }
    if THREAT.is_match(&f) || menace(&f) || violence(&f) || coming_over(&f) {
        out.push(Flag::Threat);
    }
    out
}

fn recours_complaint(f: &str) -> bool {
    RECOURS.captures_iter(f).any(|c| {
        let before = c.get(1).map_or("", |m| m.as_str().trim());
        let avoir = matches!(
            before,
            "avoir" | "ai" | "aurai" | "aurais" | "avons" | "aurons" | "eu" | "sans"
        );
        !(avoir || c.get(2).is_some() && before != "un" && before != "mon")
    })
}

fn seizure(f: &str) -> bool {
    SAISIE.captures_iter(f).any(|c| {
        let before = c.get(1).map_or("", |m| m.as_str());
        let after = c.get(2).map_or("", |m| m.as_str());
        let entry_before = [
            "erreur de ",
            "faute de ",
            "erreurs de ",
            "lors de la ",
            "ma ",
        ]
        .iter()
        .any(|p| before.ends_with(p));
        let entry_after = [
            " en ligne",
            " de ma declaration",
            " de mes revenus",
            " des revenus",
            " de la declaration",
            " de mon rib",
            " de mes coordonnees",
            " du formulaire",
            " des donnees",
            " des informations",
        ]
        .iter()
        .any(|p| after.starts_with(p));
        !(entry_before || entry_after)
    })
}

/// "menace" is a threat from the writer, not when the writer is the one threatened
/// ("je suis menacé d'expulsion", "vous me menacez de saisie").
fn menace(f: &str) -> bool {
    MENACE.captures_iter(f).any(|c| {
        let before = c.get(1).map_or("", |m| m.as_str().trim());
        let passive = matches!(
            before,
            "suis" | "sommes" | "est" | "etes" | "sont" | "etre" | "me" | "nous" | "une" | "la"
        ) || c.get(2).is_some_and(|m| {
            let t = m.as_str();
            t.contains("expulsion") || t.contains("saisie") || t.contains("poursuite")
        });
        // "une menace"/"la menace" of something is reported, unless it is this mail.
        let this_is_one = f.contains("ceci est une menace") || f.contains("c'est une menace");
        !passive || this_is_one
    })
}

fn violence(f: &str) -> bool {
    VIOLENCE.find_iter(f).any(|m| {
        let ctx = window(f, m.start().saturating_sub(30), m.end() + 12);
        !(ctx.contains("conjugal")
            || ctx.contains("victime")
            || ctx.contains("subi")
            || ctx.contains("familiale"))
    })
}

/// "je vais venir" is a threat only with a threatening continuation or an angry
/// exclamation, never when the writer comes to file, fetch or pay something.
fn coming_over(f: &str) -> bool {
    VENIR.captures_iter(f).any(|c| {
        let rest = c.get(1).map_or("", |m| m.as_str()).trim();
        let end = c.get(2).map_or("", |m| m.as_str());
        const BENIGN: &[&str] = &[
            "deposer",
            "chercher",
            "recuperer",
            "apporter",
            "retirer",
            "payer",
            "signer",
            "rendez-vous",
            "rdv",
            "guichet",
            "accueil",
            "document",
            "piece",
            "dossier",
            "formulaire",
            "regler ma",
            "regler mon",
            "regler la",
            "regler le",
            "regler les",
            "demain",
            "lundi",
            "mardi",
            "mercredi",
            "jeudi",
            "vendredi",
            "matin",
            "apres-midi",
        ];
        if BENIGN.iter().any(|b| rest.contains(b)) {
            return false;
        }
        const HOSTILE: &[&str] = &[
            "regler ca",
            "regler nos comptes",
            "regler cette affaire",
            "m'expliquer avec",
            "vous allez voir",
            "tout casser",
            "faire un scandale",
            "ca va mal",
            "ca va chauffer",
            "vous trouver",
            "vous chercher",
            "en personne et",
        ];
        HOSTILE.iter().any(|h| rest.contains(h))
            || end == "!"
                && (rest.is_empty()
                    || rest.starts_with("vous voir")
                    || rest.starts_with("en personne")
                    || rest.starts_with("sur place")
                    || rest.starts_with("au centre")
                    || rest.starts_with("a votre bureau"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(t: &str, f: Flag) -> bool {
        detect_flags(t).contains(&f)
    }

    #[test]
    fn complaints() {
        assert!(has(
            "Réclamation concernant ma taxe foncière",
            Flag::Complaint
        ));
        assert!(has("JE CONTESTE le montant de cet avis", Flag::Complaint));
        assert!(has("Madame X conteste l’avis reçu", Flag::Complaint));
        assert!(has("je forme un recours gracieux", Flag::Complaint));
        assert!(has("Voici ma contestation.", Flag::Complaint));
        assert!(has("J'envisage un recours.", Flag::Complaint));
        assert!(!has(
            "Je souhaite avoir recours au prélèvement mensuel.",
            Flag::Complaint
        ));
        assert!(!has(
            "Pouvez-vous m'envoyer mon avis d'imposition ?",
            Flag::Complaint
        ));
    }

    #[test]
    fn deadlines() {
        assert!(has("J'ai reçu une mise en demeure", Flag::LegalDeadline));
        assert!(has("un HUISSIER est venu", Flag::LegalDeadline));
        assert!(has("saisie sur mon salaire", Flag::LegalDeadline));
        assert!(has(
            "je dois répondre avant le 15 mars",
            Flag::LegalDeadline
        ));
        assert!(has("quel est le délai de recours ?", Flag::LegalDeadline));
        assert!(!has(
            "J'ai fait une erreur de saisie dans ma déclaration",
            Flag::LegalDeadline
        ));
        assert!(!has(
            "avant le dépôt de ma déclaration",
            Flag::LegalDeadline
        ));
        assert!(has(
            "Une saisie a été faite sur mon compte",
            Flag::LegalDeadline
        ));
        assert!(has("j'ai reçu un avis de saisie", Flag::LegalDeadline));
        assert!(has(
            "une saisie administrative à tiers détenteur",
            Flag::LegalDeadline
        ));
        assert!(!has(
            "la saisie de ma déclaration en ligne ne marche pas",
            Flag::LegalDeadline
        ));
        assert!(!has("j'ai fait une saisie en ligne", Flag::LegalDeadline));
    }

    #[test]
    fn distress() {
        assert!(has(
            "Je n’en peux plus, je pense au suicide",
            Flag::Distress
        ));
        assert!(has("nous n'avons plus rien à manger", Flag::Distress));
        assert!(has("menacée d'expulsion", Flag::Distress));
        assert!(has("je suis dans une grande DÉTRESSE", Flag::Distress));
        assert!(!has(
            "Je ne peux plus me connecter à mon espace",
            Flag::Distress
        ));
    }

    #[test]
    fn threats() {
        assert!(has("Vous allez le regretter.", Flag::Threat));
        assert!(has("Je vais venir vous voir !", Flag::Threat));
        assert!(has("je vais venir m'expliquer avec vous", Flag::Threat));
        assert!(has("Ceci est une menace.", Flag::Threat));
        assert!(has("je risque de devenir violent", Flag::Threat));
        assert!(!has(
            "Je vais venir déposer mes documents au guichet.",
            Flag::Threat
        ));
        assert!(!has("je vais venir demain.", Flag::Threat));
        assert!(!has("je vais venir avec mon avocat.", Flag::Threat));
        assert!(!has("Je suis menacée d'expulsion", Flag::Threat));
        assert!(!has("victime de violences conjugales", Flag::Threat));
        assert!(has("victime de violences conjugales", Flag::Distress));
    }

    #[test]
    fn neutral_mail_has_no_flag() {
        assert!(detect_flags(
            "Bonjour, pouvez-vous m'indiquer comment modifier mon taux de prélèvement ? Merci"
        )
        .is_empty());
        assert!(detect_flags("").is_empty());
    }

    #[test]
    fn flags_are_serde_snake_case() {
        let j = serde_json::to_string(&vec![Flag::LegalDeadline]).unwrap();
        assert_eq!(j, "[\"legal_deadline\"]");
    }
}
