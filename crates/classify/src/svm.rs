//! One-vs-rest linear SVM (L2-regularised, squared hinge loss) trained by dual
//! coordinate descent with shrinking — the algorithm of liblinear's solver 1
//! (Hsieh et al., ICML 2008). Hand-written because it is the product's core and a
//! few hundred lines here avoid a native dependency; it is fast on sparse short texts
//! because most negatives leave the active set after one or two passes.

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
    /// The given rows, in that order (repeats allowed; out-of-range rows skipped).
    pub fn select(&self, rows: &[usize]) -> Csr {
        let mut out = Csr::new(self.n_features);
        for &r in rows.iter().filter(|&&r| r < self.rows()) {
            let (a, b) = (self.indptr[r], self.indptr[r + 1]);
            out.indices.extend_from_slice(&self.indices[a..b]);
            out.values.extend_from_slice(&self.values[a..b]);
            out.indptr.push(out.indices.len());
        }
        out
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
    /// NB log-count-ratio scaling strength (0 = off), see `TrainConfig::nb`.
    pub nb: f32,
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

/// Trains one binary problem; returns (weights, bias weight).
fn solve_binary(x: &Csr, y: &[i8], cp: f64, cn: f64, p: &SvmParams, seed: u64) -> (Vec<f32>, f32) {
    let l = x.rows();
    let mut w = vec![0f64; x.n_features];
    let mut wb = 0f64;
    let mut alpha = vec![0f64; l];
    let bias = f64::from(p.bias);
    let diag: Vec<f64> = y
        .iter()
        .map(|&yi| if yi > 0 { 0.5 / cp } else { 0.5 / cn })
        .collect();
    let qd: Vec<f64> = (0..l)
        .map(|i| {
            let (_, v) = x.row(i);
            diag[i] + v.iter().map(|&a| f64::from(a) * f64::from(a)).sum::<f64>() + bias * bias
        })
        .collect();
    let mut index: Vec<usize> = (0..l).collect();
    let mut active = l;
    let mut pg_max_old = f64::INFINITY;
    let mut pg_min_old = f64::NEG_INFINITY;
    let mut rng = Rng::new(seed);
    let mut iter = 0;
    while iter < p.max_iter {
        let mut pg_max_new = f64::NEG_INFINITY;
        let mut pg_min_new = f64::INFINITY;
        rng.shuffle(&mut index[..active]);
        let mut s = 0;
        while s < active {
            let i = index[s];
            let yi = f64::from(y[i]);
            let (idx, val) = x.row(i);
            let mut dot = wb * bias;
            for (&j, &v) in idx.iter().zip(val) {
                dot += w[j as usize] * f64::from(v);
            }
            let g = yi * dot - 1.0 + alpha[i] * diag[i];
            let mut pg = 0.0;
            if alpha[i] == 0.0 {
                if g > pg_max_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                } else if g < 0.0 {
                    pg = g;
                }
            } else {
                pg = g;
            }
            pg_max_new = pg_max_new.max(pg);
            pg_min_new = pg_min_new.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).max(0.0);
                let d = (alpha[i] - old) * yi;
                for (&j, &v) in idx.iter().zip(val) {
                    w[j as usize] += d * f64::from(v);
                }
                wb += d * bias;
            }
            s += 1;
        }
        iter += 1;
        if pg_max_new - pg_min_new <= p.eps {
            if active == l {
                break;
            }
            active = l;
            pg_max_old = f64::INFINITY;
            pg_min_old = f64::NEG_INFINITY;
            continue;
        }
        pg_max_old = if pg_max_new <= 0.0 {
            f64::INFINITY
        } else {
            pg_max_new
        };
        pg_min_old = if pg_min_new >= 0.0 {
            f64::NEG_INFINITY
        } else {
            pg_min_new
        };
    }
    let _ = pg_min_old;
    (
        w.into_iter().map(|v| v as f32).collect(),
        (wb * bias) as f32,
    )
}

/// Per-feature scaling of one binary problem: `(1 - nb) + nb * r / mean|r|` with r the
/// log ratio of the feature's smoothed document frequency in the positive vs the
/// negative examples (Wang & Manning 2012, binarised counts, alpha = 1). The mean is
/// over features seen in the positive class, so the scale stays comparable to 1 and
/// the same C works with and without it.
fn nb_scale(x: &Csr, y: &[i8], df_all: &[f32], nb: f32) -> Vec<f32> {
    let nf = x.n_features;
    let mut pos = vec![0f32; nf];
    for (r, &yi) in y.iter().enumerate() {
        if yi > 0 {
            let (idx, _) = x.row(r);
            idx.iter().for_each(|&j| pos[j as usize] += 1.0);
        }
    }
    let (sp, sa): (f32, f32) = (pos.iter().sum(), df_all.iter().sum());
    let (np, nn) = (sp + nf as f32, (sa - sp) + nf as f32);
    let mut r: Vec<f32> = pos
        .iter()
        .zip(df_all)
        .map(|(&p, &a)| ((p + 1.0) / np).ln() - ((a - p + 1.0) / nn).ln())
        .collect();
    let (mut sum, mut cnt) = (0f32, 0usize);
    for (rv, &p) in r.iter().zip(&pos) {
        if p > 0.0 {
            sum += rv.abs();
            cnt += 1;
        }
    }
    let mean = if cnt > 0 && sum > 0.0 {
        sum / cnt as f32
    } else {
        1.0
    };
    r.iter_mut().for_each(|v| *v = (1.0 - nb) + nb * *v / mean);
    r
}

