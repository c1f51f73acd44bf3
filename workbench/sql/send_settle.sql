-- Record the outcomes of claimed messages (registered as `outcomes`): the new status, the
-- reply, when to try again (planned) or when it ended (sent, failed, suppressed, uncertain).
UPDATE send_ledger
SET status = o.status,
    smtp_code = coalesce(o.smtp_code, send_ledger.smtp_code),
    detail = o.detail,
    next_attempt_at = o.next_attempt_at,
    finished_at = CASE WHEN o.status IN ('sent', 'failed', 'suppressed', 'uncertain') THEN $now END
FROM outcomes o
WHERE send_ledger.ledger_key = o.ledger_key
