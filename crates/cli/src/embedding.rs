//! The one embedding switch (`embedding_model` / `embedding_url`, or
//! FACTEUR_EMBEDDING_MODEL / FACTEUR_EMBEDDING_URL): opened once per process and
//! attached to every knowledge base the commands open, so `kb import`, `kb eval`,
//! `kb search`, `suggest`, `triage`, `serve` and `worker` all retrieve the same way.
//! Without it everything is lexical, as before.

use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use facteur_embed::{Embedder, EmbeddingSource, NativeEmbedder};
use facteur_kb::KnowledgeBase;

use crate::config::Config;

/// Tokens of a message embedded (its head: the request is at the top of a mail). It
/// bounds the cost per message; docs/BENCHMARKS.md measures the trade-off. A fiche's or
/// answer's cap is the knowledge base's (`facteur_kb::PASSAGE_TOKENS`), part of its
/// vectors' recipe.
pub const QUERY_TOKENS: usize = 64;

static SOURCE: OnceLock<Option<EmbeddingSource>> = OnceLock::new();
/// `kb_audience`: None keeps the knowledge base's default priors.
static AUDIENCE: OnceLock<Option<String>> = OnceLock::new();
static EMBEDDER: OnceLock<Option<Arc<dyn Embedder>>> = OnceLock::new();

/// Records the configured source; called once by `main` after the config is loaded.
pub fn configure(cfg: &Config) {
    let source = match (&cfg.embedding_model, &cfg.embedding_url) {
        (Some(p), _) => Some(EmbeddingSource::Model(p.clone())),
        (None, Some(u)) => Some(EmbeddingSource::Url(u.clone())),
        (None, None) => None,
    };
    let _ = SOURCE.set(source);
    let _ = AUDIENCE.set(cfg.kb_audience.clone());
}

/// The configured embedder, opened on first use (checksum check, model load).
pub fn embedder() -> Result<Option<Arc<dyn Embedder>>> {
    if let Some(e) = EMBEDDER.get() {
        return Ok(e.clone());
    }
    let opened: Option<Arc<dyn Embedder>> = match SOURCE.get().cloned().flatten() {
        None => None,
        Some(EmbeddingSource::Model(p)) => Some(Arc::new(
            NativeEmbedder::open(&p)
                .with_context(|| {
                    crate::i18n::tr(
                        "impossible d'ouvrir le modèle d'embeddings (embedding_model) : récupérez-le avec scripts/fetch-embedding-model.sh DOSSIER",
                        "cannot open the embedding model (embedding_model): fetch it with scripts/fetch-embedding-model.sh DIR",
                    )
                })?
                .with_token_limits(QUERY_TOKENS, facteur_kb::PASSAGE_TOKENS),
        )),
        Some(source @ EmbeddingSource::Url(_)) => Some(Arc::from(
            facteur_embed::open(&source).with_context(|| {
                crate::i18n::tr(
                    "le service d'embeddings (embedding_url) ne répond pas : vérifiez l'adresse, ou retirez embedding_url pour une recherche lexicale seule",
                    "the embeddings endpoint (embedding_url) does not answer: check the URL, or remove embedding_url for lexical search only",
                )
            })?,
        )),
    };
    Ok(EMBEDDER.get_or_init(|| opened).clone())
}

/// The embedder a classifier reads messages with: the configured one for a model
/// trained with an embedding view, `None` for a lexical model (or no model), which
/// never needs it opened.
pub fn for_model(m: Option<&facteur_classify::Model>) -> Result<Option<Arc<dyn Embedder>>> {
    match m.and_then(|m| m.embedding()) {
        Some(_) => embedder(),
        None => Ok(None),
    }
}

/// Attaches the configured embedder (if any) to a knowledge base: missing document
/// vectors are computed now, and searches become hybrid. Sets the configured
/// audience (`kb_audience`) too.
pub fn attach(kb: &mut KnowledgeBase) -> Result<()> {
    // The mailbox's audience is a query-time setting of every knowledge base the
    // commands open, as the embedder is.
    if let Some(audience) = AUDIENCE.get().cloned().flatten() {
        kb.set_priors(facteur_kb::Priors {
            audience,
            ..facteur_kb::Priors::default()
        });
    }
    if let Some(e) = embedder()? {
        let n = kb.set_embedder(e).context(crate::i18n::tr(
            "échec du calcul des embeddings de la base de connaissances",
            "computing the knowledge base's embeddings failed",
        ))?;
        if n > 0 {
            tracing::info!(documents = n, "knowledge-base documents embedded");
        }
    }
    Ok(())
}

