//! Where a triaged message goes. Pure: the same inputs always give the same route,
//! so the decision can be explained to the agent and tested.

use serde::{Deserialize, Serialize};

/// Where triage sends a message; each route maps to one `MessageState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Repetitive and confident: a draft is ready for an agent to validate.
    ReadyToValidate,
    /// A human must research the case; no draft is offered.
    NeedsResearch,
    /// Complaint, legal deadline, distress or threat.
    Escalate,
    /// The model is unsure: no draft rather than a wrong one.
    Abstain,
    /// Written by a machine (auto-reply, bounce): "automatique — pas de réponse",
    /// never a draft.
    Automatic,
}

/// What `route` weighs besides the message: the configured confidence threshold and the suggestions switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingPolicy {
    /// Minimum calibrated confidence to offer a draft.
    pub min_confidence: f32,
    /// Suggestions switched off (kill switch, overdue strict review).
    pub suggestions_enabled: bool,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        Self {
            min_confidence: 0.5,
            suggestions_enabled: true,
        }
    }
}

/// Decide the route. `sensitive` wins over everything: an angry or distressed
/// citizen must reach a person even if the question is a routine one.
pub fn route(
    policy: &RoutingPolicy,
    sensitive: bool,
    confidence: Option<f32>,
    has_validated_answer: bool,
) -> Route {
    if sensitive {
        return Route::Escalate;
    }
    if !policy.suggestions_enabled {
        return Route::NeedsResearch;
    }
    match confidence {
        None => Route::Abstain,
        Some(c) if c < policy.min_confidence => Route::Abstain,
        Some(_) if !has_validated_answer => Route::NeedsResearch,
        Some(_) => Route::ReadyToValidate,
    }
}

/// Decide the route of a message that may have been written by a machine.
/// Automatic mail wins over everything, sensitivity included: an out-of-office
/// reply saying "urgent : contactez mon collègue" is no citizen in distress, and
/// any draft to an auto-responder risks a mail loop.
pub fn route_mail(
    policy: &RoutingPolicy,
    automatic: bool,
    sensitive: bool,
    confidence: Option<f32>,
    has_validated_answer: bool,
) -> Route {
    if automatic {
        return Route::Automatic;
    }
    route(policy, sensitive, confidence, has_validated_answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_always_escalates() {
        let p = RoutingPolicy::default();
        assert_eq!(route(&p, true, Some(0.99), true), Route::Escalate);
    }

    #[test]
    fn low_confidence_abstains_and_missing_answer_needs_research() {
        let p = RoutingPolicy::default();
        assert_eq!(route(&p, false, Some(0.2), true), Route::Abstain);
        assert_eq!(route(&p, false, None, true), Route::Abstain);
        assert_eq!(route(&p, false, Some(0.9), false), Route::NeedsResearch);
        assert_eq!(route(&p, false, Some(0.9), true), Route::ReadyToValidate);
    }

    #[test]
    fn automatic_mail_is_never_routed_to_a_draft() {
        let p = RoutingPolicy::default();
        for sensitive in [false, true] {
            for conf in [None, Some(0.1), Some(0.99)] {
                for answer in [false, true] {
                    assert_eq!(
                        route_mail(&p, true, sensitive, conf, answer),
                        Route::Automatic
                    );
                    assert_eq!(
                        route_mail(&p, false, sensitive, conf, answer),
                        route(&p, sensitive, conf, answer)
                    );
                }
            }
        }
    }

    #[test]
    fn kill_switch_sends_to_humans() {
        let p = RoutingPolicy {
            suggestions_enabled: false,
            ..Default::default()
        };
        assert_eq!(route(&p, false, Some(0.99), true), Route::NeedsResearch);
    }
}
