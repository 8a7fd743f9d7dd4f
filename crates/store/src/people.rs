//! Users, roles, mailboxes, who may see which mailbox, and login sessions.

use facteur_core::Role;
use serde_json::json;

use crate::audit::audit_append;
use crate::error::{is_unique_violation, OpContext, StoreError, StoreResult};
use crate::types::parse_json;
use crate::{
    sha256_hex, with_pool, BeginWrite, Mailbox, Millis, NewMailbox, NewUser, Session, Store, User,
};

/// The unique index behind one-mailbox-per-address (migration 0006).
const ADDRESS_INDEX: &str = "mailboxes_address_unique";

/// A mailbox address as the database compares it for uniqueness: spaces, tabs
/// and line breaks around it removed, ASCII letters lower-cased. The same rule
/// as the migration that introduced the index (SQL `trim` + ASCII fold), so keys
/// written before and after it agree; callers checking for a duplicate before
/// creating a mailbox should compare these keys too.
pub fn mailbox_address_key(address: &str) -> String {
    address
        .trim_matches([' ', '\t', '\r', '\n'])
        .to_ascii_lowercase()
}

/// True when `e` is the address index refusing a second mailbox. PostgreSQL names
/// the index; SQLite names the column in its message.
fn is_address_key_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) if is_unique_violation(e) => {
            d.constraint() == Some(ADDRESS_INDEX) || d.message().contains("mailboxes.address_key")
        }
        _ => false,
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    password_hash: String,
    role: String,
    active: bool,
    created_at: i64,
}

