//! Refitting the abstain threshold on held-apart mail.
//!
//! `train` fits its thresholds on out-of-fold predictions of the training examples.
//! Those examples are written to cover each type's hard and confusable cases, and
//! each out-of-fold model sees four fifths of them, so the finished model is right
//! more often on ordinary mail than out of fold (the demo model: 79 % top-1 out of
//! fold, 91 % on held-apart mails). A threshold fitted out of fold is then far too
//! cautious: most mail gets no draft though its top type is right.
//!
//! A calibration set is labelled mail written the way citizens write, never trained
//! on. The threshold is refitted on what the finished model does with it:
//! - one global threshold, chosen so that a *lower bound* of the precision of what
//!   is answered reaches the target, not the observed precision alone
//!   (`calib::threshold_for_precision_bound`, [`Z`] standard errors below): on a few
//!   hundred mails the best cut point flatters itself, and the bound asks for the
//!   margin that new mail needs. Per-type thresholds would need far more mail per
//!   type than a calibration set holds, so a calibrated model has none;
//! - a mail whose label is not one of the model's types is out of scope, and a
//!   draft for it counts as a mistake: the threshold pays for what the out-of-scope
//!   checks (the evidence guard, the embedding's nearest-example check) let
//!   through. Those checks stay as trained; a mail they stop is simply not answered.

use crate::data::Example;
use crate::model::Model;
use crate::ClassifyError;
use serde::{Deserialize, Serialize};

/// Standard errors of the one-sided bound. Chosen on the demo's calibration mails
/// alone (docs/CLASSIFIER.md, "Calibration on held-apart mail"): fitted on one
/// random half and read on the other, 300 times, 0.5 is the smallest z whose
/// precision on the other half holds the 95 % target on average for both the
/// lexical and the embedding model; 1.645 (95 % confidence) left the lexical model
/// no threshold at all on 225 mails, 0 missed the target.
pub(crate) const Z: f64 = 0.5;

/// Fewer labelled mails than this cannot place a threshold that holds.
pub const MIN_CALIBRATION_EXAMPLES: usize = 50;

/// What a calibration set was and what the calibrated model does on it (stored in
/// the model's metadata, shown by `facteur train --json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// sha256 of the calibration set (texts and labels), as for the training set.
    pub sha256: String,
    /// Mails with one of the model's types.
    pub in_scope: usize,
    /// Mails with any other label.
    pub out_of_scope: usize,
    /// Share of in-scope mails answered at the refitted threshold.
    pub coverage: f64,
    /// Share of answered mails (in scope or not) whose type is right.
    pub precision: f64,
    /// Share of out-of-scope mails answered (each a mistake).
    pub out_of_scope_answered: f64,
    /// The threshold out of fold, before calibration.
    pub threshold_before: f32,
    /// The threshold calibration set (the model's `abstain_threshold` then).
    #[serde(default)]
    pub threshold: f32,
    /// The lowest threshold that keeps the out-of-scope mails answered under
    /// [`MAX_OUT_OF_SCOPE`] (upper bound, [`Z`] standard errors): the threshold is
    /// never below it, whatever precision allows (0 without out-of-scope mails).
    #[serde(default)]
    pub out_of_scope_floor: f32,
}

/// The share of out-of-scope mail a calibrated model may draft for: the issue's
/// bound for hidden mail (5 %). The precision target alone does not bound it, since
/// a calibration set holds few out-of-scope mails beside many in-scope ones.
pub const MAX_OUT_OF_SCOPE: f64 = 0.05;

/// The lowest threshold at which the out-of-scope mails answered, `k` of `n`, keep
/// the upper bound of their share under [`MAX_OUT_OF_SCOPE`]. `conf` holds the
/// confidences of the out-of-scope mails that passed the other checks.
fn out_of_scope_floor(conf: &mut [f32], n: usize) -> f32 {
    conf.sort_by(|a, b| b.total_cmp(a));
    // Answering the top k of them (a threshold just above the (k+1)-th).
    let allowed = (0..=conf.len())
        .take_while(|&k| crate::calib::wilson_upper(k, n, Z) <= MAX_OUT_OF_SCOPE)
        .last();
    match allowed {
        _ if conf.is_empty() => 0.0,
        Some(k) if k >= conf.len() => 0.0,
        Some(k) => next_up(conf[k]),
        None => next_up(conf[0]),
    }
}

