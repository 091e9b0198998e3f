"""The findings contract as data: its JSON Schema, and reading a findings file back safely.

A ``findings.json`` travels (CI artefacts, shared folders, a ticket attachment), so whatever reads
one back (``import-plan``, ``tag --findings``, history) treats it as untrusted input: it is
validated against the schema shipped in the package before any value is used, and a file that
does not conform is refused with one line naming the file and the first problem. This module
imports nothing of the scan, so a reader stays light.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_VERSION = "1.0"
#: The columns of a findings table for people (the report's "every finding", explore's table):
#: the finding without its long evidence, remediation and framework list.
FINDINGS_TABLE_COLUMNS = [
    "account_id",
    "bucket",
    "region",
    "check_id",
    "status",
    "severity",
    "reason",
    "violation",
    "error_code",
]


class ReportInvalid(ValueError):
    """A findings file that cannot be read or does not follow the contract."""


@cache
def report_schema() -> dict[str, Any]:
    """The JSON Schema shipped in the package; every report is validated against it."""
    return json.loads(files("s3compliance").joinpath("schemas/findings.schema.json").read_text())


def validate_report(report: dict[str, Any]) -> None:
    """Raise :class:`jsonschema.ValidationError` when the report breaks the contract."""
    jsonschema.Draft202012Validator(report_schema()).validate(report)


def _where(error: jsonschema.ValidationError) -> str:
    path = "/".join(str(p) for p in error.absolute_path)
    return f"at {path or 'the top'}" if path else "at the top"


def read_report(path: str | Path) -> dict[str, Any]:
    """Load a ``findings.json`` and validate it; :class:`ReportInvalid` says why not, in one line.

    The message quotes no more of an offending value than its position: the value itself may be
    what an attacker wrote.
    """
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportInvalid(f"{path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ReportInvalid(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from exc
    errors = sorted(
        jsonschema.Draft202012Validator(report_schema()).iter_errors(report),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    if errors:
        first = errors[0]
        raise ReportInvalid(
            f"{path}: not a findings report of schema {SCHEMA_VERSION} "
            f"({first.validator} {_where(first)}; {len(errors)} problem(s))"
        )
    return report
