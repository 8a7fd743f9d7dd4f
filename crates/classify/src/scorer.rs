//! The linear scorer a model file holds: vocabulary, IDF and i8-quantised class
//! weights stored feature-major, and the TF-IDF vectorisation that feeds them. This
//! is all prediction needs; training (`train.rs`) builds it, `format.rs` stores it.

use crate::features::{self, FeatureSpec, N_VIEWS, VIEW_WORD};
use crate::svm;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

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
pub(crate) fn quantize(core: &mut Core, ws: &[svm::ClassWeights], prune: f32) {
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
}
