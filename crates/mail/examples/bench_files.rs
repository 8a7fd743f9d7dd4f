//! Per-file parse time, slowest first (finding slow paths):
//! `cargo run --release -p facteur-mail --example bench_files -- FILE...`
use std::time::Instant;
fn main() {
    let mut rows = Vec::new();
    for p in std::env::args().skip(1) {
        let Ok(b) = std::fs::read(&p) else { continue };
        let start = Instant::now();
        for _ in 0..50 {
            std::hint::black_box(facteur_mail::parse_message(&b));
        }
        rows.push((start.elapsed().as_secs_f64() * 1e6 / 50.0, b.len(), p));
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (us, len, p) in rows.iter().take(12) {
        println!("{us:9.1} µs {len:7} B {p}");
    }
}
