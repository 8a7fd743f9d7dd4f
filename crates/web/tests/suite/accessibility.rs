//! Every page, as each role sees it, checked in the real browser:
//! - by axe-core (npm `axe-core`, injected through WebDriver) against the WCAG 2.1
//!   A and AA rules, the automated part of an RGAA 4.1 audit;
//! - at 320 and 640 CSS px wide (a 1280 px screen at 400 % and 200 % zoom): no
//!   horizontal scrolling of the page (WCAG 1.4.10, RGAA 10.11). Tables and charts
//!   may scroll inside their own frame, which the criterion allows;
//! - and the keyboard path into the page: the first Tab reaches the skip link,
//!   which moves the focus to the content.
//!
//! Needs `FACTEUR_TEST_WEBDRIVER` and `FACTEUR_TEST_AXE` (the path of `axe.min.js`,
//! exported by `scripts/services.sh`). `FACTEUR_A11Y_REPORT=FILE` writes the
//! per-page results as JSON lines; `FACTEUR_SCREENSHOTS=1` writes the answer
//! editor and the 320 px queue to docs/screenshots/.

use facteur_core::Role;
use facteur_store::{NewAnswerVersion, NewUser};
use fantoccini::Client;
use serde_json::{json, Value};

use crate::browser::{
    find, js, screenshot, sign_in, start_app_with, wait_until, webdriver_url, with_browser, App,
    PASSWORD,
};
use crate::common::light_hash;

/// The widths every page must reflow at, in CSS px.
const WIDTHS: [u32; 2] = [320, 640];

/// axe-core's source, or `None` (with a skip line) when it is not installed.
fn axe_source() -> Option<String> {
    let path =
        facteur_testkit::services::require("accessibility tests", &["FACTEUR_TEST_AXE"])?.remove(0);
    Some(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}")))
}

/// "ok" when a page fits its width, else by how many pixels it does not.
fn fits(overflow_px: i64) -> String {
    if overflow_px == 0 {
        "ok".to_string()
    } else {
        format!("+{overflow_px}")
    }
}

/// axe-core's violations of the WCAG 2.1 A/AA rules on the current page.
async fn axe_violations(c: &Client, axe: &str) -> Result<Vec<Value>, String> {
    js(c, &format!("{axe}\n;return true;")).await?;
    let r = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
               .then(r => done(r.violations.map(v => ({
                   id: v.id, impact: v.impact, nodes: v.nodes.length,
                   targets: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }))))
               .catch(e => done([{ id: 'axe-error', impact: String(e), nodes: 0, targets: [] }]));",
            vec![],
        )
        .await
        .map_err(|e| format!("axe.run: {e}"))?;
    Ok(r.as_array().cloned().unwrap_or_default())
}

/// How far the page is wider than the viewport (0: it reflows), with the
/// elements that stick out, for the failure message.
async fn overflow(c: &Client) -> Result<(i64, Value), String> {
    let v = js(
        c,
        "const w = document.documentElement.clientWidth;
         const over = document.documentElement.scrollWidth - w;
         const scrolls = el => { for (let p = el.parentElement; p; p = p.parentElement) {
             const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; } return false; };
         const culprits = over > 0 ? Array.from(document.querySelectorAll('body *'))
             .filter(e => e.getBoundingClientRect().right > w + 1 && !scrolls(e))
             .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') + ' right=' + Math.round(e.getBoundingClientRect().right)) : [];
         return { over, w, culprits };",
    )
    .await?;
    Ok((v["over"].as_i64().unwrap_or(0), v))
}

/// Sets the viewport's width in CSS px (the window is sized until the viewport
/// is, since the window's frame differs between headless builds).
async fn set_viewport_width(c: &Client, width: u32) -> Result<(), String> {
    c.set_window_size(width, 900)
        .await
        .map_err(|e| e.to_string())?;
    let inner = js(c, "return window.innerWidth;")
        .await?
        .as_i64()
        .unwrap_or(0);
    let frame = inner - i64::from(width);
    if frame != 0 {
        let w = u32::try_from(i64::from(width) - frame).map_err(|e| e.to_string())?;
        c.set_window_size(w, 900).await.map_err(|e| e.to_string())?;
    }
    let inner = js(c, "return window.innerWidth;")
        .await?
        .as_i64()
        .unwrap_or(0);
    if inner != i64::from(width) {
        return Err(format!("viewport {inner} px instead of {width} px"));
    }
    Ok(())
}

