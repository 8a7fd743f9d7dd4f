//! Hostile messages built in code (not fixtures): structure a sender can make
//! arbitrarily deep or large must cost time linear in the input, never overflow
//! the stack, and keep what was readable, with a defect where a limit applies.
//! Sizes keep each test well under 2 s in a debug build.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use facteur_core::{DefectKind, ParsedMail};
use facteur_mail::{html_to_text, parse_message};

const HDR: &str =
    "From: Jean Dupont <jean@example.org>\r\nSubject: test\r\nMessage-ID: <x@example.org>\r\n";

fn timed(raw: &[u8]) -> (ParsedMail, Duration) {
    let t = Instant::now();
    let m = parse_message(raw);
    (m, t.elapsed())
}

fn has_defect(m: &ParsedMail, kind: DefectKind, needle: &str) -> bool {
    m.defects
        .iter()
        .any(|d| d.kind == kind && d.detail.contains(needle))
}

fn nested_multiparts(levels: usize) -> Vec<u8> {
    let mut s = String::from(HDR);
    for i in 0..levels {
        s += &format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n");
    }
    s += "Content-Type: text/plain\r\n\r\nBonjour, mon avis d'impôt est faux.\r\n";
    for i in (0..levels).rev() {
        s += &format!("--b{i}--\r\n");
    }
    s.into_bytes()
}

/// Each multipart's boundary check scanned its whole body: nesting made it
/// quadratic (20,000 levels took 1.6 s in release). Now checked down to a depth,
/// and the rest reported.
#[test]
fn deeply_nested_multiparts_are_read_in_linear_time() {
    let (m, took) = timed(&nested_multiparts(10_000));
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(m.body_text.trim(), "Bonjour, mon avis d'impôt est faux.");
    assert!(
        has_defect(&m, DefectKind::Other, "nested deeper than"),
        "{:?}",
        m.defects
    );
    // Shallow nesting is still fully checked and clean.
    let m = parse_message(&nested_multiparts(5));
    assert!(m.defects.is_empty(), "{:?}", m.defects);
    assert_eq!(m.body_text.trim(), "Bonjour, mon avis d'impôt est faux.");
}

fn nested_messages(levels: usize) -> Vec<u8> {
    let mut s = String::from(HDR);
    for _ in 0..levels {
        s += "Content-Type: message/rfc822\r\n\r\nSubject: TR: avis\r\n";
    }
    s += "Content-Type: text/plain\r\n\r\nBonjour, mon avis d'impôt est faux.\r\n";
    s.into_bytes()
}

/// A forward of a forward showed an empty body: only one level of attached
/// message was read.
#[test]
fn text_of_nested_forwards_is_read() {
    for levels in [1, 2, 3, 8] {
        let m = parse_message(&nested_messages(levels));
        assert_eq!(
            m.body_text.trim(),
            "Bonjour, mon avis d'impôt est faux.",
            "{levels} levels"
        );
    }
}

/// 10,000 nested message/rfc822 parts: no stack overflow anywhere (parse, scan,
/// drop), the message is kept, and the depth limit is reported.
#[test]
fn ten_thousand_nested_messages_do_not_overflow_the_stack() {
    let (m, took) = timed(&nested_messages(10_000));
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(m.subject, "test");
    assert!(
        has_defect(&m, DefectKind::Other, "attached messages nested deeper"),
        "{:?}",
        m.defects
    );
}

/// `<pre>` then 100,000 "\n<br>": each line break counted every trailing newline
/// of the output, 8.6 s for 500 KB in release.
#[test]
fn html_line_break_storm_is_linear() {
    let html = format!("<pre>{}</pre><p>Bonjour</p>", "\n<br>".repeat(100_000));
    let t = Instant::now();
    let text = html_to_text(&html);
    let took = t.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(text.ends_with("Bonjour"), "{:?}", &text[text.len() - 20..]);
}

