-- Decide undecided clicks: a click within $seconds of its message's delivery is a link
-- scanner's (Safe Links, gateways), not a person's. Clicks whose delivery is not loaded yet
-- stay undecided (NULL) for a later pass.
UPDATE events AS c
SET is_machine = (c.ts - d.delivered_at) < to_seconds($seconds)
FROM (
    SELECT message_id, recipient, min(ts) AS delivered_at
    FROM events
    WHERE event_type = 'delivered'
      AND message_id IN (SELECT message_id FROM events WHERE event_type = 'clicked' AND is_machine IS NULL)
    GROUP BY 1, 2
) AS d
WHERE c.event_type = 'clicked'
  AND c.is_machine IS NULL
  AND c.message_id = d.message_id
  AND c.recipient = d.recipient
