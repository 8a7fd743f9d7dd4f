-- "Soumettre pour validation" (issue 18): a supervisor saves drafts of a
-- standard answer as often as needed, then submits one version; only a
-- submitted version is offered for validation, to another supervisor (four
-- eyes). NULL: not submitted (or imported by the CLI, which needs no review).
-- Keep in step with migrations/sqlite/0018_answer_submission.sql.
ALTER TABLE answer_versions ADD COLUMN submitted_at BIGINT;
