-- An institution's own request rate (per second), in place of ONSHI_RATE_LIMIT: a large
-- pharmacy chain's terminal may need more, a clinic that misbehaved less. NULL: the default.
ALTER TABLE institutions ADD COLUMN rate_limit bigint;
