//! The public transparency sheet (the unions asked for the list of AI applications
//! with their dates and costs) and the process's own compute accounting that
//! gives its cost figure. No personal data: people appear by role, never by name.

use std::sync::atomic::{AtomicU64, Ordering};

use facteur_store::Millis;
use serde::{Deserialize, Serialize};

use crate::registry::{EvalSummary, ModelVersionView};
use crate::review::iso_date;

/// CPU seconds (user + system) the whole process has used, from the kernel's
/// accounting (`getrusage`). Process-wide on purpose: triage uses several threads.
#[allow(unsafe_code)] // Two libc calls, justified below.
pub fn process_cpu_seconds() -> Option<f64> {
    // SAFETY: zeroed is a valid value for this plain C struct of integers.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct we pass.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return None;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(tv(ru.ru_utime) + tv(ru.ru_stime))
}

/// Accumulates CPU time spent around triage and the messages it handled. Cheap and
/// shareable (`&'static` or `Arc`). Concurrent triage in other threads is counted
/// in each measured span, so measure spans that cover whole batches.
#[derive(Debug, Default)]
pub struct ComputeMeter {
    cpu_micros: AtomicU64,
    messages: AtomicU64,
}

impl ComputeMeter {
    pub const fn new() -> Self {
        Self {
            cpu_micros: AtomicU64::new(0),
            messages: AtomicU64::new(0),
        }
    }

    /// Run `f` (triage of `messages` messages) and account for its CPU time.
    pub fn measure<T>(&self, messages: u64, f: impl FnOnce() -> T) -> T {
        let before = process_cpu_seconds();
        let out = f();
        if let (Some(a), Some(b)) = (before, process_cpu_seconds()) {
            self.add((b - a).max(0.0), messages);
        }
        out
    }

