//! The real services a test needs, as `scripts/test.sh` announces them.

/// The value of each of `vars`, in order; `None` when one is unset or empty, after
/// saying on stderr that `test` is skipped and how to run it. Under CI (`CI` set)
/// a missing service panics instead: the rig is broken, and a skip would pass.
pub fn require(test: &str, vars: &[&str]) -> Option<Vec<String>> {
    let get = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
    let missing: Vec<&str> = vars.iter().copied().filter(|v| get(v).is_none()).collect();
    if missing.is_empty() {
        return Some(vars.iter().filter_map(|v| get(v)).collect());
    }
    let why = format!(
        "{test}: SKIPPED: {} not set (run the tests through scripts/test.sh, or \
         `source scripts/services.sh; services_start` first)",
        missing.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}; CI is set, so a missing service is a failure");
    }
    eprintln!("{why}");
    None
}

/// `FACTEUR_TEST_PG_URL`, the PostgreSQL server's admin URL, as [`require`] finds it.
pub fn pg_url(test: &str) -> Option<String> {
    require(test, &["FACTEUR_TEST_PG_URL"]).map(|mut v| v.remove(0))
}

/// The SMTP relay's domain whose recipients land in a Dovecot INBOX.
pub fn smtp_local_domain() -> String {
    std::env::var("FACTEUR_TEST_SMTP_LOCAL_DOMAIN")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "local.test".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_set_variable_is_returned_in_order() {
        // PATH and HOME are set wherever tests run.
        let v = super::require("t", &["PATH", "HOME"]).expect("both set");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], std::env::var("PATH").unwrap());
    }

    #[test]
    fn an_unset_variable_skips_outside_ci() {
        if std::env::var_os("CI").is_some() {
            return; // under CI the same call panics, by design
        }
        assert!(super::require("t", &["FACTEUR_TEST_SURELY_UNSET_42"]).is_none());
    }
}
