-- The audience: contacts (typed attributes + a JSON column for the rest), their lists and
-- consent, the history of every change, segments as data and their membership over time.

-- One row per person, keyed by contact_id; the normalised email is unique (kept so by the
-- import, which upserts by email). email: lower-case, Unicode NFC, IDN domain in Unicode;
-- email_ascii: the same with the domain in IDNA (xn--) form (events may carry either).
CREATE TABLE contacts (
    contact_id VARCHAR PRIMARY KEY,
    email VARCHAR NOT NULL,
    email_ascii VARCHAR,
    email_domain VARCHAR,
    is_role BOOLEAN NOT NULL DEFAULT false,        -- info@, postmaster@, sales@, ...
    is_disposable BOOLEAN NOT NULL DEFAULT false,  -- a throw-away mailbox provider
    first_name VARCHAR,
    last_name VARCHAR,
    age SMALLINT,
    birth_date DATE,
    gender VARCHAR,
    country VARCHAR,                               -- ISO 3166-1 alpha-2 when given so
    region VARCHAR,
    city VARCHAR,
    postal_code VARCHAR,
    language VARCHAR,
    phone VARCHAR,
    signup_at TIMESTAMP,
    signup_source VARCHAR,
    attributes JSON,                               -- every other column of the import, as text
    created_at TIMESTAMP NOT NULL,                 -- as of the import that created it
    updated_at TIMESTAMP NOT NULL,                 -- as of the import that last changed it
    source VARCHAR,                                -- the file (or frame) of that import
    first_source VARCHAR                           -- the import that created it
);

-- Every address a contact is known by (email and email_ascii), lower-case, for joining
-- events that carry a recipient but no contact id.
CREATE VIEW contact_keys AS
SELECT email AS address, contact_id FROM contacts
UNION
SELECT email_ascii AS address, contact_id FROM contacts WHERE email_ascii IS NOT NULL AND email_ascii <> email;

-- Subscription and consent per list. status: subscribed | unsubscribed.
CREATE TABLE contact_subscriptions (
    contact_id VARCHAR NOT NULL,
    list_name VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('subscribed', 'unsubscribed')),
    consent_at TIMESTAMP,                          -- when consent was given (signup, double opt-in)
    consent_source VARCHAR,                        -- how (website, checkout, ...)
    updated_at TIMESTAMP NOT NULL,
    source VARCHAR,
    PRIMARY KEY (contact_id, list_name)
);

-- The history of attribute and subscription changes (not only the latest value).
-- field: a column name, 'attributes.<key>' or 'list:<name>'.
CREATE TABLE contact_changes (
    contact_id VARCHAR NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    field VARCHAR NOT NULL,
    old_value VARCHAR,
    new_value VARCHAR,
    source VARCHAR
);

-- Rows of the import in progress (one file's transaction); emptied when it commits.
CREATE TABLE contact_import_staging (
    line_no BIGINT NOT NULL,
    contact_id VARCHAR,
    target_id VARCHAR,
    email VARCHAR NOT NULL,
    email_ascii VARCHAR,
    email_domain VARCHAR,
    is_role BOOLEAN,
    is_disposable BOOLEAN,
    first_name VARCHAR,
    last_name VARCHAR,
    age SMALLINT,
    birth_date DATE,
    gender VARCHAR,
    country VARCHAR,
    region VARCHAR,
    city VARCHAR,
    postal_code VARCHAR,
    language VARCHAR,
    phone VARCHAR,
    signup_at TIMESTAMP,
    signup_source VARCHAR,
    consent_at TIMESTAMP,
    attributes JSON,
    lists VARCHAR[],                               -- NULL: the file has no lists column
    as_of TIMESTAMP NOT NULL,                      -- the time the import speaks for
    source VARCHAR
);

-- Segments as data: the rule (JSON) and the SQL it compiles to.
CREATE TABLE segments (
    name VARCHAR PRIMARY KEY,
    description VARCHAR,
    definition JSON NOT NULL,
    definition_sha256 VARCHAR NOT NULL,
    compiled_sql VARCHAR,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Each materialisation: the membership as it was at as_of.
CREATE TABLE segment_runs (
    segment VARCHAR NOT NULL,
    as_of TIMESTAMP NOT NULL,
    materialised_at TIMESTAMP NOT NULL,
    definition_sha256 VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    joined BIGINT NOT NULL,
    left_ BIGINT NOT NULL,
    seconds DOUBLE,
    PRIMARY KEY (segment, as_of)
);

-- Membership intervals: the contact was a member from valid_from (the as_of of the run
-- that found it) until valid_to (the as_of of the first run that did not; NULL: still is).
-- KPIs read the interval holding each message's send time.
CREATE TABLE segment_members (
    segment VARCHAR NOT NULL,
    contact_id VARCHAR NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    valid_to TIMESTAMP
);
