//! Language guess by script and stop words.
//!
//! A stop-word count is enough to tell French from English and the neighbouring
//! languages on mail-sized text, needs no model file (Facteur runs offline) and
//! costs a hash lookup per word. Hand-written because the language-detection crates
//! either bundle large n-gram models or are slower than needed here by orders of
//! magnitude; only the routing decision "answerable in French/English or not"
//! depends on it.

use std::collections::HashMap;

use facteur_core::Language;
use once_cell::sync::Lazy;

use crate::normalize::fold_prefix;

const LANGS: [&str; 7] = ["fr", "en", "de", "es", "it", "pt", "nl"];

// Folded (lowercase, no accents) function words, frequent in mail, chosen to be as
// distinctive as possible between the seven languages.
const FR: &str = "le les des du et est une que qui pour pas je vous nous dans sur avec ce cette mon ma mes au aux ne il elle sont ai suis votre vos merci bonjour madame monsieur mais donc par plus tres j d l qu n c ete etre avoir fait leur cordialement impots impot declaration depuis aussi comme ou si sans deja avez ont faire veuillez trouver ci joint jointe jointes notre nos son sa ses cela ceci ca aujourd hui demande courrier paiement payer recu bien toujours encore alors car puis tout tous celui quand";
const EN: &str = "the and is are to of in for you your i my we it this that with have be not on please thank thanks hello dear would could can will from at an as was am me our regards hi if do there what which about been has had they";
const DE: &str = "der die das und ist nicht ich sie wir mit fur auf ein eine einen zu den dem des bitte ihr ihre ihnen mein meine danke sehr geehrte geehrter guten tag habe haben wird werden auch von im wie oder aber kann uber dass freundlichen grussen mochte sind war";
const ES: &str = "el la los las y es de que en por para no un una con mi su usted gracias hola del al se esta estoy como pero muy lo me mis sus tengo soy favor saludos buenos dias quisiera hacienda pago sobre este cuando ya porque";
const IT: &str = "il la lo gli le e di che per non un una con mi sono grazie del della buongiorno ho ha nel nella questo questa anche come ma cordiali saluti vorrei essere alla al dei delle io mio mia suo sua molto perche gentile";
const PT: &str = "o a os as e de que em para nao um uma com meu minha obrigado obrigada ola do da dos das esta por no na nos se eu voce sou estou tenho mais muito bom dia gostaria atenciosamente cumprimentos sobre ao foi seu sua pelo pela";
const NL: &str = "de het een en is van dat niet ik je we met voor op zijn u uw bedankt dank graag hallo goedemorgen geachte heb hebben wij mijn maar ook als bij aan er naar om te wat kan wordt deze die vriendelijke groet groeten";

static STOPS: Lazy<HashMap<&'static str, u8>> = Lazy::new(|| {
    let mut m: HashMap<&'static str, u8> = HashMap::new();
    for (bit, list) in [FR, EN, DE, ES, IT, PT, NL].iter().enumerate() {
        for w in list.split_whitespace() {
            *m.entry(w).or_insert(0) |= 1 << bit;
        }
    }
    m
});

/// How much text is looked at: the start of a mail says its language.
const MAX_CHARS: usize = 3000;

/// Guess the language of a text. `Unknown` when it is too short or has no signal
/// rather than a coin toss: the caller then treats the mail as French by policy,
/// knowingly.
pub fn detect_language(text: &str) -> Language {
    if let Some(code) = script_language(text) {
        return Language::Other(code.to_string());
    }
    let folded = fold_prefix(text, MAX_CHARS);
    let mut scores = [0u32; 7];
    let mut tokens = 0u32;
    for w in folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        tokens += 1;
        if let Some(&mask) = STOPS.get(w) {
            for (b, s) in scores.iter_mut().enumerate() {
                if mask & (1 << b) != 0 {
                    *s += 1;
                }
            }
        }
    }
    // Letters only some languages use break near-ties.
    for c in text.chars().take(MAX_CHARS) {
        match c {
            'ñ' | '¿' | '¡' => scores[3] += 1,
            'ã' | 'õ' => scores[5] += 1,
            'ß' | 'ä' => scores[2] += 1,
            'è' | 'ê' | 'œ' | 'à' | 'ù' | 'û' => scores[0] += 1,
            _ => {}
        }
    }
    if tokens < 3 {
        return Language::Unknown;
    }
    let mut order: Vec<usize> = (0..7).collect();
    order.sort_by(|&a, &b| scores[b].cmp(&scores[a]));
    let (best, second) = (scores[order[0]], scores[order[1]]);
    // French is the mailboxes' language: short French questions share "la", "de",
    // "que" with Spanish or Italian, so French wins a near-tie (one hit behind).
    if order[0] != 0 && best >= 2 && scores[0] + 1 >= best && LANGS[order[0]] != "en" {
        return Language::Fr;
    }
    // Need at least two hits and a clear lead.
    if best < 2 || best == second {
        return Language::Unknown;
    }
    Language::from_code(LANGS[order[0]])
}