    pub fn add(&self, cpu_seconds: f64, messages: u64) {
        let us = (cpu_seconds.max(0.0) * 1e6) as u64;
        self.cpu_micros.fetch_add(us, Ordering::Relaxed);
        self.messages.fetch_add(messages, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ComputeCost {
        let cpu = self.cpu_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let n = self.messages.load(Ordering::Relaxed);
        ComputeCost {
            messages_measured: n,
            cpu_seconds: cpu,
            cpu_seconds_per_1000_messages: (n > 0).then(|| cpu * 1000.0 / n as f64),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeCost {
    pub messages_measured: u64,
    pub cpu_seconds: f64,
    pub cpu_seconds_per_1000_messages: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub version: String,
    pub status: String,
    pub trained_on: String,
    pub training_examples: Option<usize>,
    pub from_agent_feedback: Option<usize>,
    pub promoted_on: Option<String>,
    pub last_review_on: Option<String>,
    pub next_review_due: Option<String>,
    pub review_overdue: bool,
    /// The embedding model the classifier reads mail with besides its words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
    /// How its abstain threshold was set: `None` out of fold on the training
    /// examples; else refitted on held-apart labelled mail, with what it did there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<facteur_classify::Calibration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicMetrics {
    pub evaluation_examples: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub coverage_at_95_precision: f64,
    pub expected_calibration_error: f64,
}

impl From<&EvalSummary> for PublicMetrics {
    fn from(e: &EvalSummary) -> Self {
        Self {
            evaluation_examples: e.examples,
            accuracy: e.accuracy,
            macro_f1: e.macro_f1,
            coverage_at_95_precision: e.coverage_at_95_precision,
            expected_calibration_error: e.expected_calibration_error,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volumes {
    pub messages_handled: i64,
    pub drafts_sent_from_suggestions: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransparencySheet {
    pub generated_on: String,
    pub service: String,
    pub purpose: String,
    pub data_used: Vec<String>,
    pub human_oversight: String,
    pub open_source: String,
    pub active_model: Option<ModelEntry>,
    pub model_history: Vec<ModelEntry>,
    pub metrics: Option<PublicMetrics>,
    pub review_period_days: u32,
    pub volumes: Volumes,
    pub compute: ComputeCost,
    pub contact: String,
}

/// What the sheet is built from (the caller reads the registry and the store).
pub struct TransparencyInput<'a> {
    pub now: Millis,
    pub service: &'a str,
    pub contact: &'a str,
    pub versions: &'a [ModelVersionView],
    pub review_period_days: u32,
    pub volumes: Volumes,
    pub compute: ComputeCost,
}

fn entry(v: &ModelVersionView) -> ModelEntry {
    ModelEntry {
        version: v.version.clone(),
        status: v.status.as_str().to_string(),
        trained_on: iso_date(v.record.as_ref().map_or(v.created_at, |r| r.trained_at)),
        training_examples: v.record.as_ref().map(|r| r.training_examples),
        from_agent_feedback: v.record.as_ref().map(|r| r.feedback_examples),
        promoted_on: v.promoted_at.map(iso_date),
        last_review_on: v.last_review.as_ref().map(|r| iso_date(r.reviewed_at)),
        next_review_due: v.review.as_ref().map(|r| r.due_on.clone()),
        review_overdue: v.review.as_ref().is_some_and(|r| r.overdue),
        embedding_model: v.record.as_ref().and_then(|r| r.embedding_model.clone()),
        calibration: v.record.as_ref().and_then(|r| r.calibration.clone()),
    }
}

pub fn transparency(input: TransparencyInput<'_>) -> TransparencySheet {
    let active = input
        .versions
        .iter()
        .find(|v| v.status == facteur_core::ModelStatus::Active);
    TransparencySheet {
        generated_on: iso_date(input.now),
        service: input.service.to_string(),
        purpose: "Aider les agents à répondre aux demandes écrites répétitives des usagers : \
                  le système propose le type de demande et un brouillon fondé sur une réponse type \
                  validée ; il s'abstient lorsqu'il n'est pas sûr."
            .into(),
        data_used: vec![
            "Messages reçus dans les boîtes fonctionnelles du service, pseudonymisés avant tout \
             traitement par le modèle (numéro fiscal, NIR, IBAN, e-mail, téléphone, adresse, noms masqués)."
                .into(),
            "Réponses types validées par le service et fiches officielles service-public.fr.".into(),
            "Corrections des agents (catégorie corrigée, brouillon validé ou rejeté) pour réentraîner le modèle."
                .into(),
        ],
        human_oversight: "Rien n'est envoyé sans un agent : chaque réponse est validée par un agent \
                          nommé. Un superviseur évalue et promeut chaque version du modèle, peut revenir \
                          à la précédente et couper les suggestions à tout moment."
            .into(),
        open_source: "Briques logicielles libres, exécutées sur les serveurs du service, sans GPU \
                      ni prestataire d'IA externe."
            .into(),
        active_model: active.map(entry),
        model_history: input.versions.iter().map(entry).collect(),
        metrics: active
            .and_then(|v| v.record.as_ref())
            .map(|r| PublicMetrics::from(&r.eval)),
        review_period_days: input.review_period_days,
        volumes: input.volumes,
        compute: input.compute,
        contact: input.contact.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_counts_cpu_of_real_work() {
        let m = ComputeMeter::new();
        let x = m.measure(1000, || {
            let mut acc = 0u64;
            for i in 0..30_000_000u64 {
                acc = acc.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
            }
            acc
        });
        std::hint::black_box(x);
        let s = m.snapshot();
        assert_eq!(s.messages_measured, 1000);
        assert!(s.cpu_seconds > 0.0, "{s:?}");
        assert!(s
            .cpu_seconds_per_1000_messages
            .is_some_and(|c| (c - s.cpu_seconds).abs() < 1e-9));
        assert_eq!(
            ComputeMeter::new().snapshot().cpu_seconds_per_1000_messages,
            None
        );
    }

    #[test]
    fn sheet_without_model_still_states_oversight() {
        let s = transparency(TransparencyInput {
            now: 1_750_000_000_000,
            service: "SIP Test",
            contact: "dpo@example.invalid",
            versions: &[],
            review_period_days: 90,
            volumes: Volumes {
                messages_handled: 0,
                drafts_sent_from_suggestions: None,
            },
            compute: ComputeMeter::new().snapshot(),
        });
        assert!(s.active_model.is_none());
        assert!(s
            .human_oversight
            .contains("Rien n'est envoyé sans un agent"));
        assert_eq!(s.generated_on, "2025-06-15");
    }
}
