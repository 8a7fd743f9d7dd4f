//! Opening a database that cannot be reached: the cause, quickly.
// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use facteur_store::Store;

/// A PostgreSQL URL on a port nobody listens on fails in well under the pool's
/// 30 s acquire timeout, and the error says the connection was refused (the pool
/// alone said only "pool timed out").
#[tokio::test]
async fn an_unreachable_postgres_fails_fast_with_its_cause() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The listener is dropped: the port is closed.
    let url = format!("postgres://facteur:secret@127.0.0.1:{port}/facteur");
    let start = Instant::now();
    let err = match Store::open(&url).await {
        Ok(_) => panic!("opened a database on a closed port"),
        Err(e) => e,
    };
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    let chain = {
        let mut text = err.to_string();
        let mut src = std::error::Error::source(&err);
        while let Some(s) = src {
            text.push_str(&format!(": {s}"));
            src = s.source();
        }
        text
    };
    assert!(chain.to_lowercase().contains("refused"), "{chain}");
    assert!(
        !chain.contains("secret"),
        "the password is not in the error: {chain}"
    );
}
