//! Accounts for tests that sign in.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// An Argon2id hash with cheap parameters. The PHC string carries them, so the
/// product verifies it through its real code path, only faster.
pub fn light_hash(password: &str) -> String {
    let params = Params::new(1024, 1, 1, None).unwrap();
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
    a.hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}
