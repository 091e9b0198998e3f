"""The JSON report of the findings contract, and writing a run's artefacts safely.

A run's files are written into a hidden staging folder next to the final one, then the folder is
renamed into place in one step: a crash leaves either a complete run folder or none, and never
touches an earlier run. ``<output>/latest`` is a symlink swapped atomically to the newest run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pandas as pd

from s3compliance import __version__
from s3compliance.scan import FINDING_COLUMNS, ScanResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SCHEMA_VERSION = "1.0"
CSV_COLUMNS = [c for c in FINDING_COLUMNS if c != "evidence"]  # evidence lives in the JSON


def report_schema() -> dict[str, Any]:
    """The JSON Schema shipped in the package; every report is validated against it."""
    return json.loads(files("s3compliance").joinpath("schemas/findings.schema.json").read_text())


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
    for row in result.buckets.itertuples(index=False):
        group = per_bucket[row.bucket]
        buckets.append(
            {
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
                    "bucket_name": row.bucket,
                    "bucket_arn": row.bucket_arn,
                    "region": row.region,
                    "severity": row.bucket_severity,
                    "violations": list(row.violations),
                }
            )
        errors.extend(
            {
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
            _finding_entry(f) for f in result.account_findings.itertuples(index=False)
        ],
        "errors": errors,
        "run": {"retries": result.retries, "api_calls": dict(result.api_calls)},
    }


def validate_report(report: dict[str, Any]) -> None:
    """Raise :class:`jsonschema.ValidationError` when the report breaks the contract."""
    jsonschema.Draft202012Validator(report_schema()).validate(report)


def findings_csv(result: ScanResult) -> str:
    """Bucket findings, then the account-level ones (with empty bucket columns)."""
    frame = result.all_findings()[CSV_COLUMNS].copy()
    frame["frameworks"] = frame["frameworks"].map(";".join)
    return frame.to_csv(index=False, lineterminator="\n")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old content or the new, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide the report from the team
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def new_run_id(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def _free_run_dir(output_dir: Path, run_id: str) -> Path:
    """``output/<run_id>``, or ``<run_id>-2``, ``-3``... : an earlier run is never overwritten."""
    candidate, n = output_dir / run_id, 1
    while candidate.exists():
        n += 1
        candidate = output_dir / f"{run_id}-{n}"
    return candidate


def point_latest(output_dir: Path, run_dir: Path) -> None:
    """Swap ``output/latest`` to the run folder in one rename."""
    link = output_dir / "latest"
    tmp = output_dir / f".latest.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(tmp, link)


@dataclass
class StagedRun:
    """A run folder being written: files go into ``staging``; ``final`` is set once published."""

    staging: Path
    final: Path | None = None


@contextlib.contextmanager
def staged_run(output_dir: str | Path, run_id: str | None) -> Iterator[StagedRun]:
    """A hidden staging folder that becomes ``output_dir/<run_id>`` when the block succeeds.

    If the block raises, the staging folder is removed and nothing under ``output_dir`` changes.
    On success it is renamed into place (``-2``, ``-3``... if the name is taken) and ``latest``
    is pointed at it.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    run_id = run_id or new_run_id()
    run = StagedRun(Path(tempfile.mkdtemp(dir=output_dir, prefix=f".{run_id}.", suffix=".partial")))
    try:
        os.chmod(run.staging, 0o777 & ~_umask())
        yield run
        run.final = _free_run_dir(output_dir, run_id)
        os.rename(run.staging, run.final)
    except BaseException:
        shutil.rmtree(run.staging, ignore_errors=True)
        raise
    point_latest(output_dir, run.final)


def publish_run(output_dir: str | Path, run_id: str | None, write: Callable[[Path], None]) -> Path:
    """Stage a run folder, let ``write`` fill it, then move it into place and point latest at it."""
    with staged_run(output_dir, run_id) as run:
        write(run.staging)
    assert run.final is not None
    return run.final


def write_run_files(
    result: ScanResult,
    folder: Path,
    figures: dict[str, Figure] | None = None,
    generated_at: str | None = None,
    tables: dict[str, Any] | None = None,
    import_plan: pd.DataFrame | None = None,
) -> Path:
    """Write ``findings.json`` (validated), ``findings.csv``, the chart PNGs, any extra
    tables (``<name>.csv``, e.g. what tagging wrote) and the Pulumi import files into ``folder``."""
    report = build_report(result, generated_at)
    validate_report(report)
    atomic_write_text(
        folder / "findings.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    )
    atomic_write_text(folder / "findings.csv", findings_csv(result))
    if figures:
        from s3compliance.charts import save_charts

        save_charts(figures, folder)
    for name, table in (tables or {}).items():
        if isinstance(table, pd.DataFrame):
            atomic_write_text(
                folder / f"{name}.csv", table.to_csv(index=False, lineterminator="\n")
            )
    if import_plan is not None:
        from s3compliance.pulumi_import import Alarm, write_pulumi_folder

        p = result.params
        alarm = Alarm(p.alarm_threshold, p.home_region) if p.alarm_threshold is not None else None
        write_pulumi_folder(import_plan, folder / "pulumi", alarm)
    return folder


def write_report(
    result: ScanResult,
    output_dir: str | Path | None = None,
    run_id: str | None = None,
    generated_at: str | None = None,
    figures: dict[str, Figure] | None = None,
    run_dir: str | Path | None = None,
    tables: dict[str, Any] | None = None,
    import_plan: pd.DataFrame | None = None,
) -> Path:
    """Write a run's files into a new run folder under ``output_dir`` (atomically).

    With ``run_dir`` (a staging folder that ``s3compliance run`` made and will publish itself),
    the files go straight into it.
    """
    if run_dir:
        return write_run_files(result, Path(run_dir), figures, generated_at, tables, import_plan)
    return publish_run(
        output_dir or result.params.output_dir,
        run_id or result.params.run_id,
        lambda folder: write_run_files(result, folder, figures, generated_at, tables, import_plan),
    )


def overview_table(result: ScanResult) -> pd.DataFrame:
    """Bucket counts by status and severity, as a two-column table for people."""
    summary = {k: v for k, v in result.summary().items() if k != "by_check"}
    return pd.DataFrame(
        {"metric": [k.replace("_", " ") for k in summary], "count": list(summary.values())}
    ).set_index("metric")


def non_compliant_table(result: ScanResult) -> pd.DataFrame:
    """Non-compliant buckets, worst first: what a reader acts on."""
    frame = result.buckets[result.buckets["status"] == "non_compliant"]
    frame = frame.sort_values(["violation_count", "bucket"], ascending=[False, True])
    table = frame[["bucket", "region", "bucket_severity", "violation_count"]].copy()
    table["violations"] = frame["violations"].map("; ".join)
    return table.reset_index(drop=True)


def errors_table(result: ScanResult) -> pd.DataFrame:
    """Checks that could not be evaluated, with the AWS error code: what a reader must fix."""
    errors = result.findings[result.findings["status"] == "ERROR"]
    return errors[["bucket", "check_id", "error_code", "reason"]].reset_index(drop=True)


def account_table(result: ScanResult) -> pd.DataFrame:
    """Account-level findings (profiles fsbp/all): one row per account-scope check."""
    return result.account_findings[["check_id", "status", "reason"]].reset_index(drop=True)
