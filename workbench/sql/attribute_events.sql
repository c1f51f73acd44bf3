-- Attribute events that do not name their sending IP (MTA injection and feedback-loop records,
-- tracking opens and clicks, SendGrid 'processed') to the IP and pool of their message's first
-- delivery attempt, so that every per-IP and per-pool figure counts them.
UPDATE events AS e
SET sending_ip = a.sending_ip,
    ip_pool = coalesce(e.ip_pool, a.ip_pool)
FROM (
    SELECT message_id, recipient, arg_min(sending_ip, ts) AS sending_ip, arg_min(ip_pool, ts) AS ip_pool
    FROM events
    WHERE event_type IN ('delivered', 'deferred', 'bounced')
      AND sending_ip IS NOT NULL
      AND message_id IN (SELECT message_id FROM events WHERE sending_ip IS NULL AND message_id IS NOT NULL)
    GROUP BY 1, 2
) AS a
WHERE e.sending_ip IS NULL
  AND e.message_id = a.message_id
  AND e.recipient = a.recipient
