//! Latent semantic directions of the training matrix, for a folded-in LSA view.
//!
//! With ~13 examples per class, words that co-occur in other training texts are
//! evidence the SVM cannot use on its own. Appending the projection `z = Vᵀx` on the
//! top right singular vectors V of the training matrix gives it that view; since `z`
//! is linear in `x`, the learnt weights fold back as `w + V w_z` and prediction is
//! unchanged in cost and in the model file.
//!
//! Randomised SVD (Halko, Martinsson & Tropp 2011): a Gaussian-like sketch, two
//! power iterations, a Gram–Schmidt basis and a Jacobi eigensolver on a small
//! `l × l` matrix. Hand-written: a few dozen lines instead of a LAPACK dependency.

use crate::svm::{Csr, Rng};

/// Top `r` right singular vectors of `x` (each of length `x.n_features`, unit norm,
/// mutually orthogonal up to rounding), largest singular value first. Fewer are
/// returned when the matrix has lower rank than `r`.
pub(crate) fn top_right_singular(x: &Csr, r: usize, seed: u64) -> Vec<Vec<f32>> {
    let (n, nf) = (x.rows(), x.n_features);
    let l = (r + 10).min(n).min(nf);
    if r == 0 || l == 0 {
        return Vec::new();
    }
    let mut rng = Rng::new(seed ^ 0x5eed_15a0);
    // Sketch Y = X Ω, Ω nf × l uniform in [-1, 1] (l columns stored row-major per row).
    let omega: Vec<f32> = (0..nf * l)
        .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect();
    let mut y = vec![0f32; n * l];
    for i in 0..n {
        let (idx, val) = x.row(i);
        let yi = &mut y[i * l..(i + 1) * l];
        for (&j, &v) in idx.iter().zip(val) {
            let o = &omega[j as usize * l..(j as usize + 1) * l];
            yi.iter_mut().zip(o).for_each(|(a, b)| *a += v * b);
        }
    }
    let mut t = vec![0f32; nf * l];
    for _ in 0..2 {
        orthonormalize(&mut y, n, l);
        // T = Xᵀ Y, then Y = X T.
        t.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..n {
            let (idx, val) = x.row(i);
            let yi = &y[i * l..(i + 1) * l];
            for (&j, &v) in idx.iter().zip(val) {
                let tj = &mut t[j as usize * l..(j as usize + 1) * l];
                tj.iter_mut().zip(yi).for_each(|(a, b)| *a += v * b);
            }
        }
        y.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..n {
            let (idx, val) = x.row(i);
            let yi = &mut y[i * l..(i + 1) * l];
            for (&j, &v) in idx.iter().zip(val) {
                let tj = &t[j as usize * l..(j as usize + 1) * l];
                yi.iter_mut().zip(tj).for_each(|(a, b)| *a += v * b);
            }
        }
    }
    orthonormalize(&mut y, n, l);
    // Bᵀ = Xᵀ Q (nf × l); B Bᵀ (l × l) has the squared singular values.
    let mut bt = vec![0f64; nf * l];
    for i in 0..n {
        let (idx, val) = x.row(i);
        let qi = &y[i * l..(i + 1) * l];
        for (&j, &v) in idx.iter().zip(val) {
            let bj = &mut bt[j as usize * l..(j as usize + 1) * l];
            bj.iter_mut()
                .zip(qi)
                .for_each(|(a, &b)| *a += f64::from(v) * f64::from(b));
        }
    }
    let mut g = vec![0f64; l * l];
    for row in bt.chunks_exact(l) {
        for a in 0..l {
            if row[a] == 0.0 {
                continue;
            }
            for b in a..l {
                g[a * l + b] += row[a] * row[b];
            }
        }
    }
    for a in 0..l {
        for b in 0..a {
            g[a * l + b] = g[b * l + a];
        }
    }
    let (eval, evec) = jacobi_eigen(g, l);
    let mut order: Vec<usize> = (0..l).collect();
    order.sort_by(|&a, &b| eval[b].total_cmp(&eval[a]));
    let top = eval.iter().copied().fold(0f64, f64::max);
    let mut out = Vec::new();
    for &k in order.iter().take(r) {
        if eval[k] <= top * 1e-10 || eval[k] <= 0.0 {
            break;
        }
        // v = Bᵀ u / σ.
        let s = eval[k].sqrt();
        let v: Vec<f32> = bt
            .chunks_exact(l)
            .map(|row| {
                let d: f64 = (0..l).map(|a| row[a] * evec[a * l + k]).sum();
                (d / s) as f32
            })
            .collect();
        out.push(v);
    }
    out
}

