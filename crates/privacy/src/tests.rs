use super::*;

fn found(text: &str) -> Vec<(PiiKind, &str)> {
    Detector::new()
        .detect(text)
        .into_iter()
        .map(|s| (s.kind, &text[s.start..s.end]))
        .collect()
}

fn kinds_of(text: &str) -> Vec<PiiKind> {
    found(text).into_iter().map(|(k, _)| k).collect()
}

#[test]
fn nir_with_good_key_is_found_and_not_as_fiscal_number() {
    let t = "Mon numéro de sécurité sociale est le 1 85 05 78 006 084 91.";
    assert_eq!(found(t), vec![(PiiKind::Nir, "1 85 05 78 006 084 91")]);
    let t = "NIR 185057800608491 merci";
    assert_eq!(found(t), vec![(PiiKind::Nir, "185057800608491")]);
    let corsica = "NIR : 2 85 05 2A 006 084 82";
    assert_eq!(
        found(corsica),
        vec![(PiiKind::Nir, "2 85 05 2A 006 084 82")]
    );
}

#[test]
fn nir_with_bad_key_is_not_reported_at_all() {
    assert!(found("Sécu : 1 85 05 78 006 084 36").is_empty());
    assert!(found("Sécu : 2 85 05 2A 006 084 83").is_empty());
}

#[test]
fn iban_valid_fr_de_be_and_one_digit_changed() {
    for (good, bad) in [
        (
            "FR76 3000 6000 0112 3456 7890 189",
            "FR76 3000 6000 0112 3456 7890 188",
        ),
        ("FR7630006000011234567890189", "FR7630006000011234567890180"),
        ("DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 01"),
        ("BE68 5390 0754 7034", "BE68 5390 0754 7035"),
    ] {
        let t = format!("Voici mon IBAN : {good}. Merci.");
        assert_eq!(found(&t), vec![(PiiKind::Iban, good)], "{t}");
        let t = format!("Voici mon IBAN : {bad}. Merci.");
        assert!(
            !kinds_of(&t).contains(&PiiKind::Iban),
            "invalid IBAN reported: {t}"
        );
    }
}

#[test]
fn fiscal_numbers_first_digit_and_length() {
    for good in [
        "1234567890123",
        "0234567890123",
        "3234567890123",
        "12 34 567 890 123",
        "0 12 34 567 890 12",
    ] {
        let t = format!("Numéro fiscal : {good}");
        assert_eq!(found(&t), vec![(PiiKind::FiscalNumber, good)], "{t}");
        // Without the announcing words too.
        let t = format!("mon identifiant {good} pour info");
        assert_eq!(kinds_of(&t), vec![PiiKind::FiscalNumber], "{t}");
    }
    for bad in [
        "4234567890123",
        "9234567890123",
        "123456789012",
        "12345678901234",
        "1234567890123456",
    ] {
        let t = format!("référence {bad} du dossier");
        assert!(found(&t).is_empty(), "{t} -> {:?}", found(&t));
    }
}

#[test]
fn phones_in_every_format() {
    for p in [
        "06 12 34 56 78",
        "0612345678",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "01 23 45 67 89",
        "+33 6 12 34 56 78",
        "+33612345678",
        "+33 (0)1 23 45 67 89",
        "0033 6 12 34 56 78",
        "0033612345678",
        "06\u{a0}12\u{a0}34\u{a0}56\u{a0}78",
    ] {
        let t = format!("Tél. : {p}, merci de rappeler");
        assert_eq!(found(&t), vec![(PiiKind::Phone, p)], "{t}");
    }
    // Inside a longer digit run: not a phone.
    assert!(found("ref 061234567899").is_empty());
    assert!(found("ref 906 12 34 56 78").is_empty());
}

#[test]
fn emails() {
    for e in [
        "jean.dupont@example.fr",
        "j-p_martin+impots@mail.gouv.fr",
        "élodie@exemple.com",
    ] {
        let t = format!("Écrivez à {e}.");
        assert_eq!(found(&t), vec![(PiiKind::Email, e)], "{t}");
    }
    assert!(found("le symbole @ seul").is_empty());
}

#[test]
fn addresses() {
    for (t, a) in [
        ("J'habite 12 rue de la Paix depuis", "12 rue de la Paix"),
        ("au 3 bis avenue Victor Hugo.", "3 bis avenue Victor Hugo"),
        ("Bât. B, 5 allée des Lilas", "Bât. B, 5 allée des Lilas"),
        ("Adresse : BP 123", "BP 123"),
        ("75002 Paris", "75002 Paris"),
        ("13001 MARSEILLE", "13001 MARSEILLE"),
        ("33000 Bordeaux Cedex 02", "33000 Bordeaux Cedex 02"),
        ("lieu-dit Le Bourg", "lieu-dit Le Bourg"),
        ("8 boulevard Saint-Michel", "8 boulevard Saint-Michel"),
        ("22 bd Haussmann", "22 bd Haussmann"),
        ("4 impasse des Roses", "4 impasse des Roses"),
        ("10 chemin du Moulin", "10 chemin du Moulin"),
        ("2 place de la République", "2 place de la République"),
        ("1 quai Voltaire", "1 quai Voltaire"),
        ("7 rue du 8 Mai 1945", "7 rue du 8 Mai 1945"),
        ("Résidence Les Pins", "Résidence Les Pins"),
        ("14 cité des Fleurs", "14 cité des Fleurs"),
        ("Hameau Saint-Jean", "Hameau Saint-Jean"),
    ] {
        assert_eq!(found(t), vec![(PiiKind::PostalAddress, a)], "{t}");
    }
    // Street and city lines form one address.
    let t = "12 rue de la Paix\n75002 Paris\n";
    assert_eq!(
        found(t),
        vec![(PiiKind::PostalAddress, "12 rue de la Paix\n75002 Paris")]
    );
}

