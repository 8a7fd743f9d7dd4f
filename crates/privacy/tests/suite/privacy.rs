//! End-to-end behaviour of the detector on realistic French mails, plus
//! property tests on arbitrary input.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use facteur_core::PiiKind;
use facteur_privacy::{is_valid_iban, is_valid_nir, nir_key, Detector};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

fn values(text: &str, kind: PiiKind) -> Vec<String> {
    Detector::new()
        .detect(text)
        .into_iter()
        .filter(|s| s.kind == kind)
        .map(|s| text[s.start..s.end].to_string())
        .collect()
}

/// Each listed value is detected with its kind and absent from the masked copy;
/// each listed ordinary phrase survives masking.
fn check(text: &str, expected: &[(PiiKind, &str)], kept: &[&str]) {
    let p = Detector::new().pseudonymise(text);
    for (kind, v) in expected {
        assert!(
            values(text, *kind).iter().any(|x| x == v),
            "{kind:?} {v:?} not found; spans: {:?}",
            p.spans
        );
        assert!(!p.text.contains(v), "{v:?} left in:\n{}", p.text);
    }
    for k in kept {
        assert!(p.text.contains(k), "{k:?} was masked:\n{}", p.text);
    }
}

#[test]
fn refund_request() {
    let t = fixture("remboursement.txt");
    check(
        &t,
        &[
            (PiiKind::FiscalNumber, "12 34 567 890 123"),
            (PiiKind::PostalAddress, "12 rue de la Paix\n75002 Paris"),
            (PiiKind::Iban, "FR76 3000 6000 0112 3456 7890 189"),
            (PiiKind::Phone, "06 12 34 56 78"),
            (PiiKind::Email, "jean.dupont@example.fr"),
            (PiiKind::PersonName, "Jean DUPONT"),
        ],
        &[
            "Madame, Monsieur,",
            "1 234,56 €",
            "12/03/2024",
            "revenus 2023",
            "salutations distinguées",
        ],
    );
    let p = Detector::new().pseudonymise(&t);
    assert_eq!(
        p.kinds(),
        vec![
            PiiKind::FiscalNumber,
            PiiKind::Iban,
            PiiKind::Phone,
            PiiKind::Email,
            PiiKind::PostalAddress,
            PiiKind::PersonName
        ]
    );
    assert!(p.text.contains("[IBAN_1]") && p.text.contains("[NOM_1]"));
}

#[test]
fn sworn_statement_with_corsican_nir() {
    let t = fixture("attestation.txt");
    check(
        &t,
        &[
            (PiiKind::PersonName, "Marie-Claire Lemoine"),
            (
                PiiKind::PostalAddress,
                "Bât. B, 5 allée des Lilas, 13001 MARSEILLE",
            ),
            (PiiKind::Nir, "2 85 05 2A 006 084 82"),
            (PiiKind::FiscalNumber, "0234567890123"),
            (PiiKind::Phone, "+33 (0)4 91 23 45 67"),
        ],
        &[
            "Service des Impôts des Particuliers de Marseille",
            "Bien cordialement",
        ],
    );
    // The name appears twice (after "soussignée" and in the signature): one placeholder.
    let p = Detector::new().pseudonymise(&t);
    let names: Vec<_> = p
        .spans
        .iter()
        .filter(|s| s.kind == PiiKind::PersonName)
        .map(|s| s.placeholder.as_str())
        .collect();
    assert_eq!(names, vec!["[NOM_1]", "[NOM_1]"]);
    assert!(!p.kinds().contains(&PiiKind::Iban));
}

#[test]
fn thread_with_quoted_reply() {
    let t = fixture("fil.txt");
    check(
        &t,
        &[
            (PiiKind::PersonName, "Martin"),
            (PiiKind::PersonName, "Bernard Giraud"),
            (PiiKind::PersonName, "Sophie Giraud"),
            (PiiKind::Iban, "DE89 3704 0044 0532 0130 00"),
            (PiiKind::FiscalNumber, "3012345678901"),
            (PiiKind::Email, "sip.paris02@dgfip.finances.gouv.fr"),
            (PiiKind::PostalAddress, "BP 123 - 75002 Paris Cedex 02"),
        ],
        &[
            "05/01/2024",
            "Service des Impôts des Particuliers de Paris 2e",
        ],
    );
    // "Giraud" alone in the quoted part is masked because the name was found above.
    let p = Detector::new().pseudonymise(&t);
    assert!(!p.text.contains("Giraud"), "{}", p.text);
}

#[test]
fn mail_without_personal_data_is_left_alone() {
    let t = fixture("sans_pii.txt");
    let p = Detector::new().pseudonymise(&t);
    assert!(p.spans.is_empty(), "{:?}", p.spans);
    assert_eq!(p.text, t);
}

