//! PostgreSQL through its own client tools, as an administrator would use them.

/// Runs a PostgreSQL client tool (`psql`, `pg_dump`, `pg_restore`) from the PATH,
/// asserting success; returns its trimmed standard output.
pub fn tool_ok(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} on the PATH: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `psql URL -c SQL`, stopping at the first error; returns the trimmed output.
pub fn psql(url: &str, sql: &str) -> String {
    tool_ok("psql", &[url, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
}

/// `psql` of a query whose one value is a number.
pub fn psql_i64(url: &str, sql: &str) -> i64 {
    let v = psql(url, sql);
    v.parse()
        .unwrap_or_else(|_| panic!("{sql}: not a number: {v}"))
}

/// A fresh, empty database of its own on the server of `admin_url`; returns its URL.
pub fn fresh_db(admin_url: &str, prefix: &str) -> String {
    let name = crate::unique(prefix);
    psql(admin_url, &format!("CREATE DATABASE {name}"));
    match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("FACTEUR_TEST_PG_URL has no database part: {admin_url}"),
    }
}
