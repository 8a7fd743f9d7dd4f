//! The page skeleton and shared bits of HTML (maud: compiled templates, escaping
//! by default). Accessibility is built in here once: `lang`, skip link, landmarks,
//! labelled navigation, focus styles in the CSS.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::auth::{request_lang, Authed, CSRF_FIELD};
use crate::error::WebError;
use crate::i18n::{Lang, Msg};
use crate::theme::Theme;
use crate::AppState;
use facteur_core::Role;

/// The hidden CSRF field every state-changing form carries.
pub fn csrf_input(a: &Authed) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(a.csrf()); }
}

/// The page skeleton every HTML page shares: the DSFR header (the "République
/// française" block in the State theme), the main navigation by role, the review
/// banner, `main`, the footer with the mandatory links, and the keyboard help.
/// No DSFR JavaScript: the navigation stays visible and wraps on small screens
/// instead of hiding behind a menu button, so every page works without script.
pub fn page(lang: Lang, title: &str, user: Option<&Authed>, body: Markup) -> Html<String> {
    let t = |m: Msg| m.text(lang);
    let other = match lang {
        Lang::Fr => Lang::En,
        Lang::En => Lang::Fr,
    };
    let chrome = crate::theme::current();
    let state = chrome.theme == Theme::Dsfr;
    let nav = user.map(|u| nav_items(u.user.role)).unwrap_or_default();
    let current = current_nav(&chrome.path, &nav);
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) data-fr-scheme="light" data-theme=(chrome.theme.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (t(Msg::AppName)) }
                @if state {
                    link rel="icon" href="/static/dsfr/favicon.svg" type="image/svg+xml";
                }
                link rel="stylesheet" href="/static/dsfr/dsfr.min.css";
                @if !state {
                    link rel="stylesheet" href="/static/neutre.css";
                }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                div.fr-skiplinks {
                    nav.fr-container aria-label=(t(Msg::QuickAccess)) {
                        ul.fr-skiplinks__list {
                            li { a.fr-link.skip-link href="#main" { (t(Msg::SkipToContent)) } }
                            @if user.is_some() {
                                li { a.fr-link href="#main-nav" { (t(Msg::SkipToMenu)) } }
                            }
                            li { a.fr-link href="#footer" { (t(Msg::SkipToFooter)) } }
                        }
                    }
                }
                header.fr-header.banner role="banner" {
                    div.fr-header__body { div.fr-container { div.fr-header__body-row {
                        div.fr-header__brand.fr-enlarge-link {
                            div.fr-header__brand-top {
                                @if state {
                                    div.fr-header__logo {
                                        p.fr-logo { "République" br; "Française" }
                                    }
                                }
                            }
                            div.fr-header__service {
                                a href="/" title={ (t(Msg::Home)) " — " (t(Msg::AppName)) } {
                                    p.fr-header__service-title.brand { (t(Msg::AppName)) }
                                }
                                @if !chrome.service_name.is_empty() && chrome.service_name != t(Msg::AppName) {
                                    p.fr-header__service-tagline { (chrome.service_name) }
                                }
                            }
                        }
                        div.fr-header__tools { div.fr-header__tools-links {
                            ul.fr-btns-group {
                                @if let Some(u) = user {
                                    li {
                                        a #my-account.fr-btn.whoami href="/compte"
                                            aria-current=[(chrome.path == "/compte").then_some("page")] {
                                            (u.user.display_name) " (" (role_label(lang, u.user.role)) ")"
                                            span.fr-sr-only { " — " (t(Msg::MyAccount)) }
                                        }
                                    }
                                }
                                li {
                                    a.fr-btn.lang-switch href={ "/lang/" (other.code()) } lang=(other.code()) hreflang=(other.code()) {
                                        (t(Msg::SwitchLanguage))
                                    }
                                }
                                @if let Some(u) = user {
                                    li {
                                        form.logout method="post" action="/logout" {
                                            (csrf_input(u))
                                            button.fr-btn type="submit" { (t(Msg::Logout)) }
                                        }
                                    }
                                }
                            }
                        } }
                    } } }
                    @if !nav.is_empty() {
                        div.fr-header__menu { div.fr-container {
                            nav #main-nav.fr-nav aria-label=(t(Msg::MainNav)) {
                                ul.fr-nav__list {
                                    @for (i, (href, label)) in nav.iter().enumerate() {
                                        li.fr-nav__item {
                                            a.fr-nav__link href=(href) aria-current=[(current == Some(i)).then_some("page")] { (t(*label)) }
                                        }
                                    }
                                }
                            }
                        } }
                    }
                }
                @if let Some(due) = user.and_then(|u| u.review_overdue_since.as_deref()) {
                    div.fr-container {
                        div.fr-alert.fr-alert--warning.fr-alert--sm.review-banner #review-banner role="alert" {
                            p {
                                (t(Msg::ReviewOverdueSince)) " " (crate::i18n::display_date(lang, due)) "."
                                @if user.is_some_and(|u| u.user.role != Role::Agent) {
                                    " " a href="/modeles" { (t(Msg::ReviewNow)) }
                                }
                            }
                        }
                    }
                }
                main #main.fr-container tabindex="-1" {
                    h1 { (title) }
                    @if let Some(done) = chrome.ok.as_deref().and_then(action_done) {
                        div #action-notice.fr-alert.fr-alert--success.fr-alert--sm.fr-mb-3w role="status" {
                            p { (t(done)) }
                        }
                    }
                    (body)
                }
                footer #footer.fr-footer.site-footer role="contentinfo" {
                    div.fr-container {
                        div.fr-footer__body {
                            div.fr-footer__brand.fr-enlarge-link {
                                @if state {
                                    a href="/" title={ (t(Msg::Home)) " — " (t(Msg::AppName)) } {
                                        p.fr-logo { "République" br; "Française" }
                                    }
                                } @else {
                                    a.fr-footer__brand-link href="/" { (t(Msg::AppName)) }
                                }
                            }
                            div.fr-footer__content {
                                p.fr-footer__content-desc { (t(Msg::FooterDescription)) }
                            }
                        }
                        div.fr-footer__bottom {
                            (footer_links(lang))
                        }
                    }
                }
                div #help role="dialog" aria-labelledby="help-title" hidden {
                    h2 #help-title { (t(Msg::KeyboardHelp)) }
                    p { (t(Msg::KeyHelpText)) }
                }
            }
        }
    };
    Html(markup.into_string())
}

