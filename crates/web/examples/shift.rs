//! A scripted agent's shift through a real browser, keyboard only: the target of
//! bench/shift.sh, which runs it against the demo of two Facteur versions.
//!
//! It signs in, takes the first N messages of the mailbox's default queue tab and
//! handles each one as an agent who knows the right request type would (the demo
//! mail's `X-Facteur-Demo-Label`, read from the store by the bench script):
//! - a draft of the right type is read, then validated;
//! - a wrong type or no draft is recategorised (through a candidate when the page
//!   offers the right one, otherwise the type list), then the draft is validated;
//! - out-of-scope mail, or a type with no usable answer, is escalated.
//!
//! Only key presses move the agent: shortcuts the page offers (`j`, `v v`), Tab
//! (or Shift+Tab) to a control then Enter, arrows in a list, PageDown until what
//! must be read is in view. It counts every key press and measures every pixel the
//! page scrolled (the window and any scrolled pane) while a message was handled,
//! from leaving the previous message to leaving this one. The driver never clicks
//! and never calls the product's endpoints except to read the oracle's category.
//!
//! `cargo run -p facteur-web --example shift -- --url http://127.0.0.1:8080 \
//!     --user agent --password … --labels labels.json --messages 20 --json`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use serde::Serialize;
use serde_json::json;

const TAB: char = '\u{E004}';
const ENTER: char = '\u{E007}';
const SHIFT: char = '\u{E008}';
const ESCAPE: char = '\u{E00C}';
const PAGE_DOWN: char = '\u{E00F}';
const PAGE_UP: char = '\u{E00E}';
const ARROW_UP: char = '\u{E013}';
const ARROW_DOWN: char = '\u{E015}';
const ARROW_LEFT: char = '\u{E012}';
const ARROW_RIGHT: char = '\u{E014}';
const CONTROL: char = '\u{E009}';
const HOME: char = '\u{E011}';
/// What the agent types over a `[[à compléter : …]]` marker (the script does not
/// know the value, only that someone must type one).
const FILLED: &str = "complété";
const TIMEOUT: Duration = Duration::from_secs(20);
/// Past this many Tab presses the control is taken as unreachable.
const MAX_TABS: usize = 400;

struct Args {
    url: String,
    user: String,
    password: String,
    labels: String,
    messages: usize,
    webdriver: String,
    json: bool,
    /// `queue`: the first messages of the default tab, reached with the keyboard
    /// (counted). `arrival`: the first open messages in arrival order, the same
    /// mails in every version, each opened by its address (not counted): the
    /// cost of handling a message alone.
    order: String,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        user: "agent".into(),
        password: String::new(),
        labels: String::new(),
        messages: 20,
        webdriver: std::env::var("FACTEUR_TEST_WEBDRIVER")
            .unwrap_or_else(|_| "http://127.0.0.1:9515".into()),
        json: false,
        order: "queue".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--url" => a.url = v()?.trim_end_matches('/').to_string(),
            "--user" => a.user = v()?,
            "--password" => a.password = v()?,
            "--labels" => a.labels = v()?,
            "--messages" => a.messages = v()?.parse().map_err(|e| format!("--messages: {e}"))?,
            "--webdriver" => a.webdriver = v()?,
            "--json" => a.json = true,
            "--order" => a.order = v()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.password.is_empty() || a.labels.is_empty() {
        return Err(
            "--password and --labels <JSON {message id: label or null}> are required".into(),
        );
    }
    Ok(a)
}

/// What the agent did with one message, and what it cost them.
#[derive(Serialize)]
struct Handled {
    id: i64,
    label: Option<String>,
    /// The type the product had given it when the agent opened it.
    predicted: Option<String>,
    had_draft: bool,
    action: &'static str,
    /// `[[à compléter : …]]` markers the agent typed over before validating.
    markers_filled: usize,
    keys: usize,
    scroll_px: i64,
}

