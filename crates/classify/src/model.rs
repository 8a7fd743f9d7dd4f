//! Training, prediction and cross-validation of the classifier.

use crate::calib;
use crate::eval::macro_f1_ids;
use crate::features::{self, FeatureSpec, N_VIEWS, VIEW_CHAR, VIEW_WORD};
use crate::svm::{self, Csr, Rng, SvmParams};
use crate::{ClassifyError, Example};
use facteur_core::{Prediction, ScoredLabel};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hyper-parameters. The defaults were chosen by 5-fold cross-validation on the
/// training files only (see docs/CLASSIFIER.md) and are used unchanged for every
/// taxonomy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TrainConfig {
    /// SVM regularisation (larger = fit the training set harder). It is the C of
    /// whichever solver runs: Crammer–Singer (hinge loss) by default, one-vs-rest
    /// (squared hinge, best near 4) when `crammer_singer` is off.
    pub c: f32,
    /// Give each class the same total weight (helps macro-F1 on skewed taxonomies).
    pub balanced: bool,
    /// Character n-gram lengths, on words padded with spaces.
    pub char_min: usize,
    pub char_max: usize,
    pub word_bigrams: bool,
    /// Light French stemming of the word view (see `features::stem`).
    pub stem: bool,
    /// Char n-grams across word boundaries too (see `FeatureSpec::char_cross`).
    pub char_cross: bool,
    /// Exponent applied to the smooth IDF (1 = usual TF-IDF, 0 = plain TF): on very
    /// small training sets document frequencies are noisy.
    pub idf_power: f32,
    /// Copies of each label's own name added as a training example (0 = none). Label
    /// names of a taxonomy are usually descriptive ("Achat ou vente d'un logement")
    /// and are known at training time: with ~10 examples per class they are a
    /// useful extra example. Never scored in the out-of-fold pass.
    pub label_examples: usize,
    /// NB-SVM (Wang & Manning 2012): each class's SVM sees features scaled by
    /// `(1 - nb) + nb * r / mean|r|`, r the class's smoothed log document-count ratio;
    /// the scaling is folded back into the weights, so prediction is unchanged.
    /// 0 = plain SVM.
    pub nb: f32,
    /// Weight of the word view relative to the char view (each view is L2-normalised).
    pub word_weight: f32,
    pub max_iter: usize,
    pub eps: f32,
    /// Folds of the out-of-fold run used for calibration and the abstain threshold.
    pub cv_folds: usize,
    pub target_precision: f32,
    /// Weight of a nearest-centroid (Rocchio) view added to the SVM: cosine to each
    /// class's mean vector. It is linear in the same features, so it is folded into
    /// the SVM weights at no prediction cost, and it is robust with few examples.
    pub centroid_weight: f32,
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
    /// Late fusion of views (0 = off): one SVM per view, each on its own unit-norm
    /// part of the vector, scores mixed as `fusion * char + (1 - fusion) * word`.
    /// The views use disjoint features, so the mix folds back into one weight
    /// matrix: prediction is unchanged in cost.
    pub fusion: f32,
    /// Crammer–Singer multiclass SVM instead of one-vs-rest (see `svm::train_cs`).
    pub crammer_singer: bool,
    /// Weight of a Crammer–Singer model averaged with the one-vs-rest one (0 = off,
    /// 1 = Crammer–Singer only). Both are linear in the same features, so the mix
    /// folds into one weight matrix.
    pub cs_mix: f32,
    /// C of that Crammer–Singer model.
    pub cs_c: f32,
    /// Per-class score offsets fitted for macro-F1 on the out-of-fold margins (see
    /// `offsets::fit_offsets`): grid step (0 = off), grid radius in steps, and a
    /// shrink factor toward 0. They are added to the bias: no prediction cost.
    pub class_offsets: f32,
    pub offset_radius: usize,
    pub offset_shrink: f32,
    /// Label-name prototype: `label_proto * v(name)` (the name's unit feature vector)
    /// added to its class's weights, a cosine-to-the-name score folded into the
    /// linear model (0 = off).
    pub label_proto: f32,
    /// LSA view (see `lsa`): number of top singular directions of the training
    /// matrix appended as extra features (0 = off), and their weight. Folded back
    /// into the word/char weights after training. Not combined with `fusion`.
    pub lsa_rank: usize,
    pub lsa_weight: f32,
    /// Supervised term weighting: each feature's IDF is multiplied by
    /// `(1 - s) + s * g / mean(g)`, g its best class log-ratio (see
    /// `features::supervised_factors`); 0 = plain IDF. Stored in the IDF vector,
    /// so prediction is unchanged. On by default since round 5 (docs/CLASSIFIER.md);
    /// a model file written before the field existed was trained with plain IDF, so
    /// a missing field reads as 0, not as today's default.
    #[serde(default)]
    pub supervised: f32,
    /// Bagging folded into the weights (round 6, docs/CLASSIFIER.md): the final
    /// weights are `(1 − λ)·w_full + λ·mean(w_bag)`, λ = `bag_mix` (0 = off), each bag
    /// an SVM fitted in the final model's feature space (same vocabulary, IDF and
    /// supervised factors) on a subset chosen by `bag_kind`. Linear, so prediction is
    /// unchanged. The out-of-fold models that fit the calibration are not bagged:
    /// they still never see the examples they score. A missing field reads as 0.
    #[serde(default)]
    pub bag_mix: f32,
    pub bag_kind: BagKind,
    /// Bags for the `Seeds` and `Bootstrap` kinds (`Folds` uses `cv_folds`).
    pub bag_count: usize,
    /// Multinomial logistic-regression member (see `lr`): its weights, put on the
    /// SVM's margin scale, get this share of the mix (0 = off). Fitted inside every
    /// fit (calibration folds too), so calibration sees the mixed model. Linear:
    /// prediction is unchanged. A missing field reads as 0.
    #[serde(default)]
    pub lr_mix: f32,
    /// Its loss weight C (objective ½‖W‖² + C Σ loss) and SGD epochs.
    pub lr_c: f32,
    pub lr_epochs: usize,
}

