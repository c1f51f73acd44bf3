-- The status grid of the latest audit of each domain: one row per domain x check.
WITH latest AS (
    SELECT domain, arg_max(audit_id, audited_at) AS audit_id FROM auth_checks GROUP BY domain
)
SELECT c.domain, c.check_name, c.status, c.audited_at, c.audit_id
FROM auth_checks c JOIN latest USING (domain, audit_id)
ORDER BY c.domain, c.check_name
