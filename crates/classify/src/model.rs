//! A trained model: the linear scorer, its calibration and abstain threshold, and
//! prediction.

use crate::abstain;
use crate::calib;
use crate::config::ModelMeta;
use crate::dense::{DenseMember, EmbeddingRecipe};
use crate::scorer::Core;
use facteur_core::{Prediction, ScoredLabel};

/// A trained classifier, as `train` returns it and `Model::load` reads it.
pub struct Model {
    pub(crate) core: Core,
    /// The embedding view, summed with the lexical margins (`dense.rs`).
    pub(crate) dense: Option<DenseMember>,
    pub(crate) meta: ModelMeta,
    /// Out-of-fold (confidence, correct) pairs, kept so the abstain threshold can be
    /// moved to another target precision without retraining.
    pub(crate) oof: Vec<(f32, bool)>,
}

/// Indices of the k largest values, best first, ties by lower index: one pass with a
/// small insertion-sorted buffer (k is a handful, the class count may be hundreds).
fn top_k(p: &[f32], k: usize) -> Vec<usize> {
    let mut best: Vec<usize> = Vec::with_capacity(k + 1);
    for (i, &v) in p.iter().enumerate() {
        if best.len() == k && best.last().is_some_and(|&l| p[l].total_cmp(&v).is_ge()) {
            continue;
        }
        let pos = best
            .iter()
            .position(|&b| p[b].total_cmp(&v).is_lt())
            .unwrap_or(best.len());
        best.insert(pos, i);
        best.truncate(k);
    }
    best
}

impl Model {
    /// Calibrated prediction; abstains (label `None`) below the threshold fitted for
    /// the target precision. For a model with an embedding view, see
    /// [`Model::predict_with`].
    pub fn predict(&self, text: &str) -> Prediction {
        self.predict_with(text, None)
    }

    /// Prediction with the text's embedding (made with [`Model::embedding`]'s
    /// recipe), which a model trained with an embedding view needs: without it, or
    /// with a vector of the wrong width, such a model ranks on words alone and
    /// abstains, since its calibration holds only for the sum. A lexical model
    /// ignores the vector.
    pub fn predict_with(&self, text: &str, embedding: Option<&[f32]>) -> Prediction {
        let a = self.assess(text, embedding);
        let k = self.meta.config.top_k.clamp(1, a.p.len().max(1));
        let order = top_k(&a.p, k);
        let top: Vec<ScoredLabel> = order
            .iter()
            .filter_map(|&i| {
                Some(ScoredLabel {
                    label: self.meta.labels.get(i)?.clone(),
                    probability: a.p[i],
                })
            })
            .collect();
        let abstained = !a.guarded || !self.confident(a.class, a.confidence);
        Prediction {
            label: if abstained {
                None
            } else {
                top.first().map(|s| s.label.clone())
            },
            confidence: a.confidence,
            top,
            abstained,
        }
    }

    /// What the model makes of a text before its confidence threshold: the
    /// calibrated probabilities, the top class and its probability, and whether the
    /// checks that do not depend on the threshold let it answer at all (an
    /// embedding when the model needs one, the out-of-scope check, the evidence
    /// guard).
    pub(crate) fn assess(&self, text: &str, embedding: Option<&[f32]>) -> Assessment {
        let (mut p, vector) = self.margins(text, embedding);
        let blind = self.dense.is_some() && vector.is_none();
        let evidence = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        calib::softmax_t(&mut p, self.meta.temperature);
        let class = top_k(&p, 1).first().copied().unwrap_or(0);
        let confidence = p.get(class).copied().unwrap_or(0.0);
        let out_of_scope = vector.is_some_and(|(d, e)| !d.in_scope(e, class));
        let enough_evidence = self.meta.evidence_floor.is_none_or(|f| evidence >= f);
        Assessment {
            p,
            class,
            confidence,
            guarded: !blind && !out_of_scope && enough_evidence,
        }
    }

    /// Whether a top class this probable is answered: its type's threshold, else
    /// the global one.
    pub(crate) fn confident(&self, class: usize, confidence: f32) -> bool {
        abstain::answers(
            self.meta.abstain_threshold,
            &self.meta.type_thresholds,
            None,
            class,
            confidence,
            0.0,
        )
    }

    /// The embedding this model needs for every text it scores, when it was trained
    /// with an embedding view; `None` for a lexical model.
    pub fn embedding(&self) -> Option<&EmbeddingRecipe> {
        self.meta.dense.as_ref().map(|d| &d.recipe)
    }

