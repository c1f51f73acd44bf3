-- Mail that reached receivers through forwarders and lists: the override reason says so, or
-- a source not ours failed SPF while an aligned DKIM signature of ours still passed.
SELECT day, header_from, coalesce(array_to_string(reason_types, ','),
       CASE WHEN policy_dkim = 'pass' THEN 'dkim survived' ELSE 'unmarked' END) AS how,
       CAST(sum(count) AS BIGINT) AS messages, CAST(sum(count) FILTER (WHERE dmarc_pass) AS BIGINT) AS passed
FROM dmarc_flow
WHERE day BETWEEN $start AND $end AND ($domain IS NULL OR header_from_org = $domain)
  AND (forwarded_reason OR (NOT is_ours AND policy_spf <> 'pass' AND policy_dkim = 'pass'))
GROUP BY ALL
ORDER BY day, messages DESC