impl UserRow {
    fn into_user(self) -> StoreResult<User> {
        let role = Role::parse(&self.role).ok_or_else(|| StoreError::Corrupt {
            op: format!("read user {}", self.id),
            detail: format!("unknown role '{}'", self.role),
        })?;
        Ok(User {
            id: self.id,
            username: self.username,
            display_name: self.display_name,
            password_hash: self.password_hash,
            role,
            active: self.active,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MailboxRow {
    id: i64,
    name: String,
    address: String,
    signature: String,
    settings: String,
    created_at: i64,
}

impl From<MailboxRow> for Mailbox {
    fn from(r: MailboxRow) -> Self {
        Mailbox {
            id: r.id,
            name: r.name,
            address: r.address,
            signature: r.signature,
            settings: parse_json(&r.settings),
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    user_id: i64,
    csrf_token: String,
    created_at: i64,
    expires_at: i64,
    last_seen_at: i64,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id: r.id,
            user_id: r.user_id,
            csrf_token: r.csrf_token,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_seen_at: r.last_seen_at,
        }
    }
}

const USER_COLS: &str = "id, username, display_name, password_hash, role, active, created_at";
const MAILBOX_COLS: &str = "id, name, address, signature, settings, created_at";
const SESSION_COLS: &str = "id, user_id, csrf_token, created_at, expires_at, last_seen_at";

/// The session id stored for a bearer token.
pub fn session_id_for_token(token: &str) -> String {
    sha256_hex(&[token.as_bytes()])
}

impl Store {
    // ------------------------------------------------------------ users

    /// Create a user (audited as done by `by`, `None` = bootstrap/CLI).
    pub async fn create_user(&self, new: &NewUser, by: Option<i64>) -> StoreResult<i64> {
        let now = self.now_ms();
        // Not the username: callers log store errors, and a login names a person.
        let op = || format!("create user (role {})", new.role.as_str());
        let actor = actor_of(by);
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (username, display_name, password_hash, role, active, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&new.username)
            .bind(&new.display_name)
            .bind(&new.password_hash)
            .bind(new.role.as_str())
            .bind(true)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .op(op)?;
            audit_append!(self, tx, now, actor.clone(), "user.create", format!("user:{id}"),
                json!({"role": new.role.as_str()})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(id)
        })
    }

    /// One account by row id, deactivated ones included; `None` when unknown.
    pub async fn get_user(&self, id: i64) -> StoreResult<Option<User>> {
        let op = || format!("get user {id}");
        let row: Option<UserRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
                .op(op)
        })?;
        row.map(UserRow::into_user).transpose()
    }

    /// One account by login name, deactivated ones included: sign-in checks `active` itself.
    pub async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let op = || "get user by username".to_string();
        let row: Option<UserRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {USER_COLS} FROM users WHERE username = $1"))
                .bind(username)
                .fetch_optional(p)
                .await
                .op(op)
        })?;
        row.map(UserRow::into_user).transpose()
    }

    /// Every account, deactivated ones included, by login name.
    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows: Vec<UserRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {USER_COLS} FROM users ORDER BY username"))
                .fetch_all(p)
                .await
                .op(|| "list users".to_string())
        })?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    /// Change role and/or active flag; deactivating also ends the user's sessions.
    pub async fn update_user(
        &self,
        id: i64,
        role: Role,
        active: bool,
        by: Option<i64>,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("update user {id}");
        let actor = actor_of(by);
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            // Demoting or deactivating an active admin: another one must remain.
            // In the transaction, so two admins removing each other at once
            // cannot both succeed (SQLite writes one at a time; PostgreSQL locks
            // the admins' rows).
            if role != Role::Admin || !active {
                let lock = if self.backend() == crate::Backend::Postgres { " FOR UPDATE" } else { "" };
                let admins: Vec<i64> = sqlx::query_scalar(&format!(
                    "SELECT id FROM users WHERE role = 'admin' AND active = $1{lock}"
                ))
                .bind(true)
                .fetch_all(&mut *tx)
                .await
                .op(op)?;
                if admins == [id] {
                    return Err(StoreError::LastAdmin { op: op() });
                }
            }
            let n = sqlx::query("UPDATE users SET role = $1, active = $2 WHERE id = $3")
                .bind(role.as_str())
                .bind(active)
                .bind(id)
                .execute(&mut *tx)
                .await
                .op(op)?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound { op: op() });
            }
            if !active {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .op(op)?;
            }
            audit_append!(self, tx, now, actor.clone(), "user.update", format!("user:{id}"),
                json!({"role": role.as_str(), "active": active})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    /// Replace a user's password hash and end all their sessions in the same
    /// transaction: a password is changed because it (or a session cookie) may
    /// have leaked, so whoever holds an old session must sign in again.
    pub async fn set_password_hash(&self, id: i64, password_hash: &str) -> StoreResult<()> {
        self.set_password_hash_by(id, password_hash, Some(id))
            .await
            .map(|_| ())
    }

    /// [`Self::set_password_hash`] done by `by` (the user themself, an
    /// administrator resetting it, `None` = system): the audit entry names who
    /// acted, so a reset by someone else can be told from a change by the user.
    /// Returns how many sessions ended.
    pub async fn set_password_hash_by(
        &self,
        id: i64,
        password_hash: &str,
        by: Option<i64>,
    ) -> StoreResult<u64> {
        let now = self.now_ms();
        let op = || format!("set password of user {id}");
        let actor = actor_of(by);
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(password_hash)
                .bind(id)
                .execute(&mut *tx)
                .await
                .op(op)?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound { op: op() });
            }
            let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .op(op)?
                .rows_affected();
            audit_append!(self, tx, now, actor.clone(), "user.password", format!("user:{id}"),
                json!({"sessions_ended": ended})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(ended)
        })
    }

    // ------------------------------------------------------------ mailboxes

    /// Create a mailbox, audited as done by `by` (`None` = system); returns its id. `MailboxAddressTaken` when another mailbox has the address.
    pub async fn create_mailbox(&self, new: &NewMailbox, by: Option<i64>) -> StoreResult<i64> {
        let now = self.now_ms();
        let op = || format!("create mailbox '{}'", new.name);
        let actor = actor_of(by);
        let settings = new.settings.to_string();
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            let id: Result<i64, sqlx::Error> = sqlx::query_scalar(
                "INSERT INTO mailboxes (name, address, address_key, signature, settings, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&new.name)
            .bind(&new.address)
            .bind(mailbox_address_key(&new.address))
            .bind(&new.signature)
            .bind(&settings)
            .bind(now)
            .fetch_one(&mut *tx)
            .await;
            let id = match id {
                Err(e) if is_address_key_violation(&e) => {
                    return Err(StoreError::MailboxAddressTaken { op: op() });
                }
                other => other.op(op)?,
            };
            audit_append!(self, tx, now, actor.clone(), "mailbox.create", format!("mailbox:{id}"),
                json!({})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(id)
        })
    }

    /// Change a mailbox's signature and settings, audited with what changed (the
    /// signature by its length only: it is free text).
    pub async fn update_mailbox(
        &self,
        id: i64,
        update: &crate::MailboxUpdate,
        by: Option<i64>,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("update mailbox {id}");
        let actor = actor_of(by);
        let Some(current) = self.get_mailbox(id).await? else {
            return Err(StoreError::NotFound { op: op() });
        };
        let mut settings = match current.settings {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        match update.send_delay_seconds {
            Some(s) => settings.insert("send_delay_seconds".into(), json!(s)),
            None => settings.remove("send_delay_seconds"),
        };
        match update.imap_folder.as_deref().filter(|f| !f.is_empty()) {
            Some(f) => settings.insert("imap_folder".into(), json!(f)),
            None => settings.remove("imap_folder"),
        };
        let settings = serde_json::Value::Object(settings);
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            sqlx::query("UPDATE mailboxes SET signature = $1, settings = $2 WHERE id = $3")
                .bind(&update.signature)
                .bind(settings.to_string())
                .bind(id)
                .execute(&mut *tx)
                .await
                .op(op)?;
            audit_append!(self, tx, now, actor.clone(), "mailbox.update", format!("mailbox:{id}"),
                json!({
                    "signature_chars": update.signature.chars().count(),
                    "send_delay_seconds": update.send_delay_seconds,
                    "imap_folder": update.imap_folder,
                })).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    /// Mailboxes whose address an older mailbox already has (ids, oldest first).
    /// Only databases created before the address became unique can hold them: the
    /// migration kept them working rather than fail or rewrite an address replies
    /// leave from (see migrations/*/0006_mailbox_address_unique.sql), and an
    /// administrator should rename or retire them.
    pub async fn mailboxes_sharing_an_address(&self) -> StoreResult<Vec<i64>> {
        with_pool!(self, p => {
            sqlx::query_scalar("SELECT id FROM mailboxes WHERE address_key IS NULL ORDER BY id")
                .fetch_all(p)
                .await
                .op(|| "list mailboxes sharing an address".to_string())
        })
    }

    /// One mailbox by row id; `None` when unknown.
    pub async fn get_mailbox(&self, id: i64) -> StoreResult<Option<Mailbox>> {
        let row: Option<MailboxRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {MAILBOX_COLS} FROM mailboxes WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
                .op(|| format!("get mailbox {id}"))
        })?;
        Ok(row.map(Mailbox::from))
    }

    /// One mailbox by its configured name; `None` when unknown.
    pub async fn get_mailbox_by_name(&self, name: &str) -> StoreResult<Option<Mailbox>> {
        let row: Option<MailboxRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {MAILBOX_COLS} FROM mailboxes WHERE name = $1"))
                .bind(name)
                .fetch_optional(p)
                .await
                .op(|| format!("get mailbox '{name}'"))
        })?;
        Ok(row.map(Mailbox::from))
    }

    /// Every mailbox, by name.
    pub async fn list_mailboxes(&self) -> StoreResult<Vec<Mailbox>> {
        let rows: Vec<MailboxRow> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {MAILBOX_COLS} FROM mailboxes ORDER BY name"))
                .fetch_all(p)
                .await
                .op(|| "list mailboxes".to_string())
        })?;
        Ok(rows.into_iter().map(Mailbox::from).collect())
    }

    /// Give (or take back) an agent's access to a mailbox.
    pub async fn set_mailbox_access(
        &self,
        user_id: i64,
        mailbox_id: i64,
        allowed: bool,
        by: Option<i64>,
    ) -> StoreResult<()> {
        let now = self.now_ms();
        let op = || format!("set access of user {user_id} to mailbox {mailbox_id}");
        let actor = actor_of(by);
        let sql = if allowed {
            "INSERT INTO user_mailboxes (user_id, mailbox_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM user_mailboxes WHERE user_id = $1 AND mailbox_id = $2"
        };
        with_pool!(self, p => {
            let mut tx = p.begin_write().await.op(op)?;
            sqlx::query(sql).bind(user_id).bind(mailbox_id).execute(&mut *tx).await.op(op)?;
            audit_append!(self, tx, now, actor.clone(), "mailbox.access", format!("user:{user_id}"),
                json!({"mailbox": mailbox_id, "allowed": allowed})).op(op)?;
            tx.commit().await.op(op)?;
            Ok(())
        })
    }

    /// The mailboxes a user may work on: all for supervisors and admins, the
    /// assigned ones for agents, none for an inactive or unknown user.
    pub async fn user_mailbox_ids(&self, user_id: i64) -> StoreResult<Vec<i64>> {
        let op = || format!("list mailboxes of user {user_id}");
        let Some(user) = self.get_user(user_id).await? else {
            return Ok(Vec::new());
        };
        if !user.active {
            return Ok(Vec::new());
        }
        with_pool!(self, p => {
            if user.role.sees_all_mailboxes() {
                sqlx::query_scalar("SELECT id FROM mailboxes ORDER BY id")
                    .fetch_all(p).await.op(op)
            } else {
                sqlx::query_scalar(
                    "SELECT mailbox_id FROM user_mailboxes WHERE user_id = $1 ORDER BY mailbox_id",
                )
                .bind(user_id)
                .fetch_all(p)
                .await
                .op(op)
            }
        })
    }

    /// Whether the user is active and may work on this mailbox (given to them, or supervisor/admin).
    pub async fn user_can_access(&self, user_id: i64, mailbox_id: i64) -> StoreResult<bool> {
        let op = || format!("check access of user {user_id} to mailbox {mailbox_id}");
        with_pool!(self, p => {
            let n: i64 = sqlx::query_scalar(ACCESS_SQL)
                .bind(user_id)
                .bind(mailbox_id)
                .fetch_one(p)
                .await
                .op(op)?;
            Ok(n > 0)
        })
    }

    // ------------------------------------------------------------ sessions

    /// Store a session for `token` (generated by the caller from a CSPRNG);
    /// only its hash is kept.
    pub async fn create_session(
        &self,
        token: &str,
        user_id: i64,
        csrf_token: &str,
        ttl: std::time::Duration,
    ) -> StoreResult<Session> {
        let now = self.now_ms();
        let s = Session {
            id: session_id_for_token(token),
            user_id,
            csrf_token: csrf_token.to_string(),
            created_at: now,
            expires_at: now.saturating_add(ttl.as_millis() as i64),
            last_seen_at: now,
        };
        let op = || format!("create session for user {user_id}");
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, csrf_token, created_at, expires_at, last_seen_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&s.id)
            .bind(s.user_id)
            .bind(&s.csrf_token)
            .bind(s.created_at)
            .bind(s.expires_at)
            .bind(s.last_seen_at)
            .execute(p)
            .await
            .op(op)
            .map(|r| r.rows_affected())
        })?;
        Ok(s)
    }

    /// The live session for a token, with its user; `None` if unknown, expired,
    /// or the user was deactivated.
    pub async fn get_session(&self, token: &str) -> StoreResult<Option<(Session, User)>> {
        let now = self.now_ms();
        let id = session_id_for_token(token);
        let row: Option<SessionRow> = with_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {SESSION_COLS} FROM sessions WHERE id = $1 AND expires_at > $2"
            ))
            .bind(&id)
            .bind(now)
            .fetch_optional(p)
            .await
            .op(|| "get session".to_string())
        })?;
        let Some(row) = row else { return Ok(None) };
        let session = Session::from(row);
        match self.get_user(session.user_id).await? {
            Some(user) if user.active => Ok(Some((session, user))),
            _ => Ok(None),
        }
    }

    /// Record activity and slide the expiry. Returns false if the session is gone
    /// or already expired (expiry is never resurrected).
    pub async fn touch_session(&self, token: &str, ttl: std::time::Duration) -> StoreResult<bool> {
        let now = self.now_ms();
        let id = session_id_for_token(token);
        let expires: Millis = now.saturating_add(ttl.as_millis() as i64);
        let n = with_pool!(self, p => {
            sqlx::query(
                "UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id = $3 AND expires_at > $1",
            )
            .bind(now)
            .bind(expires)
            .bind(&id)
            .execute(p)
            .await
            .op(|| "touch session".to_string())
                .map(|r| r.rows_affected())
        })?;
        Ok(n > 0)
    }

    /// End the session of `token` (sign-out); false when there was none.
    pub async fn delete_session(&self, token: &str) -> StoreResult<bool> {
        let id = session_id_for_token(token);
        let n = with_pool!(self, p => {
            sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(&id)
                .execute(p)
                .await
                .op(|| "delete session".to_string())
                .map(|r| r.rows_affected())
        })?;
        Ok(n > 0)
    }

    /// Delete expired sessions; returns how many.
    pub async fn expire_sessions(&self) -> StoreResult<u64> {
        let now = self.now_ms();
        let n = with_pool!(self, p => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(p)
                .await
                .op(|| "expire sessions".to_string())
                .map(|r| r.rows_affected())
        })?;
        Ok(n)
    }
}

/// Count > 0 when the user is active and either sees all mailboxes or was given
/// this one. Shared with the in-transaction checks of agent actions.
pub(crate) const ACCESS_SQL: &str =
    "SELECT COUNT(*) FROM users u WHERE u.id = $1 AND u.active = TRUE AND \
     (u.role IN ('supervisor', 'admin') OR EXISTS \
      (SELECT 1 FROM user_mailboxes um WHERE um.user_id = u.id AND um.mailbox_id = $2))";

pub(crate) fn actor_of(user: Option<i64>) -> String {
    match user {
        Some(id) => format!("user:{id}"),
        None => "system".to_string(),
    }
}
