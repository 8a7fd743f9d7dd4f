//! The integration tests of facteur-extract, as one test binary.
#![allow(clippy::unwrap_used)]

mod corpus;
