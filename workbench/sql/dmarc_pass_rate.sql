-- Messages and DMARC passes per day and header_from domain (with its organizational domain).
-- $start, $end: dates (inclusive); $domain: an organizational domain, or NULL for all.
SELECT day, header_from_org, header_from,
       CAST(sum(count) AS BIGINT) AS messages,
       CAST(sum(count) FILTER (WHERE dmarc_pass) AS BIGINT) AS passed,
       CAST(sum(count) FILTER (WHERE policy_dkim = 'pass') AS BIGINT) AS dkim_aligned,
       CAST(sum(count) FILTER (WHERE policy_spf = 'pass') AS BIGINT) AS spf_aligned
FROM dmarc_flow
WHERE day BETWEEN $start AND $end
  AND ($domain IS NULL OR header_from_org = $domain)
GROUP BY ALL
ORDER BY day, messages DESC
