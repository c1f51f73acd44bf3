-- Tie bounces and complaints not linked yet to the message we sent, and copy what that tells
-- (campaign, contact, sending IP and domain) to them and to their events.
-- Matching, best first: the Message-ID and recipient; the campaign (trace header, Feedback-ID)
-- and recipient or contact; the recipient's latest send before the report.
-- Runs after every load (workbench.store.loading.finish_loads): rows that matched nothing stay
-- linked = false and are tried again, so mail loaded before its send logs links later.
-- The sending IP is the send's, or its first delivery attempt's (MTAs that log injection
-- without the IP).

-- The sends that pending bounces and complaints may answer (by Message-ID, recipient or
-- contact), read from events once for both: each injection with its sending IP, or its first
-- delivery attempt's.
CREATE OR REPLACE TEMP TABLE link_sent AS
WITH pending AS (
    SELECT message_id, recipient, NULL::VARCHAR AS contact_id FROM bounces WHERE NOT coalesce(linked, false)
    UNION ALL
    SELECT message_id, recipient, contact_id FROM complaints WHERE NOT coalesce(linked, false)
), injected AS (
    SELECT ts, message_id, campaign_id, contact_id, recipient, sending_ip, sending_domain FROM events
    WHERE event_type = 'injected'
      AND (message_id IN (SELECT message_id FROM pending) OR recipient IN (SELECT recipient FROM pending)
           OR contact_id IN (SELECT contact_id FROM pending))
), first_attempt AS (  -- whole (message, recipient) groups: filtered by message only
    SELECT message_id, recipient, arg_min(sending_ip, ts) AS sending_ip FROM events
    WHERE event_type IN ('delivered', 'deferred', 'bounced') AND sending_ip IS NOT NULL
      AND message_id IN (SELECT message_id FROM injected)
    GROUP BY ALL
)
SELECT i.ts, i.message_id, i.campaign_id, i.contact_id, i.recipient,
       coalesce(i.sending_ip, a.sending_ip) AS sending_ip, i.sending_domain
FROM injected i LEFT JOIN first_attempt a USING (message_id, recipient);

UPDATE bounces AS b
SET message_id = coalesce(b.message_id, s.message_id),
    campaign_id = coalesce(b.campaign_id, s.campaign_id),
    contact_id = coalesce(b.contact_id, s.contact_id),
    sending_ip = coalesce(b.sending_ip, s.sending_ip),
    sending_domain = coalesce(s.sending_domain, b.sending_domain),
    link_method = s.method
FROM (
    WITH pending AS (
        SELECT bounce_key, message_id, campaign_id, contact_id, recipient, received_at
        FROM bounces WHERE NOT coalesce(linked, false)
    ), sent AS (
        SELECT * FROM link_sent
    ), by_id AS (
        SELECT p.bounce_key, any_value(s.message_id) AS message_id, any_value(s.campaign_id) AS campaign_id,
               any_value(s.contact_id) AS contact_id, any_value(s.sending_ip) AS sending_ip,
               any_value(s.sending_domain) AS sending_domain, 'message_id' AS method
        FROM pending p JOIN sent s ON s.message_id = p.message_id AND s.recipient = p.recipient
        GROUP BY p.bounce_key
    ), by_campaign AS (
        SELECT p.bounce_key, max_by(s.message_id, s.ts), max_by(s.campaign_id, s.ts), max_by(s.contact_id, s.ts),
               max_by(s.sending_ip, s.ts), max_by(s.sending_domain, s.ts), 'campaign'
        FROM pending p JOIN sent s ON s.campaign_id = p.campaign_id AND s.recipient = p.recipient
        WHERE p.bounce_key NOT IN (SELECT bounce_key FROM by_id)
        GROUP BY p.bounce_key
    ), by_recipient AS (
        SELECT p.bounce_key, s.message_id, s.campaign_id, s.contact_id, s.sending_ip, s.sending_domain, 'recipient'
        FROM pending p ASOF JOIN sent s ON s.recipient = p.recipient AND s.ts <= p.received_at
        WHERE p.bounce_key NOT IN (SELECT bounce_key FROM by_id)
          AND p.bounce_key NOT IN (SELECT bounce_key FROM by_campaign)
    )
    SELECT * FROM by_id UNION ALL SELECT * FROM by_campaign UNION ALL SELECT * FROM by_recipient
) AS s (bounce_key, message_id, campaign_id, contact_id, sending_ip, sending_domain, method)
WHERE b.bounce_key = s.bounce_key;

