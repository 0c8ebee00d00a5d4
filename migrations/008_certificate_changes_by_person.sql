-- change_log.row_key held a changed certificate's serial, and change_log is kept: the
-- serials of every certificate ever changed stayed readable there for good.  A
-- certificate's entry names its person instead (as person_id does; followers read only
-- that), and the serials already recorded are replaced.
UPDATE change_log SET row_key = person_id::text WHERE table_name = 'certificates';

DROP TRIGGER certificates_inserted ON certificates;
DROP TRIGGER certificates_updated ON certificates;
DROP TRIGGER certificates_deleted ON certificates;
CREATE TRIGGER certificates_inserted AFTER INSERT ON certificates REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes('person_id', 'r.person_id');
CREATE TRIGGER certificates_updated AFTER UPDATE ON certificates
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes('person_id', 'r.person_id');
CREATE TRIGGER certificates_deleted AFTER DELETE ON certificates REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes('person_id', 'r.person_id');
