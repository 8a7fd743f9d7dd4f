-- Round 2: state the connectors kept in files, job claims for several processes,
-- per-mailbox IMAP sync leases. Keep in step with migrations/sqlite/0002_scale_out.sql.

-- Set durably just before the SMTP end-of-data dot: a later attempt that finds it
-- set reconciles (records the reply as sent) instead of sending it twice.
ALTER TABLE outbox ADD COLUMN handed_off_at BIGINT;

-- Where each IMAP folder was read up to. Only a re-fetch cost hangs on it
-- (ingest is idempotent), but in the database every process sees the same one.
CREATE TABLE sync_positions (
    mailbox_id  BIGINT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    folder      TEXT    NOT NULL,
    uidvalidity BIGINT NOT NULL,
    last_uid    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, folder)
);

-- Generic claimable work (ingest, triage, sending…), unique per (kind, key) so
-- enqueueing the same work twice is harmless.
CREATE TABLE jobs (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    payload     TEXT    NOT NULL DEFAULT '{}',
    state       TEXT    NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    run_at      BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX jobs_due ON jobs (state, kind, run_at);
CREATE INDEX jobs_lease ON jobs (state, lease_until);

-- One IMAP syncer per mailbox at a time; the others stand by until the lease lapses.
CREATE TABLE mailbox_sync_leases (
    mailbox_id  BIGINT  PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
    owner       TEXT    NOT NULL,
    lease_until BIGINT NOT NULL
);
