-- One mailbox per sender address, enforced by the database. The admin
-- page checked it before inserting, but two creations at once could both pass
-- the check. Keep in step with migrations/postgres/0006_mailbox_address_unique.sql.
--
-- address_key is the address as compared: surrounding spaces, tabs and line
-- breaks removed, ASCII letters lower-cased (domain names and in practice local
-- parts are case-insensitive). The store computes it for every new mailbox
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

UPDATE mailboxes
SET address_key = lower(trim(address, ' ' || char(9) || char(13) || char(10)))
WHERE id = (
    SELECT min(m2.id) FROM mailboxes m2
    WHERE lower(trim(m2.address, ' ' || char(9) || char(13) || char(10)))
        = lower(trim(mailboxes.address, ' ' || char(9) || char(13) || char(10)))
);

CREATE UNIQUE INDEX mailboxes_address_unique ON mailboxes (address_key);
