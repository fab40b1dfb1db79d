-- Rate-limit windows shared by the nodes of one database (`rate_limits.shared = "store"`, the
-- default on PostgreSQL). One row per window key: the start every node adopts, so all of them
-- report the same `x-rate-limit-reset`, and the count of requests admitted in it, to which each
-- node adds what it admitted since its last flush. A window's row is replaced when a later
-- window of the same key begins, and deleted by the cleanup job once it has ended.
CREATE TABLE rate_windows (
    key           TEXT PRIMARY KEY NOT NULL,
    window_start  BIGINT NOT NULL,
    window_ms     BIGINT NOT NULL,
    count         BIGINT NOT NULL
) WITHOUT ROWID;

-- The cleanup job deletes by the window's end.
CREATE INDEX rate_windows_by_end ON rate_windows (window_start + window_ms);
