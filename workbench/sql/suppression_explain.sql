-- Every suppression of $address (active and lifted), with the event that caused it.
SELECT s.created_at, s.scope, s.reason, s.detail, s.source, s.created_by,
       s.lifted_at, s.lifted_by, s.lift_reason,
       e.ts AS event_at, e.event_type, e.source AS event_source, e.source_file AS event_file,
       e.campaign_id, e.message_id, e.sending_ip, e.diagnostic,
       s.suppression_id
FROM suppressions s
LEFT JOIN (
    SELECT * FROM events
    WHERE recipient = $address
       OR contact_id IN (SELECT contact_id FROM suppressions WHERE address = $address AND contact_id IS NOT NULL)
) e ON e.source_key::VARCHAR = s.source_key
WHERE s.address = $address
ORDER BY s.created_at
