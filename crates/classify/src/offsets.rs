//! Per-class score offsets chosen for macro-F1 on out-of-fold scores.
//!
//! Macro-F1 weighs every class equally, so a rare class the SVM rarely predicts costs
//! as much as a frequent one. Adding a constant to one class's margin trades its
//! recall against the others' precision; the offsets are fitted by coordinate ascent
//! on margins of examples the models never saw (out of fold), and added to the model's
//! bias, so prediction cost and the model file are unchanged.

/// Coordinate ascent on a grid: for each class in turn, tries offsets
/// `step * i` for `i` in `-radius..=radius` and keeps the one with the best macro-F1
/// (ties go to the smallest offset, so a class with no evidence stays at 0); `passes`
/// sweeps over all classes. Returns one offset per class, multiplied by `shrink`
/// (< 1 pulls them back toward 0 against over-fitting the out-of-fold noise).
///
/// `scores[i]` holds the margins of example `i` (all rows of length `n_classes`),
/// `truth[i]` its class. Rows of the wrong length are ignored.
pub(crate) fn fit_offsets(
    scores: &[Vec<f32>],
    truth: &[usize],
    n_classes: usize,
    step: f32,
    radius: usize,
    passes: usize,
    shrink: f32,
) -> Vec<f32> {
    let mut delta = vec![0f32; n_classes];
    if step.is_nan() || step <= 0.0 || n_classes < 2 {
        return delta;
    }
    let rows: Vec<(&[f32], usize)> = scores
        .iter()
        .zip(truth)
        .filter(|(s, &t)| s.len() == n_classes && t < n_classes)
        .map(|(s, &t)| (s.as_slice(), t))
        .collect();
    if rows.is_empty() {
        return delta;
    }
    let mut support = vec![0u32; n_classes];
    for &(_, t) in &rows {
        support[t] += 1;
    }
    // Per row, for the class being tuned: the best other adjusted score and its class.
    let mut other: Vec<(f32, usize)> = vec![(f32::NEG_INFINITY, 0); rows.len()];
    let (mut tp, mut np) = (vec![0u32; n_classes], vec![0u32; n_classes]);
    let r = radius as i64;
    for _ in 0..passes {
        let mut changed = false;
        for k in 0..n_classes {
            for (o, (s, _)) in other.iter_mut().zip(&rows) {
                let mut best = (f32::NEG_INFINITY, if k == 0 { 1 } else { 0 });
                for (j, (&v, &d)) in s.iter().zip(&delta).enumerate() {
                    if j != k && v + d > best.0 {
                        best = (v + d, j);
                    }
                }
                *o = best;
            }
            let mut best = (f64::NEG_INFINITY, 0i64);
            for i in -r..=r {
                let d = step * i as f32;
                tp.iter_mut().for_each(|v| *v = 0);
                np.iter_mut().for_each(|v| *v = 0);
                for (&(ob, oc), &(s, t)) in other.iter().zip(&rows) {
                    let p = if s[k] + d > ob { k } else { oc };
                    np[p] += 1;
                    tp[p] += u32::from(p == t);
                }
                let f = macro_f1(&tp, &np, &support);
                let better =
                    f > best.0 + 1e-12 || ((f - best.0).abs() <= 1e-12 && i.abs() < best.1.abs());
                if better {
                    best = (f, i);
                }
            }
            let d = step * best.1 as f32;
            if d != delta[k] {
                changed = true;
                delta[k] = d;
            }
        }
        if !changed {
            break;
        }
    }
    delta.iter_mut().for_each(|d| *d *= shrink);
    delta
}

/// Mean F1 over classes present in truth or predictions (as `eval::macro_f1_ids`).
fn macro_f1(tp: &[u32], np: &[u32], support: &[u32]) -> f64 {
    let (mut sum, mut n) = (0f64, 0usize);
    for ((&t, &p), &s) in tp.iter().zip(np).zip(support) {
        if s > 0 || p > 0 {
            n += 1;
            sum += 2.0 * f64::from(t) / f64::from(s + p);
        }
    }
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::macro_f1_ids;

    fn argmax(s: &[f32]) -> usize {
        (0..s.len())
            .max_by(|&a, &b| s[a].total_cmp(&s[b]).then(b.cmp(&a)))
            .unwrap_or(0)
    }

    #[test]
    fn offsets_recover_a_starved_rare_class() {
        // Class 2 is always 0.2 below class 0 on its own examples: never predicted.
        let mut scores = Vec::new();
        let mut truth = Vec::new();
        for i in 0..20 {
            let j = i as f32 * 0.01;
            scores.push(vec![1.0 + j, 0.0, 0.3]);
            truth.push(0);
            scores.push(vec![0.0, 1.0 + j, 0.3]);
            truth.push(1);
        }
        for i in 0..4 {
            let j = i as f32 * 0.01;
            scores.push(vec![0.9 + j, 0.0, 0.7 + j]);
            truth.push(2);
        }
        let pred = |d: &[f32]| -> Vec<usize> {
            scores
                .iter()
                .map(|s| argmax(&s.iter().zip(d).map(|(a, b)| a + b).collect::<Vec<_>>()))
                .collect()
        };
        let before = macro_f1_ids(&truth, &pred(&[0.0; 3]), 3);
        let d = fit_offsets(&scores, &truth, 3, 0.1, 5, 2, 1.0);
        let after = macro_f1_ids(&truth, &pred(&d), 3);
        assert!(before < 0.7, "{before}");
        assert!((after - 1.0).abs() < 1e-9, "{after} {d:?}");
        // Only as much offset as needed: class 2 up (or class 0 down), class 1 left alone.
        assert_eq!(d[1], 0.0);
        assert!(d[2] - d[0] > 0.19 && d[2] - d[0] < 0.5, "{d:?}");
        // Shrink scales them.
        let h = fit_offsets(&scores, &truth, 3, 0.1, 5, 2, 0.5);
        for (a, b) in h.iter().zip(&d) {
            assert!((a - 0.5 * b).abs() < 1e-6);
        }
    }

    #[test]
    fn offsets_stay_zero_when_nothing_to_gain_or_input_is_degenerate() {
        let scores = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.9, 0.1]];
        let truth = vec![0, 1, 0];
        assert_eq!(fit_offsets(&scores, &truth, 2, 0.1, 3, 2, 1.0), [0.0, 0.0]);
        assert_eq!(fit_offsets(&scores, &truth, 2, 0.0, 3, 2, 1.0), [0.0, 0.0]);
        assert_eq!(fit_offsets(&[], &[], 2, 0.1, 3, 2, 1.0), [0.0, 0.0]);
        // Ragged rows and out-of-range labels are ignored, not a panic.
        let bad = vec![vec![1.0], vec![0.0, 1.0, 2.0]];
        assert_eq!(fit_offsets(&bad, &[0, 7], 2, 0.1, 3, 2, 1.0), [0.0, 0.0]);
    }
}
