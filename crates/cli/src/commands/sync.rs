//! `facteur sync`: run the mailbox connectors once (IMAP ingest, then the SMTP
//! outbox). `facteur serve` runs the same connectors continuously.

use crate::config::{resolve_password, Config, MailboxConfig, TlsMode};
use crate::service::{Service, TriageHook};
use anyhow::{bail, Result};
use clap::Args;
use facteur_connect::{AfterStore, ImapConfig, ImapIngest, Sender, SmtpConfig, SyncReport};
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// Only this mailbox (default: every mailbox with an [mailbox.imap] or [mailbox.smtp] section).
    #[arg(long, value_name = "NAME")]
    pub mailbox: Option<String>,
    /// Skip sending the validated replies of the outbox.
    #[arg(long)]
    pub no_send: bool,
    /// End with one JSON summary {"fetched","stored","duplicates_skipped","defects","errors", "sent", …}.
    #[arg(long)]
    pub json: bool,
}

fn tls(t: TlsMode) -> facteur_connect::TlsMode {
    match t {
        TlsMode::None => facteur_connect::TlsMode::None,
        TlsMode::Starttls => facteur_connect::TlsMode::Starttls,
        TlsMode::Tls => facteur_connect::TlsMode::Tls,
    }
}

/// [`imap_config`] with the folder an administrator chose in the web app, which
/// wins over the config's from the next start of `sync`, `serve` or `worker`
/// (positions are kept per folder, so a change starts that folder afresh and
/// stores nothing twice).
pub async fn imap_config_in_store(
    store: &facteur_store::Store,
    b: &MailboxConfig,
    mailbox_id: i64,
) -> Result<Option<ImapConfig>> {
    let Some(mut c) = imap_config(b)? else {
        return Ok(None);
    };
    if let Some(folder) = store
        .get_mailbox(mailbox_id)
        .await?
        .and_then(|m| m.imap_folder().map(str::to_string))
    {
        c.folder = folder;
    }
    Ok(Some(c))
}

pub fn imap_config(b: &MailboxConfig) -> Result<Option<ImapConfig>> {
    let Some(i) = &b.imap else { return Ok(None) };
    let password = resolve_password(
        &b.name,
        i.password_env.as_deref(),
        i.password_file.as_deref(),
    )?
    .unwrap_or_default();
    let mut c = ImapConfig::new(&b.name, &i.host, i.port, &i.user, &password);
    c.tls = tls(i.tls);
    c.folder = i.folder.clone();
    c.sent_folder = i.sent_folder.clone().filter(|f| !f.trim().is_empty());
    c.max_message_bytes = i.max_message_bytes;
    c.ca_file = i.ca_file.clone();
    c.after_store = match i.after_store.as_str() {
        "seen" => AfterStore::FlagSeen,
        "leave" => AfterStore::Leave,
        other => match other.strip_prefix("move:") {
            Some(folder) if !folder.is_empty() => AfterStore::Move(folder.to_string()),
            _ => bail!(tr!(
                "boîte {:?} : after_store = {other:?} : utilisez \"seen\", \"leave\" ou \"move:DOSSIER\"",
                "mailbox {:?}: after_store = {other:?}: use \"seen\", \"leave\" or \"move:FOLDER\"",
                b.name
            )),
        },
    };
    Ok(Some(c))
}

pub fn smtp_config(b: &MailboxConfig) -> Result<Option<SmtpConfig>> {
    let Some(s) = &b.smtp else { return Ok(None) };
    let mut c = SmtpConfig::new(&s.host, s.port);
    c.tls = tls(s.tls);
    c.user = s.user.clone();
    c.password = resolve_password(
        &b.name,
        s.password_env.as_deref(),
        s.password_file.as_deref(),
    )?;
    c.ca_file = s.ca_file.clone();
    Ok(Some(c))
}

/// The delivery checks of every mailbox that has one (see
/// `facteur_connect::DeliveryCheck`): on by default for a mailbox with IMAP.
pub async fn delivery_checks(
    cfg: &Config,
    svc: &Service,
) -> Result<Vec<(i64, facteur_connect::DeliveryCheck)>> {
    let mut out = Vec::new();
    for b in &cfg.mailboxes {
        let wanted = b.smtp.as_ref().and_then(|s| s.delivery_check);
        let grace = b
            .smtp
            .as_ref()
            .map(|s| s.delivery_check_grace_secs)
            .unwrap_or(600);
        let imap = imap_config(b)?;
        match (imap, wanted) {
            (Some(imap), None | Some(true)) => {
                let id = svc.mailbox_id(&b.name).await.map_err(crate::service::explained)?;
                out.push((
                    id,
                    facteur_connect::DeliveryCheck {
                        imap,
                        copy_to: b.address.clone(),
                        grace: Duration::from_secs(grace),
                    },
                ));
            }
            (None, Some(true)) => bail!(tr!(
                "boîte {:?} : delivery_check = true demande une section [mailbox.imap] (la copie de chaque réponse y est recherchée)",
                "mailbox {:?}: delivery_check = true needs a [mailbox.imap] section (the copy of each reply is looked for there)",
                b.name
            )),
            _ => {}
        }
    }
    Ok(out)
}

/// A sender with the delivery checks of the config.
pub async fn sender(
    cfg: &Config,
    svc: &Service,
    relay: SmtpConfig,
    worker: String,
) -> Result<Sender> {
    let mut s = Sender::new(svc.store.clone(), relay, worker)
        .with_lease(Duration::from_secs(cfg.outbox_lease_seconds));
    for (id, check) in delivery_checks(cfg, svc).await? {
        s = s.with_delivery_check(id, check);
    }
    for b in &cfg.mailboxes {
        if let Some(imap) = imap_config(b)?.filter(|c| c.sent_folder.is_some()) {
            s = s.with_sent_folder(
                svc.mailbox_id(&b.name)
                    .await
                    .map_err(crate::service::explained)?,
                imap,
            );
        }
    }
    Ok(s)
}

