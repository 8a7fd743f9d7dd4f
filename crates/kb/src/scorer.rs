//! The in-memory ranking engine: BM25 / BM25F over postings copied out of the tantivy
//! index at open time.
//!
//! Why our own scorer rather than tantivy's query engine: ranking a few thousand
//! documents is the product's core operation and runs for every mail, and at this size
//! tantivy's per-query fixed costs (building a boolean query of ~30 boosted term
//! queries, per-clause weights and scorers, the collector) dominate the actual work by an
//! order of magnitude. Here a query is a handful of hash look-ups and additions into a
//! dense score array; every per-(term, document) score is precomputed from the tuning,
//! so a query never evaluates BM25 itself. It also makes the BM25F parameters (k1, b per
//! field) tunable, which tantivy 0.22 fixes at 1.2 / 0.75.
//!
//! tantivy remains the durable index (what is stored, incremental import, merges), the
//! source of these postings (the same analysed tokens, read from its term dictionaries)
//! and the snippet generator.

use std::collections::HashMap;

use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocSet, Postings, Searcher, TERMINATED};

/// The stemmed fields that share one vocabulary, in this order: title, description,
/// breadcrumb, text. The unstemmed title has its own vocabulary.
pub(crate) const STEMMED_FIELDS: usize = 4;

/// BM25 parameters and field weights, already resolved from `Tuning`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Params {
    pub k1: f32,
    /// Length normalisation per stemmed field, then for the exact title.
    pub b: [f32; STEMMED_FIELDS],
    pub b_exact: f32,
    pub w: [f32; STEMMED_FIELDS],
    pub w_exact: f32,
    /// true: BM25F (field tfs combined before saturation, one idf per term);
    /// false: one BM25 per field (own idf and saturation), summed with the weights.
    pub bm25f: bool,
}

/// Per-document lengths and postings, straight from the index.
struct Raw {
    /// Per stemmed term: (doc, tf per stemmed field), sorted by doc.
    stemmed: Vec<Vec<(u32, [u16; STEMMED_FIELDS])>>,
    exact: Vec<Vec<(u32, u16)>>,
    /// Length (indexed tokens) of each field of each doc slot; index 4 = exact title.
    len: [Vec<u32>; STEMMED_FIELDS + 1],
    /// Live documents (deleted ones never appear in postings).
    live: u32,
}

/// The compact index: term → postings of (doc slot, precomputed score).
pub(crate) struct Scorer {
    stem_terms: HashMap<String, u32>,
    /// Typo fallback (SymSpell-style): every one-character deletion of the stemmed
    /// terms worth correcting to (≥ 4 chars, in ≥ 2 documents) → those terms.
    deletions: HashMap<String, Vec<u32>>,
    exact_terms: HashMap<String, u32>,
    raw: Raw,
    stemmed: Vec<Vec<(u32, f32)>>,
    exact: Vec<Vec<(u32, f32)>>,
    /// Slot → address in the tantivy index, for stored fields and snippets.
    pub addrs: Vec<DocAddress>,
    params: Params,
}

