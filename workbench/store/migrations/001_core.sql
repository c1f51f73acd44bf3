-- The core of the store: bookkeeping of loaded files, quarantine, the canonical events table
-- and the sending infrastructure (pools, IPs, domains, campaigns, mailbox providers).

CREATE TABLE store_meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR
);

-- One row per source file whose content has been loaded, keyed by content: the same bytes
-- under another name are recognised and skipped.
CREATE TABLE loaded_files (
    content_sha256 VARCHAR PRIMARY KEY,
    path VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    format VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_duplicate BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL
);

-- Input the loaders could not read, with the reason and a raw excerpt.
CREATE TABLE quarantine (
    quarantined_at TIMESTAMP NOT NULL,
    file VARCHAR NOT NULL,
    content_sha256 VARCHAR,
    format VARCHAR,
    position VARCHAR,
    error VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    excerpt VARCHAR
);

-- Every source lands here with the same columns. ts is UTC.
-- event_type: injected, delivered, deferred, bounced, dropped, opened, clicked,
--             complained, unsubscribed
-- bounce_class: hard, soft, block, admin, undetermined (SparkPost's classes);
-- bounce_reason: a reason in Sisimai's taxonomy (userunknown, mailboxfull, ...).
-- source_key: md5 of what identifies the record in its source (an event id, or the raw
--             record); a reload of the same record is a no-op.
CREATE TABLE events (
    ts TIMESTAMP NOT NULL,
    event_type VARCHAR NOT NULL,
    message_id VARCHAR,
    campaign_id VARCHAR,
    contact_id VARCHAR,
    recipient VARCHAR,
    recipient_domain VARCHAR,
    mailbox_provider VARCHAR,
    sender VARCHAR,
    sending_domain VARCHAR,
    sending_ip VARCHAR,
    ip_pool VARCHAR,
    remote_mta VARCHAR,
    bounce_class VARCHAR,
    bounce_reason VARCHAR,
    smtp_code SMALLINT,
    enhanced_status VARCHAR,
    diagnostic VARCHAR,
    is_machine BOOLEAN,
    url VARCHAR,
    user_agent VARCHAR,
    client_ip VARCHAR,
    mta_instance VARCHAR,
    source VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_key UHUGEINT NOT NULL
);

CREATE TABLE ip_pools (
    pool VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL CHECK (kind IN ('dedicated', 'shared')),
    description VARCHAR
);

CREATE TABLE ips (
    ip VARCHAR PRIMARY KEY,
    pool VARCHAR NOT NULL,
    hostname VARCHAR,
    warmup_start DATE,
    description VARCHAR
);

-- Names an IP goes by in MTA logs: a PowerMTA virtual MTA, a KumoMTA egress source, a
-- Postfix instance's syslog name.
CREATE TABLE ip_aliases (
    name VARCHAR PRIMARY KEY,
    ip VARCHAR NOT NULL
);

CREATE TABLE sending_domains (
    domain VARCHAR PRIMARY KEY,
    parent_domain VARCHAR,
    purpose VARCHAR,
    stream VARCHAR,
    ip_pool VARCHAR,
    dkim_selectors VARCHAR[],
    return_path_domain VARCHAR
);

CREATE TABLE campaigns (
    campaign_id VARCHAR PRIMARY KEY,
    name VARCHAR,
    stream VARCHAR,
    sending_domain VARCHAR,
    ip_pool VARCHAR,
    subject VARCHAR,
    scheduled_at TIMESTAMP
);

-- Mailbox provider of a recipient domain: the maintained list shipped with the package
-- (origin 'builtin'), users' additions ('user'), and domains hosted by a provider (Google
-- Workspace, Microsoft 365, ...) learned from the MX host that accepted their mail ('mx').
-- provider_mx maps an MX host's registrable domain to its provider.
CREATE TABLE provider_domains (
    domain VARCHAR PRIMARY KEY,
    provider VARCHAR NOT NULL,
    origin VARCHAR NOT NULL DEFAULT 'builtin'
);

CREATE TABLE provider_mx (
    mx_domain VARCHAR PRIMARY KEY,
    provider VARCHAR NOT NULL,
    origin VARCHAR NOT NULL DEFAULT 'builtin'
);
