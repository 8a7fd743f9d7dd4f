//! The web app in a real browser: headless Chromium driven through ChromeDriver
//! (WebDriver), against the real server on a loopback socket and a real SQLite
//! store. What only a browser can prove: the forms, redirects and keyboard script
//! work together; the sandboxed mail body runs no script and fetches nothing.
//!
//! Needs `FACTEUR_TEST_WEBDRIVER` (and `FACTEUR_TEST_CHROMIUM`), exported by
//! `source scripts/services.sh; services_start`. Without it the tests print a skip
//! line, except under `CI`, where they fail. `FACTEUR_SCREENSHOTS=1` also writes
//! docs/screenshots/{queue,message,supervision,transparence}.png.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common;

use crate::common::light_hash;
use facteur_core::{Role, Route};
use facteur_kb::answers::Taxonomy;
use facteur_store::{NewMailbox, NewMessage, NewTriage, NewUser, Store};
use facteur_web::{AppState, WebConfig};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) const PASSWORD: &str = "mot-de-passe-solide";
const TIMEOUT: Duration = Duration::from_secs(10);

/// One browser at a time: the machine has two cores and Chromium is heavy.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The WebDriver URL, or `None` (with a skip line) when the services are not up.
/// Under CI a missing driver is a failure, so the browser tests cannot silently vanish.
pub(crate) fn webdriver_url() -> Option<String> {
    facteur_testkit::services::require("browser tests", &["FACTEUR_TEST_WEBDRIVER"])
        .map(|mut v| v.remove(0))
}

pub(crate) async fn browser(webdriver: &str, profile: &std::path::Path) -> Client {
    let binary =
        std::env::var("FACTEUR_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": binary,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,900",
                "--lang=fr-FR",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": { "intl.accept_languages": "fr-FR,fr" },
        }),
    );
    // In the workspace build rustls has two crypto providers (ring from lettre,
    // aws-lc-rs from fantoccini's hyper-rustls) and refuses to guess: name one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = ClientBuilder::rustls()
        .expect("rustls connector")
        .capabilities(caps)
        .connect(webdriver)
        .await
        .expect("new WebDriver session (is ChromeDriver running?)");
    c.set_window_size(1280, 900).await.expect("window size");
    c
}

