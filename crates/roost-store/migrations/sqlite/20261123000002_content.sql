-- X API v2 content: profile fields, tweets, follows, spaces. Same tables in the PostgreSQL tree.
-- content_version is bumped by every content write, so a server can tell that another process
-- (the admin CLI, an import, another node) changed what it holds in memory.

ALTER TABLE users ADD COLUMN pinned_tweet_id BIGINT;
ALTER TABLE users ADD COLUMN verified_type TEXT;
ALTER TABLE users ADD COLUMN profile_banner_url TEXT;
ALTER TABLE users ADD COLUMN listed_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN like_count BIGINT NOT NULL DEFAULT 0;

CREATE TABLE tweets (
    id                   BIGINT PRIMARY KEY,
    author_id            BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text                 TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    conversation_id      BIGINT NOT NULL,
    in_reply_to_user_id  BIGINT,
    replied_to_id        BIGINT,
    quoted_id            BIGINT,
    retweeted_id         BIGINT,
    lang                 TEXT,
    reply_settings       TEXT NOT NULL DEFAULT 'everyone',
    source               TEXT,
    possibly_sensitive   BOOLEAN NOT NULL DEFAULT FALSE,
    like_count           BIGINT NOT NULL DEFAULT 0,
    bookmark_count       BIGINT NOT NULL DEFAULT 0,
    impression_count     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tweets_author ON tweets (author_id, id);

CREATE TABLE follows (
    source_user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    pending         BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (source_user_id, target_user_id)
);
CREATE INDEX follows_target ON follows (target_user_id);

CREATE TABLE spaces (
    id                 TEXT PRIMARY KEY,
    state              TEXT NOT NULL CHECK (state IN ('live', 'scheduled', 'ended')),
    title              TEXT,
    creator_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    host_ids           TEXT NOT NULL DEFAULT '',
    speaker_ids        TEXT NOT NULL DEFAULT '',
    invited_user_ids   TEXT NOT NULL DEFAULT '',
    topic_ids          TEXT NOT NULL DEFAULT '',
    lang               TEXT,
    is_ticketed        BOOLEAN NOT NULL DEFAULT FALSE,
    participant_count  BIGINT NOT NULL DEFAULT 0,
    subscriber_count   BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT,
    started_at         BIGINT,
    ended_at           BIGINT,
    scheduled_start    BIGINT
);
CREATE INDEX spaces_creator ON spaces (creator_id);

CREATE TABLE content_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  BIGINT NOT NULL
);
INSERT INTO content_version (id, version) VALUES (1, 0);
