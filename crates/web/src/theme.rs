//! Which look the pages wear, and what the page skeleton needs to know about the
//! request it answers.
//!
//! The State design system (DSFR) and its Marianne font may only be used by State
//! services; other administrations (a local authority, a hospital) run Facteur
//! with the neutral theme, which drops the "République française" block, the
//! Marianne font and the Bleu France, and keeps the same components. The page
//! skeleton ([`crate::views::page`]) reads both from a task-local that one layer
//! sets per request, so the seventeen page builders need not pass them along.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The look of every page (`theme` in `facteur.toml`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Theme {
    /// The State design system: for State services only.
    #[default]
    Dsfr,
    /// The same components without the State's identity.
    Neutral,
}

impl Theme {
    /// `dsfr` or `neutre` (`neutral` is accepted too); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dsfr" => Some(Self::Dsfr),
            "neutre" | "neutral" => Some(Self::Neutral),
            _ => None,
        }
    }

    /// The configuration word for this theme.
    pub fn code(self) -> &'static str {
        match self {
            Self::Dsfr => "dsfr",
            Self::Neutral => "neutre",
        }
    }
}

/// What the page skeleton shows besides the page itself.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub theme: Theme,
    /// The service under the product's name in the header (`service_name`).
    pub service_name: String,
    /// The request's path, for the navigation's `aria-current`.
    pub path: String,
    /// `?ok=CODE`: the action that brought the browser here succeeded, and the
    /// page says so (only canned sentences: a forged code shows nothing).
    pub ok: Option<String>,
}

tokio::task_local! {
    static CHROME: Chrome;
}

/// The chrome of the request being answered (the default outside a request,
/// as in unit tests).
pub fn current() -> Chrome {
    CHROME.try_with(Clone::clone).unwrap_or_default()
}

/// Sets [`current`] for everything that answers `req`, error pages included.
pub async fn scope(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let chrome = Chrome {
        theme: st.config.theme,
        service_name: st.config.service_name.clone(),
        path: req.uri().path().to_string(),
        ok: req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("ok="))
                .map(str::to_string)
        }),
    };
    CHROME.scope(chrome, next.run(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_read_from_config_words() {
        assert_eq!(Theme::parse("dsfr"), Some(Theme::Dsfr));
        assert_eq!(Theme::parse(" Neutre "), Some(Theme::Neutral));
        assert_eq!(Theme::parse("neutral"), Some(Theme::Neutral));
        assert_eq!(Theme::parse("bleu"), None);
        assert_eq!(Theme::default().code(), "dsfr");
    }

    #[test]
    fn outside_a_request_the_chrome_is_the_default() {
        assert_eq!(current().theme, Theme::Dsfr);
        assert!(current().path.is_empty());
    }
}
