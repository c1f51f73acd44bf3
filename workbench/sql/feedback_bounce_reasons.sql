-- Bounces (and, with $deferred, deferrals) by period, dimension and reason, every source:
-- send logs and bounce mail. $by: provider, ip, pool, campaign, domain (sending), stream.
-- $period: day, week or month. Window: [$start, $end).
SELECT date_trunc($period, e.ts)::DATE AS period,
       coalesce(CASE $by WHEN 'provider' THEN e.mailbox_provider WHEN 'ip' THEN e.sending_ip
                         WHEN 'pool' THEN e.ip_pool WHEN 'campaign' THEN e.campaign_id
                         WHEN 'domain' THEN e.sending_domain WHEN 'stream' THEN c.stream END, '(unknown)') AS dimension,
       coalesce(e.bounce_reason, 'undefined') AS reason,
       coalesce(e.bounce_class, 'undetermined') AS bounce_class,
       count(*) AS bounces
FROM events e
LEFT JOIN campaigns c ON c.campaign_id = e.campaign_id
WHERE e.ts >= $start AND e.ts < $end
  AND (e.event_type = 'bounced' OR ($deferred AND e.event_type = 'deferred'))
GROUP BY ALL
ORDER BY period, dimension, bounces DESC
