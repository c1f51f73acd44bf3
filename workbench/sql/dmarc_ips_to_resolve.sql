-- Source IPs of DMARC data without a cached reverse-DNS answer.
SELECT DISTINCT source_ip AS ip
FROM (SELECT source_ip FROM dmarc_records UNION SELECT source_ip FROM dmarc_failures)
WHERE source_ip IS NOT NULL AND source_ip NOT IN (SELECT ip FROM ip_rdns)
ORDER BY 1
