-- Reports read from a plain report file large enough to be hashed while it loaded (over
-- 16 MiB) were stored with an empty content_sha256 (fixed in the loader). Such a report's
-- document is the file itself, so its hash is the file's, recorded in loaded_files; it is
-- filled in where that file is known by exactly one hash. Others stay empty (their only
-- effect: a later copy of the report in other bytes is noted as "other content").
UPDATE dmarc_reports SET content_sha256 = lf.content_sha256
FROM (SELECT path, any_value(content_sha256) AS content_sha256 FROM loaded_files
      GROUP BY path HAVING count(DISTINCT content_sha256) = 1) AS lf
WHERE dmarc_reports.content_sha256 = '' AND dmarc_reports.source_part IS NULL AND lf.path = dmarc_reports.source_file;
