-- Round 2: state the connectors kept in files, job claims for several processes,
-- per-mailbox IMAP sync leases. Keep in step with migrations/postgres/0002_scale_out.sql.

-- Set durably just before the SMTP end-of-data dot: a later attempt that finds it
-- set reconciles (records the reply as sent) instead of sending it twice.
ALTER TABLE outbox ADD COLUMN handed_off_at INTEGER;

-- Where each IMAP folder was read up to. Only a re-fetch cost hangs on it
-- (ingest is idempotent), but in the database every process sees the same one.
CREATE TABLE sync_positions (
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    folder      TEXT    NOT NULL,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, folder)
);

-- Generic claimable work (ingest, triage, sending…), unique per (kind, key) so
-- enqueueing the same work twice is harmless.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    payload     TEXT    NOT NULL DEFAULT '{}',
    state       TEXT    NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    run_at      INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX jobs_due ON jobs (state, kind, run_at);
CREATE INDEX jobs_lease ON jobs (state, lease_until);

-- One IMAP syncer per mailbox at a time; the others stand by until the lease lapses.
CREATE TABLE mailbox_sync_leases (
    mailbox_id  INTEGER PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
    owner       TEXT    NOT NULL,
    lease_until INTEGER NOT NULL
);