/// 100,000 nested elements, closed or not: the converter is a loop, no recursion.
#[test]
fn deeply_nested_html_is_converted() {
    for html in [
        format!(
            "{}Bonjour{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        ),
        format!("{}Bonjour", "<table><tr><td>".repeat(100_000)),
        format!(
            "{}Bonjour",
            "<div><p><a href=\"https://x.fr\"><b>".repeat(50_000)
        ),
    ] {
        let raw = format!("{HDR}Content-Type: text/html\r\n\r\n{html}\r\n");
        let (m, took) = timed(raw.as_bytes());
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(m.body_text.contains("Bonjour"), "{:?}", m.body_text);
    }
}

/// 20,000 damaged parts: defects were deduplicated by comparing each with all
/// the kept ones (17 s for 100,000 parts in release) and all were kept. Now
/// linear, and capped with a count.
#[test]
fn defects_of_many_damaged_parts_are_capped() {
    let mut s = format!("{HDR}Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n");
    s += "--B\r\nContent-Type: text/plain\r\n\r\nBonjour, ma question.\r\n";
    for _ in 0..20_000 {
        s += "--B\r\nContent-Type: application/x\r\nContent-Transfer-Encoding: bizarre\r\n\r\nxx\r\n";
    }
    s += "--B--\r\n";
    let (m, took) = timed(s.as_bytes());
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(m.body_text.trim(), "Bonjour, ma question.");
    assert_eq!(m.attachments.len(), 20_000);
    assert_eq!(m.defects.len(), 100, "{:?}", &m.defects[..3]);
    assert!(
        has_defect(&m, DefectKind::Other, "19901 more defects not listed"),
        "{:?}",
        m.defects.last()
    );
}

/// Large headers and bodies: linear, and the text stays readable.
#[test]
fn large_headers_and_bodies_stay_readable() {
    let cases: Vec<(&str, String)> = vec![
        (
            "5 MB header line",
            format!("{HDR}X-Long: {}\r\n\r\nBonjour\r\n", "a".repeat(5_000_000)),
        ),
        (
            "100,000 header fields",
            format!("{HDR}{}\r\nBonjour\r\n", "X-H: v\r\n".repeat(100_000)),
        ),
        (
            "200,000 encoded words",
            format!(
                "From: a@b.fr\r\nSubject: {}\r\n\r\nBonjour\r\n",
                "=?utf-8?q?ab=C3=A9?= ".repeat(200_000)
            ),
        ),
        (
            "soft-break storm",
            format!(
                "{HDR}Content-Transfer-Encoding: quoted-printable\r\n\r\n{}Bonjour\r\n",
                "=\r\n".repeat(1_000_000)
            ),
        ),
    ];
    for (name, raw) in cases {
        let (m, took) = timed(raw.as_bytes());
        assert!(took < Duration::from_secs(2), "{name}: {took:?}");
        assert_eq!(m.body_text.trim(), "Bonjour", "{name}");
    }
}

/// The attachment download reads stored mail again: 100,000 nested messages
/// (the review's 3 MB mail) must neither overflow the stack nor lose the
/// attachment, and its hash is the one ingest listed.
#[test]
fn attachment_of_a_hundred_thousand_nested_messages_is_found() {
    let raw = nested_messages(100_000);
    let m = parse_message(&raw);
    let sha = &m
        .attachments
        .first()
        .expect("the nested message is listed")
        .sha256;
    let got = facteur_mail::attachment_by_sha256(&raw, sha, usize::MAX).expect("found");
    assert!(got.starts_with(b"Subject: TR: avis"), "{:?}", &got[..20]);
    assert_eq!(
        facteur_mail::attachment_by_sha256(&raw, &"0".repeat(64), usize::MAX),
        None
    );
    // Above the cap nothing was listed at ingest, and nothing is parsed now.
    assert_eq!(facteur_mail::attachment_by_sha256(&raw, sha, 1000), None);
}

/// Plain and uuencoded attachments come back byte for byte under the hash
/// ingest gave them.
#[test]
fn attachments_come_back_by_their_hash() {
    let raw = format!(
        "{HDR}Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: text/plain\r\n\r\nVoir la pièce jointe.\r\n\
         begin 644 note.txt\r\n#86)C\r\n`\r\nend\r\n--b\r\n\
         Content-Type: application/pdf; name=\"avis.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"avis.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    );
    let m = parse_message(raw.as_bytes());
    assert_eq!(m.attachments.len(), 2, "{:?}", m.attachments);
    for a in &m.attachments {
        let got = facteur_mail::attachment_by_sha256(
            raw.as_bytes(),
            &a.sha256.to_uppercase(),
            usize::MAX,
        )
        .unwrap_or_else(|| panic!("{a:?}"));
        assert_eq!(got.len(), a.size);
    }
    let pdf = m
        .attachments
        .iter()
        .find(|a| a.filename.as_deref() == Some("avis.pdf"))
        .unwrap();
    assert_eq!(
        facteur_mail::attachment_by_sha256(raw.as_bytes(), &pdf.sha256, usize::MAX).unwrap(),
        b"%PDF-1.4\n"
    );
    // All at once, from one parse, in the order asked; a hash that matches
    // nothing gives nothing.
    let zeros = "0".repeat(64);
    let all = facteur_mail::attachments_by_sha256(
        raw.as_bytes(),
        &[&pdf.sha256, &zeros, &m.attachments[0].sha256],
        usize::MAX,
    );
    assert_eq!(all[0].as_deref(), Some(&b"%PDF-1.4\n"[..]));
    assert_eq!(all[1], None);
    assert_eq!(all[2].as_ref().map(Vec::len), Some(m.attachments[0].size));
}
