-- The most frequent bounce and deferral texts, grouped across servers: the diagnostic type
-- ("smtp;") and multi-line reply markers ("550-") dropped, addresses, IPs and ids (tokens
-- mixing digits and letters, long hex or digit runs) masked; status codes stay.
WITH texts AS (
    SELECT event_type, bounce_reason, mailbox_provider, diagnostic,
           regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(diagnostic),
               '^\s*(smtp|x-postfix|x-unix|x-local)\s*;\s*', ''),
               '(^|\s)(\d{3})-(\d)', '\1\2 \3', 'g'),
               '[^\s<>()\[\]"'';,]+@[^\s<>()\[\]"'';,]+', '<address>', 'g'),
               '\d{1,3}(\.\d{1,3}){3}|[0-9a-f]*:[0-9a-f:]{6,}', '<ip>', 'g'),
               '\b([a-z]+\d+[a-z][a-z0-9]*|\d+[a-z][a-z0-9]*|[0-9a-f]{12,}|\d{5,})\b', '<id>', 'g'),
               '\s+', ' ', 'g') AS pattern
    FROM events
    WHERE ts >= $start AND ts < $end AND event_type IN ('bounced', 'deferred') AND diagnostic IS NOT NULL
)
SELECT left(pattern, 240) AS pattern,
       mode(bounce_reason) AS reason,
       count(*) FILTER (WHERE event_type = 'bounced') AS bounced,
       count(*) FILTER (WHERE event_type = 'deferred') AS deferred,
       count(*) AS total,
       string_agg(DISTINCT mailbox_provider, ', ' ORDER BY mailbox_provider) AS providers,
       any_value(diagnostic) AS example
FROM texts
GROUP BY 1
ORDER BY total DESC, pattern
LIMIT $limit
