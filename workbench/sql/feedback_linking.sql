-- Bounces and complaints from mail: how many were tied to one of our sends, and how.
SELECT 'bounce' AS kind, coalesce(link_method, 'unlinked') AS link_method, count(*) AS n
FROM bounces WHERE coalesce(received_at, sent_at) >= $start AND coalesce(received_at, sent_at) < $end GROUP BY ALL
UNION ALL
SELECT 'complaint', coalesce(link_method, 'unlinked'), count(*)
FROM complaints WHERE coalesce(received_at, arrival_date) >= $start AND coalesce(received_at, arrival_date) < $end GROUP BY ALL
ORDER BY kind, n DESC
