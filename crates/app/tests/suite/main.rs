//! The integration tests of facteur-app, as one test binary: each module is one
//! concern; one binary links the workspace once instead of once per file.
#![allow(clippy::unwrap_used)]

mod followups;
mod stale_drafts;
