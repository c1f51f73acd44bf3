-- SMTP TLS failures per receiving MX and failure type, with the policy's session totals.
SELECT coalesce(f.receiving_mx_hostname, array_to_string(p.mx_host, ','), p.policy_domain) AS mx,
       p.policy_domain, p.policy_type, f.result_type,
       CAST(sum(f.failed_sessions) AS BIGINT) AS failed_sessions, count(DISTINCT r.report_key) AS reports,
       string_agg(DISTINCT r.org_name, ', ') AS reporters,
       min(CAST(r.begin_ts AS DATE)) AS first_day, max(CAST(r.begin_ts AS DATE)) AS last_day
FROM tlsrpt_failures f
JOIN tlsrpt_policies p USING (report_key, policy_no)
JOIN tlsrpt_reports r USING (report_key)
WHERE CAST(r.begin_ts AS DATE) BETWEEN $start AND $end
GROUP BY ALL
ORDER BY failed_sessions DESC
