//! One module per subcommand.

pub mod backup;
pub mod citizen;
pub mod demo;
pub mod eval;
pub mod ingest;
pub mod kb;
pub mod migrate;
pub mod model;
pub mod retention;
pub mod serve;
pub mod store_cmds;
pub mod suggest;
pub mod sync;
pub mod train;
pub mod triage;
pub mod worker;

use anyhow::{Context, Result};
use std::path::Path;

/// Load a model directory with an error that says what to do. A model trained with
/// an embedding view is refused unless the configured embedder is the one it needs.
pub fn load_model(dir: &Path) -> Result<facteur_classify::Model> {
    let m = facteur_classify::Model::load(dir).with_context(|| {
        tr!(
            "impossible de charger le modèle de {} : entraînez-en un avec `facteur train --data TRAIN.jsonl --model {}`",
            "cannot load the model in {}: train one with `facteur train --data TRAIN.jsonl --model {}`",
            dir.display(),
            dir.display()
        )
    })?;
    crate::embedding::check_model(&m).with_context(|| {
        tr!(
            "le modèle de {} ne peut pas être chargé",
            "the model in {} cannot be loaded",
            dir.display()
        )
    })?;
    Ok(m)
}

/// The messages of one mail source (file, mbox, Maildir), read one at a time so that
/// an archive of any size fits in memory; each item names the source on error.
pub fn read_messages(
    src: &facteur_mail::MailSource,
) -> Result<impl Iterator<Item = Result<(facteur_mail::RawMessage, u64)>> + '_> {
    let cannot_read = move || {
        tr!(
            "impossible de lire {}",
            "cannot read {}",
            src.path.display()
        )
    };
    let mut reader = facteur_mail::read_messages(src).with_context(cannot_read)?;
    let mut done = 0u64;
    // Each message comes with the bytes read since the previous one, for a progress bar.
    Ok(std::iter::from_fn(move || {
        let item = reader.next()?;
        let now = reader.consumed();
        let step = now.saturating_sub(done);
        done = now;
        Some(item.map(|m| (m, step)).with_context(cannot_read))
    }))
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

/// The labels (sorted, distinct) that the service's taxonomy (`taxonomy.toml` of
/// the answers folder) does not know, with the taxonomy's path. `Ok(None)` when
/// there is no taxonomy file to check against. A model that predicts such a label
/// never finds a standard answer for it, and a supervisor cannot switch it off by
/// type from the web form.
pub fn labels_outside_taxonomy<'a>(
    cfg: &crate::config::Config,
    labels: impl IntoIterator<Item = &'a str>,
) -> Result<Option<(std::path::PathBuf, Vec<String>)>> {
    let path = cfg.taxonomy_path();
    if !path.is_file() {
        return Ok(None);
    }
    let taxonomy = facteur_kb::answers::Taxonomy::load(&path).with_context(|| {
        tr!(
            "impossible de charger la taxonomie {}",
            "cannot load the taxonomy {}",
            path.display()
        )
    })?;
    let unknown: std::collections::BTreeSet<String> = labels
        .into_iter()
        .filter(|l| !taxonomy.contains(l))
        .map(str::to_string)
        .collect();
    Ok(Some((path, unknown.into_iter().collect())))
}

/// "a, b, c, … (N in all)": a few labels, enough to recognise the mistake.
pub fn few(labels: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = labels
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if labels.len() > SHOWN {
        s.push_str(", …");
    }
    s
}

/// Warn on stderr that training data carries labels outside the taxonomy (or that
/// there is no taxonomy to check them against).
pub fn warn_labels_outside_taxonomy<'a>(
    cfg: &crate::config::Config,
    data: &Path,
    labels: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    match labels_outside_taxonomy(cfg, labels)? {
        None => eprintln!(
            "{}",
            tr!(
                "attention : pas de taxonomie ({}) : les étiquettes de {} n'ont pas pu être vérifiées",
                "warning: no taxonomy ({}): the labels of {} could not be checked",
                cfg.taxonomy_path().display(),
                data.display()
            )
        ),
        Some((_, unknown)) if unknown.is_empty() => {}
        Some((path, unknown)) => eprintln!(
            "{}",
            tr!(
                "attention : {} étiquette(s) de {} absente(s) de la taxonomie {} : {}. Le modèle prédira des types de demande sans réponse type ; corrigez les étiquettes ou la taxonomie (`facteur model promote` refusera ce modèle sans --force)",
                "warning: {} label(s) of {} are not in the taxonomy {}: {}. The model will predict request types that have no standard answer; fix the labels or the taxonomy (`facteur model promote` will refuse this model without --force)",
                unknown.len(),
                data.display(),
                path.display(),
                few(&unknown)
            )
        ),
    }
    Ok(())
}

/// Find the mail sources of the paths given on the command line, with a line in the
/// user's language above the library's (English) reason.
pub fn discover(paths: &[std::path::PathBuf]) -> Result<Vec<facteur_mail::MailSource>> {
    facteur_mail::discover(paths).context(crate::i18n::tr(
        "courrier introuvable ou illisible : donnez un fichier .eml, un fichier mbox, un dossier Maildir ou - pour l'entrée standard",
        "mail not found or unreadable: give an .eml file, an mbox file, a Maildir folder or - for standard input",
    ))
}

/// A route in words of the user's language (the JSON output keeps the code).
pub fn route_words(r: facteur_core::Route) -> &'static str {
    use facteur_core::Route;
    match r {
        Route::ReadyToValidate => crate::i18n::tr("prêt à valider", "ready to validate"),
        Route::NeedsResearch => crate::i18n::tr("recherche nécessaire", "needs research"),
        Route::Escalate => crate::i18n::tr("à escalader", "escalate"),
        Route::Abstain => crate::i18n::tr("abstention", "abstain"),
        Route::Automatic => crate::i18n::tr("automatique — pas de réponse", "automatic — no reply"),
    }
}

/// A kind of personal data in words of the user's language.
pub fn pii_words(k: facteur_core::PiiKind) -> &'static str {
    use facteur_core::PiiKind;
    match k {
        PiiKind::FiscalNumber => crate::i18n::tr("numéro fiscal", "tax number"),
        PiiKind::Nir => crate::i18n::tr("numéro de sécurité sociale", "social security number"),
        PiiKind::Iban => crate::i18n::tr("IBAN", "IBAN"),
        PiiKind::Phone => crate::i18n::tr("téléphone", "phone"),
        PiiKind::Email => crate::i18n::tr("adresse électronique", "e-mail address"),
        PiiKind::PostalAddress => crate::i18n::tr("adresse postale", "postal address"),
        PiiKind::PersonName => crate::i18n::tr("nom de personne", "person name"),
    }
}

/// An outbox state in words of the user's language.
pub fn outbox_state_words(s: facteur_core::OutboxState) -> &'static str {
    use facteur_core::OutboxState;
    match s {
        OutboxState::Queued => crate::i18n::tr("en attente", "queued"),
        OutboxState::Sending => crate::i18n::tr("en cours", "sending"),
        OutboxState::Sent => crate::i18n::tr("envoyé", "sent"),
        OutboxState::Failed => crate::i18n::tr("échec", "failed"),
        OutboxState::Undelivered => crate::i18n::tr("non distribuée", "undelivered"),
    }
}
