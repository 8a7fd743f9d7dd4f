//! How a prepared draft and a relay's error are shown before the audited reveal,
//! and how the real values go back into a validated reply. The rule is the mail's
//! own ([`facteur_app::shown_subject`]): personal data masked until the reveal.

use facteur_app::shown_subject;

/// The prepared draft as this session may see it: the same rule as the mail.
/// Drafting fills `{{nom}}` and other variables from the original, so before
/// the audited reveal the draft is pseudonymised like the subject (a bulk read
/// of `/api/messages/ID` harvested citizens' names). Validation puts the real
/// values back ([`unmask_draft`]).
pub(crate) fn shown_draft(draft: &str, from_name: Option<&str>, revealed: bool) -> String {
    shown_subject(draft, None, from_name, revealed)
}

/// `submitted` (the reply an agent validates, typed over the masked draft) with
/// each placeholder of the masked `original_draft` replaced by the value it
/// hid there, so the citizen receives their real name. Placeholders the
/// original did not have stay as typed (the reply check then refuses any
/// bracketed marker the agent left).
pub(crate) fn unmask_draft(
    submitted: &str,
    original_draft: &str,
    from_name: Option<&str>,
) -> String {
    if !submitted.contains('[') {
        return submitted.to_string();
    }
    let names: Vec<&str> = from_name
        .filter(|n| !n.trim().is_empty())
        .into_iter()
        .collect();
    let spans = facteur_privacy::Detector::new().detect_with_names(original_draft, &names);
    let mut out = submitted.to_string();
    // Longest placeholders first: [NOM_12] before [NOM_1].
    let mut pairs: Vec<(&str, &str)> = spans
        .iter()
        .filter_map(|s| Some((s.placeholder.as_str(), original_draft.get(s.start..s.end)?)))
        .collect();
    pairs.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    pairs.dedup_by_key(|(p, _)| *p);
    for (placeholder, value) in pairs {
        out = out.replace(placeholder, value);
    }
    out
}

/// A relay's error as agents see it: SMTP servers quote the recipient
/// ("550 5.1.1 <jeanne.martin@example.org>: user unknown"), which is personal
/// data outside any reveal; addresses and other detected values are masked.
pub(crate) fn shown_relay_error(error: &str) -> String {
    facteur_privacy::Detector::new().pseudonymise(error).text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_is_masked_until_the_reveal_and_validated_with_the_real_values() {
        let draft =
            "Bonjour Madame Jeanne Martin,\nvotre numéro fiscal 1234567890123 est bien enregistré.";
        let shown = shown_draft(draft, Some("Jeanne Martin"), false);
        assert!(!shown.contains("Martin"), "{shown}");
        assert_eq!(shown_draft(draft, Some("Jeanne Martin"), true), draft);
        let edited = format!("{shown}\nCordialement");
        let sent = unmask_draft(&edited, draft, Some("Jeanne Martin"));
        assert_eq!(sent, format!("{draft}\nCordialement"));
        assert_eq!(
            unmask_draft("Pas de marque.", draft, None),
            "Pas de marque."
        );
        let e =
            shown_relay_error("550 5.1.1 <jeanne.martin@example.org>: Recipient address rejected");
        assert!(!e.contains("jeanne.martin"), "{e}");
        assert!(e.contains("550 5.1.1"), "{e}");
    }
}
