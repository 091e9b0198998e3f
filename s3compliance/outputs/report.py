"""The JSON report of the findings contract, the CSV, and the tables people read.

Files go into a run folder through :mod:`s3compliance.outputs.runfolder` (staged, then published
in one rename). This module knows nothing of the Pulumi program: the caller that assembles a run
folder hands its writer in (``extra_writers``), so the report never imports the generator.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from s3compliance import __version__
from s3compliance.outputs.contract import (
    FINDINGS_TABLE_COLUMNS,
    SCHEMA_VERSION,
    validate_report,
)
from s3compliance.outputs.runfolder import atomic_write_text, publish_run
from s3compliance.scan.engine import FINDING_COLUMNS, ScanResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CSV_COLUMNS = [c for c in FINDING_COLUMNS if c != "evidence"]  # evidence lives in the JSON


def utc_timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


_ENTRY_FIELDS = ("check_id", "status", "severity", "reason", "violation", "error_code", "evidence")


def _finding_entry(finding: Any) -> dict[str, Any]:
    return {name: getattr(finding, name) for name in _ENTRY_FIELDS}


def build_report(result: ScanResult, generated_at: str | None = None) -> dict[str, Any]:
    """The report as a dict, ordered deterministically (buckets by name, checks by catalogue)."""
    findings = result.findings
    per_bucket = dict(list(findings.groupby("bucket", sort=False)))
    buckets, non_compliant, errors = [], [], []
    no_findings = findings.iloc[0:0]  # a profile of account-level checks only
    for row in result.buckets.itertuples(index=False):
        group = per_bucket.get(row.bucket, no_findings)
        buckets.append(
            {
                "account_id": row.account_id,
                "account_name": row.account_name,
                "bucket_name": row.bucket,
                "bucket_arn": row.bucket_arn,
                "region": row.region,
                "status": row.status,
                "severity": row.bucket_severity,
                "violation_count": row.violation_count,
                "error_count": row.error_count,
                "findings": [_finding_entry(f) for f in group.itertuples(index=False)],
            }
        )
        if row.status == "non_compliant":
            non_compliant.append(
                {
                    "account_id": row.account_id,
                    "bucket_name": row.bucket,
                    "bucket_arn": row.bucket_arn,
                    "region": row.region,
                    "severity": row.bucket_severity,
                    "violations": list(row.violations),
                }
            )
        errors.extend(
            {
                "account_id": row.account_id,
                "bucket_name": row.bucket,
                "check_id": f.check_id,
                "error_code": f.error_code,
                "message": f.evidence["error"]["message"],
            }
            for f in group.itertuples(index=False)
            if f.status == "ERROR"
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "generated_at": generated_at or utc_timestamp(),
        "account_id": result.account_id,
        "regions": list(result.regions),
        "parameters": result.params.to_dict(),
        "summary": result.summary(),
        "non_compliant_buckets": non_compliant,
        "buckets": buckets,
        "account_findings": [
            {"account_id": f.account_id, **_finding_entry(f)}
            for f in result.account_findings.itertuples(index=False)
        ],
        "accounts": accounts_section(result.accounts),
        "errors": errors,
        "run": {"retries": result.retries, "api_calls": dict(result.api_calls)},
    }


def accounts_section(accounts: pd.DataFrame) -> list[dict[str, Any]]:
    """The report's ``accounts``: one object per account, plain JSON types."""
    return list(json.loads(accounts.to_json(orient="records")))


def findings_csv(result: ScanResult) -> str:
    """Bucket findings, then the account-level ones (with empty bucket columns)."""
    frame = result.all_findings()[CSV_COLUMNS].copy()
    frame["frameworks"] = frame["frameworks"].map(";".join)
    return frame.to_csv(index=False, lineterminator="\n")


