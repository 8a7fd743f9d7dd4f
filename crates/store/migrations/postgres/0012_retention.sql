-- Retention of citizens' data (issue 20). Keep in step with
-- migrations/sqlite/0012_retention.sql.
--
-- When the daily purge emptied the original mail (raw) of a closed message
-- (retention.raw_mail_days), and when it removed everything of it but the
-- pseudonymised text kept for training (retention.message_days). NULL: still there.
ALTER TABLE messages ADD COLUMN raw_purged_at BIGINT;
ALTER TABLE messages ADD COLUMN content_purged_at BIGINT;

-- Set on every model version that existed when a citizen's data was erased
-- (facteur citizen erase): the version may have learnt from that person's
-- messages, so its next review must decide whether to retrain. NULL: not flagged.
ALTER TABLE model_versions ADD COLUMN erasure_flagged_at BIGINT;
