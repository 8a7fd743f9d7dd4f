-- The audit log is append-only (0001 refuses UPDATE and DELETE), but SQLite's
-- REPLACE conflict resolution (`INSERT OR REPLACE`, `REPLACE INTO`) deletes the
-- row in the way without firing delete triggers unless recursive triggers are
-- on: it could rewrite any row. Refuse every insert that lands on an existing
-- sequence number; the store only ever appends the next one.
CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
