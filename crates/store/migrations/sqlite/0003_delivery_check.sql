-- Round 3: server-side proof of delivery for the outbox.
-- Keep in step with migrations/postgres/0003_delivery_check.sql.

-- Set when the copy of a sent reply that the relay delivers back to the service's
-- own mailbox was seen (by IMAP ingest or by a sender checking before a retry).
-- It is the proof a crashed sender needs to tell "the server took it" from "the dot
-- never left" without sending twice.
ALTER TABLE outbox ADD COLUMN delivery_confirmed_at INTEGER;
