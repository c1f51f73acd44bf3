-- Identifier domains seen in DMARC data that have no organizational domain yet.
WITH seen AS (
    SELECT header_from AS domain FROM dmarc_records
    UNION SELECT envelope_from FROM dmarc_records
    UNION SELECT unnest(dkim).domain FROM dmarc_records
    UNION SELECT unnest(spf).domain FROM dmarc_records
    UNION SELECT policy_domain FROM dmarc_reports
    UNION SELECT reported_domain FROM dmarc_failures
    UNION SELECT header_from FROM dmarc_failures
)
SELECT DISTINCT lower(trim(domain)) AS domain
FROM seen
WHERE domain IS NOT NULL AND trim(domain) <> '' AND strpos(domain, '.') > 0
  AND lower(trim(domain)) NOT IN (SELECT domain FROM domain_org)
ORDER BY 1
