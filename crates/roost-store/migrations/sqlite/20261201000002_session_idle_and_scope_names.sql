-- A browser session also ends after `[session] idle_ttl` without use. idle_expires_at is that
-- moment; using the session moves it forward, at most once a minute, so that reading a session
-- is not a write. Sessions from before this migration keep their absolute end as idle end.
ALTER TABLE sessions ADD COLUMN idle_expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET idle_expires_at = expires_at;
CREATE INDEX sessions_idle_expiry ON sessions (idle_expires_at);

-- The scope names as the client asked for them, when it used X's historic names
-- (account.follows.read, ...): token responses echo them (oauthlib compares the sets). NULL
-- means today's names, as in `scopes`, which stays canonical and is what is enforced.
ALTER TABLE authorization_codes ADD COLUMN scope_names TEXT;
ALTER TABLE grants ADD COLUMN scope_names TEXT;
