//! The Crammer–Singer multiclass linear SVM (L2-regularised, hinge loss) trained by
//! dual coordinate descent with shrinking, liblinear's solver 4 (Keerthi et al.,
//! KDD 2008). Hand-written because it is the product's core and a few hundred lines
//! here avoid a native dependency. The one-vs-rest solver and NB scaling that were
//! tried beside it are in the `classifier-experiments` tag (docs/CLASSIFIER.md).

/// Sparse row-major matrix of training vectors.
#[derive(Default, Debug, Clone)]
pub struct Csr {
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
    pub n_features: usize,
}

impl Csr {
    pub fn new(n_features: usize) -> Self {
        Csr {
            indptr: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
            n_features,
        }
    }
    pub fn push_row(&mut self, row: &[(u32, f32)]) {
        for &(i, v) in row {
            self.indices.push(i);
            self.values.push(v);
        }
        self.indptr.push(self.indices.len());
    }
    pub fn rows(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }
    #[inline]
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }
}

#[derive(Clone, Copy, Debug)]
pub struct SvmParams {
    pub c: f64,
    /// Multiply the positive-class C by n / (n_classes * n_c): rare classes count as
    /// much as frequent ones, which is what macro-F1 (and a mailbox) cares about.
    pub balanced: bool,
    pub max_iter: usize,
    pub eps: f64,
    pub bias: f32,
    pub seed: u64,
}

/// Small deterministic PRNG (splitmix64): training must be reproducible.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Weights of one class: dense over features, plus the bias term (already
/// multiplied by the bias feature value).
pub struct ClassWeights {
    pub w: Vec<f32>,
    pub b: f32,
}

#[cfg(test)]
impl ClassWeights {
    /// The linear score of one sparse row (`Csr::row`); a feature beyond the
    /// weights scores 0.
    pub fn score(&self, idx: &[u32], val: &[f32]) -> f32 {
        self.b
            + idx
                .iter()
                .zip(val)
                .map(|(&j, &v)| self.w.get(j as usize).copied().unwrap_or(0.0) * v)
                .sum::<f32>()
    }
}

