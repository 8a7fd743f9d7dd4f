//! HTML pages and form handlers, one module per page family. Every handler that
//! touches data takes an [`Authed`](crate::auth::Authed) and checks role and
//! mailbox itself; forms post back with the CSRF field (checked in
//! `auth::session_layer`) and answer with 303 redirects, so the app works without
//! JavaScript.
//!
//! The learning-loop pages (transparency, supervision, models) only read the
//! figures `facteur-learn` computes, render them and check who may act.

pub mod account;
pub mod admin;
pub mod answer_diff;
pub mod answer_editor;
pub mod answer_versions;
pub mod answers;
pub mod assets;
pub mod compose;
pub mod done;
pub(crate) mod drafts;
pub mod drift_words;
pub mod legal;
pub mod login;
pub mod message;
pub mod message_actions;
pub mod models;
pub mod outbox;
pub mod presence;
pub mod queue;
pub(crate) mod registry;
pub mod supervision;
pub mod tabs;
pub mod timeline;
pub mod transparency;
