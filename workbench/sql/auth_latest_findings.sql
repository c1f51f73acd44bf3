-- The findings of the latest audit of each domain, worst first ($min_severity: ok, info, warning, error).
WITH latest AS (
    SELECT domain, arg_max(audit_id, audited_at) AS audit_id FROM auth_checks GROUP BY domain
)
SELECT f.domain, f.check_name, f.code, f.severity, f.subject, f.detail, f.fix, f.audited_at
FROM auth_findings f JOIN latest USING (domain, audit_id)
WHERE list_position(['ok', 'info', 'warning', 'error'], f.severity)
      >= list_position(['ok', 'info', 'warning', 'error'], coalesce($min_severity, 'info'))
ORDER BY list_position(['ok', 'info', 'warning', 'error'], f.severity) DESC, f.domain, f.code, f.subject