#[test]
fn from_display_name_is_masked_everywhere() {
    let t = fixture("sans_pii.txt").replace("Un contribuable", "Paul, pour la famille Roussel");
    let p = Detector::new().pseudonymise_with_names(&t, &["Paul ROUSSEL"]);
    assert!(!p.text.contains("Roussel") && !p.text.contains("Paul"));
    assert!(p.kinds() == vec![PiiKind::PersonName]);
}

// ---------- property tests ----------

const WORDS: &[&str] = &[
    "Bonjour",
    "Madame",
    "Monsieur",
    "je",
    "vous",
    "écris",
    "au",
    "sujet",
    "de",
    "mon",
    "avis",
    "d'impôt",
    "le",
    "la",
    "compte",
    "IBAN",
    "merci",
    "A",
    "Paris",
    "été",
    "où",
    "ça",
    "prélèvement",
    "à",
    "la",
    "source",
    "référence",
    "€",
    ",",
    ".",
    ":",
    "(",
    ")",
    "\n",
    "«",
    "»",
    "n°",
    "Œuvre",
];

fn french_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..30).prop_map(|w| w.join(" "))
}

/// A valid IBAN: random BBAN, check digits computed (ISO 13616).
fn iban() -> impl Strategy<Value = String> {
    let countries = prop::sample::select(vec![("FR", 23usize), ("DE", 18), ("BE", 12), ("ES", 20)]);
    (countries, any::<u64>(), any::<u64>(), any::<bool>()).prop_map(|((cc, n), a, b, grouped)| {
        let digits: String = format!("{a:020}{b:020}").chars().take(n).collect();
        let mut rem = 0u32;
        let tail = format!("{digits}{}00", cc_digits(cc));
        for ch in tail.chars() {
            rem = (rem * 10 + ch.to_digit(10).unwrap_or(0)) % 97;
        }
        let check = 98 - rem;
        let compact = format!("{cc}{check:02}{digits}");
        if grouped {
            compact
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            compact
        }
    })
}

fn cc_digits(cc: &str) -> String {
    cc.chars()
        .map(|c| (u32::from(c) - u32::from('A') + 10).to_string())
        .collect()
}

/// A valid NIR, with Corsican departments too, spaced the usual way or not.
fn nir() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!['1', '2']),
        0u32..100,
        1u32..13,
        prop::sample::select(vec!["75", "13", "2A", "2B", "59", "01"]),
        1u32..1000,
        1u32..1000,
        any::<bool>(),
    )
        .prop_map(|(sex, yy, mm, dep, com, ord, spaced)| {
            let body = format!("{sex}{yy:02}{mm:02}{dep}{com:03}{ord:03}");
            let key = nir_key(&body).unwrap_or(0);
            if spaced {
                format!(
                    "{} {} {} {} {} {} {key:02}",
                    &body[0..1],
                    &body[1..3],
                    &body[3..5],
                    &body[5..7],
                    &body[7..10],
                    &body[10..13]
                )
            } else {
                format!("{body}{key:02}")
            }
        })
}

fn check_spans(text: &str) {
    let d = Detector::new();
    let spans = d.detect(text);
    let mut last_end = 0;
    for s in &spans {
        assert!(s.start < s.end && s.end <= text.len());
        assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
        assert!(s.start >= last_end, "unsorted or overlapping: {spans:?}");
        last_end = s.end;
    }
    let p = d.pseudonymise(text);
    assert_eq!(p.spans, spans);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn never_panics_on_arbitrary_strings(s in any::<String>()) {
        check_spans(&s);
    }

    #[test]
    fn never_panics_on_digit_heavy_strings(s in "[0-9 .+()@a-zA-Zé€°\n\u{a0}-]{0,200}") {
        check_spans(&s);
    }

    #[test]
    fn embedded_iban_is_found_and_removed(a in french_text(), v in iban(), b in french_text()) {
        prop_assume!(is_valid_iban(&v));
        let text = format!("{a} {v} {b}");
        let p = Detector::new().pseudonymise(&text);
        prop_assert!(
            p.spans.iter().any(|s| s.kind == PiiKind::Iban && text[s.start..s.end] == v),
            "{v} not found in {text:?}: {:?}", p.spans
        );
        prop_assert!(!p.text.contains(&v));
        check_spans(&text);
    }

    #[test]
    fn embedded_nir_is_found_and_removed(a in french_text(), v in nir(), b in french_text()) {
        prop_assert!(is_valid_nir(&v), "{v}");
        let text = format!("{a} {v} {b}");
        let p = Detector::new().pseudonymise(&text);
        prop_assert!(
            p.spans.iter().any(|s| s.kind == PiiKind::Nir && text[s.start..s.end] == v),
            "{v} not found in {text:?}: {:?}", p.spans
        );
        prop_assert!(!p.text.contains(&v));
    }
}