#[derive(Serialize)]
struct Report {
    url: String,
    order: String,
    messages: usize,
    keys_total: usize,
    scroll_px_total: i64,
    keys_per_message: f64,
    scroll_px_per_message: f64,
    validated: usize,
    recategorised: usize,
    escalated: usize,
    per_message: Vec<Handled>,
}

/// The browser, the counters and what the script knows of the page.
struct Agent {
    c: Client,
    base: String,
    keys: usize,
    scroll_px: i64,
    /// Scroll offsets at the last look: the window first, then every scrolled pane.
    last_scroll: Vec<i64>,
    /// FACTEUR_SHIFT_TRACE=1: every key press and the page it was pressed on.
    trace: bool,
    /// The page's script selects a draft's marker on `v` (read from the script
    /// itself, so that no key is spent finding out).
    marker_shortcut: bool,
    /// `1`–`3` answer with a proposed type, `x` goes to the escalation reason.
    candidate_keys: bool,
    escalate_key: bool,
}

const SCROLL_STATE: &str = r#"
    var out = [Math.round(window.scrollY)];
    document.querySelectorAll('*').forEach(function (e) {
        var s = getComputedStyle(e).overflowY;
        if ((s === 'auto' || s === 'scroll') && e.scrollHeight > e.clientHeight) out.push(Math.round(e.scrollTop));
    });
    return out;
"#;

impl Agent {
    async fn js(&self, script: &str) -> Result<serde_json::Value, String> {
        self.c
            .execute(script, vec![])
            .await
            .map_err(|e| format!("script {}: {e}", script.trim().lines().next().unwrap_or("")))
    }

