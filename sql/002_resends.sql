-- paybatch ledger, version 2: how often an attempt's execute was re-sent with its own
-- reference_id after an ambiguous answer and a status "not found" (REFERENCE §4.2).
ALTER TABLE attempts ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
