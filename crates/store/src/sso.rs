//! Single sign-on: provider identities linked to users, sign-ins under way, and
//! the ID token behind a session (migration 0013; the web side is
//! `facteur-web`'s `oidc` module, the setup `docs/SSO.md`).
//!
//! A sign-in through the provider applies the provider's word on role and
//! mailboxes in one transaction with its audit row, so a group removed at the
//! provider is gone from Facteur at that user's next sign-in, and the audit log
//! says what changed.

use facteur_core::Role;
use serde_json::json;

use crate::audit::audit_append;
use crate::error::{is_unique_violation, OpContext, StoreError, StoreResult};
use crate::{sha256_hex, with_pool, BeginWrite, Millis, Store, User};

/// Stored instead of a password hash for users the provider created: no argon2
/// string parses as this, so the local sign-in form can never accept them.
pub const SSO_PASSWORD_HASH: &str = "!sso";

/// What the provider said about one person at a sign-in, after the
/// configuration's claim mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSignIn {
    /// The provider's issuer URL and the person's `sub` there: the identity.
    pub issuer: String,
    /// The person's `sub` claim at that issuer: stable, unlike a username or address.
    pub subject: String,
    /// Username for a user created now (kept afterwards even if the claim changes).
    pub username: String,
    /// Display name from the provider; refreshed at every sign-in.
    pub display_name: String,
    /// The role the mapping gives (the strongest of the mapped groups).
    pub role: Role,
    /// Names of the mailboxes the mapping gives (agents); unknown names are
    /// reported in [`SsoOutcome::unknown_mailboxes`], not created.
    pub mailboxes: Vec<String>,
    /// The provider groups that matched the mapping (recorded in the audit row:
    /// group names are the administration's, not personal data).
    pub matched_groups: Vec<String>,
}

/// What a sign-in changed.
#[derive(Debug, Clone, PartialEq)]
pub struct SsoOutcome {
    /// The account after the sign-in (`active == false` when an administrator deactivated it).
    pub user: User,
    /// The user was created by this sign-in.
    pub created: bool,
    /// Role before this sign-in; `None` for a user created by it.
    pub previous_role: Option<Role>,
    /// Mailbox ids the user may open now (as stored; supervisors and admins see
    /// every mailbox whatever this says).
    pub mailboxes: Vec<i64>,
    /// Mailbox ids this sign-in gave the user.
    pub mailboxes_added: Vec<i64>,
    /// Mailbox ids this sign-in took away (the provider's groups no longer give them).
    pub mailboxes_removed: Vec<i64>,
    /// Mailbox names the mapping gave that no mailbox has: reported, never created.
    pub unknown_mailboxes: Vec<String>,
}

/// A sign-in under way (between the redirect to the provider and its answer).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OidcPending {
    /// The OAuth `state` sent to the provider, checked on its answer against forged callbacks.
    pub state: String,
    /// The OpenID `nonce` the ID token must carry, against token replay.
    pub nonce: String,
    /// The PKCE code verifier, proving the code exchange comes from who started the sign-in.
    pub pkce_verifier: String,
}

