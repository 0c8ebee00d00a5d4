-- The entities of CONTRACT.md §4, holding canonical (validated, normalised) values.
-- Writes go through `onshi import` or POST /v1/admin/upserts, which validate first;
-- the constraints here are the last line of defence, not the validator.

CREATE TABLE insurers (
    insurer_number          text PRIMARY KEY CHECK (insurer_number ~ '^([0-9]{6}|[0-9]{8})$'),
    name                    text NOT NULL,
    legacy_card_valid_until date
);

CREATE TABLE persons (
    person_id  bigint PRIMARY KEY CHECK (person_id > 0),
    name       text NOT NULL,
    name_kana  text,
    sex        smallint NOT NULL CHECK (sex IN (1, 2, 3)),
    birthdate  date NOT NULL
);

CREATE TABLE qualifications (
    qualification_id bigint PRIMARY KEY CHECK (qualification_id > 0),
    person_id        bigint NOT NULL REFERENCES persons,
    insurer_number   text NOT NULL REFERENCES insurers,
    symbol           text NOT NULL,          -- '' when the card has no symbol
    number           text NOT NULL,
    branch           text CHECK (branch ~ '^[0-9]{2}$'),
    relationship     smallint NOT NULL CHECK (relationship IN (1, 2)),
    acquired_on      date NOT NULL,
    lost_on          date,
    income_class     text NOT NULL DEFAULT 'general' CHECK (income_class IN ('general', 'middle', 'high')),
    limit_category   text
);
CREATE INDEX qualifications_person ON qualifications (person_id);
CREATE INDEX qualifications_key ON qualifications (insurer_number, symbol, number);

CREATE TABLE documents (
    document_id      bigint PRIMARY KEY CHECK (document_id > 0),
    qualification_id bigint NOT NULL REFERENCES qualifications,
    kind             text NOT NULL CHECK (kind IN ('legacy_card', 'eligibility_certificate', 'info_notice')),
    issued_on        date NOT NULL,
    valid_until      date,
    void_from        date
);
CREATE INDEX documents_qualification ON documents (qualification_id);

CREATE TABLE certificates (
    certificate_serial text PRIMARY KEY,
    person_id          bigint NOT NULL REFERENCES persons,
    issued_on          date NOT NULL,
    expires_on         date NOT NULL,
    revoked_on         date,
    face_only          boolean NOT NULL DEFAULT false
);
CREATE INDEX certificates_person ON certificates (person_id);

CREATE TABLE registrations (
    person_id                   bigint PRIMARY KEY REFERENCES persons,
    registered_on               date NOT NULL,
    deregistration_requested_on date
);

-- API keys are kept only as SHA-256 hashes (hex).
CREATE TABLE institutions (
    institution_code text PRIMARY KEY CHECK (institution_code ~ '^[0-9]{10}$'),
    name             text NOT NULL,
    api_key_sha256   text NOT NULL UNIQUE CHECK (api_key_sha256 ~ '^[0-9a-f]{64}$')
);
