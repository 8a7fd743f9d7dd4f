-- The text the classifier read for a message at its latest triage: the
-- pseudonymised subject and new text (facteur_triage::classify_text). Training
-- from agents' feedback uses it, so a corrected message teaches the model the
-- very text the model reads live; pseudonymised_text stays the body agents see.
-- NULL for messages triaged before this migration: feedback then falls back to
-- pseudonymised_text, as before. Keep in step with
-- migrations/postgres/0008_classify_text.sql.
ALTER TABLE messages ADD COLUMN classify_text TEXT;
