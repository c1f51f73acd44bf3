-- DMARC aggregate and failure reports, SMTP TLS reports, and their enrichment.
--
-- A report is keyed by report_key = md5(lower(reporter org) || 0x1f || report id): the same
-- report received twice (another mail, another archive, a re-send) loads once.
-- content_sha256 is the hash of the report's payload (the XML or JSON document), so a
-- re-sent report whose content changed is recognised and recorded in quarantine.

CREATE TABLE dmarc_reports (
    report_key VARCHAR PRIMARY KEY,
    org_name VARCHAR NOT NULL,
    org_email VARCHAR,
    extra_contact_info VARCHAR,
    report_id VARCHAR NOT NULL,
    begin_ts TIMESTAMP,
    end_ts TIMESTAMP,
    errors VARCHAR[],
    generator VARCHAR,
    version VARCHAR,
    schema VARCHAR NOT NULL,            -- rfc9990 | rfc7489 (version empty: unversioned, as the pre-RFC draft)
    policy_domain VARCHAR,
    adkim VARCHAR,
    aspf VARCHAR,
    p VARCHAR,
    sp VARCHAR,
    np VARCHAR,
    pct SMALLINT,
    fo VARCHAR,
    testing VARCHAR,                    -- RFC 9990 t= (y/n)
    psd VARCHAR,
    discovery_method VARCHAR,
    extensions VARCHAR,                 -- raw XML of report-level extensions
    record_count INTEGER NOT NULL,
    message_count BIGINT NOT NULL,
    warnings INTEGER NOT NULL,          -- what the parser recovered; a cleaner copy replaces this one
    content_sha256 VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_part VARCHAR,                -- archive member or mail attachment
    loaded_at TIMESTAMP NOT NULL
);

-- One row per <record>; count is the number of messages it stands for.
CREATE TABLE dmarc_records (
    report_key VARCHAR NOT NULL,
    record_no INTEGER NOT NULL,
    source_ip VARCHAR,
    count BIGINT NOT NULL,
    disposition VARCHAR,
    policy_dkim VARCHAR,                -- policy_evaluated: aligned DKIM pass/fail
    policy_spf VARCHAR,                 -- policy_evaluated: aligned SPF pass/fail
    reason_types VARCHAR[],             -- forwarded, mailing_list, local_policy, ...
    reason_comments VARCHAR[],
    header_from VARCHAR,
    envelope_from VARCHAR,
    envelope_to VARCHAR,
    dkim STRUCT(domain VARCHAR, selector VARCHAR, result VARCHAR, human_result VARCHAR)[],
    spf STRUCT(domain VARCHAR, scope VARCHAR, result VARCHAR, human_result VARCHAR)[],
    extensions VARCHAR,
    PRIMARY KEY (report_key, record_no)
);

-- Failure (forensic) reports: RFC 6591 / 9991 ARF auth-failure, or a plain-text variant.
CREATE TABLE dmarc_failures (
    failure_key VARCHAR PRIMARY KEY,    -- md5 of the report mail's payload
    format VARCHAR NOT NULL,            -- arf | text
    reporter VARCHAR,                   -- From: of the report mail
    report_date TIMESTAMP,
    feedback_type VARCHAR,
    user_agent VARCHAR,
    version VARCHAR,
    arrival_date TIMESTAMP,
    source_ip VARCHAR,
    original_mail_from VARCHAR,
    original_rcpt_to VARCHAR,
    original_envelope_id VARCHAR,
    reported_domain VARCHAR,
    reported_uri VARCHAR,
    auth_failure VARCHAR,
    authentication_results VARCHAR,
    dkim_domain VARCHAR,
    dkim_identity VARCHAR,
    dkim_selector VARCHAR,
    spf_dns VARCHAR,
    delivery_result VARCHAR,
    identity_alignment VARCHAR,
    message_id VARCHAR,                 -- of the failing message
    subject VARCHAR,
    header_from VARCHAR,
    sample_headers VARCHAR,             -- the failing message's headers as reported
    extra VARCHAR,                      -- other feedback fields, JSON
    content_sha256 VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_part VARCHAR,
    loaded_at TIMESTAMP NOT NULL
);