def write_run_files(
    result: ScanResult,
    folder: Path,
    figures: dict[str, Figure] | None = None,
    generated_at: str | None = None,
    tables: dict[str, Any] | None = None,
    extra_writers: Iterable[Callable[[Path], Any]] = (),
) -> Path:
    """Write ``findings.json`` (validated), ``findings.csv``, the chart PNGs, any extra
    tables (``<name>.csv``, e.g. what tagging wrote) into ``folder``, then call each of
    ``extra_writers`` with the folder (e.g. the Pulumi import files)."""
    report = build_report(result, generated_at)
    validate_report(report)
    atomic_write_text(
        folder / "findings.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    )
    atomic_write_text(folder / "findings.csv", findings_csv(result))
    if figures:
        from s3compliance.outputs.charts import save_charts

        save_charts(figures, folder)
    for name, table in (tables or {}).items():
        if isinstance(table, pd.DataFrame):
            atomic_write_text(
                folder / f"{name}.csv", table.to_csv(index=False, lineterminator="\n")
            )
    for write in extra_writers:
        write(folder)
    return folder


def write_report(
    result: ScanResult,
    output_dir: str | Path | None = None,
    run_id: str | None = None,
    generated_at: str | None = None,
    figures: dict[str, Figure] | None = None,
    run_dir: str | Path | None = None,
    tables: dict[str, Any] | None = None,
    extra_writers: Iterable[Callable[[Path], Any]] = (),
) -> Path:
    """Write a run's files into a new run folder under ``output_dir`` (atomically).

    With ``run_dir`` (a staging folder that ``s3compliance run`` made and will publish itself),
    the files go straight into it.
    """
    if run_dir:
        return write_run_files(result, Path(run_dir), figures, generated_at, tables, extra_writers)
    writers = list(extra_writers)  # may be a one-shot iterator: the lambda runs later
    return publish_run(
        output_dir or result.params.output_dir,
        run_id or result.params.run_id,
        lambda folder: write_run_files(result, folder, figures, generated_at, tables, writers),
    )


def overview_table(result: ScanResult) -> pd.DataFrame:
    """Bucket counts by status and severity, as a two-column table for people."""
    summary = {k: v for k, v in result.summary().items() if k != "by_check"}
    if not result.organization:
        summary.pop("failed_accounts")
    return pd.DataFrame(
        {"metric": [k.replace("_", " ") for k in summary], "count": list(summary.values())}
    ).set_index("metric")


def _account_columns(result: ScanResult) -> list[str]:
    """An organization run's tables say whose bucket each row is."""
    return ["account_id", "account_name"] if result.organization else []


def non_compliant_table(result: ScanResult) -> pd.DataFrame:
    """Non-compliant buckets, worst first: what a reader acts on."""
    frame = result.buckets[result.buckets["status"] == "non_compliant"]
    frame = frame.sort_values(["violation_count", "bucket"], ascending=[False, True])
    columns = [*_account_columns(result), "bucket", "region", "bucket_severity", "violation_count"]
    table = frame[columns].copy()
    table["violations"] = frame["violations"].map("; ".join)
    return table.reset_index(drop=True)


def errors_table(result: ScanResult) -> pd.DataFrame:
    """Checks that could not be evaluated, with the AWS error code: what a reader must fix."""
    errors = result.findings[result.findings["status"] == "ERROR"]
    columns = [*_account_columns(result), "bucket", "check_id", "error_code", "reason"]
    return errors[columns].reset_index(drop=True)


ACCOUNT_TABLE_COLUMNS = [
    "account_id",
    "account_name",
    "ou_path",
    "status",
    "total_buckets",
    "non_compliant_buckets",
    "unknown_buckets",
    "high_severity_buckets",
    "compliant_buckets",
    "error_code",
    "seconds",
    "api_calls",
    "retries",
]


def accounts_table(result: ScanResult) -> pd.DataFrame:
    """One row per account, worst first: accounts in error (the scan is incomplete there),
    then by non-compliant, unknown and high-severity buckets; skipped accounts last."""
    frame = result.accounts.copy()
    frame["_rank"] = frame["status"].map({"error": 0, "scanned": 1, "skipped": 2})
    frame = frame.sort_values(
        [
            "_rank",
            "non_compliant_buckets",
            "unknown_buckets",
            "high_severity_buckets",
            "account_id",
        ],
        ascending=[True, False, False, False, True],
        kind="stable",
    )
    return frame[ACCOUNT_TABLE_COLUMNS].reset_index(drop=True)


def failed_accounts_table(result: ScanResult) -> pd.DataFrame:
    """The accounts that could not be scanned, with the AWS error code and why."""
    failed = result.accounts[result.accounts["status"] == "error"]
    return failed[["account_id", "account_name", "ou_path", "error_code", "reason"]].reset_index(
        drop=True
    )


def account_table(result: ScanResult) -> pd.DataFrame:
    """Account-level findings (profiles fsbp/all): one row per account-scope check."""
    columns = [*_account_columns(result), "check_id", "status", "reason"]
    return result.account_findings[columns].reset_index(drop=True)


def findings_table(result: ScanResult) -> pd.DataFrame:
    """Every finding, bucket-level then account-level, without the (long) evidence: the table a
    reader searches for one bucket or one check."""
    return result.all_findings()[FINDINGS_TABLE_COLUMNS].reset_index(drop=True)
