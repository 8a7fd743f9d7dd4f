use crate::config::Config;
use crate::progress;
use anyhow::{Context, Result};
use clap::Args;
use facteur_core::RoutingPolicy;
use facteur_triage::{Engine, TriageOptions, Triaged};
use std::io::{Read, Write};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TriageArgs {
    /// Mail to read: .eml files, mbox files, Maildir folders, directories (walked
    /// recursively), or - for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Model directory. Default: the configured model dir when it holds a model;
    /// without a model, messages are read and cleaned but not classified.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Data directory holding a knowledge base (`facteur kb import`): adds the best
    /// passages and a draft to each message.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// One JSON object per message on stdout (JSON lines).
    #[arg(long)]
    pub json: bool,
}

/// Builds the engine the triage and suggest commands share.
pub fn engine(
    cfg: &Config,
    model: Option<&PathBuf>,
    data_dir: Option<&PathBuf>,
    options: TriageOptions,
) -> Result<Engine> {
    let model = match model {
        Some(dir) => Some(super::load_model(dir)?),
        None => {
            let dir = cfg.model_dir();
            if dir.join("model.bin").is_file() {
                Some(super::load_model(&dir)?)
            } else {
                None
            }
        }
    };
    let kb = match data_dir {
        Some(dir) => Some(super::kb::open_existing(dir)?),
        None => None,
    };
    let embedder = crate::embedding::for_model(model.as_ref())?;
    Ok(Engine::new(model, kb, options).with_embedder(embedder))
}

pub fn run(cfg: &Config, a: TriageArgs) -> Result<()> {
    let options = TriageOptions {
        policy: RoutingPolicy {
            min_confidence: cfg.min_confidence,
            ..RoutingPolicy::default()
        },
        attachments: cfg.attachments.extract_config(),
        ..TriageOptions::default()
    };
    let engine = engine(cfg, a.model.as_ref(), a.data_dir.as_ref(), options)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut count = 0usize;
    let mut emit = |t: &Triaged, out: &mut dyn Write| -> Result<()> {
        count += 1;
        if a.json {
            serde_json::to_writer(&mut *out, t)?;
            out.write_all(b"\n")?;
        } else {
            writeln!(
                out,
                "{}\t{}\t{:.2}\t{}\t{}",
                t.origin,
                t.category.as_deref().unwrap_or("-"),
                t.confidence,
                super::route_words(t.route),
                t.subject
            )?;
        }
        Ok(())
    };

    let (stdin_paths, file_paths): (Vec<PathBuf>, Vec<PathBuf>) =
        a.paths.into_iter().partition(|p| p.as_os_str() == "-");
    if !stdin_paths.is_empty() {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context(crate::i18n::tr(
                "impossible de lire l'entrée standard",
                "cannot read standard input",
            ))?;
        for raw in facteur_mail::split_input(&buf, "-") {
            let t = engine.triage_raw(&raw.origin, &raw.bytes);
            emit(&t, &mut out)?;
        }
    }
    if !file_paths.is_empty() {
        let sources = super::discover(&file_paths)?;
        let total: u64 = sources.iter().map(|s| s.size).sum();
        let pb = progress::bytes_bar(total, crate::i18n::tr("tri", "triage"));
        for src in &sources {
            for item in super::read_messages(src)? {
                let (raw, read) = item?;
                let t = engine.triage_raw(&raw.origin, &raw.bytes);
                emit(&t, &mut out)?;
                pb.inc(read);
            }
        }
        pb.finish_and_clear();
    }
    out.flush()?;
    drop(out);
    tracing::info!(messages = count, "triage finished");
    Ok(())
}
