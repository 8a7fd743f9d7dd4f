-- The request types the model hesitated between when it did not draft, each
-- with the standard answer it would draft from (JSON list of
-- facteur_core::Candidate), shown to the agent to pick from. '[]' for triages
-- from before this migration and for triages with a draft. Keep in step with
-- the other backend's 0014_triage_candidates.sql.
ALTER TABLE triage_results ADD COLUMN candidates TEXT NOT NULL DEFAULT '[]';
