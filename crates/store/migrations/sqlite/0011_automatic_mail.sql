-- Issue 19: mail as it really arrives (auto-replies and bounces).
-- Keep in step with migrations/postgres/0011_automatic_mail.sql.

-- A bounce that reports one of our replies marks its outbox row "undelivered"
-- (state 'undelivered'): when, the RFC 3463 status, the remote server's
-- diagnostic with personal data masked, and the stored bounce message. The agent
-- who validated the reply sees it; supervision counts it.
ALTER TABLE outbox ADD COLUMN undelivered_at INTEGER;
ALTER TABLE outbox ADD COLUMN undelivered_status TEXT;
ALTER TABLE outbox ADD COLUMN undelivered_diagnostic TEXT;
ALTER TABLE outbox ADD COLUMN undelivered_by_message INTEGER REFERENCES messages (id);

-- "Was the last mail from this address an auto-reply?" is asked before a reply
-- is queued: the latest message of one sender, without a scan.
CREATE INDEX messages_from_received ON messages (from_address, received_at);
