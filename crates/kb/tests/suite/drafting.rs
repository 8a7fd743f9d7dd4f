//! Drafting from answers written for the test: variables the drafter does not know,
//! a variable used twice, and the mailbox signature.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use facteur_core::Language;
use facteur_kb::answers::fill_template;
use facteur_kb::{draft, Date, DraftContext, DraftOutcome, KnowledgeBase};

const TODAY: Date = Date::new(2025, 6, 1);

const TAXONOMY: &str = "[[request_type]]\nid = \"delais-paiement\"\nlabel = \"Délai\"\n";

const ANSWER: &str = "+++\nid = \"delais-paiement\"\ntitle = \"Délai de paiement\"\nversion = 1\nstatus = \"validated\"\nrequest_types = [\"delais-paiement\"]\nvalid_from = 2020-11-01\nvalid_until = 2027-12-31\nlanguage = \"fr\"\nvariables = [\"civilite\", \"nom\", \"echeance\", \"signature\"]\nlinks = [\"https://www.impots.gouv.fr\"]\nauthor = \"A\"\nreviewed_by = \"B\"\n+++\nBonjour {{civilite}} {{nom}},\n\nVotre échéance du {{echeance}} peut être reportée. Merci {{nom}} de rappeler l'échéance du {{ echeance }} et de consulter https://www.impots.gouv.fr.\n\nCordialement,\n\n{{signature}}\n";

const ANSWER_EN: &str = "+++\nid = \"delais-paiement\"\ntitle = \"Payment plan\"\nversion = 1\nstatus = \"validated\"\nrequest_types = [\"delais-paiement\"]\nvalid_from = 2020-11-01\nvalid_until = 2027-12-31\nlanguage = \"en\"\nvariables = [\"civilite\", \"nom\", \"signature\"]\nlinks = []\nauthor = \"A\"\nreviewed_by = \"B\"\n+++\nDear {{civilite}} {{nom}},\n\nA payment plan may be granted.\n\nYours sincerely,\n\n{{signature}}\n";

fn kb() -> (tempfile::TempDir, KnowledgeBase) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("answers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("delais-paiement.md"), ANSWER).unwrap();
    std::fs::write(dir.join("delais-paiement.en.md"), ANSWER_EN).unwrap();
    std::fs::write(tmp.path().join("taxonomy.toml"), TAXONOMY).unwrap();
    let mut kb = KnowledgeBase::open(&tmp.path().join("kb")).unwrap();
    let (_, errors) = kb
        .import_answers_at(&dir, Some(&tmp.path().join("taxonomy.toml")), TODAY)
        .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    (tmp, kb)
}

fn ctx() -> DraftContext {
    DraftContext {
        civilite: Some("Madame".into()),
        nom: Some("Le Goff".into()),
        annee: None,
        reference: None,
        signature: Some("SIP de Démo".into()),
        language: Language::Fr,
        extra: BTreeMap::new(),
        today: TODAY,
        snippets: false,
    }
}

const MAIL: &str = "Bonjour, puis-je avoir un délai de paiement ? Merci.";

fn text_and_unfilled(o: DraftOutcome) -> (String, Vec<String>) {
    match o {
        DraftOutcome::Draft { text, unfilled, .. } => (text, unfilled),
        DraftOutcome::NoDraft { reason, .. } => panic!("no draft: {reason}"),
    }
}

#[test]
fn an_answer_specific_variable_is_a_marker_each_time_and_listed_once() {
    let (_t, kb) = kb();
    let (text, unfilled) =
        text_and_unfilled(draft(&kb, Some("delais-paiement"), 0.9, 0.5, MAIL, &ctx()));
    // A letter's opening: the civility alone (the name stays in the body).
    assert!(text.starts_with("Madame,\n"), "{text}");
    assert_eq!(
        text.matches("[[à compléter : echeance]]").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("Le Goff").count(), 1, "{text}");
    assert_eq!(unfilled, ["echeance".to_string()]);
    assert!(!text.contains("{{") && !text.contains("}}"), "{text}");
    // Given by the caller, it fills both places.
    let mut c = ctx();
    c.extra.insert("echeance".into(), "15 septembre".into());
    let (text, unfilled) =
        text_and_unfilled(draft(&kb, Some("delais-paiement"), 0.9, 0.5, MAIL, &c));
    assert_eq!(text.matches("15 septembre").count(), 2, "{text}");
    assert!(unfilled.is_empty(), "{unfilled:?}");
    // `extra` cannot supply a known variable the context says is unknown.
    let mut c = ctx();
    c.signature = None;
    c.extra.insert("signature".into(), "Inventé".into());
    let (text, unfilled) =
        text_and_unfilled(draft(&kb, Some("delais-paiement"), 0.9, 0.5, MAIL, &c));
    assert!(text.ends_with("[[à compléter : signature]]"), "{text}");
    assert!(unfilled.contains(&"signature".to_string()));
}