fn bm25_idf(n: f32, df: f32) -> f32 {
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

impl Scorer {
    /// Copies the postings of `stemmed` (title, description, breadcrumb, text) and of
    /// `exact` out of every segment. Doc slots are numbered segment after segment.
    pub fn build(
        searcher: &Searcher,
        stemmed: [Field; STEMMED_FIELDS],
        exact: Field,
        params: Params,
    ) -> tantivy::Result<Self> {
        let mut stem_terms: HashMap<String, u32> = HashMap::new();
        let mut exact_terms: HashMap<String, u32> = HashMap::new();
        let mut stem_raw: Vec<Vec<(u32, u8, u16)>> = Vec::new();
        let mut exact_raw: Vec<Vec<(u32, u16)>> = Vec::new();
        let slots: usize = searcher
            .segment_readers()
            .iter()
            .map(|s| s.max_doc() as usize)
            .sum();
        let mut len: [Vec<u32>; STEMMED_FIELDS + 1] = std::array::from_fn(|_| vec![0; slots]);
        let mut addrs = Vec::with_capacity(slots);
        let mut live = 0u32;
        let mut base = 0u32;
        for (ord, seg) in searcher.segment_readers().iter().enumerate() {
            let alive = |d: u32| seg.alive_bitset().is_none_or(|a| a.is_alive(d));
            for d in 0..seg.max_doc() {
                addrs.push(DocAddress::new(ord as u32, d));
                if alive(d) {
                    live += 1;
                }
            }
            let fields = stemmed.iter().copied().chain(std::iter::once(exact));
            for (fi, field) in fields.enumerate() {
                let inv = seg.inverted_index(field)?;
                let mut stream = inv.terms().stream()?;
                while stream.advance() {
                    let Ok(term) = std::str::from_utf8(stream.key()) else {
                        continue;
                    };
                    let mut postings = inv.read_postings_from_terminfo(
                        stream.value(),
                        IndexRecordOption::WithFreqs,
                    )?;
                    let is_exact = fi == STEMMED_FIELDS;
                    let (map, n) = if is_exact {
                        (&mut exact_terms, exact_raw.len())
                    } else {
                        (&mut stem_terms, stem_raw.len())
                    };
                    let id = *map.entry(term.to_string()).or_insert(n as u32) as usize;
                    if is_exact && id == exact_raw.len() {
                        exact_raw.push(Vec::new());
                    } else if !is_exact && id == stem_raw.len() {
                        stem_raw.push(Vec::new());
                    }
                    let mut doc = postings.doc();
                    while doc != TERMINATED {
                        if alive(doc) {
                            let tf = postings.term_freq().min(u16::MAX as u32) as u16;
                            let slot = base + doc;
                            if let Some(l) = len[fi].get_mut(slot as usize) {
                                *l += tf as u32;
                            }
                            if is_exact {
                                exact_raw[id].push((slot, tf));
                            } else {
                                stem_raw[id].push((slot, fi as u8, tf));
                            }
                        }
                        doc = postings.advance();
                    }
                }
            }
            base += seg.max_doc();
        }
        let stemmed_postings: Vec<Vec<(u32, [u16; STEMMED_FIELDS])>> = stem_raw
            .into_iter()
            .map(|mut v| {
                v.sort_unstable_by_key(|p| p.0);
                let mut out: Vec<(u32, [u16; STEMMED_FIELDS])> = Vec::new();
                for (doc, f, tf) in v {
                    match out.last_mut() {
                        Some(last) if last.0 == doc => last.1[f as usize] = tf,
                        _ => {
                            let mut tfs = [0; STEMMED_FIELDS];
                            tfs[f as usize] = tf;
                            out.push((doc, tfs));
                        }
                    }
                }
                out
            })
            .collect();
        for v in &mut exact_raw {
            v.sort_unstable_by_key(|p| p.0);
        }
        let mut deletions: HashMap<String, Vec<u32>> = HashMap::new();
        for (term, &id) in &stem_terms {
            let common = stemmed_postings_len(&stemmed_postings, id) >= 2;
            if common && fuzzy_candidate(term) {
                for d in std::iter::once(term.clone()).chain(one_deletions(term)) {
                    deletions.entry(d).or_default().push(id);
                }
            }
        }
        let mut s = Self {
            deletions,
            stem_terms,
            exact_terms,
            raw: Raw {
                stemmed: stemmed_postings,
                exact: exact_raw,
                len,
                live,
            },
            stemmed: Vec::new(),
            exact: Vec::new(),
            addrs,
            params,
        };
        s.compile();
        Ok(s)
    }

    pub fn set_params(&mut self, p: Params) {
        if p != self.params {
            self.params = p;
            self.compile();
        }
    }

    /// Precomputes every (term, doc) score for the current parameters.
    fn compile(&mut self) {
        let p = self.params;
        let raw = &self.raw;
        let n = raw.live.max(1) as f32;
        let avg: [f32; STEMMED_FIELDS + 1] = std::array::from_fn(|f| {
            let total: u64 = raw.len[f].iter().map(|&l| l as u64).sum();
            (total as f32 / n).max(1e-6)
        });
        // Length normalisation K(d, f) = 1 − b + b·len/avg, per field.
        let norm = |f: usize, b: f32, doc: u32| {
            let l = raw.len[f].get(doc as usize).copied().unwrap_or(0) as f32;
            1.0 - b + b * l / avg[f]
        };
        let k1 = p.k1.max(0.0);
        // Per-field document frequencies, for the per-field mode.
        self.stemmed = raw
            .stemmed
            .iter()
            .map(|post| {
                let df_any = post.len() as f32;
                let mut df = [0f32; STEMMED_FIELDS];
                for (_, tfs) in post {
                    for f in 0..STEMMED_FIELDS {
                        if tfs[f] > 0 {
                            df[f] += 1.0;
                        }
                    }
                }
                post.iter()
                    .map(|(doc, tfs)| {
                        let score = if p.bm25f {
                            let tf: f32 = (0..STEMMED_FIELDS)
                                .filter(|&f| tfs[f] > 0 && p.w[f] > 0.0)
                                .map(|f| p.w[f] * tfs[f] as f32 / norm(f, p.b[f], *doc))
                                .sum();
                            bm25_idf(n, df_any) * tf * (k1 + 1.0) / (k1 + tf)
                        } else {
                            (0..STEMMED_FIELDS)
                                .filter(|&f| tfs[f] > 0 && p.w[f] > 0.0)
                                .map(|f| {
                                    let tf = tfs[f] as f32;
                                    p.w[f] * bm25_idf(n, df[f]) * tf * (k1 + 1.0)
                                        / (tf + k1 * norm(f, p.b[f], *doc))
                                })
                                .sum()
                        };
                        (*doc, score)
                    })
                    .collect()
            })
            .collect();
        self.exact = raw
            .exact
            .iter()
            .map(|post| {
                let idf = bm25_idf(n, post.len() as f32);
                post.iter()
                    .map(|&(doc, tf)| {
                        let tf = tf as f32;
                        let s = p.w_exact * idf * tf * (k1 + 1.0)
                            / (tf + k1 * norm(STEMMED_FIELDS, p.b_exact, doc));
                        (doc, s)
                    })
                    .collect()
            })
            .collect();
    }

    pub fn slots(&self) -> usize {
        self.addrs.len()
    }

    /// The most frequent known term one edit (deletion, insertion, substitution or
    /// adjacent transposition) away from an unknown `term`, if any.
    pub fn correct(&self, term: &str) -> Option<u32> {
        if !fuzzy_candidate(term) {
            return None;
        }
        let mut best: Option<(usize, u32)> = None;
        for d in std::iter::once(term.to_string()).chain(one_deletions(term)) {
            for &id in self.deletions.get(&d).into_iter().flatten() {
                let df = stemmed_postings_len(&self.raw.stemmed, id);
                if best.is_none_or(|(bdf, bid)| df > bdf || (df == bdf && id < bid)) {
                    best = Some((df, id));
                }
            }
        }
        best.map(|(_, id)| id)
    }

    /// Like `add_stemmed`, for a term id from `correct`.
    pub fn add_stemmed_id(&self, id: u32, weight: f32, scores: &mut [f32]) {
        if let Some(post) = self.stemmed.get(id as usize) {
            for &(doc, s) in post {
                if let Some(x) = scores.get_mut(doc as usize) {
                    *x += weight * s;
                }
            }
        }
    }

    /// Adds `weight ×` the precomputed scores of `term` into `scores`; returns whether
    /// the term is known.
    pub fn add_stemmed(&self, term: &str, weight: f32, scores: &mut [f32]) -> bool {
        Self::add(&self.stem_terms, &self.stemmed, term, weight, scores)
    }

    pub fn add_exact(&self, term: &str, weight: f32, scores: &mut [f32]) -> bool {
        Self::add(&self.exact_terms, &self.exact, term, weight, scores)
    }

    fn add(
        terms: &HashMap<String, u32>,
        postings: &[Vec<(u32, f32)>],
        term: &str,
        weight: f32,
        scores: &mut [f32],
    ) -> bool {
        let Some(post) = terms.get(term).and_then(|&i| postings.get(i as usize)) else {
            return false;
        };
        if weight > 0.0 {
            for &(doc, s) in post {
                if let Some(x) = scores.get_mut(doc as usize) {
                    *x += weight * s;
                }
            }
        }
        true
    }
}

fn stemmed_postings_len(p: &[Vec<(u32, [u16; STEMMED_FIELDS])>], id: u32) -> usize {
    p.get(id as usize).map_or(0, Vec::len)
}

/// Short words and numbers are too ambiguous to correct.
fn fuzzy_candidate(term: &str) -> bool {
    term.chars().count() >= 4 && !term.chars().any(|c| c.is_numeric())
}

fn one_deletions(term: &str) -> impl Iterator<Item = String> + '_ {
    term.char_indices().map(move |(i, c)| {
        let mut s = String::with_capacity(term.len());
        s.push_str(&term[..i]);
        s.push_str(&term[i + c.len_utf8()..]);
        s
    })
}

/// The best `k` slots with a positive score that pass `keep`, best first; ties go to
/// the lower slot so rankings are deterministic.
pub(crate) fn top_k(
    scores: &[f32],
    k: usize,
    mut keep: impl FnMut(usize) -> bool,
) -> Vec<(u32, f32)> {
    let mut top: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    if k == 0 {
        return top;
    }
    for (slot, &s) in scores.iter().enumerate() {
        if s <= 0.0 {
            continue;
        }
        if top.len() == k && top.last().is_some_and(|l| s <= l.1) {
            continue;
        }
        if !keep(slot) {
            continue;
        }
        let pos = top.partition_point(|&(_, t)| t >= s);
        top.insert(pos, (slot as u32, s));
        top.truncate(k);
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_the_best_filtered_in_order() {
        let s = [0.0, 3.0, 1.0, 3.0, 5.0, 2.0];
        assert_eq!(top_k(&s, 3, |_| true), vec![(4, 5.0), (1, 3.0), (3, 3.0)]);
        assert_eq!(top_k(&s, 2, |i| i != 4), vec![(1, 3.0), (3, 3.0)]);
        assert!(top_k(&s, 0, |_| true).is_empty());
        assert_eq!(top_k(&s, 10, |_| true).len(), 5);
    }
}
