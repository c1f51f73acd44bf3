-- SMTP TLS sessions per day and policy domain: successes and failures as reported.
SELECT CAST(r.begin_ts AS DATE) AS day, p.policy_domain, p.policy_type,
       CAST(sum(p.successful_sessions) AS BIGINT) AS successful_sessions, CAST(sum(p.failed_sessions) AS BIGINT) AS failed_sessions
FROM tlsrpt_policies p JOIN tlsrpt_reports r USING (report_key)
WHERE CAST(r.begin_ts AS DATE) BETWEEN $start AND $end
GROUP BY ALL
ORDER BY day, policy_domain
