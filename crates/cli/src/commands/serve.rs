//! `facteur serve`: the web app plus the background work (triage of what is pending,
//! the mailbox connectors and the SMTP outbox) in one process.

use crate::config::Config;
use crate::service::Service;
use anyhow::{Context, Result};
use clap::Args;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (default: `listen` in the config, 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Serve the web app only: no IMAP sync and no SMTP sending from this process.
    #[arg(long)]
    pub no_connectors: bool,
}

/// Load the taxonomy the web app offers for category corrections. Without a
/// taxonomy file the agents would be offered no category at all, so the active
/// model's request types are offered instead (ids as labels), with a warning that
/// says where the file was looked for.
pub fn taxonomy(cfg: &Config, model_labels: &[String]) -> Result<facteur_kb::answers::Taxonomy> {
    let path = cfg.taxonomy_path();
    if path.is_file() {
        facteur_kb::answers::Taxonomy::load(&path).with_context(|| {
            tr!(
                "impossible de charger la taxonomie {}",
                "cannot load the taxonomy {}",
                path.display()
            )
        })
    } else {
        eprintln!(
            "{}",
            tr!(
                "attention : pas de taxonomie {} : les corrections de catégorie proposent les {} types de demande du modèle actif, sans leurs libellés. Indiquez answers_dir dans la configuration (chemin relatif au fichier de configuration)",
                "warning: no taxonomy {}: category corrections offer the active model's {} request types, without their labels. Set answers_dir in the config (relative to the config file)",
                path.display(),
                model_labels.len()
            )
        );
        tracing::warn!(path = %path.display(), "no taxonomy file: category corrections offer the model's labels");
        let pairs: Vec<(&str, &str)> = model_labels
            .iter()
            .map(|l| (l.as_str(), l.as_str()))
            .collect();
        Ok(facteur_kb::answers::Taxonomy::from_labels(&pairs))
    }
}

pub fn web_config(cfg: &Config) -> Result<facteur_web::WebConfig> {
    let nets = |key: &str, list: &[String]| -> Result<Vec<ipnet::IpNet>> {
        list.iter()
            .map(|n| crate::config::parse_network(key, n))
            .collect()
    };
    let metrics_token = match &cfg.metrics_token_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| {
                    tr!(
                        "impossible de lire metrics_token_file {}",
                        "cannot read metrics_token_file {}",
                        p.display()
                    )
                })?
                .trim()
                .to_string(),
        )
        .filter(|t| !t.is_empty()),
        None => None,
    };
    Ok(facteur_web::WebConfig {
        trusted_proxies: nets("trusted_proxies", &cfg.trusted_proxies)?,
        metrics_allow: nets("metrics_allow", &cfg.metrics_allow)?,
        metrics_token,
        login_max_per_ip: cfg.login_max_per_ip,
        secure_cookies: cfg.secure_cookies,
        default_lang: if cfg.language == "en" {
            facteur_web::Lang::En
        } else {
            facteur_web::Lang::Fr
        },
        data_dir: Some(cfg.data_dir.clone()),
        contact: cfg.contact.clone(),
        service_name: cfg.service_name.clone(),
        publication: cfg.publication.clone(),
        retention: cfg.retention,
        embedding_model: crate::embedding::describe(),
        session_ttl: std::time::Duration::from_secs(u64::from(cfg.session_idle_minutes) * 60),
        session_max_lifetime: std::time::Duration::from_secs(
            u64::from(cfg.session_max_hours) * 3600,
        ),
        local_login: cfg.oidc.as_ref().is_none_or(|o| o.local_accounts),
        send_delay: std::time::Duration::from_secs(cfg.send_delay_seconds),
        followup_days: cfg.followup_days,
        theme: facteur_web::Theme::parse(&cfg.theme).unwrap_or_default(),
        ..facteur_web::WebConfig::default()
    })
}

/// Plain-http session cookies are readable by anyone on the network path: say
/// so when the listen address is reachable from elsewhere.
fn warn_if_exposed(listen: &std::net::SocketAddr, secure_cookies: bool) {
    if !listen.ip().is_loopback() && !secure_cookies {
        eprintln!(
            "{}",
            tr!(
                "attention : Facteur écoute sur {listen}, une adresse joignable hors de cette machine, avec secure_cookies = false : les cookies de session circulent en clair. Servez-le derrière TLS (un proxy inverse) avec secure_cookies = true, ou écoutez sur 127.0.0.1",
                "warning: Facteur listens on {listen}, an address reachable from other machines, with secure_cookies = false: session cookies travel in clear. Serve it behind TLS (a reverse proxy) with secure_cookies = true, or listen on 127.0.0.1"
            )
        );
        tracing::warn!(%listen, "listening on a non-loopback address without secure cookies");
    }
}

pub fn run(cfg: &Config, a: ServeArgs) -> Result<()> {
    let listen = a.listen.clone().unwrap_or_else(|| cfg.listen.clone());
    super::runtime()?.block_on(async move {
        let svc = crate::service::open(cfg).await?;
        serve_service(cfg, svc, &listen, !a.no_connectors).await
    })
}