/// What each bag of `TrainConfig::bag_mix` trains on.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BagKind {
    /// The training part of each calibration CV fold (CV-bagging).
    #[default]
    Folds,
    /// All rows, another solver shuffle seed per bag.
    Seeds,
    /// A stratified bootstrap sample per bag.
    Bootstrap,
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
            char_cross: false,
            idf_power: 1.0,
            label_examples: 1,
            nb: 0.0,
            word_weight: 0.5,
            max_iter: 100,
            eps: 0.3,
            cv_folds: 5,
            target_precision: 0.95,
            centroid_weight: 0.0,
            prune: 0.02,
            top_k: 5,
            seed: 42,
            threads: 0,
            bias: 1.0,
            label_min_words: 1,
            fusion: 0.0,
            crammer_singer: true,
            cs_mix: 0.0,
            cs_c: 2.0,
            class_offsets: 0.0,
            offset_radius: 6,
            offset_shrink: 1.0,
            label_proto: 0.0,
            lsa_rank: 0,
            lsa_weight: 1.0,
            supervised: 0.6,
            bag_mix: 0.0,
            bag_kind: BagKind::Folds,
            bag_count: 5,
            lr_mix: 0.0,
            lr_c: 10.0,
            lr_epochs: 10,
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
            char_cross: self.char_cross,
        }
    }
    fn thread_count(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}

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
}

/// Keys are already well-mixed 64-bit feature hashes: re-hashing them would only
/// cost prediction time.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
pub(crate) type FeatMap = HashMap<u64, u32, BuildHasherDefault<IdHasher>>;

/// Stores `ws` feature-major, i8-quantised with a per-feature scale (max |w| / 127),
/// dropping zeros and weights below `prune`. Loops run class-outer over contiguous
/// weight rows (a feature-outer loop strides across every class's row and was a
/// tenth of training time): one pass for the scales, one to count entries per
/// feature, one to fill.
fn quantize(core: &mut Core, ws: &[svm::ClassWeights], prune: f32) {
    let nf = core.scale.len();
    let mut maxabs = vec![0f32; nf];
    for cw in ws {
        maxabs
            .iter_mut()
            .zip(&cw.w)
            .for_each(|(m, w)| *m = m.max(w.abs()));
    }
    let inv: Vec<f32> = maxabs
        .iter()
        .map(|&m| if m > 0.0 { 127.0 / m } else { 0.0 })
        .collect();
    core.scale = maxabs.iter().map(|&m| m / 127.0).collect();
    // Quantised value, or 0 when the weight is dropped.
    let qv = |w: f32, inv: f32| -> i8 {
        let q = (w * inv).round().clamp(-127.0, 127.0) as i8;
        if w.abs() >= prune {
            q
        } else {
            0
        }
    };
    let mut count = vec![0u32; nf + 1];
    for cw in ws {
        for (j, (&w, &iv)) in cw.w.iter().zip(&inv).enumerate() {
            count[j + 1] += u32::from(qv(w, iv) != 0);
        }
    }
    for j in 0..nf {
        count[j + 1] += count[j];
    }
    let total = count[nf] as usize;
    core.offsets = count.clone();
    core.classes = vec![0; total];
    core.q = vec![0; total];
    let mut cursor = count;
    for (c, cw) in ws.iter().enumerate() {
        for (j, (&w, &iv)) in cw.w.iter().zip(&inv).enumerate() {
            let q = qv(w, iv);
            if q != 0 {
                let at = cursor[j] as usize;
                core.classes[at] = c as u16;
                core.q[at] = q;
                cursor[j] += 1;
            }
        }
    }
}

