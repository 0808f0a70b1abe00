-- paybatch ledger, version 9: collections via invoices (issue 14).
-- A collection batch's row is one invoice (one payer); its line items are kept here, and
-- what the invoice is at the API (its id, number, status, receipt, cancellation). How the
-- invoice was prepared (create, items, publish) is journaled step by step in
-- preparation_steps (migration 003); this table holds the result the report reads.

CREATE TABLE collection_items (
    row_id      INTEGER NOT NULL REFERENCES rows (id),
    position    INTEGER NOT NULL,           -- 1-based, the order the items are added in
    sheet_row   INTEGER NOT NULL,           -- the row number Excel shows
    name        TEXT NOT NULL,
    qty         INTEGER NOT NULL CHECK (qty >= 1),
    unit_minor  INTEGER NOT NULL CHECK (unit_minor > 0),  -- exact minor units of the currency
    PRIMARY KEY (row_id, position)
);

CREATE TABLE collection_invoices (
    row_id          INTEGER PRIMARY KEY REFERENCES rows (id),
    invoice_key     TEXT,                   -- the sheet's invoice key, if it had one
    due_date        TEXT,                   -- ISO date
    fee_bearer      TEXT NOT NULL CHECK (fee_bearer IN ('PAYER', 'PAYEE')),
    invoice_id      INTEGER,                -- the published invoice at the API
    invoice_number  TEXT,
    source_status   TEXT,                   -- IDLE | ACTIVE | PROCESSING | PAID | CANCELED
    source_checked_at TEXT,
    paid_at         TEXT,
    receipt_json    TEXT,                   -- the receipt as the API gave it (amounts as text)
    receipt_at      TEXT,
    cancelled_at    TEXT,
    cancel_reason   TEXT
);
