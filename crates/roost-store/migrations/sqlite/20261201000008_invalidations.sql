-- The invalidation feed: one row per revocation that a node's in-memory caches must hear of
-- (an access token, a grant, an App's app-only tokens, a deleted App or user, a reset), written
-- in the transaction that makes the change. Every node reads the rows after its cursor.
--
-- `seq` is taken from the one row of `invalidation_head`, updated in the same transaction: the
-- row lock orders the writers, so seqs are assigned in commit order with no gaps (a sequence
-- would hand a later number to a transaction that can commit first). `created_at` is the
-- database's own time in Unix ms: the feed's retention is about wall time between processes,
-- never a sandbox's manual clock.
CREATE TABLE invalidation_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL
);
INSERT INTO invalidation_head (id, seq) VALUES (1, 0);

CREATE TABLE invalidations (
    seq         BIGINT PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX invalidations_created_at ON invalidations (created_at);
