//! Every marker the cleaner knows, indented and padded with every kind of space.
//!
//! A hidden check found " Envoyé de mon iPhone" (a line starting with spaces, as
//! webmail and HTML-to-text conversion produce) surviving as the citizen's text.
//! These tests walk the marker tables themselves, so a marker added later is
//! covered too: each one is tried bare, indented with spaces, a tab, NBSP, narrow
//! NBSP, ideographic and em spaces, zero-width characters and a byte-order mark,
//! with trailing padding, with NBSP instead of its inner spaces, and after a
//! Unicode line separator instead of a newline.

use super::*;
use crate::normalize::fold;
use SegmentKind::*;

/// Leading padding variants: what mail clients and converters put before a line.
const PADS: &[&str] = &[
    "",
    "   ",
    "\t",
    " \t ",
    "\u{a0}",
    "\u{a0}\u{a0}\u{a0}",
    "\u{202f}",
    " \u{a0} ",
    "\u{2007}",
    "\u{2003}",
    "\u{3000}",
    "\u{200b}",
    "\u{feff}",
    "\u{2060}\u{a0}",
    "\u{200b} \u{200d}",
];

/// Trailing padding variants.
const TAILS: &[&str] = &["", "  ", "\u{a0}", "\t\u{200b}"];

/// Every way one marker line may arrive: (description, line).
fn variants(marker: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let inner_nbsp = marker.replace(' ', "\u{a0}");
    for pad in PADS {
        for tail in TAILS {
            for m in [marker, inner_nbsp.as_str()] {
                out.push((format!("{pad:?}+{m:?}+{tail:?}"), format!("{pad}{m}{tail}")));
            }
        }
    }
    out
}

fn kinds(body: &str) -> Vec<SegmentKind> {
    clean(body).segments.iter().map(|s| s.kind).collect()
}

/// Sample lines for the signature markers, one per entry of
/// [`SIGNATURE_MARKERS`] (checked below, so a new marker needs a sample).
const SIGNATURE_SAMPLES: &[&str] = &[
    "Envoyé de mon iPhone",
    "Envoyé depuis mon mobile Orange",
    "Envoyé à partir de Outlook Mobile",
    "Envoyé avec Mail de Windows",
    "Envoyé de ma tablette Samsung",
    "Sent from my iPhone",
    "Sent from Outlook for Android",
    "Sent with ProtonMail",
    "Get Outlook for iOS",
    "Obtenir Outlook pour Android",
    "Télécharger Outlook pour iOS",
    "Provenance : Courrier pour Windows",
    "Provenance : Mail pour Windows",
    "Provenance : Orange Mail",
    "Von meinem iPhone gesendet",
    "Enviado desde mi iPhone",
];

#[test]
fn every_signature_marker_has_a_sample() {
    for m in SIGNATURE_MARKERS {
        assert!(
            SIGNATURE_SAMPLES.iter().any(|s| fold(s).starts_with(m)),
            "no sample line for signature marker {m:?}"
        );
    }
}

