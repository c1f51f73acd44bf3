-- Authentication audits of the sending domains (SPF, DKIM, DMARC, reverse DNS, MX, MTA-STS,
-- TLS-RPT, BIMI), kept with history: one row per audit run, the status of every domain x
-- check, every finding with its stable code and fix, and the DNS answers it was drawn from.

CREATE TABLE auth_audits (
    audit_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    resolver VARCHAR NOT NULL,
    domains INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    warnings INTEGER NOT NULL
);

-- status: ok | info | warning | error (the worst finding of the check)
CREATE TABLE auth_checks (
    audit_id VARCHAR NOT NULL,
    audited_at TIMESTAMP NOT NULL,
    domain VARCHAR NOT NULL,
    check_name VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    PRIMARY KEY (audit_id, domain, check_name)
);

-- code: a stable finding code (workbench.auth.findings.CODES), e.g. spf.too_many_lookups
-- subject: the record name, IP or URL concerned; fix: the record to publish or the step
CREATE TABLE auth_findings (
    audit_id VARCHAR NOT NULL,
    audited_at TIMESTAMP NOT NULL,
    domain VARCHAR NOT NULL,
    check_name VARCHAR NOT NULL,
    code VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    subject VARCHAR,
    detail VARCHAR,
    fix VARCHAR
);

-- The evidence: every question the audit asked and what it got (records as zone text).
-- status: ok | nxdomain | noanswer | timeout | error (HTTPS rows: the fetch's outcome)
CREATE TABLE auth_dns_answers (
    audit_id VARCHAR NOT NULL,
    domain VARCHAR NOT NULL,
    qname VARCHAR NOT NULL,
    rdtype VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    records VARCHAR[]
);