impl Store {
    /// Apply a provider sign-in: find the user linked to (issuer, subject) or
    /// create one, set the mapped role and exactly the mapped mailboxes, and audit
    /// it (`user.sso_sign_in`), all in one transaction. A deactivated user is left
    /// untouched and returned with `active == false`: an administrator's
    /// deactivation wins over the provider. A new identity whose username
    /// belongs to an unlinked (local) account is refused with
    /// [`StoreError::Conflict`]: linking it silently would let whoever controls
    /// that name at the provider take over the local account.
    pub async fn sso_sign_in(&self, s: &SsoSignIn) -> StoreResult<SsoOutcome> {
        let now = self.now_ms();
        // The issuer only: a subject or a username names a person.
        let op = || format!("single sign-on from '{}'", s.issuer);
        let (user_id, created, previous_role, active, before, after, unknown) = with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let linked: Option<i64> = sqlx::query_scalar(
                "SELECT user_id FROM user_identities WHERE issuer = $1 AND subject = $2",
            )
            .bind(&s.issuer)
            .bind(&s.subject)
            .fetch_optional(&mut *tx)
            .await
            .op(op)?;
            let (user_id, created, previous_role, active) = match linked {
                Some(id) => {
                    let (role, active): (String, bool) =
                        sqlx::query_as("SELECT role, active FROM users WHERE id = $1")
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await
                            .op(op)?;
                    (id, false, Role::parse(&role), active)
                }
                None => {
                    let id: i64 = match sqlx::query_scalar(
                        "INSERT INTO users (username, display_name, password_hash, role, active, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    )
                    .bind(&s.username)
                    .bind(&s.display_name)
                    .bind(SSO_PASSWORD_HASH)
                    .bind(s.role.as_str())
                    .bind(true)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    {
                        Ok(id) => id,
                        Err(e) if is_unique_violation(&e) => {
                            return Err(StoreError::Conflict {
                                op: op(),
                                detail: "the provider's username belongs to a local account \
                                         not linked to this identity"
                                    .to_string(),
                            })
                        }
                        Err(e) => return Err(e).op(op),
                    };
                    sqlx::query(
                        "INSERT INTO user_identities (issuer, subject, user_id, created_at, last_login_at) \
                         VALUES ($1, $2, $3, $4, $4)",
                    )
                    .bind(&s.issuer)
                    .bind(&s.subject)
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .op(op)?;
                    audit_append!(self, tx, now, "sso".to_string(), "user.create", format!("user:{id}"),
                        json!({"role": s.role.as_str(), "via": "sso"})).op(op)?;
                    (id, true, None, true)
                }
            };
            if !active {
                tx.commit().await.op(op)?;
                (user_id, false, previous_role, false, Vec::new(), Vec::new(), Vec::new())
            } else {
                let before: Vec<i64> = sqlx::query_scalar(
                    "SELECT mailbox_id FROM user_mailboxes WHERE user_id = $1 ORDER BY mailbox_id",
                )
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await
                .op(op)?;
                let all: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM mailboxes")
                    .fetch_all(&mut *tx)
                    .await
                    .op(op)?;
                let mut after: Vec<i64> = Vec::new();
                let mut unknown: Vec<String> = Vec::new();
                for name in &s.mailboxes {
                    match all.iter().find(|(_, n)| n == name) {
                        Some((id, _)) => after.push(*id),
                        None => unknown.push(name.clone()),
                    }
                }
                after.sort_unstable();
                after.dedup();
                sqlx::query("UPDATE users SET role = $1, display_name = $2 WHERE id = $3")
                    .bind(s.role.as_str())
                    .bind(&s.display_name)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .op(op)?;
                for id in before.iter().filter(|id| !after.contains(id)) {
                    sqlx::query("DELETE FROM user_mailboxes WHERE user_id = $1 AND mailbox_id = $2")
                        .bind(user_id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .op(op)?;
                }
                for id in after.iter().filter(|id| !before.contains(id)) {
                    sqlx::query("INSERT INTO user_mailboxes (user_id, mailbox_id) VALUES ($1, $2)")
                        .bind(user_id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .op(op)?;
                }
                sqlx::query(
                    "UPDATE user_identities SET last_login_at = $1 WHERE issuer = $2 AND subject = $3",
                )
                .bind(now)
                .bind(&s.issuer)
                .bind(&s.subject)
                .execute(&mut *tx)
                .await
                .op(op)?;
                let added: Vec<i64> = after.iter().copied().filter(|id| !before.contains(id)).collect();
                let removed: Vec<i64> = before.iter().copied().filter(|id| !after.contains(id)).collect();
                audit_append!(self, tx, now, format!("user:{user_id}"), "user.sso_sign_in", format!("user:{user_id}"),
                    json!({
                        "issuer": s.issuer,
                        "created": created,
                        "role": s.role.as_str(),
                        "previous_role": previous_role.map(|r| r.as_str()),
                        "groups": s.matched_groups,
                        "mailboxes": after,
                        "mailboxes_added": added,
                        "mailboxes_removed": removed,
                        "unknown_mailboxes": unknown,
                    })).op(op)?;
                tx.commit().await.op(op)?;
                (user_id, created, previous_role, true, before, after, unknown)
            }
        });
        let user = self
            .get_user(user_id)
            .await?
            .ok_or_else(|| StoreError::NotFound { op: op() })?;
        debug_assert_eq!(user.active, active);
        Ok(SsoOutcome {
            created,
            previous_role,
            mailboxes_added: after
                .iter()
                .copied()
                .filter(|id| !before.contains(id))
                .collect(),
            mailboxes_removed: before
                .iter()
                .copied()
                .filter(|id| !after.contains(id))
                .collect(),
            mailboxes: after,
            unknown_mailboxes: unknown,
            user,
        })
    }

    /// The user linked to a provider identity, if any.
    pub async fn sso_user(&self, issuer: &str, subject: &str) -> StoreResult<Option<i64>> {
        let op = || format!("find single sign-on identity from '{issuer}'");
        with_pool!(self, p => {
            sqlx::query_scalar("SELECT user_id FROM user_identities WHERE issuer = $1 AND subject = $2")
                .bind(issuer)
                .bind(subject)
                .fetch_optional(p)
                .await
                .op(op)
        })
    }

    /// Remember a sign-in under way for `ttl`, under the hash of the browser's
    /// cookie token (a database leak gives no usable token). Expired ones are
    /// swept at the same time.
    pub async fn put_oidc_pending(
        &self,
        token: &str,
        pending: &OidcPending,
        ttl: std::time::Duration,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        let expires: Millis = now + ttl.as_millis() as i64;
        let op = || "record a single sign-on under way".to_string();
        let id = sha256_hex(&[token.as_bytes()]);
        with_pool!(self, p => {
            sqlx::query("DELETE FROM oidc_logins WHERE expires_at <= $1")
                .bind(now)
                .execute(p)
                .await
                .op(op)?;
            sqlx::query(
                "INSERT INTO oidc_logins (id, state, nonce, pkce_verifier, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&id)
            .bind(&pending.state)
            .bind(&pending.nonce)
            .bind(&pending.pkce_verifier)
            .bind(expires)
            .execute(p)
            .await
            .op(op)?;
            Ok(())
        })
    }

    /// Take (read and delete: each is usable once) the sign-in under way for this
    /// cookie token; `None` when unknown or expired.
    pub async fn take_oidc_pending(&self, token: &str) -> StoreResult<Option<OidcPending>> {
        let now = self.now_ms();
        let op = || "take a single sign-on under way".to_string();
        let id = sha256_hex(&[token.as_bytes()]);
        with_pool!(self, p => {
            let row: Option<OidcPending> = sqlx::query_as(
                "DELETE FROM oidc_logins WHERE id = $1 AND expires_at > $2 \
                 RETURNING state, nonce, pkce_verifier",
            )
            .bind(&id)
            .bind(now)
            .fetch_optional(p)
            .await
            .op(op)?;
            Ok(row)
        })
    }

    /// Keep the ID token a session was opened with (for the logout's
    /// `id_token_hint`). `session_token` is the cookie's token.
    pub async fn set_session_id_token(
        &self,
        session_token: &str,
        id_token: &str,
    ) -> StoreResult<()> {
        let op = || "keep the ID token of a session".to_string();
        let sid = crate::people::session_id_for_token(session_token);
        with_pool!(self, p => {
            sqlx::query("INSERT INTO oidc_sessions (session_id, id_token) VALUES ($1, $2)")
                .bind(&sid)
                .bind(id_token)
                .execute(p)
                .await
                .op(op)?;
            Ok(())
        })
    }

    /// The ID token a session was opened with, taken (deleted) because the
    /// caller is ending that session; `None` for a local sign-in.
    pub async fn take_session_id_token(&self, session_token: &str) -> StoreResult<Option<String>> {
        let op = || "take the ID token of a session".to_string();
        let sid = crate::people::session_id_for_token(session_token);
        with_pool!(self, p => {
            sqlx::query_scalar("DELETE FROM oidc_sessions WHERE session_id = $1 RETURNING id_token")
                .bind(&sid)
                .fetch_optional(p)
                .await
                .op(op)
        })
    }
}
