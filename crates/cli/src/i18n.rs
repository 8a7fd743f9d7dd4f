//! The language of the CLI's human-readable output: French by default, English on
//! request (`language = "en"` in the config, or `FACTEUR_LANG=en`).
//!
//! Only what a person reads is translated: messages, summaries, progress labels,
//! error contexts and hints. `--json` output (an API for scripts), logs (read by
//! operators and collectors, searched by their English text) and the error types
//! of the library crates stay English.
//!
//! Strings sit at their call site as a French/English pair (`tr!`) rather than in a
//! keyed catalogue as in the web app: most CLI messages are one-off sentences with
//! arguments, and `format!` checks at compile time that both languages use every
//! argument. The help texts are the exception: clap reads them from the English doc
//! comments, and `help_fr` holds their French.

use std::sync::atomic::{AtomicU8, Ordering};

/// CLI language. French is the default (French public administration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// `fr` or `en` (case and surrounding blanks ignored).
    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language before the config file is read (help, config errors):
    /// `FACTEUR_LANG` only, French when unset or unknown. `LANG`/`LC_ALL` are
    /// deliberately ignored: servers in French offices often run with
    /// `LANG=en_US.UTF-8`, and the product speaks French unless asked otherwise.
    pub fn from_env_value(value: Option<&str>) -> Lang {
        value.and_then(Lang::parse).unwrap_or_default()
    }

    pub fn from_env() -> Lang {
        Lang::from_env_value(std::env::var("FACTEUR_LANG").ok().as_deref())
    }
}

/// The process-wide language: one CLI run speaks one language, set in `main` from
/// the environment, then from the loaded config. A global rather than a parameter
/// because errors are worded deep in helpers (model loading, password files,
/// mailbox lookups) that have no config at hand.
static LANG: AtomicU8 = AtomicU8::new(0);

pub fn set_lang(lang: Lang) {
    LANG.store(
        match lang {
            Lang::Fr => 0,
            Lang::En => 1,
        },
        Ordering::Relaxed,
    );
}

pub fn lang() -> Lang {
    match LANG.load(Ordering::Relaxed) {
        1 => Lang::En,
        _ => Lang::Fr,
    }
}

/// The French or the English text, by the current language.
pub fn tr(fr: &'static str, en: &'static str) -> &'static str {
    match lang() {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

/// `format!` in the current language: `tr!("lu : {n}", "read: {n}")`, or with
/// positional arguments after the two format strings (each must use them all).
macro_rules! tr {
    ($fr:literal, $en:literal $(,)?) => {
        match $crate::i18n::lang() {
            $crate::i18n::Lang::Fr => format!($fr),
            $crate::i18n::Lang::En => format!($en),
        }
    };
    ($fr:literal, $en:literal, $($arg:expr),+ $(,)?) => {
        match $crate::i18n::lang() {
            $crate::i18n::Lang::Fr => format!($fr, $($arg),+),
            $crate::i18n::Lang::En => format!($en, $($arg),+),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_value_picks_the_language_and_defaults_to_french() {
        assert_eq!(Lang::from_env_value(None), Lang::Fr);
        assert_eq!(Lang::from_env_value(Some("en")), Lang::En);
        assert_eq!(Lang::from_env_value(Some(" EN ")), Lang::En);
        assert_eq!(Lang::from_env_value(Some("fr")), Lang::Fr);
        // An unknown code falls back to French rather than failing the help.
        assert_eq!(Lang::from_env_value(Some("de")), Lang::Fr);
        assert_eq!(Lang::from_env_value(Some("en_US.UTF-8")), Lang::Fr);
    }
}
