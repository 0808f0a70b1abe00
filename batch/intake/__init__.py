"""Intake: a sheet (CSV or Excel) -> valid, normalised rows with every problem located (pure)."""