#[test]
fn signature_markers_survive_no_indent() {
    for sample in SIGNATURE_SAMPLES.iter().chain(&["-- ", "--", "---"]) {
        for (what, line) in variants(sample) {
            for sep in ["\n", "\r\n", "\n\n", "\u{2028}"] {
                let body = format!("Mon avis n'est pas arrivé.{sep}{line}{sep}Jean Dupont");
                assert_eq!(
                    kinds(&body),
                    vec![NewText, Signature],
                    "signature {what} after {sep:?}"
                );
                assert_eq!(
                    clean(&body).new_text(),
                    "Mon avis n'est pas arrivé.",
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn closing_markers_survive_indent() {
    for m in STRONG_CLOSINGS.iter().chain(FORMULAS) {
        for (what, line) in variants(m) {
            let body = format!("Je n'ai pas reçu mon avis d'impôt.\n{line}");
            assert_eq!(
                kinds(&body),
                vec![NewText, Closing],
                "strong closing {what}"
            );
        }
    }
    for m in WEAK_CLOSINGS {
        for (what, line) in variants(m) {
            let body = format!("Je n'ai pas reçu mon avis d'impôt.\n{line}\n  Jean Dupont");
            assert_eq!(
                kinds(&body),
                vec![NewText, Closing, Signature],
                "weak closing {what}"
            );
        }
    }
}

#[test]
fn greetings_survive_indent() {
    for g in GREETING_WORDS {
        for (what, line) in variants(g) {
            let body = format!("{line}\nJe n'ai pas reçu mon avis d'impôt.");
            assert_eq!(kinds(&body), vec![Greeting, NewText], "greeting {what}");
        }
    }
}

#[test]
fn disclaimers_survive_indent() {
    for d in DISCLAIMER_STARTS {
        for (what, line) in variants(&format!("{d} etc")) {
            let body = format!("Ma question ?\n\n{line}");
            assert_eq!(kinds(&body), vec![NewText, Disclaimer], "disclaimer {what}");
        }
    }
    for d in DISCLAIMER_ANYWHERE {
        for (what, line) in variants(&format!("Attention : {d}, merci")) {
            let body = format!("Ma question ?\n\n{line}");
            assert_eq!(kinds(&body), vec![NewText, Disclaimer], "disclaimer {what}");
        }
    }
}

#[test]
fn reply_headers_survive_indent() {
    for end in REPLY_ENDS {
        for (what, line) in variants(&format!("Le 3 mars 2024 à 10:12, SIP <sip@x.fr> {end}")) {
            let body = format!("Voici ma réponse.\n\n{line}\n> Bonjour\n> ancienne question");
            assert_eq!(kinds(&body), vec![NewText, Quoted], "reply header {what}");
            assert_eq!(clean(&body).new_text(), "Voici ma réponse.", "{what}");
        }
        // Wrapped over two lines, both indented.
        for (what, line) in variants(&format!("sip@x.fr> {end}")) {
            let body = format!(
                "Voici ma réponse.\n  Le lun. 4 mars 2024 à 09:00, SIP <\n{line}\n> Bonjour"
            );
            assert_eq!(kinds(&body), vec![NewText, Quoted], "wrapped header {what}");
        }
    }
}

#[test]
fn quote_prefixes_survive_indent() {
    for (what, line) in variants("> ancienne question") {
        let body = format!("Voici ma réponse.\n{line}\n{line}");
        assert_eq!(kinds(&body), vec![NewText, Quoted], "quote line {what}");
    }
    for (what, line) in variants(">") {
        let body = format!("Voici ma réponse.\n{line}\n> x");
        assert_eq!(kinds(&body), vec![NewText, Quoted], "bare quote {what}");
    }
}

#[test]
fn original_and_forward_markers_survive_indent() {
    for m in [
        "message d'origine",
        "original message",
        "message original",
        "mensaje original",
        "ursprungliche nachricht",
        "messaggio originale",
    ] {
        for (what, line) in variants(&format!("-----{m}-----")) {
            let body = format!("Merci, c'est noté.\n{line}\nDe : SIP\nEnvoyé : lundi\nObjet : RE: délai\n\nAccordé.");
            assert_eq!(kinds(&body), vec![NewText, Quoted], "original {what}");
        }
    }
    for m in [
        "forwarded message",
        "message transfere",
        "mail transfere",
        "courriel transfere",
        "message reexpedie",
        "weitergeleitete nachricht",
        "mensaje reenviado",
        "transfere par X le 01/01/2024",
        "forwarded by X on 01/01/2024",
    ] {
        for (what, line) in variants(&format!("---------- {m} ----------")) {
            let body = format!(
                "Pour information.\n{line}\nDe : J <j@x.fr>\nObjet : délai\n\nJe demande un délai."
            );
            assert_eq!(kinds(&body), vec![NewText, Forwarded], "forward {what}");
        }
    }
    for m in ["debut du message reexpedie :", "Begin forwarded message:"] {
        for (what, line) in variants(m) {
            let body =
                format!("Pour information.\n{line}\nDe : J <j@x.fr>\n\nJe demande un délai.");
            assert_eq!(kinds(&body), vec![NewText, Forwarded], "forward {what}");
        }
    }
}

#[test]
fn outlook_header_blocks_survive_indent() {
    for from in FROM_KEYS {
        for sent in SENT_KEYS {
            for subj in SUBJ_KEYS {
                for pad in PADS {
                    let body = format!(
                        "Voici le justificatif.\n\n{pad}________________________________\n{pad}{from} SIP <sip@x.fr>\n{pad}{sent} lundi 4 mars 2024\n{pad}À : Claire\n{pad}   <claire@x.fr>\n{pad}{subj} RE: votre demande\n\n{pad}Madame, merci de nous transmettre un justificatif."
                    );
                    assert_eq!(
                        kinds(&body),
                        vec![NewText, Quoted],
                        "{pad:?} {from} / {sent} / {subj}"
                    );
                }
            }
        }
    }
}
