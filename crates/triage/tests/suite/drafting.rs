//! Drafting end to end, as an agent meets it: a raw French mail goes through the
//! triage engine (cleaning, correspondent, fields) and the demo standard answers, and
//! the draft must carry only values the new text or the headers give, a visible
//! `[[à compléter : …]]` marker otherwise.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use facteur_kb::{Date, KnowledgeBase};
use facteur_triage::{Engine, Overrides, TriageOptions};

fn answers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../answers")
}

fn engine() -> (tempfile::TempDir, Engine) {
    let tmp = tempfile::tempdir().unwrap();
    let mut kb = KnowledgeBase::open(tmp.path()).unwrap();
    let (_, errors) = kb
        .import_answers_at(
            &answers().join("demo"),
            Some(&answers().join("taxonomy.toml")),
            Date::new(2025, 6, 1),
        )
        .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    (tmp, Engine::new(None, Some(kb), TriageOptions::default()))
}

const SIGNATURE: &str = "Le service des impôts des particuliers de Démo";

fn draft_with(e: &Engine, raw: &str, category: &str, signature: Option<&str>) -> String {
    let t = e.triage_with(
        "test",
        &facteur_mail::parse_message(raw.as_bytes()),
        &Overrides {
            signature: signature.map(String::from),
            category: Some(category.into()),
            ..Overrides::default()
        },
    );
    t.draft
        .unwrap_or_else(|| panic!("no draft for {raw}: {:?}", t.no_draft_reason))
        .text
}

