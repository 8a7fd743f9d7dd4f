//! Hybrid retrieval benchmark: the lexical index over the shared fiches, their e5
//! embeddings (timed: fiches/s), then nDCG@10 of lexical, dense and fused rankings on
//! all queries, the dev topics and the held-out fifth, with the product's settings.
//! `TUNE=1` first replays how those were chosen on the dev topics only (`TUNE=only`
//! stops there, before the held-out fifth is read): the fusion and its feedback
//! without priors, then the priors (prior.rs) with the product's fusion.
//!
//! FACTEUR_EMBEDDING_MODEL=~/.cache/facteur/embedding-model/e5-small-q4.bin \
//!   cargo run -p facteur-kb --example bench_hybrid -- [DATA_DIR]
//! PASSAGE_TOKENS (default: the product's, `facteur_kb::PASSAGE_TOKENS`) caps each fiche's
//! embedded text; QUERY_TOKENS (64) the query's.
//! RAYON_NUM_THREADS sets the threads used to embed the fiches.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use facteur_embed::{Embedder, NativeEmbedder};
use facteur_kb::{is_held_out, read_queries, Fusion, KnowledgeBase, Priors, RelevanceQuery};

/// The shared data: SHARED_DATA, else `../shared/data` beside the repository.
fn shared(rel: &str) -> PathBuf {
    std::env::var_os("SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join(rel)
}

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn ndcg(kb: &KnowledgeBase, qs: &[(RelevanceQuery, Option<facteur_embed::Embedding>)]) -> f64 {
    let mut n = 0.0;
    for (q, v) in qs {
        let ids = kb.search_ids_with(&q.query, v.as_ref(), 10);
        n += facteur_kb::eval::metrics(&ids, &q.relevant).0;
    }
    n / qs.len().max(1) as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("facteur-kb-hybrid"));
    let model = std::env::var("FACTEUR_EMBEDDING_MODEL")
        .map_err(|_| "set FACTEUR_EMBEDDING_MODEL to e5-small-q4.bin")?;
    let (pt, qt) = (
        env_usize("PASSAGE_TOKENS", facteur_kb::PASSAGE_TOKENS),
        env_usize("QUERY_TOKENS", 64),
    );
    let embedder: Arc<dyn Embedder> =
        Arc::new(NativeEmbedder::open(Path::new(&model))?.with_token_limits(qt, pt));

    let mut kb = KnowledgeBase::open(&data_dir)?;
    for n in [
        "particuliers_1",
        "particuliers_2",
        "professionnels",
        "associations",
    ] {
        kb.import_fiches(&shared(&format!(
            "service-public-fiches-2020/fiches_{n}.jsonl"
        )))?;
    }
    kb.optimize()?;
    let queries = read_queries(&shared("bench/retrieval_queries.jsonl"))?;
    // The lexical-only row, before the model is attached.
    let lexical_only = |kb: &KnowledgeBase, held: Option<bool>| {
        let qs: Vec<_> = queries
            .iter()
            .filter(|q| held.is_none_or(|h| is_held_out(&q.topic) == h))
            .map(|q| (q.clone(), None))
            .collect();
        ndcg(kb, &qs)
    };
    let lex = (
        lexical_only(&kb, None),
        lexical_only(&kb, Some(false)),
        lexical_only(&kb, Some(true)),
    );
    let t = std::time::Instant::now();
    let embedded = kb.set_embedder(embedder.clone())?;
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "embedded {embedded} documents in {secs:.1} s ({:.1}/s, {} threads, {pt} tokens max)",
        embedded as f64 / secs.max(1e-9),
        rayon::current_num_threads()
    );

    let t = std::time::Instant::now();
    let texts: Vec<&str> = queries.iter().map(|q| q.query.as_str()).collect();
    // QUERY_CACHE=FILE keeps the query vectors between runs (raw little-endian f32).
    let cache = std::env::var_os("QUERY_CACHE").map(PathBuf::from);
    let cached = cache
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .filter(|b| b.len() == texts.len() * facteur_embed::DIM * 4);
    let qv: Vec<facteur_embed::Embedding> = match cached {
        Some(b) => b
            .chunks_exact(facteur_embed::DIM * 4)
            .map(|row| {
                let mut e = [0f32; facteur_embed::DIM];
                for (x, c) in e.iter_mut().zip(row.chunks_exact(4)) {
                    *x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
                e
            })
            .collect(),
        None => {
            let v = embedder.embed(&texts, facteur_embed::Kind::Query)?;
            if let Some(p) = &cache {
                let bytes: Vec<u8> = v.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
                std::fs::write(p, bytes)?;
            }
            v
        }
    };
    eprintln!(
        "embedded {} queries in {:.1} s",
        qv.len(),
        t.elapsed().as_secs_f64()
    );
    let all: Vec<_> = queries.into_iter().zip(qv.into_iter().map(Some)).collect();
    let (held, dev): (Vec<_>, Vec<_>) = all
        .iter()
        .cloned()
        .partition(|(q, _)| is_held_out(&q.topic));

    // The product's settings are reported; TUNE=1 shows how they were chosen on
    // the dev topics (TUNE=only stops there, before anything is read on the held-out
    // fifth).
    let fusion = kb.fusion();
    let priors = kb.priors().clone();
    if let Ok(t) = std::env::var("TUNE") {
        kb.set_priors(Priors::none());
        let chosen = tune(&mut kb, &dev);
        kb.set_fusion(fusion);
        let chosen_priors = tune_priors(&mut kb, &dev);
        kb.set_priors(priors.clone());
        eprintln!(
            "product default on dev: {:.4} ({fusion:?}, {priors:?}); dev choice {chosen:?}, {chosen_priors:?}",
            ndcg(&kb, &dev)
        );
        if t == "only" {
            return Ok(());
        }
    }
    kb.set_fusion(Fusion {
        dense_weight: 1.0,
        ..fusion
    });
    let dense = (ndcg(&kb, &all), ndcg(&kb, &dev), ndcg(&kb, &held));
    kb.set_fusion(fusion);
    let hybrid = (ndcg(&kb, &all), ndcg(&kb, &dev), ndcg(&kb, &held));
    // What the feedback costs per search (the query vectors are given: an
    // embedding costs milliseconds either way): fused searches per second on one
    // thread, without and with it, alternated three times.
    let mut per_second = [Vec::new(), Vec::new()];
    for _ in 0..3 {
        for (i, feedback) in [0, fusion.feedback].into_iter().enumerate() {
            kb.set_fusion(Fusion { feedback, ..fusion });
            let t = std::time::Instant::now();
            ndcg(&kb, &all);
            per_second[i].push(all.len() as f64 / t.elapsed().as_secs_f64());
        }
    }
    kb.set_fusion(fusion);
    eprintln!("fused searches/s without, with feedback: {per_second:?}");
    let row = |(a, d, h): (f64, f64, f64)| serde_json::json!({"all": a, "dev": d, "held_out": h});
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "passage_tokens": pt, "query_tokens": qt, "fusion": fusion, "priors": priors,
            "fiches_embedded": embedded, "embed_seconds": secs,
            "fiches_per_second": embedded as f64 / secs.max(1e-9),
            "threads": rayon::current_num_threads(),
            "fused_searches_per_second": {"without_feedback": per_second[0], "with_feedback": per_second[1]},
            "ndcg_at_10": {"lexical": row(lex), "dense": row(dense), "hybrid": row(hybrid)},
        }))?
    );
    Ok(())
}

