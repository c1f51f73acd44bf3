-- Distinct failure texts of the send logs not classified yet (bounce mail is classified
-- when it is read; events without a diagnostic keep their source's classification).
SELECT md5(concat_ws('|', diagnostic, coalesce(enhanced_status, ''), coalesce(smtp_code::VARCHAR, ''),
                              coalesce(recipient_domain, ''))) AS text_key,
       diagnostic, enhanced_status, smtp_code, recipient_domain, any_value(mailbox_provider) AS mailbox_provider
FROM events
WHERE event_type IN ('bounced', 'deferred') AND source <> 'feedback-mail' AND diagnostic IS NOT NULL
  AND md5(concat_ws('|', diagnostic, coalesce(enhanced_status, ''), coalesce(smtp_code::VARCHAR, ''),
                    coalesce(recipient_domain, ''))) NOT IN (SELECT text_key FROM bounce_texts)
GROUP BY text_key, diagnostic, enhanced_status, smtp_code, recipient_domain
