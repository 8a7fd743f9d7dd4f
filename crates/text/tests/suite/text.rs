//! End-to-end behaviour on whole fixture mails, plus property tests: `clean` never
//! loses or duplicates a line, and no entry point panics on arbitrary input.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use facteur_core::{Language, SegmentKind};
use facteur_text::{
    clean, correspondent, detect_flags, detect_language, extract_fields, is_blank, split_lines,
    Flag,
};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn kinds(body: &str) -> Vec<SegmentKind> {
    clean(body).segments.iter().map(|s| s.kind).collect()
}

use SegmentKind::*;

#[test]
fn gmail_reply_with_reclamation() {
    let body = fixture("gmail_reply_reclamation.txt");
    assert_eq!(
        kinds(&body),
        vec![Greeting, NewText, Closing, Signature, Quoted]
    );
    let c = clean(&body);
    let text = c.new_text();
    assert!(text.starts_with("Je soussignée Sophie Lefèvre"));
    assert!(!text.contains("Nous avons bien reçu"));
    assert_eq!(detect_language(&text), Language::Fr);

    let who = correspondent(&c, Some("sophie.lefevre"));
    assert_eq!(who.civilite.as_deref(), Some("Madame"));
    assert_eq!(who.name.as_deref(), Some("Sophie Lefèvre"));

    let f = extract_fields(&text);
    assert_eq!(f.tax_years, vec![2023]);
    assert_eq!(f.amounts, vec!["1245.00"]);
    assert_eq!(f.dates, vec!["2024-09-15"]);
    assert_eq!(f.references, vec!["2023 44 123456 7"]);
    assert_eq!(detect_flags(&text), vec![Flag::Complaint]);
}

#[test]
fn outlook_reply_crlf_nbsp_disclaimer() {
    let body = fixture("outlook_reply_crlf.txt");
    assert!(body.contains("\r\n") && body.contains('\u{a0}'));
    assert_eq!(
        kinds(&body),
        vec![Greeting, NewText, Closing, Signature, Disclaimer, Quoted]
    );
    let c = clean(&body);
    let text = c.new_text();
    assert!(!text.contains('\r'));
    assert!(text.ends_with("formulaire."));
    let who = correspondent(&c, None);
    assert_eq!(who.civilite.as_deref(), Some("Monsieur"));
    assert_eq!(who.name.as_deref(), Some("Karim Haddad"));
    let f = extract_fields(&text);
    assert_eq!(f.tax_years, vec![2024]);
    assert_eq!(f.dates, vec!["2024-10-15"]);
    // "payer avant le 15 octobre" is a routine deadline, not a formal notice.
    assert_eq!(detect_flags(&text), vec![]);
}

#[test]
fn lotus_pure_forward_falls_back_to_forwarded_request() {
    let body = fixture("lotus_pure_forward.txt");
    assert_eq!(kinds(&body), vec![Forwarded]);
    let text = clean(&body).new_text();
    assert!(text.starts_with("Bonsoir,\nJe voudrais modifier mon taux"));
    assert!(!text.contains("Transféré par"));
    assert!(!text.contains("Objet :"));
    assert_eq!(detect_language(&text), Language::Fr);
}

#[test]
fn apple_forward_with_a_note_in_distress() {
    let body = fixture("apple_forward_with_note.txt");
    assert_eq!(kinds(&body), vec![Greeting, NewText, Signature, Forwarded]);
    let text = clean(&body).new_text();
    assert!(!text.contains("Banque Exemple"));
    let flags = detect_flags(&text);
    assert_eq!(flags, vec![Flag::LegalDeadline, Flag::Distress]);
}

#[test]
fn english_reply() {
    let body = fixture("english_reply.txt");
    assert_eq!(
        kinds(&body),
        vec![Greeting, NewText, Closing, Signature, Quoted]
    );
    let c = clean(&body);
    let text = c.new_text();
    assert_eq!(detect_language(&text), Language::En);
    assert_eq!(extract_fields(&text).tax_years, vec![2023]);
    assert_eq!(
        correspondent(&c, None).name.as_deref(),
        Some("Emily Clarke")
    );
    assert!(detect_flags(&text).is_empty());
}

#[test]
fn threat_without_greeting() {
    let body = fixture("threat_no_greeting.txt");
    assert_eq!(kinds(&body), vec![NewText]);
    assert_eq!(detect_flags(&clean(&body).new_text()), vec![Flag::Threat]);
}

