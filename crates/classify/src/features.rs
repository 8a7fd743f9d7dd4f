//! Text normalisation and hashed n-gram features.
//!
//! Written by hand rather than taken from a crate because it is the product's core
//! value: the exact same code path must run at training and prediction time, it must
//! never allocate per n-gram (prediction has to sustain > 50k short texts/s on one
//! thread), and the hash must stay stable across releases since model files store
//! feature hashes.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Which part of the feature vector a hash belongs to. Each view is L2-normalised
/// separately and weighted, so short texts with few words are not drowned by their
/// many character n-grams.
pub const VIEW_CHAR: u8 = 0;
pub const VIEW_WORD: u8 = 1;
pub const N_VIEWS: usize = 2;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Seeds keep the word, bigram and char namespaces apart: the word "de" and the
/// character bigram "de" must not collide into one feature.
const SEED_CHAR: u64 = 0x9e37_79b9_7f4a_7c15;
const SEED_WORD: u64 = 0xc2b2_ae3d_27d4_eb4f;
const SEED_BIGRAM: u64 = 0x1656_67b1_9e37_79f9;

#[inline]
fn fnv_byte(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
}

/// FNV-1a has weak high bits; the murmur3 finaliser spreads them so the hash can be
/// used directly as a hash-map key without re-hashing.
#[inline]
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// Stable 64-bit hash of a byte string in a namespace.
pub fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET ^ seed;
    for &b in bytes {
        h = fnv_byte(h, b);
    }
    fmix64(h)
}

/// French elided articles/pronouns: "l'emploi" must give the token "emploi", as
/// "emploi" alone does, or the two would share no word feature.
const ELIDED: &[&str] = &[
    "l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu",
];

/// Lowercase, fold accents (NFKD then drop combining marks), expand ligatures, keep
/// letters and digits, turn everything else into single spaces, and drop elided
/// articles. Apostrophes are recognised in all their typographic forms because
/// mail clients rewrite them.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    normalize_into(text, &mut out);
    out
}