#[test]
fn names_in_context() {
    assert_eq!(
        found("Bonjour Madame Martin,\nmerci"),
        vec![(PiiKind::PersonName, "Martin")]
    );
    assert_eq!(
        found("Je soussignée Claire Lemoine déclare"),
        vec![(PiiKind::PersonName, "Claire Lemoine")]
    );
    assert_eq!(
        found("Merci.\nCordialement,\nJean DUPONT\n"),
        vec![(PiiKind::PersonName, "Jean DUPONT")]
    );
    assert_eq!(
        found("M. et Mme Bernard vous écrivent"),
        vec![(PiiKind::PersonName, "Bernard")]
    );
}

#[test]
fn negatives() {
    for t in [
        "le 12/03/2024 à 14h30",
        "un montant de 1 234,56 € a été prélevé",
        "un montant de 12 345 678,90 euros",
        "Madame, Monsieur,\nJe vous écris au sujet de mon avis.",
        "Service des Impôts des Particuliers de Paris",
        "En Janvier, Impôts et taxes. Le Directeur.",
        "référence 2024-123456",
        "dossier n° 12345678",
        "avis d'imposition 2023 sur les revenus 2022",
        "la résidence principale et la résidence secondaire",
        "Cordialement,\nLe Service des Impôts",
        "ma carte de résidence en France, résidence de 10 ans",
        "une Résidence principale",
    ] {
        assert!(found(t).is_empty(), "{t} -> {:?}", found(t));
    }
}

#[test]
fn placeholders_are_stable_and_values_gone() {
    let t = "IBAN FR76 3000 6000 0112 3456 7890 189 puis encore FR7630006000011234567890189 \
             et DE89 3704 0044 0532 0130 00. Tél 06 12 34 56 78 ou +33 6 12 34 56 78.";
    let p = Detector::new().pseudonymise(t);
    assert_eq!(
        p.text,
        "IBAN [IBAN_1] puis encore [IBAN_1] et [IBAN_2]. Tél [TELEPHONE_1] ou [TELEPHONE_1]."
    );
    assert_eq!(p.kinds(), vec![PiiKind::Iban, PiiKind::Phone]);
    for s in &p.spans {
        assert!(!p.text.contains(&t[s.start..s.end]));
    }
}

#[test]
fn numbering_is_per_kind_by_first_appearance() {
    let t = "M. Durand (durand@example.fr) puis Mme Petit (petit@example.fr), \
             numéro fiscal 1234567890123.";
    let p = Detector::new().pseudonymise(t);
    assert_eq!(
        p.text,
        "M. [NOM_1] ([EMAIL_1]) puis Mme [NOM_2] ([EMAIL_2]), numéro fiscal [NUMERO_FISCAL_1]."
    );
    assert_eq!(
        p.kinds(),
        vec![PiiKind::FiscalNumber, PiiKind::Email, PiiKind::PersonName]
    );
}

#[test]
fn known_names_are_masked_everywhere() {
    let t = "Bonjour,\nje suis Jean Dupont. Le dossier DUPONT est en cours.\nJean";
    let p = Detector::new().pseudonymise_with_names(t, &["Jean Dupont"]);
    assert!(!p.text.to_lowercase().contains("dupont"), "{}", p.text);
    assert!(!p.text.contains("Jean"), "{}", p.text);
}

#[test]
fn found_names_propagate_to_other_occurrences() {
    let t = "Bonjour Madame Lefèvre,\nLe dossier de Mme Lefèvre: LEFÈVRE.";
    let p = Detector::new().pseudonymise(t);
    assert!(
        !p.text.contains("Lefèvre") && !p.text.contains("LEFÈVRE"),
        "{}",
        p.text
    );
    assert!(p.spans.iter().all(|s| s.placeholder == "[NOM_1]"));
}

#[test]
fn overlap_priority_is_deterministic() {
    // A NIR contains a 13-digit prefix that looks like a fiscal number.
    let t = "1 85 05 78 006 084 91";
    assert_eq!(kinds_of(t), vec![PiiKind::Nir]);
    // An e-mail made of digits is an e-mail, not a phone.
    let t = "0612345678@example.fr";
    assert_eq!(kinds_of(t), vec![PiiKind::Email]);
}