    async fn scroll_state(&self) -> Result<Vec<i64>, String> {
        let v = self.js(SCROLL_STATE).await?;
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(|x| x.as_i64()).collect())
            .unwrap_or_default())
    }

    /// Adds what scrolled since the last look. A new page starts a new baseline:
    /// where the browser puts a freshly loaded page is not the agent's scrolling.
    async fn look(&mut self, new_page: bool) -> Result<(), String> {
        let now = self.scroll_state().await?;
        if !new_page && now.len() == self.last_scroll.len() {
            self.scroll_px += now
                .iter()
                .zip(&self.last_scroll)
                .map(|(a, b)| (a - b).abs())
                .sum::<i64>();
        } else if !new_page {
            // A pane appeared or went: count the window alone.
            self.scroll_px += (now[0] - self.last_scroll.first().copied().unwrap_or(0)).abs();
        }
        self.last_scroll = now;
        Ok(())
    }

    /// One key press (a chord with Shift counts as one), then waits for what it
    /// caused: a page load when `navigates`, else the page's reaction.
    async fn press(&mut self, key: char, shift: bool, navigates: bool) -> Result<(), String> {
        let mods: &[char] = if shift { &[SHIFT] } else { &[] };
        self.chord(mods, key, navigates).await
    }

    /// `key` with the modifiers `mods` held: one key press for the count.
    async fn chord(&mut self, mods: &[char], key: char, navigates: bool) -> Result<(), String> {
        if navigates {
            self.js("window.__shiftMark = 1;").await?;
        }
        let mut keys = KeyActions::new("keyboard".into());
        for &m in mods {
            keys = keys.then(KeyAction::Down { value: m });
        }
        keys = keys
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        for &m in mods.iter().rev() {
            keys = keys.then(KeyAction::Up { value: m });
        }
        self.c
            .perform_actions(keys)
            .await
            .map_err(|e| format!("key {:?}: {e}", key))?;
        self.keys += 1;
        if navigates {
            self.wait_load().await?;
            self.look(true).await?;
        } else {
            tokio::time::sleep(Duration::from_millis(60)).await;
            self.look(false).await?;
        }
        if self.trace {
            eprintln!(
                "  key {:?}{} -> {} scroll {:?}",
                key,
                if mods.is_empty() { "" } else { " +mod" },
                self.path().await?,
                self.last_scroll
            );
        }
        Ok(())
    }

    async fn wait_load(&self) -> Result<(), String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let v = self
                .js("return window.__shiftMark === undefined && document.readyState === 'complete';")
                .await
                .unwrap_or(json!(false));
            if v == json!(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("timed out waiting for the next page".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn path(&self) -> Result<String, String> {
        Ok(self
            .c
            .current_url()
            .await
            .map_err(|e| e.to_string())?
            .path()
            .to_string())
    }

    /// Tab (or Shift+Tab when the control comes before the focus) until `css`
    /// has the focus.
    async fn tab_to(&mut self, css: &str) -> Result<(), String> {
        let probe = format!(
            r#"var t = document.querySelector({sel});
               if (!t) return null;
               var a = document.activeElement;
               if (a === t) return 0;
               if (!a || a === document.body) return 1;
               return (a.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING) ? 1 : -1;"#,
            sel = serde_json::to_string(css).unwrap_or_default()
        );
        for _ in 0..MAX_TABS {
            match self.js(&probe).await?.as_i64() {
                None => return Err(format!("no {css} on {}", self.path().await?)),
                Some(0) => return Ok(()),
                Some(d) => self.press(TAB, d < 0, false).await?,
            }
        }
        Err(format!("{css} not reached after {MAX_TABS} Tab presses"))
    }

    /// PageDown (or PageUp) until the top of `css` is on screen with at least
    /// `min_px` of it (or all of it, when shorter) showing: the agent has to see
    /// what they act on.
    async fn bring_into_view(&mut self, css: &str, min_px: i64) -> Result<(), String> {
        let probe = format!(
            r#"var t = document.querySelector({sel});
               if (!t) return null;
               var r = t.getBoundingClientRect(), h = window.innerHeight;
               var need = Math.min({min_px}, r.height);
               if (r.top < 0) return -1;
               if (r.top + need > h) return 1;
               return 0;"#,
            sel = serde_json::to_string(css).unwrap_or_default()
        );
        for _ in 0..30 {
            match self.js(&probe).await?.as_i64() {
                None => return Err(format!("no {css} to read on {}", self.path().await?)),
                Some(0) => return Ok(()),
                Some(d) => {
                    let key = if d > 0 { PAGE_DOWN } else { PAGE_UP };
                    self.press(key, false, false).await?
                }
            }
        }
        Err(format!("{css} never came into view"))
    }

    async fn exists(&self, css: &str) -> Result<bool, String> {
        let s = serde_json::to_string(css).unwrap_or_default();
        Ok(self
            .js(&format!("return !!document.querySelector({s});"))
            .await?
            == json!(true))
    }

    async fn draft_text(&self) -> Result<String, String> {
        Ok(self
            .js("var d = document.querySelector('#draft'); return d ? d.value : '';")
            .await?
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_string())
    }

    /// The category the product holds for `id`, read from the JSON API with the
    /// browser's session cookie (the page's CSP rightly forbids scripts to fetch):
    /// what the page shows in words, without parsing the words.
    async fn category(&self, id: i64) -> Result<Option<String>, String> {
        Ok(self.api_message(id).await?["category"]
            .as_str()
            .map(str::to_string))
    }

    /// `GET /api/messages/{id}` with the browser's session.
    async fn api_message(&self, id: i64) -> Result<serde_json::Value, String> {
        let text = self.fetch(&format!("/api/messages/{id}")).await?;
        serde_json::from_str(&text).map_err(|e| format!("API message {id}: {e}"))
    }

    /// `GET path` with the browser's session cookie, outside the page.
    async fn fetch(&self, path: &str) -> Result<String, String> {
        let cookies = self.c.get_all_cookies().await.map_err(|e| e.to_string())?;
        let cookie = cookies
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect::<Vec<_>>()
            .join("; ");
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .header("Cookie", cookie)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("GET {path}: {e}"))?
            .text()
            .await
            .map_err(|e| format!("GET {path}: {e}"))
    }

    /// The page's script: what its shortcuts can do (the agent read the `?` help).
    async fn page_script(&self) -> Result<String, String> {
        let src = self
            .js("var s = document.querySelector('script[src]'); return s ? new URL(s.src).pathname : null;")
            .await?;
        match src.as_str() {
            Some(src) => self.fetch(src).await,
            None => Ok(String::new()),
        }
    }

    /// Selects `value` in the select `css` with the arrow keys from where it is.
    async fn choose(&mut self, css: &str, value: &str) -> Result<(), String> {
        self.tab_to(css).await?;
        let sel = serde_json::to_string(css).unwrap_or_default();
        let val = serde_json::to_string(value).unwrap_or_default();
        let delta = self
            .js(&format!(
                r#"var s = document.querySelector({sel});
                   var want = Array.prototype.findIndex.call(s.options, function (o) {{ return o.value === {val}; }});
                   return want < 0 ? null : want - Math.max(0, s.selectedIndex);"#
            ))
            .await?
            .as_i64()
            .ok_or(format!("{css} has no option {value}"))?;
        let key = if delta > 0 { ARROW_DOWN } else { ARROW_UP };
        for _ in 0..delta.abs() {
            self.press(key, false, false).await?;
        }
        Ok(())
    }

    /// Where the first `[[…]]` marker of the draft starts and ends, and the
    /// draft's selection, in the textarea's own (UTF-16) offsets.
    async fn marker_and_selection(&self) -> Result<Option<[i64; 4]>, String> {
        let v = self
            .js(
                "var d = document.querySelector('#draft'); if (!d) return null; \
                 var s = d.value.indexOf('[['); if (s < 0) return null; \
                 var e = d.value.indexOf(']]', s); if (e < 0) return null; \
                 return [s, e + 2, d.selectionStart, d.selectionEnd];",
            )
            .await?;
        Ok(serde_json::from_value(v).ok())
    }

    /// Types over every marker left in the draft, with the page's own help when
    /// it has it (`v` selects the first marker, issue #17), else as any editor
    /// allows: `e` to the draft, Ctrl+Home, Ctrl+Right up to the marker and
    /// Ctrl+Shift+Right over it. Every key counts, the text typed too.
    async fn fill_markers(&mut self) -> Result<usize, String> {
        let mut filled = 0;
        while let Some([start, end, _, _]) = self.marker_and_selection().await? {
            if filled == 10 {
                return Err("markers keep coming back".into());
            }
            self.leave_field().await?;
            if self.marker_shortcut {
                self.press('v', false, false).await?;
            } else {
                self.press('e', false, false).await?;
                self.chord(&[CONTROL], HOME, false).await?;
                for _ in 0..400 {
                    let [_, _, at, _] = self.marker_and_selection().await?.ok_or("marker gone")?;
                    if at >= start {
                        for _ in start..at {
                            self.press(ARROW_LEFT, false, false).await?;
                        }
                        break;
                    }
                    self.chord(&[CONTROL], ARROW_RIGHT, false).await?;
                }
                for _ in 0..100 {
                    let [_, _, _, sel_end] =
                        self.marker_and_selection().await?.ok_or("marker gone")?;
                    if sel_end >= end {
                        for _ in end..sel_end {
                            self.press(ARROW_LEFT, true, false).await?;
                        }
                        break;
                    }
                    self.chord(&[CONTROL, SHIFT], ARROW_RIGHT, false).await?;
                }
            }
            let [s2, e2, a, b] = self.marker_and_selection().await?.ok_or("marker gone")?;
            if (a, b) != (s2, e2) {
                return Err(format!(
                    "the marker at {s2}..{e2} is not selected ({a}..{b})"
                ));
            }
            for ch in FILLED.chars() {
                self.press(ch, false, false).await?;
            }
            filled += 1;
        }
        Ok(filled)
    }

    /// Escape out of a text field or list, where shortcut keys are typed.
    async fn leave_field(&mut self) -> Result<(), String> {
        let in_field = self
            .js("var a = document.activeElement; return !!a && /INPUT|TEXTAREA|SELECT/.test(a.tagName);")
            .await?;
        if in_field == json!(true) {
            self.press(ESCAPE, false, false).await?;
        }
        Ok(())
    }

    /// Validates the draft on screen with the page's `v v` shortcut.
    async fn validate(&mut self) -> Result<(), String> {
        self.leave_field().await?;
        self.press('v', false, false).await?;
        self.press('v', false, true).await
    }

    /// Escalates with the first reason the page offers, when it asks for one.
    async fn escalate(&mut self) -> Result<(), String> {
        if self.exists("#escalate-reason").await? {
            let first = self
                .js("var s = document.querySelector('#escalate-reason'); var o = Array.prototype.find.call(s.options, function (o) { return o.value; }); return o ? o.value : null;")
                .await?;
            if let Some(v) = first.as_str() {
                let v = v.to_string();
                if self.escalate_key {
                    self.leave_field().await?;
                    self.press('x', false, false).await?;
                }
                self.choose("#escalate-reason", &v).await?;
            }
        }
        self.tab_to("#escalate").await?;
        self.press(ENTER, false, true).await
    }

    /// Changes the type to `label`: the candidate the page offers for it, else the
    /// type list. Returns whether a draft followed.
    async fn recategorise(&mut self, label: &str) -> Result<bool, String> {
        let candidate = format!("#candidates li.candidate[data-type=\"{label}\"] button");
        let rank = self
            .js(&format!(
                "var b = Array.from(document.querySelectorAll('#candidates button.candidate-use')); \
                 return b.indexOf(document.querySelector({}));",
                serde_json::to_string(&candidate).unwrap_or_default()
            ))
            .await?
            .as_i64()
            .unwrap_or(-1);
        if self.candidate_keys && (0..3).contains(&rank) {
            self.leave_field().await?;
            self.press(char::from(b'1' + rank as u8), false, true)
                .await?;
        } else {
            if rank >= 0 {
                self.tab_to(&candidate).await?;
            } else {
                self.choose("#new-category", label).await?;
                self.tab_to("#correct-form button[type=submit]").await?;
            }
            self.press(ENTER, false, true).await?;
        }
        Ok(!self.draft_text().await?.is_empty())
    }

    /// Gets from wherever the agent is to message `id`: already there (the page
    /// moved on by itself), `j` to it from the queue or the previous message, or
    /// back to the queue first.
    async fn reach(&mut self, id: i64, queue: &str) -> Result<(), String> {
        let target = format!("/messages/{id}");
        for _ in 0..3 {
            let path = self.path().await?;
            if path == target {
                return Ok(());
            }
            if path.starts_with("/messages/") {
                let next = self
                    .js("var n = document.querySelector('#next-message'); return n ? new URL(n.href).pathname : null;")
                    .await?;
                if next.as_str() == Some(target.as_str()) {
                    self.press('j', false, true).await?;
                    continue;
                }
                if self.exists("#back-to-queue").await? {
                    self.tab_to("#back-to-queue").await?;
                } else {
                    self.tab_to(&format!("a[href^=\"{queue}\"]")).await?;
                }
                self.press(ENTER, false, true).await?;
                continue;
            }
            // A queue: j down to the row, then Enter.
            let rows = self
                .js("return Array.prototype.map.call(document.querySelectorAll('#queue .queue-row a.open'), function (a) { return new URL(a.href).pathname; });")
                .await?;
            let rows: Vec<String> = serde_json::from_value(rows).unwrap_or_default();
            let Some(at) = rows.iter().position(|r| *r == target) else {
                // Not on this tab: the agent goes back to the tab the shift works.
                self.tab_to(&format!("a[href=\"{queue}\"]")).await?;
                self.press(ENTER, false, true).await?;
                continue;
            };
            for _ in 0..=at {
                self.press('j', false, false).await?;
            }
            self.press(ENTER, false, true).await?;
        }
        Err(format!("could not reach {target}"))
    }
}

