//! An agent validating replies in bulk, for `bench/scale.sh`: validates a reply to
//! the FACTEUR_BENCH_REPLIES oldest messages of the `sip-test` mailbox in the
//! database FACTEUR_BENCH_DB, each to an address of FACTEUR_BENCH_DOMAIN, through
//! the store as the web app does, so that the workers then have an outbox to send.

fn main() {
    let (Ok(db), Ok(n), Ok(domain)) = (
        std::env::var("FACTEUR_BENCH_DB"),
        std::env::var("FACTEUR_BENCH_REPLIES"),
        std::env::var("FACTEUR_BENCH_DOMAIN"),
    ) else {
        eprintln!("set FACTEUR_BENCH_DB, FACTEUR_BENCH_REPLIES and FACTEUR_BENCH_DOMAIN");
        std::process::exit(2);
    };
    let Ok(n) = n.parse::<usize>() else {
        eprintln!("FACTEUR_BENCH_REPLIES is a number of replies, not {n:?}");
        std::process::exit(2);
    };
    facteur_testkit::replies::validate_replies(
        &db,
        None,
        "sip-test",
        n,
        |m| format!("citoyen{}@{domain}", m.id),
        |id| format!("reply-{id}@{domain}"),
    );
}
