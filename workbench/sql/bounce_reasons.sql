-- Bounces and deferrals by class, reason, provider and enhanced status over the send-time
-- window [$start, $end): what the receiving servers said, most frequent first, with one
-- example of the diagnostic text. Portable SQL (min() as the example picker). Missing
-- values take the words the rest of the workbench uses: reason 'undefined' (Sisimai's),
-- class 'undetermined' (as feedback_bounce_reasons.sql and the bounce-text refinement).
SELECT
    event_type,
    coalesce(bounce_class, 'undetermined') AS bounce_class,
    coalesce(bounce_reason, 'undefined') AS bounce_reason,
    mailbox_provider AS provider,
    enhanced_status,
    count(*) AS events,
    count(DISTINCT message_id) AS messages,
    min(diagnostic) AS example
FROM events
WHERE event_type IN ('bounced', 'deferred')
  AND ts >= $start AND ts < $end
GROUP BY event_type, coalesce(bounce_class, 'undetermined'), coalesce(bounce_reason, 'undefined'),
    mailbox_provider, enhanced_status
ORDER BY events DESC
LIMIT $limit
