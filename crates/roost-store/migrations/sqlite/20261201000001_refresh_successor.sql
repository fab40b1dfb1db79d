-- The token a refresh token was rotated into. Written by the rotation itself, it lets the
-- statements that insert the new pair check that this rotation (and not a concurrent one) made
-- the claim, and it lets a retried rotation inside the configured grace window be recognised.
ALTER TABLE refresh_tokens ADD COLUMN successor_hash BLOB;