/// Polls `f` until it yields a value: an explicit wait with a deadline, never a
/// blind sleep.
pub(crate) async fn wait_until<T, F, Fut>(what: &str, mut f: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {TIMEOUT:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the browser is on `path` (and optionally `query`).
pub(crate) async fn wait_path(c: &Client, path: &str, query: Option<&str>) -> Result<(), String> {
    wait_until(&format!("URL {path}?{query:?}"), || async {
        let u = c.current_url().await.ok()?;
        (u.path() == path && (query.is_none() || u.query() == query)).then_some(())
    })
    .await
}

/// Waits until an action on message `of` moved the browser on with its banner
/// (`?done=…&of=…`, on the next message of the tab or on the queue).
pub(crate) async fn wait_done(c: &Client, done: &str, of: i64) -> Result<String, String> {
    let want = format!("done={done}&of={of}");
    wait_until(&format!("the banner {want}"), || async {
        let u = c.current_url().await.ok()?;
        u.query()
            .is_some_and(|q| q.ends_with(&want))
            .then(|| u.path().to_string())
    })
    .await
}

/// Goes to `path` of the app and waits until the browser is there.
pub(crate) async fn open(c: &Client, app: &App, path: &str) -> Result<(), String> {
    c.goto(&format!("{}{path}", app.base))
        .await
        .map_err(|e| e.to_string())?;
    wait_path(c, path, None).await
}

pub(crate) async fn find(c: &Client, css: &str) -> Result<fantoccini::elements::Element, String> {
    c.wait()
        .at_most(TIMEOUT)
        .for_element(Locator::Css(css))
        .await
        .map_err(|e| format!("element {css}: {e}"))
}

pub(crate) async fn press(c: &Client, key: char) -> Result<(), String> {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    c.perform_actions(keys)
        .await
        .map_err(|e| format!("key {key}: {e}"))
}

pub(crate) async fn js(c: &Client, script: &str) -> Result<serde_json::Value, String> {
    c.execute(script, vec![])
        .await
        .map_err(|e| format!("script {script}: {e}"))
}

pub(crate) fn screenshots_dir() -> Option<std::path::PathBuf> {
    (std::env::var("FACTEUR_SCREENSHOTS").as_deref() == Ok("1"))
        .then(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots"))
}

pub(crate) async fn screenshot(c: &Client, name: &str) -> Result<(), String> {
    let Some(dir) = screenshots_dir() else {
        return Ok(());
    };
    let png = c.screenshot().await.map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(name), png).map_err(|e| e.to_string())
}

// ------------------------------------------------------------------ the app under test

fn taxonomy() -> Taxonomy {
    Taxonomy::from_labels(&[
        ("rib", "Coordonnées bancaires"),
        ("avis", "Avis d'impôt"),
        ("delai", "Délai de paiement"),
        ("attestation", "Attestation de résidence fiscale"),
    ])
}

struct Seed<'a> {
    subject: &'a str,
    html: Option<&'a str>,
    text: &'a str,
    masked: &'a str,
    category: &'a str,
    confidence: f32,
    draft: &'a str,
    hours_ago: i64,
}

fn raw_mail(n: usize, s: &Seed) -> String {
    let head = format!(
        "From: Citoyen <citoyen{n}@example.org>\r\nTo: sip@impots.example\r\nSubject: {}\r\n\
         Message-ID: <browser-{n}@example.org>\r\nDate: Mon, 3 Mar 2025 10:00:00 +0100\r\nMIME-Version: 1.0\r\n",
        s.subject
    );
    match s.html {
        None => format!(
            "{head}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
            s.text
        ),
        Some(h) => format!(
            "{head}Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n--b1\r\n\
             Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{h}\r\n--b1--\r\n",
            s.text
        ),
    }
}

async fn add(store: &Store, mailbox: i64, n: usize, s: &Seed<'_>) -> i64 {
    let raw = raw_mail(n, s);
    let parsed = facteur_mail::parse_message(raw.as_bytes());
    let mut nm = NewMessage::from_parsed(mailbox, raw.into_bytes(), &parsed);
    nm.subject = s.subject.to_string();
    nm.pseudonymised_text = s.masked.to_string();
    nm.received_at = Some(store.now_ms() - s.hours_ago * 3_600_000);
    let id = store.insert_message(&nm).await.unwrap().id();
    store
        .record_triage(&NewTriage {
            message_id: id,
            model_version: Some("clf-2025-03".into()),
            category: Some(s.category.into()),
            confidence: Some(s.confidence),
            route: Route::ReadyToValidate,
            answer_id: Some(format!("{}-standard", s.category)),
            answer_version: Some(2),
            draft_text: Some(s.draft.into()),
            passages: common::stored_passages(
                &format!("{}-standard", s.category),
                "Réponse type validée",
                "Extrait de la réponse type qui justifie la suggestion.",
                "justifie",
            ),
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
        .await
        .unwrap();
    id
}

pub(crate) struct App {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) store: Store,
    pub(crate) base: String,
    pub(crate) server: tokio::task::JoinHandle<std::io::Result<()>>,
    pub(crate) mb_a: i64,
    pub(crate) mb_b: i64,
    /// Lyon messages, oldest first (queue order).
    pub(crate) lyon: Vec<i64>,
    pub(crate) hostile: i64,
    pub(crate) nantes: i64,
    pub(crate) supervisor: i64,
    /// The node's triage engine over the demo answers, when plugged in.
    pub(crate) engine: Option<Arc<common::DemoEngine>>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

const SIGNATURE: &str = "Cordialement,\nLe service des impôts des particuliers de Lyon";

/// Starts the app with a French mailbox; `hostile_html` is the HTML part of one
/// more message (the tracker port is only known at run time).
pub(crate) async fn start_app(hostile_html: &str) -> App {
    start_app_with(hostile_html, false).await
}

/// [`start_app`]; with `engine`, the app drafts, fills and searches through a
/// real triage engine over the demo answers and taxonomy, as `facteur serve`
/// plugs in its own, with a threshold no probability reaches (the model always
/// abstains).
pub(crate) async fn start_app_with(hostile_html: &str, engine: bool) -> App {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("web.db").display());
    let store = Store::open(&url).await.unwrap();
    let mb = |name: &str, addr: &str| NewMailbox {
        name: name.into(),
        address: addr.into(),
        signature: SIGNATURE.into(),
        settings: json!({}),
    };
    let mb_a = store
        .create_mailbox(&mb("SIP Lyon 3e", "sip.lyon3@impots.example"), None)
        .await
        .unwrap();
    let mb_b = store
        .create_mailbox(&mb("SIP Nantes", "sip.nantes@impots.example"), None)
        .await
        .unwrap();
    let hash = light_hash(PASSWORD);
    let agent = store
        .create_user(
            &NewUser {
                username: "agnes".into(),
                display_name: "Agnès Dupré".into(),
                password_hash: hash.clone(),
                role: Role::Agent,
            },
            None,
        )
        .await
        .unwrap();
    store
        .set_mailbox_access(agent, mb_a, true, None)
        .await
        .unwrap();
    let supervisor = store
        .create_user(
            &NewUser {
                username: "sylvie".into(),
                display_name: "Sylvie Marchal".into(),
                password_hash: hash.clone(),
                role: Role::Supervisor,
            },
            None,
        )
        .await
        .unwrap();

    let seeds = [
        Seed {
            subject: "Changement de coordonnées bancaires",
            html: None,
            text: "Bonjour, je souhaite changer de RIB.",
            masked: "Bonjour,\nJe souhaite modifier mes coordonnées bancaires pour le prélèvement à la source : mon nouveau RIB est [IBAN_1].\nMerci d'avance,\n[NOM_1]\n> Le 2 mars, le service a écrit :\n> Votre demande a bien été reçue.",
            category: "rib",
            confidence: 0.94,
            draft: "Bonjour Madame,\n\nVous pouvez modifier vos coordonnées bancaires dans votre espace particulier sur impots.gouv.fr, rubrique « Gérer mes prélèvements ».\n\nCordialement,\nLe service des impôts des particuliers",
            hours_ago: 51,
        },
        Seed {
            subject: "Question sur mon avis d'impôt 2024",
            html: None,
            text: "Bonjour, je ne comprends pas mon avis.",
            masked: "Bonjour,\nJe ne comprends pas le montant de mon avis d'impôt 2024, il a doublé par rapport à l'an dernier.\n[NOM_1]",
            category: "avis",
            confidence: 0.81,
            draft: "Bonjour Monsieur,\n\nLe détail du calcul figure en page 2 de votre avis.\n\nCordialement",
            hours_ago: 26,
        },
        Seed {
            subject: "Demande de délai de paiement",
            html: None,
            text: "Bonjour, puis-je payer en plusieurs fois ?",
            masked: "Bonjour,\nSuite à une perte d'emploi, puis-je payer ma taxe foncière en trois fois ?\n[NOM_1]",
            category: "delai",
            confidence: 0.67,
            draft: "Bonjour,\n\nVous pouvez demander un plan de règlement depuis votre messagerie sécurisée.\n\nCordialement",
            hours_ago: 5,
        },
        Seed {
            subject: "Attestation de résidence fiscale",
            html: None,
            text: "Bonjour, il me faut une attestation.",
            masked: "Bonjour,\nMon employeur à l'étranger me demande une attestation de résidence fiscale.\n[NOM_1]",
            category: "attestation",
            confidence: 0.88,
            draft: "Bonjour,\n\nL'attestation est téléchargeable dans votre espace particulier.\n\nCordialement",
            hours_ago: 2,
        },
    ];
    let mut lyon = Vec::new();
    for (n, s) in seeds.iter().enumerate() {
        lyon.push(add(&store, mb_a, n, s).await);
    }
    let hostile = add(
        &store,
        mb_a,
        10,
        &Seed {
            subject: "Relance : pièce justificative",
            html: Some(hostile_html),
            text: "Bonjour, voici ma pièce justificative.",
            masked: "Bonjour, voici ma pièce justificative. <script>document.title='pwned-masked'</script>",
            category: "rib",
            confidence: 0.55,
            draft: "Bonjour,\n\nNous avons bien reçu votre pièce.",
            hours_ago: 1,
        },
    )
    .await;
    lyon.push(hostile);
    let nantes = add(
        &store,
        mb_b,
        20,
        &Seed {
            subject: "Dossier confidentiel Nantes",
            html: None,
            text: "Bonjour.",
            masked: "Bonjour, dossier d'un autre service.",
            category: "avis",
            confidence: 0.9,
            draft: "Brouillon de Nantes",
            hours_ago: 3,
        },
    )
    .await;

    let config = WebConfig {
        data_dir: Some(dir.path().join("data")),
        contact: "Délégué à la protection des données, SIP de Lyon".into(),
        ..WebConfig::default()
    };
    let (state, engine) = if engine {
        let e = Arc::new(common::DemoEngine::new(store.clone(), &[], 1.01));
        let state = AppState::new(store.clone(), common::demo_taxonomy(), config)
            .with_service(e.service.clone());
        (state, Some(e))
    } else {
        (AppState::new(store.clone(), taxonomy(), config), None)
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(facteur_web::serve(listener, state));
    App {
        _dir: dir,
        store,
        base: format!("http://{addr}"),
        server,
        mb_a,
        mb_b,
        lyon,
        hostile,
        nantes,
        supervisor,
        engine,
    }
}

/// Signs in through the login form as `username`, and waits until the browser
/// has left the login page.
pub(crate) async fn sign_in(c: &Client, app: &App, username: &str) -> Result<(), String> {
    c.goto(&format!("{}/login", app.base))
        .await
        .map_err(|e| e.to_string())?;
    find(c, "#username")
        .await?
        .send_keys(username)
        .await
        .map_err(|e| e.to_string())?;
    find(c, "#password")
        .await?
        .send_keys(PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    find(c, "#login-form button[type=submit]")
        .await?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_until(&format!("{username} signed in"), || async {
        let u = c.current_url().await.ok()?;
        (u.path() != "/login").then_some(())
    })
    .await
}

pub(crate) async fn log_in(c: &Client, app: &App, username: &str) -> Result<(), String> {
    sign_in(c, app, username).await?;
    // One mailbox: the agent lands on its queue.
    wait_path(c, &format!("/mailboxes/{}/queue", app.mb_a), None).await
}

/// Runs `scenario` in a fresh browser profile and always ends the session, so a
/// failing test leaves no Chromium behind.
pub(crate) async fn with_browser<F, Fut>(scenario: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = (Client, Result<(), String>)>,
{
    let Some(wd) = webdriver_url() else {
        return;
    };
    let _one_at_a_time = BROWSER.lock().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&wd, profile.path()).await;
    let (c, result) = scenario(c).await;
    let _ = c.close().await;
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_validates_an_edited_draft_and_finds_it_in_the_outbox() {
    let app = start_app("<p>Bonjour</p>").await;
    with_browser(|c| async {
        let r = async {
            log_in(&c, &app, "agnes").await?;
            // Queue, oldest first, in French.
            find(&c, "tr.queue-row").await?;
            let rows = c
                .find_all(Locator::Css("tr.queue-row"))
                .await
                .map_err(|e| e.to_string())?;
            assert_eq!(rows.len(), app.lyon.len(), "every Lyon message, none of Nantes");
            let queue_text = find(&c, "#queue").await?.text().await.map_err(|e| e.to_string())?;
            assert!(queue_text.contains("Changement de coordonnées bancaires"), "{queue_text}");
            assert!(queue_text.contains("Coordonnées bancaires"), "{queue_text}");
            assert!(!queue_text.contains("Nantes"), "{queue_text}");
            screenshot(&c, "queue.png").await?;

            // Open the oldest message from the queue.
            c.find(Locator::LinkText("Changement de coordonnées bancaires"))
                .await
                .map_err(|e| e.to_string())?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            let first = app.lyon[0];
            wait_path(&c, &format!("/messages/{first}"), None).await?;
            find(&c, "#draft").await?;
            // Why it was suggested: the stored passage, its matched word marked.
            // Folded under the draft; opened, in words (no raw score).
            find(&c, "#why summary").await?.click().await.map_err(|e| e.to_string())?;
            let why = find(&c, "#suggestions mark").await?.text().await.map_err(|e| e.to_string())?;
            assert_eq!(why, "justifie");
            let words = find(&c, "#why .shared-words").await?.text().await.map_err(|e| e.to_string())?;
            assert_eq!(words, "Mots communs avec le message : justifie");
            screenshot(&c, "message.png").await?;

            // Keyboard: j opens the next message, k comes back to this one.
            press(&c, 'j').await?;
            let second = app.lyon[1];
            let prev_q = format!("prev={first}");
            wait_path(&c, &format!("/messages/{second}"), Some(&prev_q)).await?;
            find(&c, "#prev-message").await?;
            press(&c, 'k').await?;
            wait_path(&c, &format!("/messages/{first}"), None).await?;

            // Edit the draft (accents typed through the real keyboard path) and validate.
            let draft = find(&c, "#draft").await?;
            draft.clear().await.map_err(|e| e.to_string())?;
            let edited = "Bonjour Madame,\nVotre RIB sera pris en compte à la prochaine échéance « prélèvement ».\nCordialement";
            draft.send_keys(edited).await.map_err(|e| e.to_string())?;
            find(&c, "#validate").await?.click().await.map_err(|e| e.to_string())?;
            // Auto-advance: the next message of the tab opens, with the banner.
            let next = wait_done(&c, "validated", first).await?;
            assert_eq!(next, format!("/messages/{}", app.lyon[1]));
            find(&c, "#done-banner #undo-send").await?;
            c.goto(&format!("{}/mailboxes/{}/queue?tab=ready", app.base, app.mb_a))
                .await
                .map_err(|e| e.to_string())?;
            wait_path(&c, &format!("/mailboxes/{}/queue", app.mb_a), Some("tab=ready")).await?;
            let queue_text = find(&c, "#queue").await?.text().await.map_err(|e| e.to_string())?;
            assert!(!queue_text.contains("Changement de coordonnées bancaires"), "validated, so out of 'ready': {queue_text}");

            // The outbox, through the navigation bar.
            c.find(Locator::LinkText("Boîte d'envoi"))
                .await
                .map_err(|e| e.to_string())?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            wait_path(&c, "/outbox", None).await?;
            let row = find(&c, "tr.outbox-row").await?;
            let row_text = row.text().await.map_err(|e| e.to_string())?;
            assert!(row_text.contains("Changement de coordonnées bancaires"), "{row_text}");
            assert!(row_text.contains("Agnès Dupré"), "{row_text}");
            let o = app
                .store
                .get_outbox_for_message(first)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no outbox row")?;
            assert!(
                o.body.replace("\r\n", "\n").contains(edited),
                "the edited text is what leaves: {}",
                o.body
            );
            Ok(())
        }
        .await;
        (c, r)
    })
    .await;
}

/// Validating queues the reply for sending, so its shortcut asks twice: one `v`
/// only arms the button and says so; a second `v` sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_v_shortcut_asks_for_confirmation_before_sending() {
    let app = start_app("<p>Bonjour</p>").await;
    with_browser(|c| async {
        let r = async {
            log_in(&c, &app, "agnes").await?;
            let first = app.lyon[0];
            let path = format!("/messages/{first}");
            open(&c, &app, &path).await?;
            find(&c, "#draft").await?;
            let queued = || async {
                app.store
                    .get_outbox_for_message(first)
                    .await
                    .map(|o| o.is_some())
                    .map_err(|e| e.to_string())
            };
            let prompt_shown = || async {
                find(&c, "#validate-confirm")
                    .await
                    .ok()?
                    .is_displayed()
                    .await
                    .ok()
            };

            assert_ne!(prompt_shown().await, Some(true), "no prompt before any key");

            // One press: nothing queued, still on the message…
            press(&c, 'v').await?;
            // (Give a wrongly sent form every chance to land.)
            tokio::time::sleep(Duration::from_millis(1500)).await;
            assert!(!queued().await?, "a single v queued the reply");
            wait_path(&c, &path, None).await?;
            // …the button armed and the prompt shown.
            wait_until("the confirmation prompt", || async {
                prompt_shown().await.filter(|shown| *shown)
            })
            .await?;
            let text = find(&c, "#validate-confirm")
                .await?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            assert!(
                text.contains("Appuyez de nouveau sur v pour valider et envoyer"),
                "{text}"
            );
            let armed = js(
                &c,
                "var b = document.getElementById('validate'); \
                 return [b.classList.contains('armed'), document.activeElement === b];",
            )
            .await?;
            assert_eq!(
                armed,
                json!([true, true]),
                "the button is highlighted and focused"
            );

            // Escape cancels: the next v arms again instead of sending.
            press(&c, '\u{E00C}').await?;
            wait_until("the prompt hidden after Escape", || async {
                prompt_shown().await.filter(|shown| !*shown)
            })
            .await?;
            press(&c, 'v').await?;
            wait_until("the prompt again", || async {
                prompt_shown().await.filter(|shown| *shown)
            })
            .await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(!queued().await?, "v after Escape queued the reply");

            // The confirmation lapses after a few seconds: v then re-arms only.
            wait_until("the prompt to lapse", || async {
                prompt_shown().await.filter(|shown| !*shown)
            })
            .await?;
            press(&c, 'v').await?;
            wait_until("the prompt once more", || async {
                prompt_shown().await.filter(|shown| *shown)
            })
            .await?;
            assert!(
                !queued().await?,
                "v after the prompt lapsed queued the reply"
            );

            // The second press confirms: validated, queued, back to the queue.
            press(&c, 'v').await?;
            wait_done(&c, "validated", first).await?;
            assert!(queued().await?, "the confirmed v did not queue the reply");
            Ok(())
        }
        .await;
        (c, r)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_gets_403_on_another_mailbox() {
    let app = start_app("<p>Bonjour</p>").await;
    with_browser(|c| async {
        let r = async {
            log_in(&c, &app, "agnes").await?;
            for path in [
                format!("/mailboxes/{}/queue", app.mb_b),
                format!("/messages/{}", app.nantes),
            ] {
                c.goto(&format!("{}{path}", app.base))
                    .await
                    .map_err(|e| e.to_string())?;
                wait_path(&c, &path, None).await?;
                let err = find(&c, "p.error")
                    .await?
                    .text()
                    .await
                    .map_err(|e| e.to_string())?;
                assert_eq!(err, "Accès refusé.", "{path}");
                let status = js(
                    &c,
                    "return performance.getEntriesByType('navigation')[0].responseStatus",
                )
                .await?;
                assert_eq!(status, json!(403), "{path}");
                let body = find(&c, "main")
                    .await?
                    .text()
                    .await
                    .map_err(|e| e.to_string())?;
                assert!(!body.contains("Dossier confidentiel"), "{body}");
            }
            Ok(())
        }
        .await;
        (c, r)
    })
    .await;
}

/// A "remote" server on loopback that records every request it gets.
async fn tracker() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let h = h.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or("(connection without request)")
                    .to_string();
                h.lock().unwrap().push(line);
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                    .await;
            });
        }
    });
    (addr, hits)
}

fn hostile_html(t: SocketAddr) -> String {
    format!(
        r#"<html><head>
<meta http-equiv="refresh" content="0;url=http://{t}/refresh">
<base href="http://{t}/base/">
<link rel="stylesheet" href="http://{t}/link.css">
<style>@import url(http://{t}/import.css); body {{ background: url(http://{t}/tracker) }}</style>
<script>document.title = 'pwned'; window.name = 'pwned'; try {{ parent.document.title = 'pwned'; }} catch (e) {{}} new Image().src = 'http://{t}/script';</script>
</head><body background="http://{t}/body-bg">
<p id="greeting">Bonjour, voici ma pièce justificative.</p>
<img src="http://{t}/pixel.png" alt="logo">
<img src="x" onerror="window.name='pwned'; new Image().src='http://{t}/onerror'">
<div style="background:url(http://{t}/div-bg)">texte stylé</div>
<a id="js" href="javascript:window.name='pwned'">cliquez ici</a>
<form action="http://{t}/form" method="post"><input name="iban" value="FR76"><button id="send">Envoyer</button></form>
<iframe src="http://{t}/iframe"></iframe>
<object data="http://{t}/object"></object><embed src="http://{t}/embed">
<video poster="http://{t}/poster.png"></video>
<svg><image href="http://{t}/svg.png"/><script>window.name='pwned'</script></svg>
<table background="http://{t}/table-bg"><tr><td>Montant</td></tr></table>
<input type="image" src="http://{t}/input.png">
</body></html>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_mail_runs_no_script_and_loads_nothing_remote() {
    let (taddr, hits) = tracker().await;
    let app = start_app(&hostile_html(taddr)).await;
    with_browser(|c| async {
        let r = async {
            log_in(&c, &app, "agnes").await?;
            let path = format!("/messages/{}", app.hostile);
            c.goto(&format!("{}{path}", app.base)).await.map_err(|e| e.to_string())?;
            // The masked text shows the markup as text, it does not run it.
            let newtext = find(&c, "#newtext").await?.text().await.map_err(|e| e.to_string())?;
            assert!(newtext.contains("<script>document.title='pwned-masked'</script>"), "{newtext}");

            // Reveal the original: the sanitised mail in its sandboxed iframe.
            find(&c, "#reveal").await?.click().await.map_err(|e| e.to_string())?;
            let frame = find(&c, "iframe#mail-body").await?;
            assert_eq!(frame.attr("sandbox").await.map_err(|e| e.to_string())?.as_deref(), Some(""));
            frame.enter_frame().await.map_err(|e| e.to_string())?;
            let greeting = find(&c, "#greeting, p").await?.text().await.map_err(|e| e.to_string())?;
            assert!(greeting.contains("Bonjour, voici ma pièce justificative"), "{greeting}");
            // Inside the frame: no script element, no handler, no javascript: link,
            // no form, no remote reference left at all.
            match c
                .execute(
                    "return [document.querySelectorAll('script').length, document.querySelectorAll('[onerror],[onclick],form,iframe,object,embed,meta[http-equiv],base,link,style,[style],[background]').length, document.documentElement.outerHTML, window.name, document.title]",
                    vec![],
                )
                .await
            {
                Ok(v) => {
                    assert_eq!(v[0], json!(0), "script elements in the frame: {}", v[2]);
                    assert_eq!(v[1], json!(0), "dangerous elements in the frame: {}", v[2]);
                    let html = v[2].as_str().unwrap_or_default();
                    assert!(!html.contains(&taddr.to_string()), "remote reference survived: {html}");
                    assert!(!html.contains("javascript:"), "{html}");
                    assert_ne!(v[3], json!("pwned"));
                    assert_ne!(v[4], json!("pwned"));
                }
                // ChromeDriver cannot run its own script in a frame whose sandbox
                // forbids scripts: that is the guarantee itself. Check the DOM source.
                Err(e) => {
                    eprintln!("script refused inside the sandboxed frame ({e}); checking its source");
                    let html = c.source().await.map_err(|e| e.to_string())?;
                    assert!(!html.contains("<script"), "{html}");
                    assert!(!html.contains(&taddr.to_string()), "{html}");
                }
            }
            c.enter_parent_frame().await.map_err(|e| e.to_string())?;

            // The app's own document: untouched by the mail.
            let v = js(&c, "return [document.title, window.name, Array.from(document.querySelectorAll('script')).map(s => s.getAttribute('src')), document.readyState]").await?;
            assert!(!v[0].as_str().unwrap_or_default().contains("pwned"), "{v}");
            assert_ne!(v[1], json!("pwned"));
            assert_eq!(v[2], json!(["/static/app.js"]), "only the app's script");
            wait_until("document complete", || async {
                (js(&c, "return document.readyState").await.ok()? == json!("complete")).then_some(())
            })
            .await?;
            // The frame finished loading above (its text was read) and the page is
            // complete; a refresh or a late beacon would come within a moment. A
            // negative needs a window: this is the only deliberate pause.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            assert_eq!(c.current_url().await.map_err(|e| e.to_string())?.path(), path, "no meta refresh");
            {
                let got = hits.lock().unwrap();
                assert!(got.is_empty(), "the browser fetched remote content: {got:?}");
            }

            // Control: the tracker does see a request when the browser makes one,
            // so the zero above is a real zero.
            c.goto(&format!("http://{taddr}/control")).await.map_err(|e| e.to_string())?;
            wait_until("the control request", || async {
                hits.lock().unwrap().iter().any(|l| l.starts_with("GET /control")).then_some(())
            })
            .await?;
            Ok(())
        }
        .await;
        (c, r)
    })
    .await;
}

/// Eight weeks of triaged mail, the rib share jumping in Lyon from week 5, and a
/// promoted model whose training mix is balanced: the dashboard has lines to draw.
pub(crate) async fn seed_history(app: &App) {
    let mut n = 100;
    for week in 0..8i64 {
        for (mb, shift) in [(app.mb_a, true), (app.mb_b, false)] {
            // 32 a week: weeks under 30 messages never alert.
            for i in 0..32i64 {
                let category = if shift && week >= 4 && i % 3 != 0 {
                    "rib"
                } else {
                    ["rib", "avis", "delai", "attestation"][(i % 4) as usize]
                };
                let s = Seed {
                    subject: "Demande",
                    html: None,
                    text: "Bonjour.",
                    masked: "Bonjour, une demande.",
                    category,
                    confidence: 0.6 + 0.01 * (i % 30) as f32,
                    draft: "Bonjour,\n\nVoici la démarche.",
                    hours_ago: (8 - week) * 168 - i * 4 + 60,
                };
                add(&app.store, mb, n, &s).await;
                n += 1;
            }
        }
    }
    let record = json!({
        "training_sha256": "ab".repeat(32),
        "training_examples": 840,
        "feedback_examples": 35,
        "taxonomy": ["rib", "avis", "delai", "attestation"],
        "training_distribution": {"rib": 0.25, "avis": 0.25, "delai": 0.25, "attestation": 0.25},
        "vocabulary_size": 4000,
        "eval": {
            "eval_set_sha256": "cd".repeat(32),
            "examples": 200,
            "accuracy": 0.84,
            "macro_f1": 0.8,
            "per_class_f1": {},
            "coverage_at_95_precision": 0.46,
            "expected_calibration_error": 0.04
        },
        "trained_at": app.store.now_ms() - 10 * 24 * 3_600_000,
        "train_seconds": 12.5,
        "note": null
    });
    app.store
        .create_model_version("clf-2025-03", &record, Some(app.supervisor))
        .await
        .unwrap();
    app.store
        .promote_model("clf-2025-03", app.supervisor)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_sees_drift_charts_and_the_public_sheet() {
    let app = start_app("<p>Bonjour</p>").await;
    seed_history(&app).await;
    with_browser(|c| async {
        let r = async {
            // Public sheet first, signed out.
            c.goto(&format!("{}/transparence", app.base))
                .await
                .map_err(|e| e.to_string())?;
            let oversight = find(&c, "#oversight")
                .await?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            assert!(
                oversight.contains("Aucune réponse n'est envoyée sans la validation d'un agent nommé"),
                "{oversight}"
            );
            let model = find(&c, "#model").await?.text().await.map_err(|e| e.to_string())?;
            assert!(model.contains("clf-2025-03"), "{model}");
            screenshot(&c, "transparence.png").await?;

            c.goto(&format!("{}/login", app.base))
                .await
                .map_err(|e| e.to_string())?;
            find(&c, "#username").await?.send_keys("sylvie").await.map_err(|e| e.to_string())?;
            find(&c, "#password").await?.send_keys(PASSWORD).await.map_err(|e| e.to_string())?;
            find(&c, "#login-form button[type=submit]")
                .await?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            wait_path(&c, "/", None).await?;
            c.goto(&format!("{}/supervision", app.base))
                .await
                .map_err(|e| e.to_string())?;
            find(&c, "figure.chart svg.facteur-chart polyline").await?;
            let charts = c
                .find_all(Locator::Css("svg.facteur-chart"))
                .await
                .map_err(|e| e.to_string())?;
            // Four indicators per mailbox, plus the time given back.
            assert!(charts.len() >= 8, "{} charts", charts.len());
            let alerts = find(&c, "#alerts").await?.text().await.map_err(|e| e.to_string())?;
            assert!(alerts.contains("SIP Lyon 3e"), "the shifted mailbox alerts: {alerts}");
            // The screenshot shows what a supervisor reads first: the time given
            // back and each mailbox's week in sentences.
            js(&c, "document.getElementById('main').scrollIntoView()").await?;
            screenshot(&c, "supervision.png").await?;

            // One click switches suggestions off for Nantes.
            let row = format!("#switch-mailboxes form.kill-switch input[name=value][value='{}']", app.mb_b);
            find(&c, &row).await?;
            let form = c
                .find(Locator::XPath(&format!(
                    "//table[@id='switch-mailboxes']//form[input[@name='value' and @value='{}']]//button",
                    app.mb_b
                )))
                .await
                .map_err(|e| e.to_string())?;
            form.click().await.map_err(|e| e.to_string())?;
            wait_path(&c, "/supervision", None).await?;
            find(&c, "#switch-mailboxes span.switch-off").await?;
            Ok(())
        }
        .await;
        (c, r)
    })
    .await;
}

/// The stale-draft sequence: a supervisor validates a new version of the
/// standard answer a pending draft was built on, in the web editor. The agent
/// is warned on the message page and offered the rebuild; validating the old
/// text is refused until the agent ticks the confirmation, which is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_on_a_retired_answer_version_is_flagged_and_needs_confirmation() {
    let app = start_app("<p>Bonjour</p>").await;
    // The seeds' drafts rest on "rib-standard" v2, in force; v3 waits as a draft.
    let s = &app.store;
    let version = |content: &str| facteur_store::NewAnswerVersion {
        answer_id: "rib-standard".into(),
        title: "Coordonnées bancaires".into(),
        language: "fr".into(),
        content: content.into(),
        valid_from: None,
        valid_until: None,
        // Imported, as `facteur kb import` records them: no author in the store,
        // so the supervisor may validate v3 (four eyes binds an author only).
        author_id: None,
    };
    for (n, status) in [(1, Some(true)), (2, Some(true)), (3, None)] {
        let v = s
            .create_answer_version(&version(&format!("Texte de la version {n}")))
            .await
            .unwrap();
        assert_eq!(v, n);
        if status.is_some() {
            s.set_answer_status(
                "rib-standard",
                v,
                facteur_core::AnswerStatus::Validated,
                app.supervisor,
            )
            .await
            .unwrap();
        }
    }
    let first = app.lyon[0];
    with_browser(|c| async {
        let r = async {
            // Before: no warning on the message.
            log_in(&c, &app, "agnes").await?;
            let path = format!("/messages/{first}");
            c.goto(&format!("{}{path}", app.base))
                .await
                .map_err(|e| e.to_string())?;
            find(&c, "#draft").await?;
            assert!(
                c.find(Locator::Css("#draft-retired")).await.is_err(),
                "no warning while v2 is in force"
            );
            c.delete_all_cookies().await.map_err(|e| e.to_string())?;

            // The supervisor validates v3 in the web editor: v2 is retired.
            c.goto(&format!("{}/login", app.base))
                .await
                .map_err(|e| e.to_string())?;
            find(&c, "#username")
                .await?
                .send_keys("sylvie")
                .await
                .map_err(|e| e.to_string())?;
            find(&c, "#password")
                .await?
                .send_keys(PASSWORD)
                .await
                .map_err(|e| e.to_string())?;
            find(&c, "#login-form button[type=submit]")
                .await?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            wait_until("signed in", || async {
                c.current_url()
                    .await
                    .ok()
                    .filter(|u| !u.path().starts_with("/login"))
            })
            .await?;
            c.goto(&format!("{}/answers/rib-standard", app.base))
                .await
                .map_err(|e| e.to_string())?;
            find(&c, "form[action$='/3/validate'] button")
                .await?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            wait_until("v3 validated", || async {
                let v = app
                    .store
                    .get_answer_version("rib-standard", 3)
                    .await
                    .ok()??;
                (v.status == facteur_core::AnswerStatus::Validated).then_some(())
            })
            .await?;
            c.delete_all_cookies().await.map_err(|e| e.to_string())?;

            // The agent: a visible warning, the rebuild action, and a confirmation box.
            log_in(&c, &app, "agnes").await?;
            c.goto(&format!("{}{path}", app.base))
                .await
                .map_err(|e| e.to_string())?;
            let warning = find(&c, "#draft-retired")
                .await?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            assert!(warning.contains("a été retirée"), "{warning}");
            assert!(warning.contains("rib-standard v2"), "{warning}");
            let rebuild = find(&c, "#rebuild")
                .await?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            assert_eq!(rebuild, "Reconstruire depuis la version en vigueur");
            find(&c, "#confirm-retired").await?;

            // Validating without the confirmation is refused: nothing queued.
            find(&c, "#validate")
                .await?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            tokio::time::sleep(Duration::from_millis(800)).await;
            let body = find(&c, "body")
                .await?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            assert!(body.contains("version retirée"), "{body}");
            assert!(
                app.store
                    .get_outbox_for_message(first)
                    .await
                    .map_err(|e| e.to_string())?
                    .is_none(),
                "the retired text was queued without confirmation"
            );

            // With the confirmation: queued, and the audit says so.
            c.goto(&format!("{}{path}", app.base))
                .await
                .map_err(|e| e.to_string())?;
            find(&c, "#confirm-retired")
                .await?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            find(&c, "#validate")
                .await?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            wait_done(&c, "validated", first).await?;
            assert!(app
                .store
                .get_outbox_for_message(first)
                .await
                .map_err(|e| e.to_string())?
                .is_some());
            let audit = app
                .store
                .list_audit(0, 1000)
                .await
                .map_err(|e| e.to_string())?;
            assert!(
                audit
                    .iter()
                    .any(|r| r.action == "reply.retired_answer_confirmed"
                        && r.target == format!("message:{first}")),
                "the confirmation is audited"
            );
            Ok(())
        }
        .await;
        (c, r)
    })
    .await;
}

/// An abstention does not show the confidence of the prediction it refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abstained_message_says_no_suggestion_instead_of_a_confidence() {
    let app = start_app("<p>Bonjour</p>").await;
    let raw = "From: Citoyen <c@example.org>\r\nSubject: Question\r\nMessage-ID: <abst@example.org>\r\n\r\nBonjour.\r\n";
    let parsed = facteur_mail::parse_message(raw.as_bytes());
    let mut nm = NewMessage::from_parsed(app.mb_a, raw.as_bytes().to_vec(), &parsed);
    nm.subject = "Question".into();
    let id = app.store.insert_message(&nm).await.unwrap().id();
    app.store
        .record_triage(&NewTriage {
            message_id: id,
            model_version: Some("clf-2025-03".into()),
            category: Some("avis".into()),
            confidence: Some(0.97),
            route: Route::Abstain,
            answer_id: None,
            answer_version: None,
            draft_text: None,
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
        .await
        .unwrap();
    with_browser(|c| async {
        let r = async {
            log_in(&c, &app, "agnes").await?;
            c.goto(&format!("{}/messages/{id}", app.base))
                .await
                .map_err(|e| e.to_string())?;
            let state = find(&c, "#state")
                .await?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            // A DSFR badge: upper case on screen, the same words.
            assert_eq!(state.to_lowercase(), "sans suggestion");
            let conf = find(&c, "#confidence")
                .await?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            assert_eq!(conf, "aucune suggestion (confiance sous le seuil)");
            let meta = find(&c, "dl.meta")
                .await?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            assert!(!meta.contains("97"), "{meta}");
            Ok(())
        }
        .await;
        (c, r)
    })
    .await;
}

/// Issue 17, two panes: at 1280×900 the mail is on the left and the draft with
/// its Validate button on the right, both in view without scrolling (measured by
/// element position); a narrow window stacks them, mail first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_draft_and_validate_are_in_view_beside_the_mail_at_1280x900() {
    let app = start_app("<p>Bonjour</p>").await;
    with_browser(|c| async {
        let r = async {
            log_in(&c, &app, "agnes").await?;
            let first = app.lyon[0];
            let path = format!("/messages/{first}");
            open(&c, &app, &path).await?;
            find(&c, "#draft").await?;
            let layout = || {
                js(
                    &c,
                    "var r = function (id) { var b = document.getElementById(id).getBoundingClientRect(); \
                       return [b.left, b.top, b.right, b.bottom]; }; \
                     return {mail: r('newtext'), draft: r('draft'), validate: r('validate'), \
                       h: window.innerHeight, w: window.innerWidth, y: window.scrollY};",
                )
            };
            let l = layout().await?;
            let n = |v: &serde_json::Value, i: usize| v[i].as_f64().unwrap_or(f64::NAN);
            let h = l["h"].as_f64().unwrap();
            assert_eq!(l["y"].as_f64(), Some(0.0), "{l}");
            for id in ["draft", "validate"] {
                assert!(
                    n(&l[id], 1) >= 0.0 && n(&l[id], 3) <= h,
                    "{id} is not in view without scrolling: {l}"
                );
            }
            assert!(
                n(&l["mail"], 2) <= n(&l["draft"], 0),
                "the mail is left of the draft: {l}"
            );
            screenshot(&c, "message-two-panes.png").await?;

            // After validating, the next message opens under the confirmation
            // banner: its draft and Validate must still be in view, and arming
            // Validate with `v` must not scroll the page (focus() used to centre
            // the button, throwing the draft out of view: 442 px a message in
            // bench/shift.sh).
            press(&c, 'v').await?;
            press(&c, 'v').await?;
            wait_done(&c, "validated", first).await?;
            find(&c, "#done-banner").await?;
            let l = layout().await?;
            for id in ["draft", "validate"] {
                assert!(
                    n(&l[id], 1) >= 0.0 && n(&l[id], 3) <= h,
                    "{id} is not in view under the banner: {l}"
                );
            }
            press(&c, 'v').await?;
            let armed = js(
                &c,
                "return [document.getElementById('validate').classList.contains('armed'), window.scrollY];",
            )
            .await?;
            assert_eq!(armed, json!([true, 0]), "armed without scrolling");
            press(&c, '\u{E00C}').await?;

            c.set_window_size(800, 900).await.map_err(|e| e.to_string())?;
            wait_until("one column", || async {
                let l = layout().await.ok()?;
                (n(&l["draft"], 1) >= n(&l["mail"], 3)).then_some(())
            })
            .await?;
            c.set_window_size(1280, 900).await.map_err(|e| e.to_string())?;
            Ok(())
        }
        .await;
        (c, r)
    })
    .await;
}

/// Issue 17, defect 3: a draft with a `[[à compléter : …]]` marker. The warning
/// follows the text as the agent types; `v` does not arm while a marker is left
/// (it selects the marker instead); a refused validation comes back on the
/// message page, next to the draft, with the agent's text kept and the
/// navigation there, and nothing is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_left_in_the_draft_is_shown_live_and_refused_on_the_page() {
    let app = start_app("<p>Bonjour</p>").await;
    let id = add(
        &app.store,
        app.mb_a,
        90,
        &Seed {
            subject: "Avis d'impôt",
            html: None,
            text: "Bonjour, je ne comprends pas mon avis.",
            masked: "Bonjour,\nJe ne comprends pas mon avis.\n[NOM_1]",
            category: "avis",
            confidence: 0.91,
            draft: "Madame, Monsieur,\n\nVotre avis de [[à compléter : annee]] est disponible.\n\nCordialement",
            hours_ago: 1,
        },
    )
    .await;
    with_browser(|c| async {
        let r = async {
            log_in(&c, &app, "agnes").await?;
            let path = format!("/messages/{id}");
            open(&c, &app, &path).await?;
            let warning_shown = || async {
                find(&c, "#unfilled-fields")
                    .await
                    .ok()?
                    .is_displayed()
                    .await
                    .ok()
            };
            assert_eq!(warning_shown().await, Some(true), "the marker is announced");

            // v with a marker left: not armed, the marker selected in the draft.
            press(&c, 'v').await?;
            let state = js(
                &c,
                "var d = document.getElementById('draft'); \
                 return [document.getElementById('validate').classList.contains('armed'), \
                   document.activeElement === d, d.value.substring(d.selectionStart, d.selectionEnd)];",
            )
            .await?;
            assert_eq!(
                state,
                json!([false, true, "[[à compléter : annee]]"]),
                "v must not arm while a marker is left"
            );

            // Validate anyway (a click): refused on the page itself, text kept.
            let typed = "Madame, Monsieur,\n\nVotre avis de [[à compléter : annee]] est disponible, je vous le confirme.\n\nCordialement";
            let draft = find(&c, "#draft").await?;
            draft.clear().await.map_err(|e| e.to_string())?;
            draft.send_keys(typed).await.map_err(|e| e.to_string())?;
            find(&c, "#validate").await?.click().await.map_err(|e| e.to_string())?;
            let error = find(&c, "#validate-error").await?.text().await.map_err(|e| e.to_string())?;
            assert!(error.contains("champs à compléter"), "{error}");
            assert!(error.contains("[[à compléter : annee]]"), "{error}");
            let kept = js(&c, "return document.getElementById('draft').value;").await?;
            assert_eq!(kept.as_str(), Some(typed), "the agent's text is kept");
            find(&c, "#back-to-queue").await?;
            let page = find(&c, "main").await?.text().await.map_err(|e| e.to_string())?;
            assert_eq!(page.matches("champs à compléter").count(), 1, "said once: {page}");
            assert!(
                app.store
                    .get_outbox_for_message(id)
                    .await
                    .map_err(|e| e.to_string())?
                    .is_none(),
                "nothing queued"
            );

            // Typing the year makes the warning go, without a reload.
            let draft = find(&c, "#draft").await?;
            draft.clear().await.map_err(|e| e.to_string())?;
            draft
                .send_keys("Madame, Monsieur,\n\nVotre avis de 2024 est disponible.\n\nCordialement")
                .await
                .map_err(|e| e.to_string())?;
            wait_until("the warning to go", || async {
                warning_shown().await.filter(|shown| !*shown)
            })
            .await?;
            // Now v arms, and a second v sends.
            js(&c, "document.activeElement.blur(); return null;").await?;
            press(&c, 'v').await?;
            let armed = js(
                &c,
                "var b = document.getElementById('validate'); var s = getComputedStyle(b); \
                 var p = document.getElementById('validate-confirm').getBoundingClientRect(); \
                 return [b.classList.contains('armed'), s.color, p.bottom <= window.innerHeight + 1];",
            )
            .await?;
            let where_ = js(
                &c,
                "var r = function (id) { var b = document.getElementById(id).getBoundingClientRect(); return [b.top, b.bottom]; }; \
                 var w = document.querySelector('.pane-work'); \
                 return {validate: r('validate'), prompt: r('validate-confirm'), h: window.innerHeight, y: window.scrollY, pane: w ? w.scrollTop : null};",
            )
            .await?;
            assert_eq!(
                armed,
                json!([true, "rgb(107, 41, 0)", true]),
                "armed: dark text (not white on cream), and the prompt in view (to the pixel: \
                 scrolling to the nearest edge leaves fractions): {where_}"
            );
            press(&c, 'v').await?;
            wait_done(&c, "validated", id).await?;
            assert!(
                app.store
                    .get_outbox_for_message(id)
                    .await
                    .map_err(|e| e.to_string())?
                    .is_some(),
                "queued once completed"
            );
            Ok(())
        }
        .await;
        (c, r)
    })
    .await;
}

/// Issue 17, help when the model abstains: the likeliest types are offered with
/// their answers and one click drafts from the right one; the knowledge base is
/// searched from the page (Enter in the box searches, it never sends) and an
/// answer is inserted, filled from the mail, after the draft. Nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abstained_mail_is_answered_through_its_candidates_and_the_search() {
    // Its checks after the browser scenario need the browser to have acted.
    if webdriver_url().is_none() {
        return;
    }
    let app = start_app_with("<p>Bonjour</p>", true).await;
    let raw = "From: Jeanne Martin <jeanne.martin@example.org>\r\nTo: sip.lyon3@impots.example\r\nSubject: Paiement de mon impot\r\nMessage-ID: <abstain-browser@example.org>\r\n\r\nBonjour,\r\nJ'ai change de banque le mois dernier et, suite a une perte d'emploi, je ne peux pas payer mon impot en une seule fois. Puis-je obtenir un delai ?\r\nCordialement,\r\nJeanne Martin\r\n";
    let parsed = facteur_mail::parse_message(raw.as_bytes());
    let nm = NewMessage::from_parsed(app.mb_a, raw.as_bytes().to_vec(), &parsed);
    let id = app.store.insert_message(&nm).await.unwrap().id();
    let engine = app.engine.clone().unwrap();
    assert_eq!(engine.triage(id, None).await.route, Route::Abstain);
    let draft_value = |c: &Client| {
        let c = c.clone();
        async move {
            find(&c, "#draft")
                .await?
                .prop("value")
                .await
                .map_err(|e| e.to_string())
                .map(Option::unwrap_or_default)
        }
    };
    with_browser(|c| async {
        let r = async {
            log_in(&c, &app, "agnes").await?;
            open(&c, &app, &format!("/messages/{id}")).await?;
            // Three candidates, the right type first, each naming its answer.
            let kinds = js(
                &c,
                "return Array.from(document.querySelectorAll('#candidates li.candidate')).map(l => l.dataset.type)",
            )
            .await?;
            assert_eq!(kinds.as_array().map(Vec::len), Some(3), "{kinds}");
            assert_eq!(kinds[0], "delais-paiement", "{kinds}");
            assert_eq!(draft_value(&c).await?, "", "no draft before the choice");
            screenshot(&c, "message-candidates.png").await?;
            // The key `1` answers with the first type (as clicking its button).
            js(&c, "document.activeElement.blur(); window.__before = 1; return null;").await?;
            press(&c, '1').await?;
            wait_until("the page reloaded by the key 1", || async {
                (js(&c, "return window.__before === undefined;").await.ok()? == json!(true))
                    .then_some(())
            })
            .await?;
            wait_path(&c, &format!("/messages/{id}"), None).await?;
            let draft = wait_until("the draft from the chosen type", || async {
                let d = draft_value(&c).await.ok()?;
                (!d.is_empty()).then_some(d)
            })
            .await?;
            assert!(draft.contains("Madame, Monsieur,"), "{draft}");
            assert!(c.find(Locator::Css("#candidates")).await.is_err());
            // `x` goes to the escalation's reason, in view, without sending anything.
            js(&c, "document.activeElement.blur(); return null;").await?;
            press(&c, 'x').await?;
            let at = js(
                &c,
                "var a = document.activeElement, r = a.getBoundingClientRect(); \
                 return [a.id, r.top >= 0 && r.bottom <= window.innerHeight + 1];",
            )
            .await?;
            assert_eq!(at, json!(["escalate-reason", true]), "x focuses the reason");
            press(&c, '\u{E00C}').await?;

            // Search with Enter from the box: results, the draft kept as it was.
            find(&c, "#compose summary")
                .await?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            find(&c, "#kb-q")
                .await?
                .send_keys("moyens de paiement\u{E007}")
                .await
                .map_err(|e| e.to_string())?;
            wait_path(&c, &format!("/messages/{id}/compose"), None).await?;
            find(&c, "#kb-results").await?;
            assert_eq!(draft_value(&c).await?, draft, "the text is kept");
            find(&c, "#kb-results button.insert[value='answer:moyens-paiement']")
                .await?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            find(&c, "#compose-inserted").await?;
            let combined = draft_value(&c).await?;
            assert!(combined.starts_with(draft.trim_end()), "{combined}");
            assert!(combined.len() > draft.len() + 40, "{combined}");
            assert!(!combined.contains("{{"), "{combined}");

            // A text module: "::id" then Enter in the draft inserts that answer.
            let d = find(&c, "#draft").await?;
            d.send_keys("\n::delais-paiement\u{E007}")
                .await
                .map_err(|e| e.to_string())?;
            wait_until("the named answer inserted", || async {
                let t = find(&c, "#compose-inserted").await.ok()?.text().await.ok()?;
                t.contains("Demander un délai de paiement").then_some(())
            })
            .await?;
            let with_module = draft_value(&c).await?;
            assert!(with_module.starts_with(combined.trim_end()), "{with_module}");
            assert!(!with_module.contains("::delais-paiement"), "{with_module}");
            assert!(with_module.len() > combined.len() + 40, "{with_module}");
            Ok(())
        }
        .await;
        (c, r)
    })
    .await;
    assert!(app.store.list_outbox(None, 100).await.unwrap().is_empty());
    let m = app.store.get_message(id).await.unwrap().unwrap();
    assert!(m.state.is_open(), "{:?}", m.state);
    let actions = app.store.list_actions(id).await.unwrap();
    assert!(actions.iter().any(|a| a.kind == "correct_category"));
}

/// Issue 17, undo send: validating moves on to the next message with a banner;
/// during the send delay no sender can take the reply, and "Annuler l'envoi"
/// gives the agent the text back on the message, audited. Nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validated_reply_can_be_taken_back_during_its_send_delay() {
    // Its checks after the browser scenario need the browser to have acted.
    if webdriver_url().is_none() {
        return;
    }
    let app = start_app("<p>Bonjour</p>").await;
    let first = app.lyon[0];
    let text = "Madame,\nVotre nouveau RIB sera pris en compte.\nCordialement";
    with_browser(|c| async {
        let r = async {
            log_in(&c, &app, "agnes").await?;
            open(&c, &app, &format!("/messages/{first}")).await?;
            let draft = find(&c, "#draft").await?;
            draft.clear().await.map_err(|e| e.to_string())?;
            draft.send_keys(text).await.map_err(|e| e.to_string())?;
            find(&c, "#validate")
                .await?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            let next = wait_done(&c, "validated", first).await?;
            assert_eq!(next, format!("/messages/{}", app.lyon[1]));
            let banner = find(&c, "#done-banner")
                .await?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            assert!(banner.contains("Réponse validée"), "{banner}");
            assert!(banner.contains("Envoi dans"), "{banner}");
            screenshot(&c, "validated-undo.png").await?;
            // The delay counts down on the page.
            wait_until("the countdown to move", || async {
                let s = find(&c, "#undo-seconds").await.ok()?.text().await.ok()?;
                (s.trim().parse::<i64>().ok()? < 30).then_some(())
            })
            .await?;
            // Held: a sender polling now gets nothing.
            let claimed = app
                .store
                .claim_outbox("sender-test", Duration::from_secs(60))
                .await
                .map_err(|e| e.to_string())?;
            assert!(claimed.is_none(), "the reply left during its delay");

            find(&c, "#undo-send")
                .await?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            wait_done(&c, "undone", first).await?;
            let back = find(&c, "#draft")
                .await?
                .prop("value")
                .await
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            assert_eq!(back.replace("\r\n", "\n"), text, "the text is given back");
            let state = find(&c, "#state")
                .await?
                .attr("data-state")
                .await
                .map_err(|e| e.to_string())?;
            assert_eq!(state.as_deref(), Some("ready_to_validate"));
            Ok(())
        }
        .await;
        (c, r)
    })
    .await;
    assert!(app
        .store
        .get_outbox_for_message(first)
        .await
        .unwrap()
        .is_none());
    assert!(app
        .store
        .claim_outbox("sender-test", Duration::from_secs(60))
        .await
        .unwrap()
        .is_none());
    let audit = app.store.list_audit(0, 1000).await.unwrap();
    assert!(audit
        .iter()
        .any(|r| r.action == "message.undo_send" && r.target == format!("message:{first}")));
}

/// Issue 17, collisions: two agents in two browsers on one message. Each sees
/// that the other has it open; the second to validate is told who validated
/// first, with their own text kept, and only the first reply is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_on_one_message_see_each_other_and_the_second_is_told() {
    let Some(wd) = webdriver_url() else {
        return;
    };
    let app = start_app("<p>Bonjour</p>").await;
    let bruno = app
        .store
        .create_user(
            &NewUser {
                username: "bruno".into(),
                display_name: "Bruno Martin".into(),
                password_hash: light_hash(PASSWORD),
                role: Role::Agent,
            },
            None,
        )
        .await
        .unwrap();
    app.store
        .set_mailbox_access(bruno, app.mb_a, true, None)
        .await
        .unwrap();
    let first = app.lyon[0];
    let path = format!("/messages/{first}");
    let _one_at_a_time = BROWSER.lock().await;
    let (p1, p2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let c1 = browser(&wd, p1.path()).await;
    let c2 = browser(&wd, p2.path()).await;
    let r = async {
        log_in(&c1, &app, "agnes").await?;
        open(&c1, &app, &path).await?;
        log_in(&c2, &app, "bruno").await?;
        open(&c2, &app, &path).await?;
        let seen = find(&c2, "#viewers")
            .await?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        assert!(
            seen.contains("Agnès D. consulte ce message depuis"),
            "{seen}"
        );
        c1.refresh().await.map_err(|e| e.to_string())?;
        let seen = find(&c1, "#viewers")
            .await?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        assert!(seen.contains("Bruno M."), "{seen}");

        // Agnès validates first.
        let d1 = find(&c1, "#draft").await?;
        d1.clear().await.map_err(|e| e.to_string())?;
        d1.send_keys("Madame,\nTexte d'Agnès.\nCordialement")
            .await
            .map_err(|e| e.to_string())?;
        find(&c1, "#validate")
            .await?
            .click()
            .await
            .map_err(|e| e.to_string())?;
        wait_done(&c1, "validated", first).await?;

        // Bruno, still on the page, validates his own text: told who did what.
        let d2 = find(&c2, "#draft").await?;
        d2.clear().await.map_err(|e| e.to_string())?;
        d2.send_keys("Madame,\nTexte de Bruno.\nCordialement")
            .await
            .map_err(|e| e.to_string())?;
        find(&c2, "#validate")
            .await?
            .click()
            .await
            .map_err(|e| e.to_string())?;
        let told = find(&c2, "#validate-error")
            .await?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        assert!(
            told.contains("Agnès D. a validé et mis en file la réponse"),
            "{told}"
        );
        let kept = find(&c2, "#kept-text")
            .await?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        assert!(kept.contains("Texte de Bruno."), "{kept}");
        Ok::<(), String>(())
    }
    .await;
    let _ = c1.close().await;
    let _ = c2.close().await;
    r.unwrap();
    let o = app
        .store
        .get_outbox_for_message(first)
        .await
        .unwrap()
        .expect("Agnès's reply");
    assert!(o.body.contains("Texte d'Agnès"), "{}", o.body);
}
