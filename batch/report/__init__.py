"""Reports: ledger rows -> reconciliation lines, columns, status figures, and CSV/JSON/XLSX files."""
