-- Who has a message open, and since when: the message page says "Agnès D.
-- consulte ce message depuis 2 min" to the others, on every node. Presence
-- only, refreshed on each view and read within a few minutes; rows go with
-- their message. Keep in step with migrations/postgres/0015_message_views.sql.
CREATE TABLE message_views (
    message_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    since INTEGER NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
