"""The JSON report of the findings contract, the CSV, and the tables people read.

Files go into a run folder through :mod:`s3compliance.outputs.runfolder` (staged, then published
in one rename). This module knows nothing of the Pulumi program: the caller that assembles a run
folder hands its writer in (``extra_writers``), so the report never imports the generator.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from s3compliance import __version__
from s3compliance.accepted.apply import STATE_COLUMNS, exception_states
from s3compliance.checks.registry import SEVERITIES
from s3compliance.outputs.contract import (
    FINDINGS_TABLE_COLUMNS,
    SCHEMA_VERSION,
    Placer,
    validate_bucket_entry,
    validate_report,
)
from s3compliance.outputs.jsonstream import ArrayWriter, write_object
from s3compliance.outputs.ocsf import ocsf_dict, report_time_ms
from s3compliance.outputs.runfolder import (
    StagedRun,
    atomic_write_stream,
    atomic_write_text,
    atomic_write_with,
    latest_full,
    staged_run,
)
from s3compliance.outputs.signing import Signer, signer_for
from s3compliance.scan.scanner import FINDING_COLUMNS, ScanResult
from s3compliance.scan.spool import decode
from s3compliance.scan.spool import to_table as spool_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CSV_COLUMNS = [c for c in FINDING_COLUMNS if c != "evidence"]
SEVERITY_RANK = {
    severity: rank for rank, severity in enumerate(SEVERITIES)
}  # evidence lives in the JSON


def utc_timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


_ENTRY_FIELDS = (
    "finding_id",
    "check_id",
    "status",
    "severity",
    "reason",
    "violation",
    "error_code",
    "evidence",
)


def _finding_entries(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """Findings as the report holds them; an accepted FAIL adds its exception's id and end."""
    entries = findings[list(_ENTRY_FIELDS)].to_dict("records")
    for entry, exception_id, expires in zip(
        entries, findings["exception_id"], findings["exception_expires"], strict=True
    ):
        if exception_id:
            entry["exception_id"] = exception_id
            entry["exception_expires"] = expires
    return entries


_PART_COLUMNS = ["account_id", "bucket", *_ENTRY_FIELDS, "exception_id", "exception_expires"]


def bucket_entries(result: ScanResult) -> Iterator[dict[str, Any]]:
    """The report's ``buckets``, one entry at a time, in ``result.buckets``' order: what
    :func:`write_findings_json` streams into ``findings.json``. The findings are read from the
    spool a part at a time (a shard's buckets: the same rows, in the same order, as the bucket
    rows), so only one part's findings are in memory (:meth:`ScanResult.by_part`)."""
    for rows, findings in result.by_part(columns=_PART_COLUMNS):
        yield from _part_entries(rows, findings)