/// Non-Latin scripts are recognised by their letters alone.
fn script_language(text: &str) -> Option<&'static str> {
    let mut letters = 0u32;
    let mut counts = [0u32; 7];
    for c in text.chars().take(MAX_CHARS) {
        if !c.is_alphabetic() {
            continue;
        }
        letters += 1;
        let idx = match c as u32 {
            0x0600..=0x06FF | 0x0750..=0x077F | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => 0,
            0x0400..=0x04FF => 1,
            0x0370..=0x03FF => 2,
            0x0590..=0x05FF => 3,
            0x3040..=0x30FF => 4,
            0xAC00..=0xD7AF => 5,
            0x4E00..=0x9FFF => 6,
            _ => continue,
        };
        counts[idx] += 1;
    }
    if letters < 3 {
        return None;
    }
    let (idx, &max) = counts.iter().enumerate().max_by_key(|(_, &c)| c)?;
    // Japanese mixes kana with Han: any kana makes it Japanese.
    if counts[4] > 0 && (counts[4] + counts[6]) * 2 > letters {
        return Some("ja");
    }
    if max * 2 <= letters {
        return None;
    }
    Some(["ar", "ru", "el", "he", "ja", "ko", "zh"][idx])
}

#[cfg(test)]
mod french_prior_tests {
    use super::*;

    #[test]
    fn short_french_questions_are_not_taken_for_spanish() {
        assert_eq!(
            detect_language("Quelle est la durée de la période d'essai ?"),
            Language::Fr
        );
        assert_eq!(
            detect_language("¿Cuál es la duración del periodo de prueba para un contrato?"),
            Language::Other("es".into())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_and_english() {
        assert_eq!(
            detect_language("Bonjour, je n'ai pas reçu mon avis d'impôt pour cette année."),
            Language::Fr
        );
        assert_eq!(
            detect_language("Hello, I have not received my tax notice for this year. Thank you"),
            Language::En
        );
    }

    #[test]
    fn short_french_mail_sentence() {
        assert_eq!(
            detect_language("Veuillez trouver ci-joint les documents demandés."),
            Language::Fr
        );
    }

    #[test]
    fn neighbours() {
        assert_eq!(
            detect_language("Sehr geehrte Damen und Herren, ich habe meine Steuererklärung nicht bekommen, bitte helfen Sie mir."),
            Language::Other("de".into())
        );
        assert_eq!(
            detect_language(
                "Hola, no he recibido mi aviso de impuestos. ¿Me pueden ayudar por favor? Gracias"
            ),
            Language::Other("es".into())
        );
        assert_eq!(
            detect_language("Buongiorno, non ho ricevuto la mia dichiarazione dei redditi. Grazie mille, cordiali saluti"),
            Language::Other("it".into())
        );
        assert_eq!(
            detect_language(
                "Olá, não recebi o meu aviso de imposto. Gostaria de saber o que fazer. Obrigado"
            ),
            Language::Other("pt".into())
        );
        assert_eq!(
            detect_language(
                "Geachte heer, ik heb mijn aanslag niet ontvangen. Met vriendelijke groet"
            ),
            Language::Other("nl".into())
        );
    }

    #[test]
    fn scripts() {
        assert_eq!(
            detect_language("مرحبا، لم أتلق إشعار الضريبة الخاص بي"),
            Language::Other("ar".into())
        );
        assert_eq!(
            detect_language("Здравствуйте, я не получил налоговое уведомление"),
            Language::Other("ru".into())
        );
    }

    #[test]
    fn short_or_empty_is_unknown() {
        assert_eq!(detect_language(""), Language::Unknown);
        assert_eq!(detect_language("   \n "), Language::Unknown);
        assert_eq!(detect_language("Bonjour"), Language::Unknown);
        assert_eq!(detect_language("12345 678"), Language::Unknown);
        assert_eq!(detect_language("xkcd qwrtz plmkj"), Language::Unknown);
    }
}
