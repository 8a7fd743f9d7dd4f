use crate::config::Config;
use anyhow::{Context, Result};
use clap::Args;
use facteur_core::RoutingPolicy;
use facteur_triage::TriageOptions;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SuggestArgs {
    /// The message (.eml), or - for standard input.
    #[arg(value_name = "MAIL.eml")]
    pub mail: PathBuf,
    /// Data directory holding the knowledge base. Default: the configured data dir.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Model directory. Default: the configured model dir.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Signature of the mailbox, used to fill {{signature}}.
    #[arg(long)]
    pub signature: Option<String>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cfg: &Config, a: SuggestArgs) -> Result<()> {
    let data_dir = a.data_dir.clone().unwrap_or_else(|| cfg.data_dir.clone());
    let options = TriageOptions {
        policy: RoutingPolicy {
            min_confidence: cfg.min_confidence,
            ..RoutingPolicy::default()
        },
        passages: 5,
        snippets: true,
        draft: true,
        signature: a.signature.clone(),
        attachments: cfg.attachments.extract_config(),
    };
    let engine = super::triage::engine(cfg, a.model.as_ref(), Some(&data_dir), options)?;
    let raw = if a.mail.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).context(crate::i18n::tr(
            "impossible de lire l'entrée standard",
            "cannot read standard input",
        ))?;
        buf
    } else {
        std::fs::read(&a.mail).with_context(|| {
            tr!(
                "impossible de lire {} : donnez le chemin d'un fichier .eml",
                "cannot read {}: give the path of an .eml file",
                a.mail.display()
            )
        })?
    };
    let t = engine.triage_raw(&a.mail.display().to_string(), &raw);
    if a.json {
        return super::print_json(&t);
    }
    let confidence = t.confidence * 100.0;
    println!("{}", tr!("Objet      : {}", "Subject    : {}", t.subject));
    println!("{}", tr!("Langue     : {}", "Language   : {}", t.language));
    match &t.category {
        Some(c) => println!(
            "{}",
            tr!(
                "Catégorie  : {c} (confiance {confidence:.0} %)",
                "Category   : {c} (confidence {confidence:.0}%)"
            )
        ),
        None => println!(
            "{}",
            tr!(
                "Catégorie  : — (abstention, confiance {confidence:.0} %)",
                "Category   : — (abstained, confidence {confidence:.0}%)"
            )
        ),
    }
    println!(
        "{}",
        tr!(
            "Orientation: {}",
            "Route      : {}",
            super::route_words(t.route)
        )
    );
    if !t.pii.is_empty() {
        let mut kinds: Vec<&str> = Vec::new();
        for k in &t.pii {
            let w = super::pii_words(*k);
            if !kinds.contains(&w) {
                kinds.push(w);
            }
        }
        println!(
            "{}",
            tr!(
                "Données personnelles : {}",
                "Personal data : {}",
                kinds.join(", ")
            )
        );
    }
    for p in &t.passages {
        println!(
            "\n[{}] {} ({}) score {:.2}",
            super::kb::kind_name(p.kind),
            p.title,
            p.id,
            p.score
        );
        for s in &p.passages {
            println!("    … {} …", s.text);
        }
    }
    match &t.draft {
        Some(d) => {
            let fallback = if d.language_fallback {
                crate::i18n::tr(
                    ", rédigé en français faute de variante",
                    ", written in French for want of a variant",
                )
            } else {
                ""
            };
            println!(
                "{}",
                tr!(
                    "\n--- Brouillon (réponse type {} v{}, {}{}) ---\n{}",
                    "\n--- Draft (standard answer {} v{}, {}{}) ---\n{}",
                    d.answer_id,
                    d.answer_version,
                    d.language,
                    fallback,
                    d.text
                )
            );
        }
        None => {
            let reason = t.no_draft_reason.as_deref().unwrap_or(crate::i18n::tr(
                "aucune réponse type validée ne convient",
                "no validated standard answer fits",
            ));
            println!(
                "{}",
                tr!("\nPas de brouillon : {}", "\nNo draft: {}", reason)
            );
        }
    }
    Ok(())
}
