//! Seeds a store with one mailbox, one agent and N triaged messages, creates a
//! session for the agent and (with `--listen`) serves the web app: the target of
//! bench/web-load.sh. A separate binary rather than `facteur serve` because the CLI
//! server also needs a knowledge base and a model, which the queue page does not.
//!
//! `cargo run --release -p facteur-web --example seed_queue -- --db /tmp/x/web.db \
//!      --messages 10000 --listen 127.0.0.1:18080`
//! prints `MAILBOX=<id>` and `COOKIE=facteur_session=<token>` then serves.

use std::time::{Duration, Instant};

use facteur_core::{Role, Route};
use facteur_kb::answers::Taxonomy;
use facteur_store::{NewMailbox, NewMessage, NewTriage, NewUser, Store};
use facteur_web::{AppState, WebConfig};

struct Args {
    db: String,
    messages: usize,
    listen: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        db: String::new(),
        messages: 10_000,
        listen: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--db" => a.db = v()?,
            "--messages" => a.messages = v()?.parse().map_err(|e| format!("--messages: {e}"))?,
            "--listen" => a.listen = Some(v()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.db.is_empty() {
        return Err("--db <path to a new SQLite file> is required".into());
    }
    Ok(a)
}

const TYPES: &[(&str, &str)] = &[
    ("rib", "Coordonnées bancaires"),
    ("avis", "Avis d'impôt"),
    ("delai", "Délai de paiement"),
    ("attestation", "Attestation de résidence fiscale"),
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Same default as the CLI: info and above, to stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let a = args()?;
    let store = Store::open(&format!("sqlite:{}", a.db)).await?;
    let mailbox = store
        .create_mailbox(
            &NewMailbox {
                name: "SIP Lyon 3e".into(),
                address: "sip.lyon3@impots.example".into(),
                signature: "Le service des impôts des particuliers".into(),
                settings: serde_json::json!({}),
            },
            None,
        )
        .await?;
    let hash = facteur_web::auth::hash_password("mot-de-passe-solide")?;
    let agent = store
        .create_user(
            &NewUser {
                username: "agnes".into(),
                display_name: "Agnès Dupré".into(),
                password_hash: hash,
                role: Role::Agent,
            },
            None,
        )
        .await?;
    store.set_mailbox_access(agent, mailbox, true, None).await?;

    let t0 = Instant::now();
    let now = store.now_ms();
    for i in 0..a.messages {
        let (cat, label) = TYPES[i % TYPES.len()];
        let raw = format!(
            "From: Citoyen {i} <citoyen{i}@example.org>\r\nTo: sip.lyon3@impots.example\r\n\
             Subject: {label} — demande {i}\r\nMessage-ID: <load-{i}@example.org>\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour, ma demande n° {i}.\r\n"
        );
        let parsed = facteur_mail::parse_message(raw.as_bytes());
        let mut nm = NewMessage::from_parsed(mailbox, raw.into_bytes(), &parsed);
        nm.pseudonymised_text = format!("Bonjour, ma demande n° {i}. [NOM_1]");
        nm.received_at = Some(now - (i as i64 % 5000) * 60_000);
        let id = store.insert_message(&nm).await?.id();
        store
            .record_triage(&NewTriage {
                message_id: id,
                model_version: Some("load".into()),
                category: Some(cat.into()),
                confidence: Some(0.5 + (i % 50) as f32 / 100.0),
                route: Route::ReadyToValidate,
                answer_id: Some(format!("{cat}-standard")),
                answer_version: Some(1),
                draft_text: Some("Bonjour,\n\nVoici la démarche.\n\nCordialement".into()),
                passages: Vec::new(),
                language: Some("fr".into()),
                pseudonymised_text: None,
                subject_pseudonymised: None,
                classify_text: None,
                pii_kinds: vec![],
                flags: vec![],
                candidates: Vec::new(),
                close_suggestion: None,
                citizen_ids: Vec::new(),
                attachment_texts: Vec::new(),
            })
            .await?;
    }
    eprintln!("seeded {} messages in {:?}", a.messages, t0.elapsed());

    let token = facteur_web::auth::random_token();
    store
        .create_session(
            &token,
            agent,
            &facteur_web::auth::random_token(),
            Duration::from_secs(3600),
        )
        .await?;
    println!("MAILBOX={mailbox}");
    println!("COOKIE={}={token}", facteur_web::auth::SESSION_COOKIE);

    let Some(listen) = a.listen else {
        return Ok(());
    };
    let taxonomy = Taxonomy::from_labels(TYPES);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("LISTENING=http://{}", listener.local_addr()?);
    use std::io::Write;
    std::io::stdout().flush()?;
    facteur_web::serve(
        listener,
        AppState::new(store, taxonomy, WebConfig::default()),
    )
    .await?;
    Ok(())
}
