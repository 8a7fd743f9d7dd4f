//! The calibration set (`facteur train --calibrate`, `facteur model train
//! --calibrate`, and the demo's `answers/demo/calibration.jsonl`): labelled mail,
//! held apart from training, on which the abstain threshold is refitted
//! (`facteur_classify::Model::calibrate`).

use anyhow::{Context, Result};
use facteur_classify::Example;
use std::path::Path;

/// Reads a calibration set (JSON lines `{"text", "label"}`; a label that is not
/// one of the model's types marks an out-of-scope mail) and gives each text as the
/// classifier reads a live mail with that body: cleaned, without personal data or
/// framing clauses.
pub fn read(path: &Path) -> Result<Vec<Example>> {
    let raw = facteur_classify::read_jsonl(path).with_context(|| {
        tr!(
            "impossible de lire le jeu de calibration {} : il faut des lignes JSON {{\"text\": …, \"label\": …}}",
            "cannot read the calibration set {}: it needs JSON lines {{\"text\": …, \"label\": …}}",
            path.display()
        )
    })?;
    anyhow::ensure!(
        raw.len() >= facteur_classify::MIN_CALIBRATION_EXAMPLES,
        tr!(
            "le jeu de calibration {} n'a que {} courriels : il en faut au moins {}, étiquetés et jamais vus à l'entraînement",
            "the calibration set {} has only {} mails: it needs at least {}, labelled and never trained on",
            path.display(),
            raw.len(),
            facteur_classify::MIN_CALIBRATION_EXAMPLES
        )
    );
    let engine = facteur_triage::Engine::new(None, None, facteur_triage::TriageOptions::default());
    Ok(raw
        .into_iter()
        .map(|e| Example {
            text: engine.classifier_text_of_body(&e.text),
            label: e.label,
        })
        .collect())
}

/// A line for the terminal saying what calibration did.
pub fn summary(c: &facteur_classify::Calibration) -> String {
    tr!(
        "seuil d'abstention recalé sur {} courriels tenus à part ({} hors périmètre) : {:.3} → {:.3} ; couverture {:.1} %, précision {:.1} %, hors périmètre rédigés {:.1} %",
        "abstain threshold refitted on {} held-apart mails ({} out of scope): {:.3} → {:.3}; coverage {:.1} %, precision {:.1} %, out of scope drafted {:.1} %",
        c.in_scope + c.out_of_scope,
        c.out_of_scope,
        c.threshold_before,
        c.threshold,
        100.0 * c.coverage,
        100.0 * c.precision,
        100.0 * c.out_of_scope_answered
    )
}