/// The dev-topic selection, in the order it was made (docs/RETRIEVAL.md): the fusion
/// (ranks or scores, weight, depth) without feedback, then the feedback with that
/// fusion. The held-out fifth is not read.
fn tune(
    kb: &mut KnowledgeBase,
    dev: &[(RelevanceQuery, Option<facteur_embed::Embedding>)],
) -> Fusion {
    let start = Fusion {
        feedback: 0,
        ..Fusion::default()
    };
    let mut grid = Vec::new();
    for k in [5.0f32, 10.0, 20.0, 30.0, 60.0] {
        for w in [0.2f32, 0.3, 0.4, 0.5, 0.6] {
            grid.push(Fusion {
                k,
                dense_weight: w,
                depth: 100,
                scores: false,
                ..start
            });
        }
    }
    for depth in [20usize, 50, 100] {
        for w in [0.2f32, 0.3, 0.4, 0.5, 0.6, 0.7] {
            grid.push(Fusion {
                dense_weight: w,
                depth,
                scores: true,
                ..start
            });
        }
    }
    let mut best = (f64::MIN, start);
    for f in grid {
        kb.set_fusion(f);
        let r = ndcg(kb, dev);
        eprintln!(
            "dev {} k={} w={} depth={}: {r:.4}",
            if f.scores { "scores" } else { "ranks" },
            f.k,
            f.dense_weight,
            f.depth
        );
        if r > best.0 {
            best = (r, f);
        }
    }
    eprintln!("fusion chosen on dev: {:?} ({:.4})", best.1, best.0);
    for feedback in [3usize, 5, 10] {
        for feedback_weight in [0.3f32, 0.6, 1.0] {
            let f = Fusion {
                feedback,
                feedback_weight,
                ..best.1
            };
            kb.set_fusion(f);
            let r = ndcg(kb, dev);
            eprintln!("dev feedback {feedback} x {feedback_weight}: {r:.4}");
            if r > best.0 + 1e-4 {
                best = (r, f);
            }
        }
    }
    eprintln!("chosen on dev: {:?} ({:.4})", best.1, best.0);
    best.1
}

/// The priors, chosen on the dev topics with the product's fusion (docs/RETRIEVAL.md,
/// round 7): the navigation factor from mild to strong, then the other-audience
/// factor; a stronger discount is kept only when it gains more than 1e-4.
fn tune_priors(
    kb: &mut KnowledgeBase,
    dev: &[(RelevanceQuery, Option<facteur_embed::Embedding>)],
) -> Priors {
    let mut best = (f64::MIN, Priors::none());
    for navigation in [1.0f32, 0.9, 0.8, 0.6, 0.3, 0.1, 0.0] {
        for other_audience in [1.0f32, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5] {
            let p = Priors {
                navigation,
                other_audience,
                audience: "particuliers".into(),
            };
            kb.set_priors(p.clone());
            let r = ndcg(kb, dev);
            eprintln!(
                "dev priors navigation {navigation} x other audience {other_audience}: {r:.4}"
            );
            if r > best.0 + 1e-4 {
                best = (r, p);
            }
        }
    }
    eprintln!("priors chosen on dev: {:?} ({:.4})", best.1, best.0);
    best.1
}
