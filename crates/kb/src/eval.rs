//! Retrieval evaluation with exactly the peer's metric definitions
//! (/work/shared/bench/retrieval_baseline.py), so figures are comparable.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{KbError, KnowledgeBase};

/// A query with graded relevant fiche ids (grade 1–5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelevanceQuery {
    pub query: String,
    #[serde(default)]
    pub topic: String,
    pub relevant: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrievalReport {
    pub ndcg_at_10: f64,
    pub recall_at_10: f64,
    pub mrr_at_10: f64,
    pub queries: usize,
    pub queries_per_second: f64,
}

/// Reads JSON-lines queries; an unreadable line is an error naming the line.
pub fn read_queries(path: &Path) -> Result<Vec<RelevanceQuery>, KbError> {
    let io = |e| KbError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            &line
        };
        if line.trim().is_empty() {
            continue;
        }
        let q: RelevanceQuery = serde_json::from_str(line).map_err(|e| KbError::BadLine {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!("expected {{\"query\", \"topic\", \"relevant\": {{id: grade}}}}: {e}"),
        })?;
        out.push(q);
    }
    Ok(out)
}

/// The fixed split used to choose settings: a query is held out when the FNV-1a hash
/// of its topic is 0 mod 5, so all variants of one topic stay on one side.
pub fn is_held_out(topic: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topic.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.is_multiple_of(5)
}

/// nDCG@10, recall@10 and reciprocal rank@10 of one ranking, as the peer defines them
/// (gain 2^g − 1, recall over min(|relevant|, 10)).
pub fn metrics(ranked: &[String], rel: &BTreeMap<String, u32>) -> (f64, f64, f64) {
    let k = 10;
    let top = &ranked[..ranked.len().min(k)];
    let gain = |g: u32| 2f64.powi(g as i32) - 1.0;
    let dcg: f64 = top
        .iter()
        .enumerate()
        .map(|(i, d)| gain(rel.get(d).copied().unwrap_or(0)) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u32> = rel.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| gain(*g) / ((i + 2) as f64).log2())
        .sum();
    let hits = top.iter().filter(|d| rel.contains_key(*d)).count();
    let denom = rel.len().min(k);
    let recall = if denom == 0 {
        0.0
    } else {
        hits as f64 / denom as f64
    };
    let rr = top
        .iter()
        .position(|d| rel.contains_key(d))
        .map(|i| 1.0 / (i + 1) as f64)
        .unwrap_or(0.0);
    (if idcg > 0.0 { dcg / idcg } else { 0.0 }, recall, rr)
}

/// Runs every query (top 10, no snippets, one thread) and averages the metrics.
/// Throughput covers the searches only, as the peer's does.
pub fn evaluate(kb: &KnowledgeBase, queries: &[RelevanceQuery]) -> RetrievalReport {
    let started = std::time::Instant::now();
    let ranked: Vec<Vec<String>> = queries
        .iter()
        .map(|q| kb.search_ids(&q.query, 10).unwrap_or_default())
        .collect();
    let secs = started.elapsed().as_secs_f64();
    let (mut n, mut r, mut m) = (0.0, 0.0, 0.0);
    for (q, ids) in queries.iter().zip(&ranked) {
        let (a, b, c) = metrics(ids, &q.relevant);
        n += a;
        r += b;
        m += c;
    }
    let k = queries.len().max(1) as f64;
    RetrievalReport {
        ndcg_at_10: n / k,
        recall_at_10: r / k,
        mrr_at_10: m / k,
        queries: queries.len(),
        queries_per_second: if secs > 0.0 {
            queries.len() as f64 / secs
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_the_peer_definition() {
        let rel: BTreeMap<String, u32> = [("a".to_string(), 5), ("b".to_string(), 3)].into();
        let perfect = metrics(&["a".into(), "b".into()], &rel);
        assert!((perfect.0 - 1.0).abs() < 1e-12);
        assert_eq!((perfect.1, perfect.2), (1.0, 1.0));
        // b at rank 2 only: dcg = 7/log2(3); idcg = 31 + 7/log2(3).
        let (n, r, m) = metrics(&["x".into(), "b".into()], &rel);
        let expected = (7.0 / 3f64.log2()) / (31.0 + 7.0 / 3f64.log2());
        assert!((n - expected).abs() < 1e-12);
        assert_eq!((r, m), (0.5, 0.5));
        assert_eq!(metrics(&[], &rel), (0.0, 0.0, 0.0));
    }

    #[test]
    fn split_is_stable_and_partial() {
        let topics: Vec<String> = (0..200).map(|i| format!("topic-{i}")).collect();
        let held = topics.iter().filter(|t| is_held_out(t)).count();
        assert!((20..=60).contains(&held), "{held}");
        assert_eq!(is_held_out("13eme-mois"), is_held_out("13eme-mois"));
    }
}
