//! The embedding view: a second linear member on a sentence embedding of the text,
//! added to the lexical scores before calibration (late fusion).
//!
//! Why a separate member and not extra columns of the TF-IDF matrix: its weight in the
//! sum and its own regularisation are then chosen on the out-of-fold scores the
//! lexical model already computes, without refitting the lexical SVM for every grid
//! point, and the lexical member stays exactly the model trained without embeddings.
//! Why the classifier does not embed itself: the vectors come from whichever embedder
//! the service runs (in-process or an endpoint), computed once per message and shared
//! with retrieval, so this crate only records *which* embedding a model needs
//! ([`EmbeddingRecipe`]) and refuses to score without one.

use crate::svm::{self, Csr};
use crate::TrainConfig;
use serde::{Deserialize, Serialize};

/// Which embedding a model's dense member was trained on. A vector of another model,
/// prefix or length cap lives in another space: the service compares this with its
/// configured embedder before loading the model.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EmbeddingRecipe {
    /// The embedding model's name, e.g. `multilingual-e5-small-q4`.
    pub model: String,
    /// Its checksum (sha256 of the model file, or the endpoint's model name).
    pub checksum: String,
    pub dim: usize,
    /// Tokens of the text embedded (its head), `None` for the whole text.
    #[serde(default)]
    pub max_tokens: Option<usize>,
}

/// What training needs for the dense member: one vector per example, in order.
pub struct DenseInput<'a> {
    pub recipe: EmbeddingRecipe,
    pub vectors: &'a [Vec<f32>],
}

/// The trained dense member: class weights over the embedding (class-major), biases,
/// and its weight in the sum with the lexical margins.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DenseMember {
    pub dim: usize,
    pub weight: f32,
    pub w: Vec<f32>,
    pub bias: Vec<f32>,
    /// The training examples' vectors, i8-quantised (×127), grouped by class:
    /// class `c`'s rows are `starts[c]..starts[c + 1]`. The out-of-scope check
    /// compares a text with the examples of the type it is given.
    pub starts: Vec<u32>,
    pub examples: Vec<i8>,
    /// Below this cosine to the nearest training example of its predicted type, a
    /// text is out of scope for that type and the model abstains.
    pub nn_floor: Option<f32>,
}

/// The grid and the choice, kept in the model's metadata so `model.json` says how the
/// dense member was chosen.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DenseMeta {
    pub recipe: EmbeddingRecipe,
    /// SVM cost of the dense member and its weight in the sum, chosen together by
    /// out-of-fold macro-F1 on the training examples.
    pub c: f32,
    pub weight: f32,
    /// Out-of-fold macro-F1 of the lexical member alone, the dense member alone, and
    /// the sum at the chosen setting (the latter is `cv.macro_f1`).
    pub cv_macro_f1_lexical: f64,
    pub cv_macro_f1_dense: f64,
    /// The out-of-scope check's floor: the `nn_quantile` quantile of the cosine of
    /// each correctly predicted training example to its nearest other example of the
    /// same type (`None`: no check).
    #[serde(default)]
    pub nn_floor: Option<f32>,
}

impl DenseMember {
    /// Cosine of `e` to the nearest training example of class `c` (−1 when the class
    /// has none stored).
    pub fn nearest(&self, e: &[f32], c: usize) -> f32 {
        let (Some(&a), Some(&b)) = (self.starts.get(c), self.starts.get(c + 1)) else {
            return -1.0;
        };
        let rows = self
            .examples
            .get(a as usize * self.dim..b as usize * self.dim)
            .unwrap_or(&[]);
        rows.chunks_exact(self.dim)
            .map(|r| r.iter().zip(e).map(|(&q, x)| f32::from(q) * x).sum::<f32>() / 127.0)
            .fold(-1.0, f32::max)
    }

    /// Whether the nearest-example check lets `e` be given type `c`.
    pub fn in_scope(&self, e: &[f32], c: usize) -> bool {
        self.nn_floor.is_none_or(|f| self.nearest(e, c) >= f)
    }

    /// Stores the training vectors grouped by class, i8-quantised.
    pub fn keep_examples(&mut self, vectors: &[&[f32]], y: &[u32], n_classes: usize) {
        let mut order: Vec<usize> = (0..vectors.len()).collect();
        order.sort_by_key(|&i| y[i]);
        let mut starts = vec![0u32; n_classes + 1];
        for &c in y {
            if let Some(s) = starts.get_mut(c as usize + 1) {
                *s += 1;
            }
        }
        for c in 0..n_classes {
            starts[c + 1] += starts[c];
        }
        self.examples = order
            .iter()
            .flat_map(|&i| {
                vectors[i]
                    .iter()
                    .map(|&x| (x * 127.0).round().clamp(-127.0, 127.0) as i8)
            })
            .collect();
        self.starts = starts;
    }

    /// Adds `weight · (W e + b)` to the lexical margins.
    pub fn add_scores(&self, e: &[f32], s: &mut [f32]) {
        for ((sc, row), b) in s
            .iter_mut()
            .zip(self.w.chunks_exact(self.dim))
            .zip(&self.bias)
        {
            let dot: f32 = row.iter().zip(e).map(|(w, x)| w * x).sum();
            *sc += self.weight * (dot + b);
        }
    }
}

/// The rows of a vector matrix as the SVM's sparse rows (all columns present).
fn rows(vectors: &[&[f32]], dim: usize) -> Csr {
    let mut x = Csr::new(dim);
    let mut row = Vec::with_capacity(dim);
    for v in vectors {
        row.clear();
        row.extend(v.iter().enumerate().map(|(j, &a)| (j as u32, a)));
        x.push_row(&row);
    }
    x
}