/// Per-thread buffers reused across predictions, so predicting a short text allocates
/// only its result.
#[derive(Default)]
struct Scratch {
    norm: String,
    ids: Vec<u32>,
    vec: Vec<(u32, f32)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// The fitted linear model: vocabulary, IDF and class weights stored feature-major
/// (each feature points to its few non-zero class weights, i8-quantised with a
/// per-feature scale) so prediction touches only the features present in a text.
#[derive(Clone, Debug)]
pub(crate) struct Core {
    pub spec: FeatureSpec,
    pub word_weight: f32,
    pub map: FeatMap,
    pub hashes: Vec<u64>,
    pub idf: Vec<f32>,
    pub views: Vec<u8>,
    pub offsets: Vec<u32>,
    pub classes: Vec<u16>,
    pub q: Vec<i8>,
    pub scale: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Core {
    /// TF-IDF vector of a text: sublinear TF, IDF, each view L2-normalised and
    /// weighted, then the whole vector L2-normalised. Unknown features are ignored.
    pub fn vectorize(&self, text: &str, ids: &mut Vec<u32>, out: &mut Vec<(u32, f32)>) {
        SCRATCH.with(|sc| match sc.try_borrow_mut() {
            Ok(mut sc) => self.vectorize_with(text, &mut sc.norm, ids, out),
            // Re-entrant call on this thread (cannot happen today): allocate.
            Err(_) => self.vectorize_with(text, &mut String::new(), ids, out),
        })
    }

    fn vectorize_with(
        &self,
        text: &str,
        norm: &mut String,
        ids: &mut Vec<u32>,
        out: &mut Vec<(u32, f32)>,
    ) {
        ids.clear();
        out.clear();
        features::normalize_into(text, norm);
        features::extract(norm, &self.spec, |h, _| {
            if let Some(&i) = self.map.get(&h) {
                ids.push(i);
            }
        });
        ids.sort_unstable();
        let mut sq = [0f32; N_VIEWS];
        let mut k = 0;
        while k < ids.len() {
            let id = ids[k];
            let mut n = 1;
            while k + n < ids.len() && ids[k + n] == id {
                n += 1;
            }
            k += n;
            let v = (1.0 + (n as f32).ln()) * self.idf[id as usize];
            sq[usize::from(self.views[id as usize]).min(N_VIEWS - 1)] += v * v;
            out.push((id, v));
        }
        let mut f = [0f32; N_VIEWS];
        for (view, fv) in f.iter_mut().enumerate() {
            if sq[view] > 0.0 {
                let w = if view == usize::from(VIEW_WORD) {
                    self.word_weight
                } else {
                    1.0
                };
                *fv = w / sq[view].sqrt();
            }
        }
        let total: f32 = (0..N_VIEWS)
            .map(|v| {
                if sq[v] > 0.0 {
                    f[v] * f[v] * sq[v]
                } else {
                    0.0
                }
            })
            .sum();
        let g = if total > 0.0 { 1.0 / total.sqrt() } else { 0.0 };
        for (id, v) in out.iter_mut() {
            *v *= f[usize::from(self.views[*id as usize]).min(N_VIEWS - 1)] * g;
        }
    }

    /// Raw SVM margins of every class.
    pub fn scores(&self, text: &str) -> Vec<f32> {
        SCRATCH.with(|sc| match sc.try_borrow_mut() {
            Ok(mut sc) => {
                let Scratch { norm, ids, vec } = &mut *sc;
                self.scores_with(text, norm, ids, vec)
            }
            Err(_) => self.scores_with(text, &mut String::new(), &mut Vec::new(), &mut Vec::new()),
        })
    }

    fn scores_with(
        &self,
        text: &str,
        norm: &mut String,
        ids: &mut Vec<u32>,
        vec: &mut Vec<(u32, f32)>,
    ) -> Vec<f32> {
        self.vectorize_with(text, norm, ids, vec);
        let mut s = self.bias.clone();
        for &(j, v) in vec.iter() {
            let j = j as usize;
            let (a, b) = (self.offsets[j] as usize, self.offsets[j + 1] as usize);
            let sv = self.scale[j] * v;
            for (&c, &q) in self.classes[a..b].iter().zip(&self.q[a..b]) {
                s[usize::from(c)] += f32::from(q) * sv;
            }
        }
        s
    }

    /// Fits vocabulary, IDF and SVM on the given texts (labels are class ids). Rows
    /// from `n_real` on are label-name examples: every bag keeps them (see `bag_mix`).
    pub fn fit(
        texts: &[&str],
        y: &[u32],
        n_classes: usize,
        n_real: usize,
        cfg: &TrainConfig,
        protos: &[(u32, &str)],
    ) -> Core {
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
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| (((1.0 + n) / (1.0 + d as f32)).ln() + 1.0).powf(cfg.idf_power))
            .collect();
        let mut idf = idf;
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
        let params = SvmParams {
            c: f64::from(cfg.c),
            balanced: cfg.balanced,
            max_iter: cfg.max_iter.max(1),
            eps: f64::from(cfg.eps),
            bias: cfg.bias,
            seed: cfg.seed,
            nb: cfg.nb,
        };
        let lsa = if cfg.lsa_rank > 0 && cfg.fusion <= 0.0 && cfg.lsa_weight > 0.0 {
            crate::lsa::top_right_singular(&x, cfg.lsa_rank, cfg.seed)
        } else {
            Vec::new()
        };
        let xs = if lsa.is_empty() {
            None
        } else {
            Some(with_lsa_view(&x, &lsa, cfg.lsa_weight))
        };
        let xt = xs.as_ref().unwrap_or(&x);
        let mut ws = solve_bagged(xt, &x, &core.views, y, n_real, n_classes, &params, cfg);
        if cfg.lr_mix > 0.0 {
            let lr = crate::lr::train_softmax(
                xt,
                y,
                n_classes,
                &crate::lr::LrParams {
                    c: f64::from(cfg.lr_c),
                    epochs: cfg.lr_epochs,
                    balanced: cfg.balanced,
                    bias: cfg.bias,
                    seed: cfg.seed,
                },
            );
            mix_standardised(&mut ws, &lr, xt, cfg.lr_mix);
        }
        if !lsa.is_empty() {
            for cw in ws.iter_mut() {
                let wz: Vec<f32> = cw.w.split_off(nf);
                for (v, &z) in lsa.iter().zip(&wz) {
                    let a = cfg.lsa_weight * z;
                    cw.w.iter_mut().zip(v).for_each(|(w, &v)| *w += a * v);
                }
            }
        }
        if cfg.centroid_weight > 0.0 {
            let mut cent = vec![vec![0f32; nf]; n_classes];
            for (r, &c) in y.iter().enumerate() {
                let (idx, val) = x.row(r);
                for (&j, &v) in idx.iter().zip(val) {
                    cent[c as usize][j as usize] += v;
                }
            }
            for (cw, m) in ws.iter_mut().zip(&cent) {
                let norm = m.iter().map(|v| v * v).sum::<f32>().sqrt();
                if norm > 0.0 {
                    let f = cfg.centroid_weight / norm;
                    cw.w.iter_mut().zip(m).for_each(|(w, v)| *w += f * v);
                }
            }
        }
        for &(c, t) in protos {
            core.vectorize(t, &mut ids, &mut row);
            if let Some(cw) = ws.get_mut(c as usize) {
                for &(j, v) in &row {
                    cw.w[j as usize] += cfg.label_proto * v;
                }
            }
        }
        core.bias = ws.iter().map(|cw| cw.b).collect();
        quantize(&mut core, &ws, cfg.prune);
        core
    }
}

/// One fit of the configured solver (Crammer–Singer, view fusion or one-vs-rest,
/// plus the optional Crammer–Singer mix) on `xt`; `x` is the matrix without the LSA
/// columns, which view fusion uses.
#[allow(clippy::too_many_arguments)]
fn solve_once(
    xt: &Csr,
    x: &Csr,
    views: &[u8],
    y: &[u32],
    n_classes: usize,
    params: &SvmParams,
    cfg: &TrainConfig,
    threads: usize,
) -> Vec<svm::ClassWeights> {
    let cfg = &TrainConfig {
        threads,
        ..cfg.clone()
    };
    let mut ws = if cfg.crammer_singer {
        svm::train_cs(xt, y, n_classes, params)
    } else if cfg.fusion > 0.0 && cfg.word_weight > 0.0 {
        fused_views(x, views, y, n_classes, params, cfg)
    } else {
        svm::train_ovr(xt, y, n_classes, params, cfg.thread_count())
    };
    if cfg.cs_mix > 0.0 && !cfg.crammer_singer {
        let cs = svm::train_cs(
            xt,
            y,
            n_classes,
            &SvmParams {
                c: f64::from(cfg.cs_c),
                ..*params
            },
        );
        let a = cfg.cs_mix.clamp(0.0, 1.0);
        for (o, c) in ws.iter_mut().zip(cs) {
            o.w.iter_mut()
                .zip(&c.w)
                .for_each(|(o, c)| *o = (1.0 - a) * *o + a * c);
            o.b = (1.0 - a) * o.b + a * c.b;
        }
    }
    ws
}

/// The rows each bag trains on (see `TrainConfig::bag_mix`), as indices into the
/// training matrix, possibly repeated (bootstrap). Rows from `n_real` on are
/// label-name examples and belong to every bag, as they belong to every CV fold.
/// `None` = all rows (the `Seeds` kind, which varies only the solver's order).
pub(crate) fn bag_rows(
    y: &[u32],
    n_real: usize,
    n_classes: usize,
    cfg: &TrainConfig,
) -> Vec<Option<Vec<usize>>> {
    let n_real = n_real.min(y.len());
    let extras = n_real..y.len();
    match cfg.bag_kind {
        BagKind::Folds => {
            // The same stratified assignment as the out-of-fold pass of `train`
            // (same seed, same real rows in the same order): bag j is the training
            // part of CV fold j, refitted in the final model's feature space.
            let k = cfg.cv_folds.clamp(2, 20);
            let folds = stratified_folds(&y[..n_real], n_classes, k, cfg.seed);
            (0..k)
                .map(|j| {
                    let mut rows: Vec<usize> = (0..n_real).filter(|&i| folds[i] != j).collect();
                    rows.extend(extras.clone());
                    Some(rows)
                })
                .collect()
        }
        BagKind::Seeds => (0..cfg.bag_count.max(1)).map(|_| None).collect(),
        BagKind::Bootstrap => {
            // Stratified bootstrap: each class resampled to its own size, so every
            // class keeps examples in every bag.
            let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
            for (i, &c) in y[..n_real].iter().enumerate() {
                if let Some(b) = by_class.get_mut(c as usize) {
                    b.push(i);
                }
            }
            let mut rng = Rng::new(cfg.seed ^ 0xb007_57a9);
            (0..cfg.bag_count.max(1))
                .map(|_| {
                    let mut rows = Vec::with_capacity(y.len());
                    for members in &by_class {
                        for _ in 0..members.len() {
                            rows.push(members[rng.below(members.len())]);
                        }
                    }
                    rows.extend(extras.clone());
                    Some(rows)
                })
                .collect()
        }
    }
}

/// `(1 − λ)·full + λ·mean(bags)`, weights and biases: every member is linear in the
/// same features, so the averaged scores are the scores of this one model. `full`
/// may be absent when λ = 1.
pub(crate) fn mix_bags(
    full: Option<Vec<svm::ClassWeights>>,
    bags: &[Vec<svm::ClassWeights>],
    lambda: f32,
) -> Vec<svm::ClassWeights> {
    let lambda = if full.is_some() {
        lambda.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let share = if bags.is_empty() {
        0.0
    } else {
        lambda / bags.len() as f32
    };
    let mut out = match full {
        Some(mut f) => {
            for cw in f.iter_mut() {
                cw.w.iter_mut().for_each(|w| *w *= 1.0 - lambda);
                cw.b *= 1.0 - lambda;
            }
            f
        }
        None => bags
            .first()
            .map(|b| {
                b.iter()
                    .map(|cw| svm::ClassWeights {
                        w: vec![0.0; cw.w.len()],
                        b: 0.0,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    for bag in bags {
        for (o, cw) in out.iter_mut().zip(bag) {
            o.w.iter_mut()
                .zip(&cw.w)
                .for_each(|(o, &w)| *o += share * w);
            o.b += share * cw.b;
        }
    }
    out
}

/// The weights of the final linear model: one solve on everything, or with
/// `bag_mix > 0` that solve mixed with the mean of bag solves in the same feature
/// space. The solves are independent jobs over `cfg.thread_count()` threads; the
/// result does not depend on the thread count (bag order is fixed).
#[allow(clippy::too_many_arguments)]
fn solve_bagged(
    xt: &Csr,
    x: &Csr,
    views: &[u8],
    y: &[u32],
    n_real: usize,
    n_classes: usize,
    params: &SvmParams,
    cfg: &TrainConfig,
) -> Vec<svm::ClassWeights> {
    let threads = cfg.thread_count();
    if cfg.bag_mix <= 0.0 {
        return solve_once(xt, x, views, y, n_classes, params, cfg, threads);
    }
    use std::sync::atomic::{AtomicUsize, Ordering};
    let bags = bag_rows(y, n_real, n_classes, cfg);
    let with_full = cfg.bag_mix < 1.0;
    // Job 0 = the full solve (when needed), then one job per bag.
    let jobs = bags.len() + 1;
    let job = |j: usize| -> Option<Vec<svm::ClassWeights>> {
        if j == 0 {
            return with_full.then(|| solve_once(xt, x, views, y, n_classes, params, cfg, 1));
        }
        let p = SvmParams {
            seed: params.seed.wrapping_add(j as u64 * 0x9e37_79b9),
            ..*params
        };
        match &bags[j - 1] {
            None => Some(solve_once(xt, x, views, y, n_classes, &p, cfg, 1)),
            Some(rows) => {
                let (sub_t, sub_x, sub_y) = (xt.select(rows), x.select(rows), select(y, rows));
                Some(solve_once(
                    &sub_t, &sub_x, views, &sub_y, n_classes, &p, cfg, 1,
                ))
            }
        }
    };
    let mut out: Vec<Option<Vec<svm::ClassWeights>>> = (0..jobs).map(|_| None).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads.clamp(1, jobs))
            .map(|_| {
                let (next, job) = (&next, &job);
                sc.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let j = next.fetch_add(1, Ordering::Relaxed);
                        if j >= jobs {
                            break done;
                        }
                        done.push((j, job(j)));
                    }
                })
            })
            .collect();
        for h in handles {
            // A panic in a worker is a bug in the solver; propagate it as is.
            for (j, w) in h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                out[j] = w;
            }
        }
    });
    let full = out[0].take();
    let bag_ws: Vec<Vec<svm::ClassWeights>> = out.into_iter().skip(1).flatten().collect();
    mix_bags(full, &bag_ws, cfg.bag_mix)
}

