-- dmarc_records without its primary key index. A record's identity (report_key, record_no)
-- is made by the loader: a report is written once (its key is looked up first, and a
-- cleaner copy replaces the old one in the same transaction) and record_no is the record's
-- position in it. Keeping the index cost a tenth of a large report's load time (CPU) and
-- memory at every insert, for a check the loader already makes; queries never look a
-- single record up. The table is rebuilt as it was, less the index (DuckDB cannot drop a
-- primary key in place); the views over it are bound by name and keep working.
CREATE TABLE dmarc_records_012 (
    report_key VARCHAR NOT NULL,
    record_no INTEGER NOT NULL,
    source_ip VARCHAR,
    count BIGINT NOT NULL,
    disposition VARCHAR,
    policy_dkim VARCHAR,                -- policy_evaluated: aligned DKIM pass/fail
    policy_spf VARCHAR,                 -- policy_evaluated: aligned SPF pass/fail
    reason_types VARCHAR[],             -- forwarded, mailing_list, local_policy, ...
    reason_comments VARCHAR[],
    header_from VARCHAR,
    envelope_from VARCHAR,
    envelope_to VARCHAR,
    dkim STRUCT(domain VARCHAR, selector VARCHAR, result VARCHAR, human_result VARCHAR)[],
    spf STRUCT(domain VARCHAR, scope VARCHAR, result VARCHAR, human_result VARCHAR)[],
    extensions VARCHAR
);
INSERT INTO dmarc_records_012 SELECT * FROM dmarc_records ORDER BY report_key, record_no;
DROP TABLE dmarc_records;
ALTER TABLE dmarc_records_012 RENAME TO dmarc_records;
