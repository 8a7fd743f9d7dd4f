//! Calibration and abstention: turn SVM margins into probabilities an agent can
//! trust, and pick the confidence below which the model should stay silent.

/// Softmax of `scores / temperature`, in place. Margins of one-vs-rest SVMs are not
/// probabilities; a single temperature fitted on out-of-fold scores makes them so
/// while keeping the ranking (hence monotone in each score).
pub fn softmax_t(scores: &mut [f32], temperature: f32) {
    let t = if temperature.is_finite() && temperature > 1e-6 {
        temperature
    } else {
        1.0
    };
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        let u = 1.0 / scores.len().max(1) as f32;
        scores.iter_mut().for_each(|s| *s = u);
        return;
    }
    let inv = 1.0 / t;
    for s in scores.iter_mut() {
        *s = exp_neg((*s - max) * inv);
    }
    // Eight partial sums: lets the compiler keep the reduction in SIMD registers.
    let mut acc = [0f32; 8];
    let mut chunks = scores.chunks_exact(8);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let sum: f32 = acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>();
    let inv_sum = 1.0 / sum;
    for s in scores.iter_mut() {
        *s *= inv_sum;
    }
}

/// exp(z) for z <= 0 (NaN counts as very negative), branch-free so the softmax loop
/// vectorises: 2^(z log2 e) split into an integer power built in the exponent bits and
/// a degree-6 Taylor polynomial of 2^f on [0, 1) (relative error < 2e-5, far below
/// what calibration resolves, and still monotone). Below -80 it returns 0.
#[inline]
pub(crate) fn exp_neg(z: f32) -> f32 {
    const L: f32 = std::f32::consts::LN_2;
    let z = z.clamp(-80.0, 0.0);
    // `clamp` keeps NaN; map it to the bottom.
    let z = if z.is_nan() { -80.0 } else { z };
    let x = z * std::f32::consts::LOG2_E;
    let t = x as i32; // truncation toward zero; x <= 0 so floor is t or t - 1
    let i = t - i32::from((t as f32) > x);
    let f = x - i as f32;
    let p = 1.0
        + f * (L + f
            * (L * L / 2.0
                + f * (L * L * L / 6.0
                    + f * (L * L * L * L / 24.0
                        + f * (L * L * L * L * L / 120.0 + f * (L * L * L * L * L * L / 720.0))))));
    // z >= -80 gives i >= -116: a normal float exponent.
    f32::from_bits(((i + 127) as u32) << 23) * p
}

/// Mean negative log-likelihood of the true class under temperature `t`.
fn nll(scores: &[Vec<f32>], truth: &[usize], t: f32) -> f64 {
    let mut tot = 0f64;
    let mut buf = Vec::new();
    for (s, &y) in scores.iter().zip(truth) {
        buf.clear();
        buf.extend_from_slice(s);
        softmax_t(&mut buf, t);
        tot -= f64::from(buf.get(y).copied().unwrap_or(0.0).max(1e-12)).ln();
    }
    tot / scores.len().max(1) as f64
}

