-- Every committed change, in commit order, announced with NOTIFY onshi_changes.
--
-- Statement-level triggers with transition tables record one row per changed entity
-- row (its table and primary key); followers re-read those rows.  A bulk import sets
-- `onshi.bulk_import = on` for its transaction: the triggers then skip, and the
-- import writes a single entry with op 'import' (followers rebuild everything).
--
-- The trigger takes a self-conflicting lock on change_log, held until commit, so
-- writers are serialised and `seq` order is commit order: a follower reading
-- `seq > last_applied` can never skip an entry that commits late.

CREATE TABLE change_log (
    seq        bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    table_name text NOT NULL,
    op         text NOT NULL,          -- INSERT, UPDATE, DELETE or import
    row_key    text                    -- the primary key as text; null for an import
);

CREATE FUNCTION onshi_record_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_column text := TG_ARGV[0];
BEGIN
    IF current_setting('onshi.bulk_import', true) = 'on' THEN
        RETURN NULL;
    END IF;
    LOCK TABLE change_log IN SHARE ROW EXCLUSIVE MODE;
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('INSERT INTO change_log (table_name, op, row_key) SELECT %L, %L, (%I)::text FROM old_rows',
                       TG_TABLE_NAME, TG_OP, key_column);
    ELSE
        EXECUTE format('INSERT INTO change_log (table_name, op, row_key) SELECT %L, %L, (%I)::text FROM new_rows',
                       TG_TABLE_NAME, TG_OP, key_column);
    END IF;
    PERFORM pg_notify('onshi_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

DO $$
DECLARE
    entity record;
BEGIN
    FOR entity IN SELECT * FROM (VALUES
        ('insurers', 'insurer_number'), ('persons', 'person_id'),
        ('qualifications', 'qualification_id'), ('documents', 'document_id'),
        ('certificates', 'certificate_serial'), ('registrations', 'person_id'),
        ('institutions', 'institution_code')) AS t(name, key)
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes(%L)',
                       entity.name || '_inserted', entity.name, entity.key);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes(%L)',
                       entity.name || '_updated', entity.name, entity.key);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes(%L)',
                       entity.name || '_deleted', entity.name, entity.key);
    END LOOP;
END
$$;
