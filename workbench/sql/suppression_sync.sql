-- Suppress the addresses that events say must not be mailed again (idempotent: an address
-- is suppressed once per scope while active, by its earliest event; a lifted suppression
-- stays lifted until an event newer than the lift):
--   complained (any source: ARF / JMRP mail, PowerMTA / KumoMTA FBL records, SendGrid, SES)
--     -> global, reason complaint;
--   bounced with bounce_class 'hard' -> global, reason hard-bounce;
--   unsubscribed -> the list of the campaign (campaigns.stream), else global;
--   soft bounces: the policy's N soft bounces in a row (no delivery between them) within
--     M days -> global, reason soft-bounce (store_meta suppression.soft_count / soft_days,
--     default 3 within 30 days).
INSERT INTO suppressions BY NAME
WITH policy AS (
    SELECT coalesce(max(CASE WHEN key = 'suppression.soft_count' THEN value END)::INTEGER, 3) AS soft_count,
           coalesce(max(CASE WHEN key = 'suppression.soft_days' THEN value END)::INTEGER, 30) AS soft_days
    FROM store_meta
), addresses AS (
    SELECT contact_id, max_by(recipient, ts) AS recipient
    FROM events
    WHERE event_type = 'injected' AND contact_id IS NOT NULL
      AND contact_id IN (SELECT contact_id FROM events WHERE event_type IN ('complained', 'unsubscribed')
                         AND recipient IS NULL AND contact_id IS NOT NULL)
    GROUP BY contact_id
), direct AS (
    SELECT coalesce(e.recipient, a.recipient) AS address,
           e.contact_id,
           CASE WHEN e.event_type = 'unsubscribed' THEN coalesce(c.stream, 'global') ELSE 'global' END AS scope,
           CASE e.event_type WHEN 'complained' THEN 'complaint' WHEN 'unsubscribed' THEN 'unsubscribe'
                ELSE 'hard-bounce' END AS reason,
           CASE WHEN e.event_type = 'bounced'
                THEN concat_ws(' ', e.bounce_reason, e.enhanced_status, left(e.diagnostic, 200))
                ELSE concat_ws(' ', e.source, e.campaign_id, e.user_agent) END AS detail,
           e.source_key::VARCHAR AS source_key,
           e.ts AS event_at
    FROM events e
    LEFT JOIN campaigns c ON c.campaign_id = e.campaign_id
    LEFT JOIN addresses a ON a.contact_id = e.contact_id AND e.recipient IS NULL
    WHERE e.event_type IN ('complained', 'unsubscribed')
       OR (e.event_type = 'bounced' AND e.bounce_class = 'hard')
), outcomes AS (
    SELECT recipient, contact_id, ts, source_key, bounce_reason, enhanced_status,
           event_type = 'bounced' AND bounce_class = 'soft' AS soft
    FROM events
    WHERE event_type IN ('delivered', 'bounced')
      AND recipient IN (SELECT recipient FROM events WHERE event_type = 'bounced' AND bounce_class = 'soft')
), runs AS (
    SELECT *, sum(CASE WHEN soft THEN 0 ELSE 1 END) OVER (PARTITION BY recipient ORDER BY ts, source_key
                                                          ROWS UNBOUNDED PRECEDING) AS run
    FROM outcomes
), softs AS (
    SELECT * FROM runs WHERE soft
), counted AS (
    SELECT s2.recipient, s2.contact_id, s2.ts, s2.source_key, s2.bounce_reason, s2.enhanced_status, s2.run,
           count(*) AS n
    FROM softs s2
    JOIN softs s1 ON s1.recipient = s2.recipient AND s1.run = s2.run AND s1.ts <= s2.ts
    CROSS JOIN policy p
    WHERE s1.ts >= s2.ts - to_days(p.soft_days)
    GROUP BY ALL
), soft AS (
    SELECT c.recipient AS address, c.contact_id, 'global' AS scope, 'soft-bounce' AS reason,
           concat(c.n::VARCHAR, ' soft bounces in a row within ', p.soft_days::VARCHAR, ' days (last: ',
                  concat_ws(' ', c.bounce_reason, c.enhanced_status), ')') AS detail,
           c.source_key::VARCHAR AS source_key, c.ts AS event_at
    FROM counted c CROSS JOIN policy p
    WHERE c.n >= p.soft_count
    QUALIFY row_number() OVER (PARTITION BY c.recipient, c.run ORDER BY c.ts) = 1
), found AS (
    SELECT lower(address) AS address, contact_id, scope, reason, detail, source_key, event_at FROM direct
    UNION ALL
    SELECT lower(address), contact_id, scope, reason, detail, source_key, event_at FROM soft
), fresh AS (
    -- an address already suppressed for the scope (or globally) is not suppressed twice, and
    -- an event from before a lift does not undo the lift
    SELECT f.* FROM found f
    WHERE (f.address IS NOT NULL OR f.contact_id IS NOT NULL)
      AND NOT EXISTS (
          SELECT 1 FROM suppressions s
          WHERE (s.address = f.address OR (f.address IS NULL AND s.contact_id = f.contact_id))
            AND ((s.lifted_at IS NULL AND (s.scope = 'global' OR s.scope = f.scope))
                 OR (s.lifted_at IS NOT NULL AND s.scope = f.scope AND f.event_at <= s.lifted_at)))
      AND NOT EXISTS (  -- a list's suppression after a global one of the same batch adds nothing
          SELECT 1 FROM found g
          WHERE f.scope <> 'global' AND g.scope = 'global' AND g.event_at <= f.event_at
            AND (g.address = f.address OR (f.address IS NULL AND g.contact_id = f.contact_id)))
    QUALIFY row_number() OVER (PARTITION BY coalesce(f.address, f.contact_id), f.scope
                               ORDER BY f.event_at, f.reason, f.source_key) = 1
)
SELECT md5(concat_ws('|', coalesce(address, ''), coalesce(contact_id, ''), scope, reason, source_key)) AS suppression_id,
       address, contact_id, scope, reason, detail, 'events' AS source, source_key, event_at,
       event_at AS created_at, 'workbench sync' AS created_by
FROM fresh
ON CONFLICT DO NOTHING;