fn worker_id() -> String {
    format!("{}-{}", hostname(), std::process::id())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "facteur".into())
}

pub fn run(cfg: &Config, a: SyncArgs) -> Result<()> {
    super::runtime()?.block_on(async {
        let svc = crate::service::open(cfg).await?;
        svc.triage_pending().await?;
        let boxes: Vec<&MailboxConfig> = cfg
            .mailboxes
            .iter()
            .filter(|b| a.mailbox.as_deref().is_none_or(|n| n == b.name))
            .collect();
        if let (Some(name), true) = (&a.mailbox, boxes.is_empty() && !cfg.mailboxes.is_empty()) {
            let declared: Vec<&str> = cfg.mailboxes.iter().map(|b| b.name.as_str()).collect();
            bail!(tr!(
                "aucune boîte nommée {name:?} dans la configuration : boîtes déclarées : {}",
                "no mailbox named {name:?} in the config: declared mailboxes: {}",
                declared.join(", ")
            ));
        }
        if boxes.is_empty() {
            bail!(crate::i18n::tr(
                "aucune boîte à relever : déclarez des sections [[mailbox]] avec [mailbox.imap] dans la configuration",
                "no mailbox to sync: declare [[mailbox]] sections with [mailbox.imap] in the config"
            ));
        }
        let hook: facteur_connect::SharedHook = Arc::new(TriageHook(svc.clone()));
        let mut total = SyncReport::default();
        let mut sent = serde_json::Map::new();
        for b in &boxes {
            let mailbox_id = svc.mailbox_id(&b.name).await.map_err(crate::service::explained)?;
            if let Some(c) = imap_config_in_store(&svc.store, b, mailbox_id).await? {
                let mut ingest = ImapIngest::new(svc.store.clone(), mailbox_id, c)
                    .with_hook(hook.clone());
                // Every field, `own_replies` and `full_resync` included (a
                // field-by-field sum here once dropped those two).
                total.merge(&ingest.sync_once().await);
            }
        }
        let mut sent_total = 0usize;
        if !a.no_send {
            // One sender drains the whole outbox: the outbox rows carry their mailbox,
            // and the first mailbox with SMTP settings is the relay.
            if let Some(c) = boxes.iter().find_map(|b| smtp_config(b).transpose()) {
                let sender = sender(cfg, &svc, c?, worker_id()).await?;
                let r = sender.drain().await;
                sent_total = r.sent as usize;
                sent.insert("report".into(), serde_json::to_value(&r)?);
                total.errors.extend(r.errors.clone());
            }
        }
        if a.json {
            let mut v = serde_json::to_value(&total)?;
            v["sent"] = serde_json::json!(sent_total);
            if let Some(r) = sent.get("report") {
                v["send_report"] = r.clone();
            }
            super::print_json(&v)?;
        } else {
            println!(
                "{}",
                tr!(
                    "{} relevés, {} stockés, {} déjà présents, {} avec défauts, {} envoyés, {} erreurs",
                    "{} fetched, {} stored, {} already there, {} with defects, {} sent, {} errors",
                    total.fetched,
                    total.stored,
                    total.duplicates_skipped,
                    total.defects,
                    sent_total,
                    total.errors.len()
                )
            );
            for e in &total.errors {
                eprintln!("{} {e}", crate::i18n::tr("erreur :", "error:"));
            }
        }
        // Closing the pool checkpoints SQLite's write-ahead log into the
        // database file before the process ends.
        svc.store.close().await;
        // A run that could not read a mailbox or send a reply must fail for the
        // cron job or timer that started it; the summary above still says what
        // was done. (It used to exit 0, so monitoring saw success while no mail
        // came in.)
        if !total.errors.is_empty() {
            bail!(tr!(
                "{} erreur(s) pendant la relève ou l'envoi (détail ci-dessus) : vérifiez host, port, tls, user et le mot de passe (password_env ou password_file) des sections [mailbox.imap] et [mailbox.smtp], puis relancez `facteur sync`",
                "{} error(s) while syncing or sending (details above): check host, port, tls, user and the password (password_env or password_file) of the [mailbox.imap] and [mailbox.smtp] sections, then run `facteur sync` again",
                total.errors.len()
            ));
        }
        Ok(())
    })
}

/// Start the long-running connectors of every configured mailbox.
pub async fn spawn_connectors(
    cfg: &Config,
    svc: Arc<Service>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let hook: facteur_connect::SharedHook = Arc::new(TriageHook(svc.clone()));
    let mut tasks = Vec::new();
    let mut relay = None;
    for b in &cfg.mailboxes {
        let mailbox_id = svc
            .mailbox_id(&b.name)
            .await
            .map_err(crate::service::explained)?;
        if let Some(c) = imap_config_in_store(&svc.store, b, mailbox_id).await? {
            let mut ingest =
                ImapIngest::new(svc.store.clone(), mailbox_id, c).with_hook(hook.clone());
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move { ingest.run(stop).await }));
        }
        if relay.is_none() {
            relay = smtp_config(b)?;
        }
    }
    if let Some(c) = relay {
        let sender = sender(cfg, &svc, c, worker_id()).await?;
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            sender.run(Duration::from_secs(5), stop).await
        }));
    }
    Ok(tasks)
}
