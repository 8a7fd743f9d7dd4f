//! Helpers shared by the web test binaries (`web.rs`, `browser.rs`).
#![allow(dead_code)]

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use facteur_kb::answers::Taxonomy;

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

/// A taxonomy of `(id, French label)` pairs.
pub fn taxonomy(types: &[(&str, &str)]) -> Taxonomy {
    Taxonomy::from_labels(types)
}
