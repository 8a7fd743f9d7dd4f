//! The model registry: every version with its training data fingerprint, its
//! metrics on the fixed evaluation set, and who trained, promoted and reviewed it.
//!
//! The store's `model_versions.metrics` JSON column holds the [`ModelRecord`];
//! the model files live under `<data_dir>/models/<version>/` and are never
//! deleted, which is what makes a rollback give exactly the old predictions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use facteur_classify::{Example, Model, TrainConfig};
use facteur_core::{ModelStatus, Role};
use facteur_store::{Millis, ModelVersion, Store, User};
use serde::{Deserialize, Serialize};

use crate::drift::Vocabulary;
use crate::error::io_err;
use crate::review::{review_status, ReviewDecision, ReviewRecord, ReviewStatus};
use crate::{LearnError, LearnResult};

/// Registry settings the service may change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryConfig {
    pub review_period_days: u32,
    pub train: TrainConfig,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            review_period_days: 90,
            train: TrainConfig::default(),
        }
    }
}

/// Metrics on the fixed evaluation set. The set's hash is kept so two versions
/// are only compared on the same set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    pub eval_set_sha256: String,
    pub examples: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class_f1: BTreeMap<String, f64>,
    pub coverage_at_95_precision: f64,
    pub expected_calibration_error: f64,
}

/// What the registry knows of a version beyond the store's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub training_sha256: String,
    pub training_examples: usize,
    /// Of which, examples that came from agents' feedback.
    pub feedback_examples: usize,
    pub taxonomy: Vec<String>,
    /// Label shares of the training data: the reference for drift (PSI).
    pub training_distribution: BTreeMap<String, f64>,
    pub vocabulary_size: usize,
    pub eval: EvalSummary,
    pub trained_at: Millis,
    pub train_seconds: f64,
    pub note: Option<String>,
    /// The embedding model the version reads texts with (its embedding view), shown
    /// on the transparency sheet; `None`: words only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
    /// When its abstain threshold was refitted on held-apart labelled mail: that
    /// set and what the version did on it (shown on the transparency sheet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<facteur_classify::Calibration>,
}

/// A registered version as the CLI and web show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersionView {
    pub version: String,
    pub status: ModelStatus,
    pub created_at: Millis,
    pub trained_by: Option<i64>,
    pub promoted_by: Option<i64>,
    pub promoted_at: Option<Millis>,
    /// Only for the active version.
    pub review: Option<ReviewStatus>,
    pub last_review: Option<ReviewRecord>,
    pub record: Option<ModelRecord>,
    pub dir: PathBuf,
}

pub fn models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models")
}

pub fn model_dir(data_dir: &Path, version: &str) -> PathBuf {
    models_dir(data_dir).join(version)
}

pub fn sha256_examples(examples: &[Example]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for e in examples {
        h.update(e.text.as_bytes());
        h.update([0u8]);
        h.update(e.label.as_bytes());
        h.update([b'\n']);
    }
    hex::encode(h.finalize())
}

