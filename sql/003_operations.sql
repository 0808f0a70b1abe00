-- paybatch ledger, version 3: one engine for every operation kind (issue 10).
-- * A batch records its operation kind (payout now; collection next).
-- * Attempts and recipients lose the word "payout": an account id belongs to a phone AND an
--   operation type (a payout account and a collection's payer account differ).
-- * The outcome of an execute that got no clear answer is a typed column, so no decision
--   reads message text.
-- * A per-row journal for multi-step preparations whose API calls carry no idempotency key
--   (create an invoice, add items, publish): each step's returned id is committed before
--   the next call, the same discipline as SUBMITTING.

ALTER TABLE batches ADD COLUMN kind TEXT NOT NULL DEFAULT 'payout'
    CHECK (kind IN ('payout', 'collection'));

ALTER TABLE attempts RENAME COLUMN payout_account_id TO account_id;

ALTER TABLE attempts ADD COLUMN execute_outcome TEXT
    CHECK (execute_outcome IN ('rejected', 'throttled', 'ambiguous'));
-- Attempts written by earlier versions carried the outcome as the prefix of execute_error.
UPDATE attempts SET execute_outcome = CASE
        WHEN execute_error LIKE 'rejected%' THEN 'rejected'
        WHEN execute_error LIKE 'throttled%' THEN 'throttled'
        ELSE 'ambiguous'
    END
    WHERE execute_error IS NOT NULL;

CREATE TABLE recipients_v3 (
    environment       TEXT NOT NULL,
    phone             TEXT NOT NULL,
    operation_type    TEXT NOT NULL,        -- the API's operation_type: PAYOUT | COLLECTION
    carrier           TEXT,
    country           TEXT,
    currencies_json   TEXT,
    method            TEXT,
    provider          TEXT,
    party_id          INTEGER,
    counterparty_id   INTEGER,
    account_id        INTEGER,              -- payout account (PAYOUT) or payer account
    relationship_type TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (environment, phone, operation_type)
);
INSERT INTO recipients_v3 (environment, phone, operation_type, carrier, country,
        currencies_json, method, provider, party_id, counterparty_id, account_id,
        relationship_type, created_at, updated_at)
    SELECT environment, phone, 'PAYOUT', carrier, country, currencies_json, method, provider,
        party_id, counterparty_id, payout_account_id, relationship_type, created_at, updated_at
    FROM recipients;
DROP TABLE recipients;
ALTER TABLE recipients_v3 RENAME TO recipients;

CREATE TABLE preparation_steps (
    row_id       INTEGER NOT NULL REFERENCES rows (id),
    reference_id TEXT NOT NULL REFERENCES attempts (reference_id),
    step         TEXT NOT NULL,             -- e.g. invoice, item:1, published
    value        TEXT NOT NULL,             -- the id (or state) the API returned
    at           TEXT NOT NULL,
    PRIMARY KEY (reference_id, step)
);
CREATE INDEX preparation_steps_row ON preparation_steps (row_id);