def _part_entries(rows: pd.DataFrame, findings: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """One part's bucket entries; a finding whose bucket is not among ``rows`` is an error."""
    keys = ["account_id", "bucket"]
    where = findings.groupby(keys, sort=False).indices if len(findings) else {}
    none = np.empty(0, dtype=np.intp)
    mine = [where.get((row.account_id, row.bucket), none) for row in rows.itertuples()]
    if sum(len(m) for m in mine) != len(findings):
        raise RuntimeError("a spooled part holds findings of buckets its shard did not scan")
    entries = _finding_entries(findings.take(np.concatenate([none, *mine])))
    offset = 0
    for row, indices in zip(rows.itertuples(index=False), mine, strict=True):
        yield {
            "account_id": row.account_id,
            "account_name": row.account_name,
            "bucket_name": row.bucket,
            "bucket_arn": row.bucket_arn,
            "region": row.region,
            "status": row.status,
            "severity": row.bucket_severity,
            "violation_count": row.violation_count,
            "accepted_count": int(row.accepted_count),
            "error_count": row.error_count,
            "findings": entries[offset : offset + len(indices)],
        }
        offset += len(indices)


def _non_compliant(result: ScanResult) -> list[dict[str, Any]]:
    frame = result.buckets[result.buckets["status"] == "non_compliant"]
    return [
        {
            "account_id": row.account_id,
            "bucket_name": row.bucket,
            "bucket_arn": row.bucket_arn,
            "region": row.region,
            "severity": row.bucket_severity,
            "violations": list(row.violations),
        }
        for row in frame.itertuples(index=False)
    ]


def _errors(result: ScanResult) -> list[dict[str, Any]]:
    """ERROR findings in the buckets' order, then the findings' order within a bucket (the
    spool's order: only the ERROR rows are read)."""
    columns = ["account_id", "bucket", "check_id", "error_code", "evidence"]
    errors = result.findings_of(statuses=["ERROR"], columns=columns)
    return [
        {
            "account_id": f.account_id,
            "bucket_name": f.bucket,
            "check_id": f.check_id,
            "error_code": f.error_code,
            "message": f.evidence["error"]["message"],
        }
        for f in errors.itertuples(index=False)
    ]


def exceptions_table(result: ScanResult) -> pd.DataFrame:
    """Every exception of the file the run applied, with its state and what it covers (see
    :func:`s3compliance.accepted.exception_states`); empty without a file."""
    if result.exceptions is None:
        return pd.DataFrame(columns=STATE_COLUMNS)
    tags = dict(zip(result.buckets["bucket"], result.buckets["tags"], strict=True))
    columns = ["account_id", "region", "bucket", "check_id", "status"]
    fails = result.findings_of(statuses=["FAIL"], columns=columns)
    return exception_states(result.exceptions, fails, tags)


def exceptions_section(result: ScanResult) -> dict[str, Any] | None:
    """The report's ``exceptions``: the file's digest and each entry's state (None without)."""
    if result.exceptions is None:
        return None
    table = exceptions_table(result)
    entries = {e.id: e.to_dict() for e in result.exceptions.entries}
    return {
        "sha256": result.exceptions.sha256,
        "run_date": result.exceptions.run_date.isoformat(),
        "entries": [
            {**entries[row.id], "state": row.state, "findings": int(row.findings)}
            for row in table.itertuples(index=False)
        ],
    }


def report_head(result: ScanResult, generated_at: str | None = None) -> dict[str, Any]:
    """The report with every key in its place and ``buckets`` empty: with
    :func:`bucket_entries`, the report a piece at a time (:func:`build_report` joins them)."""
    report = {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "generated_at": generated_at or utc_timestamp(),
        "account_id": result.account_id,
        "regions": list(result.regions),
        "parameters": result.params.to_dict(),
        "summary": result.summary(),
        "non_compliant_buckets": _non_compliant(result),
        "buckets": [],
        "account_findings": [
            {"account_id": account_id, **entry}
            for account_id, entry in zip(
                result.account_findings["account_id"],
                _finding_entries(result.account_findings),
                strict=True,
            )
        ],
        "accounts": accounts_section(result.accounts),
        "errors": _errors(result),
        "run": {
            "retries": result.retries,
            "api_calls": dict(result.api_calls),
            "kind": run_kind(result),
        },
    }
    if result.delta is not None:
        report["run"]["delta"] = result.delta.metadata()
    accepted = exceptions_section(result)
    if accepted is not None:
        report["exceptions"] = accepted
    return report


def build_report(result: ScanResult, generated_at: str | None = None) -> dict[str, Any]:
    """The report as one dict, ordered deterministically (buckets by name, checks by
    catalogue). It holds every finding: a run folder's ``findings.json`` is streamed instead
    (:func:`write_findings_json`), and at scale :func:`report_head` is what fits."""
    return {**report_head(result, generated_at), "buckets": list(bucket_entries(result))}


def accounts_section(accounts: pd.DataFrame) -> list[dict[str, Any]]:
    """The report's ``accounts``: one object per account, plain JSON types."""
    return list(json.loads(accounts.to_json(orient="records")))


def _csv_rows(frame: pd.DataFrame, header: bool) -> str:
    frame = frame[CSV_COLUMNS].copy()
    frame["frameworks"] = frame["frameworks"].map(";".join)
    return frame.to_csv(index=False, header=header, lineterminator="\n")


def _csv_pieces(result: ScanResult) -> Iterator[str]:
    """The CSV a part at a time: the header, each part's rows, the account-level rows."""
    yield _csv_rows(pd.DataFrame(columns=CSV_COLUMNS), header=True)
    for _, table in result.spool.tables(CSV_COLUMNS):
        yield _csv_rows(decode(table), header=False)
    if len(result.account_findings):
        yield _csv_rows(result.account_findings, header=False)


def findings_csv(result: ScanResult) -> str:
    """Bucket findings, then the account-level ones (with empty bucket columns), as one
    string: a run folder's ``findings.csv`` is written a part at a time instead."""
    return "".join(_csv_pieces(result))


def write_findings_csv(result: ScanResult, path: Path) -> None:
    """``findings.csv`` (atomically), one spooled part in memory at a time."""
    atomic_write_stream(path, lambda fh: fh.writelines(_csv_pieces(result)), newline="")


#: Parameters that change what a run finds: two runs with the same hash are comparable as they are.
FINDINGS_PARAMETERS = (
    "regions",
    "profile",
    "checks",
    "lifecycle_max_age_days",
    "allowed_sse_algorithms",
    "high_severity_threshold",
    "include",
    "exclude",
    "trusted_account_ids",
    "log_target_buckets",
    "accounts",
    "organizational_units",
    "exclude_accounts",
)


def parameters_hash(params: dict[str, Any]) -> str:
    """16 hex digits of SHA-256 over :data:`FINDINGS_PARAMETERS` (not where or when it ran)."""
    chosen = {k: params.get(k) for k in FINDINGS_PARAMETERS}
    text = json.dumps(chosen, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def run_kind(result: ScanResult) -> str:
    """``full`` (every bucket in scope) or ``delta`` (the buckets a change touched)."""
    return "full" if result.delta is None else "delta"


def run_metadata(
    result: ScanResult,
    generated_at: str,
    run_id: str | None = None,
    base_run_id: str | None = None,
) -> dict[str, Any]:
    """``run.json``: what history needs to know about a run without reading its findings. A
    delta adds ``base_run_id`` (the full run it applies to: the one ``latest`` names when it is
    published), the buckets it covered, those it found deleted, and its events."""
    from s3compliance.checks import select_checks

    params = result.params
    accounts = list(dict.fromkeys(result.accounts["account_id"])) or [result.account_id]
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "run_id": run_id,
        "run_date": params.run_date or generated_at[:10],
        "started_at": result.started_at,
        "finished_at": generated_at,
        "scanning_account_id": result.account_id,
        "account_ids": accounts,
        "failed_account_ids": list(
            result.accounts.loc[result.accounts["status"] == "error", "account_id"]
        ),
        "regions": list(result.regions),
        "profile": params.profile,
        "check_ids": [c.id for c in select_checks(params.profile, params.checks)],
        "parameters_hash": parameters_hash(params.to_dict()),
        "exceptions_sha256": result.exceptions.sha256 if result.exceptions else None,
        "kind": run_kind(result),
        **(
            {"base_run_id": base_run_id, **result.delta.metadata()}
            if result.delta is not None
            else {}
        ),
    }


def write_findings_parquet(result: ScanResult, path: Path) -> None:
    """``findings.parquet``: the spool's parts, then the account-level findings, in the
    spool's storage format (evidence as JSON text), a part at a time (atomically)."""
    tail = spool_table(result.account_findings)
    atomic_write_with(path, lambda temporary: result.spool.write_parquet(temporary, tail))


def buckets_parquet_frame(result: ScanResult) -> pd.DataFrame:
    """Every bucket row as Parquet stores it: tags as JSON text (null when not read)."""
    frame = result.buckets.copy()
    frame["tags"] = [None if t is None else json.dumps(t, sort_keys=True) for t in frame["tags"]]
    frame["created"] = pd.to_datetime(frame["created"], utc=True)
    return frame.reset_index(drop=True)


def _parquet(frame: pd.DataFrame) -> Callable[[Path], object]:
    return lambda path: frame.to_parquet(path, engine="pyarrow", index=False)


def write_findings_json(result: ScanResult, folder: Path, generated_at: str) -> int:
    """Write ``findings.json`` and ``findings.ocsf.json`` in one pass over the buckets, one
    bucket entry in memory at a time; the number of bucket entries.

    The head (every key but ``buckets``) is validated against the contract, then each bucket
    entry as it is written: the same checks as validating the whole report, without holding it
    (a 100,000-bucket report built whole took gigabytes). Both files are renamed into place only
    when complete."""
    head = report_head(result, generated_at)
    validate_report(head)
    placer = Placer(head)
    time_ms, version = report_time_ms(head), head["tool_version"]

    def write(json_path: Path, ocsf_path: Path) -> int:
        with (
            json_path.open("w", encoding="utf-8") as report_file,
            ocsf_path.open("w", encoding="utf-8") as ocsf_file,
        ):
            ocsf = ArrayWriter(ocsf_file)

            def entries() -> Iterator[dict[str, Any]]:
                for entry in bucket_entries(result):
                    validate_bucket_entry(entry)
                    for finding, place in placer.bucket_findings(entry):
                        ocsf.add(ocsf_dict(finding, place, time_ms, version))
                    yield entry

            count = write_object(report_file, head, "buckets", entries())
            for finding, place in placer.account_findings(head):
                ocsf.add(ocsf_dict(finding, place, time_ms, version))
            ocsf.close()
            ocsf_file.write("\n")
        return count

    counted: list[int] = []
    atomic_write_with(
        folder / "findings.json",
        lambda json_tmp: atomic_write_with(
            folder / "findings.ocsf.json",
            lambda ocsf_tmp: counted.append(write(json_tmp, ocsf_tmp)),
        ),
    )
    return counted[0]


def write_run_files(
    result: ScanResult,
    folder: Path,
    figures: dict[str, Figure] | None = None,
    generated_at: str | None = None,
    tables: dict[str, Any] | None = None,
    extra_writers: Iterable[Callable[[Path], Any]] = (),
    run_id: str | None = None,
) -> Path:
    """Write ``findings.json`` (validated), ``findings.ocsf.json`` (the same findings as OCSF
    Compliance Findings), ``findings.csv``, ``findings.parquet`` and
    ``buckets.parquet`` (the run as data, for history), ``run.json``, the chart PNGs, any extra
    tables (``<name>.csv``, e.g. what tagging wrote) into ``folder``, then call each of
    ``extra_writers`` with the folder (e.g. the Pulumi import files)."""
    generated_at = generated_at or utc_timestamp()
    write_findings_json(result, folder, generated_at)
    write_findings_csv(result, folder / "findings.csv")
    write_findings_parquet(result, folder / "findings.parquet")
    atomic_write_with(folder / "buckets.parquet", _parquet(buckets_parquet_frame(result)))
    meta = run_metadata(result, generated_at, run_id)
    atomic_write_text(folder / "run.json", json.dumps(meta, indent=2) + "\n")
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
    signer: Signer | str | None = "params",
) -> Path:
    """Write a run's files into a new run folder under ``output_dir`` (atomically), sealed by
    its manifest; signed by ``signer`` (by default the one ``evidence_signing`` names).

    With ``run_dir`` (a staging folder that ``s3compliance run`` made and will publish and seal
    itself), the files go straight into it.
    """
    if run_dir:  # the caller publishes it: its planned name is the run id, when it says so
        return write_run_files(
            result, Path(run_dir), figures, generated_at, tables, extra_writers, run_id
        )
    if isinstance(signer, str):
        signer = signer_for(result.params)
    output_dir = output_dir or result.params.output_dir
    kind = run_kind(result)
    with staged_run(output_dir, run_id or result.params.run_id, signer, kind) as run:
        write_run_files(
            result, run.staging, figures, generated_at, tables, extra_writers, run.planned.name
        )
        if kind == "delta":
            run.before_publish = _record_base(Path(output_dir))
    assert run.final is not None
    return run.final


