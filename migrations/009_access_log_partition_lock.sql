-- Two workers saving access records of a new month at once both ran CREATE TABLE IF NOT
-- EXISTS for its partition, and the second failed with duplicate_table (IF NOT EXISTS
-- does not serialise concurrent creators): its records then waited for the next cycle,
-- or, at a stop, for the next start. The creation now takes a transaction-scoped
-- advisory lock first, so the second caller finds the partition made.
CREATE OR REPLACE FUNCTION onshi_access_log_partition(month date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', month)::date;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('onshi_access_log_partition'));
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF access_log FOR VALUES FROM (%L) TO (%L)',
                   'access_log_' || to_char(first, 'YYYY_MM'), first, (first + interval '1 month')::date);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (person_id, at DESC)',
                   'access_log_' || to_char(first, 'YYYY_MM') || '_person',
                   'access_log_' || to_char(first, 'YYYY_MM'));
END
$$;
