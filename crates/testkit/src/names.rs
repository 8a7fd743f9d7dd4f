//! Names no other test, nor an earlier run, uses.

/// `PREFIX` followed by the process id and the clock's nanoseconds: lower-case
/// letters and digits only, so it is valid as a PostgreSQL database, a Dovecot
/// user, a mailbox folder and a domain label alike.
pub fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{}", std::process::id(), n % 1_000_000_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique_names_differ_and_stay_identifier_safe() {
        let (a, b) = (super::unique("db"), super::unique("db"));
        assert_ne!(a, b);
        assert!(a.starts_with("db"));
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }
}
