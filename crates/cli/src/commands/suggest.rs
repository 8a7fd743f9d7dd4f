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
    };
    let engine = super::triage::engine(cfg, a.model.as_ref(), Some(&data_dir), options)?;
    let raw = if a.mail.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .context("cannot read standard input")?;
        buf
    } else {
        std::fs::read(&a.mail).with_context(|| {
            format!(
                "cannot read {}: give the path of an .eml file",
                a.mail.display()
            )
        })?
    };
    let t = engine.triage_raw(&a.mail.display().to_string(), &raw);
    if a.json {
        return super::print_json(&t);
    }
    println!("Objet      : {}", t.subject);
    println!("Langue     : {}", t.language);
    match &t.category {
        Some(c) => println!("Catégorie  : {c} (confiance {:.0} %)", t.confidence * 100.0),
        None => println!(
            "Catégorie  : — (abstention, confiance {:.0} %)",
            t.confidence * 100.0
        ),
    }
    println!("Orientation: {:?}", t.route);
    if !t.pii.is_empty() {
        println!("Données personnelles : {:?}", t.pii);
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
            println!(
                "\n--- Brouillon (réponse type {} v{}, {}{}) ---\n{}",
                d.answer_id,
                d.answer_version,
                d.language,
                if d.language_fallback {
                    ", rédigé en français faute de variante"
                } else {
                    ""
                },
                d.text
            );
        }
        None => println!(
            "\nPas de brouillon : {}",
            t.no_draft_reason
                .as_deref()
                .unwrap_or("aucune réponse type validée ne convient")
        ),
    }
    Ok(())
}