/// Modified Gram–Schmidt on the `l` columns of a row-major `n × l` matrix; columns
/// that vanish (rank deficiency) are set to zero.
fn orthonormalize(y: &mut [f32], n: usize, l: usize) {
    for c in 0..l {
        for p in 0..c {
            let d: f64 = (0..n)
                .map(|i| f64::from(y[i * l + c]) * f64::from(y[i * l + p]))
                .sum();
            let d = d as f32;
            (0..n).for_each(|i| y[i * l + c] -= d * y[i * l + p]);
        }
        let norm = (0..n)
            .map(|i| f64::from(y[i * l + c]).powi(2))
            .sum::<f64>()
            .sqrt();
        let inv = if norm > 1e-8 {
            (1.0 / norm) as f32
        } else {
            0.0
        };
        (0..n).for_each(|i| y[i * l + c] *= inv);
    }
}

/// Cyclic Jacobi eigen-decomposition of a symmetric `l × l` matrix (row-major):
/// eigenvalues and eigenvectors as columns of the returned matrix.
fn jacobi_eigen(mut a: Vec<f64>, l: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; l * l];
    (0..l).for_each(|i| v[i * l + i] = 1.0);
    for _ in 0..30 {
        let off: f64 = (0..l)
            .flat_map(|p| (0..l).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p * l + q] * a[p * l + q])
            .sum();
        let diag: f64 = (0..l).map(|p| a[p * l + p] * a[p * l + p]).sum();
        if off <= 1e-24 * diag.max(1e-300) {
            break;
        }
        for p in 0..l {
            for q in p + 1..l {
                let apq = a[p * l + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * l + q] - a[p * l + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..l {
                    let (akp, akq) = (a[k * l + p], a[k * l + q]);
                    a[k * l + p] = c * akp - s * akq;
                    a[k * l + q] = s * akp + c * akq;
                }
                for k in 0..l {
                    let (apk, aqk) = (a[p * l + k], a[q * l + k]);
                    a[p * l + k] = c * apk - s * aqk;
                    a[q * l + k] = s * apk + c * aqk;
                }
                for k in 0..l {
                    let (vkp, vkq) = (v[k * l + p], v[k * l + q]);
                    v[k * l + p] = c * vkp - s * vkq;
                    v[k * l + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..l).map(|i| a[i * l + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_diagonalises_a_symmetric_matrix() {
        let a = vec![4.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 2.0];
        let (e, v) = jacobi_eigen(a.clone(), 3);
        for k in 0..3 {
            for i in 0..3 {
                let av: f64 = (0..3).map(|j| a[i * 3 + j] * v[j * 3 + k]).sum();
                assert!((av - e[k] * v[i * 3 + k]).abs() < 1e-9);
            }
        }
        let mut s = e.clone();
        s.sort_by(f64::total_cmp);
        // Trace is preserved.
        assert!((s.iter().sum::<f64>() - 9.0).abs() < 1e-9);
    }

    #[test]
    fn finds_the_dominant_directions_of_a_low_rank_matrix() {
        // Rows are multiples of two orthogonal patterns over 6 features (plus a
        // weaker third): the top-2 vectors must span the first two patterns.
        let p1 = [1.0f32, 1.0, 0.0, 0.0, 0.0, 0.0];
        let p2 = [0.0f32, 0.0, 1.0, 1.0, 1.0, 0.0];
        let mut x = Csr::new(6);
        for i in 0..30 {
            let (a, b) = (3.0 + (i % 5) as f32, 2.0 + (i % 3) as f32);
            let row: Vec<(u32, f32)> = (0..6)
                .map(|j| {
                    (
                        j as u32,
                        a * p1[j] + b * p2[j] + if j == 5 { 0.1 } else { 0.0 },
                    )
                })
                .filter(|e| e.1 != 0.0)
                .collect();
            x.push_row(&row);
        }
        let v = top_right_singular(&x, 2, 1);
        assert_eq!(v.len(), 2);
        for (k, vk) in v.iter().enumerate() {
            let norm: f32 = vk.iter().map(|a| a * a).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-3, "{norm}");
            // Lies in span(p1, p2) up to the weak 6th feature.
            assert!(vk[0].abs() > 0.05 || vk[2].abs() > 0.05, "{k}: {vk:?}");
            assert!((vk[0] - vk[1]).abs() < 1e-3 && (vk[2] - vk[3]).abs() < 1e-3);
            assert!((vk[3] - vk[4]).abs() < 1e-3);
        }
        let dot: f32 = v[0].iter().zip(&v[1]).map(|(a, b)| a * b).sum();
        assert!(dot.abs() < 1e-3);
        // Empty and rank-0 inputs give nothing, without panicking.
        assert!(top_right_singular(&Csr::new(4), 3, 1).is_empty());
        assert!(top_right_singular(&x, 0, 1).is_empty());
    }
}
