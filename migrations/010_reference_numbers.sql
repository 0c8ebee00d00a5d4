-- 照会番号: a clinic's own patient id (ReferenceNumber) for a person, registered with the
-- national messages OQSsiimm01 / OQSmuimm01 (docs/oqs.md) and returned in that
-- institution's answers only.  Followed like any change: change_log names the row by
-- `row_key` (institution and person), and followers re-read the changed rows.
--
-- No foreign keys: an import replaces persons and institutions wholesale (TRUNCATE),
-- and a clinic's registrations must outlive that; a row whose person is gone matches
-- no answer and costs nothing.

CREATE TABLE reference_numbers (
    institution_code text NOT NULL,
    person_id        bigint NOT NULL,
    reference_number text NOT NULL CHECK (char_length(reference_number) BETWEEN 1 AND 50),
    registered_at    timestamptz NOT NULL DEFAULT now(),
    row_key          text GENERATED ALWAYS AS (institution_code || ':' || person_id::text) STORED,
    PRIMARY KEY (institution_code, person_id)
);

CREATE INDEX reference_numbers_row_key ON reference_numbers (row_key);

-- person_of is NULL: a reference number changes no answer but its own institution's
-- reference_number, so no person is rebuilt for it.
CREATE TRIGGER reference_numbers_inserted AFTER INSERT ON reference_numbers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes('row_key', 'NULL');
CREATE TRIGGER reference_numbers_updated AFTER UPDATE ON reference_numbers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes('row_key', 'NULL');
CREATE TRIGGER reference_numbers_deleted AFTER DELETE ON reference_numbers
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onshi_record_changes('row_key', 'NULL');
