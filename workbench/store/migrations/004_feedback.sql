-- Bounces and complaints decoded from mail (DSNs, ARF / JMRP reports), and suppression.
--
-- Each bounce and complaint also lands in `events` (bounced / deferred / complained /
-- unsubscribed) with source_key = md5_number(bounce_key / complaint_key), so that KPIs see
-- them like any other source and a reload changes nothing.

-- One row per recipient of a bounce mail. bounce_key = md5(message sha256 | recipient | n).
CREATE TABLE bounces (
    bounce_key VARCHAR PRIMARY KEY,
    received_at TIMESTAMP,          -- Date of the bounce (UTC)
    recipient VARCHAR NOT NULL,
    recipient_domain VARCHAR,
    reason VARCHAR NOT NULL,        -- Sisimai taxonomy: userunknown, mailboxfull, ...
    hard BOOLEAN NOT NULL,
    bounce_class VARCHAR,           -- events' vocabulary: hard, soft, block, undetermined
    rule VARCHAR,                   -- the rule that decided the reason
    action VARCHAR,                 -- failed, delayed, delivered, ...
    status VARCHAR,                 -- enhanced status code (D.S.N.)
    reply_code SMALLINT,
    diagnostic VARCHAR,
    smtp_command VARCHAR,
    remote_mta VARCHAR,
    reporting_mta VARCHAR,
    agent VARCHAR,                  -- the decoder: postfix, exim, rfc3464, ...
    alias VARCHAR,
    message_id VARCHAR,             -- of the message that bounced (returned headers)
    campaign_id VARCHAR,
    contact_id VARCHAR,
    sending_ip VARCHAR,
    sending_domain VARCHAR,
    sender VARCHAR,
    subject VARCHAR,
    sent_at TIMESTAMP,
    feedback_id VARCHAR,
    trace VARCHAR,                  -- X-Workbench-Trace of the returned message
    trace_valid BOOLEAN,            -- its signature checked out (NULL: not checked)
    link_method VARCHAR,            -- how it was tied to our send: message_id, trace, campaign, recipient
    linked BOOLEAN,                 -- NULL: not tried yet
    message_sha256 VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL
);

-- One row per recipient of a complaint (ARF, JMRP, SES notification) or unsubscribe report.
CREATE TABLE complaints (
    complaint_key VARCHAR PRIMARY KEY,
    received_at TIMESTAMP,          -- Date of the report mail (UTC)
    arrival_date TIMESTAMP,         -- when the provider received our message
    feedback_type VARCHAR NOT NULL, -- abuse, fraud, virus, other, not-spam, auth-failure, opt-out
    format VARCHAR NOT NULL,        -- arf, jmrp, apple-unsubscribe, amazonses
    provider VARCHAR,               -- who reported it (fbl.yaml)
    user_agent VARCHAR,
    recipient VARCHAR,              -- NULL when redacted away
    recipient_redacted BOOLEAN,
    recipient_domain VARCHAR,
    source_ip VARCHAR,              -- our sending IP as the provider saw it
    reported_domain VARCHAR,
    reporting_mta VARCHAR,
    original_mail_from VARCHAR,
    auth_results VARCHAR,
    arf_version VARCHAR,
    rule VARCHAR,
    message_id VARCHAR,
    campaign_id VARCHAR,
    contact_id VARCHAR,
    sending_ip VARCHAR,
    sending_domain VARCHAR,
    subject VARCHAR,
    sent_at TIMESTAMP,
    list_name VARCHAR,
    feedback_id VARCHAR,
    trace VARCHAR,
    trace_valid BOOLEAN,
    link_method VARCHAR,
    linked BOOLEAN,
    message_sha256 VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL
);

-- Who must not be mailed, why, since when, and who lifted it.
-- scope: 'global' or a list name; reason: complaint, hard-bounce, soft-bounce, unsubscribe,
-- manual; source: events (an event row, source_key = events.source_key) or manual.
CREATE TABLE suppressions (
    suppression_id VARCHAR PRIMARY KEY,
    address VARCHAR,
    contact_id VARCHAR,
    scope VARCHAR NOT NULL DEFAULT 'global',
    reason VARCHAR NOT NULL,
    detail VARCHAR,
    source VARCHAR NOT NULL,
    source_key VARCHAR,
    event_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL DEFAULT 'workbench',
    lifted_at TIMESTAMP,
    lifted_by VARCHAR,
    lift_reason VARCHAR
);

CREATE VIEW active_suppressions AS
SELECT * FROM suppressions WHERE lifted_at IS NULL;

-- Bounce and deferral texts of the send logs, classified once by the rule tables of
-- workbench.feedback (the same classifier as bounce mail): events.bounce_reason /
-- bounce_class of send-log failures are refined from here after every load.
-- text_key = md5(diagnostic | enhanced_status | smtp_code | recipient_domain).
CREATE TABLE bounce_texts (
    text_key VARCHAR PRIMARY KEY,
    diagnostic VARCHAR,
    enhanced_status VARCHAR,
    smtp_code SMALLINT,
    recipient_domain VARCHAR,
    reason VARCHAR NOT NULL,
    hard BOOLEAN NOT NULL,
    bounce_class VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    classified_at TIMESTAMP NOT NULL
);
