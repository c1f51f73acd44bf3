-- Why SPF and DKIM fail DMARC alignment, in messages per header_from domain and kind of source:
-- spf: fail (SPF itself failed), unaligned (SPF passed for another domain), none (no result);
-- dkim: same, from the DKIM results.
WITH r AS (
    SELECT header_from, source_kind, count, policy_spf, policy_dkim,
           list_filter(spf, lambda s: s.result = 'pass') AS spf_pass,
           list_filter(dkim, lambda k: k.result = 'pass') AS dkim_pass,
           coalesce(len(spf), 0) AS spf_n, coalesce(len(dkim), 0) AS dkim_n
    FROM dmarc_flow
    WHERE day BETWEEN $start AND $end AND ($domain IS NULL OR header_from_org = $domain)
)
SELECT header_from, source_kind, 'spf' AS method,
       CASE WHEN spf_n = 0 THEN 'none' WHEN len(spf_pass) > 0 THEN 'unaligned' ELSE 'fail' END AS failure,
       CAST(sum(count) AS BIGINT) AS messages
FROM r WHERE coalesce(policy_spf, 'fail') <> 'pass' GROUP BY ALL
UNION ALL
SELECT header_from, source_kind, 'dkim',
       CASE WHEN dkim_n = 0 THEN 'none' WHEN len(dkim_pass) > 0 THEN 'unaligned' ELSE 'fail' END,
       CAST(sum(count) AS BIGINT)
FROM r WHERE coalesce(policy_dkim, 'fail') <> 'pass' GROUP BY ALL
ORDER BY messages DESC
