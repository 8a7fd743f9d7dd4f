//! The integration tests of facteur-mail, as one test binary: each module is one
//! concern; one binary links the workspace once instead of once per file.
#![allow(clippy::unwrap_used)]

mod corpus;
mod fixtures;
mod hostile;
mod props;
mod source;