#[test]
fn segments_serialise_as_snake_case() {
    let c = clean("Bonjour,\nQuestion.\nCordialement");
    let j = serde_json::to_string(&c).expect("serialisable");
    assert!(j.contains("\"new_text\""), "{j}");
    assert!(j.contains("\"greeting\""));
}

/// The shared MIME robustness corpus (raw messages, English, many malformed): not
/// what `clean` is meant for, but real-world hostile text. Skipped when the
/// corpus is not on this machine.
#[test]
fn no_loss_on_the_shared_mime_corpus() {
    let root = std::path::Path::new("/work/shared/data/email-mime-corpus");
    let Ok(dirs) = std::fs::read_dir(root) else {
        eprintln!("corpus not present, skipped");
        return;
    };
    let mut n = 0;
    for d in dirs.flatten().filter(|d| d.path().is_dir()) {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            let Ok(bytes) = std::fs::read(f.path()) else {
                continue;
            };
            let body = String::from_utf8_lossy(&bytes);
            let c = clean(&body);
            let rebuilt: Vec<&str> = c.segments.iter().flat_map(|s| non_blank(&s.text)).collect();
            assert_eq!(rebuilt, non_blank(&body), "{}", f.path().display());
            let _ = (
                detect_language(&body),
                extract_fields(&body),
                detect_flags(&body),
            );
            n += 1;
        }
    }
    assert!(n > 50, "only {n} corpus files read");
}

fn non_blank(s: &str) -> Vec<&str> {
    split_lines(s)
        .into_iter()
        .filter(|l| !is_blank(l))
        .collect()
}

/// Lines that exercise every branch of the segmenter, to be shuffled together.
const TRICKY: &[&str] = &[
    "Bonjour,",
    "Madame, Monsieur,",
    "Hello",
    "Je n'ai pas reçu mon avis.",
    "Cordialement,",
    "Merci d'avance",
    "Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées.",
    "Jean Dupont",
    "06 12 34 56 78",
    "Envoyé de mon iPhone",
    "-- ",
    "> cité",
    ">",
    "Le 3 mars 2024 à 10:12, X a écrit :",
    "Le lun. 4 mars 2024 à 09:00, Jean <",
    "jean@x.fr> a écrit :",
    "-----Message d'origine-----",
    "De : SIP",
    "Envoyé : lundi",
    "À : moi",
    "Objet : TR: test",
    "---------- Forwarded message ---------",
    "----- Transféré par X le 01/01/2024 -----",
    "Début du message réexpédié :",
    "________________________________",
    "Ce message et toutes les pièces jointes sont confidentiels.",
    "On Mon, Mar 4, 2024 at 9:00 AM X wrote:",
    "",
    " \u{a0} ",
    "\t",
    "é\u{301}\u{202f}’",
    "\u{200b}",
    "\u{feff}  Envoyé de mon iPhone",
    "\u{a0}\u{a0}-- ",
    "  > cité\u{2028}Cordialement",
];

fn mail_like() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(TRICKY).prop_map(String::from),
                1 => "[^\r\n]{0,40}",
            ],
            0..30,
        ),
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
    )
        .prop_map(|(lines, sep)| lines.join(sep))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn clean_loses_and_duplicates_nothing(body in prop_oneof![any::<String>(), mail_like()]) {
        let c = clean(&body);
        let mut rebuilt: Vec<&str> = Vec::new();
        for s in &c.segments {
            prop_assert!(!is_blank(&s.text), "empty segment");
            rebuilt.extend(non_blank(&s.text));
        }
        prop_assert_eq!(rebuilt, non_blank(&body));
        // Adjacent segments always differ in kind (runs are merged).
        for w in c.segments.windows(2) {
            prop_assert_ne!(w[0].kind, w[1].kind);
        }
        let _ = c.new_text();
    }

    #[test]
    fn analysers_never_panic(text in prop_oneof![any::<String>(), mail_like()]) {
        let _ = detect_language(&text);
        let f = extract_fields(&text);
        for d in &f.dates {
            prop_assert_eq!(d.len(), 10);
        }
        let _ = detect_flags(&text);
        let _ = correspondent(&clean(&text), Some(&text));
        let _ = facteur_text::auto_reply_text(&text, &text);
        // Anything with a question mark is never "thanks only".
        if text.contains('?') {
            prop_assert!(!facteur_text::thanks_only(&text));
        }
    }
}
