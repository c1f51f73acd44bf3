-- Per contact: its deliveries and human engagement (opens and clicks, Apple MPP prefetches
-- and link scanners excluded) before $as_of. Events are tied to contacts by their contact id
-- when it is a stored contact's, else by recipient address (as segment rules do).
-- Parameters: $as_of, $recent_from (start of the "recent" delivery count).
WITH grouped AS (
    SELECT contact_id, recipient,
           max(ts) FILTER (WHERE event_type IN ('opened', 'clicked') AND NOT coalesce(is_machine, false)) AS last_engaged,
           min(ts) FILTER (WHERE event_type = 'delivered') AS first_delivered,
           max(ts) FILTER (WHERE event_type = 'delivered') AS last_delivered,
           count(*) FILTER (WHERE event_type = 'delivered') AS delivered,
           count(*) FILTER (WHERE event_type = 'delivered' AND ts >= $recent_from) AS delivered_recent,
           count(*) FILTER (WHERE event_type = 'complained') AS complaints
    FROM events
    WHERE ts < $as_of AND event_type IN ('delivered', 'opened', 'clicked', 'complained')
    GROUP BY contact_id, recipient
)
SELECT coalesce(ci.contact_id, ka.contact_id, ku.contact_id) AS contact_id,
       max(g.last_engaged) AS last_engaged, min(g.first_delivered) AS first_delivered,
       max(g.last_delivered) AS last_delivered, sum(g.delivered) AS delivered,
       sum(g.delivered_recent) AS delivered_recent, sum(g.complaints) AS complaints
FROM grouped g
LEFT JOIN contacts ci ON ci.contact_id = g.contact_id
LEFT JOIN contacts ka ON ci.contact_id IS NULL AND ka.email_ascii = lower(g.recipient)
LEFT JOIN contacts ku ON ci.contact_id IS NULL AND ka.contact_id IS NULL AND ku.email = lower(g.recipient)
WHERE coalesce(ci.contact_id, ka.contact_id, ku.contact_id) IS NOT NULL
GROUP BY 1
