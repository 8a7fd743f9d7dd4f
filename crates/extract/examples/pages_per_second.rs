//! Pages per second of attachment reading, per method, over the corpus in
//! `tests/fixtures` (7 text PDFs, 3 scans, 5 images), each file read `ROUNDS`
//! times, one at a time (a triage thread reads its message's attachments in
//! turn). Run: `cargo run --release -p facteur-extract --example pages_per_second [ROUNDS]`.
// A speed probe: a missing fixture or tool is a loud stop, not an error path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use facteur_extract::{extract, kind_of, ExtractConfig};

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cfg = ExtractConfig {
        ocr: true,
        budget: Duration::from_secs(120),
        ..ExtractConfig::default()
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "pdf" || e == "png" || e == "jpg")
        })
        .collect();
    files.sort();
    let mut per: BTreeMap<&str, (u32, Duration)> = BTreeMap::new();
    for _ in 0..rounds {
        for f in &files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let ct = match f.extension().and_then(|e| e.to_str()) {
                Some("pdf") => "application/pdf",
                Some("png") => "image/png",
                _ => "image/jpeg",
            };
            let bytes = std::fs::read(f).unwrap();
            let kind = kind_of(ct, Some(&name)).unwrap();
            let t0 = Instant::now();
            let t = extract(&bytes, kind, Some(&name), ct, &cfg, t0 + cfg.budget);
            let took = t0.elapsed();
            let method = t.method.map_or("failed", |m| m.as_str());
            let e = per.entry(method).or_default();
            e.0 += t.pages;
            e.1 += took;
        }
    }
    for (method, (pages, took)) in per {
        println!(
            "{method}: {pages} pages in {:.2} s = {:.1} pages/s",
            took.as_secs_f64(),
            f64::from(pages) / took.as_secs_f64()
        );
    }
}
