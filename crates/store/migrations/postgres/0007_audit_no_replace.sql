-- SQLite's 0007 closes a REPLACE loophole of its triggers. PostgreSQL has none:
-- `INSERT ... ON CONFLICT DO UPDATE` and MERGE fire the BEFORE UPDATE trigger
-- of 0001, which refuses them (tests/security.rs checks it). This migration
-- keeps both dialects' numbering in step and says so in the schema.
COMMENT ON TABLE audit_log IS
    'Append-only, hash-chained: triggers refuse UPDATE, DELETE and TRUNCATE; verify with facteur audit verify.';
