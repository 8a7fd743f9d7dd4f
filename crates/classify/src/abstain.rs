//! The abstain rule: when the model may name a type (and a draft be offered).
//!
//! One global confidence threshold fitted out-of-fold on a few examples per type is
//! dominated by the few confusable types (the PAS rate and the individual rate, the
//! three housing-tax types) and sat near 0.99 on the demo model, so most mail got no
//! draft though the top type was right on more than 90 % of it. So:
//! - **per type, with shrinkage**: each predicted type gets the threshold at which
//!   its own out-of-fold predictions reach the target precision, pulled towards the
//!   global one by `type_prior` pseudo-examples (a type seen rarely out of fold
//!   keeps about the global threshold);
//! - **an evidence guard** against out-of-scope mail: the softmax makes scores
//!   relative, so a text with almost no known feature can still get a confident top
//!   type. Its raw top score (`Model::evidence`) must reach the `evidence_quantile`
//!   quantile of the out-of-fold top scores of correct predictions.
//!
//! Both are fitted on the training examples only, out of fold; a model file written
//! before them has neither and keeps its single threshold.

use crate::calib;

/// Per-type thresholds: type `c` uses `(n_c·t_c + m·t_global) / (n_c + m)`, with `t_c`
/// the lowest confidence at which the out-of-fold predictions of type `c` reach
/// `target` precision (1 when none does) and `n_c` how many there are.
pub(crate) fn type_thresholds(
    points: &[(f32, bool)],
    types: &[u16],
    n_classes: usize,
    target: f32,
    prior: f32,
    global: f32,
) -> Vec<f32> {
    let mut by_type: Vec<Vec<(f32, bool)>> = vec![Vec::new(); n_classes];
    for (&p, &t) in points.iter().zip(types) {
        if let Some(v) = by_type.get_mut(usize::from(t)) {
            v.push(p);
        }
    }
    let global = global.min(1.0);
    let m = f64::from(prior.max(0.0));
    by_type
        .iter()
        .map(|pts| {
            let own = f64::from(calib::threshold_for_precision(pts, target).min(1.0));
            let n = pts.len() as f64;
            if n + m <= 0.0 {
                return global;
            }
            ((n * own + m * f64::from(global)) / (n + m)) as f32
        })
        .collect()
}

/// The `q` quantile of the evidence of correct out-of-fold predictions (`None` when
/// `q` is 0 or nothing was correct).
pub(crate) fn evidence_floor(evidence: &[f32], correct: &[bool], q: f32) -> Option<f32> {
    if q <= 0.0 {
        return None;
    }
    let mut v: Vec<f32> = evidence
        .iter()
        .zip(correct)
        .filter(|(_, &c)| c)
        .map(|(&e, _)| e)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let at = ((v.len() - 1) as f64 * f64::from(q.min(1.0))).round() as usize;
    Some(v[at])
}

/// Whether a prediction of type `class` with this confidence and evidence is
/// answered: the type's threshold (else the global one) and the evidence floor.
pub(crate) fn answers(
    global: f32,
    per_type: &[f32],
    floor: Option<f32>,
    class: usize,
    confidence: f32,
    evidence: f32,
) -> bool {
    let t = per_type.get(class).copied().unwrap_or(global);
    confidence >= t && floor.is_none_or(|f| evidence >= f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_type_gets_a_low_threshold_and_a_confusable_one_keeps_a_high_one() {
        // Type 0: always right from 0.4 up. Type 1: wrong below 0.9.
        let mut pts = Vec::new();
        let mut types = Vec::new();
        for i in 0..40 {
            let c = 0.4 + 0.015 * i as f32;
            pts.push((c, true));
            types.push(0);
            pts.push((c, c >= 0.9));
            types.push(1);
        }
        let raw = type_thresholds(&pts, &types, 3, 0.95, 0.0, 0.9);
        assert!((raw[0] - 0.4).abs() < 1e-6, "{raw:?}");
        assert!(raw[1] > 0.85, "{raw:?}");
        // No out-of-fold prediction of type 2: the global threshold.
        assert_eq!(raw[2], 0.9);
        // Shrinkage pulls towards the global threshold, more with a larger prior.
        let some = type_thresholds(&pts, &types, 3, 0.95, 10.0, 0.9);
        let more = type_thresholds(&pts, &types, 3, 0.95, 100.0, 0.9);
        assert!(
            raw[0] < some[0] && some[0] < more[0] && more[0] < 0.9,
            "{some:?} {more:?}"
        );
    }

    #[test]
    fn evidence_floor_is_a_quantile_of_correct_predictions_only() {
        let ev = [0.1, 0.5, 0.6, 0.7, 0.8, 0.9, 5.0];
        let ok = [false, true, true, true, true, true, false];
        assert_eq!(evidence_floor(&ev, &ok, 0.0), None);
        assert_eq!(evidence_floor(&ev, &ok, 0.01), Some(0.5));
        assert_eq!(evidence_floor(&ev, &ok, 1.0), Some(0.9));
        assert_eq!(evidence_floor(&ev, &[false; 7], 0.5), None);
        assert!(answers(0.9, &[0.5], Some(0.4), 0, 0.6, 0.45));
        assert!(!answers(0.9, &[0.5], Some(0.4), 0, 0.6, 0.3));
        assert!(!answers(0.9, &[], None, 0, 0.6, 0.3));
    }
}
