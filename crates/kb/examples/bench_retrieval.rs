//! Retrieval benchmark: builds the index over the fiches (from scratch in DATA_DIR),
//! then prints a JSON report for all queries, the dev part and the held-out part.
//!
//! cargo run --release -p facteur-kb --example bench_retrieval -- [DATA_DIR QUERIES FICHES...]
//! Without arguments: a temporary data dir and the shared data next to the repo.
//! Set TUNE=1 to grid-search the field weights on the dev part (held-out untouched).

use std::path::{Path, PathBuf};

use facteur_kb::{evaluate, is_held_out, read_queries, KnowledgeBase, RelevanceQuery, Tuning};

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tmp;
    let (data_dir, queries_path, fiches): (PathBuf, PathBuf, Vec<PathBuf>) = if args.len() >= 3 {
        (
            args[0].clone().into(),
            args[1].clone().into(),
            args[2..].iter().map(PathBuf::from).collect(),
        )
    } else {
        tmp = std::env::temp_dir().join(format!("facteur-kb-bench-{}", std::process::id()));
        let fiches = [
            "particuliers_1",
            "particuliers_2",
            "professionnels",
            "associations",
        ]
        .iter()
        .map(|n| shared(&format!("service-public-fiches-2020/fiches_{n}.jsonl")))
        .collect();
        (tmp, shared("bench/retrieval_queries.jsonl"), fiches)
    };
    let _ = std::fs::remove_dir_all(data_dir.join("kb"));
    let mut kb = KnowledgeBase::open(&data_dir)?;
    let t = std::time::Instant::now();
    let mut imports = Vec::new();
    for f in &fiches {
        imports.push(kb.import_fiches(f)?);
    }
    kb.optimize()?;
    let index_seconds = t.elapsed().as_secs_f64();
    let queries = read_queries(&queries_path)?;
    let (held, dev): (Vec<RelevanceQuery>, Vec<RelevanceQuery>) =
        queries.iter().cloned().partition(|q| is_held_out(&q.topic));

    if std::env::var("TUNE").is_ok() {
        let mut best = (0.0, kb.tuning());
        for title in [0.5f32, 0.75, 1.0] {
            for title_exact in [0.25f32, 0.5] {
                for description in [0.25f32, 0.5] {
                    for breadcrumb in [0.0f32, 0.25] {
                        for text in [1.0f32] {
                            for synonyms in [0.5f32, 1.0] {
                                let t = Tuning {
                                    title,
                                    title_exact,
                                    description,
                                    breadcrumb,
                                    text,
                                    synonyms,
                                };
                                kb.set_tuning(t);
                                let r = evaluate(&kb, &dev);
                                if r.ndcg_at_10 > best.0 {
                                    best = (r.ndcg_at_10, t);
                                    eprintln!("dev nDCG@10 {:.4} with {t:?}", r.ndcg_at_10);
                                }
                            }
                        }
                    }
                }
            }
        }
        kb.set_tuning(best.1);
    }

    let mut ablation = serde_json::Map::new();
    if std::env::var("ABLATE").is_ok() {
        let base = kb.tuning();
        let variants = [
            (
                "no_synonyms",
                Tuning {
                    synonyms: 0.0,
                    ..base
                },
            ),
            (
                "no_title_exact",
                Tuning {
                    title_exact: 0.0,
                    ..base
                },
            ),
            (
                "no_description",
                Tuning {
                    description: 0.0,
                    ..base
                },
            ),
            (
                "text_only",
                Tuning {
                    title: 0.0,
                    title_exact: 0.0,
                    description: 0.0,
                    breadcrumb: 0.0,
                    synonyms: 0.0,
                    ..base
                },
            ),
            (
                "title_2x_like_peer",
                Tuning {
                    title: 2.0,
                    title_exact: 0.0,
                    description: 0.0,
                    breadcrumb: 0.0,
                    synonyms: 0.0,
                    ..base
                },
            ),
        ];
        for (name, t) in variants {
            kb.set_tuning(t);
            let (a, h) = (evaluate(&kb, &queries), evaluate(&kb, &held));
            ablation.insert(name.into(), serde_json::json!({"all_ndcg_at_10": a.ndcg_at_10, "held_out_ndcg_at_10": h.ndcg_at_10}));
        }
        kb.set_tuning(base);
    }

    // Warm-up pass so the timed runs do not pay first-touch costs.
    let _ = evaluate(&kb, &queries);
    let out = serde_json::json!({
        "engine": "facteur-kb (tantivy)",
        "docs": kb.len(),
        "index_seconds": index_seconds,
        "imports": imports,
        "tuning": kb.tuning(),
        "all": evaluate(&kb, &queries),
        "dev": evaluate(&kb, &dev),
        "held_out": evaluate(&kb, &held),
        "ablation": ablation,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