/// The first Tab from the top of the page lands on the skip link, and following
/// it puts the focus on the page's content.
async fn skip_link_works(c: &Client) -> Result<(), String> {
    // Start from the top of the document, as a page just opened without autofocus.
    js(
        c,
        "const h = document.documentElement; h.setAttribute('tabindex', '-1'); h.focus();
         h.removeAttribute('tabindex'); window.scrollTo(0, 0); return true;",
    )
    .await?;
    crate::browser::press(c, '\u{E004}').await?; // Tab
    let first = js(
        c,
        "const a = document.activeElement; return a ? (a.getAttribute('href') || a.tagName) : null;",
    )
    .await?;
    if first != json!("#main") {
        return Err(format!("the first Tab reached {first}, not the skip link"));
    }
    crate::browser::press(c, '\u{E007}').await?; // Enter
    wait_until("the focus on the content", || async {
        let id = js(
            c,
            "return document.activeElement ? document.activeElement.id : null;",
        )
        .await
        .ok()?;
        (id == json!("main")).then_some(())
    })
    .await
}

/// One page checked: axe at 1280 px, then reflow at each width.
async fn check_page(
    c: &Client,
    app: &App,
    axe: &str,
    role: &str,
    path: &str,
    report: &mut Vec<Value>,
) -> Result<(), String> {
    set_viewport_width(c, 1280).await?;
    c.goto(&format!("{}{path}", app.base))
        .await
        .map_err(|e| e.to_string())?;
    find(c, "main#main").await?;
    let status = js(c, "return document.title;").await?;
    let violations = axe_violations(c, axe).await?;
    skip_link_works(c)
        .await
        .map_err(|e| format!("{role} {path}: {e}"))?;
    let mut reflow = serde_json::Map::new();
    for w in WIDTHS {
        set_viewport_width(c, w).await?;
        c.refresh().await.map_err(|e| e.to_string())?;
        find(c, "main#main").await?;
        let (over, detail) = overflow(c).await?;
        reflow.insert(
            format!("{w}"),
            json!({ "overflow_px": over, "detail": detail }),
        );
    }
    report.push(json!({
        "role": role, "path": path, "title": status,
        "axe_violations": violations, "reflow": reflow,
    }));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_and_reflows_at_320_and_640_px_for_every_role() {
    if webdriver_url().is_none() {
        return;
    }
    let Some(axe) = axe_source() else {
        return;
    };
    let app = start_app_with(
        "<p>Bonjour, <a href=\"https://example.org\">lien</a></p>",
        true,
    )
    .await;
    // An administrator, and a standard answer with two versions for the editor.
    app.store
        .create_user(
            &NewUser {
                username: "adele".into(),
                display_name: "Adèle Garnier".into(),
                password_hash: light_hash(PASSWORD),
                role: Role::Admin,
            },
            None,
        )
        .await
        .unwrap();
    let content = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../answers/demo/delais-paiement.md"),
    )
    .unwrap();
    for body in [
        content.clone(),
        content.replacen("Bonjour", "Bonjour Madame, Monsieur", 1),
    ] {
        app.store
            .create_answer_version(&NewAnswerVersion {
                answer_id: "delais-paiement".into(),
                title: "Délai de paiement".into(),
                language: "fr".into(),
                content: body,
                valid_from: None,
                valid_until: None,
                author_id: Some(app.supervisor),
            })
            .await
            .unwrap();
    }
    // Twelve weeks of history: the supervision page draws its charts.
    crate::browser::seed_history(&app).await;
    // One message the model abstains on: its page shows the candidates.
    let abstained = app.lyon[2];
    if let Some(e) = &app.engine {
        e.triage(abstained, None).await;
    }
    let mb = app.mb_a;
    let first = app.lyon[0];
    let public = [
        "/login",
        "/accessibilite",
        "/mentions-legales",
        "/donnees-personnelles",
        "/transparence",
    ];
    let agent = vec![
        format!("/mailboxes/{mb}/queue"),
        format!("/mailboxes/{mb}/queue?tab=all"),
        format!("/messages/{first}"),
        format!("/messages/{abstained}"),
        "/outbox".to_string(),
        "/compte".to_string(),
    ];
    let supervisor = vec![
        "/".to_string(),
        "/answers".to_string(),
        "/answers/new".to_string(),
        "/answers/delais-paiement".to_string(),
        "/answers/delais-paiement?diff=2".to_string(),
        "/supervision".to_string(),
        "/modeles".to_string(),
        format!("/messages/{first}"),
    ];
    let admin = vec![
        "/admin/users".to_string(),
        "/admin/mailboxes".to_string(),
        format!("/admin/mailboxes/{mb}"),
        "/compte".to_string(),
    ];
    let mut report = Vec::new();
    with_browser(|c| async {
        let r = async {
            for p in public {
                check_page(&c, &app, &axe, "public", p, &mut report).await?;
            }
            for (user, role, pages) in [
                ("agnes", "agent", &agent),
                ("sylvie", "superviseur", &supervisor),
                ("adele", "admin", &admin),
            ] {
                set_viewport_width(&c, 1280).await?;
                c.delete_all_cookies().await.map_err(|e| e.to_string())?;
                sign_in(&c, &app, user).await?;
                for p in pages {
                    check_page(&c, &app, &axe, role, p, &mut report).await?;
                }
                if role == "superviseur" {
                    set_viewport_width(&c, 1280).await?;
                    c.goto(&format!("{}/answers/delais-paiement", app.base))
                        .await
                        .map_err(|e| e.to_string())?;
                    screenshot(&c, "answer-editor.png").await?;
                }
                if role == "agent" {
                    set_viewport_width(&c, 320).await?;
                    c.goto(&format!("{}/mailboxes/{mb}/queue", app.base))
                        .await
                        .map_err(|e| e.to_string())?;
                    screenshot(&c, "queue-320.png").await?;
                }
            }
            Ok::<(), String>(())
        }
        .await;
        (c, r)
    })
    .await;

    if let Ok(path) = std::env::var("FACTEUR_A11Y_REPORT") {
        let lines: Vec<String> = report.iter().map(Value::to_string).collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    }
    let mut failures = Vec::new();
    println!(
        "{:<12} {:<40} {:>5} {:>7} {:>7}",
        "role", "page", "axe", "320 px", "640 px"
    );
    for r in &report {
        let v = r["axe_violations"].as_array().map_or(0, Vec::len);
        let o320 = r["reflow"]["320"]["overflow_px"].as_i64().unwrap_or(-1);
        let o640 = r["reflow"]["640"]["overflow_px"].as_i64().unwrap_or(-1);
        println!(
            "{:<12} {:<40} {:>5} {:>7} {:>7}",
            r["role"].as_str().unwrap_or(""),
            r["path"].as_str().unwrap_or(""),
            v,
            fits(o320),
            fits(o640),
        );
        if v > 0 || o320 != 0 || o640 != 0 {
            failures.push(r.clone());
        }
    }
    assert_eq!(
        report.len(),
        5 + agent.len() + supervisor.len() + admin.len()
    );
    assert!(
        failures.is_empty(),
        "pages failing axe or reflow:\n{}",
        failures
            .iter()
            .map(|f| format!("{f:#}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Moves the focus with Tab until the focused element matches `css` (at most
/// `max` presses); the element's description when it never does.
async fn tab_to(c: &Client, css: &str, max: usize) -> Result<(), String> {
    let check =
        format!("return document.activeElement && document.activeElement.matches({css:?});");
    for _ in 0..max {
        crate::browser::press(c, '\u{E004}').await?;
        if js(c, &check).await? == json!(true) {
            return Ok(());
        }
    }
    Err(format!("{max} Tab presses never reached {css}"))
}

/// RGAA 12.x: the main flow works with the keyboard alone, without the
/// shortcuts: from the queue, Tab to the oldest message and Enter; Tab to the
/// draft, type; Tab to "Valider et envoyer" and Enter; the reply is validated
/// and the next message opens with its banner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_answers_a_message_with_the_keyboard_alone() {
    let app = crate::browser::start_app("<p>Bonjour</p>").await;
    let first = app.lyon[0];
    with_browser(|c| async {
        let r = async {
            crate::browser::log_in(&c, &app, "agnes").await?;
            tab_to(&c, "#queue a.open", 80).await?;
            crate::browser::press(&c, '\u{E007}').await?;
            wait_until("the message page", || async {
                let u = c.current_url().await.ok()?;
                (u.path() == format!("/messages/{first}")).then_some(())
            })
            .await?;
            tab_to(&c, "#draft", 80).await?;
            for ch in " Merci.".chars() {
                crate::browser::press(&c, ch).await?;
            }
            tab_to(&c, "#validate", 20).await?;
            crate::browser::press(&c, '\u{E007}').await?;
            crate::browser::wait_done(&c, "validated", first).await?;
            find(&c, "#done-banner").await?;
            Ok::<(), String>(())
        }
        .await;
        (c, r)
    })
    .await;
    let out = app
        .store
        .get_outbox_for_message(first)
        .await
        .unwrap()
        .expect("the reply is in the outbox");
    assert!(
        out.body.contains("Merci."),
        "typed with the keyboard: {}",
        out.body
    );
}
