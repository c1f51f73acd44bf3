-- Every audit run with its counts of findings by severity, oldest first.
SELECT a.audit_id, a.started_at, a.finished_at, a.resolver, a.domains,
       count(f.code) FILTER (WHERE f.severity = 'error') AS errors,
       count(f.code) FILTER (WHERE f.severity = 'warning') AS warnings,
       count(f.code) FILTER (WHERE f.severity = 'info') AS infos
FROM auth_audits a LEFT JOIN auth_findings f USING (audit_id)
GROUP BY ALL
ORDER BY a.started_at
