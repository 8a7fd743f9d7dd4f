//! Lists every finding in a file of texts separated by U+001E, to review false
//! positives on a public corpus (never run it on real mail: it prints values).

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: scan FILE");
        return;
    };
    let data = match std::fs::read_to_string(&path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{path}: {e}");
            return;
        }
    };
    let d = facteur_privacy::Detector::new();
    let t0 = std::time::Instant::now();
    let mut n = 0usize;
    for text in data.split('\u{1e}') {
        n += 1;
        for s in d.detect(text) {
            println!("{:?}\t{}", s.kind, text[s.start..s.end].replace('\n', "⏎"));
        }
    }
    eprintln!("{n} texts, {} bytes, {:?}", data.len(), t0.elapsed());
}