-- SMTP TLS reports (RFC 8460), per report, per policy, per failure detail.
CREATE TABLE tlsrpt_reports (
    report_key VARCHAR PRIMARY KEY,
    org_name VARCHAR NOT NULL,
    contact_info VARCHAR,
    report_id VARCHAR NOT NULL,
    begin_ts TIMESTAMP,
    end_ts TIMESTAMP,
    content_sha256 VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_part VARCHAR,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE tlsrpt_policies (
    report_key VARCHAR NOT NULL,
    policy_no INTEGER NOT NULL,
    policy_type VARCHAR,
    policy_domain VARCHAR,
    policy_string VARCHAR[],
    mx_host VARCHAR[],
    successful_sessions BIGINT,
    failed_sessions BIGINT,
    PRIMARY KEY (report_key, policy_no)
);

CREATE TABLE tlsrpt_failures (
    report_key VARCHAR NOT NULL,
    policy_no INTEGER NOT NULL,
    detail_no INTEGER NOT NULL,
    result_type VARCHAR,
    sending_mta_ip VARCHAR,
    receiving_mx_hostname VARCHAR,
    receiving_mx_helo VARCHAR,
    receiving_ip VARCHAR,
    failed_sessions BIGINT,
    additional_information VARCHAR,
    failure_reason_code VARCHAR,
    PRIMARY KEY (report_key, policy_no, detail_no)
);

-- Enrichment (a separate step, never inside a parser).
-- Organizational domain of every identifier seen in reports (public suffix list, or the
-- RFC 9989 DNS tree walk when a resolver was given).
CREATE TABLE domain_org (
    domain VARCHAR PRIMARY KEY,
    org_domain VARCHAR,
    method VARCHAR NOT NULL             -- psl | treewalk
);

-- Reverse DNS of source IPs through the resolver seam, cached; service from the PTR's
-- organizational domain (a maintained list in workbench/data/services.tsv).
CREATE TABLE ip_rdns (
    ip VARCHAR PRIMARY KEY,
    ptr VARCHAR,
    ptr_org_domain VARCHAR,
    service VARCHAR,
    status VARCHAR NOT NULL,            -- ok | nxdomain | nodata | error
    resolved_at TIMESTAMP NOT NULL
);

-- Every aggregate record with its report, enrichment and whether the source is ours:
-- what the DMARC analytics read. header_from_org falls back to the public-suffix answer
-- computed at enrichment; dmarc_pass is "aligned DKIM or aligned SPF passed".
CREATE VIEW dmarc_flow AS
SELECT
    r.report_key, r.org_name AS reporter, r.begin_ts, r.end_ts, CAST(r.begin_ts AS DATE) AS day,
    r.policy_domain, r.p, r.sp, r.np, r.pct, r.testing,
    d.record_no, d.source_ip, d.count, d.disposition, d.policy_dkim, d.policy_spf,
    coalesce(d.policy_dkim = 'pass' OR d.policy_spf = 'pass', false) AS dmarc_pass,
    d.reason_types, d.reason_comments, d.header_from, d.envelope_from, d.envelope_to, d.dkim, d.spf,
    coalesce(o.org_domain, d.header_from) AS header_from_org,
    rd.ptr, rd.ptr_org_domain, rd.service AS rdns_service,
    i.ip IS NOT NULL AS is_ours, i.pool AS ip_pool,
    CASE WHEN i.ip IS NOT NULL THEN 'ours' WHEN rd.service IS NOT NULL THEN 'known service' ELSE 'unknown' END AS source_kind,
    coalesce(list_has_any(d.reason_types, ['forwarded', 'mailing_list', 'trusted_forwarder']), false) AS forwarded_reason
FROM dmarc_records d
JOIN dmarc_reports r USING (report_key)
LEFT JOIN domain_org o ON o.domain = d.header_from
LEFT JOIN ip_rdns rd ON rd.ip = d.source_ip
LEFT JOIN ips i ON i.ip = d.source_ip;
