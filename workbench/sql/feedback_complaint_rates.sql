-- Complaints against deliveries by period and dimension (every source: FBL mail, MTA FBL
-- records, ESP webhooks). A complaint counts in the period it was reported; a recipient who
-- complains twice about one message counts once. $by and $period as in feedback_bounce_reasons.
WITH scoped AS (
    SELECT date_trunc($period, e.ts)::DATE AS period,
           coalesce(CASE $by WHEN 'provider' THEN e.mailbox_provider WHEN 'ip' THEN e.sending_ip
                             WHEN 'pool' THEN e.ip_pool WHEN 'campaign' THEN e.campaign_id
                             WHEN 'domain' THEN e.sending_domain WHEN 'stream' THEN c.stream END, '(unknown)') AS dimension,
           e.event_type, e.message_id, coalesce(e.recipient, e.contact_id) AS who
    FROM events e
    LEFT JOIN campaigns c ON c.campaign_id = e.campaign_id
    WHERE e.ts >= $start AND e.ts < $end AND e.event_type IN ('delivered', 'complained')
)
SELECT period, dimension,
       count(*) FILTER (WHERE event_type = 'delivered') AS delivered,
       count(DISTINCT (message_id, who)) FILTER (WHERE event_type = 'complained') AS complaints
FROM scoped
GROUP BY ALL
ORDER BY period, dimension
