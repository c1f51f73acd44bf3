-- The next messages of a campaign that may go out now: planned, and due (a retry's
-- next_attempt_at passed), oldest first.
SELECT ledger_key, message_id, contact_id, recipient, mailbox_provider, attributes, attempts
FROM send_ledger
WHERE campaign_id = $c
  AND status = 'planned'
  AND coalesce(next_attempt_at, planned_at) <= $now
ORDER BY coalesce(next_attempt_at, planned_at), ledger_key
LIMIT $n