def _record_base(output_dir: Path) -> Callable[[StagedRun], None]:
    """Under the publish lock, before the manifest: a delta's ``run.json`` names its base (the
    full run ``latest`` names at that moment) and its final run id."""

    def record(staged: StagedRun) -> None:
        assert staged.final is not None
        path = staged.staging / "run.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        meta.update(run_id=staged.final.name, base_run_id=latest_full(output_dir))
        atomic_write_text(path, json.dumps(meta, indent=2) + "\n")

    return record


def overview_table(result: ScanResult) -> pd.DataFrame:
    """Bucket counts by status and severity, as a two-column table for people."""
    summary = {k: v for k, v in result.summary().items() if k != "by_check"}
    if not result.organization:
        summary.pop("failed_accounts")
    if not summary["truncated_listings"]:  # shown only when the run is incomplete for it
        summary.pop("truncated_listings")
    if result.exceptions is None:  # accepted risks are shown when the run applied a file
        summary.pop("accepted_buckets")
        summary.pop("accepted_findings")
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
    """Checks that could not be evaluated, with the AWS error code: what a reader must fix,
    worst first (the check's severity, then the bucket)."""
    columns = [*_account_columns(result), "bucket", "check_id", "error_code", "reason"]
    read = list(dict.fromkeys(["account_id", *columns, "status", "severity"]))
    errors = worst_first(result.findings_of(statuses=["ERROR"], columns=read))
    return errors[columns].reset_index(drop=True)


