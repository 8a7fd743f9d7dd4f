//! The attachment corpus of issue 19 (`tests/fixtures`, written by `make.py`):
//! 7 PDFs with a text layer, 3 scanned PDFs and 5 images, each read by the real
//! tools (poppler, Tesseract with its French model); and hostile files, which
//! must give a failure, never a hang or a crash. `--nocapture` prints pages per
//! second for each method.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use facteur_extract::{extract, kind_of, ExtractConfig, ExtractFailure, ExtractMethod};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The tools, or `false` with a skip line (a failure under CI, which installs
/// them: `scripts/services.sh`).
fn tools_present() -> bool {
    let ok = ["pdftotext", "pdftoppm", "tesseract"].iter().all(|t| {
        std::process::Command::new(t)
            .arg("-v")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok()
    });
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "poppler-utils and tesseract-ocr(-fra) are missing under CI"
        );
        eprintln!("skipped: poppler-utils / tesseract-ocr not installed");
    }
    ok
}

/// Upper case without accents: OCR reads "IDENTITÉ" where the letter says
/// "IDENTITE", which is the same word for this check.
fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' | 'À' | 'Â' => 'A',
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' => 'E',
            'î' | 'ï' | 'Î' => 'I',
            'ô' | 'ö' | 'Ô' => 'O',
            'ù' | 'û' | 'ü' | 'Ù' | 'Û' => 'U',
            'ç' | 'Ç' => 'C',
            '’' => '\'',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        _ => "image/jpeg",
    }
}

#[test]
fn every_corpus_file_gives_its_text_by_the_expected_method() {
    if !tools_present() {
        return;
    }
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    let cfg = ExtractConfig {
        ocr: true,
        budget: Duration::from_secs(120),
        ..ExtractConfig::default()
    };
    let mut per_method: std::collections::BTreeMap<&str, (u32, Duration)> = Default::default();
    let files = expected.as_object().unwrap();
    assert_eq!(files.len(), 15, "7 text PDFs, 3 scans, 5 images");
    for (name, want) in files {
        let bytes = std::fs::read(fixtures().join(name)).unwrap();
        let ct = content_type(name);
        let kind = kind_of(ct, Some(name)).unwrap();
        let started = Instant::now();
        let t = extract(&bytes, kind, Some(name), ct, &cfg, started + cfg.budget);
        let took = started.elapsed();
        assert_eq!(t.failure, None, "{name}: {t:?}");
        let method = t.method.unwrap();
        assert_eq!(method.as_str(), want["method"], "{name}");
        assert_eq!(
            u64::from(t.pages),
            want["pages"].as_u64().unwrap(),
            "{name}"
        );
        for p in want["phrases"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            assert!(
                fold(&t.text).contains(&fold(p)),
                "{name}: {p:?} not in {:?}",
                t.text
            );
        }
        let e = per_method.entry(method.as_str()).or_default();
        e.0 += t.pages;
        e.1 += took;
    }
    for (method, (pages, took)) in &per_method {
        println!(
            "{method}: {pages} pages in {:.2} s, {:.1} pages/s (one process at a time)",
            took.as_secs_f64(),
            f64::from(*pages) / took.as_secs_f64()
        );
    }
}

#[test]
fn a_scan_without_ocr_says_there_is_no_text() {
    if !tools_present() {
        return;
    }
    let bytes = std::fs::read(fixtures().join("scan-attestation.pdf")).unwrap();
    let cfg = ExtractConfig::default();
    assert!(!cfg.ocr, "OCR is opt-in");
    let t = extract(
        &bytes,
        facteur_extract::Kind::Pdf,
        None,
        "application/pdf",
        &cfg,
        Instant::now() + cfg.budget,
    );
    assert_eq!(t.failure, Some(ExtractFailure::NoText));
    assert_eq!(t.method, None);
    let img = std::fs::read(fixtures().join("photo-rib.jpg")).unwrap();
    let t = extract(
        &img,
        facteur_extract::Kind::Image,
        None,
        "image/jpeg",
        &cfg,
        Instant::now() + cfg.budget,
    );
    assert_eq!(t.failure, Some(ExtractFailure::NoText));
}

#[test]
fn hostile_files_fail_cleanly_and_in_time() {
    if !tools_present() {
        return;
    }
    let cfg = ExtractConfig {
        ocr: true,
        budget: Duration::from_secs(5),
        ..ExtractConfig::default()
    };
    let good = std::fs::read(fixtures().join("avis-impot-2024.pdf")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("garbage", (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect()),
        ("empty", Vec::new()),
        ("header only", b"%PDF-1.4\n".to_vec()),
        (
            "pages loop",
            b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [2 0 R] /Count 1 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        for kind in [facteur_extract::Kind::Pdf, facteur_extract::Kind::Image] {
            let started = Instant::now();
            let t = extract(
                &bytes,
                kind,
                None,
                "application/pdf",
                &cfg,
                started + cfg.budget,
            );
            assert!(
                started.elapsed() < cfg.budget + Duration::from_secs(2),
                "{what}: {:?}",
                started.elapsed()
            );
            assert!(t.failure.is_some() || t.method.is_some(), "{what}: {t:?}");
            assert!(t.text.len() <= cfg.max_chars * 4, "{what}");
        }
    }
    // No time left: nothing runs.
    let t = extract(
        &good,
        facteur_extract::Kind::Pdf,
        None,
        "application/pdf",
        &cfg,
        Instant::now(),
    );
    assert_eq!(t.failure, Some(ExtractFailure::Timeout));
    let _ = ExtractMethod::Ocr;
}