/// `ws ← (1 − μ)·ws + μ·(σ_ws/σ_other)·other`: the second member is first put on the
/// first one's margin scale (σ = `lr::margin_spread` on the training rows), so μ is
/// a share of influence rather than of raw weight, and the mix keeps the SVM's
/// scale (the temperature is fitted on the out-of-fold margins of the same mix).
pub(crate) fn mix_standardised(
    ws: &mut [svm::ClassWeights],
    other: &[svm::ClassWeights],
    x: &Csr,
    mu: f32,
) {
    let mu = mu.clamp(0.0, 1.0);
    let (sa, sb) = (
        crate::lr::margin_spread(x, ws),
        crate::lr::margin_spread(x, other),
    );
    if !(sa > 0.0 && sb > 0.0 && sa.is_finite() && sb.is_finite()) {
        return;
    }
    let f = mu * sa / sb;
    for (o, c) in ws.iter_mut().zip(other) {
        o.w.iter_mut()
            .zip(&c.w)
            .for_each(|(o, &c)| *o = (1.0 - mu) * *o + f * c);
        o.b = (1.0 - mu) * o.b + f * c.b;
    }
}

fn select(y: &[u32], rows: &[usize]) -> Vec<u32> {
    rows.iter().filter_map(|&r| y.get(r).copied()).collect()
}

