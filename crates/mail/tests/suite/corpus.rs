//! The public MIME corpus, parsed whole.

use std::path::{Path, PathBuf};

use facteur_core::{DefectKind, ParsedMail};
use facteur_mail::parse_message;

/// `FACTEUR_MIME_CORPUS`, else `shared/` beside the repository checkout.
fn corpus_dir() -> PathBuf {
    std::env::var_os("FACTEUR_MIME_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/email-mime-corpus")
        })
}

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read corpus dir {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if p.is_dir() {
            corpus_files(&p, out);
        } else if !name.ends_with(".md") && !name.ends_with("SHA256SUMS") {
            out.push(p);
        }
    }
}

fn parse_corpus(rel: &str) -> ParsedMail {
    let p = corpus_dir().join(rel);
    let raw = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    parse_message(&raw)
}

/// The kinds of a parse's defects, in order.
pub(crate) fn kinds(m: &ParsedMail) -> Vec<DefectKind> {
    m.defects.iter().map(|d| d.kind).collect()
}

#[test]
fn every_corpus_file_parses_cleanly() {
    let mut files = Vec::new();
    corpus_files(&corpus_dir(), &mut files);
    assert!(
        files.len() >= 100,
        "expected the 102-message corpus, found {}",
        files.len()
    );
    let mut with_defects = 0;
    for f in &files {
        let raw = std::fs::read(f).expect("read corpus file");
        let m = std::panic::catch_unwind(|| parse_message(&raw))
            .unwrap_or_else(|_| panic!("parse_message panicked on {}", f.display()));
        assert!(
            !m.message_id.is_empty(),
            "{}: empty message id",
            f.display()
        );
        assert!(!m.message_id.contains(['<', '>']), "{}", f.display());
        assert_eq!(m.content_hash.len(), 64, "{}", f.display());
        assert_eq!(m.raw_size, raw.len());
        // Text must survive a JSON round trip (valid UTF-8, serialisable as is).
        let json = serde_json::to_string(&m).expect("serialise");
        let back: ParsedMail = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, m, "{}", f.display());
        // Defect details must never carry values (addresses are the typical leak).
        for d in &m.defects {
            assert!(!d.detail.contains('@'), "{}: {:?}", f.display(), d);
        }
        for a in &m.attachments {
            assert_eq!(a.sha256.len(), 64);
        }
        if !m.defects.is_empty() {
            with_defects += 1;
        }
        // Parsing is deterministic: the content hash and derived id are stable.
        assert_eq!(parse_message(&raw).message_id, m.message_id);
    }
    assert!(with_defects > 30, "only {with_defects} files with defects");
}

#[test]
fn clean_message_fields() {
    let m = parse_corpus("cpython-3.11-test_email/msg_01.txt");
    assert_eq!(m.message_id, "15090.61304.110929.45684@aaa.zzz.org");
    assert_eq!(m.subject, "This is a test message");
    assert_eq!(m.date.as_deref(), Some("2001-05-04T14:05:44-04:00"));
    let from = m.from.expect("from");
    assert_eq!(from.name.as_deref(), Some("John X. Doe"));
    assert_eq!(from.address.as_deref(), Some("bbb@ddd.com"));
    assert!(m.body_text.contains("Do you like this message?"));
    assert!(m.defects.is_empty(), "{:?}", m.defects);
}

#[test]
fn missing_close_boundary() {
    for f in ["001.eml", "003.eml", "013.eml", "014.eml"] {
        let m = parse_corpus(&format!("mail-parser-dovecot-malformed/{f}"));
        assert!(
            kinds(&m).contains(&DefectKind::CloseBoundaryNotFound),
            "{f}: {:?}",
            m.defects
        );
    }
    // Text before the truncation is still delivered.
    let m = parse_corpus("mail-parser-dovecot-malformed/014.eml");
    assert!(m.body_text.contains("hello, world"));
}

#[test]
fn missing_start_boundary() {
    let m = parse_corpus("cpython-3.11-test_email/msg_42.txt");
    assert!(
        kinds(&m).contains(&DefectKind::StartBoundaryNotFound),
        "{:?}",
        m.defects
    );
}

#[test]
fn multipart_without_boundary() {
    for f in ["msg_25.txt", "msg_41.txt"] {
        let m = parse_corpus(&format!("cpython-3.11-test_email/{f}"));
        assert!(
            kinds(&m).contains(&DefectKind::NoBoundaryInMultipart),
            "{f}: {:?}",
            m.defects
        );
    }
}

#[test]
fn missing_header_body_separator_keeps_body() {
    let m = parse_corpus("cpython-3.11-test_email/msg_35.txt");
    assert!(kinds(&m).contains(&DefectKind::MissingHeaderBodySeparator));
    assert!(
        m.body_text.contains("no separating newline"),
        "{:?}",
        m.body_text
    );
}

#[test]
fn body_without_headers_is_not_a_message() {
    let m = parse_corpus("cpython-3.11-test_email/msg_19.txt");
    assert!(
        kinds(&m).contains(&DefectKind::NotAMessage),
        "{:?}",
        m.defects
    );
    assert!(kinds(&m).contains(&DefectKind::MissingMessageId));
    assert!(m.message_id.ends_with("@facteur.invalid"));
    assert!(m.message_id.starts_with(&m.content_hash[..32]));
}

#[test]
fn bogus_transfer_encodings() {
    let m = parse_corpus("mail-parser-dovecot-thirdparty/004.eml");
    let n = kinds(&m)
        .iter()
        .filter(|k| **k == DefectKind::InvalidTransferEncoding)
        .count();
    assert!(n >= 5, "{:?}", m.defects);
    // The values themselves (e.g. "6bit") are not echoed into details.
    assert!(m.defects.iter().all(|d| !d.detail.contains("6bit")));
}

#[test]
fn utf16_and_euc_jp_parts_decode() {
    let m = parse_corpus("mail-parser-dovecot-thirdparty/005.eml");
    assert_eq!(
        m.body_text.matches("Test message").count(),
        3,
        "{:?}",
        m.body_text
    );
    assert!(m.body_text.contains("『世界人権宣言』"));
    assert!(kinds(&m).contains(&DefectKind::CloseBoundaryNotFound));
    let m = parse_corpus("mail-parser-dovecot-thirdparty/010.eml");
    assert_eq!(m.subject, "こんにちは");
}

#[test]
fn koi8_r_parts_are_known_charsets() {
    // The corpus' koi8-r parts are empty; Cyrillic decoding is checked on our fixture.
    let m = parse_corpus("cpython-3.11-test_email/msg_08.txt");
    assert!(
        !kinds(&m).contains(&DefectKind::UnknownCharset),
        "{:?}",
        m.defects
    );
}

#[test]
fn undecodable_base64_is_reported() {
    let m = parse_corpus("mail-parser-rfc/000.eml");
    assert!(
        kinds(&m).contains(&DefectKind::InvalidEncodedContent),
        "{:?}",
        m.defects
    );
}

#[test]
fn forwarded_message_text_is_read_when_body_is_empty() {
    let m = parse_corpus("cpython-3.11-test_email/msg_11.txt");
    assert!(m
        .attachments
        .iter()
        .any(|a| a.content_type == "message/rfc822"));
    assert!(
        m.body_text.contains("Here is the body of the message."),
        "{:?}",
        m.body_text
    );
}
