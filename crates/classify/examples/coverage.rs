//! Coverage an agent can trust: trains on TRAIN, then on a labelled EVAL set
//! (in-scope mail the model never saw) reports the coverage and precision at the
//! model's own abstain rule, the coverage at 95 % precision (threshold chosen on EVAL
//! itself, a report only) and the coverage-precision curve; on OOS (texts outside
//! the taxonomy, labels ignored) the share that would get a draft.
//! `cargo run --release -p facteur-classify --example coverage -- TRAIN EVAL [OOS] [key=value…]
//! [--embedding-model PATH]`: with the model file, the classifier gets its embedding view
//! (texts embedded as the product embeds messages: query, first 64 tokens).
use facteur_classify::{
    read_jsonl, train_with, DenseInput, EmbeddingRecipe, Example, Model, TrainConfig,
};
use facteur_embed::{Embedder, Kind, NativeEmbedder};
use std::path::Path;

/// The product's message cap (crates/cli/src/embedding.rs, QUERY_TOKENS).
const QUERY_TOKENS: usize = 64;

struct Vectors {
    recipe: EmbeddingRecipe,
    embedder: NativeEmbedder,
}

impl Vectors {
    fn of(&self, ex: &[Example]) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error>> {
        let mut out = Vec::with_capacity(ex.len());
        for chunk in ex.chunks(256) {
            let texts: Vec<&str> = chunk.iter().map(|e| e.text.as_str()).collect();
            out.extend(
                self.embedder
                    .embed(&texts, Kind::Query)?
                    .iter()
                    .map(|v| v.to_vec()),
            );
        }
        Ok(out)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg_json = serde_json::to_value(TrainConfig::default())?;
    for kv in args.iter().filter(|a| a.contains('=')) {
        let (k, v) = kv.split_once('=').ok_or("bad key=value")?;
        cfg_json[k] = serde_json::from_str(v)?;
    }
    let cfg: TrainConfig = serde_json::from_value(cfg_json)?;
    let model_path = args
        .iter()
        .position(|a| a == "--embedding-model")
        .and_then(|i| args.get(i + 1));
    let files: Vec<&String> = args
        .iter()
        .filter(|a| !a.contains('=') && !a.starts_with("--") && Some(*a) != model_path)
        .collect();
    let tr = read_jsonl(Path::new(files.first().ok_or("usage: TRAIN EVAL [OOS]")?))?;
    let ev = read_jsonl(Path::new(files.get(1).ok_or("usage: TRAIN EVAL [OOS]")?))?;
    let oos = match files.get(2) {
        Some(p) => read_jsonl(Path::new(p))?,
        None => Vec::new(),
    };
    let emb = match model_path {
        Some(p) => {
            let embedder =
                NativeEmbedder::open(Path::new(p))?.with_token_limits(QUERY_TOKENS, QUERY_TOKENS);
            let id = embedder.identity().clone();
            Some(Vectors {
                recipe: EmbeddingRecipe {
                    model: id.name,
                    checksum: id.checksum,
                    dim: facteur_embed::DIM,
                    max_tokens: Some(QUERY_TOKENS),
                },
                embedder,
            })
        }
        None => None,
    };
    let (tv, ev_v, oos_v) = match &emb {
        Some(e) => (Some(e.of(&tr)?), Some(e.of(&ev)?), Some(e.of(&oos)?)),
        None => (None, None, None),
    };
    let dense = match (&emb, &tv) {
        (Some(e), Some(v)) => Some(DenseInput {
            recipe: e.recipe.clone(),
            vectors: v,
        }),
        _ => None,
    };
    let m = train_with(&tr, dense.as_ref(), &cfg, &mut |_| {})?;
    let with = |ex: &[Example], v: &Option<Vec<Vec<f32>>>| -> Vec<facteur_core::Prediction> {
        ex.iter()
            .enumerate()
            .map(|(i, e)| m.predict_with(&e.text, v.as_ref().map(|v| v[i].as_slice())))
            .collect()
    };
    let (pe, po) = (with(&ev, &ev_v), with(&oos, &oos_v));
    println!("{}", serde_json::to_string(&report(&m, &ev, &pe, &po))?);
    if args.iter().any(|a| a == "--evidence") {
        let q = |mut v: Vec<f32>| {
            v.sort_by(f32::total_cmp);
            [0.05, 0.1, 0.25, 0.5, 0.75, 0.9].map(|f| v[((v.len() - 1) as f64 * f) as usize])
        };
        // Evidence as the rule reads it: with the embedding view's margins when the
        // model has one.
        let evidence = |ex: &[Example], v: &Option<Vec<Vec<f32>>>| -> Vec<f32> {
            ex.iter()
                .enumerate()
                .map(|(i, e)| m.evidence_with(&e.text, v.as_ref().map(|v| v[i].as_slice())))
                .collect()
        };
        let (ok, bad) = (evidence(&ev, &ev_v), evidence(&oos, &oos_v));
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

fn report(
    m: &Model,
    ev: &[Example],
    pe: &[facteur_core::Prediction],
    po: &[facteur_core::Prediction],
) -> serde_json::Value {
    let preds: Vec<_> = pe
        .iter()
        .zip(ev)
        .map(|(p, e)| (p.clone(), &e.label))
        .collect();
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
            let oos_rate =
                po.iter().filter(|p| p.confidence >= t).count() as f64 / po.len().max(1) as f64;
            serde_json::json!({"threshold": t, "coverage": a.len() as f64 / n,
                "precision": a.iter().filter(|&&c| c).count() as f64 / a.len().max(1) as f64,
                "oos_draft_rate": oos_rate})
        })
        .collect();
    let oos_drafted = po.iter().filter(|p| !p.abstained).count();
    serde_json::json!({
        "eval": ev.len(), "top1": top1,
        "model_threshold": m.meta().abstain_threshold,
        "evidence_floor": m.meta().evidence_floor,
        "type_thresholds": m.meta().type_thresholds,
        "coverage_at_model_rule": coverage, "precision_at_model_rule": precision,
        "coverage_at_95_precision_oracle": best as f64 / n,
        "oos": po.len(), "oos_draft_rate_at_model_rule": oos_drafted as f64 / po.len().max(1) as f64,
        "dense": m.meta().dense,
        "curve": curve,
    })
}