/// Crammer–Singer multiclass SVM (one joint problem, hinge loss) by the dual
/// coordinate descent of Keerthi et al. (KDD 2008), as in liblinear's solver 4, with
/// its shrinking of classes per example and of examples. The bias is a constant
/// extra feature (regularised, as in liblinear). With few examples per class the
/// classes compete for each example instead of each seeing a 1-vs-rest imbalance.
pub fn train_cs(x: &Csr, y: &[u32], n_classes: usize, p: &SvmParams) -> Vec<ClassWeights> {
    let l = x.rows();
    let k = n_classes.max(1);
    let nf = x.n_features;
    let bias = f64::from(p.bias);
    // Weights feature-major: w[j * k + m]; feature nf is the bias.
    let mut w = vec![0f64; (nf + 1) * k];
    let mut counts = vec![0usize; k];
    for &c in y {
        counts[c as usize] += 1;
    }
    let cw: Vec<f64> = (0..k)
        .map(|c| {
            if p.balanced && counts[c] > 0 {
                p.c * l as f64 / (k as f64 * counts[c] as f64)
            } else {
                p.c
            }
        })
        .collect();
    let qd: Vec<f64> = (0..l)
        .map(|i| {
            let (_, v) = x.row(i);
            v.iter().map(|&a| f64::from(a) * f64::from(a)).sum::<f64>() + bias * bias
        })
        .collect();
    let mut alpha = vec![0f64; l * k];
    let mut alpha_index: Vec<u32> = (0..l).flat_map(|_| 0..k as u32).collect();
    let mut y_index: Vec<usize> = y.iter().map(|&c| c as usize).collect();
    let mut active_i = vec![k; l];
    let mut index: Vec<usize> = (0..l).collect();
    let mut active = l;
    let mut g = vec![0f64; k];
    let mut b = vec![0f64; k];
    let mut d = vec![0f64; k];
    let mut alpha_new = vec![0f64; k];
    let mut d_ind: Vec<usize> = Vec::with_capacity(k);
    let mut d_val: Vec<f64> = Vec::with_capacity(k);
    let mut eps_shrink = (10.0 * p.eps).max(1.0);
    let mut start_from_all = true;
    let mut rng = Rng::new(p.seed);
    let mut iter = 0;
    while iter < p.max_iter {
        let mut stopping = f64::NEG_INFINITY;
        rng.shuffle(&mut index[..active]);
        let mut s = 0;
        while s < active {
            let i = index[s];
            let ai = qd[i];
            let yi = y[i] as usize;
            let ci = cw[yi];
            let ais = &mut alpha_index[i * k..(i + 1) * k];
            let al = &mut alpha[i * k..(i + 1) * k];
            let na = active_i[i];
            for m in 0..na {
                g[m] = if ais[m] as usize == yi { 0.0 } else { 1.0 };
            }
            if ai > 0.0 {
                let (idx, val) = x.row(i);
                for (&j, &v) in idx.iter().zip(val) {
                    let row = &w[j as usize * k..(j as usize + 1) * k];
                    let v = f64::from(v);
                    for m in 0..na {
                        g[m] += row[ais[m] as usize] * v;
                    }
                }
                let row = &w[nf * k..(nf + 1) * k];
                for m in 0..na {
                    g[m] += row[ais[m] as usize] * bias;
                }
            }
            let mut min_g = f64::INFINITY;
            let mut max_g = f64::NEG_INFINITY;
            for m in 0..na {
                if al[ais[m] as usize] < 0.0 && g[m] < min_g {
                    min_g = g[m];
                }
                if g[m] > max_g {
                    max_g = g[m];
                }
            }
            let mut yx = y_index[i];
            if yx < na && al[yi] < ci && g[yx] < min_g {
                min_g = g[yx];
            }
            let mut na = na;
            let mut m = 0;
            while m < na {
                let cls = ais[m] as usize;
                let bound = if cls == yi { ci } else { 0.0 };
                if al[cls] == bound && g[m] < min_g {
                    na -= 1;
                    while na > m {
                        let cn = ais[na] as usize;
                        let bn = if cn == yi { ci } else { 0.0 };
                        if !(al[cn] == bn && g[na] < min_g) {
                            break;
                        }
                        na -= 1;
                    }
                    ais.swap(m, na);
                    g.swap(m, na);
                    if yx == na {
                        yx = m;
                    } else if yx == m {
                        yx = na;
                    }
                }
                m += 1;
            }
            active_i[i] = na;
            y_index[i] = yx;
            if na <= 1 {
                active -= 1;
                index.swap(s, active);
                continue;
            }
            s += 1;
            if max_g - min_g <= 1e-12 {
                continue;
            }
            stopping = stopping.max(max_g - min_g);
            for m in 0..na {
                b[m] = g[m] - ai * al[ais[m] as usize];
            }
            // Sub-problem (liblinear `solve_sub_problem`).
            d[..na].copy_from_slice(&b[..na]);
            if yx < na {
                d[yx] += ai * ci;
            }
            d[..na].sort_unstable_by(|a, b| b.total_cmp(a));
            let mut beta = d[0] - ai * ci;
            let mut r = 1;
            while r < na && beta < r as f64 * d[r] {
                beta += d[r];
                r += 1;
            }
            beta /= r as f64;
            for m in 0..na {
                let v = (beta - b[m]) / ai;
                alpha_new[m] = if m == yx { v.min(ci) } else { v.min(0.0) };
            }
            d_ind.clear();
            d_val.clear();
            for m in 0..na {
                let cls = ais[m] as usize;
                let delta = alpha_new[m] - al[cls];
                al[cls] = alpha_new[m];
                if delta.abs() > 1e-12 {
                    d_ind.push(cls);
                    d_val.push(delta);
                }
            }
            let (idx, val) = x.row(i);
            for (&j, &v) in idx.iter().zip(val) {
                let row = &mut w[j as usize * k..(j as usize + 1) * k];
                for (&c, &dv) in d_ind.iter().zip(&d_val) {
                    row[c] += dv * f64::from(v);
                }
            }
            let row = &mut w[nf * k..(nf + 1) * k];
            for (&c, &dv) in d_ind.iter().zip(&d_val) {
                row[c] += dv * bias;
            }
        }
        iter += 1;
        if stopping < eps_shrink {
            if stopping < p.eps && start_from_all {
                break;
            }
            active = l;
            active_i.iter_mut().for_each(|a| *a = k);
            eps_shrink = (eps_shrink / 2.0).max(p.eps);
            start_from_all = true;
        } else {
            start_from_all = false;
        }
    }
    (0..k)
        .map(|c| ClassWeights {
            w: (0..nf).map(|j| w[j * k + c] as f32).collect(),
            b: (w[nf * k + c] * bias) as f32,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crammer_singer_separates_a_toy_problem_deterministically() {
        let mut x = Csr::new(4);
        let mut y = Vec::new();
        for k in 0..30u32 {
            let c = k % 3;
            x.push_row(&[(c, 1.0), (3, 0.3)]);
            y.push(c);
        }
        let p = SvmParams {
            c: 1.0,
            balanced: true,
            max_iter: 200,
            eps: 0.01,
            bias: 1.0,
            seed: 7,
        };
        let ws = train_cs(&x, &y, 3, &p);
        for (r, &t) in y.iter().enumerate() {
            let (idx, val) = x.row(r);
            let s: Vec<f32> = ws.iter().map(|cw| cw.score(idx, val)).collect();
            let t = t as usize;
            // Multiclass margin: the true class beats every other by about 1.
            for (m, &v) in s.iter().enumerate() {
                if m != t {
                    assert!(s[t] - v > 0.9, "{s:?}");
                }
            }
        }
        // The dual keeps sum over classes of w = 0 (each example's alphas sum to 0).
        for j in 0..4 {
            let sum: f32 = ws.iter().map(|cw| cw.w[j]).sum();
            assert!(sum.abs() < 1e-4, "{sum}");
        }
        assert_eq!(train_cs(&x, &y, 3, &p)[2].w, ws[2].w);
    }
}
