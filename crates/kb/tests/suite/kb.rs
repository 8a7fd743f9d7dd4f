//! Integration tests of facteur-kb: answers on disk, the index, search and drafting.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use facteur_core::Language;
use facteur_kb::links::find_contacts;
use facteur_kb::{
    draft, evaluate, is_held_out, load_dir, read_queries, AnswerErrorKind, Date, DocKind,
    DraftContext, DraftOutcome, KnowledgeBase, SearchOptions, Taxonomy, Tuning,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn answers_dir() -> PathBuf {
    fixtures().join("answers/demo")
}

fn taxonomy_path() -> PathBuf {
    fixtures().join("answers/taxonomy.toml")
}

/// While the fixture answers were written, the 2024 one was still valid.
const IMPORT_DAY: Date = Date::new(2024, 6, 1);
const TODAY: Date = Date::new(2025, 6, 1);

fn kb_with_answers() -> (tempfile::TempDir, KnowledgeBase) {
    let tmp = tempfile::tempdir().unwrap();
    let mut kb = KnowledgeBase::open(tmp.path()).unwrap();
    kb.import_fiches(&fixtures().join("fiches_sample.jsonl"))
        .unwrap();
    let (_, errors) = kb
        .import_answers_at(&answers_dir(), Some(&taxonomy_path()), IMPORT_DAY)
        .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    (tmp, kb)
}

fn ctx() -> DraftContext {
    DraftContext {
        civilite: Some("Madame".into()),
        nom: Some("Durand".into()),
        annee: Some("2024".into()),
        reference: None,
        signature: Some("Le service des impôts des particuliers de Exempleville".into()),
        language: Language::Fr,
        extra: Default::default(),
        today: TODAY,
        snippets: true,
    }
}

fn expect_draft(o: &DraftOutcome) -> (&str, &str, &str, &[String], bool) {
    match o {
        DraftOutcome::Draft {
            answer_id,
            language,
            text,
            unfilled,
            language_fallback,
            ..
        } => (
            answer_id.as_str(),
            language.as_str(),
            text.as_str(),
            unfilled.as_slice(),
            *language_fallback,
        ),
        DraftOutcome::NoDraft { reason, .. } => panic!("expected a draft, got NoDraft: {reason}"),
    }
}

const MAIL_RIB: &str = "Bonjour, je viens de changer de banque et je souhaite que le prélèvement \
    de mon impôt soit fait sur mon nouveau compte à partir du mois prochain. Comment modifier mon RIB ? \
    Merci d'avance. Mme Durand";

#[test]
fn draft_uses_the_name_and_leaks_no_marker() {
    let (_t, kb) = kb_with_answers();
    let o = draft(
        &kb,
        Some("coordonnees-bancaires"),
        0.93,
        0.5,
        MAIL_RIB,
        &ctx(),
    );
    let (id, lang, text, unfilled, fallback) = expect_draft(&o);
    assert_eq!((id, lang, fallback), ("coordonnees-bancaires", "fr", false));
    assert!(text.starts_with("Madame,\n"), "{text}");
    assert!(text.contains("impôt de 2024"), "{text}");
    assert!(!text.contains("{{") && !text.contains("}}"), "{text}");
    assert!(unfilled.is_empty());
    assert!(text.contains("0 809 401 401"));
}

#[test]
fn unknown_values_get_the_marker_and_civilite_alone_reads_cleanly() {
    let (_t, kb) = kb_with_answers();
    let c = DraftContext {
        nom: None,
        annee: None,
        signature: None,
        ..ctx()
    };
    let o = draft(&kb, Some("coordonnees-bancaires"), 0.9, 0.5, MAIL_RIB, &c);
    let (_, _, text, unfilled, _) = expect_draft(&o);
    assert!(text.starts_with("Madame,\n"), "{text}");
    assert!(text.contains("impôt de [[à compléter : annee]]"), "{text}");
    assert!(text.ends_with("[[à compléter : signature]]"), "{text}");
    assert_eq!(unfilled, ["annee".to_string(), "signature".to_string()]);
}

#[test]
fn expired_and_retired_answers_are_never_proposed() {
    let (_t, kb) = kb_with_answers();
    let mail = "Madame, Monsieur, je rencontre des difficultés pour payer mon impôt cette année \
                suite à une perte d'emploi. Serait-il possible d'obtenir un délai de paiement ou un \
                échéancier sur plusieurs mois ? Référence de l'avis : 24 00 000 000 000.";
    // In 2024 the dedicated 2024 answer matches best...
    let then = DraftContext {
        today: IMPORT_DAY,
        ..ctx()
    };
    let o = draft(&kb, Some("delais-paiement"), 0.9, 0.5, mail, &then);
    assert_eq!(expect_draft(&o).0, "delais-paiement-2024");
    // ...once it has expired, only the still-valid one may be proposed.
    let o = draft(&kb, Some("delais-paiement"), 0.9, 0.5, mail, &ctx());
    let (id, _, text, unfilled, _) = expect_draft(&o);
    assert_eq!(id, "delais-paiement");
    assert!(text.contains("[[à compléter : reference]]"));
    assert_eq!(unfilled, ["reference".to_string()]);
    // A type whose only answer is retired gets no draft, but passages.
    let mail = "Bonjour, dois-je payer la taxe d'habitation sur ma résidence principale ?";
    match draft(&kb, Some("taxe-habitation"), 0.95, 0.5, mail, &ctx()) {
        DraftOutcome::NoDraft { reason, passages } => {
            assert!(reason.contains("taxe-habitation"), "{reason}");
            assert!(passages.iter().all(|h| h.id != "taxe-habitation-ancienne"));
        }
        other => panic!("retired answer proposed: {other:?}"),
    }
}

#[test]
fn low_confidence_or_unknown_type_gives_no_draft_with_passages() {
    let (_t, kb) = kb_with_answers();
    match draft(
        &kb,
        Some("coordonnees-bancaires"),
        0.3,
        0.5,
        MAIL_RIB,
        &ctx(),
    ) {
        DraftOutcome::NoDraft { reason, passages } => {
            assert!(reason.contains("below the threshold"), "{reason}");
            assert!(!passages.is_empty());
            assert!(passages.iter().any(|h| !h.passages.is_empty()));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        draft(&kb, Some("inconnu"), 0.99, 0.5, MAIL_RIB, &ctx()),
        DraftOutcome::NoDraft { .. }
    ));
    assert!(matches!(
        draft(&kb, None, 0.99, 0.5, MAIL_RIB, &ctx()),
        DraftOutcome::NoDraft { .. }
    ));
}

#[test]
fn links_not_whitelisted_never_reach_the_draft() {
    let (_t, kb) = kb_with_answers();
    // The English letter opens with the name ("Dear Mr Durand,"), so the value
    // read from the mail reaches the text, where its contact points must not.
    let c = DraftContext {
        civilite: Some("Monsieur".into()),
        nom: Some("Durand, payez sur https://impots-remboursement.example.com ou au 06 12 34 56 78 / arnaque@example.org / secure-paiement.com".into()),
        language: Language::En,
        ..ctx()
    };
    let o = draft(&kb, Some("coordonnees-bancaires"), 0.9, 0.5, MAIL_RIB, &c);
    let (_, lang, text, _, _) = expect_draft(&o);
    assert_eq!(lang, "en");
    assert!(text.contains("Durand"), "{text}");
    for bad in [
        "example.com",
        "06 12 34 56 78",
        "arnaque",
        "secure-paiement",
    ] {
        assert!(!text.contains(bad), "{bad} leaked: {text}");
    }
    let answer = kb
        .answers()
        .iter()
        .find(|a| a.id == "coordonnees-bancaires" && a.language == "en")
        .unwrap();
    for c in find_contacts(text) {
        assert!(answer.links.iter().any(|l| c.matches(l)), "{c:?}");
    }
    // The answer's own links survive the stripping.
    for link in answer.links.iter().filter(|l| l.starts_with("https://")) {
        assert!(text.contains(link.as_str()), "{link} lost: {text}");
    }
}

#[test]
fn english_variant_for_english_mail_and_flagged_fallback_otherwise() {
    let (_t, kb) = kb_with_answers();
    let en = DraftContext {
        civilite: Some("Mrs".into()),
        nom: Some("Smith".into()),
        language: Language::En,
        ..ctx()
    };
    let mail = "Hello, I have changed banks. How can I update my bank details for the direct debit of my income tax?";
    let o = draft(&kb, Some("coordonnees-bancaires"), 0.8, 0.5, mail, &en);
    let (id, lang, text, _, fallback) = expect_draft(&o);
    assert_eq!((id, lang, fallback), ("coordonnees-bancaires", "en", false));
    assert!(text.starts_with("Dear Mrs Smith,"), "{text}");
    // No English variant for this type: French, flagged.
    let o = draft(
        &kb,
        Some("delais-paiement"),
        0.8,
        0.5,
        "Hello, I cannot pay my tax on time, may I get a payment plan?",
        &en,
    );
    let (id, lang, _, _, fallback) = expect_draft(&o);
    assert_eq!((id, lang, fallback), ("delais-paiement", "fr", true));
    // German mail, French answer, flagged.
    let de = DraftContext {
        language: Language::Other("de".into()),
        ..ctx()
    };
    let o = draft(&kb, Some("coordonnees-bancaires"), 0.8, 0.5, MAIL_RIB, &de);
    assert!(expect_draft(&o).4);
}

#[test]
fn malformed_file_among_good_ones_does_not_stop_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(answers_dir()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
    }
    let bad = tmp.path().join("casse.md");
    std::fs::write(
        &bad,
        "+++\nid = \"casse\"\ntitle = \"Sans guillemet\nversion = 1\n+++\nBonjour\n",
    )
    .unwrap();
    let undeclared = tmp.path().join("variable.md");
    let good = std::fs::read_to_string(answers_dir().join("delais-paiement.md")).unwrap();
    std::fs::write(
        &undeclared,
        good.replace("id = \"delais-paiement\"", "id = \"variable\"")
            .replace("Cordialement,", "Cordialement, {{service}}"),
    )
    .unwrap();
    // A folder's README is documentation, not a malformed answer.
    std::fs::write(tmp.path().join("README.md"), "# Nos réponses types\n").unwrap();
    std::fs::create_dir_all(tmp.path().join("sub")).unwrap();
    std::fs::write(tmp.path().join("sub/Readme.md"), "Notes\n").unwrap();
    let tax = Taxonomy::load(&taxonomy_path()).unwrap();
    let (answers, errors) = load_dir(tmp.path(), Some(&tax), IMPORT_DAY).unwrap();
    assert_eq!(answers.len(), 5);
    assert_eq!(errors.len(), 2, "{errors:?}");
    let e = errors.iter().find(|e| e.path == bad).unwrap();
    assert_eq!((e.kind, e.line), (AnswerErrorKind::FrontMatter, 3));
    let e = errors.iter().find(|e| e.path == undeclared).unwrap();
    assert_eq!((e.kind, e.line), (AnswerErrorKind::UndeclaredVariable, 19));
    assert!(e.to_string().contains("variable.md:19:"), "{e}");
    // Judged in 2025, the 2024 answer is an expired validated answer.
    let (answers, errors) = load_dir(&answers_dir(), Some(&tax), TODAY).unwrap();
    assert_eq!(answers.len(), 4);
    assert_eq!(errors[0].kind, AnswerErrorKind::Expired);
    assert!(errors[0].path.ends_with("delais-paiement-2024.md"));
}

