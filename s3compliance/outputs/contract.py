"""The findings contract as data: its JSON Schema, and reading a findings file back safely.

A ``findings.json`` travels (CI artefacts, shared folders, a ticket attachment), so whatever reads
one back (``import-plan``, ``tag --findings``, history) treats it as untrusted input: it is
validated against the schema shipped in the package before any value is used, and a file that
does not conform is refused with one line naming the file and the first problem. This module
imports nothing of the scan, so a reader stays light (only a report of a version without
``finding_id`` has the ids computed by the scan's function, imported then).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import fastjsonschema
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


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(report_schema())


def validate_report(report: dict[str, Any]) -> None:
    """Raise :class:`jsonschema.ValidationError` when the report breaks the contract."""
    _validator().validate(report)


@cache
def _bucket_validator() -> jsonschema.Draft202012Validator:
    return _validator().evolve(schema=report_schema()["properties"]["buckets"]["items"])


@cache
def _bucket_check() -> Callable[[Any], Any]:
    """The bucket entry's schema compiled to Python by ``fastjsonschema``: twelve times faster
    than walking it (0.34 ms a finding, half of a large run's publish). It uses only keywords
    both libraries read alike (``tests/test_report_stream.py`` checks that they agree)."""
    root = report_schema()
    return fastjsonschema.compile(
        {**root["properties"]["buckets"]["items"], "$defs": root["$defs"]}
    )


def validate_bucket_entry(entry: dict[str, Any]) -> None:
    """Raise :class:`jsonschema.ValidationError` when one entry of the report's ``buckets``
    breaks the contract: with :func:`validate_report` on the report's head (``buckets``
    empty), what a streamed ``findings.json`` is validated by, one bucket at a time. The
    compiled check decides; a refusal is explained by ``jsonschema``, as every other one."""
    try:
        _bucket_check()(entry)
    except fastjsonschema.JsonSchemaValueException:
        _bucket_validator().validate(entry)
        raise jsonschema.ValidationError(  # the compiled check also asserts formats (a date)
            f"bucket entry {str(entry.get('bucket_name'))[:64]!r}: a value breaks its format"
        ) from None


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


@dataclass(frozen=True)
class Place:
    """Where a finding of a report is: its account, and its bucket (empty for account-level)."""

    account_id: str
    account_name: str
    bucket: str
    bucket_arn: str
    region: str
    org_id: str = ""

    @property
    def partition(self) -> str:
        """``aws``, ``aws-cn``... from the bucket's ARN (``aws`` for an account-level finding)."""
        arn = self.bucket_arn
        return arn.split(":")[1] if arn.startswith("arn:") else "aws"


class Placer:
    """The places of a (validated) report's findings: what its ``accounts`` and ``regions`` say
    of each bucket entry and each account-level finding. Built from the report's head, so a
    writer that streams the buckets places them one at a time."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.accounts = {a["account_id"]: a for a in report.get("accounts", [])}
        self.default_account = report["account_id"]
        regions = report["regions"]
        self.home = regions[0] if regions and regions[0] != "*" else ""

    def bucket(self, bucket: dict[str, Any]) -> Place:
        account_id = bucket.get("account_id", self.default_account)
        known = self.accounts.get(account_id, {})
        return Place(
            account_id,
            bucket.get("account_name") or known.get("account_name", ""),
            bucket["bucket_name"],
            bucket.get("bucket_arn") or f"arn:aws:s3:::{bucket['bucket_name']}",
            bucket.get("region", ""),
            known.get("org_id", ""),
        )

    def account(self, finding: dict[str, Any]) -> Place:
        account_id = finding.get("account_id", self.default_account)
        known = self.accounts.get(account_id, {})
        return Place(
            account_id, known.get("account_name", ""), "", "", self.home, known.get("org_id", "")
        )

    def bucket_findings(self, bucket: dict[str, Any]) -> list[tuple[dict[str, Any], Place]]:
        """One bucket entry's findings, each with its ``finding_id`` and place."""
        place = self.bucket(bucket)
        return [(_with_id(f, place), place) for f in bucket["findings"]]

    def account_findings(self, report: dict[str, Any]) -> list[tuple[dict[str, Any], Place]]:
        return [
            (_with_id(f, place), place)
            for f in report.get("account_findings", [])
            for place in (self.account(f),)
        ]


def placed_findings(report: dict[str, Any]) -> list[tuple[dict[str, Any], Place]]:
    """Every finding of a (validated) report with its place, bucket-level then account-level,
    each with its ``finding_id`` (computed the scan's way for a report of an older version):
    what the OCSF and ASFF formats are built from."""
    placer = Placer(report)
    placed = [pair for bucket in report["buckets"] for pair in placer.bucket_findings(bucket)]
    return placed + placer.account_findings(report)


def _with_id(finding: dict[str, Any], place: Place) -> dict[str, Any]:
    if finding.get("finding_id"):
        return finding
    from s3compliance.scan.scanner import finding_id  # a report of an older version only

    fid = finding_id(place.partition, place.account_id, place.bucket, finding["check_id"])
    return {**finding, "finding_id": fid}