/// The training matrix with `weight * (v · x)` appended for each LSA direction v:
/// a dense block of `lsa.len()` extra columns after the `x.n_features` sparse ones.
fn with_lsa_view(x: &Csr, lsa: &[Vec<f32>], weight: f32) -> Csr {
    let nf = x.n_features;
    let mut out = Csr::new(nf + lsa.len());
    let mut row: Vec<(u32, f32)> = Vec::new();
    for r in 0..x.rows() {
        let (idx, val) = x.row(r);
        row.clear();
        row.extend(idx.iter().copied().zip(val.iter().copied()));
        for (k, v) in lsa.iter().enumerate() {
            let z: f32 = idx.iter().zip(val).map(|(&j, &x)| v[j as usize] * x).sum();
            row.push(((nf + k) as u32, weight * z));
        }
        out.push_row(&row);
    }
    out
}

/// Trains one SVM per view and folds the score mix into one weight matrix (see
/// `TrainConfig::fusion`). Prediction scales the char part of a text's vector by
/// 1/sqrt(1 + ww²) and the word part by ww/sqrt(1 + ww²) (ww = word weight, both
/// views present), so each view's weights are divided by that factor here.
fn fused_views(
    x: &Csr,
    views: &[u8],
    y: &[u32],
    n_classes: usize,
    params: &SvmParams,
    cfg: &TrainConfig,
) -> Vec<svm::ClassWeights> {
    let ww = cfg.word_weight;
    let a = cfg.fusion.clamp(0.0, 1.0);
    let norm = (1.0 + ww * ww).sqrt();
    let mut parts = [Csr::new(x.n_features), Csr::new(x.n_features)];
    let mut row: Vec<(u32, f32)> = Vec::new();
    for r in 0..x.rows() {
        let (idx, val) = x.row(r);
        for (v, part) in parts.iter_mut().enumerate() {
            row.clear();
            row.extend(
                idx.iter()
                    .zip(val)
                    .filter(|(&j, _)| usize::from(views[j as usize]) == v)
                    .map(|(&j, &x)| (j, x)),
            );
            let n = row.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt();
            if n > 0.0 {
                row.iter_mut().for_each(|e| e.1 /= n);
            }
            part.push_row(&row);
        }
    }
    let threads = cfg.thread_count();
    let wc = svm::train_ovr(
        &parts[usize::from(VIEW_CHAR)],
        y,
        n_classes,
        params,
        threads,
    );
    let wv = svm::train_ovr(
        &parts[usize::from(VIEW_WORD)],
        y,
        n_classes,
        params,
        threads,
    );
    let (fc, fw) = (a * norm, (1.0 - a) * norm / ww);
    wc.into_iter()
        .zip(wv)
        .map(|(c, w)| svm::ClassWeights {
            w: c.w
                .iter()
                .zip(&w.w)
                .zip(views)
                .map(|((&c, &w), &v)| if v == VIEW_WORD { fw * w } else { fc * c })
                .collect(),
            b: a * c.b + (1.0 - a) * w.b,
        })
        .collect()
}

pub struct Model {
    pub(crate) core: Core,
    pub(crate) meta: ModelMeta,
    /// Out-of-fold (confidence, correct) pairs, kept so the abstain threshold can be
    /// moved to another target precision without retraining.
    pub(crate) oof: Vec<(f32, bool)>,
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
    // Label-name prototypes pass the same gate as label-name examples.
    let protos: Vec<(u32, &str)> = labels
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            cfg.label_proto > 0.0
                && (cfg.label_min_words == 0 || descriptive_label(l, cfg.label_min_words))
        })
        .map(|(c, l)| (c as u32, l.as_str()))
        .collect();
    Core::fit(&tt, &ty, labels.len(), texts.len(), cfg, &protos)
}

/// Per-class offsets fitted on out-of-fold margins (zeros when off).
fn class_offsets(d: &Labelled, cfg: &TrainConfig, scores: &[Vec<f32>]) -> Vec<f32> {
    let truth: Vec<usize> = d.y.iter().map(|&c| c as usize).collect();
    crate::offsets::fit_offsets(
        scores,
        &truth,
        d.labels.len(),
        cfg.class_offsets,
        cfg.offset_radius,
        2,
        cfg.offset_shrink,
    )
}

fn add_offsets(core: &mut Core, delta: &[f32]) {
    add_offsets_row(&mut core.bias, delta);
}

fn add_offsets_row(row: &mut [f32], delta: &[f32]) {
    row.iter_mut().zip(delta).for_each(|(b, d)| *b += d);
}

