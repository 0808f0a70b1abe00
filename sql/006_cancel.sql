-- paybatch ledger, version 6: a batch withdrawn with `paybatch cancel` (issue 13). Its rows
-- not sent yet are CANCELLED (rows.state) and it is never run again; rows already sent
-- still settle. The event log holds who cancelled it and why.
ALTER TABLE batches ADD COLUMN cancelled_at TEXT;
