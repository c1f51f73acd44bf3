-- Learn the provider of recipient domains hosted by a known provider (Google Workspace,
-- Microsoft 365, ...) from the MX host that accepted their mail in the rows of load $load_id.
INSERT INTO provider_domains (domain, provider, origin)
WITH pairs AS (
    SELECT DISTINCT recipient_domain, lower(rtrim(remote_mta, '.')) AS mx
    FROM events
    WHERE load_id = $load_id AND recipient_domain IS NOT NULL AND remote_mta IS NOT NULL
      AND event_type IN ('delivered', 'bounced', 'deferred')
), hosted AS (
    SELECT p.recipient_domain, min(m.provider) AS provider
    FROM pairs p
    JOIN provider_mx m ON m.mx_domain = regexp_extract(p.mx, '([a-z0-9-]+\.[a-z0-9-]+)$', 1)
    WHERE p.recipient_domain NOT IN (SELECT domain FROM provider_domains)
    GROUP BY 1
    HAVING count(DISTINCT m.provider) = 1
)
SELECT recipient_domain, provider, 'mx' FROM hosted
ON CONFLICT DO NOTHING
RETURNING domain, provider