/// Out-of-fold margins (every example scored by a model that never saw it) and,
/// when `with_final`, the model fitted on everything. The k fold fits and the final
/// fit are independent jobs spread over the training threads (each job then trains
/// single-threaded): this keeps both cores busy whatever the solver, including the
/// Crammer–Singer one, which cannot split its work by class.
///
/// With `nested` and class offsets on, each fold model gets its own offsets from an
/// inner out-of-fold run on its training part only (cross-validation must not fit
/// them on the fold it scores); the final model's offsets are the caller's business.
fn oof_and_final(
    d: &Labelled,
    cfg: &TrainConfig,
    k: usize,
    with_final: bool,
    nested: bool,
    progress: &mut dyn FnMut(TrainProgress),
) -> (Vec<Vec<f32>>, Option<Core>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let folds = stratified_folds(&d.y, d.labels.len(), k, cfg.seed);
    let jobs = k + usize::from(with_final);
    let workers = cfg.thread_count().clamp(1, jobs);
    let mut inner = cfg.clone();
    if workers > 1 {
        inner.threads = 1;
    }
    if with_final {
        // Calibration folds of `train` are single fits even when the final model is
        // bagged: they still never see the examples they score, and bagging them
        // too would multiply training time by the bag count. Cross-validation
        // (`with_final` off) bags every fold model, since it measures the design.
        inner.bag_mix = 0.0;
    }
    // With bagging the final fit holds several solves: it runs first and spreads
    // them over all the training threads while the other workers take the folds.
    let final_cfg = TrainConfig {
        threads: cfg.thread_count(),
        ..cfg.clone()
    };
    let fit_job = |j: usize| -> Core {
        if j == k {
            let c = if cfg.bag_mix > 0.0 {
                &final_cfg
            } else {
                &inner
            };
            return fit_with_extras(&d.texts, &d.y, &d.labels, c);
        }
        let (mut tt, mut ty) = (Vec::new(), Vec::new());
        for ((&t, &y), &fi) in d.texts.iter().zip(&d.y).zip(&folds) {
            if fi != j {
                tt.push(t);
                ty.push(y);
            }
        }
        if nested && cfg.class_offsets > 0.0 {
            let sub = Labelled {
                texts: tt,
                y: ty,
                labels: d.labels.clone(),
            };
            let one = TrainConfig {
                threads: 1,
                ..inner.clone()
            };
            let (s, core) = oof_and_final(&sub, &one, k, true, false, &mut |_| {});
            let mut core =
                core.unwrap_or_else(|| fit_with_extras(&sub.texts, &sub.y, &sub.labels, &one));
            add_offsets(&mut core, &class_offsets(&sub, cfg, &s));
            return core;
        }
        fit_with_extras(&tt, &ty, &d.labels, &inner)
    };
    let mut out = vec![Vec::new(); d.texts.len()];
    let mut final_core = None;
    let next = AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Core)>();
    std::thread::scope(|sc| {
        for _ in 0..workers {
            let (tx, next, fit_job) = (tx.clone(), &next, &fit_job);
            sc.spawn(move || loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= jobs {
                    break;
                }
                // Dispatch order: the final fit first (the longest job), then folds.
                let j = if with_final { (n + k) % jobs } else { n };
                if tx.send((j, fit_job(j))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (done, (j, core)) in rx.into_iter().enumerate() {
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
                done: done + 1,
                total: jobs,
                stage: if j == k {
                    "final fit"
                } else {
                    "cross-validation"
                },
            });
        }
    });
    (out, final_core)
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

fn argmax(s: &[f32]) -> usize {
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
    let threshold = calib::threshold_for_precision(&points, cfg.target_precision);
    let n = truth.len().max(1) as f64;
    let correct = pred.iter().zip(&truth).filter(|(p, t)| p == t).count();
    let answered = points.iter().filter(|p| p.0 >= threshold).count();
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
    let (scores, _) = oof_and_final(&d, cfg, k, false, true, &mut |_| {});
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
    let start = std::time::Instant::now();
    let d = label_examples(examples)?;
    let k = cfg.cv_folds.clamp(2, 20);
    let (mut scores, core) = oof_and_final(&d, cfg, k, true, false, progress);
    // The final job always runs; the fallback only guards against a future change.
    let mut core = core.unwrap_or_else(|| fit_with_extras(&d.texts, &d.y, &d.labels, cfg));
    // Offsets from the out-of-fold margins go to the final model; the calibration
    // below then sees the margins as the final model will produce them (its CV
    // macro-F1 is therefore optimistic by the offsets' in-sample fit).
    let delta = class_offsets(&d, cfg, &scores);
    if delta.iter().any(|&v| v != 0.0) {
        add_offsets(&mut core, &delta);
        for s in scores.iter_mut() {
            add_offsets_row(s, &delta);
        }
    }
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
    };
    Ok(Model {
        core,
        meta,
        oof: cv.points,
    })
}

