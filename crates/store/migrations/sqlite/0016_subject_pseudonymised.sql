-- The subject as triage masked it (personal data replaced by placeholders, the
-- sender's name included wherever it recurs), written with each triage: queue
-- rows show it instead of running the detector again on every row, so the queue
-- and triage cannot disagree about what is personal. NULL until the first
-- triage. Keep in step with the other dialect's 0016_subject_pseudonymised.sql.
ALTER TABLE messages ADD COLUMN subject_pseudonymised TEXT;
