//! The training configuration and the metadata a model file carries.
//!
//! Only the knobs the shipped trainer reads are here. The experiments tried beside
//! them (one-vs-rest, NB scaling, view fusion, centroid and label-name prototypes,
//! class offsets, LSA, bagging, a logistic-regression member, cross-boundary char
//! n-grams) are in the git tag `classifier-experiments` (docs/CLASSIFIER.md). A
//! model file written with their fields still loads: unknown keys are ignored, and
//! every one of them was folded into the stored weights, so prediction never read
//! them (`char_cross`, which changed the features, is refused at load).

use crate::features::FeatureSpec;
use serde::{Deserialize, Serialize};

/// Hyper-parameters. The defaults were chosen by 5-fold cross-validation on the
/// training files only (see docs/CLASSIFIER.md) and are used unchanged for every
/// taxonomy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TrainConfig {
    /// Regularisation of the Crammer–Singer SVM (larger = fit the training set
    /// harder).
    pub c: f32,
    /// Give each class the same total weight (helps macro-F1 on skewed taxonomies).
    pub balanced: bool,
    /// Character n-gram lengths, on words padded with spaces.
    pub char_min: usize,
    pub char_max: usize,
    pub word_bigrams: bool,
    /// Light French stemming of the word view (see `features::stem`).
    pub stem: bool,
    /// Exponent applied to the smooth IDF (1 = usual TF-IDF, 0 = plain TF): on very
    /// small training sets document frequencies are noisy.
    pub idf_power: f32,
    /// Copies of each label's own name added as a training example (0 = none). Label
    /// names of a taxonomy are usually descriptive ("Achat ou vente d'un logement")
    /// and are known at training time: with ~10 examples per class they are a
    /// useful extra example. Never scored in the out-of-fold pass.
    pub label_examples: usize,
    /// Weight of the word view relative to the char view (each view is L2-normalised).
    pub word_weight: f32,
    pub max_iter: usize,
    pub eps: f32,
    /// Folds of the out-of-fold run used for calibration and the abstain threshold.
    pub cv_folds: usize,
    pub target_precision: f32,
    /// Weights below this magnitude are dropped from the model (size and speed).
    pub prune: f32,
    pub top_k: usize,
    pub seed: u64,
    /// Training threads; 0 = all available cores.
    pub threads: usize,
    /// Value of the constant bias feature. The intercept is regularised like every
    /// weight; a larger value makes it cheaper to use (1 = liblinear's default).
    pub bias: f32,
    /// A label name is used as a training example only if it holds at least this
    /// many alphabetic words of 2+ letters: opaque codes ("C017", "cat_12") are
    /// skipped instead of becoming one meaningless example per class.
    pub label_min_words: usize,
    /// Supervised term weighting: each feature's IDF is multiplied by
    /// `(1 - s) + s * g / mean(g)`, g its best class log-ratio (see
    /// `features::supervised_factors`); 0 = plain IDF. Stored in the IDF vector,
    /// so prediction is unchanged. On by default since round 5 (docs/CLASSIFIER.md);
    /// a model file written before the field existed was trained with plain IDF, so
    /// a missing field reads as 0, not as today's default.
    #[serde(default)]
    pub supervised: f32,
    /// Per-type abstain thresholds with shrinkage (see `abstain`): a model file
    /// written before the field existed has one global threshold, so a missing
    /// field reads as off.
    #[serde(default)]
    pub per_type_thresholds: bool,
    /// Pseudo-examples pulling each type's threshold towards the global one.
    pub type_prior: f32,
    /// Evidence guard against out-of-scope mail (see `abstain`): the quantile of the
    /// out-of-fold top scores of correct predictions a text must reach (0 = off; a
    /// missing field reads as off).
    #[serde(default)]
    pub evidence_quantile: f32,
    /// The embedding view's SVM costs and weights in the sum tried out of fold when
    /// training with embeddings (`train_with`); ignored without them.
    #[serde(default)]
    pub dense_c: Vec<f32>,
    #[serde(default)]
    pub dense_weights: Vec<f32>,
    /// With the embedding view: the quantile of training examples' nearest-same-type
    /// cosines below which a text is out of scope for its predicted type (0: no check).
    #[serde(default)]
    pub nn_quantile: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            c: 2.5,
            balanced: true,
            char_min: 2,
            char_max: 5,
            word_bigrams: true,
            stem: true,
            idf_power: 1.0,
            label_examples: 1,
            word_weight: 0.5,
            max_iter: 100,
            eps: 0.3,
            cv_folds: 5,
            target_precision: 0.95,
            prune: 0.02,
            top_k: 5,
            seed: 42,
            threads: 0,
            bias: 1.0,
            label_min_words: 1,
            supervised: 0.6,
            per_type_thresholds: true,
            type_prior: 100.0,
            evidence_quantile: 0.1,
            dense_c: vec![1.0, 3.0, 10.0, 30.0, 100.0],
            dense_weights: vec![0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0],
            nn_quantile: 0.05,
        }
    }
}

