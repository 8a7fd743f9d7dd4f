//! Throughput on the fixture mails, one core:
//! `cargo run --release -p facteur-text --example clean_throughput`
//! Prints mails/s for `clean` alone and for the full analysis of a mail.

use std::time::Instant;

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut mails: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if mails.is_empty() {
        eprintln!("no fixtures in {dir}");
        return;
    }
    mails.sort();
    let avg_bytes = mails.iter().map(String::len).sum::<usize>() / mails.len();
    let rounds = 20_000;
    let n = rounds * mails.len();

    let t = Instant::now();
    let mut segs = 0usize;
    for _ in 0..rounds {
        for m in &mails {
            segs += facteur_text::clean(std::hint::black_box(m)).segments.len();
        }
    }
    let clean_rate = n as f64 / t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut hits = 0usize;
    for _ in 0..rounds {
        for m in &mails {
            let c = facteur_text::clean(std::hint::black_box(m));
            let text = c.new_text();
            let lang = facteur_text::detect_language(&text);
            let f = facteur_text::extract_fields(&text);
            let flags = facteur_text::detect_flags(&text);
            let who = facteur_text::correspondent(&c, None);
            hits +=
                lang.code().len() + f.dates.len() + flags.len() + who.name.map_or(0, |s| s.len());
        }
    }
    let full_rate = n as f64 / t.elapsed().as_secs_f64();

    // Each analyser alone, on the new text.
    let texts: Vec<(facteur_text::Cleaned, String)> = mails
        .iter()
        .map(|m| {
            let c = facteur_text::clean(m);
            let t = c.new_text();
            (c, t)
        })
        .collect();
    let time = |name: &str, f: &dyn Fn(&facteur_text::Cleaned, &str) -> usize| {
        let t = Instant::now();
        let mut k = 0usize;
        for _ in 0..rounds {
            for (c, s) in &texts {
                k += f(c, std::hint::black_box(s));
            }
        }
        println!(
            "  {name}: {:.0} calls/s ({k})",
            n as f64 / t.elapsed().as_secs_f64()
        );
    };
    time("detect_language", &|_, s| {
        facteur_text::detect_language(s).code().len()
    });
    time("extract_fields", &|_, s| {
        facteur_text::extract_fields(s).dates.len()
    });
    time("detect_flags", &|_, s| facteur_text::detect_flags(s).len());
    time("correspondent", &|c, _| {
        facteur_text::correspondent(c, None)
            .name
            .map_or(0, |n| n.len())
    });
    println!(
        "{} fixture mails (avg {avg_bytes} bytes), {n} runs: clean {clean_rate:.0} mails/s; clean+language+fields+flags+correspondent {full_rate:.0} mails/s (checksum {segs}/{hits})",
        mails.len()
    );
}
