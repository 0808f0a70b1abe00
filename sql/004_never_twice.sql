-- paybatch ledger, version 4 (issue 11, "never twice beyond one ledger file"):
-- a batch's pay period, purpose and API environment; reference_ids derived from a per-row
-- seed instead of minted at random; attempts that adopted an existing execution, were re-sent
-- on a fresh session, or were ever seen "not found".
ALTER TABLE batches ADD COLUMN period TEXT;        -- YYYY-MM pay period (NULL: before 004)
ALTER TABLE batches ADD COLUMN purpose TEXT;       -- payroll, bonus, adjustment, ...
ALTER TABLE batches ADD COLUMN environment TEXT;   -- 'sandbox', or base URL + '#' + client id
ALTER TABLE batches ADD COLUMN sandbox INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN repeat_no INTEGER NOT NULL DEFAULT 0;  -- --allow-repeat: 1, 2, ...
CREATE INDEX batches_period ON batches (period, purpose);

-- The seed a row's reference_ids are derived from (client id, period, purpose, repeat, row
-- key); NULL for rows planned before 004, whose ids were minted at random and stay so.
ALTER TABLE rows ADD COLUMN ref_seed TEXT;
-- Attempt numbers this ledger had already used under the same seed (another batch's
-- failed attempts): attempt n of this row derives its id from ref_base + n.
ALTER TABLE rows ADD COLUMN ref_base INTEGER NOT NULL DEFAULT 0;
CREATE INDEX rows_ref_seed ON rows (ref_seed);
CREATE INDEX rows_phone ON rows (phone, currency);

ALTER TABLE attempts ADD COLUMN adopted INTEGER NOT NULL DEFAULT 0;        -- an existing execution
ALTER TABLE attempts ADD COLUMN fresh_sends INTEGER NOT NULL DEFAULT 0;    -- same id, new session
ALTER TABLE attempts ADD COLUMN not_found_seen INTEGER NOT NULL DEFAULT 0; -- ever trusted 404
ALTER TABLE attempts ADD COLUMN rechecked_at TEXT;  -- reconcile --recheck last read it
