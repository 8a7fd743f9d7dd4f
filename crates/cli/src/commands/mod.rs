//! One module per subcommand.

pub mod demo;
pub mod eval;
pub mod ingest;
pub mod kb;
pub mod migrate;
pub mod model;
pub mod serve;
pub mod store_cmds;
pub mod suggest;
pub mod sync;
pub mod train;
pub mod triage;
pub mod worker;

use anyhow::{Context, Result};
use std::path::Path;

/// Load a model directory with an error that says what to do.
pub fn load_model(dir: &Path) -> Result<facteur_classify::Model> {
    facteur_classify::Model::load(dir).with_context(|| {
        tr!(
            "impossible de charger le modèle de {} : entraînez-en un avec `facteur train --data TRAIN.jsonl --model {}`",
            "cannot load the model in {}: train one with `facteur train --data TRAIN.jsonl --model {}`",
            dir.display(),
            dir.display()
        )
    })
}

/// Read the messages of one mail source (file, mbox, Maildir), naming it on error.
pub fn read_source(src: &facteur_mail::MailSource) -> Result<Vec<facteur_mail::RawMessage>> {
    facteur_mail::read_source(src).with_context(|| {
        tr!(
            "impossible de lire {}",
            "cannot read {}",
            src.path.display()
        )
    })
}

/// Print one JSON value on stdout, as one line.
pub fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}

/// The async runtime for commands that talk to the store or the network.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context(crate::i18n::tr(
            "impossible de démarrer l'environnement d'exécution asynchrone",
            "cannot start the async runtime",
        ))
}
