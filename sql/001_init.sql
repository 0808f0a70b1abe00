-- paybatch ledger, version 1: batches, rows, attempts, recipients, fee quotes, events, locks.
-- Timestamps are aware UTC ISO-8601 text; amounts are integer minor units or exact decimal text.
-- An applied migration is never edited: add sql/NNN_name.sql instead.

CREATE TABLE batches (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    source_file     TEXT NOT NULL,
    content_hash    TEXT NOT NULL,          -- sha256 of the normalised valid rows
    payout_set_hash TEXT NOT NULL,          -- sha256 of the sorted (phone, amount, currency) set
    options_json    TEXT NOT NULL DEFAULT '{}',
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT
);
CREATE INDEX batches_payout_set ON batches (payout_set_hash, created_at);

CREATE TABLE rows (
    id                   INTEGER PRIMARY KEY,
    batch_id             INTEGER NOT NULL REFERENCES batches (id),
    sheet_row            INTEGER NOT NULL,  -- the row number Excel shows
    name                 TEXT,
    phone                TEXT,              -- E.164 digits without "+"
    amount_minor         INTEGER,           -- exact integer minor units of currency
    currency             TEXT,
    country              TEXT,
    external_id          TEXT,
    email                TEXT,
    note                 TEXT,
    operator             TEXT,              -- carrier per the API's prediction
    method               TEXT,              -- payment_method per the prediction
    provider             TEXT,              -- gateway_provider per the prediction
    predicted_fee        TEXT,              -- exact decimal text
    fee_currency         TEXT,
    state                TEXT NOT NULL,
    failure_reason       TEXT,
    problems_json        TEXT,              -- SKIPPED rows: why they were left out
    current_reference_id TEXT,              -- the attempt that decides the row now
    updated_at           TEXT NOT NULL,
    UNIQUE (batch_id, sheet_row)
);
CREATE INDEX rows_batch_state ON rows (batch_id, state);

CREATE TABLE attempts (
    reference_id            TEXT PRIMARY KEY,   -- UUID v4, the idempotency key (REFERENCE §4.1)
    row_id                  INTEGER NOT NULL REFERENCES rows (id),
    attempt_no              INTEGER NOT NULL,
    previous_reference_id   TEXT REFERENCES attempts (reference_id),
    run_session             TEXT,               -- the paybatch process run that sent it
    session_id              INTEGER,
    wallet_id               INTEGER,
    session_expires_at      TEXT,
    payout_account_id       INTEGER,
    created_at              TEXT NOT NULL,
    submitted_at            TEXT,               -- SUBMITTING committed; the request may have left
    settled_at              TEXT,
    api_status              TEXT,               -- PENDING | PROCESSING | COMPLETED | FAILED | ...
    provider_transaction_id TEXT,
    payer_amount            TEXT,
    payer_currency          TEXT,
    payee_amount            TEXT,
    payee_currency          TEXT,
    fee                     TEXT,
    gateway_message         TEXT,
    wallet_message          TEXT,
    outcome                 TEXT,               -- NULL (open) | COMPLETED | FAILED | NOT_FOUND
    execute_error           TEXT,               -- what made the answer ambiguous or rejected
    UNIQUE (row_id, attempt_no)
);

-- Recipients and fee quotes belong to one API environment (base URL + client id, or one
-- embedded sandbox instance): ids from one environment mean nothing in another.
CREATE TABLE recipients (
    environment       TEXT NOT NULL,
    phone             TEXT NOT NULL,
    carrier           TEXT,
    country           TEXT,
    currencies_json   TEXT,
    method            TEXT,
    provider          TEXT,
    party_id          INTEGER,
    counterparty_id   INTEGER,
    payout_account_id INTEGER,
    relationship_type TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (environment, phone)
);

CREATE TABLE fee_quotes (
    environment     TEXT NOT NULL,
    amount          TEXT NOT NULL,
    currency        TEXT NOT NULL,
    target_currency TEXT NOT NULL,
    method          TEXT NOT NULL,
    provider        TEXT NOT NULL,
    total_fee       TEXT NOT NULL,
    fee_currency    TEXT NOT NULL,
    quote_json      TEXT NOT NULL,
    fetched_at      TEXT NOT NULL,
    PRIMARY KEY (environment, amount, currency, target_currency, method, provider)
);

CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    batch_id     INTEGER NOT NULL REFERENCES batches (id),
    row_id       INTEGER REFERENCES rows (id),
    reference_id TEXT,
    from_state   TEXT,
    to_state     TEXT,
    at           TEXT NOT NULL,
    detail       TEXT
);
CREATE INDEX events_batch ON events (batch_id, id);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TABLE locks (
    batch_id    INTEGER PRIMARY KEY REFERENCES batches (id),
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    acquired_at TEXT NOT NULL
);
