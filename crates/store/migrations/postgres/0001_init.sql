-- Facteur schema, PostgreSQL flavour. Timestamps are Unix milliseconds (INTEGER) so
-- the same queries and bindings work on PostgreSQL (BIGINT). JSON is TEXT.
-- Keep in step with migrations/sqlite/0001_init.sql.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,              -- argon2 PHC string, hashed by the caller
    role          TEXT    NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT NOT NULL
);

CREATE TABLE mailboxes (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    address    TEXT    NOT NULL,
    signature  TEXT    NOT NULL DEFAULT '',
    settings   TEXT    NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE user_mailboxes (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, mailbox_id)
);

CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,            -- sha256(token), hex: a DB leak gives no live token
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE messages (
    id                 BIGSERIAL PRIMARY KEY,
    mailbox_id         BIGINT NOT NULL REFERENCES mailboxes (id),
    message_id         TEXT    NOT NULL,
    content_hash       TEXT    NOT NULL,
    raw                BYTEA   NOT NULL,          -- bytes exactly as received
    subject            TEXT    NOT NULL DEFAULT '',
    from_name          TEXT,
    from_address       TEXT,
    date               TEXT,                      -- RFC 3339 from the Date header
    received_at        BIGINT NOT NULL,
    thread_id          TEXT,
    parsed             TEXT    NOT NULL DEFAULT '{}',
    pseudonymised_text TEXT    NOT NULL DEFAULT '',
    language           TEXT,
    state              TEXT    NOT NULL DEFAULT 'new',
    assigned_to        BIGINT REFERENCES users (id),
    category           TEXT,
    confidence         DOUBLE PRECISION NOT NULL DEFAULT -1, -- -1 = not scored; NOT NULL keeps keyset paging simple
    pii_kinds          TEXT    NOT NULL DEFAULT '[]',
    flags              TEXT    NOT NULL DEFAULT '[]',
    updated_at         BIGINT NOT NULL,
    UNIQUE (mailbox_id, message_id, content_hash)
);
-- Queue paging: equality columns first, then the sort key, then id as tiebreak.
CREATE INDEX messages_queue_age ON messages (mailbox_id, state, received_at, id);
CREATE INDEX messages_queue_conf ON messages (mailbox_id, state, confidence, id);
CREATE INDEX messages_queue_cat ON messages (mailbox_id, state, category, received_at, id);
CREATE INDEX messages_queue_cat_conf ON messages (mailbox_id, state, category, confidence, id);
CREATE INDEX messages_thread ON messages (thread_id);

CREATE TABLE triage_results (
    id             BIGSERIAL PRIMARY KEY,
    message_id     BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    model_version  TEXT,
    category       TEXT,
    confidence     DOUBLE PRECISION,
    route          TEXT    NOT NULL,
    answer_id      TEXT,
    answer_version BIGINT,
    draft_text     TEXT,
    passages       TEXT    NOT NULL DEFAULT '[]',
    created_at     BIGINT NOT NULL
);
CREATE INDEX triage_by_message ON triage_results (message_id, id);

CREATE TABLE agent_actions (
    id            BIGSERIAL PRIMARY KEY,
    message_id    BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users (id),
    at            BIGINT NOT NULL,
    kind          TEXT    NOT NULL,
    before        TEXT    NOT NULL DEFAULT 'null',
    after         TEXT    NOT NULL DEFAULT 'null',
    model_version TEXT
);
CREATE INDEX actions_by_message ON agent_actions (message_id, id);
CREATE INDEX actions_by_time ON agent_actions (at);

CREATE TABLE outbox (
    id                BIGSERIAL PRIMARY KEY,
    message_id        BIGINT NOT NULL UNIQUE REFERENCES messages (id), -- one validated reply per message
    reply_message_id  TEXT    NOT NULL UNIQUE,   -- generated once, reused on every retry
    to_address        TEXT    NOT NULL,
    subject           TEXT    NOT NULL,
    in_reply_to       TEXT,
    references_hdr    TEXT    NOT NULL DEFAULT '',
    body              TEXT    NOT NULL,          -- exactly the validated text
    validated_by      BIGINT NOT NULL REFERENCES users (id),
    validated_by_name TEXT    NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'queued',
    attempts          BIGINT NOT NULL DEFAULT 0,
    last_error        TEXT,
    next_attempt_at   BIGINT,                   -- NULL: not retryable
    lease_owner       TEXT,
    lease_until       BIGINT,
    sent_at           BIGINT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_lease ON outbox (state, lease_until);

CREATE TABLE answer_versions (
    answer_id   TEXT    NOT NULL,
    version     BIGINT NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('draft', 'validated', 'retired')),
    title       TEXT    NOT NULL DEFAULT '',
    language    TEXT    NOT NULL DEFAULT 'fr',
    content     TEXT    NOT NULL,
    valid_from  TEXT,
    valid_until TEXT,
    author_id   BIGINT REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (answer_id, version)
);

CREATE TABLE model_versions (
    id          TEXT    PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('candidate', 'active', 'retired')),
    metrics     TEXT    NOT NULL DEFAULT '{}',
    trained_by  BIGINT REFERENCES users (id),
    promoted_by BIGINT REFERENCES users (id),
    promoted_at BIGINT,
    review_due  BIGINT
);

CREATE TABLE audit_log (
    seq       BIGINT  PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    details   TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);

-- The chain head: updating it first in every audited transaction serialises
-- appends (row lock on PostgreSQL, write lock on SQLite). It is a cache only:
-- verify_audit() recomputes everything from audit_log.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- At most one active model.
CREATE UNIQUE INDEX model_versions_one_active ON model_versions (status) WHERE status = 'active';
