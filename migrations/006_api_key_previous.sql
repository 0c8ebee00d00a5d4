-- An institution's previous API key, still accepted while a rotation overlaps: set it to
-- the old key together with the new api_key, and clear it to revoke the old one.
ALTER TABLE institutions ADD COLUMN api_key_previous_sha256 text;
