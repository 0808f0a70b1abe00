"""Planning: valid rows -> a batch on the ledger, its reference_ids, operators, predicted fees."""
