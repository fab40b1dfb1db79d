-- The developer portal (issue 8). Same tables in both trees.
--
-- A Project's owner manages it in the portal; NULL: only admin users (Projects made on the
-- command line or by the admin API without an owner). Deleting the owner leaves the Project to
-- the admins rather than deleting Apps that others' tokens depend on.
ALTER TABLE projects ADD COLUMN owner_id BIGINT REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX projects_owner ON projects (owner_id);

-- Admin users see and change every Project in the portal.
ALTER TABLE users ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT FALSE;

-- X's App type (native, single_page, web); NULL: taken from client_type (native for public,
-- web for confidential), as for every App made before this migration. The hints are the last
-- characters of the Client Secret and API Key Secret, so that the portal can say which secret
-- is current without keeping it: the secrets themselves are only ever stored as digests.
ALTER TABLE apps ADD COLUMN app_kind TEXT CHECK (app_kind IN ('native', 'single_page', 'web'));
ALTER TABLE apps ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN website_url TEXT;
ALTER TABLE apps ADD COLUMN client_secret_hint TEXT;
ALTER TABLE apps ADD COLUMN api_secret_hint TEXT;

-- When a token of the grant was last used on the API (recorded in batches, so up to a few
-- seconds late).
ALTER TABLE grants ADD COLUMN last_used_at BIGINT;

-- API requests per App, endpoint and 15-minute bucket, for the portal's usage charts. Nodes
-- add their counts in batches; the cleanup job deletes buckets older than a week.
CREATE TABLE app_usage (
    app_id        BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    endpoint      TEXT NOT NULL,
    bucket_start  BIGINT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (app_id, bucket_start, endpoint)
);
CREATE INDEX app_usage_by_bucket ON app_usage (bucket_start);