fn draft_of(e: &Engine, raw: &str, category: &str) -> String {
    draft_with(e, raw, category, Some(SIGNATURE))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The correspondent the engine read (civility, name) and the draft's first line.
fn greeting(e: &Engine, raw: &str) -> (Option<String>, Option<String>, String) {
    greeting_in(e, raw, "avis-imposition")
}

fn greeting_in(e: &Engine, raw: &str, category: &str) -> (Option<String>, Option<String>, String) {
    let t = e.triage_with(
        "test",
        &facteur_mail::parse_message(raw.as_bytes()),
        &Overrides {
            signature: Some(SIGNATURE.into()),
            category: Some(category.into()),
            ..Overrides::default()
        },
    );
    let d = t.draft.expect("a draft").text;
    (
        t.correspondent.civilite,
        t.correspondent.name,
        first_line(&d).to_string(),
    )
}

/// A letter from the administration opens with "Madame," or "Monsieur," when the
/// mail says which, otherwise "Madame, Monsieur,": never a guessed civility, a
/// marker or a first name in the greeting. The name is still read (the answers
/// use it elsewhere), only from the mail.
#[test]
fn greeting_takes_name_and_civility_only_from_the_mail() {
    let (_t, e) = engine();
    let body = "Subject: avis\n\nBonjour,\nJe n'ai pas reçu mon avis d'impôt.\n";
    let either = "Madame, Monsieur,";
    let cases: &[(&str, Option<&str>, Option<&str>, &str)] = &[
        // Name as written; civility unknown, never "Monsieur".
        (
            "From: DUPONT Jean <j@x.fr>\n",
            None,
            Some("DUPONT Jean"),
            either,
        ),
        ("From: jean.dupont@x.fr\n", None, None, either),
        // A couple: neither "Monsieur" nor "Madame" alone, no half name.
        ("From: M. et Mme Martin <m@x.fr>\n", None, None, either),
        ("From: Service RH <rh@societe.fr>\n", None, None, either),
        ("From: SARL Dupont Frères <c@x.fr>\n", None, None, either),
        // RFC 2047 display names, hyphen, particle, apostrophe.
        (
            "From: =?UTF-8?B?TWFyaWUtw4h2ZSBMZSBHb2Zm?= <m@x.fr>\n",
            None,
            Some("Marie-Ève Le Goff"),
            either,
        ),
        (
            "From: =?ISO-8859-1?Q?Fran=E7ois_d'Artagnan?= <f@x.fr>\n",
            None,
            Some("François d'Artagnan"),
            either,
        ),
        // Directory order "Surname, Given name" is read back in order.
        (
            "From: \"Dupont, Jean\" <j@x.fr>\n",
            None,
            Some("Jean Dupont"),
            either,
        ),
        (
            "From: \"M. Ahmed Benali\" <a@x.fr>\n",
            Some("Monsieur"),
            Some("Ahmed Benali"),
            "Monsieur,",
        ),
    ];
    let cases = cases
        .iter()
        .map(|(from, civ, name, line)| (format!("{from}{body}"), *civ, *name, *line));
    let more: &[(&str, Option<&str>, Option<&str>, &str)] = &[
        // The name only in "Je soussignée" or in the signature.
        (
            "From: x@x.fr\nSubject: avis\n\nBonjour,\nJe soussignée Marie-Ève Le Goff demande une copie de mon avis.\nCordialement\n",
            Some("Madame"),
            Some("Marie-Ève Le Goff"),
            "Madame,",
        ),
        (
            "From: x@x.fr\nSubject: avis\n\nBonjour,\nJe n'ai pas reçu mon avis.\nBien à vous,\nMme Claire Petit\n",
            Some("Madame"),
            Some("Claire Petit"),
            "Madame,",
        ),
        (
            "From: x@x.fr\nSubject: avis\n\nBonjour,\nJe n'ai pas reçu mon avis.\nCordialement,\nPierre d'Artagnan\n",
            None,
            Some("Pierre d'Artagnan"),
            either,
        ),
        // "Je soussigné(e)" says nothing of the civility.
        (
            "From: x@x.fr\nSubject: avis\n\nBonjour,\nJe soussigné(e) Camille Dupont demande mon avis.\n",
            None,
            Some("Camille Dupont"),
            either,
        ),
        // The signature names someone else than the From: no civility from the From.
        (
            "From: \"M. Paul Durand\" <p@x.fr>\nSubject: avis\n\nBonjour,\nJe n'ai pas reçu mon avis.\nCordialement,\nMarie Durand\n",
            None,
            Some("Marie Durand"),
            either,
        ),
    ];
    let more = more
        .iter()
        .map(|(raw, civ, name, line)| (raw.to_string(), *civ, *name, *line));
    for (raw, civ, name, line) in cases.chain(more) {
        let got = greeting(&e, &raw);
        assert_eq!(
            got,
            (
                civ.map(String::from),
                name.map(String::from),
                line.to_string()
            ),
            "{raw}"
        );
    }
}

const DONS: &str = "From: Jean Dupont <j@x.fr>\nSubject: dons\n\nBonjour,\n";

fn dons_year_line(d: &str) -> &str {
    d.lines()
        .find(|l| l.starts_with("Les dons versés en"))
        .expect("the year line of the dons answer")
}

#[test]
fn the_income_year_comes_from_the_new_text_only() {
    let (_t, e) = engine();
    let d = draft_of(
        &e,
        &format!("{DONS}J'ai fait des dons, comment les déclarer pour mes revenus 2023 ?\n"),
        "dons",
    );
    assert!(
        dons_year_line(&d).starts_with("Les dons versés en 2023 "),
        "{d}"
    );
    // Relative: never resolved.
    let d = draft_of(
        &e,
        &format!("{DONS}J'ai fait des dons l'an dernier, comment les déclarer ?\n"),
        "dons",
    );
    assert!(
        dons_year_line(&d).starts_with("Les dons versés en [[à compléter : annee]] "),
        "{d}"
    );
    // A year in the quoted history (someone else's text) is not the citizen's.
    let d = draft_of(
        &e,
        &format!("{DONS}Merci, et comment déclarer mes dons ?\n\nLe 3 mars 2024, SIP Démo a écrit :\n> Pour vos revenus 2019, voir la notice.\n> Cordialement\n"),
        "dons",
    );
    assert!(
        dons_year_line(&d).starts_with("Les dons versés en [[à compléter : annee]] "),
        "{d}"
    );
}

#[test]
fn two_different_years_leave_the_year_to_the_agent() {
    let (_t, e) = engine();
    // Which year the answer is about is the agent's call, not the first one written.
    let d = draft_of(
        &e,
        &format!("{DONS}J'ai fait des dons pour mes revenus 2023, et aussi pour mes revenus 2022. Comment les déclarer ?\n"),
        "dons",
    );
    assert!(
        dons_year_line(&d).starts_with("Les dons versés en [[à compléter : annee]] "),
        "{d}"
    );
}

#[test]
fn a_declaration_or_tax_year_is_not_an_income_year() {
    let (_t, e) = engine();
    // "Ma déclaration 2024" is the 2024 campaign, about 2023 income: writing "vos
    // dons versés en 2024" or "votre déclaration de revenus de 2024" would be wrong.
    for text in [
        "Pour ma déclaration 2024, comment déclarer mes dons ?",
        "Sur mon avis d'impôt 2024, mes dons n'apparaissent pas. Comment les déclarer ?",
    ] {
        let d = draft_of(&e, &format!("{DONS}{text}\n"), "dons");
        assert!(
            dons_year_line(&d).starts_with("Les dons versés en [[à compléter : annee]] "),
            "{text}\n{d}"
        );
    }
    let d = draft_of(
        &e,
        "From: Jean Dupont <j@x.fr>\nSubject: retard\n\nBonjour,\nJ'ai oublié de faire ma déclaration 2024, que faire ?\n",
        "retard-declaration",
    );
    assert!(
        d.contains("déclaration de revenus de [[à compléter : annee]]"),
        "{d}"
    );
    // The same year said twice, once as the income year, is that year.
    let d = draft_of(
        &e,
        &format!("{DONS}Mes revenus 2023 : j'ai fait des dons en 2023, faut-il les mettre dans la déclaration des revenus 2023 ?\n"),
        "dons",
    );
    assert!(
        dons_year_line(&d).starts_with("Les dons versés en 2023 "),
        "{d}"
    );
}

const RECLAMATION: &str = "From: Jean Dupont <j@x.fr>\nSubject: reclamation\n\nBonjour,\n";

fn reference_line(d: &str) -> &str {
    d.lines()
        .find(|l| l.starts_with("Nous accusons réception"))
        .expect("the reference line of the reclamation answer")
}

#[test]
fn references_come_from_the_new_text_never_from_quoted_history() {
    let (_t, e) = engine();
    let d = draft_of(
        &e,
        &format!("{RECLAMATION}Je conteste mon avis, référence de l'avis : 2023 12 3456789 1.\n"),
        "reclamation",
    );
    assert!(
        reference_line(&d).contains("dossier de référence 2023 12 3456789 1."),
        "{d}"
    );
    let d = draft_of(
        &e,
        &format!("{RECLAMATION}Je conteste mon avis, merci de traiter ma réclamation.\n\nLe 3 mars 2024, Paul Martin <p@y.fr> a écrit :\n> Référence de l'avis : 2023 12 345678 9\n> Paul\n"),
        "reclamation",
    );
    assert!(
        reference_line(&d).contains("[[à compléter : reference]]"),
        "{d}"
    );
    assert!(!d.contains("345678"), "{d}");
    // Two different references: which one the acknowledgement names is the
    // agent's call.
    let d = draft_of(
        &e,
        &format!("{RECLAMATION}Je conteste l'avis référence 2023 12 3456789 1 ; voir aussi mon dossier n° 2022-98765.\n"),
        "reclamation",
    );
    assert!(
        reference_line(&d).contains("[[à compléter : reference]]"),
        "{d}"
    );
    // A fiscal number is personal data, not a file reference: never in the draft.
    let d = draft_of(
        &e,
        &format!("{RECLAMATION}Je conteste mon avis. Mon numéro fiscal est 1234567890123.\n"),
        "reclamation",
    );
    assert!(
        reference_line(&d).contains("[[à compléter : reference]]"),
        "{d}"
    );
    assert!(!d.contains("1234567890123"), "{d}");
}

#[test]
fn no_pseudonymisation_placeholder_reaches_the_draft() {
    let (_t, e) = engine();
    let raw = format!("{RECLAMATION}Je soussigné M. Jean Dupont, numéro fiscal 1234567890123, IBAN FR76 3000 6000 0112 3456 7890 189, tél. 06 12 34 56 78, conteste mon avis, référence de l'avis : 2023 12 3456789 1.\nCordialement,\nJean Dupont\n");
    let t = e.triage_with(
        "test",
        &facteur_mail::parse_message(raw.as_bytes()),
        &Overrides {
            signature: Some(SIGNATURE.into()),
            category: Some("reclamation".into()),
            ..Overrides::default()
        },
    );
    // The pseudonymised copy has placeholders; the citizen's draft must not.
    assert!(
        t.body_pseudonymised.contains("[NOM_"),
        "{}",
        t.body_pseudonymised
    );
    let d = t.draft.expect("a draft").text;
    assert!(first_line(&d) == "Monsieur,", "{d}");
    for p in [
        "[NOM_",
        "[NUMERO_FISCAL_",
        "[IBAN_",
        "[TELEPHONE_",
        "[EMAIL_",
    ] {
        assert!(!d.contains(p), "{p} in {d}");
    }
    for secret in ["1234567890123", "FR76", "06 12 34 56 78"] {
        assert!(!d.contains(secret), "{secret} in {d}");
    }
}

#[test]
fn the_mailbox_signature_is_kept_as_configured() {
    let (_t, e) = engine();
    let raw = "From: Jean Dupont <j@x.fr>\nSubject: avis\n\nBonjour,\nJe n'ai pas reçu mon avis.\n";
    // The default signature a mailbox gets (`service.rs`): two lines, with the
    // mailbox's own address, which no answer lists among its links.
    let sig = "Le service des impôts des particuliers\nsip.demo@dgfip.finances.gouv.fr";
    let d = draft_with(&e, raw, "avis-imposition", Some(sig));
    assert!(d.ends_with(sig), "{d}");
    let sig =
        "SIP de Démo-sur-Loire\r\nAccueil : 01 23 45 67 89\r\nhttps://www.impots.gouv.fr/contacts";
    let d = draft_with(&e, raw, "avis-imposition", Some(sig));
    assert!(
        d.ends_with(
            "SIP de Démo-sur-Loire\nAccueil : 01 23 45 67 89\nhttps://www.impots.gouv.fr/contacts"
        ),
        "{d}"
    );
    // No signature configured: a marker, never an invented service name.
    let d = draft_with(&e, raw, "avis-imposition", None);
    assert!(d.ends_with("[[à compléter : signature]]"), "{d}");
    // A contact point the signature allows does not open the door to the citizen's.
    let d = draft_with(
        &e,
        "From: \"Jean Dupont 01 99 88 77 66\" <j@x.fr>\nSubject: avis\n\nBonjour,\nJe n'ai pas reçu mon avis.\n",
        "avis-imposition",
        Some("SIP\n01 23 45 67 89"),
    );
    assert!(!d.contains("01 99 88 77 66"), "{d}");
}

#[test]
fn an_english_mail_gets_an_english_civility() {
    let (_t, e) = engine();
    let body = "Subject: tax notice\n\nHello,\nI have not received my tax notice this year. Could you send me a copy of it please?\nThank you\n";
    for (from, want) in [
        ("From: \"Mr John Smith\" <j@x.uk>\n", "Dear Mr John Smith,"),
        ("From: \"Mrs Jane Smith\" <j@x.uk>\n", "Dear Ms Jane Smith,"),
        ("From: \"Ms. Jane Smith\" <j@x.uk>\n", "Dear Ms Jane Smith,"),
        // No civility: the formula for either, not a marker nor a guess.
        ("From: \"Jane Smith\" <j@x.uk>\n", "Dear Sir or Madam,"),
    ] {
        let d = draft_of(&e, &format!("{from}{body}"), "avis-imposition");
        assert_eq!(first_line(&d), want, "{from}");
    }
}

#[test]
fn nothing_is_taken_from_a_quoted_or_forwarded_message_nor_from_the_greeting() {
    let (_t, e) = engine();
    // No civility and no name taken: the letter opens with the formula for either.
    let nobody = (None, None, "Madame, Monsieur,".to_string());
    // Outlook quoting (no ">"): another person's year, reference and signature.
    let raw = "From: x@x.fr\nSubject: dons\n\nBonjour,\nComment déclarer mes dons ?\n\n-----Message d'origine-----\nDe : Paul Martin <p@y.fr>\nEnvoyé : lundi 3 mars 2024 10:00\nÀ : sip@dgfip.finances.gouv.fr\nObjet : dons\n\nBonjour, pour mes revenus 2019, référence de l'avis : 2023 12 345678 9\nCordialement,\nM. Paul Martin\n";
    let d = draft_of(&e, raw, "dons");
    assert_eq!(greeting_in(&e, raw, "dons"), nobody, "{d}");
    assert!(
        dons_year_line(&d).contains("[[à compléter : annee]]"),
        "{d}"
    );
    // A forwarded mail: its author is not the correspondent.
    let raw = "From: x@x.fr\nSubject: Fwd: dons\n\nBonjour,\nJe vous transfère la question de mon père.\n\n---------- Forwarded message ---------\nFrom: Paul Martin <p@y.fr>\nDate: Mon, 3 Mar 2024\nSubject: dons\n\nBonjour, pour mes revenus 2019 comment déclarer mes dons ?\nCordialement,\nM. Paul Martin\n";
    let d = draft_of(&e, raw, "dons");
    assert_eq!(greeting_in(&e, raw, "dons"), nobody, "{d}");
    assert!(
        dons_year_line(&d).contains("[[à compléter : annee]]"),
        "{d}"
    );
    // "Bonjour Madame Martin" addresses the agent, not the writer.
    let raw = "From: x@x.fr\nSubject: avis\n\nBonjour Madame Martin,\nJe n'ai pas reçu mon avis.\nMerci\n";
    let d = draft_of(&e, raw, "avis-imposition");
    assert_eq!(greeting_in(&e, raw, "avis-imposition"), nobody, "{d}");
    // Written on behalf of someone else: no guess.
    let raw = "From: x@x.fr\nSubject: avis\n\nBonjour,\nJe n'ai pas reçu mon avis.\nCordialement\n\nMme Dupont (pour M. Dupont, décédé)\n";
    let d = draft_of(&e, raw, "avis-imposition");
    assert_eq!(greeting_in(&e, raw, "avis-imposition"), nobody, "{d}");
    // A subject-only mail: the subject is the text.
    let d = draft_of(
        &e,
        "From: Jean Dupont <j@x.fr>\nSubject: Dons revenus 2023\n\n",
        "dons",
    );
    assert!(
        dons_year_line(&d).starts_with("Les dons versés en 2023 "),
        "{d}"
    );
}
