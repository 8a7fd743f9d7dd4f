//! Commands that read or administer the store: messages count, outbox, users, audit.

use crate::config::Config;
use crate::service::Service;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use facteur_core::workflow::{OutboxState, Role};

#[derive(Subcommand, Debug)]
pub enum MessagesCommand {
    /// Count the messages in the store: {"count": N}.
    Count {
        /// Count only this mailbox (by name).
        #[arg(long, value_name = "NAME")]
        mailbox: Option<String>,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct OutboxArgs {
    /// Print the outbox as JSON lines, one reply each, with its state.
    #[arg(long)]
    pub json: bool,
    /// Only replies in this state (queued, sending, sent, failed).
    #[arg(long)]
    pub state: Option<String>,
    /// At most this many replies.
    #[arg(long, default_value_t = 200)]
    pub limit: u32,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. The password is read from standard input (one line), or
    /// generated and printed once with --generate-password.
    Add {
        /// The login name.
        #[arg(long)]
        username: String,
        /// The name shown in the app and in the validated-by header (default: the login name).
        #[arg(long)]
        display_name: Option<String>,
        /// agent, supervisor or admin.
        #[arg(long)]
        role: String,
        /// Mailboxes an agent may open (by name; repeat or comma-separate).
        #[arg(long, value_delimiter = ',')]
        mailbox: Vec<String>,
        /// Generate a strong password and print it once, instead of reading one from stdin.
        #[arg(long)]
        generate_password: bool,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Reset an account's password: a new one is generated and printed once, or read
    /// from standard input with --password-stdin. Ends all the account's sessions.
    Passwd {
        /// The login name of the account.
        #[arg(long)]
        username: String,
        /// Read the new password from standard input (one line) instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        /// The administrator (user name) who resets it: recorded in the audit log.
        #[arg(long, value_name = "USER")]
        by: Option<String>,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List accounts.
    List {
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the hash chain of the audit log and report the first tampered row.
    Verify {
        /// A head printed earlier by `facteur audit head` (SEQ:HASH): the log must still lead through it.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<facteur_store::AuditHead>,
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Print the audit log's head (SEQ:HASH) to keep outside the database.
    Head {
        /// Machine-readable output (JSON) for scripts.
        #[arg(long)]
        json: bool,
    },
}

pub fn messages(cfg: &Config, cmd: MessagesCommand) -> Result<()> {
    let MessagesCommand::Count { mailbox, json } = cmd;
    super::runtime()?.block_on(async {
        let svc = crate::service::open_admin(cfg).await?;
        let id = match &mailbox {
            Some(name) => Some(
                svc.mailbox_id(name)
                    .await
                    .map_err(crate::service::explained)?,
            ),
            None => None,
        };
        let count = svc.store.count_messages(id).await?;
        if json {
            super::print_json(&serde_json::json!({ "count": count }))
        } else {
            println!("{count}");
            Ok(())
        }
    })
}

pub fn outbox(cfg: &Config, a: OutboxArgs) -> Result<()> {
    let wanted = match a.state.as_deref() {
        None => None,
        Some(s) => Some(OutboxState::parse(s).with_context(|| {
            tr!(
                "état inconnu {s:?} : utilisez queued (en attente), sending (en cours), sent (envoyé) ou failed (échec)",
                "unknown state {s:?}: use queued, sending, sent or failed"
            )
        })?),
    };
    super::runtime()?.block_on(async {
        let svc = crate::service::open_admin(cfg).await?;
        let items = match wanted {
            Some(state) => svc.store.list_outbox_in_state(state, a.limit).await?,
            None => svc.store.list_outbox(None, a.limit).await?,
        };
        if items.is_empty() && !a.json {
            eprintln!(
                "{}",
                crate::i18n::tr(
                    "Aucune réponse dans la boîte d'envoi.",
                    "No reply in the outbox."
                )
            );
        }
        for item in &items {
            if a.json {
                super::print_json(&serde_json::json!({
                    "id": item.id,
                    "message": item.message_id,
                    "reply_message_id": item.reply_message_id,
                    "to": item.to_address,
                    "subject": item.subject,
                    "state": item.state.as_str(),
                    "attempts": item.attempts,
                    "last_error": item.last_error,
                    "validated_by": item.validated_by_name,
                    "sent_at": item.sent_at,
                    "delivery_confirmed_at": item.delivery_confirmed_at,
                    // A bounce said it never arrived: status and masked diagnostic.
                    "undelivered": item.undelivered,
                }))?;
            } else {
                println!(
                    "{:>6}  {:<10}{} {:<3} {}  ({})",
                    item.id,
                    super::outbox_state_words(item.state),
                    if item.delivery_confirmed_at.is_some() {
                        "✓"
                    } else {
                        " "
                    },
                    item.attempts,
                    item.subject,
                    item.validated_by_name
                );
            }
        }
        Ok(())
    })
}

/// A generated password, printed once for the admin to hand over (never stored
/// in clear, never shown again).
fn say_password_once(password: &str) {
    println!(
        "{}",
        tr!(
            "mot de passe (affiché une seule fois) : {password}",
            "password (shown once): {password}"
        )
    );
}

pub fn users(cfg: &Config, cmd: UserCommand) -> Result<()> {
    super::runtime()?.block_on(async {
        let svc = crate::service::open_admin(cfg).await?;
        match cmd {
            UserCommand::Add {
                username,
                display_name,
                role,
                mailbox,
                generate_password,
                json,
            } => {
                let role = Role::parse(&role).with_context(|| {
                    tr!(
                        "rôle inconnu {role:?} : utilisez agent, supervisor (superviseur) ou admin (administrateur)",
                        "unknown role {role:?}: use agent, supervisor or admin"
                    )
                })?;
                let password = if generate_password {
                    random_password()
                } else {
                    read_password("--generate-password")?
                };
                let id = create_user(&svc, &username, display_name.as_deref(), role, &password, &mailbox).await?;
                if json {
                    let mut v = serde_json::json!({"id": id, "username": username, "role": role.as_str()});
                    if generate_password {
                        v["password"] = serde_json::json!(password);
                    }
                    super::print_json(&v)?;
                } else {
                    let role = role.as_str();
                    println!(
                        "{}",
                        tr!("compte {username} créé ({role})", "account {username} created ({role})")
                    );
                    if generate_password {
                        say_password_once(&password);
                    }
                }
                Ok(())
            }
            UserCommand::Passwd {
                username,
                password_stdin,
                by,
                json,
            } => {
                let by = match by.as_deref() {
                    None => None,
                    Some(name) => Some(admin_id(&svc, name).await?),
                };
                let user = svc
                    .store
                    .get_user_by_username(&username)
                    .await?
                    .with_context(|| {
                        tr!(
                            "aucun compte nommé {username:?} : voir `facteur user list`",
                            "no account named {username:?}: see `facteur user list`"
                        )
                    })?;
                let password = if password_stdin {
                    read_password("sans --password-stdin")?
                } else {
                    random_password()
                };
                let hash = facteur_web::auth::hash_password(&password)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let ended = svc
                    .store
                    .set_password_hash_by(user.id, &hash, by)
                    .await
                    .with_context(|| {
                        tr!(
                            "impossible de changer le mot de passe de {username:?}",
                            "cannot change the password of {username:?}"
                        )
                    })?;
                if json {
                    let mut v = serde_json::json!({"id": user.id, "username": username, "sessions_ended": ended});
                    if !password_stdin {
                        v["password"] = serde_json::json!(password);
                    }
                    super::print_json(&v)?;
                } else {
                    println!(
                        "{}",
                        tr!(
                            "mot de passe de {username} changé ; sessions fermées : {ended}",
                            "password of {username} changed; sessions ended: {ended}"
                        )
                    );
                    if !password_stdin {
                        say_password_once(&password);
                    }
                }
                Ok(())
            }
            UserCommand::List { json } => {
                for u in svc.store.list_users().await? {
                    if json {
                        super::print_json(&serde_json::json!({"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role.as_str(), "active": u.active}))?;
                    } else {
                        let inactive = if u.active { "" } else { crate::i18n::tr("(inactif)", "(inactive)") };
                        println!("{:>4} {:<20} {:<10} {}", u.id, u.username, u.role.as_str(), inactive);
                    }
                }
                Ok(())
            }
        }
    })
}

/// One password line from standard input, checked against the web app's policy
/// (the same rule everywhere a password is chosen). `alternative` names the option
/// that generates one instead, for the error message.
fn read_password(alternative: &str) -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context(crate::i18n::tr(
            "impossible de lire le mot de passe sur l'entrée standard",
            "cannot read the password on standard input",
        ))?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if !facteur_web::auth::password_long_enough(&p) {
        let min = facteur_web::auth::MIN_PASSWORD_CHARS;
        bail!(tr!(
            "le mot de passe doit compter au moins {min} caractères (ou {alternative} pour en générer un)",
            "the password must have at least {min} characters"
        ));
    }
    Ok(p)
}

/// The id of the active administrator named by `--by`: a password reset in
/// someone's name must be one they may do.
async fn admin_id(svc: &Service, name: &str) -> Result<i64> {
    match svc.store.get_user_by_username(name).await? {
        Some(u) if u.active && u.role == Role::Admin => Ok(u.id),
        Some(_) => bail!(tr!(
            "--by {name:?} : ce compte n'est pas un administrateur (admin) actif",
            "--by {name:?}: this account is not an active admin"
        )),
        None => bail!(tr!(
            "--by : aucun compte nommé {name:?} : voir `facteur user list`",
            "--by: no account named {name:?}: see `facteur user list`"
        )),
    }
}

/// Create an account with an argon2 hash and its mailbox access.
pub async fn create_user(
    svc: &Service,
    username: &str,
    display_name: Option<&str>,
    role: Role,
    password: &str,
    mailboxes: &[String],
) -> Result<i64> {
    let hash = facteur_web::auth::hash_password(password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = svc
        .store
        .create_user(
            &facteur_store::NewUser {
                username: username.to_string(),
                display_name: display_name.unwrap_or(username).to_string(),
                password_hash: hash,
                role,
            },
            None,
        )
        .await
        .with_context(|| {
            tr!(
                "impossible de créer le compte {username:?}",
                "cannot create the account {username:?}"
            )
        })?;
    for m in mailboxes {
        let mailbox_id = svc.mailbox_id(m).await.map_err(crate::service::explained)?;
        svc.store
            .set_mailbox_access(id, mailbox_id, true, None)
            .await?;
    }
    Ok(id)
}

/// A password to print once: 20 characters drawn without bias (rejection sampling)
/// from the 256-bit random token, in an alphabet without look-alike characters.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let token = facteur_web::auth::random_token();
        for pair in token.as_bytes().chunks(2) {
            let b = std::str::from_utf8(pair)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .unwrap_or(255);
            if b < limit && out.len() < 20 {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    out
}

/// The store with the audit key as it is on disk, not checked against the chain
/// (a service refuses a key that does not match; verification reports it).
async fn open_for_audit(cfg: &Config) -> Result<facteur_store::Store> {
    let url = cfg.database_url();
    let store = facteur_store::Store::open(&url).await.with_context(|| {
        tr!(
            "impossible d'ouvrir la base de données {} : vérifiez database_url dans la configuration ou FACTEUR_DATABASE_URL",
            "cannot open the database {}: check database_url in the config or FACTEUR_DATABASE_URL",
            crate::service::redact_url(&url)
        )
    })?;
    crate::audit_key::for_verification(cfg, store)
}

pub fn audit(cfg: &Config, cmd: AuditCommand) -> Result<()> {
    let (expect_head, json) = match cmd {
        AuditCommand::Verify { expect_head, json } => (expect_head, json),
        AuditCommand::Head { json } => {
            return super::runtime()?.block_on(async {
                let store = open_for_audit(cfg).await?;
                let head = store.audit_head().await?;
                if json {
                    super::print_json(&head)?;
                } else {
                    println!("{head}");
                }
                Ok(())
            })
        }
    };
    super::runtime()?.block_on(async {
        let store = open_for_audit(cfg).await?;
        let report = match &expect_head {
            Some(h) => store.verify_audit_anchored(h).await?,
            None => store.verify_audit().await?,
        };
        if json {
            super::print_json(&report)?;
        } else if report.ok {
            println!(
                "{}",
                tr!(
                    "journal d'audit intact : {} lignes, chaîne de hachage vérifiée",
                    "audit log intact: {} rows, hash chain verified",
                    report.rows
                )
            );
        } else {
            println!(
                "{}",
                tr!(
                    "JOURNAL D'AUDIT ALTÉRÉ : la chaîne se rompt à la ligne {:?} ({} lignes vérifiées)",
                    "AUDIT LOG TAMPERED: the chain breaks at row {:?} ({} rows checked)",
                    report.first_bad_seq,
                    report.rows
                )
            );
        }
        if !report.ok {
            std::process::exit(4);
        }
        Ok(())
    })
}
