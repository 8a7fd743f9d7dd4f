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
        .enumerate()
        .filter(|(i, a)| {
            let flag_value =
                *i > 0 && matches!(args[i - 1].as_str(), "--seeds" | "--save" | "--first-seed");
            !(a.contains('=') || a.starts_with("--") || flag_value)
        })
        .map(|(_, a)| a)
        .collect();
    let train_ex = read_jsonl(Path::new(pos.first().ok_or("usage: TRAIN [TEST]")?))?;
    if args.iter().any(|a| a == "--cv") {
        // Repeated stratified 5-fold: `--seeds N` runs N fold draws (seeds 1..=N) and
        // reports their mean, because one draw on ~13 examples per class is noisy.
        let seeds: u64 = args
            .iter()
            .position(|a| a == "--seeds")
            .and_then(|i| args.get(i + 1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        // `--first-seed K` starts the draws at K: fresh fold draws to confirm a
        // setting chosen on the first ones.
        let first: u64 = args
            .iter()
            .position(|a| a == "--first-seed")
            .and_then(|i| args.get(i + 1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        let t = std::time::Instant::now();
        let mut f1s = Vec::new();
        let mut accs = Vec::new();
        for s in first..first + seeds {
            let mut c = cfg.clone();
            if seeds > 1 || first > 1 {
                c.seed = s;
            }
            let cv = cross_validate(&train_ex, &c, 5)?;
            f1s.push(cv.macro_f1);
            accs.push(cv.accuracy);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        println!(
            "{}",
            serde_json::json!({"config": cfg, "mean_macro_f1": mean(&f1s), "mean_accuracy": mean(&accs),
                "macro_f1_per_seed": f1s, "seconds": t.elapsed().as_secs_f64()})
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
