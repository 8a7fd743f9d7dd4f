//! Validity rules for the identifiers that carry a checksum (NIR, IBAN) or a
//! shape rule (fiscal number). Hand-written: they are a few lines each, and the
//! detector must call them on every candidate without allocating much.

/// Separators people put inside identifiers when they type them by hand.
pub(crate) fn is_id_separator(c: char) -> bool {
    matches!(c, ' ' | '.' | '-' | '\u{a0}' | '\u{202f}' | '\t')
}

/// The identifier with its separators removed, upper-cased (ASCII only: every
/// identifier handled here is ASCII).
pub(crate) fn compact(s: &str) -> String {
    s.chars()
        .filter(|c| !is_id_separator(*c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// NIR (numéro de sécurité sociale): sex digit, year, month, department (2A/2B
/// for Corsica), commune, order number, then the key `97 − (number mod 97)`.
/// Only the key makes a 15-digit run a NIR rather than any other number.
pub fn is_valid_nir(s: &str) -> bool {
    let c = compact(s);
    let b = c.as_bytes();
    if b.len() != 15 || !matches!(b[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
        return false;
    }
    // Corsica: the department "2A"/"2B" counts as 19/18 for the key.
    let mut digits = String::with_capacity(13);
    digits.push_str(&c[..5]);
    match &c[5..7] {
        "2A" => digits.push_str("19"),
        "2B" => digits.push_str("18"),
        d if d.bytes().all(|x| x.is_ascii_digit()) => digits.push_str(d),
        _ => return false,
    }
    digits.push_str(&c[7..13]);
    if !digits.bytes().all(|x| x.is_ascii_digit()) || !c[13..].bytes().all(|x| x.is_ascii_digit()) {
        return false;
    }
    let (Ok(number), Ok(key)) = (digits.parse::<u64>(), c[13..].parse::<u64>()) else {
        return false;
    };
    key == 97 - number % 97
}

/// The NIR key for a 13-character body (digits, Corsica department allowed).
/// Used by tests and by anyone generating test data.
pub fn nir_key(body: &str) -> Option<u8> {
    let c = compact(body);
    if c.len() != 13 || !c.is_ascii() {
        return None;
    }
    let mut digits = String::with_capacity(13);
    digits.push_str(&c[..5]);
    match &c[5..7] {
        "2A" => digits.push_str("19"),
        "2B" => digits.push_str("18"),
        d => digits.push_str(d),
    }
    digits.push_str(&c[7..]);
    let n: u64 = digits.parse().ok()?;
    u8::try_from(97 - n % 97).ok()
}

/// Registered IBAN lengths of the countries most likely to appear in French mail.
/// A country missing here is still accepted with any length in 15..=34: the
/// mod-97 check does the real work, the table only cuts false positives.
fn iban_length(country: &str) -> Option<usize> {
    Some(match country {
        "AD" => 24,
        "AE" => 23,
        "AL" => 28,
        "AT" => 20,
        "BA" => 20,
        "BE" => 16,
        "BG" => 22,
        "BR" => 29,
        "CH" => 21,
        "CY" => 28,
        "CZ" => 24,
        "DE" => 22,
        "DK" => 18,
        "DZ" => 26,
        "EE" => 20,
        "ES" => 24,
        "FI" => 18,
        "FR" => 27,
        "GB" => 22,
        "GR" => 27,
        "HR" => 21,
        "HU" => 28,
        "IE" => 22,
        "IS" => 26,
        "IT" => 27,
        "LI" => 21,
        "LT" => 20,
        "LU" => 20,
        "LV" => 21,
        "MA" => 28,
        "MC" => 27,
        "MT" => 31,
        "NL" => 18,
        "NO" => 15,
        "PL" => 28,
        "PT" => 25,
        "RO" => 24,
        "SE" => 24,
        "SI" => 19,
        "SK" => 24,
        "SM" => 27,
        "TN" => 24,
        "TR" => 26,
        _ => return None,
    })
}

/// IBAN of any country: two letters, two check digits, then the national account
/// number, with `rearranged mod 97 == 1` (ISO 13616).
pub fn is_valid_iban(s: &str) -> bool {
    let c = compact(s);
    let b = c.as_bytes();
    if !(15..=34).contains(&b.len())
        || !b[0].is_ascii_uppercase()
        || !b[1].is_ascii_uppercase()
        || !b[2].is_ascii_digit()
        || !b[3].is_ascii_digit()
        || !b.iter().all(|x| x.is_ascii_alphanumeric())
    {
        return false;
    }
    if let Some(len) = iban_length(&c[..2]) {
        if len != b.len() {
            return false;
        }
    }
    let mut rem: u32 = 0;
    for &x in b[4..].iter().chain(&b[..4]) {
        let v = if x.is_ascii_digit() {
            u32::from(x - b'0')
        } else {
            u32::from(x - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Numéro fiscal (SPI): 13 digits, the first one 0–3. There is no public
/// checksum, so this is only the shape rule; the detector adds context rules.
pub fn is_valid_fiscal_number(s: &str) -> bool {
    let c = compact(s);
    let b = c.as_bytes();
    b.len() == 13 && b.iter().all(|x| x.is_ascii_digit()) && matches!(b[0], b'0'..=b'3')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nir_good_and_bad_key() {
        // 97 - (1850578006084 mod 97) = 91, computed by hand.
        assert!(is_valid_nir("1 85 05 78 006 084 91"));
        assert!(is_valid_nir("185057800608491"));
        assert!(!is_valid_nir("1 85 05 78 006 084 36"));
        assert!(!is_valid_nir("1 85 05 78 006 084 92"));
        // Wrong sex digit, wrong length.
        assert!(!is_valid_nir("5 85 05 78 006 084 91"));
        assert!(!is_valid_nir("1 85 05 78 006 084 9"));
    }

    #[test]
    fn nir_corsica() {
        // 2 85 05 2A 006 084: 2850519006084 mod 97 = 15, key 82 (computed by hand).
        assert!(is_valid_nir("2 85 05 2A 006 084 82"));
        assert!(!is_valid_nir("2 85 05 2A 006 084 83"));
        // Same digits read naively as department 19 give the same key; 2B differs.
        assert!(!is_valid_nir("2 85 05 2B 006 084 82"));
        // 1 85 05 2B 123 456: 1850518123456 → key 60.
        assert!(is_valid_nir("1 85 05 2B 123 456 60"));
        assert_eq!(nir_key("2 85 05 2A 006 084"), Some(82));
    }

    #[test]
    fn iban_valid_and_one_digit_changed() {
        for good in [
            "FR76 3000 6000 0112 3456 7890 189",
            "FR7630006000011234567890189",
            "DE89 3704 0044 0532 0130 00",
            "BE68 5390 0754 7034",
            "GB82 WEST 1234 5698 7654 32",
        ] {
            assert!(is_valid_iban(good), "{good}");
        }
        for bad in [
            "FR76 3000 6000 0112 3456 7890 188",
            "DE89 3704 0044 0532 0130 01",
            "BE68 5390 0754 7035",
            "FR76 3000 6000 0112 3456 7890 18",
            "XX00",
        ] {
            assert!(!is_valid_iban(bad), "{bad}");
        }
    }

    #[test]
    fn fiscal_shape() {
        assert!(is_valid_fiscal_number("1234567890123"));
        assert!(is_valid_fiscal_number("0 12 34 567 890 12"));
        assert!(is_valid_fiscal_number("3234567890123"));
        assert!(!is_valid_fiscal_number("4234567890123"));
        assert!(!is_valid_fiscal_number("9234567890123"));
        assert!(!is_valid_fiscal_number("123456789012"));
        assert!(!is_valid_fiscal_number("12345678901234"));
        assert!(!is_valid_fiscal_number("12345678901a3"));
    }
}