/// The smallest f32 above a confidence in [0, 1].
fn next_up(x: f32) -> f32 {
    f32::from_bits(x.max(0.0).to_bits() + 1)
}

impl Model {
    /// Refits the abstain threshold on held-apart labelled mail (see the module
    /// doc). `embeddings`, one per example, are needed by a model with an
    /// embedding view, as for prediction. The texts must be what the classifier
    /// reads live (`facteur_triage::classify_text` of the cleaned mail).
    pub fn calibrate(
        &mut self,
        examples: &[Example],
        embeddings: Option<&[Vec<f32>]>,
    ) -> Result<Calibration, ClassifyError> {
        if examples.len() < MIN_CALIBRATION_EXAMPLES {
            return Err(ClassifyError::Calibration {
                message: format!(
                    "{} labelled mails, at least {MIN_CALIBRATION_EXAMPLES} are needed",
                    examples.len()
                ),
            });
        }
        if let Some(v) = embeddings {
            if v.len() != examples.len() {
                return Err(ClassifyError::Calibration {
                    message: format!("{} embeddings for {} mails", v.len(), examples.len()),
                });
            }
        }
        let before = self.meta.abstain_threshold;
        let (mut points, mut types) = (Vec::new(), Vec::new());
        let mut n_in = 0;
        for (i, ex) in examples.iter().enumerate() {
            let known = self.meta.labels.contains(&ex.label);
            n_in += usize::from(known);
            let e = embeddings.and_then(|v| v.get(i)).map(Vec::as_slice);
            let a = self.assess(&ex.text, e);
            if a.guarded {
                let right = self.meta.labels.get(a.class) == Some(&ex.label);
                points.push((a.confidence, right, known));
                types.push(u16::try_from(a.class).unwrap_or(u16::MAX));
            }
        }
        let n_out = examples.len() - n_in;
        let mut oos_conf: Vec<f32> = points.iter().filter(|p| !p.2).map(|p| p.0).collect();
        self.oof = points.iter().map(|&(c, ok, _)| (c, ok)).collect();
        self.meta.oof_types = types;
        // Marks the model calibrated first: `set_target_precision` then fits on
        // these points with the bound, never below the out-of-scope floor, and sets
        // `threshold`; what the threshold answers is counted after.
        self.meta.calibration = Some(Calibration {
            sha256: crate::train::training_sha256(examples),
            in_scope: n_in,
            out_of_scope: n_out,
            coverage: 0.0,
            precision: 0.0,
            out_of_scope_answered: 0.0,
            threshold_before: before,
            threshold: before,
            out_of_scope_floor: out_of_scope_floor(&mut oos_conf, n_out),
        });
        self.set_target_precision(self.meta.target_precision);
        let t = self.meta.abstain_threshold;
        let (mut ins, mut oos, mut right) = (0usize, 0usize, 0usize);
        for &(_, ok, known) in points.iter().filter(|p| p.0 >= t) {
            if known {
                ins += 1;
            } else {
                oos += 1;
            }
            right += usize::from(ok);
        }
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let report = self
            .meta
            .calibration
            .as_mut()
            .ok_or_else(|| ClassifyError::Calibration {
                message: "the calibration was lost while refitting".into(),
            })?;
        report.coverage = ratio(ins, n_in);
        report.precision = ratio(right, ins + oos);
        report.out_of_scope_answered = ratio(oos, n_out);
        Ok(report.clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::train::tests::toy;
    use crate::{train, Example, TrainConfig};

    /// Held-apart mail the toy model gets right, each phrased apart from training.
    fn held_apart() -> Vec<Example> {
        let mut v = Vec::new();
        for i in 0..30 {
            for (text, label) in [
                (
                    format!("ma declaration de revenus et mon avis d'imposition {i}"),
                    "impots",
                ),
                (
                    format!("mon bail de location et le depot de garantie {i}"),
                    "logement",
                ),
                (
                    format!("mon contrat de travail cdi et le licenciement pour faute {i}"),
                    "travail",
                ),
            ] {
                v.push(Example {
                    text,
                    label: label.into(),
                });
            }
        }
        v
    }

    #[test]
    fn calibration_on_easier_mail_lowers_the_threshold_and_is_recorded() {
        let mut m = train(&toy(), &TrainConfig::default(), &mut |_| {}).expect("train");
        let before = m.meta().abstain_threshold;
        let cal = held_apart();
        let r = m.calibrate(&cal, None).expect("calibrate");
        assert_eq!((r.in_scope, r.out_of_scope), (90, 0));
        assert_eq!(r.threshold_before, before);
        assert!(r.precision >= 0.95, "{r:?}");
        assert!(m.meta().abstain_threshold <= before, "{r:?}");
        assert!(r.coverage > 0.9, "{r:?}");
        assert!(m.meta().type_thresholds.is_empty());
        assert_eq!(m.meta().calibration.as_ref(), Some(&r));
        assert_eq!(r.threshold, m.meta().abstain_threshold);
        // The rule the model now applies is the one the report describes.
        let answered = cal
            .iter()
            .filter(|e| m.predict(&e.text).label.is_some())
            .count();
        assert!((answered as f64 / 90.0 - r.coverage).abs() < 1e-9, "{r:?}");
        // Moving the target refits on the calibration points, with the bound.
        m.set_target_precision(0.5);
        assert!(m.meta().calibration.is_some());
        assert!(m.meta().type_thresholds.is_empty());
    }

    #[test]
    fn out_of_scope_mail_that_gets_answered_raises_the_threshold() {
        let mut clean = train(&toy(), &TrainConfig::default(), &mut |_| {}).expect("train");
        let mut mixed = train(&toy(), &TrainConfig::default(), &mut |_| {}).expect("train");
        let cal = held_apart();
        clean.calibrate(&cal, None).expect("calibrate");
        // The same mails, half of them now labelled as out of scope: whatever the
        // model answers for them is a mistake.
        let relabelled: Vec<Example> = cal
            .iter()
            .enumerate()
            .map(|(i, e)| Example {
                text: e.text.clone(),
                label: if i % 2 == 0 {
                    e.label.clone()
                } else {
                    "hors-perimetre".into()
                },
            })
            .collect();
        let r = mixed.calibrate(&relabelled, None).expect("calibrate");
        assert_eq!((r.in_scope, r.out_of_scope), (45, 45));
        assert!(
            mixed.meta().abstain_threshold > clean.meta().abstain_threshold,
            "{} vs {}",
            mixed.meta().abstain_threshold,
            clean.meta().abstain_threshold
        );
    }

    #[test]
    fn the_out_of_scope_floor_lets_through_what_the_bound_allows() {
        use super::out_of_scope_floor;
        // 45 out-of-scope mails: one answered keeps the upper bound under 5 %, two
        // do not, so the floor sits just above the second most confident.
        let mut c = vec![0.5, 0.9, 0.7, 0.8];
        let f = out_of_scope_floor(&mut c, 45);
        assert!(f > 0.8 && f < 0.8001, "{f}");
        // Three mails: even none answered leaves a bound above 5 %: above them all.
        assert!(out_of_scope_floor(&mut [0.6, 0.4], 3) > 0.6);
        // None passed the other checks, or no out-of-scope mail: no floor.
        assert_eq!(out_of_scope_floor(&mut [], 45), 0.0);
        assert_eq!(out_of_scope_floor(&mut [], 0), 0.0);
        // Few enough of many: no floor.
        assert_eq!(out_of_scope_floor(&mut [0.9], 400), 0.0);
    }

    #[test]
    fn too_few_mails_or_mismatched_embeddings_are_refused() {
        let mut m = train(&toy(), &TrainConfig::default(), &mut |_| {}).expect("train");
        let few: Vec<Example> = held_apart().into_iter().take(10).collect();
        let err = m.calibrate(&few, None).expect_err("too few");
        assert!(err.to_string().contains("at least 50"), "{err}");
        let cal = held_apart();
        let err = m
            .calibrate(&cal, Some(&[vec![0.0; 4]]))
            .expect_err("embeddings");
        assert!(
            err.to_string().contains("1 embeddings for 90 mails"),
            "{err}"
        );
        assert!(m.meta().calibration.is_none());
    }
}
