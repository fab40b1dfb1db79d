-- X API v2 fields the content schema had no room for: a user's confirmed email address (the
-- `confirmed_email` field, shown with the users.email scope), withholding by country for users
-- and tweets (`withheld`), and the topics Spaces are about (`includes.topics`; X's topics are a
-- fixed taxonomy, roost ships one and an import may add to it). Same tables in the PostgreSQL tree.
-- Country codes are stored comma-separated, as the id lists of spaces are.

ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN withheld_country_codes TEXT NOT NULL DEFAULT '';

ALTER TABLE tweets ADD COLUMN withheld_copyright BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tweets ADD COLUMN withheld_country_codes TEXT NOT NULL DEFAULT '';

CREATE TABLE topics (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT
);