#[test]
fn import_is_incremental_and_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let fiches = fixtures().join("fiches_sample.jsonl");
    let mut kb = KnowledgeBase::open(tmp.path()).unwrap();
    let r = kb.import_fiches(&fiches).unwrap();
    assert_eq!((r.added, r.updated, r.unchanged, r.removed), (59, 0, 0, 0));
    let r = kb.import_fiches(&fiches).unwrap();
    assert_eq!((r.added, r.updated, r.unchanged, r.removed), (0, 0, 59, 0));
    let (r, _) = kb
        .import_answers_at(&answers_dir(), Some(&taxonomy_path()), IMPORT_DAY)
        .unwrap();
    assert_eq!(r.added, 5);
    drop(kb);
    // Reopened: still all unchanged, answers reloaded from the index.
    let mut kb = KnowledgeBase::open(tmp.path()).unwrap();
    assert_eq!(kb.answers().len(), 5);
    let r = kb.import_fiches(&fiches).unwrap();
    assert_eq!((r.added, r.updated, r.unchanged, r.removed), (0, 0, 59, 0));
    let (r, _) = kb
        .import_answers_at(&answers_dir(), Some(&taxonomy_path()), IMPORT_DAY)
        .unwrap();
    assert_eq!((r.added, r.unchanged), (0, 5));
    // One row changed, one dropped: updated 1, removed 1, and a bad line is reported.
    let text = std::fs::read_to_string(&fiches).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.pop();
    lines[0] = lines[0].replacen("\"title\": \"", "\"title\": \"Nouveau : ", 1);
    lines.push("{pas du json".into());
    let changed = tmp.path().join("fiches_sample.jsonl");
    std::fs::write(&changed, lines.join("\n")).unwrap();
    let r = kb.import_fiches(&changed).unwrap();
    assert_eq!((r.added, r.updated, r.unchanged, r.removed), (0, 1, 57, 1));
    assert_eq!(r.skipped.len(), 1);
    assert!(r.skipped[0].contains(":59:"), "{:?}", r.skipped);
    assert_eq!(kb.len(), 58 + 5);
}

