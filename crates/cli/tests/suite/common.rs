//! What the CLI's tests share: the test kit, and the `facteur` binary itself.

pub use facteur_testkit::http::{form_enc, free_port, http_request, sign_in};
pub use facteur_testkit::pg::{fresh_db, psql, psql_i64, tool_ok};
pub use facteur_testkit::process::{run_ok, wait_until};
pub use facteur_testkit::relay::Relay;
pub use facteur_testkit::replies::{keyed_store, received_replies, validate_replies};
pub use facteur_testkit::serve::{Proc, Server};
pub use facteur_testkit::services::{pg_url, require};
pub use facteur_testkit::{repo, shared_data, unique};

use std::path::Path;

/// `facteur --config CONFIG`, with the environment overrides a developer's shell
/// might carry removed, so the config file alone decides.
pub fn facteur(config: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_facteur"));
    c.arg("--config")
        .arg(config)
        .env_remove("FACTEUR_DATA_DIR")
        .env_remove("FACTEUR_DATABASE_URL")
        .env_remove("FACTEUR_KB_REFRESH_SECS")
        .env_remove("FACTEUR_EMBEDDING_MODEL")
        .env_remove("FACTEUR_EMBEDDING_URL");
    c
}
