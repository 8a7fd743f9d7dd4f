//! The integration tests of facteur-store, as one test binary: each module is one
//! concern; one binary links the workspace once instead of once per file.
#![allow(clippy::unwrap_used)]

mod admin;
mod classify_text;
mod followups;
mod kb_sync;
mod learn_controls;
mod mailbox_address;
mod open;
mod retention;
mod security;
mod store;