impl Model {
    /// Calibrated prediction; abstains (label `None`) below the threshold fitted for
    /// the target precision.
    pub fn predict(&self, text: &str) -> Prediction {
        let mut p = self.core.scores(text);
        calib::softmax_t(&mut p, self.meta.temperature);
        let k = self.meta.config.top_k.clamp(1, p.len().max(1));
        let order = top_k(&p, k);
        let top: Vec<ScoredLabel> = order
            .iter()
            .filter_map(|&i| {
                Some(ScoredLabel {
                    label: self.meta.labels.get(i)?.clone(),
                    probability: p[i],
                })
            })
            .collect();
        let confidence = top.first().map(|s| s.probability).unwrap_or(0.0);
        let abstained = confidence < self.meta.abstain_threshold;
        Prediction {
            label: if abstained {
                None
            } else {
                top.first().map(|s| s.label.clone())
            },
            confidence,
            top,
            abstained,
        }
    }

    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }

    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// Moves the abstain threshold to another target precision using the stored
    /// out-of-fold confidences (no retraining, no test data).
    pub fn set_target_precision(&mut self, p: f32) {
        let p = p.clamp(0.0, 1.0);
        self.meta.target_precision = p;
        self.meta.abstain_threshold = calib::threshold_for_precision(&self.oof, p);
        let n = self.oof.len().max(1) as f64;
        self.meta.cv.coverage_at_target = self
            .oof
            .iter()
            .filter(|x| x.0 >= self.meta.abstain_threshold)
            .count() as f64
            / n;
    }
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
    fn every_solver_learns_the_toy_topics() {
        let solvers = [
            (
                "one-vs-rest",
                TrainConfig {
                    crammer_singer: false,
                    ..TrainConfig::default()
                },
            ),
            (
                "crammer-singer",
                TrainConfig {
                    crammer_singer: true,
                    ..TrainConfig::default()
                },
            ),
            (
                "view fusion",
                TrainConfig {
                    crammer_singer: false,
                    fusion: 0.7,
                    ..TrainConfig::default()
                },
            ),
            (
                "supervised term weights",
                TrainConfig {
                    supervised: 0.6,
                    ..TrainConfig::default()
                },
            ),
            (
                "label prototypes",
                TrainConfig {
                    label_proto: 0.3,
                    ..TrainConfig::default()
                },
            ),
            (
                "lsa view",
                TrainConfig {
                    lsa_rank: 4,
                    ..TrainConfig::default()
                },
            ),
            (
                "class offsets",
                TrainConfig {
                    class_offsets: 0.05,
                    ..TrainConfig::default()
                },
            ),
            (
                "bagged folds",
                TrainConfig {
                    bag_mix: 0.5,
                    ..TrainConfig::default()
                },
            ),
            (
                "logistic member",
                TrainConfig {
                    lr_mix: 0.5,
                    ..TrainConfig::default()
                },
            ),
            (
                "ovr + cs mix",
                TrainConfig {
                    crammer_singer: false,
                    cs_mix: 0.5,
                    ..TrainConfig::default()
                },
            ),
        ];
        for (name, cfg) in solvers {
            let m = train(&toy(), &cfg, &mut |_| {}).expect("train");
            assert!(m.meta().cv.accuracy > 0.8, "{name}: {:?}", m.meta().cv);
            assert_eq!(
                m.predict("bail de location").top[0].label,
                "logement",
                "{name}"
            );
            assert_eq!(
                m.predict("contrat de travail").top[0].label,
                "travail",
                "{name}"
            );
        }
    }

    #[test]
    fn nested_cv_fits_class_offsets_per_fold_and_stays_accurate() {
        let on = TrainConfig {
            class_offsets: 0.05,
            ..TrainConfig::default()
        };
        let cv = cross_validate(&toy(), &on, 4).expect("cv");
        assert!(cv.accuracy > 0.8, "{cv:?}");
        // Offsets land in the final model's bias (the toy classes are balanced, so
        // the out-of-fold fit may keep them at 0, but never changes the class count).
        let m = train(&toy(), &on, &mut |_| {}).expect("train");
        assert_eq!(m.core.bias.len(), 3);
        assert!(m.core.bias.iter().all(|b| b.is_finite()));
    }

    #[test]
    fn off_options_leave_the_default_model_unchanged() {
        // The off options at their neutral values are the default model exactly.
        let explicit = TrainConfig {
            class_offsets: 0.0,
            label_proto: 0.0,
            lsa_rank: 0,
            supervised: 0.6,
            bag_mix: 0.0,
            lr_mix: 0.0,
            ..TrainConfig::default()
        };
        let a = train(&toy(), &TrainConfig::default(), &mut |_| {}).expect("train");
        let b = train(&toy(), &explicit, &mut |_| {}).expect("train");
        assert_eq!(a.oof, b.oof);
        assert_eq!(a.core.q, b.core.q);
        // Supervised weighting (on by default) does change the IDF vector.
        let plain = train(
            &toy(),
            &TrainConfig {
                supervised: 0.0,
                ..TrainConfig::default()
            },
            &mut |_| {},
        )
        .expect("train");
        assert_ne!(a.core.idf, plain.core.idf);
    }

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

    fn linear_scores(ws: &[svm::ClassWeights], row: &[(u32, f32)]) -> Vec<f32> {
        ws.iter()
            .map(|cw| cw.b + row.iter().map(|&(j, v)| cw.w[j as usize] * v).sum::<f32>())
            .collect()
    }

    #[test]
    fn mixed_bags_score_exactly_as_the_averaged_scores() {
        // Folding the bags into one weight matrix is exact: the mixed model's
        // margins are (1 − λ)·full + λ·mean(bags) on any input.
        let mut rng = Rng::new(9);
        let mut member = || -> Vec<svm::ClassWeights> {
            (0..3)
                .map(|_| svm::ClassWeights {
                    w: (0..20)
                        .map(|_| rng.below(2001) as f32 / 1000.0 - 1.0)
                        .collect(),
                    b: rng.below(2001) as f32 / 1000.0 - 1.0,
                })
                .collect()
        };
        let full = member();
        let bags: Vec<_> = (0..4).map(|_| member()).collect();
        let rows: Vec<Vec<(u32, f32)>> = vec![
            vec![(0, 0.5), (7, -0.25), (19, 1.0)],
            vec![(3, 0.1)],
            vec![],
        ];
        for lambda in [0.0f32, 0.3, 0.5, 1.0] {
            let copy: Vec<_> = full
                .iter()
                .map(|c| svm::ClassWeights {
                    w: c.w.clone(),
                    b: c.b,
                })
                .collect();
            let mixed = mix_bags(Some(copy), &bags, lambda);
            for row in &rows {
                let got = linear_scores(&mixed, row);
                let f = linear_scores(&full, row);
                for c in 0..3 {
                    let mean: f32 = bags.iter().map(|b| linear_scores(b, row)[c]).sum::<f32>()
                        / bags.len() as f32;
                    let want = (1.0 - lambda) * f[c] + lambda * mean;
                    assert!(
                        (got[c] - want).abs() < 1e-5,
                        "λ {lambda}: {} vs {want}",
                        got[c]
                    );
                }
            }
        }
        // Without a full fit (λ = 1) the mix is the plain mean of the bags.
        let only = mix_bags(None, &bags, 1.0);
        let row = &rows[0];
        let mean0: f32 = bags.iter().map(|b| linear_scores(b, row)[0]).sum::<f32>() / 4.0;
        assert!((linear_scores(&only, row)[0] - mean0).abs() < 1e-5);
    }

    #[test]
    fn fold_bags_are_the_calibration_folds_and_keep_label_examples() {
        let y: Vec<u32> = (0..60).map(|i| (i % 3) as u32).chain([0, 1, 2]).collect();
        let n_real = 60;
        let cfg = TrainConfig {
            bag_mix: 0.5,
            ..TrainConfig::default()
        };
        let folds = stratified_folds(&y[..n_real], 3, cfg.cv_folds, cfg.seed);
        let bags = bag_rows(&y, n_real, 3, &cfg);
        assert_eq!(bags.len(), cfg.cv_folds);
        for (j, bag) in bags.iter().enumerate() {
            let rows = bag.as_ref().expect("fold bags select rows");
            let want: Vec<usize> = (0..n_real)
                .filter(|&i| folds[i] != j)
                .chain(n_real..y.len())
                .collect();
            assert_eq!(rows, &want, "bag {j}");
        }
        // Bootstrap bags keep every class at its size, plus the label rows.
        let boot = TrainConfig {
            bag_kind: BagKind::Bootstrap,
            bag_count: 3,
            ..cfg.clone()
        };
        for bag in bag_rows(&y, n_real, 3, &boot) {
            let rows = bag.expect("bootstrap selects rows");
            assert_eq!(rows.len(), y.len());
            for c in 0..3u32 {
                let n = rows[..n_real].iter().filter(|&&r| y[r] == c).count();
                assert_eq!(n, 20);
            }
            assert!(rows[..n_real].iter().all(|&r| r < n_real));
            assert_eq!(&rows[n_real..], &[60, 61, 62]);
        }
        // Seed bags use every row.
        let seeds = TrainConfig {
            bag_kind: BagKind::Seeds,
            bag_count: 4,
            ..cfg
        };
        let b = bag_rows(&y, n_real, 3, &seeds);
        assert_eq!(b.len(), 4);
        assert!(b.iter().all(Option::is_none));
    }

    #[test]
    fn bagging_changes_the_final_model_but_not_the_out_of_fold_calibration() {
        let off = train(&toy(), &TrainConfig::default(), &mut |_| {}).expect("train");
        for kind in [BagKind::Folds, BagKind::Seeds, BagKind::Bootstrap] {
            for lambda in [0.5, 1.0] {
                let cfg = TrainConfig {
                    bag_mix: lambda,
                    bag_kind: kind,
                    ..TrainConfig::default()
                };
                let on = train(&toy(), &cfg, &mut |_| {}).expect("train");
                // The calibration margins still come from single fold models that
                // never saw the examples they score: the very same points.
                assert_eq!(on.oof, off.oof, "{kind:?} {lambda}");
                let ex = toy();
                let d = label_examples(&ex).expect("labels");
                let raw = |c: &TrainConfig| {
                    let mut quiet = |_: TrainProgress| {};
                    oof_and_final(&d, c, 5, true, false, &mut quiet).0
                };
                assert_eq!(raw(&cfg), raw(&TrainConfig::default()), "{kind:?} {lambda}");
                assert_eq!(on.meta().temperature, off.meta().temperature);
                // The final weights are not the unbagged ones.
                assert_ne!(on.core.q, off.core.q, "{kind:?} {lambda}");
                assert_eq!(on.predict("bail de location").top[0].label, "logement");
                assert_eq!(on.predict("impot sur le revenu").top[0].label, "impots");
            }
        }
    }

    #[test]
    fn bagged_training_does_not_depend_on_the_thread_count() {
        let cfg = |threads| TrainConfig {
            bag_mix: 0.5,
            threads,
            ..TrainConfig::default()
        };
        let a = train(&toy(), &cfg(1), &mut |_| {}).expect("train");
        let b = train(&toy(), &cfg(2), &mut |_| {}).expect("train");
        let c = train(&toy(), &cfg(3), &mut |_| {}).expect("train");
        assert_eq!(a.core.q, b.core.q);
        assert_eq!(a.core.q, c.core.q);
        assert_eq!(a.core.bias, c.core.bias);
        // Cross-validation bags each fold model inside its own training part.
        let cv_off = cross_validate(&toy(), &TrainConfig::default(), 4).expect("cv");
        let cv_on = cross_validate(&toy(), &cfg(2), 4).expect("cv");
        assert!(cv_on.accuracy > 0.8, "{cv_on:?}");
        assert_eq!(cv_on.folds, cv_off.folds);
    }

    #[test]
    fn metadata_without_bagging_fields_reads_as_unbagged() {
        let mut v = serde_json::to_value(TrainConfig {
            bag_mix: 0.5,
            ..TrainConfig::default()
        })
        .expect("json");
        let o = v.as_object_mut().expect("object");
        for k in ["bag_mix", "bag_kind", "bag_count"] {
            o.remove(k);
        }
        let old: TrainConfig = serde_json::from_value(v).expect("config");
        assert_eq!(old.bag_mix, 0.0);
        let kind: BagKind = serde_json::from_str("\"bootstrap\"").expect("kind");
        assert_eq!(kind, BagKind::Bootstrap);
    }

    #[test]
    fn standardised_mix_is_linear_and_keeps_the_first_members_scale() {
        let mut x = Csr::new(5);
        let rows = [
            vec![(0u32, 0.6f32), (4, 0.8)],
            vec![(1, 1.0)],
            vec![(2, 0.5), (3, 0.5), (4, 0.7)],
        ];
        for r in &rows {
            x.push_row(r);
        }
        let member = |f: f32| -> Vec<svm::ClassWeights> {
            (0..2)
                .map(|c| svm::ClassWeights {
                    w: (0..5)
                        .map(|j| f * ((j * 3 + c * 7) % 5) as f32 - 1.0)
                        .collect(),
                    b: f * c as f32,
                })
                .collect()
        };
        let (a, b) = (member(1.0), member(-3.0));
        let (sa, sb) = (
            crate::lr::margin_spread(&x, &a),
            crate::lr::margin_spread(&x, &b),
        );
        for mu in [0.0f32, 0.4, 1.0] {
            let mut m: Vec<svm::ClassWeights> = a
                .iter()
                .map(|c| svm::ClassWeights {
                    w: c.w.clone(),
                    b: c.b,
                })
                .collect();
            mix_standardised(&mut m, &b, &x, mu);
            for r in &rows {
                let (got, fa, fb) = (
                    linear_scores(&m, r),
                    linear_scores(&a, r),
                    linear_scores(&b, r),
                );
                for c in 0..2 {
                    let want = (1.0 - mu) * fa[c] + mu * sa / sb * fb[c];
                    assert!((got[c] - want).abs() < 1e-4, "μ {mu}: {} vs {want}", got[c]);
                }
            }
            if mu == 1.0 {
                // The second member alone, on the first one's margin scale.
                let s = crate::lr::margin_spread(&x, &m);
                assert!((s - sa).abs() < 1e-4 * sa, "{s} vs {sa}");
            }
        }
    }

    #[test]
    fn logistic_member_enters_every_fit_including_the_calibration_folds() {
        let cfg = TrainConfig {
            lr_mix: 0.5,
            ..TrainConfig::default()
        };
        let off = train(&toy(), &TrainConfig::default(), &mut |_| {}).expect("train");
        let on = train(&toy(), &cfg, &mut |_| {}).expect("train");
        // The out-of-fold margins come from mixed fold models (so the temperature
        // is fitted on the model family that predicts), not from plain SVMs.
        let ex = toy();
        let d = label_examples(&ex).expect("labels");
        let mut quiet = |_: TrainProgress| {};
        let (s_on, _) = oof_and_final(&d, &cfg, 5, true, false, &mut quiet);
        let (s_off, _) = oof_and_final(&d, &TrainConfig::default(), 5, true, false, &mut quiet);
        assert_eq!(s_on.len(), s_off.len());
        assert_ne!(s_on, s_off);
        assert_ne!(on.core.q, off.core.q);
        assert!(on.meta().cv.accuracy > 0.8, "{:?}", on.meta().cv);
        // Deterministic and independent of the thread count.
        let two = train(
            &toy(),
            &TrainConfig {
                threads: 2,
                ..cfg.clone()
            },
            &mut |_| {},
        )
        .expect("train");
        let one = train(&toy(), &TrainConfig { threads: 1, ..cfg }, &mut |_| {}).expect("train");
        assert_eq!(one.oof, two.oof);
        assert_eq!(one.core.q, two.core.q);
        // A model file written before the field existed reads as no LR member.
        let mut v = serde_json::to_value(TrainConfig::default()).expect("json");
        v.as_object_mut().expect("object").remove("lr_mix");
        let old: TrainConfig = serde_json::from_value(v).expect("config");
        assert_eq!(old.lr_mix, 0.0);
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
}
