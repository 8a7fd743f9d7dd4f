//! The request-type classifier, the core of Facteur: text features, training,
//! calibrated probabilities, abstention at a target precision, and a small versioned
//! model file.
//!
//! Everything (normalisation, hashed n-grams, the SVM solver, calibration, the file
//! format) is written here rather than pulled from a crate: it is the product's core
//! value, it must run on a plain CPU offline, and we need full control of speed
//! (> 50k predictions/s on one thread), determinism and model-file stability.
//!
//! Design, with the cross-validation figures that chose it: docs/CLASSIFIER.md.

mod abstain;
mod calib;
mod calibrate;
mod config;
mod data;
mod dense;
mod error;
mod eval;
pub mod features;
mod format;
mod model;
mod scorer;
mod svm;
mod train;

pub use calibrate::{Calibration, MIN_CALIBRATION_EXAMPLES};
pub use config::{CvMetrics, ModelMeta, TrainConfig, TrainProgress};
pub use data::{read_jsonl, Example};
pub use dense::{DenseInput, DenseMeta, EmbeddingRecipe};
pub use error::ClassifyError;
pub use eval::{evaluate, evaluate_with, ClassReport, EvalReport};
pub use format::FORMAT_VERSION;
pub use model::Model;
pub use train::{cross_validate, train, train_with};

impl Model {
    /// Writes `dir/model.bin` (binary, checksummed) and `dir/model.json` (metadata).
    pub fn save(&self, dir: &std::path::Path) -> Result<(), ClassifyError> {
        format::save(self, dir)
    }

    pub fn load(dir: &std::path::Path) -> Result<Model, ClassifyError> {
        format::load(dir)
    }
}
