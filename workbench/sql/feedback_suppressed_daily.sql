-- Suppressions created per day (by the day of the event that caused them, else when they
-- were made), by reason and scope, and how many of them are lifted since.
SELECT coalesce(event_at, created_at)::DATE AS day, reason, scope,
       count(*) AS suppressed,
       count(*) FILTER (WHERE lifted_at IS NOT NULL) AS lifted
FROM suppressions
WHERE coalesce(event_at, created_at) >= $start AND coalesce(event_at, created_at) < $end
GROUP BY ALL
ORDER BY day, reason, scope
