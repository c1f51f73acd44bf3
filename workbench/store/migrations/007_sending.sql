-- Sending: the ledger of every planned message (exactly-once sends) and the runs that worked
-- on it. Warm-up caps count each IP's injections of the day in `events`.

-- One row per message, planned before the first byte goes out: per (campaign, contact) for a
-- campaign (ledger_key 'campaign/contact'), per idempotency key for transactional mail
-- ('tx/key': the same key never sends twice).
-- status: planned -> sending -> sent | failed | suppressed, or uncertain (a message in
-- flight when a sender died, that no relay record could confirm or rule out: never resent
-- silently; `workbench send --resolve-uncertain` decides).
-- A 4xx reply puts a row back to planned with next_attempt_at (attempts counts tries).
CREATE TABLE send_ledger (
    ledger_key VARCHAR PRIMARY KEY,
    campaign_id VARCHAR NOT NULL,
    contact_id VARCHAR,
    recipient VARCHAR NOT NULL,
    message_id VARCHAR NOT NULL UNIQUE,   -- <...@sending domain>, fixed at plan time
    status VARCHAR NOT NULL CHECK (status IN ('planned', 'sending', 'sent', 'failed', 'suppressed', 'uncertain')),
    list_name VARCHAR,                    -- the list (stream) an unsubscribe applies to
    stream VARCHAR,
    sending_domain VARCHAR NOT NULL,
    ip_pool VARCHAR,
    mailbox_provider VARCHAR,
    sending_ip VARCHAR,                   -- chosen when claimed (warm-up caps, overflow)
    attributes JSON,                      -- the contact's attributes at plan time (personalisation)
    planned_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    claimed_at TIMESTAMP,
    run_id VARCHAR,
    finished_at TIMESTAMP,
    smtp_code SMALLINT,
    detail VARCHAR                        -- reply text, suppression reason, reconciliation
);

-- One row per run of the sender over a campaign (a rerun after a crash is a new run).
CREATE TABLE send_runs (
    run_id VARCHAR PRIMARY KEY,
    campaign_id VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    pid INTEGER,
    relay VARCHAR,
    sent INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    deferred INTEGER NOT NULL DEFAULT 0,
    suppressed INTEGER NOT NULL DEFAULT 0,
    reconciled INTEGER NOT NULL DEFAULT 0,
    uncertain INTEGER NOT NULL DEFAULT 0,
    status VARCHAR NOT NULL DEFAULT 'running'  -- running | finished | interrupted
);