#[test]
fn fiches_saved_with_a_byte_order_mark_and_crlf_import_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixtures().join("fiches_sample.jsonl")).unwrap();
    let windows = tmp.path().join("fiches_windows.jsonl");
    std::fs::write(
        &windows,
        format!("\u{feff}{}", text.lines().collect::<Vec<_>>().join("\r\n")),
    )
    .unwrap();
    let mut kb = KnowledgeBase::open(&tmp.path().join("idx")).unwrap();
    let r = kb.import_fiches(&windows).unwrap();
    assert_eq!((r.added, r.skipped.len()), (59, 0), "{:?}", r.skipped);
}

#[test]
fn synonyms_find_avis_d_imposition_from_feuille_d_impot() {
    let (_t, mut kb) = kb_with_answers();
    let opts = SearchOptions {
        kind: Some(DocKind::Fiche),
        today: TODAY,
        ..Default::default()
    };
    let hits = kb.search("feuille d'impôt", &opts).unwrap();
    assert_eq!(hits[0].id, "F99", "{hits:?}");
    assert!(hits[0].title.contains("avis d'imposition"));
    assert!(
        !hits[0].passages.is_empty(),
        "highlighted passages expected"
    );
    // Without the synonym list, the same query does not put F99 first.
    kb.set_tuning(Tuning {
        synonyms: 0.0,
        ..kb.tuning()
    });
    let hits = kb.search("feuille d'impôt", &opts).unwrap();
    assert_ne!(hits.first().map(|h| h.id.as_str()), Some("F99"));
}