/// [`normalize`] into a reused buffer (cleared first): prediction calls this once per
/// text and should not allocate.
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    let out = &mut *out;
    // Start of the current token in `out`, to drop an elided word on apostrophe.
    let mut tok_start = 0usize;
    let mut in_token = false;
    // ASCII needs no decomposition; only the rest goes through NFKD (the costliest
    // step of prediction otherwise).
    for ch in text.chars().flat_map(|c| {
        let ascii = c.is_ascii();
        let mut one = Some(c).filter(|_| ascii).into_iter();
        let mut dec = (!ascii)
            .then(|| std::iter::once(c).nfkd())
            .into_iter()
            .flatten();
        std::iter::from_fn(move || one.next().or_else(|| dec.next()))
    }) {
        if !ch.is_ascii() && is_combining_mark(ch) {
            continue;
        }
        if matches!(ch, '\'' | '’' | 'ʼ' | '‘' | '`' | '´') {
            if in_token {
                if ELIDED.contains(&&out[tok_start..]) {
                    // The space before the elided word (if any) is already there.
                    out.truncate(tok_start);
                } else {
                    out.push(' ');
                }
            }
            in_token = false;
            continue;
        }
        for lc in ch.to_lowercase() {
            match lc {
                'œ' => push_alnum(out, "oe", &mut in_token, &mut tok_start),
                'æ' => push_alnum(out, "ae", &mut in_token, &mut tok_start),
                'ß' => push_alnum(out, "ss", &mut in_token, &mut tok_start),
                c if c.is_alphanumeric() => {
                    let mut buf = [0u8; 4];
                    push_alnum(out, c.encode_utf8(&mut buf), &mut in_token, &mut tok_start)
                }
                _ => {
                    if in_token {
                        out.push(' ');
                    }
                    in_token = false;
                }
            }
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
}

fn push_alnum(out: &mut String, s: &str, in_token: &mut bool, tok_start: &mut usize) {
    if !*in_token {
        *tok_start = out.len();
        *in_token = true;
    }
    out.push_str(s);
}

/// Feature extraction parameters (a subset of the training config, stored in the model).
#[derive(Clone, Copy, Debug)]
pub struct FeatureSpec {
    pub char_min: usize,
    pub char_max: usize,
    pub word_bigrams: bool,
    /// Word-view tokens go through [`stem`] (the char view keeps surface forms).
    pub stem: bool,
}

/// Minimal French stemmer on accent-folded lowercase words (after Savoy's / Lucene's
/// `FrenchMinimalStemmer`): folds plural and feminine/infinitive endings so
/// "declarations"/"declaration", "impots"/"impot", "travaux"/"travail" share a word
/// feature. Hand-written because it works on the folded bytes without allocating
/// (Snowball needs accents and allocates), and short words are left alone.
pub fn stem(w: &[u8]) -> &[u8] {
    let mut n = w.len();
    if n < 6 || !w.iter().all(u8::is_ascii_alphabetic) {
        return w;
    }
    if w[n - 1] == b'x' {
        // "aux" -> "al" cannot be expressed as a prefix; "au" is close enough and
        // keeps the function allocation-free ("travaux", "travail" -> "trava").
        if w[n - 3] == b'a' && w[n - 2] == b'u' {
            return &w[..n - 2];
        }
        return &w[..n - 1];
    }
    // The second 'e' is the folded 'é' of the original rule ("salariée").
    for end in [b's', b'r', b'e', b'e'] {
        if w[n - 1] == end {
            n -= 1;
        }
    }
    if w[n - 1] == w[n - 2] {
        n -= 1;
    }
    &w[..n]
}

/// Calls `emit(hash, view)` for every feature occurrence of a normalised text:
/// word unigrams, word bigrams and word-bounded character n-grams (each word padded
/// with one space on both sides, like scikit-learn's `char_wb`). Bytes are hashed
/// incrementally so every n-gram length starting at a position costs one multiply.
pub fn extract(normalized: &str, spec: &FeatureSpec, mut emit: impl FnMut(u64, u8)) {
    let mut prev_word: Option<&[u8]> = None;
    let mut padded: Vec<u8> = Vec::with_capacity(64);
    for word in normalized.split(' ').filter(|w| !w.is_empty()) {
        let wb = word.as_bytes();
        let ws = if spec.stem { stem(wb) } else { wb };
        emit(hash_bytes(SEED_WORD, ws), VIEW_WORD);
        if spec.word_bigrams {
            if let Some(p) = prev_word {
                let mut h = FNV_OFFSET ^ SEED_BIGRAM;
                for &b in p.iter().chain(b" ").chain(ws) {
                    h = fnv_byte(h, b);
                }
                emit(fmix64(h), VIEW_WORD);
            }
        }
        prev_word = Some(ws);
        char_ngrams(wb, spec, &mut padded, &mut emit);
    }
}

/// Supervised term weights (a class-aware IDF): for feature j, `g_j = max_c ln(p/q)`
/// with p = (df in class c + 1) / (|c| + 2) and q the same outside c, clamped at 0;
/// returns `(1 - s) + s * g_j / mean(g)` per feature. `pairs` holds one
/// (feature, class) entry per document containing the feature (sorted here);
/// `df[j]` the document frequency, `y` the class of every document.
pub(crate) fn supervised_factors(
    pairs: &mut [(u32, u32)],
    df: &[u32],
    y: &[u32],
    n_classes: usize,
    s: f32,
) -> Vec<f32> {
    let mut size = vec![0f32; n_classes];
    for &c in y {
        if let Some(v) = size.get_mut(c as usize) {
            *v += 1.0;
        }
    }
    let n = y.len() as f32;
    pairs.sort_unstable();
    let mut g = vec![0f32; df.len()];
    let mut k = 0;
    while k < pairs.len() {
        let (j, c) = pairs[k];
        let mut m = 1;
        while k + m < pairs.len() && pairs[k + m] == (j, c) {
            m += 1;
        }
        k += m;
        let (Some(&nc), Some(&d)) = (size.get(c as usize), df.get(j as usize)) else {
            continue;
        };
        let p = (m as f32 + 1.0) / (nc + 2.0);
        let q = ((d as f32 - m as f32).max(0.0) + 1.0) / ((n - nc).max(0.0) + 2.0);
        let r = (p / q).ln().max(0.0);
        if r > g[j as usize] {
            g[j as usize] = r;
        }
    }
    let mean = g.iter().sum::<f32>() / g.len().max(1) as f32;
    if mean <= 0.0 {
        return vec![1.0; df.len()];
    }
    g.iter().map(|&v| (1.0 - s) + s * v / mean).collect()
}

/// Word-bounded char n-grams of one word (padded with a space on both sides).
#[inline]
fn char_ngrams(
    wb: &[u8],
    spec: &FeatureSpec,
    padded: &mut Vec<u8>,
    emit: &mut impl FnMut(u64, u8),
) {
    padded.clear();
    padded.push(b' ');
    padded.extend_from_slice(wb);
    padded.push(b' ');
    let n = padded.len();
    for start in 0..n {
        let mut h = FNV_OFFSET ^ SEED_CHAR;
        let end_max = (start + spec.char_max).min(n);
        for (len, &b) in padded[start..end_max].iter().enumerate() {
            h = fnv_byte(h, b);
            let len = len + 1;
            // A lone padding space carries no information.
            if len >= spec.char_min && !(len == 1 && b == b' ') {
                emit(fmix64(h ^ len as u64), VIEW_CHAR);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_accents_case_elision_and_punctuation() {
        assert_eq!(normalize("L'Été  à PARIS!"), "ete a paris");
        assert_eq!(
            normalize("aide au retour à l’emploi"),
            "aide au retour a emploi"
        );
        assert_eq!(normalize("Qu'est-ce que le PEE ?"), "est ce que le pee");
        assert_eq!(normalize("jusqu'au 31/12/2024"), "au 31 12 2024");
        assert_eq!(normalize("cœur Æsir"), "coeur aesir");
        assert_eq!(normalize("   "), "");
        assert_eq!(normalize("'''"), "");
        // Non-elided words before an apostrophe are kept.
        assert_eq!(normalize("aujourd'hui"), "aujourd hui");
    }

    #[test]
    fn hash_is_stable_across_releases() {
        // Model files store these hashes: changing them silently breaks old models.
        assert_eq!(hash_bytes(0, b""), fmix64(FNV_OFFSET));
        assert_eq!(hash_bytes(SEED_WORD, b"impot"), 0x5b0d_4297_1dd1_a896);
        assert_eq!(hash_bytes(SEED_CHAR, b" im"), 0x1605_472c_1ee0_4df9);
        // Incremental hashing inside `extract` agrees with `hash_bytes` for words.
        let spec = FeatureSpec {
            char_min: 2,
            char_max: 3,
            word_bigrams: false,
            stem: false,
        };
        let mut got = Vec::new();
        extract("impot", &spec, |h, v| {
            if v == VIEW_WORD {
                got.push(h)
            }
        });
        assert_eq!(got, vec![hash_bytes(SEED_WORD, b"impot")]);
    }

    #[test]
    fn extract_emits_words_bigrams_and_char_ngrams() {
        let spec = FeatureSpec {
            char_min: 2,
            char_max: 3,
            word_bigrams: true,
            stem: false,
        };
        let mut words = 0;
        let mut chars = Vec::new();
        extract("ab cd", &spec, |h, v| {
            if v == VIEW_WORD {
                words += 1;
            } else {
                chars.push(h);
            }
        });
        // 2 unigrams + 1 bigram.
        assert_eq!(words, 3);
        // " ab " has 3 bigrams and 2 trigrams; same for " cd ".
        assert_eq!(chars.len(), 10);
        // The shared " a"/" c" positions differ, but the padding bigram "b " vs "d " too:
        // all distinct.
        let mut d = chars.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 10);
    }

    #[test]
    fn supervised_factors_favour_class_specific_features() {
        // 4 docs of class 0, 4 of class 1. Feature 0 in every doc, feature 1 only in
        // the class-0 docs, feature 2 in one doc of each class.
        let y = [0u32, 0, 0, 0, 1, 1, 1, 1];
        let mut pairs = Vec::new();
        for (d, &c) in y.iter().enumerate() {
            pairs.push((0u32, c));
            if c == 0 {
                pairs.push((1, c));
            }
            if d == 0 || d == 4 {
                pairs.push((2, c));
            }
        }
        let df = [8u32, 4, 2];
        let f = supervised_factors(&mut pairs, &df, &y, 2, 1.0);
        assert!(f[1] > f[0] && f[1] > f[2], "{f:?}");
        // Evenly spread features get no supervised boost (g = 0).
        assert_eq!(f[0], 0.0);
        assert_eq!(f[2], 0.0);
        // s = 0 is plain IDF; s = 0.5 is halfway.
        assert!(supervised_factors(&mut pairs, &df, &y, 2, 0.0)
            .iter()
            .all(|&v| v == 1.0));
        let h = supervised_factors(&mut pairs, &df, &y, 2, 0.5);
        assert!((h[1] - (0.5 + 0.5 * f[1])).abs() < 1e-5);
        // Out-of-range classes or features are skipped, not a panic.
        let mut bad = vec![(9u32, 0u32), (0, 7)];
        assert_eq!(supervised_factors(&mut bad, &df, &y, 2, 1.0), vec![1.0; 3]);
    }

    #[test]
    fn stem_folds_plural_and_feminine_forms_only_on_long_words() {
        let st = |w: &str| String::from_utf8_lossy(stem(w.as_bytes())).into_owned();
        assert_eq!(st("declarations"), st("declaration"));
        assert_eq!(st("imposables"), st("imposable"));
        assert_eq!(st("travaux"), "trava");
        assert_eq!(st("salariee"), st("salarie"));
        assert_eq!(st("declarer"), st("declare"));
        // Short words and non-letters are left alone (no empty or mangled stems).
        for w in ["impot", "taxe", "2024", "ans", "", "x", "cdd123"] {
            assert_eq!(st(w), w);
        }
        // With stemming on, the word view of "revenus" and "revenu" is the same feature.
        let spec = FeatureSpec {
            char_min: 2,
            char_max: 3,
            word_bigrams: false,
            stem: true,
        };
        let words = |t: &str| {
            let mut v = Vec::new();
            extract(t, &spec, |h, view| {
                if view == VIEW_WORD {
                    v.push(h)
                }
            });
            v
        };
        assert_eq!(words("declarations"), words("declaration"));
    }
}
