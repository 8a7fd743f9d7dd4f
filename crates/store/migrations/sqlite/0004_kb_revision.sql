-- Round 4: every node's knowledge-base index follows the standard answers stored
-- here. Keep in step with migrations/postgres/0004_kb_revision.sql.

-- One row: bumped in the same transaction as any change of answer_versions, so a
-- node that polls it (or, on PostgreSQL, is woken by NOTIFY facteur_kb) knows
-- when to rebuild the answers part of its index. Monotonic, never reset.
CREATE TABLE kb_revision (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    revision   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO kb_revision (id, revision, updated_at) VALUES (1, 0, 0);

-- Purging finished jobs scans by state and age.
CREATE INDEX jobs_finished ON jobs (state, updated_at);
