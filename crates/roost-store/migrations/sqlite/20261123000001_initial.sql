-- roost schema, SQLite dialect. The PostgreSQL tree has the same tables, columns and versions;
-- only BLOB (here) and BYTEA (there) differ, and the tables keyed by a digest are WITHOUT ROWID
-- here (one B-tree per row instead of two: random 32-byte keys make the second one expensive).
-- Times are Unix milliseconds in BIGINT columns.

CREATE TABLE server_keys (
    name        TEXT PRIMARY KEY,
    value       BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE projects (
    id          BIGINT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE apps (
    id                  BIGINT PRIMARY KEY,
    project_id          BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    client_id           TEXT NOT NULL UNIQUE,
    client_type         TEXT NOT NULL CHECK (client_type IN ('confidential', 'public')),
    client_secret_hash  BLOB,
    api_key             TEXT NOT NULL UNIQUE,
    api_secret_hash     BLOB NOT NULL,
    bearer_generation   BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL
);

CREATE TABLE app_callbacks (
    app_id    BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    uri       TEXT NOT NULL,
    PRIMARY KEY (app_id, uri)
);

CREATE TABLE users (
    id                 BIGINT PRIMARY KEY,
    username           TEXT NOT NULL,
    username_key       TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    password_hash      TEXT,
    description        TEXT NOT NULL DEFAULT '',
    location           TEXT,
    url                TEXT,
    profile_image_url  TEXT,
    verified           BOOLEAN NOT NULL DEFAULT FALSE,
    protected          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash    BLOB PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Authorization requests are carried signed in the login and consent forms; only the ones that
-- reached a decision are recorded here, so that each is decided once.
CREATE TABLE consumed_requests (
    request_hash  BLOB PRIMARY KEY,
    expires_at    BIGINT NOT NULL
) WITHOUT ROWID;

CREATE TABLE authorization_codes (
    code_hash              BLOB PRIMARY KEY,
    grant_id               BIGINT NOT NULL,
    app_id                 BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id                BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes                 TEXT NOT NULL,
    redirect_uri           TEXT NOT NULL,
    code_challenge         TEXT NOT NULL,
    code_challenge_method  TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    expires_at             BIGINT NOT NULL,
    used_at                BIGINT
) WITHOUT ROWID;
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

-- One grant per redeemed authorization: the token family that reuse detection and revocation
-- act on as a whole.
CREATE TABLE grants (
    id          BIGINT PRIMARY KEY,
    app_id      BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX grants_user ON grants (user_id);
CREATE INDEX grants_app ON grants (app_id);

CREATE TABLE access_tokens (
    token_hash  BLOB PRIMARY KEY,
    app_id      BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id     BIGINT REFERENCES users (id) ON DELETE CASCADE,
    grant_id    BIGINT REFERENCES grants (id) ON DELETE CASCADE,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
) WITHOUT ROWID;
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
    token_hash  BLOB PRIMARY KEY,
    grant_id    BIGINT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

CREATE TABLE login_failures (
    key           TEXT NOT NULL,
    window_start  BIGINT NOT NULL,
    count         INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
