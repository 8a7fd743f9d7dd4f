use crate::config::Config;
use anyhow::{Context, Result};
use clap::Args;
use facteur_classify::{evaluate_with, read_jsonl};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model directory written by `facteur train`. Default: the configured model dir.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Labelled examples, JSON lines {"text": …, "label": …}.
    #[arg(long, value_name = "TEST.jsonl")]
    pub data: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also print per-class precision, recall and F1.
    #[arg(long)]
    pub per_class: bool,
}

pub fn run(cfg: &Config, a: EvalArgs) -> Result<()> {
    let dir = a.model.clone().unwrap_or_else(|| cfg.model_dir());
    let model = super::load_model(&dir)?;
    let examples = read_jsonl(&a.data).with_context(|| {
        tr!(
            "impossible de lire les données d'évaluation {}",
            "cannot read evaluation data {}",
            a.data.display()
        )
    })?;
    anyhow::ensure!(
        !examples.is_empty(),
        tr!(
            "{} ne contient aucun exemple",
            "{} holds no example",
            a.data.display()
        )
    );
    // Data labelled with another taxonomy than the model's scores 0 everywhere:
    // say why instead of letting a bare 0 pass for a bad model.
    let known: std::collections::HashSet<&str> =
        model.labels().iter().map(String::as_str).collect();
    if !examples.iter().any(|e| known.contains(e.label.as_str())) {
        let mut theirs: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
        theirs.sort();
        theirs.dedup();
        let mut ours: Vec<String> = model.labels().to_vec();
        ours.sort();
        eprintln!(
            "{}",
            tr!(
                "attention : aucune étiquette de {} n'est connue du modèle de {} (données : {} ; modèle : {}) : les scores ci-dessous ne mesurent rien. Évaluez sur des données de la même taxonomie que l'entraînement",
                "warning: no label of {} is known to the model of {} (data: {}; model: {}): the scores below measure nothing. Evaluate on data of the same taxonomy as the training",
                a.data.display(),
                dir.display(),
                super::few(&theirs),
                super::few(&ours)
            )
        );
    }
    // A model with an embedding view scores each text with its embedding (the
    // loader has checked the configured embedder is the one it needs).
    let vectors = crate::embedding::for_model(Some(&model))?
        .map(|e| crate::embedding::embed_examples(e.as_ref(), &examples))
        .transpose()?;
    let report = evaluate_with(&model, &examples, vectors.as_deref());
    let mut v = serde_json::to_value(&report)?;
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "train_seconds".into(),
            serde_json::json!(model.meta().train_seconds),
        );
        if !a.per_class {
            obj.remove("per_class");
        }
    }
    if a.json {
        super::print_json(&v)?;
    } else {
        println!(
            "{}",
            tr!(
            "{} exemples  exactitude {:.4}  macro-F1 {:.4}  couverture@95%P {:.3}  ECE {:.3}  {:.0} prédictions/s (1 fil)",
            "{} examples  accuracy {:.4}  macro-F1 {:.4}  coverage@95%P {:.3}  ECE {:.3}  {:.0} predictions/s (1 thread)",
            report.examples,
            report.accuracy,
            report.macro_f1,
            report.coverage_at_95_precision,
            report.expected_calibration_error,
            report.predict_per_second
            )
        );
        if a.per_class {
            for c in &report.per_class {
                println!(
                    "  {:<50} P {:.3} R {:.3} F1 {:.3} n={}",
                    c.label, c.precision, c.recall, c.f1, c.support
                );
            }
        }
    }
    Ok(())
}
