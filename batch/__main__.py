"""`python -m batch` runs the paybatch command line."""

from batch.cli import entry

entry()
