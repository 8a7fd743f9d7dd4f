//! clap's command-line errors in French. clap writes its usage errors ("unexpected
//! argument…", "invalid value…") in English only and offers no translation hook, so
//! when the language is French the message is rebuilt here from the error's kind and
//! its context (the argument, the value, the suggestions, the usage line), which clap
//! exposes. Kinds this module does not know keep clap's English text, so a new clap
//! version can never lose an error, only leave it untranslated.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// The French text of a usage error, as clap would print it (without colours), or
/// `None` when clap's own output must be kept (help, version, unknown kinds).
pub fn french(err: &clap::Error) -> Option<String> {
    let get = |k: ContextKind| err.get(k);
    let s = |k: ContextKind| match err.get(k) {
        Some(ContextValue::String(v)) => Some(v.clone()),
        _ => None,
    };
    let n = |k: ContextKind| match err.get(k) {
        Some(ContextValue::Number(v)) => Some(*v),
        _ => None,
    };
    let mut msg = String::from("erreur : ");
    match err.kind() {
        ErrorKind::UnknownArgument => {
            msg += &format!("argument inattendu « {} »", s(ContextKind::InvalidArg)?);
        }
        ErrorKind::InvalidSubcommand => {
            msg += &format!(
                "sous-commande inconnue « {} »",
                s(ContextKind::InvalidSubcommand)?
            );
        }
        ErrorKind::InvalidValue => {
            let arg = s(ContextKind::InvalidArg)?;
            let value = s(ContextKind::InvalidValue)?;
            if value.is_empty() {
                msg += &format!("« {arg} » attend une valeur, mais aucune n'a été donnée");
            } else {
                msg += &format!("valeur « {value} » invalide pour « {arg} »");
            }
            if let Some(ContextValue::Strings(values)) = get(ContextKind::ValidValue) {
                if !values.is_empty() {
                    msg += &format!("\n  [valeurs possibles : {}]", values.join(", "));
                }
            }
        }
        ErrorKind::ValueValidation => {
            let arg = s(ContextKind::InvalidArg)?;
            let value = s(ContextKind::InvalidValue)?;
            msg += &format!("valeur « {value} » invalide pour « {arg} »");
            if let Some(source) = std::error::Error::source(err) {
                msg += &format!(" : {}", french_parse_error(&source.to_string()));
            }
        }
        ErrorKind::NoEquals => {
            msg += &format!(
                "la valeur de « {} » doit suivre un signe « = »",
                s(ContextKind::InvalidArg)?
            );
        }
        ErrorKind::TooManyValues => {
            msg += &format!(
                "valeur « {} » en trop pour « {} »",
                s(ContextKind::InvalidValue)?,
                s(ContextKind::InvalidArg)?
            );
        }
        ErrorKind::TooFewValues => {
            msg += &format!(
                "« {} » demande au moins {} valeur(s), {} donnée(s)",
                s(ContextKind::InvalidArg)?,
                n(ContextKind::MinValues)?,
                n(ContextKind::ActualNumValues)?
            );
        }
        ErrorKind::WrongNumberOfValues => {
            msg += &format!(
                "« {} » demande {} valeur(s), {} donnée(s)",
                s(ContextKind::InvalidArg)?,
                n(ContextKind::ExpectedNumValues)?,
                n(ContextKind::ActualNumValues)?
            );
        }
        ErrorKind::ArgumentConflict => {
            let arg = s(ContextKind::InvalidArg)?;
            match get(ContextKind::PriorArg) {
                Some(ContextValue::String(prior)) if *prior == arg => {
                    msg += &format!("l'argument « {arg} » ne peut être donné qu'une fois");
                }
                Some(ContextValue::String(prior)) => {
                    msg +=
                        &format!("l'argument « {arg} » ne peut pas être utilisé avec « {prior} »");
                }
                Some(ContextValue::Strings(priors)) => {
                    msg += &format!("l'argument « {arg} » ne peut pas être utilisé avec :");
                    for p in priors {
                        msg += &format!("\n  {p}");
                    }
                }
                _ => {
                    msg += &format!(
                        "l'argument « {arg} » ne peut pas être utilisé avec les autres arguments donnés"
                    );
                }
            }
        }
        ErrorKind::MissingRequiredArgument => {
            let Some(ContextValue::Strings(args)) = get(ContextKind::InvalidArg) else {
                return None;
            };
            msg += "arguments obligatoires manquants :";
            for a in args {
                msg += &format!("\n  {a}");
            }
        }
        ErrorKind::MissingSubcommand => {
            msg += &format!(
                "« {} » attend une sous-commande, et aucune n'a été donnée",
                s(ContextKind::InvalidSubcommand)?
            );
            if let Some(ContextValue::Strings(values)) = get(ContextKind::ValidSubcommand) {
                if !values.is_empty() {
                    msg += &format!("\n  [sous-commandes : {}]", values.join(", "));
                }
            }
        }
        ErrorKind::InvalidUtf8 => {
            msg += "un argument n'est pas de l'UTF-8 valide";
        }
        _ => return None,
    }
    let mut suggested = false;
    for (kind, one, several) in [
        (
            ContextKind::SuggestedSubcommand,
            "la sous-commande",
            "l'une des sous-commandes",
        ),
        (
            ContextKind::SuggestedArg,
            "l'argument",
            "l'un des arguments",
        ),
        (
            ContextKind::SuggestedValue,
            "la valeur",
            "l'une des valeurs",
        ),
    ] {
        let names: Vec<String> = match get(kind) {
            Some(ContextValue::String(v)) => vec![v.clone()],
            Some(ContextValue::Strings(v)) => v.clone(),
            _ => continue,
        };
        let quoted: Vec<String> = names.iter().map(|n| format!("« {n} »")).collect();
        let what = if quoted.len() > 1 { several } else { one };
        msg += if suggested { "\n" } else { "\n\n" };
        suggested = true;
        msg += &format!(
            "  astuce : vouliez-vous dire {what} {} ?",
            quoted.join(", ")
        );
    }
    if let Some(ContextValue::StyledStrs(tips)) = get(ContextKind::Suggested) {
        if !suggested {
            msg += "\n";
        }
        for tip in tips {
            msg += &format!("\n  astuce : {}", french_tip(&tip.to_string()));
        }
    }
    if let Some(ContextValue::StyledStr(usage)) = get(ContextKind::Usage) {
        let usage = usage.to_string();
        let usage = usage
            .strip_prefix("Usage:")
            .map(|rest| format!("Utilisation :{rest}"))
            .unwrap_or(usage);
        msg += &format!("\n\n{usage}");
    }
    msg += "\n\nPour en savoir plus, essayez « --help ».\n";
    Some(msg)
}

