-- The sandbox's manual clock (`--clock manual`), shared by every manual-clock node on this
-- database: a move through the admin API on one node is written here, and the others read it
-- within a second. One row; it only ever grows (real time does not go back either).
CREATE TABLE manual_clock (
    id      BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    now_ms  BIGINT NOT NULL
);
