//! Coverage an agent can trust: trains on TRAIN, then on a labelled EVAL set
//! (in-scope mail the model never saw) reports the coverage and precision at the
//! model's own abstain rule, the coverage at 95 % precision (threshold chosen on EVAL
//! itself, a report only) and the coverage-precision curve; on OOS (texts outside
//! the taxonomy, labels ignored) the share that would get a draft.
//! `cargo run --release -p facteur-classify --example coverage -- TRAIN EVAL [OOS] [key=value…]`
use facteur_classify::{read_jsonl, train, Example, Model, TrainConfig};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg_json = serde_json::to_value(TrainConfig::default())?;
    for kv in args.iter().filter(|a| a.contains('=')) {
        let (k, v) = kv.split_once('=').ok_or("bad key=value")?;
        cfg_json[k] = serde_json::from_str(v)?;
    }
    let cfg: TrainConfig = serde_json::from_value(cfg_json)?;
    let files: Vec<&String> = args
        .iter()
        .filter(|a| !a.contains('=') && !a.starts_with("--"))
        .collect();
    let tr = read_jsonl(Path::new(files.first().ok_or("usage: TRAIN EVAL [OOS]")?))?;
    let ev = read_jsonl(Path::new(files.get(1).ok_or("usage: TRAIN EVAL [OOS]")?))?;
    let oos = match files.get(2) {
        Some(p) => read_jsonl(Path::new(p))?,
        None => Vec::new(),
    };
    let m = train(&tr, &cfg, &mut |_| {})?;
    println!("{}", serde_json::to_string(&report(&m, &ev, &oos))?);
    if args.iter().any(|a| a == "--evidence") {
        let q = |mut v: Vec<f32>| {
            v.sort_by(f32::total_cmp);
            [0.05, 0.1, 0.25, 0.5, 0.75, 0.9].map(|f| v[((v.len() - 1) as f64 * f) as usize])
        };
        let ok: Vec<f32> = ev.iter().map(|e| m.evidence(&e.text)).collect();
        let bad: Vec<f32> = oos.iter().map(|e| m.evidence(&e.text)).collect();
        println!("in-scope evidence quantiles 5..90%: {:?}", q(ok));
        println!("out-of-scope evidence quantiles: {:?}", q(bad));
    }
    if args.iter().any(|a| a == "--oof") {
        let mut m = m;
        for p in [0.8f32, 0.85, 0.9, 0.93, 0.95, 0.97] {
            m.set_target_precision(p);
            println!(
                "oof target {p}: threshold {:.3}, oof coverage {:.3}",
                m.meta().abstain_threshold,
                m.meta().cv.coverage_at_target
            );
        }
    }
    Ok(())
}

fn report(m: &Model, ev: &[Example], oos: &[Example]) -> serde_json::Value {
    let preds: Vec<_> = ev.iter().map(|e| (m.predict(&e.text), &e.label)).collect();
    let n = ev.len().max(1) as f64;
    let top1 = preds
        .iter()
        .filter(|(p, l)| p.top.first().is_some_and(|s| &&s.label == l))
        .count() as f64
        / n;
    let answered: Vec<bool> = preds
        .iter()
        .filter(|(p, _)| !p.abstained)
        .map(|(p, l)| p.label.as_ref() == Some(*l))
        .collect();
    let coverage = answered.len() as f64 / n;
    let precision = answered.iter().filter(|&&c| c).count() as f64 / answered.len().max(1) as f64;
    // Oracle: the largest coverage at >= 95 % precision, on this set.
    let mut pts: Vec<(f32, bool)> = preds
        .iter()
        .map(|(p, l)| (p.confidence, p.top.first().is_some_and(|s| &&s.label == l)))
        .collect();
    pts.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut best, mut ok) = (0usize, 0usize);
    for (i, &(_, c)) in pts.iter().enumerate() {
        ok += usize::from(c);
        if ok as f64 >= 0.95 * (i + 1) as f64 {
            best = i + 1;
        }
    }
    let curve: Vec<serde_json::Value> = [0.3f32, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
        .iter()
        .map(|&t| {
            let a: Vec<bool> = pts.iter().filter(|p| p.0 >= t).map(|p| p.1).collect();
            let oos_rate = oos
                .iter()
                .filter(|e| m.predict(&e.text).confidence >= t)
                .count() as f64
                / oos.len().max(1) as f64;
            serde_json::json!({"threshold": t, "coverage": a.len() as f64 / n,
                "precision": a.iter().filter(|&&c| c).count() as f64 / a.len().max(1) as f64,
                "oos_draft_rate": oos_rate})
        })
        .collect();
    let oos_drafted = oos.iter().filter(|e| !m.predict(&e.text).abstained).count();
    serde_json::json!({
        "eval": ev.len(), "top1": top1,
        "model_threshold": m.meta().abstain_threshold,
        "evidence_floor": m.meta().evidence_floor,
        "type_thresholds": m.meta().type_thresholds,
        "coverage_at_model_rule": coverage, "precision_at_model_rule": precision,
        "coverage_at_95_precision_oracle": best as f64 / n,
        "oos": oos.len(), "oos_draft_rate_at_model_rule": oos_drafted as f64 / oos.len().max(1) as f64,
        "curve": curve,
    })
}