#[test]
fn a_multi_line_signature_with_its_contact_points_is_kept() {
    let (_t, kb) = kb();
    let mut c = ctx();
    c.signature = Some(
        "Le service des impôts des particuliers\r\nAccueil : 01 23 45 67 89\r\nsip.demo@dgfip.finances.gouv.fr\r\n"
            .into(),
    );
    let (text, _) = text_and_unfilled(draft(&kb, Some("delais-paiement"), 0.9, 0.5, MAIL, &c));
    assert!(
        text.ends_with("Cordialement,\n\nLe service des impôts des particuliers\nAccueil : 01 23 45 67 89\nsip.demo@dgfip.finances.gouv.fr"),
        "{text}"
    );
    // The signature's contact points are the service's, not a pass for others.
    c.nom = Some("Le Goff, rappelez le 06 11 22 33 44 ou www.arnaque.example.com".into());
    let (text, _) = text_and_unfilled(draft(&kb, Some("delais-paiement"), 0.9, 0.5, MAIL, &c));
    assert!(!text.contains("06 11 22 33 44"), "{text}");
    assert!(!text.contains("arnaque"), "{text}");
    assert!(text.contains("01 23 45 67 89"), "{text}");
    // A name stays on one line: only the signature keeps its line breaks.
    c.nom = Some("Le Goff\n\nVeuillez virer 500 €".into());
    let (text, _) = text_and_unfilled(draft(&kb, Some("delais-paiement"), 0.9, 0.5, MAIL, &c));
    let named = text.lines().find(|l| l.contains("Le Goff")).unwrap_or("");
    assert!(named.contains("Veuillez"), "{text}");
}

#[test]
fn fill_template_keeps_a_value_from_reopening_markers() {
    let mut v = BTreeMap::new();
    v.insert("nom".to_string(), "{{signature}}".to_string());
    v.insert("signature".to_string(), "SIP\n{{nom}}".to_string());
    let f = fill_template("Bonjour {{nom}},\n{{signature}}", &v, &[]);
    assert!(!f.text.contains("{{"), "{}", f.text);
}

#[test]
fn the_civility_is_written_in_the_language_of_the_draft() {
    let (_t, kb) = kb();
    // The correspondent reader says "Monsieur" / "Madame" whatever the mail's
    // language: an English draft must not open with "Dear Monsieur Smith".
    let mail = "Hello, I cannot pay my income tax on time, may I get a payment plan?";
    for (civ, want) in [("Monsieur", "Dear Mr Smith,"), ("Madame", "Dear Ms Smith,")] {
        let c = DraftContext {
            civilite: Some(civ.into()),
            nom: Some("Smith".into()),
            language: Language::En,
            ..ctx()
        };
        let (text, _) = text_and_unfilled(draft(&kb, Some("delais-paiement"), 0.9, 0.5, mail, &c));
        assert!(text.starts_with(want), "{civ}: {text}");
    }
    // The French draft keeps the French word; unknown civility opens both
    // languages' letters with the formula for either.
    let c = DraftContext {
        civilite: Some("Madame".into()),
        ..ctx()
    };
    let (text, _) = text_and_unfilled(draft(&kb, Some("delais-paiement"), 0.9, 0.5, MAIL, &c));
    assert!(text.starts_with("Madame,\n"), "{text}");
    let c = DraftContext {
        civilite: None,
        language: Language::En,
        ..ctx()
    };
    let (text, _) = text_and_unfilled(draft(&kb, Some("delais-paiement"), 0.9, 0.5, mail, &c));
    assert!(text.starts_with("Dear Sir or Madam,\n"), "{text}");
    let c = DraftContext {
        civilite: None,
        ..ctx()
    };
    let (text, unfilled) =
        text_and_unfilled(draft(&kb, Some("delais-paiement"), 0.9, 0.5, MAIL, &c));
    assert!(text.starts_with("Madame, Monsieur,\n"), "{text}");
    assert!(!unfilled.contains(&"civilite".to_string()), "{unfilled:?}");
}
