"""Reports: ledger rows -> reconciliation lines, columns, status figures, CSV/JSON/XLSX files."""
