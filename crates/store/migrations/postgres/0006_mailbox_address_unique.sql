-- One mailbox per sender address, enforced by the database. The admin
-- page checked it before inserting, but two creations at once could both pass
-- the check. Keep in step with migrations/sqlite/0006_mailbox_address_unique.sql.
--
-- address_key is the address as compared: surrounding spaces, tabs and line
-- breaks removed, ASCII letters lower-cased (domain names and in practice local
-- parts are case-insensitive). translate() rather than lower(): lower() follows
-- the database locale, SQLite's lower() and the store's Rust only fold ASCII,
-- and the three must agree. The store computes the key for every new mailbox
-- (facteur_store::mailbox_address_key, the same rule) and the unique index does
-- the rest.
--
-- Existing databases may already hold duplicates, and a migration must not fail
-- on them, nor change an address replies already leave from, nor delete a
-- mailbox messages refer to. So the oldest mailbox of each address (lowest id)
-- takes the key; a later duplicate keeps a NULL key (NULLs never collide in a
-- unique index), goes on working, and is reported: a warning when the store
-- opens and Store::mailboxes_sharing_an_address() for an administrator to
-- sort out.
ALTER TABLE mailboxes ADD COLUMN address_key TEXT;

UPDATE mailboxes AS m
SET address_key = k.key
FROM (
    SELECT min(id) AS id,
           translate(btrim(address, E' \t\r\n'),
                     'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') AS key
    FROM mailboxes
    GROUP BY 2
) AS k
WHERE m.id = k.id;

CREATE UNIQUE INDEX mailboxes_address_unique ON mailboxes (address_key);
