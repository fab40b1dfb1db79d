-- Named snapshots of the store (`roost snapshot save NAME`): each is the export document, the
-- import file `roost export` writes, so restoring one is an import into an emptied store. Same
-- table in both trees. A reset does not touch this table, the server keys or the admin tokens.
CREATE TABLE snapshots (
    name        TEXT PRIMARY KEY,
    document    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Bumped by every reset. A server that sees it move (through the content version's poll) drops
-- every cached token, App and rate-limit counter: after a reset a token may be gone even though
-- its App and user are back.
ALTER TABLE content_version ADD COLUMN resets BIGINT NOT NULL DEFAULT 0;
