//! Measures the classifier on a train/test pair of JSON-lines files:
//! `cargo run --release -p facteur-classify --example bench_classify -- TRAIN TEST [--save DIR]`
//! With `--cv` only (no TEST), prints k-fold CV metrics on TRAIN for the default config
//! and for settings given as `key=value` (JSON values), e.g. `c=0.5 word_weight=0.7`.
use facteur_classify::{cross_validate, evaluate, read_jsonl, train, TrainConfig};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg = TrainConfig::default();
    let mut cfg_json = serde_json::to_value(&cfg)?;
    for kv in args.iter().filter(|a| a.contains('=')) {
        let (k, v) = kv.split_once('=').ok_or("bad key=value")?;
        cfg_json[k] = serde_json::from_str(v)?;
    }
    cfg = serde_json::from_value(cfg_json)?;
    let pos: Vec<&String> = args
        .iter()
        .filter(|a| !a.contains('=') && !a.starts_with("--"))
        .collect();
    let train_ex = read_jsonl(Path::new(pos.first().ok_or("usage: TRAIN [TEST]")?))?;
    if args.iter().any(|a| a == "--cv") {
        let t = std::time::Instant::now();
        let cv = cross_validate(&train_ex, &cfg, 5)?;
        println!(
            "{}",
            serde_json::json!({"config": cfg, "cv": cv, "seconds": t.elapsed().as_secs_f64()})
        );
        return Ok(());
    }
    let test_ex = read_jsonl(Path::new(pos.get(1).ok_or("usage: TRAIN TEST")?))?;
    let t = std::time::Instant::now();
    let model = train(&train_ex, &cfg, &mut |_| {})?;
    let train_seconds = t.elapsed().as_secs_f64();
    let mut report = serde_json::to_value(evaluate(&model, &test_ex))?;
    if let Some(o) = report.as_object_mut() {
        o.remove("per_class");
    }
    let dir = tempfile_dir(&args);
    model.save(&dir)?;
    let size = std::fs::metadata(dir.join("model.bin"))?.len();
    println!(
        "{}",
        serde_json::json!({"report": report, "train_seconds": train_seconds, "model_bytes": size,
            "n_features": model.meta().n_features, "cv": model.meta().cv,
            "abstain_threshold": model.meta().abstain_threshold})
    );
    Ok(())
}

fn tempfile_dir(args: &[String]) -> std::path::PathBuf {
    args.iter()
        .position(|a| a == "--save")
        .and_then(|i| args.get(i + 1))
        .map(Into::into)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("facteur-bench-model-{}", std::process::id()))
        })
}
