-- The same citizen writing again (issue 19). For each message, keyed hashes
-- (HMAC-SHA256 with a key derived from the audit key, which lives outside the
-- database) of the sender's normalised address and of every valid fiscal
-- number the mail quotes: messages sharing one within `followup_days` are the
-- same citizen's. Nothing here can be reversed without the key file. Rows go
-- with their message's content (retention, erasure).
-- Keep in step with migrations/postgres/0017_citizen_followups.sql.
CREATE TABLE citizen_keys (
    message_id  INTEGER NOT NULL,
    key_hash    TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, key_hash)
);
CREATE INDEX citizen_keys_by_hash ON citizen_keys (key_hash, received_at);
-- An open message of the same citizen this one repeats (same request, nearly the
-- same words): answering one offers to close the others.
ALTER TABLE messages ADD COLUMN duplicate_of INTEGER;
-- Triage's suggestion to close without a reply (`thanks`): the agent confirms.
ALTER TABLE triage_results ADD COLUMN close_suggestion TEXT;
