-- Is each of $addresses (with $contacts, same order) suppressed for the list $list?
-- Global suppressions apply to every list; a list's own only to it; $list NULL: global only.
WITH asked AS (
    SELECT a.i, a.address, lower(trim(a.address, ' <>')) AS normal, c.contact_id
    FROM (SELECT unnest($addresses::VARCHAR[]) AS address, generate_subscripts($addresses::VARCHAR[], 1) AS i) a
    JOIN (SELECT unnest($contacts::VARCHAR[]) AS contact_id, generate_subscripts($contacts::VARCHAR[], 1) AS i) c
      USING (i)
), active AS (
    SELECT * FROM active_suppressions WHERE scope = 'global' OR scope = $list
), hits AS (
    SELECT q.i, s.scope, s.reason, s.created_at, s.suppression_id
    FROM asked q JOIN active s ON s.address = q.normal
    UNION ALL
    SELECT q.i, s.scope, s.reason, s.created_at, s.suppression_id
    FROM asked q JOIN active s ON q.contact_id <> '' AND s.contact_id = q.contact_id
), first_hit AS (
    SELECT i, arg_min(scope, created_at) AS scope, arg_min(reason, created_at) AS reason,
           min(created_at) AS since, arg_min(suppression_id, created_at) AS suppression_id
    FROM hits GROUP BY i
)
SELECT q.address, f.i IS NOT NULL AS suppressed, f.scope, f.reason, f.since, f.suppression_id
FROM asked q LEFT JOIN first_hit f USING (i)
ORDER BY q.i
