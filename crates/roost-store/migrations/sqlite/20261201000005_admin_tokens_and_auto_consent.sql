-- Sandbox controls (issue 6). Admin tokens authenticate the admin HTTP API (/admin/v1); like
-- every other credential, only the SHA-256 digest of a token is kept. Revoked tokens keep their
-- row (revoked_at set) so that a listing can show them.
-- auto_consent_user_id (test-only, NULL by default): the user an App's authorization requests
-- are granted for without login or consent. Deleting that user turns auto-consent off rather
-- than deleting the App. Same tables in the PostgreSQL tree (BYTEA for BLOB).

CREATE TABLE admin_tokens (
    id          BIGINT PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    label       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

ALTER TABLE apps ADD COLUMN auto_consent_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL;
