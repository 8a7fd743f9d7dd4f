//! What the classifier says about a text.

use serde::{Deserialize, Serialize};

/// One request type with its calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredLabel {
    /// Request-type id from the model's taxonomy.
    pub label: String,
    /// Calibrated probability in [0, 1].
    pub probability: f32,
}

/// A calibrated prediction. `label` is `None` when the model abstains: below the
/// threshold chosen for the service's target precision, no category is better
/// than a wrong one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Predicted request-type id; `None` when the model abstains.
    pub label: Option<String>,
    /// Probability of the top label, calibrated.
    pub confidence: f32,
    /// The best labels, most probable first.
    pub top: Vec<ScoredLabel>,
    /// True when confidence or evidence fell below the model's thresholds: no category is offered.
    pub abstained: bool,
}

/// A request type the model considered without being sure enough to draft, with
/// the standard answer it would draft from. When the model abstains the right
/// type is usually among the first three: shown to the agent, one click turns
/// the right one into a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Request-type id from the model's taxonomy.
    pub label: String,
    /// Calibrated probability in [0, 1].
    pub probability: f32,
    /// The best usable standard answer of that type for this message, if any.
    #[serde(default)]
    pub answer_id: Option<String>,
    /// Title of `answer_id` in the mail's language, else in French, for the agent's list.
    #[serde(default)]
    pub answer_title: Option<String>,
}
