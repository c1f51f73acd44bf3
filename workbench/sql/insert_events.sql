-- Insert parsed events (the relation `batch`: the canonical parsed columns and `key`, as
-- events.conform_sql yields them) into events: provider from the recipient domain, sending IP
-- from an MTA alias, pool from the IP, machine opens/clicks by user agent, source_key = md5
-- of the record's key, and the id of the load. The loader puts the parser's query in place
-- of `batch` and removes what was already loaded afterwards (dedupe_load_*.sql).
INSERT INTO events BY NAME
SELECT
    b.ts,
    b.event_type,
    b.message_id,
    b.campaign_id,
    b.contact_id,
    b.recipient,
    b.recipient_domain,
    coalesce(b.mailbox_provider, pd.provider, 'other') AS mailbox_provider,
    b.sender,
    b.sending_domain,
    coalesce(b.sending_ip, al.ip) AS sending_ip,
    coalesce(b.ip_pool, ip.pool) AS ip_pool,
    b.remote_mta,
    b.bounce_class,
    b.bounce_reason,
    b.smtp_code,
    b.enhanced_status,
    b.diagnostic,
    coalesce(
        b.is_machine,
        CASE
            WHEN b.event_type = 'opened' THEN b.user_agent = 'Mozilla/5.0'
            WHEN b.event_type = 'clicked' AND regexp_matches(b.user_agent,
                'python-requests|curl/|wget|headless|bot\b|spider|scanner|barracuda|mimecast|proofpoint|safelinks|urldefense',
                'i') THEN true
        END
    ) AS is_machine,
    b.url,
    b.user_agent,
    b.client_ip,
    b.mta_instance,
    $source AS source,
    $source_file AS source_file,
    md5_number(b.key) AS source_key,
    $load_id AS load_id
FROM batch AS b
LEFT JOIN provider_domains pd ON pd.domain = b.recipient_domain
LEFT JOIN ip_aliases al ON al.name = b.mta_instance
LEFT JOIN ips ip ON ip.ip = coalesce(b.sending_ip, al.ip)