/// Serve an opened service until Ctrl-C.
pub async fn serve_service(
    cfg: &Config,
    svc: Arc<Service>,
    listen: &str,
    connectors: bool,
) -> Result<()> {
    let stop = super::worker::stop_signal();
    let pending = svc.triage_pending().await?;
    if pending > 0 {
        tracing::info!(pending, "triaged messages left untriaged by a previous run");
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = vec![svc.spawn_kb_refresher(
        std::time::Duration::from_secs(cfg.kb_refresh_secs.max(1)),
        stop_rx.clone(),
    )];
    tasks.push(tokio::spawn(super::retention::daily_purge(
        svc.store.clone(),
        cfg.retention,
        stop_rx.clone(),
    )));
    if connectors {
        tasks.extend(
            crate::commands::sync::spawn_connectors(cfg, svc.clone(), stop_rx.clone()).await?,
        );
    }
    let model_labels: Vec<String> = svc
        .engine()
        .model()
        .map(|m| m.labels().to_vec())
        .unwrap_or_default();
    let state = facteur_web::AppState::new(
        svc.store.clone(),
        taxonomy(cfg, &model_labels)?,
        web_config(cfg)?,
    )
    .with_service(svc.clone());
    let state = match &cfg.oidc {
        Some(o) => {
            let oidc = facteur_web::oidc::Oidc::new(o.settings()?).map_err(|e| {
                anyhow::anyhow!(tr!(
                    "[oidc] : {e} (voir docs/SSO.md)",
                    "[oidc]: {e} (see docs/SSO.md)"
                ))
            })?;
            state.with_oidc(Arc::new(oidc))
        }
        None => state,
    };
    // An address that does not parse is not "in use": say which mistake it is.
    if tokio::net::lookup_host(listen).await.is_err() {
        anyhow::bail!(tr!(
            "adresse d'écoute invalide {listen:?} : attendu HÔTE:PORT, par exemple 127.0.0.1:8080 (option --listen ou listen dans la configuration)",
            "invalid listen address {listen:?}: expected HOST:PORT, e.g. 127.0.0.1:8080 (--listen or listen in the config)"
        ));
    }
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => anyhow::bail!(tr!(
            "impossible d'écouter sur {listen} : un autre processus utilise déjà cette adresse. Arrêtez-le ou choisissez-en une autre avec --listen",
            "cannot listen on {listen}: another process already uses this address. Stop it or choose another with --listen"
        )),
        Err(e) => {
            return Err(e).with_context(|| {
                tr!(
                    "impossible d'écouter sur {listen} : vérifiez l'adresse et les droits (un port sous 1024 demande des privilèges), ou choisissez-en une autre avec --listen",
                    "cannot listen on {listen}: check the address and the permissions (a port below 1024 needs privileges), or choose another with --listen"
                )
            })
        }
    };
    if let Ok(addr) = listener.local_addr() {
        warn_if_exposed(&addr, cfg.secure_cookies);
    }
    eprintln!(
        "{}",
        tr!(
            "Facteur écoute sur http://{listen}  (Ctrl-C pour arrêter)",
            "Facteur listening on http://{listen}  (Ctrl-C to stop)"
        )
    );
    let server = facteur_web::serve(listener, state);
    tokio::select! {
        r = server => r.context(crate::i18n::tr("le serveur web s'est arrêté", "the web server stopped"))?,
        // SIGTERM too: `systemctl stop` must stop the connectors between two steps,
        // as Ctrl-C does, not kill the process in the middle of one.
        _ = stop => eprintln!("{}", crate::i18n::tr("arrêt demandé", "stop requested")),
    }
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_taxonomy_file_corrections_offer_the_model_request_types() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            answers_dir: dir.path().join("absent"),
            ..Config::default()
        };
        let labels = vec!["avis-imposition".to_string(), "pas".to_string()];
        let tax = taxonomy(&cfg, &labels).unwrap();
        assert!(tax.contains("avis-imposition") && tax.contains("pas"));
        assert!(!tax.contains("autre"));
        // With the file, the file wins (labels and all).
        std::fs::create_dir(dir.path().join("absent")).unwrap();
        std::fs::write(
            dir.path().join("absent/taxonomy.toml"),
            "[[request_type]]\nid = \"autre\"\nlabel = \"Autre demande\"\n",
        )
        .unwrap();
        let tax = taxonomy(&cfg, &labels).unwrap();
        assert!(tax.contains("autre") && !tax.contains("pas"));
    }

    #[test]
    fn the_web_app_gets_the_configured_session_lifetimes() {
        let cfg = Config::from_toml("session_idle_minutes = 45\nsession_max_hours = 10\n").unwrap();
        let web = web_config(&cfg).unwrap();
        assert_eq!(web.session_ttl.as_secs(), 45 * 60);
        assert_eq!(web.session_max_lifetime.as_secs(), 10 * 3600);
        // The defaults are the web app's own.
        let web = web_config(&Config::default()).unwrap();
        let own = facteur_web::WebConfig::default();
        assert_eq!(web.session_ttl, own.session_ttl);
        assert_eq!(web.session_max_lifetime, own.session_max_lifetime);
    }
}
