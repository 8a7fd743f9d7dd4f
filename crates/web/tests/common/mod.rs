//! Helpers shared by the web test binaries (`web.rs`, `browser.rs`).
#![allow(dead_code)]

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Cheap Argon2 parameters: the PHC string carries them, so verification in the
/// app stays fast in debug builds while using the real code path.
pub fn light_hash(password: &str) -> String {
    let params = Params::new(1024, 1, 1, None).unwrap();
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
    a.hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// Triage passages exactly as the pipeline stores them: serialised
/// `facteur_kb::Hit`s, one passage each with the first occurrence of `marked` highlighted.
pub fn stored_passages(id: &str, title: &str, text: &str, marked: &str) -> serde_json::Value {
    let start = text.find(marked).expect("marked word in text");
    let hit = facteur_kb::Hit {
        id: id.into(),
        kind: facteur_kb::DocKind::Answer,
        title: title.into(),
        url: None,
        language: "fr".into(),
        score: 12.5,
        passages: vec![facteur_kb::Passage {
            text: text.into(),
            highlights: vec![(start, start + marked.len())],
        }],
    };
    serde_json::to_value(vec![hit]).expect("hits as JSON")
}
