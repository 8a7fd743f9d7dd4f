-- Round 5: the supervisors' safety controls live in the database, so every
-- `facteur serve` / `facteur worker` node obeys them. Keep in step with
-- migrations/postgres/0005_learn_controls.sql.

-- Draft suggestions switched off for a scope until switched back on. One row per
-- scope: scope_kind is 'all' (the whole service, scope_value ''), 'mailbox'
-- (scope_value = the mailbox id) or 'request_type' (scope_value = the type id).
-- No foreign key on set_by: a switch imported from a node's legacy file must
-- never be refused, a refused switch would silently leave suggestions on.
CREATE TABLE kill_switches (
    scope_kind  TEXT    NOT NULL CHECK (scope_kind IN ('all', 'mailbox', 'request_type')),
    scope_value TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    set_by      INTEGER NOT NULL,
    set_at      INTEGER NOT NULL,
    PRIMARY KEY (scope_kind, scope_value)
);

-- Agent-feedback examples (by example id = the agent action's id) a supervisor
-- excluded from training. Append-only in practice: an exclusion is never undone
-- by the application.
CREATE TABLE training_exclusions (
    example_id  INTEGER NOT NULL PRIMARY KEY,
    reason      TEXT    NOT NULL,
    excluded_by INTEGER NOT NULL,
    excluded_at INTEGER NOT NULL
);
