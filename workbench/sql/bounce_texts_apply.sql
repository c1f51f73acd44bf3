-- Send-log failures take the reason and class their text was given (bounce_texts), where
-- the rules decided one (onhold / undefined keep the source's own classification).
UPDATE events AS e
SET bounce_reason = t.reason, bounce_class = t.bounce_class
FROM bounce_texts t
WHERE e.event_type IN ('bounced', 'deferred') AND e.source <> 'feedback-mail' AND e.diagnostic IS NOT NULL
  AND t.text_key = md5(concat_ws('|', e.diagnostic, coalesce(e.enhanced_status, ''), coalesce(e.smtp_code::VARCHAR, ''),
                                 coalesce(e.recipient_domain, '')))
  AND t.reason NOT IN ('onhold', 'undefined')
  AND (e.bounce_reason IS DISTINCT FROM t.reason OR e.bounce_class IS DISTINCT FROM t.bounce_class)
;

-- A permanent failure that neither the first pass nor the rule tables can explain is not
-- taken as a bad address (a hard bounce would suppress it): undetermined, until a rule
-- (a user's rules file) says what it is.
UPDATE events AS e
SET bounce_class = 'undetermined'
FROM bounce_texts t
WHERE e.event_type IN ('bounced', 'deferred') AND e.source <> 'feedback-mail' AND e.diagnostic IS NOT NULL
  AND t.text_key = md5(concat_ws('|', e.diagnostic, coalesce(e.enhanced_status, ''), coalesce(e.smtp_code::VARCHAR, ''),
                                 coalesce(e.recipient_domain, '')))
  AND t.reason IN ('onhold', 'undefined') AND e.bounce_reason = 'undefined' AND e.bounce_class = 'hard'
