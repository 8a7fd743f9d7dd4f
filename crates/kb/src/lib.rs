//! The knowledge base: standard answers (réponses types) as Markdown files with TOML
//! front matter, the service-public fiches, one French full-text index over both,
//! retrieval with the passages that matched, and drafting a reply.