/// The success banner for `?ok=CODE` (see [`crate::theme::Chrome::ok`]).
fn action_done(code: &str) -> Option<Msg> {
    Some(match code {
        "user-created" => Msg::OkUserCreated,
        "user-deactivated" => Msg::OkUserDeactivated,
        "user-reactivated" => Msg::OkUserReactivated,
        "mailbox-created" => Msg::OkMailboxCreated,
        "mailbox-saved" => Msg::OkMailboxSaved,
        "switch-off" => Msg::OkSwitchOff,
        "switch-on" => Msg::OkSwitchOn,
        "model-promoted" => Msg::OkModelPromoted,
        "model-rolled-back" => Msg::OkModelRolledBack,
        "model-reviewed" => Msg::OkModelReviewed,
        "answer-saved" => Msg::AnswerSavedDraft,
        "answer-submitted" => Msg::AnswerSubmittedNotice,
        "answer-validated" => Msg::AnswerValidatedNotice,
        "answer-retired" => Msg::AnswerRetiredNotice,
        _ => return None,
    })
}

/// The main navigation a role sees (the server checks the roles again on each
/// page; hiding a link is only a courtesy).
fn nav_items(role: Role) -> Vec<(&'static str, Msg)> {
    let mut items = vec![("/", Msg::Queue), ("/outbox", Msg::Outbox)];
    if role != Role::Agent {
        items.extend([
            ("/answers", Msg::StandardAnswers),
            ("/supervision", Msg::Supervision),
            ("/modeles", Msg::Models),
        ]);
    }
    if role == Role::Admin {
        items.extend([
            ("/admin/users", Msg::Accounts),
            ("/admin/mailboxes", Msg::Mailboxes),
        ]);
    }
    items
}

