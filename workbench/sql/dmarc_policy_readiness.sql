-- Per header_from domain: the published policy, and what failing DMARC today means if the
-- policy were p=quarantine or p=reject: our own mail that would be lost, forwarded mail
-- at risk, and other senders' mail that would be stopped (spoofing).
SELECT header_from, header_from_org,
       arg_max(p, end_ts) AS p, arg_max(sp, end_ts) AS sp, arg_max(pct, end_ts) AS pct,
       CAST(sum(count) AS BIGINT) AS messages,
       CAST(sum(count) FILTER (WHERE NOT dmarc_pass) AS BIGINT) AS failing,
       CAST(sum(count) FILTER (WHERE is_ours) AS BIGINT) AS ours,
       CAST(sum(count) FILTER (WHERE is_ours AND NOT dmarc_pass) AS BIGINT) AS ours_failing,
       CAST(sum(count) FILTER (WHERE NOT is_ours AND NOT dmarc_pass AND forwarded_reason) AS BIGINT) AS forwarded_failing,
       CAST(sum(count) FILTER (WHERE NOT is_ours AND NOT dmarc_pass AND NOT forwarded_reason) AS BIGINT) AS others_failing,
       CAST(sum(count) FILTER (WHERE NOT dmarc_pass AND disposition IN ('quarantine', 'reject')) AS BIGINT) AS already_acted_on
FROM dmarc_flow
WHERE day BETWEEN $start AND $end AND ($domain IS NULL OR header_from_org = $domain)
GROUP BY header_from, header_from_org
ORDER BY messages DESC
