//! Hand-written fixtures for what the public corpus lacks: French charsets, encoded
//! words, RFC 2231, uuencode, HTML-only mail, mailbox formats and threading.

use std::path::{Path, PathBuf};

use facteur_core::{DefectKind, ParsedMail};

use crate::corpus::kinds;
use facteur_mail::{discover, parse_message, read_source, split_input, thread, SourceKind};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn parse_fixture(rel: &str) -> ParsedMail {
    parse_message(&std::fs::read(fixture(rel)).expect("fixture"))
}

#[test]
fn french_windows_1252_quoted_printable() {
    let m = parse_fixture("fr_cp1252_qp.eml");
    assert_eq!(m.subject, "Réclamation impôt");
    assert_eq!(
        m.from.as_ref().and_then(|f| f.name.as_deref()),
        Some("Élodie Test")
    );
    assert!(
        m.body_text.contains("réponse à ma déclaration"),
        "{}",
        m.body_text
    );
    assert!(m.body_text.contains("1 250 € au lieu de 980 €"));
    assert!(m.body_text.contains("Ça me paraît élevé."));
    assert_eq!(m.date.as_deref(), Some("2024-03-05T09:15:00+01:00"));
    assert!(m.defects.is_empty(), "{:?}", m.defects);
}

#[test]
fn rfc2047_utf7_and_koi8r_subject() {
    let m = parse_fixture("encoded_words.eml");
    // Adjacent encoded words are joined without the white space between them.
    assert_eq!(m.subject, "DéclarationПривет мир");
    assert!(
        m.body_text.contains("Текст письма в кодировке KOI8-R."),
        "{}",
        m.body_text
    );
}

#[test]
fn rfc2231_filenames() {
    let m = parse_fixture("rfc2231.eml");
    let names: Vec<_> = m.attachments.iter().map(|a| a.filename.clone()).collect();
    assert_eq!(
        names,
        vec![
            Some("avis d'impôt 2024.pdf".to_string()),
            Some("relevé de compte.txt".to_string())
        ]
    );
    let pdf = &m.attachments[0];
    assert_eq!(pdf.content_type, "application/pdf");
    assert_eq!(pdf.size, b"%PDF-1.4 fake avis\n".len());
    assert_eq!(pdf.sha256, sha256_hex(b"%PDF-1.4 fake avis\n"));
    assert_eq!(m.body_text.trim(), "Voir les pieces jointes.");
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn uuencoded_attachment_is_lifted_out_of_the_text() {
    let m = parse_fixture("uuencode.eml");
    let payload = std::fs::read(fixture("uuencode.payload")).expect("payload");
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.filename.as_deref(), Some("justificatif.txt"));
    assert_eq!(a.size, payload.len());
    assert_eq!(a.sha256, sha256_hex(&payload));
    assert!(!m.body_text.contains("begin 644"));
    assert!(m.body_text.contains("Veuillez trouver mon justificatif"));
    assert!(m.body_text.contains("Merci."));
    assert!(!kinds(&m).contains(&DefectKind::InvalidEncodedContent));
}

#[test]
fn html_only_mail_becomes_readable_text() {
    let m = parse_fixture("html_only.eml");
    assert!(m
        .body_html
        .as_deref()
        .is_some_and(|h| h.contains("<a href")));
    let t = &m.body_text;
    assert!(t.starts_with("Bonjour,\n"), "{t}");
    assert!(
        t.contains("Je n'arrive pas à accéder à mon espace particulier (https://www.impots.gouv.fr/espace-particulier)."),
        "{t}"
    );
    assert!(
        t.contains("- Numéro fiscal : 12 34 567 890 123\n- Navigateur : Firefox"),
        "{t}"
    );
    assert!(t.contains("Merci d’avance,\nJean"), "{t}");
    for dropped in ["alert", "color", "Titre", "<"] {
        assert!(!t.contains(dropped), "{dropped} in {t}");
    }
}

#[test]
fn mbox_with_three_messages_and_escaped_from() {
    let srcs = discover(&[fixture("three.mbox")]).expect("discover");
    assert_eq!(srcs.len(), 1);
    assert_eq!(srcs[0].kind, SourceKind::Mbox);
    let msgs = read_source(&srcs[0]).expect("read");
    assert_eq!(msgs.len(), 3);
    assert!(msgs[2].origin.ends_with("three.mbox#3"));
    let parsed: Vec<_> = msgs.iter().map(|m| parse_message(&m.bytes)).collect();
    let ids: Vec<_> = parsed.iter().map(|p| p.message_id.as_str()).collect();
    assert_eq!(
        ids,
        ["m1@example.test", "m2@example.test", "m3@example.test"]
    );
    assert!(parsed[1]
        .body_text
        .contains("\nFrom the start, this line was escaped"));
    assert!(!parsed[1].body_text.contains(">From"));
    assert_eq!(parsed[0].body_text, "Premier message.\n");
    // stdin gives the same split.
    let stdin = split_input(&std::fs::read(fixture("three.mbox")).unwrap(), "-");
    assert_eq!(stdin.len(), 3);
    assert_eq!(stdin[1].bytes, msgs[1].bytes);
}

#[test]
fn maildir_reads_cur_and_new_only() {
    let srcs = discover(&[fixture("maildir")]).expect("discover");
    assert_eq!(srcs.len(), 1);
    assert_eq!(srcs[0].kind, SourceKind::Maildir);
    let msgs = read_source(&srcs[0]).expect("read");
    let subjects: Vec<_> = msgs
        .iter()
        .map(|m| parse_message(&m.bytes).subject)
        .collect();
    assert_eq!(subjects, ["Lu", "Nouveau"]);
}

#[test]
fn directory_walk_classifies_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    std::fs::copy(fixture("three.mbox"), dir.path().join("sub/box")).unwrap();
    std::fs::copy(fixture("html_only.eml"), dir.path().join("a.eml")).unwrap();
    std::fs::write(dir.path().join(".hidden"), "x").unwrap();
    let srcs = discover(&[dir.path().to_path_buf()]).expect("discover");
    let kinds: Vec<_> = srcs.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [SourceKind::Eml, SourceKind::Mbox]);
    assert!(srcs[0].size > 0);
}

#[test]
fn missing_path_error_names_it_and_says_what_to_do() {
    let err = discover(&[PathBuf::from("/nonexistent/boite.mbox")]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/boite.mbox"), "{msg}");
    assert!(msg.contains("check the path"), "{msg}");
}

#[test]
fn conversation_with_missing_first_message_is_one_thread() {
    let msgs: Vec<_> = [
        "thread/2.eml",
        "thread/3.eml",
        "thread/4.eml",
        "thread/other.eml",
    ]
    .iter()
    .map(|f| parse_fixture(f))
    .collect();
    let ids = thread::thread_ids(&msgs);
    // The missing first message is the root: its id stays the thread id when it
    // arrives later.
    assert_eq!(ids[0], "t1@example.test");
    assert_eq!(ids[1], "t1@example.test");
    assert_eq!(ids[2], "t1@example.test");
    // Same subject, no references: a different citizen, a different thread.
    assert_eq!(ids[3], "other@example.test");
    let forest = thread::ThreadForest::build(&msgs);
    assert_eq!(forest.parent_of("t4@example.test"), Some("t3@example.test"));
    assert_eq!(forest.parent_of("t2@example.test"), Some("t1@example.test"));
}
