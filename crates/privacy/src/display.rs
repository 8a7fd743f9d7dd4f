//! Masking for the web UI: the agent sees that a value of a given kind is there,
//! and enough of it to recognise it when talking to the citizen, not the value.

use facteur_core::PiiKind;

const BULLET: char = '•';

/// Keeps the first `head` and last `tail` alphanumeric characters and every
/// separator, so the value keeps its familiar grouping.
fn keep_ends(value: &str, head: usize, tail: usize) -> String {
    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
    // Short values would be fully revealed: hide everything then.
    let (head, tail) = if total <= head + tail + 2 {
        (0, 0)
    } else {
        (head, tail)
    };
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                seen += 1;
                if seen <= head || seen > total - tail {
                    c
                } else {
                    BULLET
                }
            } else {
                c
            }
        })
        .collect()
}

/// Initials only: "Jean Dupont" → "J••• D•••••".
fn initials(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut at_word_start = true;
    for c in value.chars() {
        if c.is_alphanumeric() {
            out.push(if at_word_start { c } else { BULLET });
            at_word_start = false;
        } else {
            out.push(c);
            at_word_start = true;
        }
    }
    out
}

fn mask_phone(value: &str) -> String {
    // Keep the international prefix and the first national digit ("+33 6", "06"),
    // and the last two digits.
    let digits: Vec<usize> = value
        .char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    let compact: String = value.chars().filter(char::is_ascii_digit).collect();
    let head = if compact.starts_with("0033") {
        5
    } else if value.trim_start().starts_with('+') {
        3
    } else {
        2
    };
    // "(0)" after the country code is not a significant digit either.
    let head = if value.contains("(0)") {
        head + 1
    } else {
        head
    };
    let total = digits.len();
    if total <= head + 2 {
        return value
            .chars()
            .map(|c| if c.is_ascii_digit() { BULLET } else { c })
            .collect();
    }
    let mut n = 0;
    value
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                n += 1;
                if n <= head || n > total - 2 {
                    c
                } else {
                    BULLET
                }
            } else {
                c
            }
        })
        .collect()
}

fn mask_email(value: &str) -> String {
    match value.rsplit_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map(String::from).unwrap_or_default();
            format!("{first}{BULLET}{BULLET}{BULLET}@{domain}")
        }
        None => keep_ends(value, 1, 0),
    }
}

/// For the UI: keeps the kind visible but hides the value, e.g. fiscal number
/// "1•••••••••••23", e-mail "j•••@example.fr", phone "06 •• •• •• 78".
pub fn mask_for_display(kind: PiiKind, value: &str) -> String {
    match kind {
        PiiKind::FiscalNumber | PiiKind::Nir => keep_ends(value, 1, 2),
        PiiKind::Iban => keep_ends(value, 4, 3),
        PiiKind::Phone => mask_phone(value),
        PiiKind::Email => mask_email(value),
        PiiKind::PostalAddress | PiiKind::PersonName => initials(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_from_the_spec() {
        assert_eq!(
            mask_for_display(PiiKind::FiscalNumber, "1234567890123"),
            "1••••••••••23"
        );
        assert_eq!(
            mask_for_display(PiiKind::Email, "jean@example.fr"),
            "j•••@example.fr"
        );
        assert_eq!(
            mask_for_display(PiiKind::Phone, "06 12 34 56 78"),
            "06 •• •• •• 78"
        );
        assert_eq!(
            mask_for_display(PiiKind::Phone, "+33 6 12 34 56 78"),
            "+33 6 •• •• •• 78"
        );
        assert_eq!(
            mask_for_display(PiiKind::Iban, "FR76 3000 6000 0112 3456 7890 189"),
            "FR76 •••• •••• •••• •••• •••• 189"
        );
        assert_eq!(
            mask_for_display(PiiKind::PersonName, "Jean Dupont"),
            "J••• D•••••"
        );
    }

    #[test]
    fn masked_value_never_contains_the_middle() {
        let v = "1 85 05 78 006 084 91";
        let m = mask_for_display(PiiKind::Nir, v);
        assert!(!m.contains("05 78 006"));
        assert_eq!(m.chars().count(), v.chars().count());
        // Very short values are hidden entirely.
        assert_eq!(mask_for_display(PiiKind::FiscalNumber, "123"), "•••");
    }
}
