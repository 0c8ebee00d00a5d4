-- Each worker appends its access records to a file of its own before the answer leaves
-- (service/accesslog.py), and saves each closed file into access_log in one transaction
-- that also records the file's name here: a file found again after a crash between that
-- commit and its deletion is recognised as saved, so no record is stored twice.  A row
-- is deleted once its file is gone.

CREATE TABLE access_log_files (
    name     text PRIMARY KEY,
    saved_at timestamptz NOT NULL DEFAULT now()
);