/// The embedding model as /health and the transparency sheet name it (with its
/// licence and where it runs); `None`: lexical only. Known from the configuration
/// alone, before the model is loaded.
pub fn describe() -> Option<String> {
    let id = facteur_embed::ModelIdentity::e5_small_q4();
    match SOURCE.get().cloned().flatten()? {
        EmbeddingSource::Model(_) => Some(format!("{} ({}), in-process", id.name, id.licence)),
        EmbeddingSource::Url(u) => Some(format!(
            "served by {u} (e5 prefixes, OpenAI-compatible API)"
        )),
    }
}

/// The recipe of the configured embedder's message vectors, as a model trained on
/// them records it: the model, its checksum, the width, and the head of the text
/// embedded (the in-process engine reads [`QUERY_TOKENS`]; an endpoint is sent the
/// whole text).
pub fn recipe(e: &dyn Embedder) -> facteur_classify::EmbeddingRecipe {
    let id = e.identity();
    let in_process = matches!(SOURCE.get(), Some(Some(EmbeddingSource::Model(_))));
    facteur_classify::EmbeddingRecipe {
        model: id.name.clone(),
        checksum: id.checksum.clone(),
        dim: facteur_embed::DIM,
        max_tokens: in_process.then_some(QUERY_TOKENS),
    }
}

/// The examples' texts embedded as queries ([`embed_texts`]).
pub fn embed_examples(
    e: &dyn Embedder,
    examples: &[facteur_classify::Example],
) -> Result<Vec<Vec<f32>>> {
    let texts: Vec<&str> = examples.iter().map(|x| x.text.as_str()).collect();
    embed_texts(e, &texts)
}

/// Texts embedded as queries, in batches, with a progress bar: the vectors a model
/// with an embedding view is trained or evaluated on.
pub fn embed_texts(e: &dyn Embedder, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
    const BATCH: usize = 64;
    let pb = crate::progress::bar(
        texts.len() as u64,
        crate::i18n::tr("embeddings", "embeddings"),
    );
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(BATCH) {
        let v = e
            .embed(chunk, facteur_embed::Kind::Query)
            .context(crate::i18n::tr(
                "le calcul des embeddings des exemples a échoué",
                "embedding the examples failed",
            ))?;
        out.extend(v.iter().map(|v| v.to_vec()));
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok(out)
}

/// Refuses a model trained with an embedding view when the configured embedder is
/// missing or is another one: its calibration holds only with the vectors it was
/// trained on.
pub fn check_model(m: &facteur_classify::Model) -> Result<()> {
    let Some(need) = m.embedding() else {
        return Ok(());
    };
    let (model, sum) = (&need.model, &need.checksum);
    let Some(e) = embedder()? else {
        anyhow::bail!(tr!(
            "ce modèle a été entraîné avec les embeddings de {model} (sha256 {sum}) et ne peut pas classer sans eux : configurez embedding_model (ou FACTEUR_EMBEDDING_MODEL), ou entraînez un modèle lexical sans ce réglage",
            "this model was trained with the embeddings of {model} (sha256 {sum}) and cannot classify without them: set embedding_model (or FACTEUR_EMBEDDING_MODEL), or train a lexical model without that setting"
        ));
    };
    let have = recipe(e.as_ref());
    anyhow::ensure!(
        &have == need,
        tr!(
            "ce modèle a été entraîné avec les embeddings {need:?}, mais l'embedder configuré donne {have:?} : configurez le même modèle d'embeddings, ou réentraînez le modèle",
            "this model was trained with the embeddings {need:?}, but the configured embedder gives {have:?}: configure the same embedding model, or retrain the model"
        )
    );
    Ok(())
}

/// The configured embedder as the model registry uses it (`model train`, `model
/// eval`, `demo`): candidates then get an embedding view like `facteur train` gives.
pub struct RegistryEmbedder {
    recipe: facteur_classify::EmbeddingRecipe,
    embed: Box<facteur_learn::EmbedFn>,
}

impl RegistryEmbedder {
    pub fn view(&self) -> facteur_learn::Embeddings<'_> {
        facteur_learn::Embeddings {
            recipe: self.recipe.clone(),
            embed: &*self.embed,
        }
    }
}

/// `None` without the switch: the registry then trains lexical models.
pub fn registry_embedder() -> Result<Option<RegistryEmbedder>> {
    Ok(embedder()?.map(|e| RegistryEmbedder {
        recipe: recipe(e.as_ref()),
        embed: Box::new(move |texts: &[&str]| {
            embed_texts(e.as_ref(), texts).map_err(|err| format!("{err:#}"))
        }),
    }))
}