#[test]
fn search_filters_kinds_and_unusable_answers() {
    let (_t, kb) = kb_with_answers();
    let q = "délai de paiement échéancier difficultés pour payer";
    let all = kb
        .search(
            q,
            &SearchOptions {
                today: TODAY,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(all.iter().any(|h| h.kind == DocKind::Answer));
    assert!(
        all.iter().all(|h| h.id != "delais-paiement-2024"),
        "expired answer returned"
    );
    let then = kb
        .search(
            q,
            &SearchOptions {
                today: IMPORT_DAY,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(then.iter().any(|h| h.id == "delais-paiement-2024"));
    let fiches = kb
        .search(
            q,
            &SearchOptions {
                kind: Some(DocKind::Fiche),
                today: TODAY,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(!fiches.is_empty() && fiches.iter().all(|h| h.kind == DocKind::Fiche));
    assert!(fiches
        .iter()
        .all(|h| h.url.as_deref().unwrap_or("").starts_with("https://")));
}

#[test]
fn demo_answers_load_when_present() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../answers");
    if !demo.join("taxonomy.toml").exists() {
        return;
    }
    let tax = Taxonomy::load(&demo.join("taxonomy.toml")).unwrap();
    let (answers, errors) = load_dir(&demo.join("demo"), Some(&tax), TODAY).unwrap();
    assert!(
        errors.is_empty(),
        "{:#?}",
        errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    );
    assert!(answers.len() >= 30, "{}", answers.len());
    assert!(answers.iter().any(|a| a.language == "en"));
}

/// Retrieval floor on the real fiches: nDCG@10 on the held-out topics. Builds the
/// whole index, so it is skipped when the shared data is absent.
#[test]
fn retrieval_floor_on_held_out_queries() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let queries = data.join("bench/retrieval_queries.jsonl");
    if !queries.exists() {
        eprintln!("shared data absent: skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut kb = KnowledgeBase::open(tmp.path()).unwrap();
    for n in [
        "particuliers_1",
        "particuliers_2",
        "professionnels",
        "associations",
    ] {
        kb.import_fiches(&data.join(format!("service-public-fiches-2020/fiches_{n}.jsonl")))
            .unwrap();
    }
    kb.optimize().unwrap();
    // 4,111 rows, 127 of them the same fiche published for two audiences.
    assert_eq!(kb.len(), 3984);
    let held: Vec<_> = read_queries(&queries)
        .unwrap()
        .into_iter()
        .filter(|q| is_held_out(&q.topic))
        .collect();
    let r = evaluate(&kb, &held);
    eprintln!("held-out: {r:?}");
    assert!(r.ndcg_at_10 >= 0.50, "{r:?}");
}

fn toy_kb(rows: &[(&str, &str, &str)]) -> (tempfile::TempDir, KnowledgeBase) {
    let tmp = tempfile::tempdir().unwrap();
    let lines: Vec<String> = rows
        .iter()
        .map(|(id, title, text)| {
            serde_json::json!({"id": id, "title": title, "text": text}).to_string()
        })
        .collect();
    let path = tmp.path().join("toy.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let mut kb = KnowledgeBase::open(tmp.path()).unwrap();
    kb.import_fiches(&path).unwrap();
    (tmp, kb)
}

fn fiche_opts() -> SearchOptions {
    SearchOptions {
        kind: Some(DocKind::Fiche),
        snippets: false,
        today: TODAY,
        ..Default::default()
    }
}

/// BM25 on a toy corpus, text field only, against a hand computation:
/// N = 3, text lengths 3, 2, 1 (avg 2); "chat" occurs twice in doc A only.
#[test]
fn bm25_score_matches_a_hand_computation() {
    let (_t, mut kb) = toy_kb(&[
        ("A", "zèbre", "chat chat chien"),
        ("B", "zèbre", "chien oiseau"),
        ("C", "zèbre", "poisson"),
    ]);
    let text_only = Tuning {
        title: 0.0,
        title_exact: 0.0,
        description: 0.0,
        breadcrumb: 0.0,
        text: 1.0,
        synonyms: 0.0,
        k1: 1.2,
        b_text: 0.75,
        bm25f: false,
        ..kb.tuning()
    };
    kb.set_tuning(text_only);
    let hits = kb.search("chat", &fiche_opts()).unwrap();
    assert_eq!(hits.len(), 1);
    let idf = (1.0f64 + (3.0 - 1.0 + 0.5) / (1.0 + 0.5)).ln();
    let norm = 1.0 - 0.75 + 0.75 * 3.0 / 2.0;
    let expected = idf * 2.0 * 2.2 / (2.0 + 1.2 * norm);
    assert!(
        ((hits[0].score as f64) - expected).abs() < 1e-4,
        "{} vs {expected}",
        hits[0].score
    );
    // With one field, BM25F is the same formula.
    kb.set_tuning(Tuning {
        bm25f: true,
        ..text_only
    });
    let f = kb.search("chat", &fiche_opts()).unwrap();
    assert!(((f[0].score as f64) - expected).abs() < 1e-4);
    // "chien" (df 2): the shorter doc B ranks first at equal tf.
    let hits = kb.search("chien", &fiche_opts()).unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["B", "A"]);
    // Titles weigh again once their weight is back.
    kb.set_tuning(Tuning {
        title: 1.0,
        ..text_only
    });
    assert_eq!(kb.search("zèbre", &fiche_opts()).unwrap().len(), 3);
}

#[test]
fn search_results_are_identical_after_reopening() {
    let (tmp, kb) = kb_with_answers();
    let queries = [
        "feuille d'impôt",
        "délai de paiement échéancier",
        "prélèvement à la source mensuel",
        "coordonnées bancaires RIB",
        "",
        "zzzz inconnu",
    ];
    let before: Vec<Vec<(String, f32)>> = queries
        .iter()
        .map(|q| {
            kb.search(
                q,
                &SearchOptions {
                    today: TODAY,
                    ..Default::default()
                },
            )
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.score))
            .collect()
        })
        .collect();
    assert!(before.iter().filter(|r| !r.is_empty()).count() >= 4);
    drop(kb);
    let kb = KnowledgeBase::open(tmp.path()).unwrap();
    for (q, b) in queries.iter().zip(&before) {
        let after: Vec<(String, f32)> = kb
            .search(
                q,
                &SearchOptions {
                    today: TODAY,
                    ..Default::default()
                },
            )
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.score))
            .collect();
        assert_eq!(&after, b, "{q}");
    }
}

/// The answers part follows a given set (what a node does with the store's
/// validated answers): changed text is found, removed answers are gone, the fiches
/// are untouched, the handle that was serving keeps its snapshot, and syncing the
/// same set again writes nothing.
#[test]
fn sync_answers_replaces_the_answers_part_only() {
    let (tmp, serving) = kb_with_answers();
    let fiches_before = serving
        .search(
            "impôt",
            &SearchOptions {
                kind: Some(DocKind::Fiche),
                ..fiche_opts()
            },
        )
        .unwrap()
        .len();
    let taxonomy = Taxonomy::load(&taxonomy_path()).unwrap();
    let (mut answers, _) = load_dir(&answers_dir(), Some(&taxonomy), IMPORT_DAY).unwrap();
    assert!(answers.len() >= 3);
    let removed = answers.pop().unwrap();
    answers[0]
        .body
        .push_str("\nNouveau paragraphe : mot-témoin zorglubesque.\n");
    let changed = answers[0].id.clone();

    let mut next = serving.reopen().unwrap();
    let r = next.sync_answers(&answers, Some(&taxonomy)).unwrap();
    assert_eq!((r.updated, r.removed, r.added), (1, 1, 0), "{r:?}");
    let hits = next.search_ids("zorglubesque", 5).unwrap();
    assert_eq!(hits.first(), Some(&changed), "{hits:?}");
    assert!(next
        .answers()
        .iter()
        .all(|a| (&a.id, &a.language) != (&removed.id, &removed.language)));
    let fiches_after = next
        .search(
            "impôt",
            &SearchOptions {
                kind: Some(DocKind::Fiche),
                ..fiche_opts()
            },
        )
        .unwrap()
        .len();
    assert_eq!(fiches_before, fiches_after);
    // The old handle still answers from the snapshot it loaded.
    assert!(serving.search_ids("zorglubesque", 5).unwrap().is_empty());
    assert!(serving.answers().iter().any(|a| a.id == removed.id));
    // Nothing changed: nothing written.
    let again = next.sync_answers(&answers, Some(&taxonomy)).unwrap();
    assert_eq!((again.added, again.updated, again.removed), (0, 0, 0));
    assert_eq!(again.unchanged, answers.len());
    // And a fresh open of the directory sees the synced state.
    drop(next);
    let fresh = KnowledgeBase::open(tmp.path()).unwrap();
    assert_eq!(
        fresh.search_ids("zorglubesque", 5).unwrap().first(),
        Some(&changed)
    );
}

/// A navigation page and a page for professionals rank under the citizen's fiche
/// that says the same (prior.rs), on the lexical path; the metadata survives a
/// reopening, and without priors the three tie on their words alone.
#[test]
fn navigation_pages_and_other_audiences_rank_under_the_citizens_fiche() {
    let tmp = tempfile::tempdir().unwrap();
    let text = "Le dépôt de garantie est rendu au locataire dans un délai d'un mois.";
    let row = |id: &str, audience: &str, pub_type: &str| {
        serde_json::json!({"id": id, "title": "Dépôt de garantie", "text": text,
            "audience_dir": audience, "pub_type": pub_type})
        .to_string()
    };
    let fiches = tmp.path().join("fiches.jsonl");
    std::fs::write(
        &fiches,
        [
            row("N1", "particuliers", "Dossier"),
            row("F2", "professionnels", "Fiche d'information"),
            row("F3", "particuliers", "Fiche d'information"),
        ]
        .join("\n"),
    )
    .unwrap();
    let mut kb = KnowledgeBase::open(tmp.path()).unwrap();
    kb.import_fiches(&fiches).unwrap();
    drop(kb);
    let mut kb = KnowledgeBase::open(tmp.path()).unwrap();
    let ranked = kb.search_ids("dépôt de garantie locataire", 3).unwrap();
    assert_eq!(ranked, ["F3", "F2", "N1"]);
    let scores = |kb: &KnowledgeBase| -> Vec<f32> {
        kb.search("dépôt de garantie locataire", &SearchOptions::default())
            .unwrap()
            .iter()
            .map(|h| h.score)
            .collect()
    };
    let s = scores(&kb);
    assert!(
        (s[1] / s[0] - 0.8).abs() < 1e-3 && (s[2] / s[0] - 0.1).abs() < 1e-3,
        "{s:?}"
    );
    kb.set_priors(facteur_kb::Priors::none());
    let s = scores(&kb);
    assert!(s.iter().all(|x| (x - s[0]).abs() < 1e-4), "{s:?}");
}
