-- paybatch ledger, version 11: collections in the payer's currency (issue 14, FX).
-- A payer's wallet may hold another currency than the invoice's (REFERENCE §3.5.3, §3.7.2):
-- the collection prediction (operation_type=COLLECTION, target_currency = the payer's) says
-- which, and what the payer will be debited; the execution is sent in that currency.
-- NULL: planned before this version (the invoice's currency is the payer's).

ALTER TABLE collection_invoices ADD COLUMN payer_currency TEXT
    CHECK (payer_currency IS NULL OR length(payer_currency) = 3);
ALTER TABLE collection_invoices ADD COLUMN payer_amount_minor INTEGER;  -- predicted debit
