//! The request-type classifier, the core of Facteur: text features, training,
//! calibrated probabilities, abstention at a target precision, and a small versioned
//! model file.
