-- Bulk jobs (POST /v1/bulk, OQSmuquc01/02, OQSmuimm01/02) when a server follows a database:
-- any replica can answer a poll and take over a job whose worker stopped (service/bulkdb.py).
-- Removed 24 hours after acceptance (the lines go with their job).  Not entities: no
-- change_log triggers.

CREATE TABLE bulk_jobs (
    id               text PRIMARY KEY,
    institution_code text NOT NULL,
    kind             text NOT NULL,
    items            integer NOT NULL,
    processed        integer NOT NULL DEFAULT 0,
    status           text NOT NULL,
    accepted_at      timestamptz NOT NULL DEFAULT now(),
    request_id       text NOT NULL,
    common           bytea NOT NULL,      -- the items' common fields, one JSON document
    lease_until      timestamptz          -- the deciding worker holds the job until then
);

CREATE INDEX bulk_jobs_accepted_at ON bulk_jobs (accepted_at);

-- One accepted item (kind 0) or one result (kind 1) a row, numbered from 0 in order.
CREATE TABLE bulk_lines (
    job_id text NOT NULL REFERENCES bulk_jobs (id) ON DELETE CASCADE,
    kind   smallint NOT NULL,
    n      integer NOT NULL,
    line   bytea NOT NULL,
    PRIMARY KEY (job_id, kind, n)
);
