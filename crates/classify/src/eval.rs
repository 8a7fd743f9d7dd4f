//! Evaluation on a labelled set: quality, calibration, abstention and speed.

use crate::calib;
use crate::{Example, Model};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClassReport {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EvalReport {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub examples: usize,
    /// Largest share of messages answerable (confidence ≥ some threshold, chosen on
    /// this set as a report) with precision ≥ 95% on the answered ones.
    pub coverage_at_95_precision: f64,
    /// Precision on the messages answered at that coverage.
    pub accuracy_at_95_precision: f64,
    /// Share answered by the model's own abstain rule (thresholds and evidence guard
    /// fitted out of fold), and the precision on those: what the service would really
    /// see.
    pub coverage_at_model_threshold: f64,
    pub precision_at_model_threshold: f64,
    pub expected_calibration_error: f64,
    pub per_class: Vec<ClassReport>,
    /// Single thread, measured by predicting the set repeatedly for ≥ 0.5 s.
    pub predict_per_second: f64,
    /// Same loop divided by the CPU time the thread really got (Linux only): on a
    /// shared, overloaded machine wall-clock speed understates the code's speed.
    pub predict_per_cpu_second: Option<f64>,
}

/// CPU time consumed by the calling thread, from the scheduler's own accounting.
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Per-class (precision, recall, f1, support) over labels present in truth or
/// predictions, like scikit-learn with `zero_division=0`.
fn per_class_ids(truth: &[usize], pred: &[usize], n: usize) -> Vec<(f64, f64, f64, usize, bool)> {
    let mut tp = vec![0usize; n];
    let mut np = vec![0usize; n];
    let mut nt = vec![0usize; n];
    for (&t, &p) in truth.iter().zip(pred) {
        if t < n {
            nt[t] += 1;
        }
        if p < n {
            np[p] += 1;
        }
        if t == p && t < n {
            tp[t] += 1;
        }
    }
    (0..n)
        .map(|c| {
            let pr = if np[c] > 0 {
                tp[c] as f64 / np[c] as f64
            } else {
                0.0
            };
            let rc = if nt[c] > 0 {
                tp[c] as f64 / nt[c] as f64
            } else {
                0.0
            };
            let f1 = if pr + rc > 0.0 {
                2.0 * pr * rc / (pr + rc)
            } else {
                0.0
            };
            (pr, rc, f1, nt[c], nt[c] > 0 || np[c] > 0)
        })
        .collect()
}

pub(crate) fn macro_f1_ids(truth: &[usize], pred: &[usize], n: usize) -> f64 {
    let pc = per_class_ids(truth, pred, n);
    let present: Vec<f64> = pc.iter().filter(|c| c.4).map(|c| c.2).collect();
    if present.is_empty() {
        0.0
    } else {
        present.iter().sum::<f64>() / present.len() as f64
    }
}

/// Evaluates the model's top label (abstention ignored for accuracy and F1; it is
/// measured separately by the coverage figures). Labels unseen in training count as
/// errors and as classes of the macro average.
pub fn evaluate(model: &Model, examples: &[Example]) -> EvalReport {
    evaluate_with(model, examples, None)
}

/// [`evaluate`] for a model with an embedding view: `vectors` holds each example's
/// embedding, made with the model's recipe. Without them such a model abstains on
/// everything, as it would in service. The speed figure excludes the embedding (its
/// cost is the embedder's, measured in docs/BENCHMARKS.md).
pub fn evaluate_with(
    model: &Model,
    examples: &[Example],
    vectors: Option<&[Vec<f32>]>,
) -> EvalReport {
    let vec_of = |i: usize| vectors.and_then(|v| v.get(i)).map(Vec::as_slice);
    let mut names: Vec<String> = model.labels().to_vec();
    let mut index: HashMap<String, usize> = names
        .iter()
        .enumerate()
        .map(|(i, l)| (l.clone(), i))
        .collect();
    let mut truth = Vec::with_capacity(examples.len());
    for e in examples {
        let id = match index.get(&e.label) {
            Some(&i) => i,
            None => {
                names.push(e.label.clone());
                index.insert(e.label.clone(), names.len() - 1);
                names.len() - 1
            }
        };
        truth.push(id);
    }
    let mut pred = Vec::with_capacity(examples.len());
    let mut points = Vec::with_capacity(examples.len());
    let mut answered = (0usize, 0usize);
    for (i, (e, &t)) in examples.iter().zip(&truth).enumerate() {
        let p = model.predict_with(&e.text, vec_of(i));
        let id = p
            .top
            .first()
            .and_then(|s| index.get(&s.label).copied())
            .unwrap_or(usize::MAX);
        pred.push(id);
        points.push((p.confidence, id == t));
        if !p.abstained {
            answered.0 += 1;
            answered.1 += usize::from(id == t);
        }
    }
    let n = examples.len().max(1) as f64;
    let accuracy = truth.iter().zip(&pred).filter(|(t, p)| t == p).count() as f64 / n;
    let pcs = per_class_ids(&truth, &pred, names.len());
    let per_class: Vec<ClassReport> = pcs
        .iter()
        .zip(&names)
        .filter(|(c, _)| c.4)
        .map(|(c, l)| ClassReport {
            label: l.clone(),
            precision: c.0,
            recall: c.1,
            f1: c.2,
            support: c.3,
        })
        .collect();
    let macro_f1 = macro_f1_ids(&truth, &pred, names.len());
    let (k, correct) = calib::best_prefix(&points, 0.95);

    // Speed: one thread, whole set repeated until at least 0.5 s have passed.
    let mut done = 0usize;
    let cpu0 = thread_cpu_seconds();
    let start = std::time::Instant::now();
    if !examples.is_empty() {
        while start.elapsed().as_secs_f64() < 0.5 {
            for (i, e) in examples.iter().enumerate() {
                std::hint::black_box(model.predict_with(std::hint::black_box(&e.text), vec_of(i)));
            }
            done += examples.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, thread_cpu_seconds()) {
        (Some(a), Some(b)) if b > a => Some(done as f64 / (b - a)),
        _ => None,
    };
    EvalReport {
        accuracy,
        macro_f1,
        examples: examples.len(),
        coverage_at_95_precision: k as f64 / n,
        accuracy_at_95_precision: if k > 0 {
            correct as f64 / k as f64
        } else {
            0.0
        },
        coverage_at_model_threshold: answered.0 as f64 / n,
        precision_at_model_threshold: if answered.0 > 0 {
            answered.1 as f64 / answered.0 as f64
        } else {
            0.0
        },
        expected_calibration_error: calib::ece(&points),
        per_class,
        predict_per_second: if secs > 0.0 { done as f64 / secs } else { 0.0 },
        predict_per_cpu_second: cpu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_matches_hand_computation() {
        // truth a a b c ; pred a b b b  -> a: p1 r.5 f.667; b: p1/3 r1 f.5; c: 0
        let f = macro_f1_ids(&[0, 0, 1, 2], &[0, 1, 1, 1], 4);
        assert!((f - (2.0 / 3.0 + 0.5) / 3.0).abs() < 1e-9, "{f}");
    }
}