async fn browser(webdriver: &str) -> Result<Client, String> {
    let binary =
        std::env::var("FACTEUR_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": binary,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--window-size=1280,900", "--lang=fr-FR",
                format!("--user-data-dir={}", profile.keep().display()),
            ],
            "prefs": { "intl.accept_languages": "fr-FR,fr" },
        }),
    );
    // Two rustls crypto providers are linked in the workspace build: name one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = ClientBuilder::rustls()
        .map_err(|e| e.to_string())?
        .capabilities(caps)
        .connect(webdriver)
        .await
        .map_err(|e| format!("WebDriver session at {webdriver} (is ChromeDriver running?): {e}"))?;
    c.set_window_size(1280, 900)
        .await
        .map_err(|e| e.to_string())?;
    Ok(c)
}

async fn run(a: &Args) -> Result<Report, String> {
    let labels: HashMap<i64, Option<String>> = serde_json::from_str(
        &std::fs::read_to_string(&a.labels).map_err(|e| format!("read {}: {e}", a.labels))?,
    )
    .map_err(|e| format!("{}: {e}", a.labels))?;
    let c = browser(&a.webdriver).await?;
    let mut ag = Agent {
        c,
        base: a.url.clone(),
        keys: 0,
        scroll_px: 0,
        last_scroll: vec![0],
        trace: std::env::var_os("FACTEUR_SHIFT_TRACE").is_some(),
        marker_shortcut: false,
        candidate_keys: false,
        escalate_key: false,
    };
    // Sign-in and finding the mailbox are not part of the shift.
    ag.c.goto(&format!("{}/login", ag.base))
        .await
        .map_err(|e| e.to_string())?;
    let find = |css: &'static str| {
        let c = ag.c.clone();
        async move {
            c.wait()
                .at_most(TIMEOUT)
                .for_element(Locator::Css(css))
                .await
                .map_err(|e| format!("element {css}: {e}"))
        }
    };
    find("#username")
        .await?
        .send_keys(&a.user)
        .await
        .map_err(|e| e.to_string())?;
    find("#password")
        .await?
        .send_keys(&a.password)
        .await
        .map_err(|e| e.to_string())?;
    find("#login-form button[type=submit]")
        .await?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Home opens the only mailbox's queue, or lists the mailboxes: the first one.
    ag.c.goto(&format!("{}/", ag.base))
        .await
        .map_err(|e| e.to_string())?;
    if !ag.path().await?.ends_with("/queue") {
        let queue = ag
            .js("var a = document.querySelector('a[href$=\"/queue\"]'); return a ? new URL(a.href).pathname : null;")
            .await?
            .as_str()
            .ok_or("no mailbox queue on the home page (signed in?)")?
            .to_string();
        ag.c.goto(&format!("{}{queue}", ag.base))
            .await
            .map_err(|e| e.to_string())?;
    }
    ag.wait_load().await?;
    let script = ag.page_script().await?;
    ag.marker_shortcut = script.contains("setSelectionRange(m.index");
    ag.candidate_keys = script.contains("button.candidate-use");
    ag.escalate_key = script.contains("getElementById(\"escalate-reason\")");
    let queue_url = ag.c.current_url().await.map_err(|e| e.to_string())?;
    let queue = match queue_url.query() {
        Some(q) => format!("{}?{q}", queue_url.path()),
        None => queue_url.path().to_string(),
    };
    let mut targets: Vec<i64> = Vec::new();
    if a.order == "arrival" {
        // Arrival order is the store's id order; an agent's open states only.
        let mut ids: Vec<i64> = labels.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if targets.len() == a.messages {
                break;
            }
            let state = ag.api_message(id).await?["state"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if ["new", "ready_to_validate", "needs_research", "abstained"].contains(&state.as_str())
            {
                targets.push(id);
            }
        }
    } else {
        let rows = ag
            .js("return Array.prototype.map.call(document.querySelectorAll('#queue .queue-row a.open'), function (a) { return +new URL(a.href).pathname.split('/').pop(); });")
            .await?;
        targets = serde_json::from_value(rows).map_err(|e| e.to_string())?;
    }
    targets.truncate(a.messages);
    if targets.len() < a.messages {
        return Err(format!(
            "{} lists {} messages, fewer than {}",
            queue,
            targets.len(),
            a.messages
        ));
    }
    ag.look(true).await?;

    let mut done = Vec::new();
    for &id in &targets {
        let (k0, s0) = (ag.keys, ag.scroll_px);
        if ag.trace {
            eprintln!("message {id}");
        }
        if a.order == "arrival" {
            ag.c.goto(&format!("{}/messages/{id}", ag.base))
                .await
                .map_err(|e| e.to_string())?;
            ag.wait_load().await?;
            ag.look(true).await?;
        } else {
            ag.reach(id, &queue).await?;
        }
        if let Ok(dir) = std::env::var("FACTEUR_SHIFT_SCREENSHOTS") {
            let png = ag.c.screenshot().await.map_err(|e| e.to_string())?;
            std::fs::write(format!("{dir}/message-{id}.png"), png).map_err(|e| e.to_string())?;
        }
        let label = labels.get(&id).cloned().flatten();
        let predicted = ag.category(id).await?;
        let draft = ag.draft_text().await?;
        let had_draft = !draft.is_empty();
        // The agent reads the mail, then what the product proposes.
        let proposal = if had_draft {
            "#draft"
        } else if ag.exists("#candidates").await? {
            "#candidates"
        } else {
            "#new-category"
        };
        ag.bring_into_view(proposal, 120).await?;
        let mut filled = 0;
        let action = match &label {
            None => {
                ag.escalate().await?;
                "escalated"
            }
            Some(l) if predicted.as_deref() == Some(l.as_str()) && had_draft => {
                filled += ag.fill_markers().await?;
                ag.validate().await?;
                "validated"
            }
            Some(l) => {
                let drafted = ag.recategorise(l).await?;
                if drafted {
                    ag.bring_into_view("#draft", 120).await?;
                    filled += ag.fill_markers().await?;
                    ag.validate().await?;
                    "recategorised"
                } else {
                    ag.escalate().await?;
                    "escalated"
                }
            }
        };
        done.push(Handled {
            id,
            label,
            predicted,
            had_draft,
            action,
            markers_filled: filled,
            keys: ag.keys - k0,
            scroll_px: ag.scroll_px - s0,
        });
    }
    let _ = ag.c.close().await;
    let n = done.len();
    Ok(Report {
        url: a.url.clone(),
        order: a.order.clone(),
        messages: n,
        keys_total: ag.keys,
        scroll_px_total: ag.scroll_px,
        keys_per_message: ag.keys as f64 / n as f64,
        scroll_px_per_message: ag.scroll_px as f64 / n as f64,
        validated: done.iter().filter(|h| h.action == "validated").count(),
        recategorised: done.iter().filter(|h| h.action == "recategorised").count(),
        escalated: done.iter().filter(|h| h.action == "escalated").count(),
        per_message: done,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args()?;
    let r = run(&a).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        for h in &r.per_message {
            println!(
                "message {:>5}  {:<14} keys {:>3}  scroll {:>5} px",
                h.id, h.action, h.keys, h.scroll_px
            );
        }
        println!(
            "{} messages: {:.1} keys and {:.0} px of scrolling per message ({} validated, {} recategorised, {} escalated)",
            r.messages, r.keys_per_message, r.scroll_px_per_message, r.validated, r.recategorised, r.escalated
        );
    }
    Ok(())
}