impl TrainConfig {
    pub(crate) fn spec(&self) -> FeatureSpec {
        FeatureSpec {
            char_min: self.char_min.max(1),
            char_max: self.char_max.max(self.char_min.max(1)),
            word_bigrams: self.word_bigrams,
            stem: self.stem,
        }
    }

    /// The solver's settings at SVM cost `c` (the lexical member uses `self.c`, the
    /// embedding view its own cost, chosen out of fold).
    pub(crate) fn svm_params(&self, c: f32) -> crate::svm::SvmParams {
        crate::svm::SvmParams {
            c: f64::from(c),
            balanced: self.balanced,
            max_iter: self.max_iter.max(1),
            eps: f64::from(self.eps),
            bias: self.bias,
            seed: self.seed,
        }
    }

    pub(crate) fn thread_count(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}

/// One step of training, for progress bars.
pub struct TrainProgress {
    pub done: usize,
    pub total: usize,
    pub stage: &'static str,
}

/// Out-of-fold quality figures, measured on the training data only.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CvMetrics {
    pub folds: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// After temperature scaling fitted on the same out-of-fold scores.
    pub expected_calibration_error: f64,
    pub temperature: f32,
    /// Share answered at the abstain threshold for the target precision.
    pub coverage_at_target: f64,
}

/// What `model.json` says about a model: its labels, calibration, abstain
/// threshold, cross-validation figures and the config that trained it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelMeta {
    pub format_version: u32,
    pub created_at: u64,
    pub n_examples: usize,
    pub training_sha256: String,
    pub labels: Vec<String>,
    pub n_features: usize,
    pub abstain_threshold: f32,
    pub target_precision: f32,
    pub temperature: f32,
    pub cv: CvMetrics,
    pub train_seconds: f64,
    pub config: TrainConfig,
    /// Abstain threshold of each type, by label index (empty = `abstain_threshold`
    /// for every type, as in model files written before them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub type_thresholds: Vec<f32>,
    /// Minimum evidence (top raw score) for an answer (`None` = no guard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_floor: Option<f32>,
    /// The type predicted for each stored out-of-fold point, so
    /// `Model::set_target_precision` can refit the per-type thresholds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oof_types: Vec<u16>,
    /// The embedding view, when the model was trained with one: which embedding it
    /// needs, and how its weight was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dense: Option<crate::dense::DenseMeta>,
    /// When the abstain threshold was refitted on held-apart mail
    /// ([`crate::Model::calibrate`]): what that set was and what the model did on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::calibrate::Calibration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_without_the_supervised_field_reads_as_plain_idf() {
        // Models written before round 5 have no `supervised` key and were trained
        // with plain IDF; the container-level serde default must not report 0.6.
        let mut v = serde_json::to_value(TrainConfig::default()).expect("json");
        v.as_object_mut().expect("object").remove("supervised");
        let old: TrainConfig = serde_json::from_value(v).expect("config");
        assert_eq!(old.supervised, 0.0);
        assert_eq!(TrainConfig::default().supervised, 0.6);
    }

    #[test]
    fn a_config_with_the_retired_experiment_keys_still_reads() {
        let mut v = serde_json::to_value(TrainConfig::default()).expect("json");
        let o = v.as_object_mut().expect("object");
        for (k, val) in [
            ("crammer_singer", serde_json::json!(true)),
            ("lsa_rank", serde_json::json!(0)),
            ("bag_kind", serde_json::json!("folds")),
            ("lr_mix", serde_json::json!(0.0)),
        ] {
            o.insert(k.into(), val);
        }
        let old: TrainConfig = serde_json::from_value(v).expect("config");
        assert_eq!(old, TrainConfig::default());
    }
}