    /// The top raw score of a text (lexical, plus the embedding view when given):
    /// how much evidence for any type its known features carry, before the softmax
    /// makes the scores relative.
    pub fn evidence(&self, text: &str) -> f32 {
        self.evidence_with(text, None)
    }

    pub fn evidence_with(&self, text: &str, embedding: Option<&[f32]>) -> f32 {
        self.margins(text, embedding)
            .0
            .into_iter()
            .fold(f32::NEG_INFINITY, f32::max)
    }

    /// Raw margins of every class: the lexical member's, plus the embedding view's
    /// when the model has one and `embedding` fits it (then returned with the view,
    /// for the out-of-scope check).
    fn margins<'a>(
        &'a self,
        text: &str,
        embedding: Option<&'a [f32]>,
    ) -> (Vec<f32>, Option<(&'a DenseMember, &'a [f32])>) {
        let mut s = self.core.scores(text);
        let used = self
            .dense
            .as_ref()
            .zip(embedding)
            .filter(|(d, e)| e.len() == d.dim);
        if let Some((d, e)) = used {
            d.add_scores(e, &mut s);
        }
        (s, used)
    }

    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }

    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// Moves the abstain thresholds to another target precision using the stored
    /// fit points (no retraining, no test data): the out-of-fold confidences, or
    /// the calibration set's when the model was calibrated ([`Model::calibrate`]).
    /// The coverage figure is then the confidence rule's alone (the evidence of
    /// out-of-fold points is not stored).
    pub fn set_target_precision(&mut self, p: f32) {
        let p = p.clamp(0.0, 1.0);
        self.meta.target_precision = p;
        if let Some(c) = &mut self.meta.calibration {
            self.meta.abstain_threshold =
                calib::threshold_for_precision_bound(&self.oof, p, crate::calibrate::Z)
                    .max(c.out_of_scope_floor);
            c.threshold = self.meta.abstain_threshold;
            self.meta.type_thresholds.clear();
        } else {
            self.meta.abstain_threshold = calib::threshold_for_precision(&self.oof, p);
            if !self.meta.type_thresholds.is_empty() && self.meta.oof_types.len() == self.oof.len()
            {
                self.meta.type_thresholds = abstain::type_thresholds(
                    &self.oof,
                    &self.meta.oof_types,
                    self.meta.labels.len(),
                    p,
                    self.meta.config.type_prior,
                    self.meta.abstain_threshold,
                );
            }
        }
        let n = self.oof.len().max(1) as f64;
        let answered = self
            .oof
            .iter()
            .enumerate()
            .filter(|&(i, x)| {
                let c = self
                    .meta
                    .oof_types
                    .get(i)
                    .map_or(usize::MAX, |&c| usize::from(c));
                self.confident(c, x.0)
            })
            .count();
        self.meta.cv.coverage_at_target = answered as f64 / n;
    }
}

/// See [`Model::assess`].
pub(crate) struct Assessment {
    pub p: Vec<f32>,
    pub class: usize,
    pub confidence: f32,
    pub guarded: bool,
}

#[cfg(test)]
mod tests {
    use crate::train::tests::toy;
    use crate::{train, TrainConfig};

    #[test]
    fn trains_and_predicts_toy_topics_with_calibrated_output() {
        let ex = toy();
        let m = train(&ex, &TrainConfig::default(), &mut |_| {}).expect("train");
        assert_eq!(m.labels(), ["impots", "logement", "travail"]);
        let p = m.predict("ma declaration de revenus");
        assert_eq!(p.top[0].label, "impots");
        let sum: f32 = p.top.iter().map(|s| s.probability).sum();
        assert!((sum - 1.0).abs() < 1e-4);
        assert!(p
            .top
            .windows(2)
            .all(|w| w[0].probability >= w[1].probability));
        assert!(m.meta().cv.accuracy > 0.8, "{:?}", m.meta().cv);
        // Garbage input does not panic and gives a valid distribution.
        for t in ["", "\u{0}\u{301}''", "€€€ 😀"] {
            let p = m.predict(t);
            assert!((0.0..=1.0).contains(&p.confidence));
        }
    }

    #[test]
    fn set_target_precision_moves_threshold_monotonically() {
        let mut m = train(&toy(), &TrainConfig::default(), &mut |_| {}).expect("train");
        m.set_target_precision(0.5);
        let low = m.meta().abstain_threshold;
        m.set_target_precision(1.0);
        assert!(m.meta().abstain_threshold >= low);
    }
}