UPDATE complaints AS c
SET message_id = coalesce(c.message_id, s.message_id),
    campaign_id = coalesce(c.campaign_id, s.campaign_id),
    contact_id = coalesce(c.contact_id, s.contact_id),
    recipient = coalesce(c.recipient, s.recipient),
    recipient_domain = coalesce(c.recipient_domain, lower(regexp_extract(s.recipient, '@(.+)$', 1))),
    sending_ip = coalesce(c.sending_ip, s.sending_ip),
    sending_domain = coalesce(s.sending_domain, c.sending_domain),
    link_method = s.method
FROM (
    WITH pending AS (
        SELECT complaint_key, message_id, campaign_id, contact_id, recipient, coalesce(arrival_date, received_at) AS at
        FROM complaints WHERE NOT coalesce(linked, false)
    ), sent AS (
        SELECT * FROM link_sent
    ), by_id AS (
        SELECT p.complaint_key, any_value(s.message_id), any_value(s.campaign_id), any_value(s.contact_id),
               any_value(s.recipient), any_value(s.sending_ip), any_value(s.sending_domain), 'message_id'
        FROM pending p JOIN sent s ON s.message_id = p.message_id
             AND (p.recipient IS NULL OR s.recipient = p.recipient)
        GROUP BY p.complaint_key
    ), by_campaign AS (
        SELECT p.complaint_key, max_by(s.message_id, s.ts), max_by(s.campaign_id, s.ts), max_by(s.contact_id, s.ts),
               max_by(s.recipient, s.ts), max_by(s.sending_ip, s.ts), max_by(s.sending_domain, s.ts), 'campaign'
        FROM pending p JOIN sent s ON s.campaign_id = p.campaign_id
             AND (s.recipient = p.recipient OR s.contact_id = p.contact_id)
        WHERE p.complaint_key NOT IN (SELECT complaint_key FROM by_id)
        GROUP BY p.complaint_key
    ), by_recipient AS (
        SELECT p.complaint_key, s.message_id, s.campaign_id, s.contact_id, s.recipient, s.sending_ip,
               s.sending_domain, 'recipient'
        FROM (SELECT * FROM pending WHERE recipient IS NOT NULL) p
        ASOF JOIN sent s ON s.recipient = p.recipient AND s.ts <= p.at
        WHERE p.complaint_key NOT IN (SELECT complaint_key FROM by_id)
          AND p.complaint_key NOT IN (SELECT complaint_key FROM by_campaign)
    )
    SELECT * FROM by_id UNION ALL SELECT * FROM by_campaign UNION ALL SELECT * FROM by_recipient
) AS s (complaint_key, message_id, campaign_id, contact_id, recipient, sending_ip, sending_domain, method)
WHERE c.complaint_key = s.complaint_key;

-- Their events learn the same.
UPDATE events AS e
SET message_id = coalesce(e.message_id, f.message_id),
    campaign_id = coalesce(e.campaign_id, f.campaign_id),
    contact_id = coalesce(e.contact_id, f.contact_id),
    recipient = coalesce(e.recipient, f.recipient),
    recipient_domain = coalesce(e.recipient_domain, f.recipient_domain),
    sending_ip = coalesce(e.sending_ip, f.sending_ip),
    ip_pool = coalesce(e.ip_pool, ip.pool),
    sending_domain = coalesce(f.sending_domain, e.sending_domain)
FROM (
    SELECT md5_number(bounce_key) AS source_key, received_at AS ts, message_id, campaign_id, contact_id,
           recipient, recipient_domain, sending_ip, sending_domain
    FROM bounces WHERE NOT coalesce(linked, false) AND link_method IS NOT NULL
    UNION ALL
    SELECT md5_number(complaint_key), coalesce(received_at, arrival_date), message_id, campaign_id, contact_id,
           recipient, lower(regexp_extract(recipient, '@(.+)$', 1)), sending_ip, sending_domain
    FROM complaints WHERE NOT coalesce(linked, false) AND link_method IS NOT NULL
) AS f
LEFT JOIN ips AS ip ON ip.ip = f.sending_ip
WHERE e.source_key = f.source_key AND e.ts = f.ts;

UPDATE events AS e
SET mailbox_provider = pd.provider
FROM provider_domains AS pd
WHERE e.mailbox_provider = 'other' AND e.recipient_domain = pd.domain AND e.source = 'feedback-mail'
  AND e.recipient_domain IN (SELECT recipient_domain FROM complaints WHERE NOT coalesce(linked, false));

UPDATE bounces SET linked = link_method IS NOT NULL WHERE NOT coalesce(linked, false);
UPDATE complaints SET linked = link_method IS NOT NULL WHERE NOT coalesce(linked, false);
DROP TABLE link_sent;