/// Which navigation entry the page at `path` belongs to: the longest prefix
/// (a message page belongs to the queue).
fn current_nav(path: &str, items: &[(&'static str, Msg)]) -> Option<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(_, (href, _))| {
            *href != "/" && (path == *href || path.starts_with(&format!("{href}/")))
        })
        .max_by_key(|(_, (href, _))| href.len())
        .map(|(i, _)| i)
        .or_else(|| {
            (path == "/" || path.starts_with("/mailboxes") || path.starts_with("/messages"))
                .then_some(0)
        })
}

/// The links every French public service shows at the foot of each page: the
/// three mandatory notices and the algorithm's transparency sheet.
fn footer_links(lang: Lang) -> Markup {
    let t = |m: Msg| m.text(lang);
    html! {
        ul.fr-footer__bottom-list.footer-links {
            li.fr-footer__bottom-item { a.fr-footer__bottom-link href="/accessibilite" { (t(Msg::FooterAccessibility)) } }
            li.fr-footer__bottom-item { a.fr-footer__bottom-link href="/mentions-legales" { (t(Msg::FooterLegalNotice)) } }
            li.fr-footer__bottom-item { a.fr-footer__bottom-link href="/donnees-personnelles" { (t(Msg::FooterPersonalData)) } }
            li.fr-footer__bottom-item { a.fr-footer__bottom-link href="/transparence" { (Msg::Transparency.text(lang)) } }
        }
    }
}

/// A data table in the DSFR's frame: on a narrow screen the table scrolls
/// inside it rather than widening the page (WCAG 1.4.10 allows it for data
/// tables). Every table of the app goes through here.
pub fn table_frame(table: Markup) -> Markup {
    html! {
        div.fr-table { div.fr-table__wrapper { div.fr-table__container { div.fr-table__content {
            (table)
        } } } }
    }
}

/// A role in words (the code stays in form values).
pub fn role_label(lang: Lang, r: Role) -> &'static str {
    match r {
        Role::Agent => Msg::RoleAgent,
        Role::Supervisor => Msg::RoleSupervisor,
        Role::Admin => Msg::RoleAdmin,
    }
    .text(lang)
}

/// The DSFR badge colour of a message's state: what waits for an agent in
/// blue, what needs care in orange, what is done in green.
pub fn state_badge(s: facteur_core::MessageState) -> &'static str {
    use facteur_core::MessageState as S;
    match s {
        S::New => "fr-badge--new",
        S::ReadyToValidate | S::NeedsResearch | S::Abstained => "fr-badge--info",
        S::Escalated => "fr-badge--warning",
        S::Validated | S::Sent => "fr-badge--success",
        S::Closed | S::Automatic => "",
    }
}

/// A standard answer's status in words.
pub fn answer_status_label(lang: Lang, s: facteur_core::AnswerStatus) -> &'static str {
    use facteur_core::AnswerStatus;
    match s {
        AnswerStatus::Draft => Msg::AnswerDraft,
        AnswerStatus::Validated => Msg::AnswerValidated,
        AnswerStatus::Retired => Msg::AnswerRetired,
    }
    .text(lang)
}

/// A mail defect in words, for the agent.
pub fn defect_label(lang: Lang, k: facteur_core::DefectKind) -> &'static str {
    use facteur_core::DefectKind as D;
    match k {
        D::MissingHeaderBodySeparator => Msg::DefectHeaderBody,
        D::InvalidHeader => Msg::DefectInvalidHeader,
        D::NoBoundaryInMultipart => Msg::DefectNoBoundary,
        D::StartBoundaryNotFound => Msg::DefectStartBoundary,
        D::CloseBoundaryNotFound => Msg::DefectCloseBoundary,
        D::InvalidTransferEncoding => Msg::DefectTransferEncoding,
        D::UnknownCharset => Msg::DefectUnknownCharset,
        D::InvalidCharsetBytes => Msg::DefectCharsetBytes,
        D::InvalidEncodedContent => Msg::DefectEncodedContent,
        D::MissingMessageId => Msg::DefectMessageId,
        D::Oversized => Msg::DefectOversized,
        D::NotAMessage => Msg::DefectNotAMessage,
        D::Other => Msg::DefectOther,
    }
    .text(lang)
}

