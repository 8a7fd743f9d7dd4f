//! What a reply must satisfy before it may leave: the last check between an agent's
//! click and the outbox, applied by the store whatever the entry point (web form,
//! API, CLI), so that no path can send a half-finished draft to a citizen.

/// Visible marker for a value the agent must complete. Drafting writes it instead of
/// ever inventing a value (an unknown name, a missing tax year…).
pub fn missing_marker(name: &str) -> String {
    format!("{MARKER_OPEN}{name}]]")
}

const MARKER_OPEN: &str = "[[à compléter : ";

/// Why a reply may not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyProblem {
    /// The reply is blank (only whitespace).
    #[error("the reply is empty")]
    Empty,
    /// The names of the `[[à compléter : …]]` markers still in the text.
    #[error("the reply still has fields to complete: {}", .0.join(", "))]
    Unfilled(Vec<String>),
}

/// The names of the fields still marked `[[à compléter : NAME]]` in `text`, in order,
/// each once.
pub fn unfilled_fields(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(MARKER_OPEN) {
        let after = &rest[i + MARKER_OPEN.len()..];
        let (name, next) = match after.find("]]") {
            Some(j) => (after[..j].trim(), &after[j + 2..]),
            // An unclosed marker is still unfinished text.
            None => (after.lines().next().unwrap_or("").trim(), ""),
        };
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
        rest = next;
    }
    out
}

/// Whether `text` may be sent: not blank, and no field left to complete.
pub fn check_reply(text: &str) -> Result<(), ReplyProblem> {
    if text.trim().is_empty() {
        return Err(ReplyProblem::Empty);
    }
    let unfilled = unfilled_fields(text);
    if unfilled.is_empty() {
        Ok(())
    } else {
        Err(ReplyProblem::Unfilled(unfilled))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_replies_pass() {
        assert_eq!(check_reply("Bonjour Madame Girard,\nCordialement"), Ok(()));
        // Brackets that are not the marker are the agent's business.
        assert_eq!(check_reply("Voir [[annexe]] et [à compléter]"), Ok(()));
    }

    #[test]
    fn blank_and_unfilled_replies_are_refused() {
        assert_eq!(check_reply(" \n\t"), Err(ReplyProblem::Empty));
        let text = format!(
            "Bonjour {} {},\n{}\n{}",
            missing_marker("civilite"),
            "Céline Girard",
            missing_marker("annee"),
            missing_marker("civilite")
        );
        assert_eq!(
            check_reply(&text),
            Err(ReplyProblem::Unfilled(vec![
                "civilite".into(),
                "annee".into()
            ]))
        );
        // A marker the agent half-deleted is still caught.
        assert_eq!(
            unfilled_fields("Bonjour [[à compléter : nom\nCordialement"),
            vec!["nom".to_string()]
        );
    }

    #[test]
    fn any_text_is_handled() {
        for s in [
            "[[à compléter : ",
            "[[à compléter : ]]",
            "é[[à compléter : x]]]]",
        ] {
            let _ = check_reply(s);
        }
        assert_eq!(unfilled_fields("[[à compléter : ]]"), vec![String::new()]);
    }
}
