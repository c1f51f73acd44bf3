-- Sources that are not ours (not in the ips table) sending as our domains, by volume:
-- spoofing, forgotten services and forwarders. passed > 0 means they hold our keys or SPF.
SELECT source_ip, any_value(ptr) AS ptr, any_value(rdns_service) AS service, any_value(source_kind) AS source_kind,
       string_agg(DISTINCT header_from, ', ' ORDER BY header_from) AS header_from,
       CAST(sum(count) AS BIGINT) AS messages, CAST(sum(count) FILTER (WHERE dmarc_pass) AS BIGINT) AS passed,
       CAST(sum(count) FILTER (WHERE disposition IN ('quarantine', 'reject')) AS BIGINT) AS acted_on,
       bool_or(forwarded_reason) AS forwarded_reason,
       count(DISTINCT reporter) AS reporters, min(day) AS first_day, max(day) AS last_day
FROM dmarc_flow
WHERE NOT is_ours AND day BETWEEN $start AND $end AND ($domain IS NULL OR header_from_org = $domain)
GROUP BY source_ip
ORDER BY messages DESC
LIMIT $limit
