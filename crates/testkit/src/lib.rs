//! The test kit: what the integration tests of every crate share.
//!
//! Tests run against real services that `scripts/test.sh` starts on loopback
//! (PostgreSQL, Dovecot, an SMTP relay, ChromeDriver, the OIDC provider, the
//! embeddings server) and announces through `FACTEUR_TEST_*` variables. A test
//! asks for the ones it needs with [`services::require`]: unset on a developer's
//! machine, it is skipped and says so; unset under CI, it fails, because there a
//! missing service is a broken rig, not a reason to pass.
//!
//! Dev-only: no shipped crate depends on it.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod accounts;
pub mod db;
pub mod http;
pub mod names;
pub mod paths;
pub mod pg;
pub mod process;
pub mod relay;
pub mod replies;
pub mod serve;
pub mod services;

pub use names::unique;
pub use paths::{answers_dir, repo, shared_data};
