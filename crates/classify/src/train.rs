//! Training: the Crammer–Singer SVM on TF-IDF features, the out-of-fold run that
//! fits the softmax temperature and the abstain threshold, and cross-validation.

use crate::abstain;
use crate::calib;
use crate::config::{CvMetrics, ModelMeta, TrainConfig, TrainProgress};
use crate::dense::{self, DenseInput, DenseMember, DenseMeta};
use crate::eval::macro_f1_ids;
use crate::features;
use crate::model::Model;
use crate::scorer::{quantize, Core, FeatMap};
use crate::svm::{self, Csr, Rng};
use crate::{ClassifyError, Example};
use std::collections::HashMap;

impl Core {
    /// Fits vocabulary, IDF and SVM on the given texts (labels are class ids).
    pub(crate) fn fit(texts: &[&str], y: &[u32], n_classes: usize, cfg: &TrainConfig) -> Core {
        let spec = cfg.spec();
        let mut map = FeatMap::default();
        let mut hashes = Vec::new();
        let mut views = Vec::new();
        let mut df: Vec<u32> = Vec::new();
        let mut seen: Vec<u32> = Vec::new();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (doc, t) in texts.iter().enumerate() {
            seen.clear();
            let norm = features::normalize(t);
            features::extract(&norm, &spec, |h, view| {
                let next = hashes.len() as u32;
                let id = *map.entry(h).or_insert_with(|| {
                    hashes.push(h);
                    views.push(view);
                    df.push(0);
                    next
                });
                seen.push(id);
            });
            seen.sort_unstable();
            seen.dedup();
            for &id in &seen {
                df[id as usize] += 1;
            }
            if cfg.supervised > 0.0 {
                let c = y.get(doc).copied().unwrap_or(0);
                pairs.extend(seen.iter().map(|&id| (id, c)));
            }
        }
        let n = texts.len() as f32;
        let mut idf: Vec<f32> = df
            .iter()
            .map(|&d| (((1.0 + n) / (1.0 + d as f32)).ln() + 1.0).powf(cfg.idf_power))
            .collect();
        if cfg.supervised > 0.0 {
            let f = features::supervised_factors(&mut pairs, &df, y, n_classes, cfg.supervised);
            idf.iter_mut().zip(&f).for_each(|(i, f)| *i *= f);
        }
        let nf = hashes.len();
        let mut core = Core {
            spec,
            word_weight: cfg.word_weight,
            map,
            hashes,
            idf,
            views,
            offsets: vec![0; nf + 1],
            classes: Vec::new(),
            q: Vec::new(),
            scale: vec![0.0; nf],
            bias: vec![0.0; n_classes],
        };
        let mut x = Csr::new(nf);
        let (mut ids, mut row) = (Vec::new(), Vec::new());
        for t in texts {
            core.vectorize(t, &mut ids, &mut row);
            x.push_row(&row);
        }
        let ws = svm::train_cs(&x, y, n_classes, &cfg.svm_params(cfg.c));
        core.bias = ws.iter().map(|cw| cw.b).collect();
        quantize(&mut core, &ws, cfg.prune);
        core
    }
}

pub(crate) struct Labelled<'a> {
    pub texts: Vec<&'a str>,
    pub y: Vec<u32>,
    pub labels: Vec<String>,
}

pub(crate) fn label_examples(examples: &[Example]) -> Result<Labelled<'_>, ClassifyError> {
    if examples.is_empty() {
        return Err(ClassifyError::NoExamples);
    }
    let mut labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    labels.sort();
    labels.dedup();
    if labels.len() < 2 {
        return Err(ClassifyError::TooFewLabels(labels.len()));
    }
    if labels.len() > usize::from(u16::MAX) {
        return Err(ClassifyError::TooManyLabels(labels.len()));
    }
    let index: HashMap<&str, u32> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i as u32))
        .collect();
    let y = examples
        .iter()
        .map(|e| index.get(e.label.as_str()).copied().unwrap_or(0))
        .collect();
    Ok(Labelled {
        texts: examples.iter().map(|e| e.text.as_str()).collect(),
        y,
        labels,
    })
}