/// Weights of one class: dense over features, plus the bias term (already
/// multiplied by the bias feature value).
pub struct ClassWeights {
    pub w: Vec<f32>,
    pub b: f32,
}

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

/// Trains one binary SVM per class, spreading classes over `threads` OS threads.
pub fn train_ovr(
    x: &Csr,
    y: &[u32],
    n_classes: usize,
    p: &SvmParams,
    threads: usize,
) -> Vec<ClassWeights> {
    let n = y.len().max(1) as f64;
    let mut counts = vec![0usize; n_classes];
    for &c in y {
        counts[c as usize] += 1;
    }
    // Document frequency of each feature, overall and per class (for NB scaling).
    let nb_on = p.nb > 0.0;
    let mut df_all = vec![0f32; if nb_on { x.n_features } else { 0 }];
    if nb_on {
        x.indices.iter().for_each(|&j| df_all[j as usize] += 1.0);
    }
    let solve = |c: usize| -> ClassWeights {
        let yy: Vec<i8> = y
            .iter()
            .map(|&l| if l as usize == c { 1 } else { -1 })
            .collect();
        let scale = nb_on.then(|| nb_scale(x, &yy, &df_all, p.nb));
        let scaled;
        let xc = match &scale {
            Some(s) => {
                let mut xs = x.clone();
                for (v, &j) in xs.values.iter_mut().zip(&x.indices) {
                    *v *= s[j as usize];
                }
                scaled = xs;
                &scaled
            }
            None => x,
        };
        let cp = if p.balanced && counts[c] > 0 {
            p.c * n / (n_classes as f64 * counts[c] as f64)
        } else {
            p.c
        };
        let (mut w, b) = solve_binary(
            xc,
            &yy,
            cp,
            p.c,
            p,
            p.seed ^ (c as u64).wrapping_mul(0x9e37),
        );
        if let Some(s) = &scale {
            w.iter_mut().zip(s).for_each(|(w, s)| *w *= s);
        }
        ClassWeights { w, b }
    };
    let threads = threads.clamp(1, n_classes.max(1));
    if threads == 1 {
        return (0..n_classes).map(solve).collect();
    }
    let mut out: Vec<Option<ClassWeights>> = (0..n_classes).map(|_| None).collect();
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let solve = &solve;
                sc.spawn(move || {
                    (t..n_classes)
                        .step_by(threads)
                        .map(|c| (c, solve(c)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            // A panic in a worker is a bug in this module; propagate it as is.
            for (c, cw) in h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                out[c] = Some(cw);
            }
        }
    });
    out.into_iter()
        .map(|o| {
            o.unwrap_or_else(|| ClassWeights {
                w: vec![0.0; x.n_features],
                b: 0.0,
            })
        })
        .collect()
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
    fn separates_a_toy_problem() {
        // Three classes, each owning one feature, plus a shared noise feature.
        let mut x = Csr::new(4);
        let mut y = Vec::new();
        for k in 0..30u32 {
            let c = k % 3;
            x.push_row(&[(c, 1.0), (3, 0.3)]);
            y.push(c);
        }
        let p = SvmParams {
            c: 1.0,
            balanced: false,
            max_iter: 200,
            eps: 0.01,
            bias: 1.0,
            seed: 7,
            nb: 0.0,
        };
        let ws = train_ovr(&x, &y, 3, &p, 2);
        for r in 0..x.rows() {
            let (idx, val) = x.row(r);
            let scores: Vec<f32> = ws.iter().map(|cw| cw.score(idx, val)).collect();
            let best = (0..3)
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .unwrap_or(0);
            assert_eq!(best as u32, y[r]);
            // Margin reached: the true class scores positive, others negative.
            assert!(scores[y[r] as usize] > 0.5, "{scores:?}");
        }
        // Single-thread gives the same weights (determinism).
        let ws1 = train_ovr(&x, &y, 3, &p, 1);
        assert_eq!(ws1[1].w, ws[1].w);
    }

    #[test]
    fn nb_scale_favours_features_of_the_positive_class() {
        // Feature 0 only in positives, 1 only in negatives, 2 everywhere.
        let mut x = Csr::new(3);
        let mut y = Vec::new();
        for k in 0..20 {
            if k % 2 == 0 {
                x.push_row(&[(0, 0.5), (2, 0.5)]);
                y.push(1i8);
            } else {
                x.push_row(&[(1, 0.5), (2, 0.5)]);
                y.push(-1i8);
            }
        }
        let mut df = vec![0f32; 3];
        x.indices.iter().for_each(|&j| df[j as usize] += 1.0);
        let s = nb_scale(&x, &y, &df, 1.0);
        assert!(s[0] > 0.5, "{s:?}");
        assert!(s[1] < -0.5, "{s:?}");
        assert!(s[2].abs() < 0.2, "{s:?}");
        // Half strength interpolates towards 1; zero strength is the plain SVM.
        let h = nb_scale(&x, &y, &df, 0.5);
        assert!((h[0] - (0.5 + 0.5 * s[0])).abs() < 1e-5);
        assert!(nb_scale(&x, &y, &df, 0.0).iter().all(|&v| v == 1.0));
        // Training with NB scaling still separates the toy problem.
        let yc: Vec<u32> = y.iter().map(|&v| u32::from(v > 0)).collect();
        let p = SvmParams {
            c: 1.0,
            balanced: false,
            max_iter: 200,
            eps: 0.01,
            bias: 1.0,
            seed: 3,
            nb: 1.0,
        };
        let ws = train_ovr(&x, &yc, 2, &p, 1);
        assert!(ws[1].w[0] > ws[1].w[1], "{:?}", ws[1].w);
    }

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
            nb: 0.0,
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