/// Fits the dense member's class weights (weight 1; the caller sets the fusion weight).
pub(crate) fn fit(
    vectors: &[&[f32]],
    y: &[u32],
    n_classes: usize,
    dim: usize,
    c: f32,
    cfg: &TrainConfig,
) -> DenseMember {
    let x = rows(vectors, dim);
    let ws = svm::train_cs(&x, y, n_classes, &cfg.svm_params(c));
    let mut w = Vec::with_capacity(n_classes * dim);
    for cw in &ws {
        w.extend((0..dim).map(|j| cw.w.get(j).copied().unwrap_or(0.0)));
    }
    DenseMember {
        dim,
        weight: 1.0,
        w,
        bias: ws.iter().map(|cw| cw.b).collect(),
        starts: Vec::new(),
        examples: Vec::new(),
        nn_floor: None,
    }
}

/// The out-of-scope floor: the `q` quantile, over training examples whose
/// out-of-fold prediction was right, of the cosine to their nearest *other* example
/// of the same type (leave-one-out, so an example never vouches for itself). `None`
/// when `q` is 0 or no example qualifies.
pub(crate) fn nn_floor(vectors: &[&[f32]], y: &[u32], correct: &[bool], q: f32) -> Option<f32> {
    if q <= 0.0 {
        return None;
    }
    let mut by_class: std::collections::HashMap<u32, Vec<usize>> = Default::default();
    for (i, &c) in y.iter().enumerate() {
        by_class.entry(c).or_default().push(i);
    }
    let mut sims: Vec<f32> = Vec::new();
    for (i, (&v, &c)) in vectors.iter().zip(y).enumerate() {
        if !correct.get(i).copied().unwrap_or(false) {
            continue;
        }
        let best = by_class[&c]
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| v.iter().zip(vectors[j]).map(|(a, b)| a * b).sum::<f32>())
            .fold(f32::NEG_INFINITY, f32::max);
        if best.is_finite() {
            sims.push(best);
        }
    }
    if sims.is_empty() {
        return None;
    }
    sims.sort_by(f32::total_cmp);
    let k = ((sims.len() - 1) as f64 * f64::from(q.clamp(0.0, 1.0))) as usize;
    sims.get(k).copied()
}

/// Out-of-fold dense margins for one cost: every example scored by a member fitted on
/// the other folds (the lexical member's folds, so the two sums are out of fold
/// together).
pub(crate) fn oof_scores(
    vectors: &[&[f32]],
    y: &[u32],
    (folds, k): (&[usize], usize),
    n_classes: usize,
    dim: usize,
    c: f32,
    cfg: &TrainConfig,
) -> Vec<Vec<f32>> {
    let mut out = vec![vec![0f32; n_classes]; vectors.len()];
    for f in 0..k {
        let (mut tv, mut ty) = (Vec::new(), Vec::new());
        for ((&v, &c), &fi) in vectors.iter().zip(y).zip(folds) {
            if fi != f {
                tv.push(v);
                ty.push(c);
            }
        }
        if tv.is_empty() {
            continue;
        }
        let m = fit(&tv, &ty, n_classes, dim, c, cfg);
        for ((o, &v), &fi) in out.iter_mut().zip(vectors).zip(folds) {
            if fi == f {
                m.add_scores(v, o);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dense_member_separates_directions_and_adds_weighted_margins() {
        // Two classes pointing along two axes, with noise on a third.
        let mut v: Vec<Vec<f32>> = Vec::new();
        let mut y = Vec::new();
        for i in 0..20 {
            let n = (i as f32 * 0.37).sin() * 0.2;
            v.push(vec![1.0, 0.0, n]);
            y.push(0);
            v.push(vec![0.0, 1.0, -n]);
            y.push(1);
        }
        let refs: Vec<&[f32]> = v.iter().map(Vec::as_slice).collect();
        let mut m = fit(&refs, &y, 2, 3, 1.0, &TrainConfig::default());
        let mut s = vec![0.0; 2];
        m.add_scores(&[0.9, 0.1, 0.0], &mut s);
        assert!(s[0] > s[1], "{s:?}");
        m.weight = 2.0;
        let mut s2 = vec![0.0; 2];
        m.add_scores(&[0.9, 0.1, 0.0], &mut s2);
        assert!((s2[0] - 2.0 * s[0]).abs() < 1e-5);
        // The nearest example of each class, and the leave-one-out floor.
        m.keep_examples(&refs, &y, 2);
        assert_eq!(m.starts, vec![0, 20, 40]);
        assert!(m.nearest(&[1.0, 0.0, 0.0], 0) > 0.95);
        assert!(m.nearest(&[1.0, 0.0, 0.0], 1) < 0.05);
        let all = vec![true; v.len()];
        let floor = nn_floor(&refs, &y, &all, 0.05).expect("floor");
        assert!(floor > 0.9 && floor <= 1.0, "{floor}");
        assert_eq!(nn_floor(&refs, &y, &all, 0.0), None);
        m.nn_floor = Some(floor);
        assert!(m.in_scope(&[0.98, 0.0, 0.2], 0));
        assert!(!m.in_scope(&[0.0, 0.0, 1.0], 0));
        let folds: Vec<usize> = (0..v.len()).map(|i| i % 5).collect();
        let oof = oof_scores(&refs, &y, (&folds, 5), 2, 3, 1.0, &TrainConfig::default());
        let right = oof
            .iter()
            .zip(&y)
            .filter(|(s, &c)| (s[1] > s[0]) == (c == 1))
            .count();
        assert_eq!(right, v.len());
    }
}