/// Stratified fold assignment: each class is shuffled and dealt round-robin, with a
/// running offset so small classes do not all land in the first fold.
pub(crate) fn stratified_folds(y: &[u32], n_classes: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &c) in y.iter().enumerate() {
        by_class[c as usize].push(i);
    }
    let mut rng = Rng::new(seed);
    let mut fold = vec![0; y.len()];
    let mut pos = 0usize;
    for members in by_class.iter_mut() {
        rng.shuffle(members);
        for &i in members.iter() {
            fold[i] = pos % k.max(1);
            pos += 1;
        }
    }
    fold
}

/// Whether a label name reads as words (see `TrainConfig::label_min_words`).
pub(crate) fn descriptive_label(label: &str, min_words: usize) -> bool {
    let norm = features::normalize(label);
    let words = norm
        .split(' ')
        .filter(|w| w.len() >= 2 && w.bytes().all(|b| b.is_ascii_alphabetic()))
        .count();
    words >= min_words
}

/// Fits a model on real examples plus the label-name examples the
/// config asks for: the same path for every CV fold and the final fit.
fn fit_with_extras(texts: &[&str], y: &[u32], labels: &[String], cfg: &TrainConfig) -> Core {
    let mut tt: Vec<&str> = texts.to_vec();
    let mut ty: Vec<u32> = y.to_vec();
    for _ in 0..cfg.label_examples {
        for (c, l) in labels.iter().enumerate() {
            if cfg.label_min_words == 0 || descriptive_label(l, cfg.label_min_words) {
                tt.push(l.as_str());
                ty.push(c as u32);
            }
        }
    }
    Core::fit(&tt, &ty, labels.len(), cfg)
}

