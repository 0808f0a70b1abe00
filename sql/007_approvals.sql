-- paybatch ledger, version 7: approvals (maker-checker, issue 17). An approval binds one
-- approver to one plan hash of one batch; it is withdrawn (revoked_at) by its approver or
-- voided (voided_at, void_reason) when the plan no longer hashes the same. Rows are never
-- deleted: the event log records every approval, revocation and void as well.
CREATE TABLE approvals (
    id          INTEGER PRIMARY KEY,
    batch_id    INTEGER NOT NULL REFERENCES batches (id),
    approver    TEXT NOT NULL,
    plan_hash   TEXT NOT NULL,           -- sha256 hex of the plan approved (planning/approval.py)
    approved_at TEXT NOT NULL,
    public_key  TEXT,                    -- Ed25519 raw public key, hex, when signed
    signature   TEXT,                    -- Ed25519 signature of the approval message, hex
    revoked_at  TEXT,
    voided_at   TEXT,
    void_reason TEXT
);
CREATE INDEX approvals_batch ON approvals (batch_id, id);
