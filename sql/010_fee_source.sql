-- paybatch ledger, version 10: where each row's predicted fee came from (issue 15).
-- 'schedule': computed from the published fee schedule (/v1/fees/*) after a sample of the
-- batch's amounts agreed with predictions/amount-and-fees to the minor unit;
-- 'prediction': one predictions/amount-and-fees quote for the row's amount.
-- NULL: predicted before this version, or not predicted.

ALTER TABLE rows ADD COLUMN fee_source TEXT
    CHECK (fee_source IN ('schedule', 'prediction'));