/// Runs `jobs` independent jobs on up to `workers` scoped threads (each takes the next
/// job number from a shared counter) and hands each result, as it arrives, to `done`
/// on the calling thread with how many have finished so far.
fn run_jobs<T: Send>(
    jobs: usize,
    workers: usize,
    job: &(dyn Fn(usize) -> T + Sync),
    mut done: impl FnMut(usize, T),
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<T>();
    std::thread::scope(|sc| {
        for _ in 0..workers.clamp(1, jobs.max(1)) {
            let (tx, next) = (tx.clone(), &next);
            sc.spawn(move || loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= jobs || tx.send(job(n)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (finished, r) in rx.into_iter().enumerate() {
            done(finished + 1, r);
        }
    });
}

/// Out-of-fold margins (every example scored by a model that never saw it) and,
/// when `with_final`, the model fitted on everything. The k fold fits and the final
/// fit are independent jobs spread over the training threads (each job then trains
/// single-threaded): the Crammer–Singer solver cannot split its work by class, so
/// this is what keeps every core busy.
fn oof_and_final(
    d: &Labelled,
    cfg: &TrainConfig,
    k: usize,
    with_final: bool,
    progress: &mut dyn FnMut(TrainProgress),
) -> (Vec<Vec<f32>>, Option<Core>) {
    let folds = stratified_folds(&d.y, d.labels.len(), k, cfg.seed);
    let jobs = k + usize::from(with_final);
    let workers = cfg.thread_count().clamp(1, jobs);
    let mut inner = cfg.clone();
    if workers > 1 {
        inner.threads = 1;
    }
    let fit_job = |j: usize| -> Core {
        if j == k {
            return fit_with_extras(&d.texts, &d.y, &d.labels, &inner);
        }
        let (mut tt, mut ty) = (Vec::new(), Vec::new());
        for ((&t, &y), &fi) in d.texts.iter().zip(&d.y).zip(&folds) {
            if fi != j {
                tt.push(t);
                ty.push(y);
            }
        }
        fit_with_extras(&tt, &ty, &d.labels, &inner)
    };
    let mut out = vec![Vec::new(); d.texts.len()];
    let mut final_core = None;
    // Dispatch order: the final fit first (the longest job), then folds.
    let job = |n: usize| {
        let j = if with_final { (n + k) % jobs } else { n };
        (j, fit_job(j))
    };
    run_jobs(jobs, workers, &job, |done, (j, core)| {
        if j == k {
            final_core = Some(core);
        } else {
            for ((o, &t), &fi) in out.iter_mut().zip(&d.texts).zip(&folds) {
                if fi == j {
                    *o = core.scores(t);
                }
            }
        }
        progress(TrainProgress {
            done,
            total: jobs,
            stage: if j == k {
                "final fit"
            } else {
                "cross-validation"
            },
        });
    });
    (out, final_core)
}

pub(crate) fn argmax(s: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in s.iter().enumerate() {
        if *v > s[best] {
            best = i;
        }
    }
    best
}

struct CvOutcome {
    metrics: CvMetrics,
    points: Vec<(f32, bool)>,
    threshold: f32,
    /// Type predicted for each point, per-type thresholds and the evidence floor.
    types: Vec<u16>,
    type_thresholds: Vec<f32>,
    evidence_floor: Option<f32>,
}

fn cv_outcome(d: &Labelled, cfg: &TrainConfig, scores: &[Vec<f32>], k: usize) -> CvOutcome {
    let truth: Vec<usize> = d.y.iter().map(|&c| c as usize).collect();
    let pred: Vec<usize> = scores.iter().map(|s| argmax(s)).collect();
    let temperature = calib::fit_temperature(scores, &truth);
    let points: Vec<(f32, bool)> = scores
        .iter()
        .zip(&truth)
        .map(|(s, &t)| {
            let mut p = s.clone();
            calib::softmax_t(&mut p, temperature);
            let a = argmax(&p);
            (p[a], a == t)
        })
        .collect();
    let types: Vec<u16> = pred.iter().map(|&c| c as u16).collect();
    let evidence: Vec<f32> = scores
        .iter()
        .map(|s| s.iter().copied().fold(f32::NEG_INFINITY, f32::max))
        .collect();
    let threshold = calib::threshold_for_precision(&points, cfg.target_precision);
    let type_thresholds = if cfg.per_type_thresholds {
        abstain::type_thresholds(
            &points,
            &types,
            d.labels.len(),
            cfg.target_precision,
            cfg.type_prior,
            threshold,
        )
    } else {
        Vec::new()
    };
    let correct_pts: Vec<bool> = points.iter().map(|p| p.1).collect();
    let evidence_floor = abstain::evidence_floor(&evidence, &correct_pts, cfg.evidence_quantile);
    let n = truth.len().max(1) as f64;
    let correct = pred.iter().zip(&truth).filter(|(p, t)| p == t).count();
    let answered = points
        .iter()
        .zip(&types)
        .zip(&evidence)
        .filter(|((p, &c), &e)| {
            abstain::answers(
                threshold,
                &type_thresholds,
                evidence_floor,
                usize::from(c),
                p.0,
                e,
            )
        })
        .count();
    CvOutcome {
        metrics: CvMetrics {
            folds: k,
            accuracy: correct as f64 / n,
            macro_f1: macro_f1_ids(&truth, &pred, d.labels.len()),
            expected_calibration_error: calib::ece(&points),
            temperature,
            coverage_at_target: answered as f64 / n,
        },
        points,
        threshold,
        types,
        type_thresholds,
        evidence_floor,
    }
}

/// k-fold stratified cross-validation on training data: the only procedure used to
/// choose hyper-parameters (test splits are for reporting once).
pub fn cross_validate(
    examples: &[Example],
    cfg: &TrainConfig,
    k: usize,
) -> Result<CvMetrics, ClassifyError> {
    let d = label_examples(examples)?;
    let k = k.clamp(2, examples.len().max(2));
    let (scores, _) = oof_and_final(&d, cfg, k, false, &mut |_| {});
    Ok(cv_outcome(&d, cfg, &scores, k).metrics)
}

pub(crate) fn training_sha256(examples: &[Example]) -> String {
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

/// Trains the final model on all examples, after a k-fold out-of-fold run that fits
/// the softmax temperature and the abstain threshold on data the models never saw.
pub fn train(
    examples: &[Example],
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<Model, ClassifyError> {
    train_with(examples, None, cfg, progress)
}

/// Checks the vectors given for the dense member: one per example, all of the
/// recipe's width, finite.
fn check_vectors(n: usize, di: &DenseInput) -> Result<(), ClassifyError> {
    let bad = |message: String| Err(ClassifyError::Embeddings { message });
    if di.recipe.dim == 0 {
        return bad("the embedding recipe has width 0".into());
    }
    if di.vectors.len() != n {
        return bad(format!("{} vectors for {n} examples", di.vectors.len()));
    }
    if let Some(i) = di
        .vectors
        .iter()
        .position(|v| v.len() != di.recipe.dim || v.iter().any(|x| !x.is_finite()))
    {
        return bad(format!(
            "vector {i} has {} values (expected {}) or a non-finite one",
            di.vectors[i].len(),
            di.recipe.dim
        ));
    }
    Ok(())
}

/// Lexical margins plus `w` times the dense member's, example by example.
fn summed_margins(lexical: &[Vec<f32>], dense: &[Vec<f32>], w: f32) -> Vec<Vec<f32>> {
    lexical
        .iter()
        .zip(dense)
        .map(|(l, d)| l.iter().zip(d).map(|(a, b)| a + w * b).collect())
        .collect()
}

/// Chooses the dense member's cost and its weight in the sum together, by macro-F1
/// of the summed out-of-fold margins (training examples only, the lexical member's
/// folds), fits it on everything, and returns the summed out-of-fold margins that
/// calibration and the abstain rule are then fitted on.
fn fuse_dense(
    d: &Labelled,
    di: &DenseInput,
    lexical: Vec<Vec<f32>>,
    k: usize,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(TrainProgress),
) -> (Vec<Vec<f32>>, DenseMember, DenseMeta) {
    let n_classes = d.labels.len();
    let dim = di.recipe.dim;
    let truth: Vec<usize> = d.y.iter().map(|&c| c as usize).collect();
    let f1_of = |s: &[Vec<f32>]| {
        let pred: Vec<usize> = s.iter().map(|s| argmax(s)).collect();
        macro_f1_ids(&truth, &pred, n_classes)
    };
    let folds = stratified_folds(&d.y, n_classes, k, cfg.seed);
    let vectors: Vec<&[f32]> = di.vectors.iter().map(Vec::as_slice).collect();
    let grid: Vec<f32> = if cfg.dense_c.is_empty() {
        vec![1.0]
    } else {
        cfg.dense_c.clone()
    };
    let weights: Vec<f32> = if cfg.dense_weights.is_empty() {
        vec![1.0]
    } else {
        cfg.dense_weights.clone()
    };
    // One job per cost, spread over the training threads.
    let mut per_c: Vec<Option<Vec<Vec<f32>>>> = vec![None; grid.len()];
    let job = |i: usize| {
        let s = dense::oof_scores(&vectors, &d.y, (&folds, k), n_classes, dim, grid[i], cfg);
        (i, s)
    };
    run_jobs(grid.len(), cfg.thread_count(), &job, |done, (i, s)| {
        per_c[i] = Some(s);
        progress(TrainProgress {
            done,
            total: grid.len(),
            stage: "embedding view",
        });
    });
    let lexical_f1 = f1_of(&lexical);
    // (macro-F1, cost index, weight): ties keep the first, i.e. the smaller cost and
    // the smaller weight (the grids are ascending).
    let mut best: Option<(f64, usize, f32, f64)> = None;
    for (ci, s) in per_c.iter().enumerate() {
        let Some(s) = s else { continue };
        let dense_f1 = f1_of(s);
        for &w in &weights {
            let f1 = f1_of(&summed_margins(&lexical, s, w));
            if best.is_none_or(|b| f1 > b.0) {
                best = Some((f1, ci, w, dense_f1));
            }
        }
    }
    let (_, ci, weight, dense_f1) = best.unwrap_or((0.0, 0, 1.0, 0.0));
    let c = grid[ci];
    let dense_oof = per_c[ci].take().unwrap_or_default();
    let summed = summed_margins(&lexical, &dense_oof, weight);
    let mut member = dense::fit(&vectors, &d.y, n_classes, dim, c, cfg);
    member.weight = weight;
    member.keep_examples(&vectors, &d.y, n_classes);
    let correct: Vec<bool> = summed
        .iter()
        .zip(&truth)
        .map(|(s, &t)| argmax(s) == t)
        .collect();
    member.nn_floor = dense::nn_floor(&vectors, &d.y, &correct, cfg.nn_quantile);
    tracing::info!(
        c,
        weight,
        lexical_f1,
        dense_f1,
        "embedding view chosen out of fold"
    );
    let meta = DenseMeta {
        recipe: di.recipe.clone(),
        c,
        weight,
        cv_macro_f1_lexical: lexical_f1,
        cv_macro_f1_dense: dense_f1,
        nn_floor: member.nn_floor,
    };
    (summed, member, meta)
}

/// [`train`] with an embedding view: `dense` gives one sentence embedding per example
/// (all from the same recipe), and the model then needs the same embedding of every
/// text it scores ([`Model::predict_with`]).
pub fn train_with(
    examples: &[Example],
    dense: Option<&DenseInput>,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<Model, ClassifyError> {
    let start = std::time::Instant::now();
    let d = label_examples(examples)?;
    if let Some(di) = dense {
        check_vectors(examples.len(), di)?;
    }
    let k = cfg.cv_folds.clamp(2, 20);
    let (scores, core) = oof_and_final(&d, cfg, k, true, progress);
    // The final job always runs; the fallback only guards against a future change.
    let core = core.unwrap_or_else(|| fit_with_extras(&d.texts, &d.y, &d.labels, cfg));
    let (scores, dense_member, dense_meta) = match dense {
        Some(di) => {
            let (s, m, meta) = fuse_dense(&d, di, scores, k, cfg, progress);
            (s, Some(m), Some(meta))
        }
        None => (scores, None, None),
    };
    let cv = cv_outcome(&d, cfg, &scores, k);
    let train_seconds = start.elapsed().as_secs_f64();
    tracing::info!(
        examples = examples.len(),
        labels = d.labels.len(),
        features = core.hashes.len(),
        cv_macro_f1 = cv.metrics.macro_f1,
        train_seconds,
        "classifier trained"
    );
    let meta = ModelMeta {
        format_version: crate::format::FORMAT_VERSION,
        created_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        n_examples: examples.len(),
        training_sha256: training_sha256(examples),
        labels: d.labels.clone(),
        n_features: core.hashes.len(),
        abstain_threshold: cv.threshold,
        target_precision: cfg.target_precision,
        temperature: cv.metrics.temperature,
        cv: cv.metrics,
        train_seconds,
        config: cfg.clone(),
        type_thresholds: cv.type_thresholds,
        evidence_floor: cv.evidence_floor,
        oof_types: if cfg.per_type_thresholds {
            cv.types
        } else {
            Vec::new()
        },
        dense: dense_meta,
        calibration: None,
    };
    Ok(Model {
        core,
        dense: dense_member,
        meta,
        oof: cv.points,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn toy() -> Vec<Example> {
        let topics = [
            (
                "impots",
                [
                    "declaration de revenus",
                    "impot sur le revenu",
                    "avis d'imposition",
                    "taux de prelevement a la source",
                ],
            ),
            (
                "logement",
                [
                    "aide au logement apl",
                    "bail de location",
                    "depot de garantie du loyer",
                    "taxe d'habitation logement",
                ],
            ),
            (
                "travail",
                [
                    "contrat de travail cdi",
                    "rupture conventionnelle",
                    "licenciement pour faute",
                    "conges payes salarie",
                ],
            ),
        ];
        let mut v = Vec::new();
        for (label, texts) in topics {
            for (i, t) in texts.iter().enumerate() {
                for suffix in ["", " question", " svp", " urgent"] {
                    v.push(Example {
                        text: format!("{t}{suffix} {i}"),
                        label: label.into(),
                    });
                }
            }
        }
        v
    }

    #[test]
    fn label_names_become_training_examples() {
        // No example mentions "chomage" or "retraite": only the label names do.
        let mut ex = Vec::new();
        for i in 0..6 {
            ex.push(Example {
                text: format!("allocation perte emploi inscription dossier {i}"),
                label: "chomage".into(),
            });
            ex.push(Example {
                text: format!("pension depart age liquidation dossier {i}"),
                label: "retraite".into(),
            });
        }
        let on = TrainConfig {
            label_examples: 1,
            ..TrainConfig::default()
        };
        let off = TrainConfig {
            label_examples: 0,
            ..TrainConfig::default()
        };
        let m_on = train(&ex, &on, &mut |_| {}).expect("train");
        let m_off = train(&ex, &off, &mut |_| {}).expect("train");
        let p = |m: &Model, t: &str, l: &str| {
            m.predict(t)
                .top
                .iter()
                .find(|s| s.label == l)
                .map(|s| s.probability)
                .unwrap_or(0.0)
        };
        assert_eq!(m_on.predict("question chomage").top[0].label, "chomage");
        assert_eq!(m_on.predict("question retraite").top[0].label, "retraite");
        assert!(p(&m_on, "question chomage", "chomage") > p(&m_off, "question chomage", "chomage"));
        // The label examples are never scored out of fold: the stored out-of-fold
        // points are exactly the real examples.
        assert_eq!(m_on.oof.len(), ex.len());
        assert_eq!(m_on.meta().n_examples, ex.len());
    }

    #[test]
    fn trains_on_awkward_but_valid_data() {
        // A class with a single example, texts with no word at all, one huge text,
        // labels that are only punctuation or non-Latin: hostile-looking taxonomies
        // still train, and prediction stays a probability distribution.
        let mut ex = toy();
        ex.push(Example {
            text: "un seul exemple pour cette classe".into(),
            label: "singleton".into(),
        });
        ex.push(Example {
            text: "??? !!! ...".into(),
            label: "???".into(),
        });
        ex.push(Example {
            text: "Ποιο είναι το ποσοστό φόρου".into(),
            label: "Φόρος".into(),
        });
        ex.push(Example {
            text: "impôt ".repeat(20_000),
            label: "???".into(),
        });
        let m = train(&ex, &TrainConfig::default(), &mut |_| {}).expect("train");
        assert_eq!(m.meta().labels.len(), toy_labels() + 3);
        for text in ["", "???", "un seul exemple", "φόρου", &"x".repeat(100_000)] {
            let p = m.predict(text);
            let total: f32 = p.top.iter().map(|s| s.probability).sum();
            assert!(!p.top.is_empty(), "{text:.20}");
            assert!(
                p.top.iter().all(|s| (0.0..=1.0).contains(&s.probability)),
                "{text:.20}"
            );
            assert!(total <= 1.0001, "{text:.20}: {total}");
            assert!(p.confidence.is_finite());
        }
    }

    fn toy_labels() -> usize {
        let mut l: Vec<_> = toy().into_iter().map(|e| e.label).collect();
        l.sort();
        l.dedup();
        l.len()
    }

    #[test]
    fn rejects_degenerate_training_sets() {
        assert!(matches!(
            train(&[], &TrainConfig::default(), &mut |_| {}),
            Err(ClassifyError::NoExamples)
        ));
        let one = vec![
            Example {
                text: "a".into(),
                label: "x".into()
            };
            3
        ];
        assert!(matches!(
            train(&one, &TrainConfig::default(), &mut |_| {}),
            Err(ClassifyError::TooFewLabels(1))
        ));
    }

    #[test]
    fn folds_are_stratified() {
        let y: Vec<u32> = (0..100).map(|i| (i % 4) as u32).collect();
        let f = stratified_folds(&y, 4, 5, 1);
        for fold in 0..5 {
            for c in 0..4u32 {
                let n = (0..100).filter(|&i| f[i] == fold && y[i] == c).count();
                assert_eq!(n, 5);
            }
        }
    }

    #[test]
    fn opaque_label_codes_are_not_used_as_examples() {
        assert!(descriptive_label("Achat ou vente d'un logement", 1));
        assert!(descriptive_label("Élections", 1));
        assert!(descriptive_label("13eme-mois", 1));
        for code in ["C017", "42", "x_1", "", "--"] {
            assert!(!descriptive_label(code, 1), "{code}");
        }
        assert!(!descriptive_label("Élections", 2));
        // With code labels the gate gives exactly the no-label-example model.
        let ex: Vec<Example> = toy()
            .into_iter()
            .map(|e| Example {
                label: format!("C{:03}", e.label.len()),
                ..e
            })
            .collect();
        let gated = TrainConfig {
            label_examples: 1,
            label_min_words: 1,
            ..TrainConfig::default()
        };
        let none = TrainConfig {
            label_examples: 0,
            ..TrainConfig::default()
        };
        let a = train(&ex, &gated, &mut |_| {}).expect("train");
        let b = train(&ex, &none, &mut |_| {}).expect("train");
        assert_eq!(a.meta().n_features, b.meta().n_features);
        assert_eq!(a.oof, b.oof);
        for t in ["bail de location", "avis d'imposition", "c007"] {
            assert_eq!(a.predict(t), b.predict(t));
        }
    }

    #[test]
    fn parallel_folds_give_the_same_model_as_one_thread() {
        let one = TrainConfig {
            threads: 1,
            ..TrainConfig::default()
        };
        let two = TrainConfig {
            threads: 2,
            ..TrainConfig::default()
        };
        let mut progress = Vec::new();
        let a = train(&toy(), &one, &mut |_| {}).expect("train");
        let b = train(&toy(), &two, &mut |p| progress.push((p.done, p.total))).expect("train");
        assert_eq!(a.oof, b.oof);
        assert_eq!(a.meta().cv, b.meta().cv);
        assert_eq!(
            a.predict("taux de prelevement"),
            b.predict("taux de prelevement")
        );
        // One report per job (5 folds + final fit), counting up to the total.
        assert_eq!(progress.last(), Some(&(6, 6)));
        assert!(progress.windows(2).all(|w| w[1].0 == w[0].0 + 1));
    }

    #[test]
    fn per_type_thresholds_and_the_evidence_guard_are_fitted_and_kept() {
        let mut m = train(&toy(), &TrainConfig::default(), &mut |_| {}).expect("train");
        assert_eq!(m.meta().type_thresholds.len(), 3);
        assert_eq!(m.meta().oof_types.len(), m.oof.len());
        assert!(m.meta().evidence_floor.is_some());
        assert!(!m.predict("declaration de revenus impot").abstained);
        // No known feature: no evidence for any type, whatever the softmax says.
        assert!(m.predict("xylophone zebre quokka").abstained);
        m.set_target_precision(0.5);
        let low = m.meta().type_thresholds.clone();
        m.set_target_precision(1.0);
        assert!(m
            .meta()
            .type_thresholds
            .iter()
            .zip(&low)
            .all(|(h, l)| h >= l));
        let off = TrainConfig {
            per_type_thresholds: false,
            evidence_quantile: 0.0,
            ..TrainConfig::default()
        };
        let g = train(&toy(), &off, &mut |_| {}).expect("train");
        assert!(g.meta().type_thresholds.is_empty() && g.meta().evidence_floor.is_none());
    }

    /// A vector per example pointing along its label's axis, with a little noise:
    /// what a sentence embedding of a well-separated topic looks like.
    pub(crate) fn axis_vectors(ex: &[Example], dim: usize) -> Vec<Vec<f32>> {
        let mut labels: Vec<&str> = ex.iter().map(|e| e.label.as_str()).collect();
        labels.sort();
        labels.dedup();
        ex.iter()
            .enumerate()
            .map(|(i, e)| {
                let axis = labels.iter().position(|l| *l == e.label).unwrap_or(0);
                let mut v: Vec<f32> = (0..dim)
                    .map(|j| ((i * 31 + j * 7) as f32).sin() * 0.15)
                    .collect();
                v[axis % dim] += 1.0;
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= n);
                v
            })
            .collect()
    }

    pub(crate) fn recipe(dim: usize) -> crate::EmbeddingRecipe {
        crate::EmbeddingRecipe {
            model: "test-axes".into(),
            checksum: "0".repeat(64),
            dim,
            max_tokens: Some(64),
        }
    }

    #[test]
    fn the_embedding_view_tells_apart_what_words_cannot() {
        // The same words in three types: only the vector says which.
        let ex: Vec<Example> = (0..36)
            .map(|i| Example {
                text: format!("bonjour j'ai une question {}", i % 4),
                label: ["impots", "logement", "travail"][i % 3].into(),
            })
            .collect();
        let v = axis_vectors(&ex, 8);
        let dense = DenseInput {
            recipe: recipe(8),
            vectors: &v,
        };
        let m = train_with(&ex, Some(&dense), &TrainConfig::default(), &mut |_| {}).expect("train");
        let lexical = train(&ex, &TrainConfig::default(), &mut |_| {}).expect("train");
        let meta = m.meta().dense.clone().expect("dense meta");
        assert_eq!(m.embedding(), Some(&recipe(8)));
        assert!(TrainConfig::default().dense_weights.contains(&meta.weight));
        assert!(TrainConfig::default().dense_c.contains(&meta.c));
        assert!(m.meta().cv.macro_f1 > 0.95, "{:?}", m.meta().cv);
        assert!(lexical.meta().cv.macro_f1 < 0.6, "{:?}", lexical.meta().cv);
        assert!(meta.cv_macro_f1_lexical < 0.6 && meta.cv_macro_f1_dense > 0.95);
        for (e, v) in ex.iter().zip(&v).take(6) {
            let p = m.predict_with(&e.text, Some(v));
            assert_eq!(p.top[0].label, e.label);
        }
        // A text whose vector is near no training example of its type (an axis no
        // type uses) is out of scope: the nearest-example check abstains, whatever
        // the words say.
        assert!(meta.nn_floor.is_some_and(|f| f > 0.5), "{meta:?}");
        let mut far = vec![0.0f32; 8];
        far[7] = 1.0;
        let p = m.predict_with(&ex[0].text, Some(&far));
        assert!(p.abstained, "{p:?}");
        // Without its embedding (or with one of another width) it does not guess.
        let p = m.predict(&ex[0].text);
        assert!(p.abstained && p.label.is_none());
        assert!(m.predict_with(&ex[0].text, Some(&[1.0; 3])).abstained);
        // A lexical model ignores a vector.
        assert_eq!(
            lexical.predict_with(&ex[0].text, Some(&v[0])),
            lexical.predict(&ex[0].text)
        );
    }

    #[test]
    fn vectors_that_do_not_fit_the_examples_are_refused_by_name() {
        let ex = toy();
        let good = axis_vectors(&ex, 4);
        let cases: Vec<(Vec<Vec<f32>>, usize, &str)> = vec![
            (good[1..].to_vec(), 4, "vectors for"),
            (good.clone(), 5, "vector 0 has 4 values"),
            (
                {
                    let mut v = good.clone();
                    v[3][1] = f32::NAN;
                    v
                },
                4,
                "vector 3",
            ),
            (good.clone(), 0, "width 0"),
        ];
        for (vectors, dim, says) in cases {
            let d = DenseInput {
                recipe: recipe(dim),
                vectors: &vectors,
            };
            match train_with(&ex, Some(&d), &TrainConfig::default(), &mut |_| {}) {
                Err(e @ ClassifyError::Embeddings { .. }) => {
                    assert!(e.to_string().contains(says), "{e}")
                }
                other => panic!("{says}: {:?}", other.map(|m| m.meta().clone())),
            }
        }
    }
}
