"""What every command group shares: exit codes and reading a findings file back."""

from __future__ import annotations

import sys
from pathlib import Path

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3


def read_findings(path: Path) -> dict | None:
    """A run's findings file, validated; None, after one line on stderr, when it cannot be used
    (untrusted input: nothing is read from, or generated from, a bad file)."""
    from s3compliance.outputs.contract import ReportInvalid, read_report

    try:
        return read_report(path)
    except ReportInvalid as exc:
        print(f"s3compliance: cannot read the findings {exc}", file=sys.stderr)
        return None
