use crate::config::Config;
use crate::progress;
use anyhow::{Context, Result};
use clap::Args;
use facteur_classify::{read_jsonl, train_with, DenseInput, TrainConfig};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training examples, JSON lines {"text": …, "label": …}.
    #[arg(long, value_name = "TRAIN.jsonl")]
    pub data: PathBuf,
    /// Directory to write the model into (created if missing). Default: the configured model dir.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Precision the abstain threshold is chosen for (0–1).
    #[arg(long, default_value_t = 0.95, value_name = "P")]
    pub target_precision: f32,
    /// Labelled mail held apart from training (JSON lines {"text", "label"}; a label
    /// that is not a type of the model marks an out-of-scope mail): the abstain
    /// threshold is refitted on it, so that drafts reach the target precision on
    /// mail like it rather than on the training examples.
    #[arg(long, value_name = "CAL.jsonl")]
    pub calibrate: Option<PathBuf>,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cfg: &Config, a: TrainArgs) -> Result<()> {
    let dir = a.model.clone().unwrap_or_else(|| cfg.model_dir());
    let examples = read_jsonl(&a.data)
        .with_context(|| {
            tr!(
                "impossible de lire les données d'entraînement {} : vérifiez le chemin, le fichier doit contenir des lignes JSON {{\"text\": …, \"label\": …}}",
                "cannot read training data {}",
                a.data.display()
            )
        })?;
    anyhow::ensure!(
        !examples.is_empty(),
        tr!(
            "{} ne contient aucun exemple : il faut des lignes JSON {{\"text\": …, \"label\": …}}",
            "{} holds no example: it needs JSON lines {{\"text\": …, \"label\": …}}",
            a.data.display()
        )
    );
    // The service's own model (no --model): its labels must be request types of
    // the taxonomy. A benchmark model written elsewhere may use any labels.
    if a.model.is_none() {
        super::warn_labels_outside_taxonomy(
            cfg,
            &a.data,
            examples.iter().map(|e| e.label.as_str()),
        )?;
    }
    let train_cfg = TrainConfig::default();
    let start = Instant::now();
    // With the embedding switch on, the model gets an embedding view (its weight
    // chosen out of fold on these examples) and will need the same embedder to load.
    let embedder = crate::embedding::embedder()?;
    let vectors = embedder
        .as_ref()
        .map(|e| crate::embedding::embed_examples(e.as_ref(), &examples))
        .transpose()?;
    let dense = embedder
        .as_ref()
        .zip(vectors.as_deref())
        .map(|(e, v)| DenseInput {
            recipe: crate::embedding::recipe(e.as_ref()),
            vectors: v,
        });
    let pb = progress::bar(0, crate::i18n::tr("entraînement", "training"));
    let mut model = train_with(&examples, dense.as_ref(), &train_cfg, &mut |p| {
        pb.set_length(p.total as u64);
        pb.set_position(p.done as u64);
        pb.set_message(p.stage);
    })
    .with_context(|| {
        tr!(
            "l'entraînement sur {} a échoué",
            "training on {} failed",
            a.data.display()
        )
    })?;
    pb.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    model.set_target_precision(a.target_precision);
    let calibrated = match &a.calibrate {
        Some(path) => {
            let cal = crate::calibration::read(path)?;
            let vectors = embedder
                .as_ref()
                .map(|e| crate::embedding::embed_examples(e.as_ref(), &cal))
                .transpose()?;
            Some(model.calibrate(&cal, vectors.as_deref()).with_context(|| {
                tr!(
                    "la calibration sur {} a échoué",
                    "calibration on {} failed",
                    path.display()
                )
            })?)
        }
        None => None,
    };
    std::fs::create_dir_all(&dir).with_context(|| {
        tr!(
            "impossible de créer le dossier du modèle {}",
            "cannot create the model directory {}",
            dir.display()
        )
    })?;
    model.save(&dir).with_context(|| {
        tr!(
            "impossible d'écrire le modèle dans {}",
            "cannot write the model into {}",
            dir.display()
        )
    })?;
    let summary = serde_json::json!({
        "model": dir.display().to_string(),
        "examples": examples.len(),
        "labels": model.labels().len(),
        "train_seconds": secs,
        "meta": model.meta(),
    });
    if a.json {
        super::print_json(&summary)?;
    } else {
        println!(
            "{}",
            tr!(
                "modèle écrit dans {} : {} exemples, {} étiquettes, entraîné en {:.2} s",
                "model written to {}: {} examples, {} labels, trained in {:.2} s",
                dir.display(),
                examples.len(),
                model.labels().len(),
                secs
            )
        );
        if let Some(c) = &calibrated {
            println!("{}", crate::calibration::summary(c));
        }
    }
    Ok(())
}
