-- KPI counts per slice. Portable SQL (SQL:2003 FILTER, date_trunc, coalesce); SQLGlot
-- transpiles it to Spark SQL.
--
-- Step 1 folds each message's events into one row (what happened to it). Step 2 sums those
-- rows per slice. A message belongs to the slice of its send: the time of its first MTA event
-- (injection, else its first deferral, delivery or bounce), its campaign, mailbox provider,
-- sending domain, IP and pool, taken from whichever of its events carry them (a SendGrid
-- injection has no IP, a tracking-spool open has no pool); the campaigns table fills in the
-- sending domain and pool that an ESP's events leave out. So the opens and complaints of a
-- Tuesday newsletter count on Tuesday, against Tuesday's deliveries, even when they come in
-- on Thursday.
--
-- Parameters: $start, $end: the send-time window [start, end); $scan_from, $scan_to: the
-- events read (a lookback before $start so that a message injected before the window is not
-- mistaken for one sent in it; an attribution window after $end for late engagement).
-- The markers below are replaced by workbench.analytics.dimensions with whitelisted SQL
-- expressions (the message columns a slice needs, e.g. `max(sending_ip) AS sending_ip`, its
-- dimensions, joins, filters and GROUP BY); values are always bound parameters.
WITH per_message AS (
    SELECT
        min(ts) FILTER (WHERE event_type IN ('injected', 'deferred', 'delivered', 'bounced', 'dropped')) AS sent_at,
        /* MESSAGE COLUMNS */
        count(*) FILTER (WHERE event_type = 'injected') AS injected,
        count(*) FILTER (WHERE event_type = 'delivered') AS delivered,
        count(*) FILTER (WHERE event_type = 'dropped') AS dropped,
        count(*) FILTER (WHERE event_type = 'bounced') AS bounced,
        count(*) FILTER (WHERE event_type = 'bounced' AND bounce_class = 'hard') AS hard_bounced,
        count(*) FILTER (WHERE event_type = 'bounced' AND bounce_class = 'soft') AS soft_bounced,
        count(*) FILTER (WHERE event_type = 'bounced' AND bounce_class = 'block') AS block_bounced,
        count(*) FILTER (WHERE event_type = 'deferred') AS deferrals,
        count(*) FILTER (WHERE event_type = 'opened') AS opens,
        count(*) FILTER (WHERE event_type = 'opened' AND NOT coalesce(is_machine, false)) AS human_opens,
        count(*) FILTER (WHERE event_type = 'clicked') AS clicks,
        count(*) FILTER (WHERE event_type = 'clicked' AND NOT coalesce(is_machine, false)) AS human_clicks,
        count(*) FILTER (WHERE event_type = 'complained') AS complaints,
        count(*) FILTER (WHERE event_type = 'unsubscribed') AS unsubscribes
    FROM events
    WHERE ts >= $scan_from AND ts < $scan_to
    -- one group per message; an event without a message id is a message of its own
    GROUP BY message_id, CASE WHEN message_id IS NULL THEN source_key END
)
SELECT
    /* DIMENSIONS */
    count(*) AS messages,
    coalesce(sum(m.injected), 0) AS sent,
    coalesce(sum(m.delivered), 0) AS delivered,
    coalesce(sum(m.dropped), 0) AS dropped,
    coalesce(sum(m.bounced), 0) AS bounced,
    coalesce(sum(m.hard_bounced), 0) AS hard_bounced,
    coalesce(sum(m.soft_bounced), 0) AS soft_bounced,
    coalesce(sum(m.block_bounced), 0) AS block_bounced,
    count(*) FILTER (WHERE m.deferrals > 0) AS deferred,
    coalesce(sum(m.deferrals), 0) AS deferrals,
    coalesce(sum(m.opens), 0) AS opens,
    count(*) FILTER (WHERE m.opens > 0) AS unique_opens,
    coalesce(sum(m.human_opens), 0) AS human_opens,
    count(*) FILTER (WHERE m.human_opens > 0) AS human_unique_opens,
    coalesce(sum(m.clicks), 0) AS clicks,
    count(*) FILTER (WHERE m.clicks > 0) AS unique_clicks,
    coalesce(sum(m.human_clicks), 0) AS human_clicks,
    count(*) FILTER (WHERE m.human_clicks > 0) AS human_unique_clicks,
    count(*) FILTER (WHERE m.complaints > 0) AS complaints,
    count(*) FILTER (WHERE m.unsubscribes > 0) AS unsubscribes
FROM per_message AS m
/* JOINS */
WHERE m.sent_at >= $start AND m.sent_at < $end
/* FILTERS */
/* GROUP BY */
