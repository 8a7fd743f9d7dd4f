//! The integration tests of facteur-web, as one test binary: each module is one
//! concern; one binary links the workspace once instead of once per file.
#![allow(clippy::unwrap_used)]

mod accessibility;
mod browser;
mod common;
mod oidc;
mod web;
