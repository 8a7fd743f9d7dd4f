//! Hostile attachment bytes through extraction: as a PDF (pdftotext, then the
//! scan path through pdftoppm and Tesseract) and as an image (Tesseract). The
//! tools run in bounded child processes; what is fuzzed is that our side never
//! panics, never waits past the budget, and never returns more text than the
//! cap, whatever the tools do with the bytes. Slow per input (processes), so
//! run it with `-max_total_time`, seeded with crates/extract/tests/fixtures.
#![no_main]

use std::time::{Duration, Instant};

use facteur_extract::{extract, ExtractConfig, Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = ExtractConfig {
        ocr: true,
        budget: Duration::from_secs(2),
        max_pages: 2,
        max_chars: 5_000,
        ..ExtractConfig::default()
    };
    for kind in [Kind::Pdf, Kind::Image] {
        let started = Instant::now();
        let t = extract(data, kind, Some("f"), "application/pdf", &cfg, started + cfg.budget);
        assert!(started.elapsed() < cfg.budget + Duration::from_secs(1));
        assert!(t.text.chars().count() <= cfg.max_chars);
        assert!(t.failure.is_some() != t.method.is_some());
    }
});