/// Evaluate a model on the fixed set; `vectors` holds each example's embedding,
/// which a model with an embedding view needs (without them it abstains on
/// everything).
pub fn eval_summary(
    model: &Model,
    eval_set: &[Example],
    vectors: Option<&[Vec<f32>]>,
) -> EvalSummary {
    let r = facteur_classify::evaluate_with(model, eval_set, vectors);
    EvalSummary {
        eval_set_sha256: sha256_examples(eval_set),
        examples: r.examples,
        accuracy: r.accuracy,
        macro_f1: r.macro_f1,
        per_class_f1: r
            .per_class
            .iter()
            .map(|c| (c.label.clone(), c.f1))
            .collect(),
        coverage_at_95_precision: r.coverage_at_95_precision,
        expected_calibration_error: r.expected_calibration_error,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassDelta {
    pub label: String,
    pub candidate_f1: Option<f64>,
    pub active_f1: Option<f64>,
    pub delta: f64,
}

/// A candidate against the active model, class by class: a supervisor must see
/// which request types get worse, not just the average.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub candidate: String,
    pub active: String,
    /// False when the two were measured on different evaluation sets: the figures
    /// are then not comparable and promotion should wait for a re-evaluation.
    pub same_eval_set: bool,
    pub macro_f1_delta: f64,
    pub coverage_delta: f64,
    pub calibration_delta: f64,
    pub per_class: Vec<ClassDelta>,
    /// Classes whose F1 drops by more than 0.05.
    pub regressions: Vec<String>,
}

pub fn compare(candidate: (&str, &EvalSummary), active: (&str, &EvalSummary)) -> Comparison {
    let (c, a) = (candidate.1, active.1);
    let labels: std::collections::BTreeSet<&String> =
        c.per_class_f1.keys().chain(a.per_class_f1.keys()).collect();
    let per_class: Vec<ClassDelta> = labels
        .into_iter()
        .map(|l| {
            let cf = c.per_class_f1.get(l).copied();
            let af = a.per_class_f1.get(l).copied();
            ClassDelta {
                label: l.clone(),
                candidate_f1: cf,
                active_f1: af,
                delta: cf.unwrap_or(0.0) - af.unwrap_or(0.0),
            }
        })
        .collect();
    Comparison {
        candidate: candidate.0.to_string(),
        active: active.0.to_string(),
        same_eval_set: c.eval_set_sha256 == a.eval_set_sha256,
        macro_f1_delta: c.macro_f1 - a.macro_f1,
        coverage_delta: c.coverage_at_95_precision - a.coverage_at_95_precision,
        calibration_delta: c.expected_calibration_error - a.expected_calibration_error,
        regressions: per_class
            .iter()
            .filter(|d| d.delta < -0.05)
            .map(|d| d.label.clone())
            .collect(),
        per_class,
    }
}

/// Promotion and rollback need a named, active supervisor or administrator.
pub fn authorize(user: Option<&User>, action: &'static str) -> LearnResult<i64> {
    let Some(u) = user else {
        return Err(LearnError::NoSupervisor { action });
    };
    if !u.active || !matches!(u.role, Role::Supervisor | Role::Admin) {
        return Err(LearnError::NotSupervisor {
            action,
            user_id: u.id,
        });
    }
    Ok(u.id)
}

fn parse_record(v: &ModelVersion) -> Option<ModelRecord> {
    serde_json::from_value(v.metrics.clone()).ok()
}

fn label_shares(examples: &[Example]) -> BTreeMap<String, f64> {
    let mut m: BTreeMap<String, f64> = BTreeMap::new();
    for e in examples {
        *m.entry(e.label.clone()).or_default() += 1.0;
    }
    let n = examples.len().max(1) as f64;
    m.values_mut().for_each(|v| *v /= n);
    m
}

/// What to train a candidate from.
pub struct TrainRequest<'a> {
    /// The configured embedder, when the service runs one: the candidate then gets
    /// an embedding view (`facteur_classify::train_with`) and is evaluated with it.
    pub embeddings: Option<&'a Embeddings<'a>>,
    pub base: &'a [Example],
    /// Training examples from feedback (`feedback::training_examples`).
    pub feedback: &'a [Example],
    /// The FIXED evaluation set: never trained on.
    pub eval_set: &'a [Example],
    /// Held-apart labelled mail the abstain threshold is refitted on
    /// (`facteur_classify::Model::calibrate`), as the classifier reads it live;
    /// empty to keep the out-of-fold threshold. Never trained on either.
    pub calibration: &'a [Example],
    pub trained_by: Option<i64>,
    pub note: Option<String>,
}

/// Embeds a batch of texts as queries, one vector per text, in order.
pub type EmbedFn = dyn Fn(&[&str]) -> Result<Vec<Vec<f32>>, String> + Sync;

/// How the registry embeds texts for a model with an embedding view: the recipe the
/// model will record, and the function that embeds a batch of texts as queries (the
/// service's embedder; this crate does not run one).
pub struct Embeddings<'a> {
    pub recipe: facteur_classify::EmbeddingRecipe,
    pub embed: &'a EmbedFn,
}