/// The standard library's number-parsing messages, which our numeric options show.
fn french_parse_error(source: &str) -> String {
    match source {
        "invalid digit found in string" => "ce n'est pas un nombre entier".into(),
        "invalid float literal" => "ce n'est pas un nombre (ex. 0.95)".into(),
        "cannot parse integer from empty string" | "cannot parse float from empty string" => {
            "la valeur est vide".into()
        }
        "number too large to fit in target type" => "le nombre est trop grand".into(),
        "number too small to fit in target type" => "le nombre est trop petit".into(),
        "value is too large" | "value is too small" => "le nombre est hors limites".into(),
        other => other.to_string(),
    }
}

/// clap's own tips ("to pass '--x' as a value, use '-- --x'").
fn french_tip(tip: &str) -> String {
    if let Some(rest) = tip.strip_prefix("to pass '") {
        if let Some((value, _)) = rest.split_once("' as a value, use '") {
            return format!("pour passer « {value} » comme valeur, écrivez « -- {value} »");
        }
    }
    tip.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    fn cmd() -> Command {
        Command::new("facteur")
            .subcommand_required(true)
            .subcommand(
                Command::new("eval")
                    .arg(Arg::new("model").long("model").required(true))
                    .arg(
                        Arg::new("threshold")
                            .long("threshold")
                            .value_parser(clap::value_parser!(f32)),
                    )
                    .arg(
                        Arg::new("format")
                            .long("format")
                            .value_parser(["json", "table"]),
                    ),
            )
            .subcommand(Command::new("triage"))
    }

    fn err(args: &[&str]) -> String {
        let e = cmd().try_get_matches_from(args).unwrap_err();
        french(&e).unwrap_or_else(|| panic!("untranslated {:?}: {e}", e.kind()))
    }

    #[test]
    fn unknown_argument_is_french_with_its_suggestion_and_usage() {
        let m = err(&["facteur", "eval", "--model", "m", "--thresold", "1"]);
        assert!(
            m.starts_with("erreur : argument inattendu « --thresold »"),
            "{m}"
        );
        assert!(
            m.contains("vouliez-vous dire l'argument « --threshold »"),
            "{m}"
        );
        assert!(m.contains("Utilisation : facteur eval"), "{m}");
        assert!(m.ends_with("essayez « --help ».\n"), "{m}");
        assert!(!m.contains("error") && !m.contains("Usage"), "{m}");
    }

    #[test]
    fn unknown_subcommand_suggests_the_closest() {
        let m = err(&["facteur", "trige"]);
        assert!(m.contains("sous-commande inconnue « trige »"), "{m}");
        assert!(m.contains("la sous-commande « triage » ?"), "{m}");
        let m = cmd()
            .subcommand(Command::new("train"))
            .try_get_matches_from(["facteur", "trian"])
            .map(|_| ())
            .unwrap_err();
        let m = french(&m).unwrap();
        assert!(
            m.contains("l'une des sous-commandes « triage », « train » ?"),
            "{m}"
        );
    }

    #[test]
    fn invalid_values_name_the_option_and_the_possible_values() {
        let m = err(&["facteur", "eval", "--model", "m", "--format", "xml"]);
        assert!(
            m.contains("valeur « xml » invalide pour « --format <format> »"),
            "{m}"
        );
        assert!(m.contains("[valeurs possibles : json, table]"), "{m}");
        let m = err(&["facteur", "eval", "--model", "m", "--threshold", "haut"]);
        assert!(m.contains("ce n'est pas un nombre"), "{m}");
    }

    #[test]
    fn missing_required_argument_and_subcommand_are_listed() {
        let m = err(&["facteur", "eval"]);
        assert!(m.contains("arguments obligatoires manquants :"), "{m}");
        assert!(m.contains("--model <model>"), "{m}");
        let e = cmd()
            .subcommand_required(true)
            .arg_required_else_help(false)
            .try_get_matches_from(["facteur"])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingSubcommand);
        let m = french(&e).unwrap();
        assert!(m.contains("attend une sous-commande"), "{m}");
        assert!(m.contains("eval, triage"), "{m}");
    }

    #[test]
    fn help_and_version_keep_clap_output() {
        let e = cmd()
            .try_get_matches_from(["facteur", "--help"])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DisplayHelp);
        assert!(french(&e).is_none());
    }
}
