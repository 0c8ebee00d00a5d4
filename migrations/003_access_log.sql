-- One record per confirmation (batch items included), for the member's
-- "who looked at my data" view.  Never raw identifiers (symbol, number, serial):
-- only the internal ids the confirmation resolved to.
-- Partitioned by month; the writer creates each month's partition before its
-- first COPY into it (onshi_access_log_partition), so no default partition is needed.

CREATE TABLE access_log (
    at               timestamptz NOT NULL,
    institution_code text NOT NULL,
    presented        text NOT NULL,
    code             text NOT NULL,
    request_id       text NOT NULL,
    person_id        bigint,
    qualification_id bigint
) PARTITION BY RANGE (at);

CREATE FUNCTION onshi_access_log_partition(month date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', month)::date;
BEGIN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF access_log FOR VALUES FROM (%L) TO (%L)',
                   'access_log_' || to_char(first, 'YYYY_MM'), first, (first + interval '1 month')::date);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (person_id, at DESC)',
                   'access_log_' || to_char(first, 'YYYY_MM') || '_person',
                   'access_log_' || to_char(first, 'YYYY_MM'));
END
$$;
