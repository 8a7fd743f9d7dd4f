//! The integration tests of facteur-cli, as one test binary: each module is one
//! concern; one binary links the workspace once instead of once per file.
#![allow(clippy::unwrap_used)]

mod arrivals;
mod attacks;
mod backup;
mod citizen;
mod cli;
mod common;
mod crash;
mod embedding;
mod hostile_pg;
mod install;
mod kb_sync;
mod scale;
mod switches;
