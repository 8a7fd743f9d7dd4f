//! Learning from agents: corrections become training data, model versions are
//! registered, compared, promoted and reviewed every 3 months, drift is measured,
//! and the transparency sheet is built from the same records.
//!
//! Layout: `feedback`, `drift`, `review` and `transparency` are pure
//! (testable without a database); `registry` and `collect` talk to the store and
//! the model files under `<data_dir>/models/<version>/`. Learn computes, the web
//! app draws (its `chart` module renders the dashboards' SVG).

pub mod collect;
pub mod controls;
pub mod drift;
mod error;
pub mod feedback;
pub mod registry;
pub mod review;
pub mod transparency;

pub use controls::{import_legacy, StoreExclusions, StoreSwitches};
pub use drift::{
    drift_report, psi, time_given_back, DriftAlert, DriftReport, DriftThresholds, Level,
    Observation, TimeConfig, Vocabulary, WeekIndicators, WeekTime,
};
pub use error::{LearnError, LearnResult};
pub use feedback::{
    examples_from_actions, training_examples, Evidence, ExclusionStore, FeedbackExample,
    FileExclusions, Provenance,
};
pub use registry::{
    Comparison, EmbedFn, Embeddings, EvalSummary, ModelRecord, ModelVersionView, PromotionReceipt,
    RegistryConfig, TrainOutcome, TrainRequest,
};
pub use review::{
    review_status, suggestions_enabled, FileSwitches, KillSwitch, ReviewDecision, ReviewRecord,
    ReviewStatus, SwitchScope, SwitchStore,
};
pub use transparency::{
    transparency, ComputeCost, ComputeMeter, TransparencyInput, TransparencySheet,
};