impl Embeddings<'_> {
    /// The vectors `model` needs for `examples`: `None` for a lexical model, or when
    /// no embedder is configured (such a model then abstains on everything).
    fn for_model(
        embeddings: Option<&Self>,
        model: &Model,
        version: &str,
        examples: &[Example],
    ) -> LearnResult<Option<Vec<Vec<f32>>>> {
        match embeddings.filter(|_| model.embedding().is_some()) {
            Some(e) => e.vectors(version, examples).map(Some),
            None => Ok(None),
        }
    }

    fn vectors(&self, version: &str, examples: &[Example]) -> LearnResult<Vec<Vec<f32>>> {
        let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
        (self.embed)(&texts).map_err(|detail| LearnError::Embedding {
            version: version.to_string(),
            count: texts.len(),
            detail,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainOutcome {
    pub candidate: ModelVersionView,
    /// Against the active model, when there is one.
    pub comparison: Option<Comparison>,
}

/// Train a candidate, save its files, evaluate it on the fixed set, register it
/// and compare it with the active model. Training is CPU-bound and synchronous;
/// a server should call this from a blocking task.
pub async fn train_candidate(
    store: &Store,
    data_dir: &Path,
    cfg: &RegistryConfig,
    req: TrainRequest<'_>,
) -> LearnResult<TrainOutcome> {
    if req.eval_set.is_empty() {
        return Err(LearnError::EmptyEvalSet);
    }
    // Texts of the evaluation and calibration sets never enter training, whatever
    // feedback says: otherwise the "fixed set" figures would be inflated, and the
    // threshold fitted on mail the model has learnt.
    let eval_texts: std::collections::HashSet<&str> = req
        .eval_set
        .iter()
        .chain(req.calibration)
        .map(|e| e.text.trim())
        .collect();
    let feedback: Vec<Example> = req
        .feedback
        .iter()
        .filter(|e| !eval_texts.contains(e.text.trim()))
        .cloned()
        .collect();
    let base: Vec<Example> = req
        .base
        .iter()
        .filter(|e| !eval_texts.contains(e.text.trim()))
        .cloned()
        .collect();
    let data = crate::feedback::merge_training(&base, &feedback);
    if data.is_empty() {
        return Err(LearnError::EmptyTrainingSet);
    }
    let training_sha256 = sha256_examples(&data);
    let now = store.now_ms();
    let stamp = {
        let t = time::OffsetDateTime::from_unix_timestamp(now.div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        format!(
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    };
    let mut version = format!("m{stamp}-{}", training_sha256.get(..8).unwrap_or("0"));
    let mut k = 2;
    while model_dir(data_dir, &version).exists() {
        version = format!("m{stamp}-{}-{k}", training_sha256.get(..8).unwrap_or("0"));
        k += 1;
    }
    let vectors = req
        .embeddings
        .map(|e| e.vectors(&version, &data))
        .transpose()?;
    let dense = req
        .embeddings
        .zip(vectors.as_deref())
        .map(|(e, v)| facteur_classify::DenseInput {
            recipe: e.recipe.clone(),
            vectors: v,
        });
    let mut model = facteur_classify::train_with(&data, dense.as_ref(), &cfg.train, &mut |_| {})
        .map_err(|source| LearnError::Classify {
            version: version.clone(),
            source,
        })?;
    if !req.calibration.is_empty() {
        let vectors = Embeddings::for_model(req.embeddings, &model, &version, req.calibration)?;
        model
            .calibrate(req.calibration, vectors.as_deref())
            .map_err(|source| LearnError::Classify {
                version: version.clone(),
                source,
            })?;
    }
    let dir = model_dir(data_dir, &version);
    std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
    model.save(&dir).map_err(|source| LearnError::Classify {
        version: version.clone(),
        source,
    })?;
    let vocab = Vocabulary::from_texts(data.iter().map(|e| e.text.as_str()));
    let vpath = dir.join("vocab.txt");
    std::fs::write(&vpath, vocab.to_lines()).map_err(io_err("write", &vpath))?;
    let eval_vectors = Embeddings::for_model(req.embeddings, &model, &version, req.eval_set)?;
    let eval = eval_summary(&model, req.eval_set, eval_vectors.as_deref());
    let record = ModelRecord {
        training_sha256,
        training_examples: data.len(),
        feedback_examples: feedback.len(),
        taxonomy: model.labels().to_vec(),
        training_distribution: label_shares(&data),
        vocabulary_size: vocab.len(),
        eval,
        trained_at: now,
        train_seconds: model.meta().train_seconds,
        note: req.note,
        embedding_model: model.embedding().map(|r| r.model.clone()),
        calibration: model.meta().calibration.clone(),
    };
    let json = serde_json::to_value(&record).unwrap_or_default();
    let rpath = dir.join("record.json");
    std::fs::write(
        &rpath,
        serde_json::to_vec_pretty(&record).unwrap_or_default(),
    )
    .map_err(io_err("write", &rpath))?;
    store
        .create_model_version(&version, &json, req.trained_by)
        .await?;
    tracing::info!(
        version = %version,
        examples = record.training_examples,
        feedback = record.feedback_examples,
        macro_f1 = record.eval.macro_f1,
        "candidate model registered"
    );
    let comparison = match store.active_model().await? {
        Some(a) => parse_record(&a).map(|ar| compare((&version, &record.eval), (&a.id, &ar.eval))),
        None => None,
    };
    let candidate = get_version(store, data_dir, cfg, &version).await?;
    Ok(TrainOutcome {
        candidate,
        comparison,
    })
}

/// Re-evaluate a registered version on a (possibly new) fixed set.
pub async fn evaluate_version(
    data_dir: &Path,
    version: &str,
    eval_set: &[Example],
    embeddings: Option<&Embeddings<'_>>,
) -> LearnResult<EvalSummary> {
    if eval_set.is_empty() {
        return Err(LearnError::EmptyEvalSet);
    }
    let model = load_model(data_dir, version)?;
    let vectors = Embeddings::for_model(embeddings, &model, version, eval_set)?;
    Ok(eval_summary(&model, eval_set, vectors.as_deref()))
}

pub fn load_model(data_dir: &Path, version: &str) -> LearnResult<Model> {
    Model::load(&model_dir(data_dir, version)).map_err(|source| LearnError::Classify {
        version: version.to_string(),
        source,
    })
}

pub fn load_vocabulary(data_dir: &Path, version: &str) -> LearnResult<Vocabulary> {
    let p = model_dir(data_dir, version).join("vocab.txt");
    let raw = std::fs::read_to_string(&p).map_err(io_err("read", &p))?;
    Ok(Vocabulary::from_words(raw.lines().map(str::to_string)))
}

/// The active version and its loaded model: what triage should use.
pub async fn active(store: &Store, data_dir: &Path) -> LearnResult<Option<(String, Model)>> {
    match store.active_model().await? {
        Some(v) => Ok(Some((v.id.clone(), load_model(data_dir, &v.id)?))),
        None => Ok(None),
    }
}

fn view(
    v: ModelVersion,
    data_dir: &Path,
    cfg: &RegistryConfig,
    reviews: &[ReviewRecord],
    now: Millis,
) -> ModelVersionView {
    let last_review = reviews
        .iter()
        .filter(|r| r.version == v.id)
        .max_by_key(|r| r.reviewed_at)
        .cloned();
    let review = match (v.status, v.promoted_at) {
        (ModelStatus::Active, Some(p)) => Some(review_status(
            p,
            last_review.as_ref().map(|r| r.reviewed_at),
            now,
            cfg.review_period_days,
        )),
        _ => None,
    };
    ModelVersionView {
        record: parse_record(&v),
        dir: model_dir(data_dir, &v.id),
        version: v.id,
        status: v.status,
        created_at: v.created_at,
        trained_by: v.trained_by,
        promoted_by: v.promoted_by,
        promoted_at: v.promoted_at,
        review,
        last_review,
    }
}

/// `facteur model list`: every version, oldest first.
pub async fn list(
    store: &Store,
    data_dir: &Path,
    cfg: &RegistryConfig,
) -> LearnResult<Vec<ModelVersionView>> {
    let reviews = list_reviews(store).await?;
    let now = store.now_ms();
    Ok(store
        .list_model_versions()
        .await?
        .into_iter()
        .map(|v| view(v, data_dir, cfg, &reviews, now))
        .collect())
}

pub async fn get_version(
    store: &Store,
    data_dir: &Path,
    cfg: &RegistryConfig,
    version: &str,
) -> LearnResult<ModelVersionView> {
    list(store, data_dir, cfg)
        .await?
        .into_iter()
        .find(|v| v.version == version)
        .ok_or_else(|| LearnError::UnknownVersion(version.to_string()))
}

/// What a promotion or rollback did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromotionReceipt {
    pub version: String,
    pub previous: Option<String>,
    pub promoted_by: i64,
    pub promoted_at: Millis,
    pub review: Option<ReviewStatus>,
    pub comparison: Option<Comparison>,
    pub rollback: bool,
}

async fn supervisor(store: &Store, by: Option<i64>, action: &'static str) -> LearnResult<i64> {
    let user = match by {
        Some(id) => store.get_user(id).await?,
        None => None,
    };
    if by.is_some() && user.is_none() {
        return Err(LearnError::NoSupervisor { action });
    }
    let id = authorize(user.as_ref(), action);
    if let Err(e) = &id {
        tracing::warn!(?by, action, "model change refused: {e}");
    }
    id
}

async fn activate(
    store: &Store,
    data_dir: &Path,
    cfg: &RegistryConfig,
    version: &str,
    by: i64,
    rollback: bool,
) -> LearnResult<PromotionReceipt> {
    // Refuse to activate a version whose files do not load: triage would fail.
    load_model(data_dir, version)?;
    let previous = store.active_model().await?;
    let target = store
        .list_model_versions()
        .await?
        .into_iter()
        .find(|v| v.id == version)
        .ok_or_else(|| LearnError::UnknownVersion(version.to_string()))?;
    let comparison = match (&previous, parse_record(&target)) {
        (Some(p), Some(tr)) => {
            parse_record(p).map(|pr| compare((&target.id, &tr.eval), (&p.id, &pr.eval)))
        }
        _ => None,
    };
    store.promote_model(version, by).await?;
    if rollback {
        store
            .audit(
                &format!("user:{by}"),
                "model.rollback",
                &format!("model:{version}"),
                &serde_json::json!({"from": previous.as_ref().map(|p| p.id.clone())}),
            )
            .await?;
    }
    let v = get_version(store, data_dir, cfg, version).await?;
    tracing::info!(version, by, rollback, "model activated");
    Ok(PromotionReceipt {
        version: version.to_string(),
        previous: previous.map(|p| p.id),
        promoted_by: by,
        promoted_at: v.promoted_at.unwrap_or_else(|| store.now_ms()),
        review: v.review,
        comparison,
        rollback,
    })
}

/// `facteur model promote VERSION --by USER`: a candidate becomes active, the
/// active one is retired (its files stay). Refused without a named supervisor.
pub async fn promote(
    store: &Store,
    data_dir: &Path,
    cfg: &RegistryConfig,
    version: &str,
    by: Option<i64>,
) -> LearnResult<PromotionReceipt> {
    let by = supervisor(store, by, "promotion").await?;
    let target = store
        .list_model_versions()
        .await?
        .into_iter()
        .find(|v| v.id == version)
        .ok_or_else(|| LearnError::UnknownVersion(version.to_string()))?;
    if target.status == ModelStatus::Active {
        return Err(LearnError::WrongStatus {
            version: version.into(),
            status: target.status.as_str().into(),
            detail: "it is already active",
        });
    }
    activate(store, data_dir, cfg, version, by, false).await
}

/// `facteur model rollback --by USER`: the most recently active retired version
/// becomes active again. Its files were kept, so predictions are identical to
/// before. Rolling back twice returns to where one started (like `cd -`).
pub async fn rollback(
    store: &Store,
    data_dir: &Path,
    cfg: &RegistryConfig,
    by: Option<i64>,
) -> LearnResult<PromotionReceipt> {
    let by = supervisor(store, by, "rollback").await?;
    let versions = store.list_model_versions().await?;
    let previous = versions
        .iter()
        .filter(|v| v.status == ModelStatus::Retired && v.promoted_at.is_some())
        .max_by_key(|v| (v.promoted_at, v.created_at))
        .ok_or(LearnError::NothingToRollBack)?;
    let id = previous.id.clone();
    activate(store, data_dir, cfg, &id, by, true).await
}

/// Record a review of the active (or any) version. Stored as an audit event
/// (`model.review`) until the store has a reviews table: it is append-only and
/// tamper-evident, which a review record should be anyway.
pub async fn record_review(
    store: &Store,
    version: &str,
    by: Option<i64>,
    decision: ReviewDecision,
    metrics_seen: serde_json::Value,
    note: Option<String>,
) -> LearnResult<ReviewRecord> {
    let by = supervisor(store, by, "review").await?;
    if !store
        .list_model_versions()
        .await?
        .iter()
        .any(|v| v.id == version)
    {
        return Err(LearnError::UnknownVersion(version.to_string()));
    }
    let rec = ReviewRecord {
        version: version.to_string(),
        reviewed_by: by,
        reviewed_at: store.now_ms(),
        metrics_seen,
        decision,
        note,
    };
    store
        .audit(
            &format!("user:{by}"),
            "model.review",
            &format!("model:{version}"),
            &serde_json::to_value(&rec).unwrap_or_default(),
        )
        .await?;
    Ok(rec)
}

/// Every recorded review, oldest first (scans the audit log).
pub async fn list_reviews(store: &Store) -> LearnResult<Vec<ReviewRecord>> {
    let mut out = Vec::new();
    let mut after = 0i64;
    loop {
        let rows = store.list_audit(after, 10_000).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        out.extend(
            rows.iter()
                .filter(|r| r.action == "model.review")
                .filter_map(|r| serde_json::from_value::<ReviewRecord>(r.details.clone()).ok()),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(h: &str, pairs: &[(&str, f64)]) -> EvalSummary {
        let per: BTreeMap<String, f64> = pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        EvalSummary {
            eval_set_sha256: h.into(),
            examples: 10,
            accuracy: 0.5,
            macro_f1: per.values().sum::<f64>() / per.len().max(1) as f64,
            per_class_f1: per,
            coverage_at_95_precision: 0.4,
            expected_calibration_error: 0.05,
        }
    }

    #[test]
    fn comparison_is_per_class_and_flags_regressions() {
        let c = summary("h", &[("a", 0.9), ("b", 0.5), ("new", 0.7)]);
        let a = summary("h", &[("a", 0.8), ("b", 0.6)]);
        let cmp = compare(("c", &c), ("a", &a));
        assert!(cmp.same_eval_set);
        assert_eq!(cmp.regressions, vec!["b".to_string()]);
        let new = cmp
            .per_class
            .iter()
            .find(|d| d.label == "new")
            .expect("new");
        assert_eq!(new.active_f1, None);
        assert!((cmp.macro_f1_delta - (0.7 - 0.7)).abs() < 1e-12);
        assert!(!compare(("c", &c), ("a", &summary("other", &[]))).same_eval_set);
    }

    fn user(role: Role, active: bool) -> User {
        User {
            id: 4,
            username: "s".into(),
            display_name: "S".into(),
            password_hash: String::new(),
            role,
            active,
            created_at: 0,
        }
    }

    #[test]
    fn only_active_supervisors_and_admins_may_promote() {
        assert!(matches!(
            authorize(None, "promotion"),
            Err(LearnError::NoSupervisor { .. })
        ));
        assert!(matches!(
            authorize(Some(&user(Role::Agent, true)), "promotion"),
            Err(LearnError::NotSupervisor { user_id: 4, .. })
        ));
        assert!(authorize(Some(&user(Role::Supervisor, false)), "promotion").is_err());
        assert_eq!(
            authorize(Some(&user(Role::Supervisor, true)), "promotion").ok(),
            Some(4)
        );
        assert_eq!(
            authorize(Some(&user(Role::Admin, true)), "promotion").ok(),
            Some(4)
        );
    }
}
