-- Single sign-on with OpenID Connect (see docs/SSO.md). Keep in step with
-- migrations/sqlite/0013_sso.sql.

-- Which provider account is which Facteur user: (issuer, subject) is the stable
-- identity OpenID Connect guarantees (a username or an e-mail address can be
-- reassigned). A user created at a first sign-in has an unusable password hash,
-- so only the provider signs them in.
CREATE TABLE user_identities (
    issuer        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    last_login_at BIGINT  NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

-- Sign-ins under way, between /oidc/login and /oidc/callback: kept in the
-- database rather than in one process so the callback may reach another node.
-- id = sha256 of the browser's cookie token; used once, then deleted.
CREATE TABLE oidc_logins (
    id            TEXT    PRIMARY KEY,
    state         TEXT    NOT NULL,
    nonce         TEXT    NOT NULL,
    pkce_verifier TEXT    NOT NULL,
    expires_at    BIGINT  NOT NULL
);
CREATE INDEX oidc_logins_expires ON oidc_logins (expires_at);

-- The ID token behind a signed-in session, sent back to the provider as
-- id_token_hint at logout (RP-initiated logout).
CREATE TABLE oidc_sessions (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    id_token   TEXT NOT NULL
);