/// "3 h", "2 j": backlog age the way agents say it.
pub fn age(lang: Lang, now_ms: i64, then_ms: i64) -> String {
    let mins = (now_ms.saturating_sub(then_ms) / 60_000).max(0);
    if mins < 60 {
        format!("{mins} {}", Msg::Minutes.text(lang))
    } else if mins < 48 * 60 {
        format!("{} {}", mins / 60, Msg::Hours.text(lang))
    } else {
        format!("{} {}", mins / (24 * 60), Msg::Days.text(lang))
    }
}

pub fn confidence(c: Option<f32>) -> String {
    match c {
        Some(c) if c.is_finite() => format!("{:.0} %", (c * 100.0).clamp(0.0, 100.0)),
        _ => "—".to_string(),
    }
}

/// Text with quoted lines (`>`) folded into `<details>`, so the agent sees the
/// new question first.
pub fn folded_text(lang: Lang, text: &str) -> Markup {
    let mut blocks: Vec<(bool, String)> = Vec::new();
    for line in text.lines() {
        let quoted = line.trim_start().starts_with('>');
        match blocks.last_mut() {
            Some((q, s)) if *q == quoted => {
                s.push('\n');
                s.push_str(line);
            }
            _ => blocks.push((quoted, line.to_string())),
        }
    }
    html! {
        @for (quoted, s) in &blocks {
            @if *quoted {
                details.quoted { summary { (Msg::QuotedParts.text(lang)) } pre { (s) } }
            } @else {
                pre.newtext { (s) }
            }
        }
    }
}

/// Turns a tagged [`WebError`] response into what the caller expects: JSON for
/// /api/, a redirect to /login for an anonymous browser, an HTML page otherwise.
pub async fn render_errors(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let lang = request_lang(req.headers(), st.config.default_lang);
    let res = next.run(req).await;
    let Some(err) = res.extensions().get::<WebError>().cloned() else {
        return res;
    };
    let detail = err.detail(lang);
    if api {
        // The caller's language, like the pages; `error` is the stable code.
        let message = match &detail {
            Some(d) => format!("{} {d}", err.msg().text(lang)),
            None => err.msg().text(lang).to_string(),
        };
        let body = crate::error::ApiError {
            error: err.code().to_string(),
            message,
        };
        return (err.status(), axum::Json(body)).into_response();
    }
    if matches!(err, WebError::Unauthenticated) {
        return Redirect::to("/login").into_response();
    }
    let status = err.status();
    let body = html! {
        div.fr-alert.fr-alert--error.fr-mb-3w role="alert" {
            p.error { (err.msg().text(lang)) }
            @if let Some(d) = detail { p { (d) } }
        }
        p { a.fr-link href="/" { (Msg::Back.text(lang)) } }
    };
    let mut r = (status, page(lang, err.msg().text(lang), None, body)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("900"),
        );
    }
    r
}

/// Static text that must not be escaped (already-sanitised HTML).
pub fn trusted(s: String) -> PreEscaped<String> {
    PreEscaped(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_lines_are_folded_and_everything_escaped() {
        let out = folded_text(Lang::Fr, "Bonjour <b>\n> cité 1\n> cité 2\nMerci").into_string();
        assert_eq!(out.matches("<details").count(), 1);
        assert!(out.contains("&gt; cité 1\n&gt; cité 2"));
        assert!(out.contains("Bonjour &lt;b&gt;"));
        assert!(out.find("Merci") > out.find("</details>"));
    }

    #[test]
    fn ages_and_confidences_read_naturally() {
        assert_eq!(age(Lang::Fr, 3 * 60_000, 0), "3 min");
        assert_eq!(age(Lang::En, 5 * 3_600_000, 0), "5 h");
        assert_eq!(age(Lang::Fr, 3 * 86_400_000, 0), "3 j");
        assert_eq!(age(Lang::Fr, 0, 10_000), "0 min");
        assert_eq!(confidence(Some(0.934)), "93 %");
        assert_eq!(confidence(None), "—");
        assert_eq!(confidence(Some(f32::NAN)), "—");
    }
}
