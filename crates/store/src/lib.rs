//! Storage: the only crate that knows SQL. SQLite is the embedded default (one data
//! directory, no setup); PostgreSQL comes later behind the same API.
