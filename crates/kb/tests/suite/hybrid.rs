//! Hybrid retrieval with the real e5-small model (FACTEUR_TEST_EMBEDDING_MODEL, set up by
//! scripts/test.sh; skipped locally without it, failing under CI).
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use facteur_embed::{testing, Embedder, NativeEmbedder};
use facteur_kb::{KnowledgeBase, SearchOptions, SEMANTIC_MARK};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fiches_sample.jsonl")
}

fn embedder(model: &Path) -> Arc<dyn Embedder> {
    Arc::new(
        NativeEmbedder::open(model)
            .unwrap()
            .with_token_limits(64, 128),
    )
}

/// A knowledge base over the sample fiches, no model attached yet.
fn sample_kb() -> (tempfile::TempDir, KnowledgeBase) {
    let dir = tempfile::tempdir().unwrap();
    let mut kb = KnowledgeBase::open(dir.path()).unwrap();
    kb.import_fiches(&sample()).unwrap();
    (dir, kb)
}

#[test]
fn vectors_are_incremental_and_follow_the_documents() {
    let Some(model) = testing::model_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut kb = KnowledgeBase::open(dir.path()).unwrap();
    assert_eq!(kb.set_embedder(embedder(&model)).unwrap(), 0);
    let first = kb.import_fiches(&sample()).unwrap();
    assert_eq!((first.added, first.embedded), (59, 59));
    assert!(dir.path().join("kb-vectors.bin").is_file());
    // Same file again: nothing re-embedded.
    assert_eq!(kb.import_fiches(&sample()).unwrap().embedded, 0);
    // One fiche changed, one removed: only the changed one is embedded.
    let text = std::fs::read_to_string(sample()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[0] = lines[0].replace("mensualisation", "mensualisation du paiement");
    lines.pop();
    let changed = dir.path().join("fiches_sample.jsonl");
    std::fs::write(&changed, lines.join("\n")).unwrap();
    let r = kb.import_fiches(&changed).unwrap();
    assert_eq!((r.updated, r.removed, r.embedded), (1, 1, 1));
    // A new handle on the same data reads the stored vectors instead of recomputing.
    let mut again = KnowledgeBase::open(dir.path()).unwrap();
    assert_eq!(again.set_embedder(embedder(&model)).unwrap(), 0);
}

#[test]
fn every_hybrid_hit_says_why() {
    let Some(model) = testing::model_or_skip() else {
        return;
    };
    let (_dir, mut kb) = sample_kb();
    let query =
        "l'enterrement de mon papa m'a coûté une fortune, est-ce que ça compte pour mes impôts ?";
    let opts = SearchOptions {
        kind: Some(facteur_kb::DocKind::Fiche),
        limit: 3,
        ..SearchOptions::default()
    };
    let lexical: Vec<String> = kb
        .search(query, &opts)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    kb.set_embedder(embedder(&model)).unwrap();
    let hybrid = kb.search(query, &opts).unwrap();
    assert_eq!(hybrid.len(), 3, "lexical {lexical:?}");
    // Every hit says why: marked query terms, or "sens proche" with its closest sentence.
    for h in &hybrid {
        assert!(!h.passages.is_empty(), "{} has no passage", h.id);
        for p in &h.passages {
            assert!(
                !p.highlights.is_empty() || p.text.starts_with(SEMANTIC_MARK),
                "{p:?}"
            );
        }
    }
}

#[test]
fn feedback_reads_the_semantic_ranking_again_from_the_first_documents() {
    let Some(model) = testing::model_or_skip() else {
        return;
    };
    let (_dir, mut kb) = sample_kb();
    kb.set_embedder(embedder(&model)).unwrap();
    let queries = [
        "mon proprio veut pas me rendre la caution",
        "je dois payer combien pour la télé",
        "c'est quoi le taux neutre",
        "j'ai déménagé il faut prévenir les impôts ?",
    ];
    let ranked = |kb: &KnowledgeBase| -> Vec<Vec<String>> {
        queries
            .iter()
            .map(|q| {
                let v = kb.embed_query(q).unwrap();
                kb.search_ids_with(q, Some(&v), 10)
            })
            .collect()
    };
    let with = ranked(&kb);
    let f = kb.fusion();
    assert!(f.feedback > 0 && f.feedback_weight > 0.0, "{f:?}");
    kb.set_fusion(facteur_kb::Fusion { feedback: 0, ..f });
    let without = ranked(&kb);
    // Feedback reorders, but within the documents both views already reach: the
    // first document that steered it stays near the top.
    assert_ne!(with, without, "feedback changed no ranking");
    for (w, o) in with.iter().zip(&without) {
        assert_eq!(w.len(), 10);
        let pos = w.iter().position(|id| id == &o[0]);
        assert!(pos.is_some_and(|p| p < 3), "{w:?} / {o:?}");
    }
}

/// The real engine, recording which texts it embedded as queries.
struct Recording {
    inner: Arc<dyn Embedder>,
    queries: std::sync::Mutex<Vec<String>>,
}

impl Embedder for Recording {
    fn embed(
        &self,
        texts: &[&str],
        kind: facteur_embed::Kind,
    ) -> Result<Vec<facteur_embed::Embedding>, facteur_embed::EmbedError> {
        if kind == facteur_embed::Kind::Query {
            let mut q = self.queries.lock().unwrap();
            q.extend(texts.iter().map(|t| t.to_string()));
        }
        self.inner.embed(texts, kind)
    }
    fn identity(&self) -> &facteur_embed::ModelIdentity {
        self.inner.identity()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[test]
fn a_message_page_explains_with_the_vector_triage_searched_with() {
    let Some(model) = testing::model_or_skip() else {
        return;
    };
    let (_dir, mut kb) = sample_kb();
    let rec = Arc::new(Recording {
        inner: embedder(&model),
        queries: std::sync::Mutex::new(Vec::new()),
    });
    kb.set_embedder(rec.clone()).unwrap();
    // Triage embeds what the classifier read (subject and body) and searches
    // with the body under that vector; the page later explains the stored hits.
    let read = "Frais d'obsèques\nl'enterrement de mon papa m'a coûté une fortune";
    let body = "l'enterrement de mon papa m'a coûté une fortune, est-ce que ça compte ?";
    let v = kb.embed_query(read).unwrap();
    kb.remember_query(body, v);
    let opts = SearchOptions {
        limit: 3,
        snippets: false,
        ..SearchOptions::default()
    };
    let mut hits = kb.search(body, &opts).unwrap();
    assert_eq!(hits.len(), 3);
    kb.explain(body, &mut hits).unwrap();
    assert!(hits.iter().all(|h| !h.passages.is_empty()), "{hits:?}");
    // The body itself was never embedded: one vector per message, the same one.
    assert_eq!(*rec.queries.lock().unwrap(), [read.to_string()]);
}
