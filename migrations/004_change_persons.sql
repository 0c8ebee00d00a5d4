-- Each change_log entry also names the person the changed row belongs to, before
-- and after the change (an UPDATE writes one entry for the old row and one for the
-- new).  A follower then rebuilds just those persons from the database instead of
-- holding every row in memory (service/db/overlay.py).  Insurers and institutions
-- belong to nobody: person_id is null.

ALTER TABLE change_log ADD COLUMN person_id bigint;

CREATE OR REPLACE FUNCTION onshi_record_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_column text := TG_ARGV[0];
    person_of  text := TG_ARGV[1];  -- SQL giving the person of transition row r, or NULL
    insert_sql text := 'INSERT INTO change_log (table_name, op, row_key, person_id) '
                       'SELECT %L, %L, (r.%I)::text, %s FROM %I r';
BEGIN
    IF current_setting('onshi.bulk_import', true) = 'on' THEN
        RETURN NULL;
    END IF;
    LOCK TABLE change_log IN SHARE ROW EXCLUSIVE MODE;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format(insert_sql, TG_TABLE_NAME, TG_OP, key_column, person_of, 'old_rows');
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        EXECUTE format(insert_sql, TG_TABLE_NAME, TG_OP, key_column, person_of, 'new_rows');
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
        ('insurers', 'insurer_number', 'NULL'),
        ('persons', 'person_id', 'r.person_id'),
        ('qualifications', 'qualification_id', 'r.person_id'),
        ('documents', 'document_id',
         '(SELECT q.person_id FROM qualifications q WHERE q.qualification_id = r.qualification_id)'),
        ('certificates', 'certificate_serial', 'r.person_id'),
        ('registrations', 'person_id', 'r.person_id'),
        ('institutions', 'institution_code', 'NULL')) AS t(name, key, person_of)
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', entity.name || '_inserted', entity.name);
        EXECUTE format('DROP TRIGGER %I ON %I', entity.name || '_updated', entity.name);
        EXECUTE format('DROP TRIGGER %I ON %I', entity.name || '_deleted', entity.name);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes(%L, %L)',
                       entity.name || '_inserted', entity.name, entity.key, entity.person_of);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I '
                       'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes(%L, %L)',
                       entity.name || '_updated', entity.name, entity.key, entity.person_of);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes(%L, %L)',
                       entity.name || '_deleted', entity.name, entity.key, entity.person_of);
    END LOOP;
END
$$;