_STATUS_RANK = {"FAIL": 0, "ERROR": 1, "PASS": 2}


def worst_first(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings FAIL, then ERROR, then PASS; within each, critical first; then by account,
    bucket and check (stable): the order a cut report keeps its first rows in."""
    ranked = findings.assign(
        _status=findings["status"].map(_STATUS_RANK),
        _severity=findings["severity"].map(SEVERITY_RANK),
    )
    keys = ["_status", "_severity", "account_id", "bucket", "check_id"]
    ranked = ranked.sort_values(keys, kind="stable")
    return ranked.drop(columns=["_status", "_severity"])


def pass_summary(result: ScanResult) -> pd.DataFrame:
    """PASS findings counted per check, account and region: what a report too large to list
    every finding shows instead of its PASS rows (every row stays in ``findings.parquet``)."""
    keys = ["check_id", "account_id", "region"]
    counted = result.spool.sql(
        "SELECT check_id, account_id, region, count(*) AS passed FROM findings "
        "WHERE status = 'PASS' GROUP BY ALL"
    )
    account = result.account_findings
    extra = account[account["status"] == "PASS"].groupby(keys).size().rename("passed")
    counted = pd.concat([counted, extra.reset_index()], ignore_index=True)
    counted = counted.groupby(keys, as_index=False)["passed"].sum()
    return counted.astype({"passed": "int64"}).reset_index(drop=True)


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


def findings_table(result: ScanResult, statuses: Iterable[str] | None = None) -> pd.DataFrame:
    """Every finding (or those with ``statuses``), bucket-level then account-level, without
    the (long) evidence: the table a reader searches for one bucket or one check. Only its
    columns are read from the spool."""
    chosen = None if statuses is None else list(statuses)
    bucket = result.findings_of(statuses=chosen, columns=FINDINGS_TABLE_COLUMNS)
    account = result.account_findings
    if chosen is not None:
        account = account[account["status"].isin(chosen)]
    both = [f[FINDINGS_TABLE_COLUMNS] for f in (bucket, account) if len(f)]
    frame = pd.concat(both, ignore_index=True) if both else bucket
    return frame.reset_index(drop=True)
