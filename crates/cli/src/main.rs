//! The `facteur` command: wires every crate of the workspace together. Nothing here
//! holds product logic; each subcommand parses its arguments, loads what it needs
//! and calls the library that owns the work.

// First, so that its `tr!` macro is in scope in every module below.
#[macro_use]
mod i18n;
mod audit_key;
mod calibration;
mod clap_fr;
mod commands;
mod config;
mod demo_mail;
mod embedding;
mod help_fr;
mod progress;
mod service;

use anyhow::Result;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

/// Facteur: a self-hosted assistant for shared public-service mailboxes.
///
/// It reads mail, cleans it, protects personal data, recognises the request type and
/// prepares a reply from validated standard answers. A named agent always decides:
/// nothing is ever sent without a human validation. Everything runs offline on CPU.
#[derive(Parser, Debug)]
#[command(
    name = "facteur",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Config file (TOML). Default: $FACTEUR_CONFIG, else ./facteur.toml when present.
    /// Environment variables FACTEUR_DATA_DIR, FACTEUR_DATABASE_URL, FACTEUR_MODEL_DIR,
    /// FACTEUR_LISTEN, FACTEUR_LANG, FACTEUR_MIN_CONFIDENCE, FACTEUR_KB_REFRESH_SECS,
    /// FACTEUR_JOBS_RETENTION_DAYS, FACTEUR_EMBEDDING_MODEL and FACTEUR_EMBEDDING_URL (among
    /// others: README) override the file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a request-type classifier from JSON lines {"text","label"}.
    Train(commands::train::TrainArgs),
    /// Evaluate a model on labelled JSON lines: accuracy, macro-F1, coverage at 95% precision, speed.
    Eval(commands::eval::EvalArgs),
    /// Read mail (.eml, mbox, Maildir, or - for stdin) and print what Facteur understands of each message.
    Triage(commands::triage::TriageArgs),
    /// Triage one message and prepare the reply: best standard answers, passages and draft.
    Suggest(commands::suggest::SuggestArgs),
    /// Knowledge base: import fiches and standard answers, search, evaluate retrieval.
    Kb(KbArgs),
    /// Build a demo service from the shared data: knowledge base, demo model and a demo
    /// mailbox of French messages (marked as demo data).
    Demo(commands::demo::DemoArgs),
    /// Import mail files (.eml, mbox, Maildir) into a mailbox of the store; each message is triaged on arrival.
    Import(commands::ingest::ImportArgs),
    /// Run the mailbox connectors once: IMAP ingest, then send the validated replies of the outbox.
    Sync(commands::sync::SyncArgs),
    /// Serve the web app for agents, supervisors and administrators, with the connectors in the background.
    Serve(commands::serve::ServeArgs),
    /// The replies validated by agents, with their sending state.
    Outbox(commands::store_cmds::OutboxArgs),
    /// Messages in the store.
    Messages {
        #[command(subcommand)]
        command: commands::store_cmds::MessagesCommand,
    },
    /// Accounts (agents, supervisors, administrators).
    User {
        #[command(subcommand)]
        command: commands::store_cmds::UserCommand,
    },
    /// The model registry: list, train a candidate from agents' corrections, evaluate, promote, roll back, review.
    Model {
        #[command(subcommand)]
        command: commands::model::ModelCommand,
    },
    /// Work from a shared database with any number of other workers: triage jobs,
    /// IMAP sync (one process per mailbox at a time) and sending. Ctrl-C or SIGTERM stops it.
    Worker(commands::worker::WorkerArgs),
    /// Copy a whole service from one database to another (SQLite to PostgreSQL),
    /// then verify the counts and the audit chain.
    Migrate(commands::migrate::MigrateArgs),
    /// Back up a SQLite service while it runs: database snapshot, knowledge base,
    /// model registry and answers, with a manifest of checksums.
    Backup(commands::backup::BackupArgs),
    /// Restore a backup into an empty data directory, checking the checksums, the
    /// counts and the audit chain.
    Restore(commands::backup::RestoreArgs),
    /// Retention of citizens' data: apply the [retention] delays.
    Retention {
        #[command(subcommand)]
        command: commands::retention::RetentionCommand,
    },
    /// Data-subject rights: export everything about one person, or erase it.
    Citizen {
        #[command(subcommand)]
        command: commands::citizen::CitizenCommand,
    },
    /// The append-only audit log.
    Audit {
        #[command(subcommand)]
        command: commands::store_cmds::AuditCommand,
    },
}

#[derive(Args, Debug)]
pub struct KbArgs {
    #[command(subcommand)]
    pub command: commands::kb::KbCommand,
}

fn main() {
    restore_sigpipe();
    // The help is printed before the config file is read: FACTEUR_LANG alone.
    let lang = i18n::Lang::from_env();
    i18n::set_lang(lang);
    let cli = parse_cli(lang);
    init_tracing();
    install_panic_hook();
    if let Err(err) = run(cli) {
        eprintln!("{} {}", i18n::tr("erreur :", "error:"), render_error(&err));
        std::process::exit(1);
    }
}

