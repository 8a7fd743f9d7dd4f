//! Parse throughput on a directory of messages (default: the MIME corpus):
//! `cargo run --release -p facteur-mail --example bench_parse -- [DIR] [ROUNDS]`
use std::time::Instant;

fn collect(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if p.is_dir() {
            collect(&p, out);
        } else if !name.ends_with(".md") && !name.ends_with("SHA256SUMS") {
            if let Ok(b) = std::fs::read(&p) {
                out.push(b);
            }
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/email-mime-corpus"
        )
        .to_string()
    });
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(200);
    let mut msgs = Vec::new();
    collect(std::path::Path::new(&dir), &mut msgs);
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let start = Instant::now();
    let mut sink = 0usize;
    for _ in 0..rounds {
        for m in &msgs {
            sink += facteur_mail::parse_message(m).body_text.len();
        }
    }
    let el = start.elapsed();
    let n = msgs.len() * rounds;
    println!(
        "{} messages ({} KiB avg {} B) x {rounds} rounds: {:.1} µs/message, {:.0} messages/s (sink {sink})",
        msgs.len(),
        bytes / 1024,
        bytes / msgs.len().max(1),
        el.as_secs_f64() * 1e6 / n as f64,
        n as f64 / el.as_secs_f64()
    );
}
