-- dmarc_records without its primary key index. A record's identity (report_key, record_no)
-- is made by the loader: a report is written once (its key is looked up first, and a
-- cleaner copy replaces the old one in the same transaction) and record_no is the record's
-- position in it. Keeping the index cost a tenth of a large report's load time (CPU) and
-- memory at every insert, for a check the loader already makes; queries never look a
-- single record up. DuckDB cannot drop a primary key in place: the table is copied (same
-- columns and types, in record order), its NOT NULL constraints set again, and renamed;
-- the views over it are bound by name and keep working.
CREATE TABLE dmarc_records_012 AS SELECT * FROM dmarc_records ORDER BY report_key, record_no;
ALTER TABLE dmarc_records_012 ALTER COLUMN report_key SET NOT NULL;
ALTER TABLE dmarc_records_012 ALTER COLUMN record_no SET NOT NULL;
ALTER TABLE dmarc_records_012 ALTER COLUMN count SET NOT NULL;
DROP TABLE dmarc_records;
ALTER TABLE dmarc_records_012 RENAME TO dmarc_records;
