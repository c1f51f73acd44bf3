-- What changed between the latest audit of each domain and its last audit at or before $since:
-- findings that appeared (new) and that went away (resolved). Without an earlier audit every
-- finding of the latest one is new.
WITH ranked AS (
    SELECT DISTINCT domain, audit_id, audited_at FROM auth_checks
),
latest AS (
    SELECT domain, arg_max(audit_id, audited_at) AS audit_id FROM ranked GROUP BY domain
),
before AS (
    SELECT domain, arg_max(audit_id, audited_at) AS audit_id FROM ranked
    WHERE audited_at <= $since GROUP BY domain
),
now_f AS (
    SELECT f.domain, f.code, coalesce(f.subject, '') AS subject, f.severity, f.detail, f.fix
    FROM auth_findings f JOIN latest USING (domain, audit_id) WHERE f.severity <> 'ok'
),
then_f AS (
    SELECT f.domain, f.code, coalesce(f.subject, '') AS subject, f.severity, f.detail, f.fix
    FROM auth_findings f JOIN before USING (domain, audit_id) WHERE f.severity <> 'ok'
)
SELECT 'new' AS change, n.* FROM now_f n
WHERE NOT EXISTS (SELECT 1 FROM then_f t WHERE t.domain = n.domain AND t.code = n.code AND t.subject = n.subject)
UNION ALL
SELECT 'resolved' AS change, t.* FROM then_f t
WHERE EXISTS (SELECT 1 FROM latest l WHERE l.domain = t.domain)
  AND NOT EXISTS (SELECT 1 FROM now_f n WHERE n.domain = t.domain AND n.code = t.code AND n.subject = t.subject)
ORDER BY change, domain, code, subject
