//! Two agents on one message: opening it records the view in the store, the
//! page names the colleagues who have it open ("Agnès D. consulte ce message
//! depuis 2 min"), and an action refused because someone else acted first says
//! who did what, instead of a bare "action impossible".

use facteur_store::{ActionRecord, User, Viewer};
use maud::{html, Markup};

use crate::error::{Detail, WebError, Word};
use crate::i18n::{Lang, Msg};
use crate::views::age;

/// A colleague as others see them: first name and initial ("Agnès D.").
pub fn short_name(display_name: &str) -> String {
    let words: Vec<&str> = display_name.split_whitespace().collect();
    match words.as_slice() {
        [] => "—".into(),
        [one] => (*one).to_string(),
        [first, .., last] => match last.chars().next() {
            Some(i) => format!("{first} {i}."),
            None => (*first).to_string(),
        },
    }
}

pub fn viewers_view(lang: Lang, now: i64, viewers: &[Viewer]) -> Markup {
    html! {
        @if !viewers.is_empty() {
            p #viewers.warning role="status" {
                @for (i, v) in viewers.iter().enumerate() {
                    @if i > 0 { " ; " }
                    strong { (short_name(&v.display_name)) } " "
                    (Msg::ViewingSince.text(lang)) " " (age(lang, now, v.since))
                }
            }
        }
    }
}

/// The conflict of an action refused because the message moved on, told with
/// what the last colleague did to it.
pub fn conflict_with_others(
    error: WebError,
    me: i64,
    actions: &[ActionRecord],
    users: &[User],
) -> WebError {
    // Only the clash with the message's state: another refusal (a retired
    // answer version) is about the text, not about a colleague.
    let WebError::Conflict { msg, .. } = &error else {
        return error;
    };
    if *msg != Msg::Conflict {
        return error;
    }
    let last = actions
        .iter()
        .filter(|a| a.user_id != me && a.kind != "reveal_pii")
        .max_by_key(|a| a.id);
    let Some(a) = last else {
        return error;
    };
    let who = users
        .iter()
        .find(|u| u.id == a.user_id)
        .map(|u| short_name(&u.display_name))
        .unwrap_or_else(|| format!("#{}", a.user_id));
    let did = match a.kind.as_str() {
        "validate_send" => Msg::OtherValidated,
        "escalate" => Msg::OtherEscalated,
        "reject" => Msg::OtherRejected,
        "correct_category" => Msg::OtherCorrected,
        "assign" => Msg::OtherAssigned,
        "undo_send" => Msg::OtherUndid,
        "close" => Msg::OtherClosed,
        _ => Msg::OtherActed,
    };
    WebError::Conflict {
        msg: *msg,
        detail: Some(Detail(vec![
            Word::Text(format!("{who} ")),
            Word::Msg(did),
            Word::Text(" (".into()),
            Word::Time(a.at),
            Word::Text("). ".into()),
            Word::Msg(Msg::TextKeptBelow),
        ])),
    }
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn colleagues_are_named_by_first_name_and_initial() {
        assert_eq!(short_name("Agnès Dupré"), "Agnès D.");
        assert_eq!(short_name("Jean-Marc de la Fontaine"), "Jean-Marc F.");
        assert_eq!(short_name("Sylvie"), "Sylvie");
        assert_eq!(short_name("  "), "—");
    }
}
