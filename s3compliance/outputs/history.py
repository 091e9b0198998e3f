"""History: every run folder under ``output/`` read back as data, with DuckDB.

The run folders stay the one source of truth (no second database to drift): a run is read from
its ``findings.parquet`` and ``run.json``, or, for a run of an older version, from its
``findings.json``. Anything else under ``output/`` (a failed run kept under ``failed/``, a
half-written staging folder, a corrupt or truncated file) is skipped with one warning naming it.
Queries never read the evidence column.

What changed between two runs is decided per ``finding_id`` (partition, account, bucket, check):

``new``        FAIL now, not FAIL before (and never FAIL in an earlier run)
``regressed``  FAIL now, not FAIL before, but FAIL in an earlier run: it had been fixed
``resolved``   FAIL before, PASS now
``persisting`` FAIL before and now
``error``      ERROR now, not ERROR before: the check could not tell
``gone``       in the previous run, and its bucket is no longer there: not "resolved"

Only the checks both runs ran are compared. An account that could not be scanned in the current
run keeps its previous findings (carried forward), so it never looks resolved.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from s3compliance.outputs.contract import ReportInvalid, read_report

if TYPE_CHECKING:
    from s3compliance.scan.engine import ScanResult

log = logging.getLogger(__name__)

COLUMNS = ["finding_id", "account_id", "bucket", "check_id", "status", "severity"]
CHANGE_KINDS = ("new", "regressed", "resolved", "error", "gone", "persisting")
CHANGE_COLUMNS = [
    "kind",
    "finding_id",
    "account_id",
    "bucket",
    "check_id",
    "severity",
    "previous_status",
    "current_status",
]


class HistoryError(ValueError):
    """A run named by the caller cannot be found or read; the message says which."""


@dataclass(frozen=True)
class Run:
    """One complete run: where it is, when it finished, what it covered."""

    run_id: str
    folder: Path
    finished_at: str
    run_date: str
    check_ids: tuple[str, ...]
    failed_accounts: frozenset[str] = frozenset()
    source: str = "parquet"  # or "json" (a run written before Parquet)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


_FOOTERS: dict[tuple[str, int, int], bool] = {}


def parquet_ok(path: Path) -> bool:
    """True when the file has a readable Parquet footer. DuckDB's glob read aborts on one bad
    file, so each is checked first; the answer is cached by path, size and mtime."""
    import pyarrow.parquet as pq

    try:
        stat = path.stat()
    except OSError:
        return False
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _FOOTERS:
        try:
            pq.read_metadata(path)
            _FOOTERS[key] = True
        except Exception:  # truncated, not Parquet at all, unreadable: all the same here
            _FOOTERS[key] = False
    return _FOOTERS[key]


def _failed_accounts(accounts: list[dict[str, Any]]) -> frozenset[str]:
    return frozenset(a["account_id"] for a in accounts if a.get("status") == "error")


def _from_parquet(folder: Path) -> Run | None:
    meta_path = folder / "run.json"
    if not parquet_ok(folder / "findings.parquet"):
        return None
    try:  # run.json says all a listing needs: findings.json (evidence and all) is not read
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return Run(
            folder.name,
            folder,
            str(meta["finished_at"]),
            str(meta["run_date"]),
            tuple(meta["check_ids"]),
            frozenset(meta["failed_account_ids"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _from_json(folder: Path) -> Run | None:
    try:
        report = read_report(folder / "findings.json")
    except ReportInvalid:
        return None
    checks = tuple(report["summary"]["by_check"])
    generated = str(report["generated_at"])
    return Run(
        folder.name,
        folder,
        generated,
        generated[:10],
        checks,
        _failed_accounts(report.get("accounts", [])),
        source="json",
    )


def complete_runs(output_dir: str | Path = "output") -> list[Run]:
    """Every complete run under ``output_dir``, oldest first; anything else skipped with one
    warning (``latest``, hidden staging folders and ``failed/`` are skipped silently)."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or folder.name in ("failed", "latest"):
            continue
        if not folder.is_dir():
            continue
        run = _from_parquet(folder) or _from_json(folder)
        if run is None:
            log.warning(
                "history: skipping %s: no readable findings.parquet or findings.json", folder
            )
            continue
        found.append(run)
    return sorted(found, key=lambda r: (r.finished_at, r.run_id))