/// The error and its causes on one line, as anyhow's `{:#}` does, but without saying a
/// cause twice: library errors (thiserror) that quote their source in their own message
/// also expose it as `source()`, and `{:#}` then printed "…: No such file or directory
/// (os error 2): No such file or directory (os error 2)".
fn render_error(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

/// `Cli::parse()`, with the help texts in French unless the language is English.
fn parse_cli(lang: i18n::Lang) -> Cli {
    let cmd = match lang {
        i18n::Lang::Fr => help_fr::french(Cli::command()),
        i18n::Lang::En => Cli::command(),
    };
    let matches = cmd
        .try_get_matches()
        .unwrap_or_else(|e| exit_on_usage_error(e, lang));
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| exit_on_usage_error(e, lang))
}

/// clap's exit (help, version, or a usage error with status 2), the error in French
/// unless the language is English.
fn exit_on_usage_error(e: clap::Error, lang: i18n::Lang) -> ! {
    if lang == i18n::Lang::Fr && e.use_stderr() {
        if let Some(msg) = clap_fr::french(&e) {
            eprint!("{msg}");
            std::process::exit(e.exit_code());
        }
    }
    e.exit()
}

fn run(cli: Cli) -> Result<()> {
    let cfg = config::Config::load(cli.config.as_deref())?;
    // From here on, the config's `language` (itself overridden by FACTEUR_LANG).
    if let Some(lang) = i18n::Lang::parse(&cfg.language) {
        i18n::set_lang(lang);
    }
    embedding::configure(&cfg);
    match cli.command {
        Command::Train(a) => commands::train::run(&cfg, a),
        Command::Eval(a) => commands::eval::run(&cfg, a),
        Command::Triage(a) => commands::triage::run(&cfg, a),
        Command::Suggest(a) => commands::suggest::run(&cfg, a),
        Command::Kb(k) => commands::kb::run(&cfg, k.command),
        Command::Demo(a) => commands::demo::run(&cfg, a),
        Command::Import(a) => commands::ingest::run(&cfg, a),
        Command::Sync(a) => commands::sync::run(&cfg, a),
        Command::Serve(a) => commands::serve::run(&cfg, a),
        Command::Outbox(a) => commands::store_cmds::outbox(&cfg, a),
        Command::Messages { command } => commands::store_cmds::messages(&cfg, command),
        Command::User { command } => commands::store_cmds::users(&cfg, command),
        Command::Audit { command } => commands::store_cmds::audit(&cfg, command),
        Command::Model { command } => commands::model::run(&cfg, command),
        Command::Worker(a) => commands::worker::run(&cfg, a),
        Command::Migrate(a) => commands::migrate::run(&cfg, a),
        Command::Backup(a) => commands::backup::backup(&cfg, a),
        Command::Restore(a) => commands::backup::restore(&cfg, a),
        Command::Retention { command } => commands::retention::run(&cfg, command),
        Command::Citizen { command } => commands::citizen::run(&cfg, command),
    }
}

/// `facteur triage --json … | head` must end quietly when the reader goes away, as
/// Unix tools do, instead of panicking on a broken pipe: restore the default SIGPIPE
/// action that the Rust runtime ignores.
#[allow(unsafe_code)] // One libc call, justified below.
fn restore_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logs go to stderr so that `--json` output on stdout stays machine-readable.
/// `FACTEUR_LOG` (or `RUST_LOG`) sets the level; `FACTEUR_LOG_FORMAT=json` for collectors.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("FACTEUR_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "warn".to_string());
    use std::io::IsTerminal;
    // Colours only on a terminal: a log file or a journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if std::env::var("FACTEUR_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Panics are logged through tracing with their location only. The default hook
/// prints the panic's message, and a message can quote the text being handled
/// (a string slice out of a mail: "byte index 7 is not a char boundary … of
/// `<the citizen's text>`"), while logs carry no personal data. The location, with
/// the message id the caller logs, is enough to reproduce a panic from the stored
/// mail.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        tracing::error!(%location, %thread, "panicked (its message is withheld: it may quote mail text)");
    }));
}

#[cfg(test)]
mod tests {
    use super::render_error;

    /// A library error that quotes its source, as thiserror's `KbError::Io` does.
    #[derive(Debug)]
    struct Quoting {
        path: &'static str,
        source: std::io::Error,
    }

    impl std::fmt::Display for Quoting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot read {}: {}", self.path, self.source)
        }
    }

    impl std::error::Error for Quoting {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn a_cause_already_quoted_is_said_once_and_others_are_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let err = anyhow::Error::new(Quoting {
            path: "./answers/taxonomy.toml",
            source: io,
        })
        .context("impossible d'importer les réponses types");
        assert_eq!(
            render_error(&err),
            "impossible d'importer les réponses types: cannot read ./answers/taxonomy.toml: No such file or directory"
        );
        let plain = anyhow::anyhow!("disque plein").context("impossible d'écrire le modèle");
        assert_eq!(
            render_error(&plain),
            "impossible d'écrire le modèle: disque plein"
        );
    }
}
