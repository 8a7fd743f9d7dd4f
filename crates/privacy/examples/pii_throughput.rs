//! Pseudonymisation speed on the test fixtures (a refund request, a certificate
//! request, a thread, a mail without personal data), round robin, in one process:
//! `cargo run --release -p facteur-privacy --example pii_throughput [N]`.

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mails: Vec<String> = [
        "remboursement.txt",
        "attestation.txt",
        "fil.txt",
        "sans_pii.txt",
    ]
    .iter()
    .filter_map(|f| std::fs::read_to_string(format!("{dir}/{f}")).ok())
    .collect();
    if mails.is_empty() {
        eprintln!("no fixture found under {dir}");
        std::process::exit(1);
    }
    let d = facteur_privacy::Detector::new();
    let bytes: usize = (0..n).map(|i| mails[i % mails.len()].len()).sum();
    let t0 = std::time::Instant::now();
    let mut spans = 0;
    for i in 0..n {
        spans += d.pseudonymise(&mails[i % mails.len()]).spans.len();
    }
    let s = t0.elapsed().as_secs_f64();
    println!(
        "{n} mails ({} bytes avg) in {s:.3}s: {:.0} mails/s, {spans} spans",
        bytes / n.max(1),
        n as f64 / s
    );
}