/// Fits the temperature minimising out-of-fold NLL by golden-section search on
/// log(t); NLL in t is unimodal in practice for linear margins.
pub fn fit_temperature(scores: &[Vec<f32>], truth: &[usize]) -> f32 {
    if scores.is_empty() {
        return 1.0;
    }
    let (mut a, mut b) = ((0.005f64).ln(), (20.0f64).ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let f = |lt: f64| nll(scores, truth, lt.exp() as f32);
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..40 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    (((a + b) / 2.0).exp()) as f32
}

/// Lowest confidence threshold such that predictions at or above it reach
/// `target` precision, chosen on (confidence, correct) pairs. Returns the largest
/// answered set; if no threshold reaches the target, returns a value above 1 so the
/// model always abstains (safe default: a wrong category is worse than none).
pub fn threshold_for_precision(points: &[(f32, bool)], target: f32) -> f32 {
    threshold_where(points, |correct, n| reaches(correct, n, target))
}

/// Largest prefix (by decreasing confidence, cut only between distinct confidence
/// values) whose precision is ≥ target. Returns (size, correct in it).
pub fn best_prefix(points: &[(f32, bool)], target: f32) -> (usize, usize) {
    let (_, k, correct) = largest_prefix(points, |correct, n| reaches(correct, n, target));
    (k, correct)
}

/// Lowest confidence threshold at which the predictions at or above it reach
/// `target` precision *with confidence*: the Wilson lower bound (one-sided, `z`
/// standard errors) of their precision must reach the target, not the observed
/// precision alone. On a few hundred points the observed precision of the chosen
/// prefix is the best of many cut points and overstates what new mail will see;
/// the bound asks for a margin that shrinks as the prefix grows. Same shape of
/// answer as [`threshold_for_precision`] (above 1 when no prefix qualifies).
pub fn threshold_for_precision_bound(points: &[(f32, bool)], target: f32, z: f64) -> f32 {
    threshold_where(points, |correct, n| {
        wilson_lower(correct, n, z) >= f64::from(target) - 1e-9
    })
}

fn reaches(correct: usize, n: usize, target: f32) -> bool {
    correct as f64 >= f64::from(target) * n as f64 - 1e-9
}

/// The lowest confidence of the largest prefix `accept` takes (above 1 when none).
fn threshold_where(points: &[(f32, bool)], accept: impl Fn(usize, usize) -> bool) -> f32 {
    match largest_prefix(points, accept) {
        (_, 0, _) => 1.0 + f32::EPSILON * 4.0,
        (sorted, k, _) => sorted[k - 1].0,
    }
}

/// The points by decreasing confidence, and the largest prefix of them (cut only
/// between distinct confidence values) that `accept(correct, size)` takes: its
/// size and how many in it are correct.
fn largest_prefix(
    points: &[(f32, bool)],
    accept: impl Fn(usize, usize) -> bool,
) -> (Vec<(f32, bool)>, usize, usize) {
    let mut sorted: Vec<(f32, bool)> = points.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut best = (0, 0);
    let mut correct = 0usize;
    for i in 0..sorted.len() {
        if sorted[i].1 {
            correct += 1;
        }
        let boundary = i + 1 == sorted.len() || sorted[i + 1].0 < sorted[i].0;
        if boundary && accept(correct, i + 1) {
            best = (i + 1, correct);
        }
    }
    (sorted, best.0, best.1)
}

/// Wilson score interval's upper bound of a proportion `k / n` (1 when `n` is 0).
pub fn wilson_upper(k: usize, n: usize, z: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    1.0 - wilson_lower(n - k.min(n), n, z)
}

/// Wilson score interval's lower bound of a proportion `k / n`.
pub fn wilson_lower(k: usize, n: usize, z: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let (n, p) = (n as f64, k as f64 / n as f64);
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    (centre - margin) / (1.0 + z2 / n)
}

/// Expected calibration error over 10 equal-width confidence bins.
pub fn ece(points: &[(f32, bool)]) -> f64 {
    if points.is_empty() {
        return 0.0;
    }
    let mut conf = [0f64; 10];
    let mut acc = [0f64; 10];
    let mut cnt = [0usize; 10];
    for &(c, ok) in points {
        let b = ((c.clamp(0.0, 1.0) * 10.0) as usize).min(9);
        conf[b] += f64::from(c);
        acc[b] += if ok { 1.0 } else { 0.0 };
        cnt[b] += 1;
    }
    let n = points.len() as f64;
    (0..10)
        .filter(|&b| cnt[b] > 0)
        .map(|b| (acc[b] - conf[b]).abs() / n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_a_distribution_and_monotone() {
        for t in [0.05f32, 0.3, 1.0, 7.0] {
            let mut prev = 0.0;
            for k in 0..20 {
                let mut s = vec![-1.0, k as f32 * 0.2 - 1.0, 0.1, 0.3];
                softmax_t(&mut s, t);
                assert!(s.iter().all(|p| (0.0..=1.0).contains(p)));
                assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                assert!(s[1] >= prev, "not monotone at t={t}");
                prev = s[1];
            }
        }
        let mut inf = vec![f32::NEG_INFINITY; 3];
        softmax_t(&mut inf, 1.0);
        assert!((inf[0] - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn temperature_fit_sharpens_confident_correct_scores() {
        // Always correct with a clear margin: the best temperature is small.
        let scores: Vec<Vec<f32>> = (0..50)
            .map(|i| vec![1.0, -1.0, -(i as f32 % 3.0) / 3.0 - 0.5])
            .collect();
        let truth = vec![0; 50];
        let t = fit_temperature(&scores, &truth);
        assert!(t < 0.1, "{t}");
        // Half wrong: a larger temperature (softer probabilities).
        let truth2: Vec<usize> = (0..50).map(|i| if i % 2 == 0 { 0 } else { 1 }).collect();
        let t2 = fit_temperature(&scores, &truth2);
        assert!(t2 > t * 5.0, "{t2} vs {t}");
    }

    #[test]
    fn threshold_reaches_target_precision() {
        let pts: Vec<(f32, bool)> = (0..100)
            .map(|i| (i as f32 / 100.0, i >= 40 || i % 2 == 0))
            .collect();
        let th = threshold_for_precision(&pts, 0.95);
        let kept: Vec<_> = pts.iter().filter(|p| p.0 >= th).collect();
        let prec = kept.iter().filter(|p| p.1).count() as f32 / kept.len() as f32;
        assert!(prec >= 0.95);
        assert!(kept.len() >= 60);
        // Unreachable target -> always abstain.
        let bad = vec![(0.9f32, false), (0.8, false)];
        assert!(threshold_for_precision(&bad, 0.95) > 1.0);
        assert!(ece(&[(1.0, true), (0.0, false)]) < 1e-9);
    }

    #[test]
    fn the_bounded_threshold_asks_for_a_margin_that_shrinks_with_the_sample() {
        // Known values of the Wilson lower bound (z = 1.645).
        assert!((wilson_lower(95, 100, 1.645) - 0.9003).abs() < 1e-3);
        assert!((wilson_lower(6, 6, 1.645) - 0.6892).abs() < 1e-3);
        assert_eq!(wilson_lower(0, 0, 1.645), 0.0);
        // 200 predictions: right above 0.5, one mistake in 50 below it down to 0.3,
        // then mostly wrong. The point estimate goes down to the mixed zone; the
        // bound stops higher, and z = 0 is the point estimate.
        let pts: Vec<(f32, bool)> = (0..200)
            .map(|i| {
                let c = i as f32 / 200.0;
                (c, c >= 0.5 || (c >= 0.3 && i % 50 != 0) || i % 3 == 0)
            })
            .collect();
        let plain = threshold_for_precision(&pts, 0.95);
        let bound = threshold_for_precision_bound(&pts, 0.95, 1.645);
        assert_eq!(threshold_for_precision_bound(&pts, 0.95, 0.0), plain);
        assert!(bound > plain, "{bound} vs {plain}");
        let kept: Vec<_> = pts.iter().filter(|p| p.0 >= bound).collect();
        let k = kept.iter().filter(|p| p.1).count();
        assert!(wilson_lower(k, kept.len(), 1.645) >= 0.95 - 1e-9);
        // Too few points to be sure of anything: always abstain.
        assert!(threshold_for_precision_bound(&[(0.9, true); 5], 0.95, 1.645) > 1.0);
    }

    #[test]
    fn fast_exp_matches_std_exp() {
        let mut prev = 0f32;
        for k in 0..=80_000 {
            let z = -80.0 + k as f32 * 0.001;
            let (a, b) = (exp_neg(z), z.exp());
            assert!((a - b).abs() <= 2e-5 * b + 1e-30, "z={z}: {a} vs {b}");
            assert!(a >= prev, "not monotone at {z}");
            prev = a;
        }
        assert_eq!(exp_neg(0.0), 1.0);
        assert_eq!(exp_neg(-1000.0), exp_neg(-80.0));
        assert!(exp_neg(f32::NAN) < 1e-30);
    }
}
