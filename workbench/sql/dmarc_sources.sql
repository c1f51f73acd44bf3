-- Every source seen sending as our domains: volume, DMARC passes, reverse DNS and kind
-- (ours: in the ips table; known service: a sending service by its PTR; unknown).
SELECT source_ip, any_value(ptr) AS ptr, any_value(rdns_service) AS service, any_value(source_kind) AS source_kind,
       any_value(ip_pool) AS ip_pool, string_agg(DISTINCT header_from, ', ' ORDER BY header_from) AS header_from,
       CAST(sum(count) AS BIGINT) AS messages, CAST(sum(count) FILTER (WHERE dmarc_pass) AS BIGINT) AS passed,
       CAST(sum(count) FILTER (WHERE policy_spf = 'pass') AS BIGINT) AS spf_aligned,
       CAST(sum(count) FILTER (WHERE policy_dkim = 'pass') AS BIGINT) AS dkim_aligned,
       count(DISTINCT reporter) AS reporters, min(day) AS first_day, max(day) AS last_day
FROM dmarc_flow
WHERE day BETWEEN $start AND $end
  AND ($domain IS NULL OR header_from_org = $domain)
GROUP BY source_ip
ORDER BY messages DESC
