-- The text the classifier read for a message at its latest triage: the
-- subject and new text with personal data removed (facteur_triage::classify_text). Training
-- from agents' feedback uses it, so a corrected message teaches the model the
-- very text the model reads live; pseudonymised_text stays the body agents see.
-- NULL for messages triaged before this migration: feedback then falls back to
-- pseudonymised_text, as before. Keep in step with
-- migrations/sqlite/0008_classify_text.sql.
ALTER TABLE messages ADD COLUMN classify_text TEXT;
