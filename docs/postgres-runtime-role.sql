-- Facteur on PostgreSQL: the runtime role (see docs/SECURITY.md).
--
-- Run as the OWNER role (the one `facteur` migrations ran as), after the first
-- start has created the tables, and again after each upgrade that adds tables:
--   psql "$OWNER_URL" -v ON_ERROR_STOP=1 -v runtime_role=facteur_app -f docs/postgres-runtime-role.sql
-- The role itself is created once by a superuser:
--   CREATE ROLE facteur_app LOGIN PASSWORD '…';
-- Then `database_url` of serve/worker/sync names facteur_app; `facteur` commands
-- that migrate (a new version's first start) run with the owner's URL.
--
-- The runtime role reads and writes the application's rows, appends to the
-- audit log, and can do nothing else to it: not alter or drop the table, not
-- disable or drop its triggers (only the owner can), not update, delete or
-- truncate its rows.

GRANT USAGE ON SCHEMA public TO :"runtime_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"runtime_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"runtime_role";
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM :"runtime_role";
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM :"runtime_role";