def runs(output_dir: str | Path = "output") -> pd.DataFrame:
    """One row per complete run, oldest first."""
    rows = [
        {
            "run_id": r.run_id,
            "run_date": r.run_date,
            "finished_at": r.finished_at,
            "checks": len(r.check_ids),
            "failed_accounts": len(r.failed_accounts),
            "source": r.source,
            "folder": str(r.folder),
        }
        for r in complete_runs(output_dir)
    ]
    columns = ["run_id", "run_date", "finished_at", "checks", "failed_accounts", "source", "folder"]
    return pd.DataFrame(rows, columns=columns)


def _rows_from_json(folder: Path) -> pd.DataFrame:
    """An older run's findings, with the ids it did not write computed the same way."""
    from s3compliance.scan.engine import arn_partition, finding_id

    report = read_report(folder / "findings.json")
    rows = []
    for b in report["buckets"]:
        account = b.get("account_id", report["account_id"])
        partition = arn_partition(b.get("bucket_arn", ""))
        for f in b["findings"]:
            rows.append(
                {
                    "finding_id": f.get("finding_id")
                    or finding_id(partition, account, b["bucket_name"], f["check_id"]),
                    "account_id": account,
                    "bucket": b["bucket_name"],
                    "check_id": f["check_id"],
                    "status": f["status"],
                    "severity": f.get("severity", ""),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def findings_of(run: Run) -> pd.DataFrame:
    """A run's bucket findings (no evidence): DuckDB over its Parquet, or its JSON."""
    if run.source == "json":
        return _rows_from_json(run.folder)
    import duckdb

    query = (
        "SELECT finding_id, account_id, bucket, check_id, status, severity "
        "FROM read_parquet(?) WHERE bucket <> ''"
    )
    with duckdb.connect() as con:
        frame = con.execute(query, [str(run.folder / "findings.parquet")]).df()
    return frame[COLUMNS]


def _ever_failed(earlier: list[Run]) -> set[str]:
    ids: set[str] = set()
    for run in earlier:
        frame = findings_of(run)
        ids.update(frame.loc[frame["status"] == "FAIL", "finding_id"])
    return ids


def _resolve(name: str | Path, known: list[Run]) -> Run:
    path = Path(name)
    for run in known:
        if run.run_id == str(name) or run.folder.resolve() == path.resolve():
            return run
    raise HistoryError(f"no complete run named {str(name)!r} (see `s3compliance history`)")


def _current_from_result(result: ScanResult) -> tuple[pd.DataFrame, frozenset[str], tuple]:
    frame = result.findings[COLUMNS].copy()
    failed = frozenset(result.accounts.loc[result.accounts["status"] == "error", "account_id"])
    from s3compliance.checks import select_checks

    checks = tuple(c.id for c in select_checks(result.params.profile, result.params.checks))
    return frame, failed, checks


def changes(
    previous: str | Path | None = None,
    current: str | Path | ScanResult | None = None,
    output_dir: str | Path = "output",
) -> pd.DataFrame:
    """What changed from ``previous`` to ``current`` (run ids or folders; ``current`` may be an
    in-memory scan result not yet published). Defaults: the last two complete runs (the last
    one and the result, when ``current`` is a result). ``attrs`` names the runs and checks used.
    """
    known = complete_runs(output_dir)
    in_memory = current is not None and not isinstance(current, str | Path)
    if in_memory:
        cur_frame, cur_failed, cur_checks = _current_from_result(current)  # type: ignore[arg-type]
        cur_name = "(this scan)"
        candidates = known
    else:
        cur_run = (
            _resolve(current, known) if current is not None else (known[-1] if known else None)
        )
        if cur_run is None:
            return _empty("no complete run yet")
        cur_frame = findings_of(cur_run)
        cur_failed, cur_checks, cur_name = (
            cur_run.failed_accounts,
            cur_run.check_ids,
            cur_run.run_id,
        )
        candidates = [
            r for r in known if (r.finished_at, r.run_id) < (cur_run.finished_at, cur_run.run_id)
        ]
    if previous is not None:
        prev_run = _resolve(previous, known)
    elif candidates:
        prev_run = candidates[-1]
    else:
        return _empty("first run: no history yet")
    prev_frame = findings_of(prev_run)
    earlier = [
        r for r in known if (r.finished_at, r.run_id) < (prev_run.finished_at, prev_run.run_id)
    ]
    checks = [c for c in cur_checks if c in set(prev_run.check_ids)]
    prev_frame = prev_frame[prev_frame["check_id"].isin(checks)]
    cur_frame = cur_frame[cur_frame["check_id"].isin(checks)]
    # An account the current run could not scan keeps its previous findings.
    carried = prev_frame[prev_frame["account_id"].isin(cur_failed)]
    cur_frame = pd.concat(
        [cur_frame[~cur_frame["account_id"].isin(cur_failed)], carried], ignore_index=True
    )
    merged = prev_frame.merge(
        cur_frame, on="finding_id", how="outer", suffixes=("_prev", "_cur"), indicator="side"
    )
    buckets_now = set(cur_frame["bucket"])
    ever_failed = _ever_failed(earlier)
    rows = []
    for row in merged.itertuples(index=False):
        prev_status = row.status_prev if row.side != "right_only" else ""
        cur_status = row.status_cur if row.side != "left_only" else ""
        kind = _kind(prev_status, cur_status, row.finding_id in ever_failed)
        if kind == "gone" and row.bucket_prev in buckets_now:
            continue  # the bucket is there, the check did not produce a row: nothing to say
        if kind is None:
            continue
        side = "_cur" if cur_status else "_prev"
        rows.append(
            {
                "kind": kind,
                "finding_id": row.finding_id,
                "account_id": getattr(row, f"account_id{side}"),
                "bucket": getattr(row, f"bucket{side}"),
                "check_id": getattr(row, f"check_id{side}"),
                "severity": getattr(row, f"severity{side}"),
                "previous_status": prev_status,
                "current_status": cur_status,
            }
        )
    order = {k: n for n, k in enumerate(CHANGE_KINDS)}
    frame = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    frame = frame.sort_values(
        ["kind", "account_id", "bucket", "check_id"],
        key=lambda s: s.map(order) if s.name == "kind" else s,
        kind="stable",
    ).reset_index(drop=True)
    frame.attrs.update(
        previous=prev_run.run_id,
        current=cur_name,
        checks=checks,
        note="",
        carried_forward=sorted(cur_failed),
    )
    return frame


def _kind(prev: str, cur: str, failed_before: bool) -> str | None:
    if cur == "FAIL":
        if prev == "FAIL":
            return "persisting"
        return "regressed" if failed_before else "new"
    if prev == "FAIL" and cur == "PASS":
        return "resolved"
    if cur == "ERROR" and prev != "ERROR":
        return "error"
    if cur == "" and prev:
        return "gone"
    return None


def _empty(note: str) -> pd.DataFrame:
    frame = pd.DataFrame(columns=CHANGE_COLUMNS)
    frame.attrs.update(previous=None, current=None, checks=[], note=note, carried_forward=[])
    return frame


OPEN_COLUMNS = [
    "finding_id",
    "account_id",
    "bucket",
    "check_id",
    "severity",
    "first_seen",
    "first_seen_run",
    "age_days",
]


def open_findings(output_dir: str | Path = "output") -> pd.DataFrame:
    """Every FAIL of the last complete run, with ``first_seen`` (the run date that began its
    current FAIL streak) and its age in days, oldest first.

    A run in which the finding's account could not be scanned does not break the streak (its
    findings were carried forward); any other run without a FAIL for it does (it was fixed, or
    the check could not tell, or it did not run)."""
    known = complete_runs(output_dir)
    if not known:
        return pd.DataFrame(columns=OPEN_COLUMNS)
    last = known[-1]
    current = findings_of(last)
    open_now = current[current["status"] == "FAIL"].set_index("finding_id")
    first = {fid: last for fid in open_now.index}
    still = set(open_now.index)
    for run in reversed(known[:-1]):
        if not still:
            break
        frame = findings_of(run)
        failing = set(frame.loc[frame["status"] == "FAIL", "finding_id"])
        skipped = set(open_now.index[open_now["account_id"].isin(run.failed_accounts)])
        for fid in list(still):
            if fid in failing:
                first[fid] = run
            elif fid not in skipped:
                still.discard(fid)
    today = pd.Timestamp(last.run_date)
    rows = [
        {
            "finding_id": fid,
            "account_id": row.account_id,
            "bucket": row.bucket,
            "check_id": row.check_id,
            "severity": row.severity,
            "first_seen": first[fid].run_date,
            "first_seen_run": first[fid].run_id,
            "age_days": int((today - pd.Timestamp(first[fid].run_date)).days),
        }
        for fid, row in open_now.iterrows()
    ]
    frame = pd.DataFrame(rows, columns=OPEN_COLUMNS)
    frame = frame.sort_values(["age_days", "bucket", "check_id"], ascending=[False, True, True])
    frame.attrs.update(runs=[r.run_id for r in known])
    return frame.reset_index(drop=True)
