"""History: every run folder under ``output/`` read back as data, with DuckDB.

The run folders stay the one source of truth (no second database to drift): a run is read from
its ``findings.parquet`` and ``run.json``, or, for a run of an older version, from its
``findings.json``. Anything else under ``output/`` (a failed run kept under ``failed/``, a
half-written staging folder, a corrupt or truncated file) is skipped with one warning naming it.
Queries never read the evidence column.

What changed between two runs is decided per ``finding_id`` (partition, account, bucket, check):

``new``               FAIL now, not FAIL before (and never FAIL in an earlier run)
``regressed``         FAIL now, not FAIL before, but FAIL in an earlier run: it had been fixed
``exception-expired`` FAIL before and now, accepted before and no longer: its exception
                      expired (or was taken out of the file)
``resolved``          FAIL before, PASS now
``accepted``          FAIL now under an active exception, and not before: newly accepted (a
                      finding that is new and accepted in the same run is ``accepted``, not new)
``error``             ERROR now, not ERROR before: the check could not tell
``gone``              in the previous run, and its bucket is no longer there: not "resolved"
``persisting``        FAIL before and now, accepted both times or neither

Only the checks both runs ran are compared. An account that could not be scanned in the current
run keeps its previous findings (carried forward), so it never looks resolved.

Full and delta runs. A full run scans every bucket in scope; a delta run (``run.json`` ``kind:
delta``) rescans the buckets a change touched. Every query reads the *posture* at a run: the
last full run with every later delta applied per (account, bucket): a bucket a delta covered
takes that delta's findings, a bucket it found deleted leaves, every other bucket keeps what the
run before said. A full run resets it (deltas before it only matter for the history between).
So a delta of 3 buckets makes no other bucket look gone, and the answers are those a full scan
would have given at each delta's moment.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from s3compliance.outputs.contract import ReportInvalid, read_report

if TYPE_CHECKING:
    from s3compliance.scan.scanner import ScanResult

log = logging.getLogger(__name__)

EXCEPTION_COLUMNS = ["exception_id", "exception_expires"]
#: What history reads of a finding; a run written before exceptions existed reads as having
#: none (both exception columns empty).
COLUMNS = [
    "finding_id",
    "account_id",
    "bucket",
    "check_id",
    "status",
    "severity",
    *EXCEPTION_COLUMNS,
]
CHANGE_KINDS = (
    "new",
    "regressed",
    "exception-expired",
    "resolved",
    "accepted",
    "error",
    "gone",
    "persisting",
)
CHANGE_COLUMNS = [
    "kind",
    "finding_id",
    "account_id",
    "bucket",
    "check_id",
    "severity",
    "previous_status",
    "current_status",
    *EXCEPTION_COLUMNS,  # the current exception (the previous one for exception-expired)
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
    account_ids: tuple[str, ...] = ()  # every account the run set out to scan, failed ones too
    #: or "json" (a run written before Parquet), or "spool" (the scan not yet published: its
    #: findings in the Parquet parts of ``extra["files"]``)
    source: str = "parquet"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    kind: str = "full"  # or "delta": only the buckets of ``observed``
    base_run_id: str | None = None  # a delta: the full run ``latest`` named when it published
    #: A delta's (account, bucket) pairs, covered or found deleted, in the accounts it reached.
    observed: frozenset[tuple[str, str]] = frozenset()
    deleted: frozenset[tuple[str, str]] = frozenset()

    @property
    def scanned_accounts(self) -> list[str]:
        """The accounts the run reached (a delta: those it observed a bucket of)."""
        if self.kind == "delta":
            return sorted({a for a, _ in self.observed})
        return [a for a in self.account_ids if a not in self.failed_accounts]


_FOOTERS: dict[tuple[str, int, int], frozenset[str] | None] = {}


def _footer(path: Path) -> frozenset[str] | None:
    """The file's column names, or None when it has no readable Parquet footer; cached by
    path, size and mtime."""
    import pyarrow.parquet as pq

    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _FOOTERS:
        try:
            _FOOTERS[key] = frozenset(pq.read_schema(path).names)
        except Exception:  # truncated, not Parquet at all, unreadable: all the same here
            _FOOTERS[key] = None
    return _FOOTERS[key]


def parquet_ok(path: Path) -> bool:
    """True when the file has a readable Parquet footer. DuckDB's glob read aborts on one bad
    file, so each is checked first."""
    return _footer(path) is not None


def has_exceptions(path: Path) -> bool:
    """The findings file carries the exception columns (written since accepted risks exist)."""
    return "exception_id" in (_footer(path) or ())


def _failed_accounts(accounts: list[dict[str, Any]]) -> frozenset[str]:
    return frozenset(a["account_id"] for a in accounts if a.get("status") == "error")


def _from_parquet(folder: Path) -> Run | None:
    meta_path = folder / "run.json"
    if not parquet_ok(folder / "findings.parquet"):
        return None
    try:  # run.json says all a listing needs: findings.json (evidence and all) is not read
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return _run_from_metadata(meta, folder.name, folder)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pairs(by_account: Any, failed: frozenset[str]) -> frozenset[tuple[str, str]]:
    """``{account: [bucket, ...]}`` read back (untrusted) as pairs, without failed accounts."""
    if not isinstance(by_account, dict):
        raise TypeError("a delta's buckets are {account: [bucket, ...]}")
    pairs = set()
    for account, names in by_account.items():
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise TypeError(f"a delta's buckets of {account} are not a list of names")
        if account not in failed:
            pairs.update((str(account), n) for n in names)
    return frozenset(pairs)


def _with_kind(run: Run, kind: Any, delta: dict[str, Any]) -> Run:
    """The run as full (``kind`` absent: a run written before deltas) or delta."""
    if kind in (None, "full"):
        return run
    if kind != "delta":
        raise ValueError(f"unknown run kind {kind!r}")
    covered = _pairs(delta["buckets"], run.failed_accounts)
    deleted = _pairs(delta["deleted_buckets"], run.failed_accounts)
    base = delta.get("base_run_id")
    return replace(
        run,
        kind="delta",
        base_run_id=None if base is None else str(base),
        observed=covered | deleted,
        deleted=deleted,
    )


def _run_from_metadata(meta: dict[str, Any], run_id: str, folder: Path) -> Run:
    """A :class:`Run` from the keys of ``run.json`` (:func:`report.run_metadata`)."""
    run = Run(
        run_id,
        folder,
        str(meta["finished_at"]),
        str(meta["run_date"]),
        tuple(meta["check_ids"]),
        frozenset(meta["failed_account_ids"]),
        tuple(meta["account_ids"]),
    )
    return _with_kind(run, meta.get("kind"), meta)


def _from_json(folder: Path) -> Run | None:
    try:
        report = read_report(folder / "findings.json")
    except ReportInvalid:
        return None
    checks = tuple(report["summary"]["by_check"])
    generated = str(report["generated_at"])
    accounts = report.get("accounts") or [{"account_id": report["account_id"]}]
    run = Run(
        folder.name,
        folder,
        generated,
        generated[:10],
        checks,
        _failed_accounts(accounts),
        tuple(a["account_id"] for a in accounts),
        source="json",
    )
    meta = report.get("run", {})
    try:
        return _with_kind(run, meta.get("kind"), meta.get("delta", {}))
    except (KeyError, TypeError, ValueError):
        return None


def complete_runs(output_dir: str | Path = "output") -> list[Run]:
    """Every complete run under ``output_dir``, full and delta, oldest first; anything else
    skipped with one warning (``latest``, hidden staging folders and ``failed/`` are skipped
    silently)."""
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


RUNS_COLUMNS = [
    "run_id",
    "kind",
    "run_date",
    "finished_at",
    "checks",
    "failed_accounts",
    "buckets",  # a delta: the buckets it covered or found deleted (a full run: empty)
    "source",
    "folder",
]


def runs(output_dir: str | Path = "output") -> pd.DataFrame:
    """One row per complete run, full and delta, oldest first."""
    rows = [
        {
            "run_id": r.run_id,
            "kind": r.kind,
            "run_date": r.run_date,
            "finished_at": r.finished_at,
            "checks": len(r.check_ids),
            "failed_accounts": len(r.failed_accounts),
            "buckets": None if r.kind == "full" else len(r.observed),
            "source": r.source,
            "folder": str(r.folder),
        }
        for r in complete_runs(output_dir)
    ]
    return pd.DataFrame(rows, columns=RUNS_COLUMNS)


def _rows_from_json(folder: Path) -> pd.DataFrame:
    """An older run's findings, with the ids it did not write computed the same way."""
    from s3compliance.scan.scanner import arn_partition, finding_id

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
                    "exception_id": f.get("exception_id", ""),
                    "exception_expires": f.get("exception_expires", ""),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def findings_of(run: Run) -> pd.DataFrame:
    """A run's bucket findings (no evidence): DuckDB over its Parquet, or its JSON, or the
    scan result it was made from (:func:`run_of_result`)."""
    if run.source == "json":
        return _rows_from_json(run.folder)
    store = _Store([run])
    try:
        return store.df(f"SELECT {', '.join(COLUMNS)} FROM {store.source([0])}")
    finally:
        store.close()


def _parquet_files(run: Run) -> list[str]:
    """The Parquet files of a run's findings: its ``findings.parquet``, or the parts of the
    scan in memory (:func:`run_of_result`); none for a run read from JSON."""
    if run.source == "parquet":
        return [str(run.folder / "findings.parquet")]
    if run.source == "spool":
        return list(run.extra["files"])
    return []


def _sql_list(values: list[str]) -> str:
    """A DuckDB list literal of strings (file paths and check ids come from files: quoted)."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]::VARCHAR[]"


def posture_plan(
    known: list[Run], targets: list[int], carry_all: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where the posture at each run of ``targets`` comes from, in one pass over the runs:

    ``bases`` (n, account_id, base): the account's findings are those of run ``base`` (the last
    full run that scanned it), except for ``overrides`` (n, account_id, bucket, src): buckets a
    later delta observed, whose findings are those of run ``src`` (none when it found the
    bucket deleted).

    A full run resets what deltas said of the accounts it scanned. An account it could not scan
    is carried (its earlier base and deltas stay); an account it did not list leaves the
    posture, unless ``carry_all`` (the trend carries every account forward to its last scan).
    """
    wanted = set(targets)
    base: dict[str, int] = {}
    latest: dict[str, dict[str, int]] = {}
    bases, overrides = [], []
    for n, run in enumerate(known[: max(targets, default=-1) + 1]):
        if run.kind == "full":
            for account in run.scanned_accounts:
                base[account] = n
                latest.pop(account, None)
            if not carry_all:
                listed = set(run.account_ids)
                for account in [a for a in base if a not in listed]:
                    del base[account]
                for account in [a for a in latest if a not in listed]:
                    del latest[account]
        else:
            for account, bucket in run.observed:
                latest.setdefault(account, {})[bucket] = n
        if n in wanted:
            bases.extend((n, account, b) for account, b in base.items())
            overrides.extend(
                (n, account, bucket, src)
                for account, seen in latest.items()
                for bucket, src in seen.items()
            )
    return (
        pd.DataFrame(bases, columns=["n", "account_id", "base"]),
        pd.DataFrame(overrides, columns=["n", "account_id", "bucket", "src"]),
    )


class _Store:
    """Some runs as one DuckDB connection, for queries that span many runs.

    Tables: ``runs`` (idx in the order given, run_id, run_date), ``scanned`` (idx, account_id:
    the accounts each run did scan, a delta's those it observed a bucket of), ``observed`` (idx,
    account_id, bucket: what each delta covered or found deleted), ``full_scanned`` (idx,
    account_id: full runs only), ``run_checks`` (idx, check_id). :meth:`source` is the SQL of
    the findings of some runs (idx added), read from the Parquet files directly (only the
    columns a query names), and from the JSON of older runs or the scan in memory;
    :meth:`posture` the findings of the posture at some runs.
    """

    def __init__(self, known: list[Run]) -> None:
        import duckdb

        self.known = known
        self.con = duckdb.connect()
        self.con.execute("SET preserve_insertion_order = false")  # less memory, same answers
        runs_frame = pd.DataFrame(
            {
                "idx": range(len(known)),
                "run_id": [r.run_id for r in known],
                "run_date": pd.to_datetime([r.run_date for r in known]).date,
            }
        )
        files = [(n, path) for n, r in enumerate(known) for path in _parquet_files(r)]
        scanned = [(n, a) for n, r in enumerate(known) for a in r.scanned_accounts]
        full = [(n, a) for n, a in scanned if known[n].kind == "full"]
        observed = [(n, a, b) for n, r in enumerate(known) for a, b in sorted(r.observed)]
        checks = [(n, c) for n, r in enumerate(known) for c in r.check_ids]
        self._table("runs", runs_frame)
        self._table(
            "run_files",
            pd.DataFrame(
                {
                    "idx": pd.Series([n for n, _ in files], dtype="int64"),
                    "path": pd.Series([path for _, path in files], dtype=object),
                }
            ),
        )
        self._table("scanned", pd.DataFrame(scanned, columns=["idx", "account_id"]))
        self._table("full_scanned", pd.DataFrame(full, columns=["idx", "account_id"]))
        self._table("observed", pd.DataFrame(observed, columns=["idx", "account_id", "bucket"]))
        self._table("run_checks", pd.DataFrame(checks, columns=["idx", "check_id"]))
        typed = ", ".join(f"{c} VARCHAR" for c in COLUMNS)
        self.con.execute(f"CREATE TABLE json_findings (idx BIGINT, {typed})")
        self._loaded: set[int] = set()
        self.plan: tuple[pd.DataFrame, pd.DataFrame] | None = None  # the last posture's

    def _table(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register("_frame", frame)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _frame")
        self.con.unregister("_frame")

    def source(self, idxs: list[int]) -> str:
        """SQL (a parenthesized SELECT) of the bucket findings of runs ``idxs``."""
        parts = []
        files = [path for n in idxs for path in _parquet_files(self.known[n])]
        if files:
            listed = _sql_list(files)
            if any(has_exceptions(Path(f)) for f in files):  # older files: NULL, read as none
                # an all-empty column may be stored untyped (NULL): read it as text
                accepted = ", ".join(
                    f"coalesce(CAST(p.{c} AS VARCHAR), '') AS {c}" for c in EXCEPTION_COLUMNS
                )
            else:
                accepted = ", ".join(f"'' AS {c}" for c in EXCEPTION_COLUMNS)
            parts.append(
                "SELECT r.idx, p.finding_id, p.account_id, p.bucket, p.check_id, p.status, "
                f"p.severity, {accepted} "
                f"FROM read_parquet({listed}, filename = true, union_by_name = true) "
                "p JOIN run_files r ON p.filename = r.path WHERE p.bucket <> ''"
            )
        older = [n for n in idxs if self.known[n].source == "json"]
        for n in older:
            if n not in self._loaded:
                frame = findings_of(self.known[n]).copy()
                frame.insert(0, "idx", n)
                self.con.register("_frame", frame)
                self.con.execute("INSERT INTO json_findings SELECT * FROM _frame")
                self.con.unregister("_frame")
                self._loaded.add(n)
        if older:
            parts.append(
                "SELECT * FROM json_findings WHERE idx IN (" + ", ".join(map(str, older)) + ")"
            )
        return "(" + (" UNION ALL ".join(parts) or "SELECT * FROM json_findings WHERE false") + ")"

    def posture(self, targets: list[int], carry_all: bool = False) -> str:
        """SQL (a parenthesized SELECT) of the posture's findings at each run of ``targets``:
        ``n`` (the target), ``src`` (the run a row comes from), then the findings' columns.
        See :func:`posture_plan`."""
        bases, overrides = self.plan = posture_plan(self.known, targets, carry_all)
        self._table("posture_bases", bases)
        columns = ", ".join(f"h.{c}" for c in COLUMNS)
        # Bases are full runs, overrides deltas: two sets of files, each read once (a CTE read
        # twice would be materialized: a year of an organization's rows in memory).
        from_bases = (
            f"SELECT b.n, b.base AS src, {columns} FROM posture_bases b "
            f"JOIN {self.source(sorted(set(bases['base'])))} h "
            "ON h.idx = b.base AND h.account_id = b.account_id"
        )
        if overrides.empty:
            return f"({from_bases})"
        self._table("posture_overrides", overrides)
        return f"""(
            {from_bases}
            LEFT JOIN posture_overrides o
                ON o.n = b.n AND o.account_id = h.account_id AND o.bucket = h.bucket
            WHERE o.n IS NULL
            UNION ALL
            SELECT o.n, o.src, {columns}
            FROM posture_overrides o JOIN {self.source(sorted(set(overrides["src"])))} h
                ON h.idx = o.src AND h.account_id = o.account_id AND h.bucket = o.bucket)"""

    def df(self, sql: str, **frames: pd.DataFrame) -> pd.DataFrame:
        for name, frame in frames.items():
            self.con.register(name, frame)
        return self.con.execute(sql).df()

    def close(self) -> None:
        self.con.close()


def _resolve(name: str | Path, known: list[Run]) -> Run:
    path = Path(name)
    for run in known:
        if run.run_id == str(name) or run.folder.resolve() == path.resolve():
            return run
    raise HistoryError(f"no complete run named {str(name)!r} (see `s3compliance history`)")


CURRENT = "(this scan)"


def postures(known: list[Run], targets: list[int]) -> dict[int, pd.DataFrame]:
    """The posture's findings (:data:`COLUMNS`) at each run of ``targets``."""
    store = _Store(known)
    try:
        frame = store.df(f"SELECT * FROM {store.posture(targets)} p")
    finally:
        store.close()
    return {
        n: frame.loc[frame["n"] == n, COLUMNS].reset_index(drop=True) for n in sorted(set(targets))
    }


def run_of_result(result: ScanResult) -> Run:
    """The scan being made, before it is published, as a run that sorts after every other
    (described by the same :func:`report.run_metadata` its ``run.json`` will hold)."""
    from s3compliance.outputs.report import run_metadata

    run = _run_from_metadata(run_metadata(result, result.started_at), CURRENT, Path())
    return replace(
        run,
        finished_at="~",  # after any timestamp
        source="spool",  # read where it is, as a published run's findings.parquet
        extra={"files": [str(p.path) for p in result.spool.parts]},
    )


def _with_current(known: list[Run], current: ScanResult | None) -> list[Run]:
    return known if current is None else [*known, run_of_result(current)]


def changes(
    previous: str | Path | None = None,
    current: str | Path | ScanResult | None = None,
    output_dir: str | Path = "output",
) -> pd.DataFrame:
    """What changed from the posture after ``previous`` to the posture after ``current`` (run ids
    or folders, full or delta; ``current`` may be an in-memory scan result not yet published).
    Defaults: the newest run and the one before it (the last run and the result, when
    ``current`` is a result). ``attrs`` names the runs and checks used."""
    known = complete_runs(output_dir)
    in_memory = current is not None and not isinstance(current, str | Path)
    if in_memory:
        known = [*known, run_of_result(current)]  # type: ignore[arg-type]
        cur_idx = len(known) - 1
    elif current is not None:
        cur_idx = known.index(_resolve(current, known))
    elif known:
        cur_idx = len(known) - 1
    else:
        return _empty("no complete run yet")
    cur_run = known[cur_idx]
    if previous is not None:
        prev_idx = known.index(_resolve(previous, known))
    elif cur_idx:
        prev_idx = cur_idx - 1
    else:
        return _empty("first run: no history yet")
    prev_run = known[prev_idx]
    cur_name = CURRENT if in_memory else cur_run.run_id
    frames = postures(known, [prev_idx, cur_idx])
    prev_frame, cur_frame = frames[prev_idx], frames[cur_idx]
    earlier = [
        n
        for n, r in enumerate(known)
        if (r.finished_at, r.run_id) < (prev_run.finished_at, prev_run.run_id)
    ]
    checks = [c for c in cur_run.check_ids if c in set(prev_run.check_ids)]
    prev_frame = prev_frame[prev_frame["check_id"].isin(checks)]
    cur_frame = cur_frame[cur_frame["check_id"].isin(checks)]
    cur_failed = cur_run.failed_accounts
    merged = prev_frame.merge(
        cur_frame, on="finding_id", how="outer", suffixes=("_prev", "_cur"), indicator="side"
    )
    exception_columns = [f"{c}{s}" for c in EXCEPTION_COLUMNS for s in ("_prev", "_cur")]
    merged[exception_columns] = merged[exception_columns].fillna("")
    buckets_now = set(zip(cur_frame["account_id"], cur_frame["bucket"], strict=True))
    ever_failed = _ever_failed(known, earlier, merged)
    rows = []
    for row in merged.itertuples(index=False):
        prev_status = row.status_prev if row.side != "right_only" else ""
        cur_status = row.status_cur if row.side != "left_only" else ""
        kind = _kind(
            prev_status,
            cur_status,
            row.finding_id in ever_failed,
            bool(row.exception_id_prev),
            bool(row.exception_id_cur),
        )
        if kind == "gone" and (row.account_id_prev, row.bucket_prev) in buckets_now:
            continue  # the bucket is there, the check did not produce a row: nothing to say
        if kind is None:
            continue
        side = "_cur" if cur_status else "_prev"
        told = "_prev" if kind == "exception-expired" else side
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
                "exception_id": getattr(row, f"exception_id{told}"),
                "exception_expires": getattr(row, f"exception_expires{told}"),
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
        previous_kind=describe_kind(prev_run),
        current_kind=describe_kind(cur_run),
        checks=checks,
        note="",
        carried_forward=sorted(cur_failed),
    )
    return frame


def describe_kind(run: Run) -> str:
    """``full run``, or ``delta run of N bucket(s)`` (covered or found deleted)."""
    return "full run" if run.kind == "full" else f"delta run of {len(run.observed)} bucket(s)"


def _ever_failed(known: list[Run], earlier: list[int], merged: pd.DataFrame) -> set[str]:
    """Of the findings that FAIL now and did not before, those that FAILed in an earlier run."""
    asked = merged.loc[
        (merged["status_cur"] == "FAIL") & (merged["status_prev"] != "FAIL"), ["finding_id"]
    ]
    if asked.empty or not earlier:
        return set()
    store = _Store(known)
    try:
        found = store.df(
            f"SELECT DISTINCT h.finding_id FROM {store.source(earlier)} h "
            "WHERE h.status = 'FAIL' AND h.finding_id IN (SELECT finding_id FROM asked)",
            asked=asked,
        )
    finally:
        store.close()
    return set(found["finding_id"])


def _kind(
    prev: str,
    cur: str,
    failed_before: bool,
    prev_accepted: bool = False,
    cur_accepted: bool = False,
) -> str | None:
    if cur == "FAIL" and cur_accepted:
        return "persisting" if prev == "FAIL" and prev_accepted else "accepted"
    if cur == "FAIL":
        if prev == "FAIL":
            return "exception-expired" if prev_accepted else "persisting"
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
    frame.attrs.update(
        previous=None,
        current=None,
        previous_kind=None,
        current_kind=None,
        checks=[],
        note=note,
        carried_forward=[],
    )
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
    *EXCEPTION_COLUMNS,  # the exception accepting it, if any, and its end date
]


def open_findings(output_dir: str | Path = "output") -> pd.DataFrame:
    """Every FAIL of the posture after the newest run (full or delta), with ``first_seen`` (the
    run date that began its current FAIL streak) and its age in days, oldest first; an accepted
    FAIL shows its exception's id and end date (an accepted risk is still open: its age keeps
    growing).

    Only a run that looked at the finding's bucket with its check (a full run that scanned the
    account, a delta that covered the bucket) can break the streak, and only by not saying FAIL:
    PASS, or no row at all (the bucket was not there). A run that could not scan the account,
    that did not run the check, or whose check said ERROR (it could not tell) leaves the streak
    as it was: an age is never made shorter by a gap in the evidence.
    """
    known = complete_runs(output_dir)
    if not known:
        return pd.DataFrame(columns=OPEN_COLUMNS)
    last_idx = len(known) - 1
    last = known[last_idx]
    store = _Store(known)
    try:
        current = store.df(f"SELECT {', '.join(COLUMNS)} FROM {store.posture([last_idx])} p")
        open_now = current.loc[
            current["status"] == "FAIL", ["finding_id", "account_id", "bucket", "check_id"]
        ]
        first_idx: dict[str, int] = {}
        if len(open_now) and last_idx:
            # The runs before the last that looked at the finding's bucket with its check (a
            # full run that scanned the account, a delta that covered the bucket), numbered
            # newest first (pos); the streak is the unbroken prefix of FAIL/ERROR rows there:
            # where pos == rn. A bucket no delta looked at is numbered per (account, check)
            # over the full runs (cheap); one a delta did, per finding.
            streaks = store.df(
                f"""
                WITH touched AS (
                    SELECT DISTINCT account_id, bucket FROM observed WHERE idx < {last_idx}),
                ft AS (
                    SELECT f.finding_id, f.account_id, f.bucket, f.check_id,
                        t.bucket IS NOT NULL AS touched
                    FROM open_now f LEFT JOIN touched t USING (account_id, bucket)),
                rac AS (
                    SELECT s.account_id, c.check_id, s.idx,
                        row_number() OVER (
                            PARTITION BY s.account_id, c.check_id ORDER BY s.idx DESC) AS pos
                    FROM full_scanned s JOIN run_checks c USING (idx) WHERE s.idx < {last_idx}),
                looked AS (
                    SELECT DISTINCT f.finding_id, s.idx
                    FROM ft f
                    JOIN (SELECT idx, account_id, NULL AS bucket FROM full_scanned
                          UNION ALL SELECT idx, account_id, bucket FROM observed) s
                        ON s.account_id = f.account_id
                        AND (s.bucket IS NULL OR s.bucket = f.bucket)
                    JOIN run_checks c ON c.idx = s.idx AND c.check_id = f.check_id
                    WHERE f.touched AND s.idx < {last_idx}),
                rac_touched AS (
                    SELECT finding_id, idx,
                        row_number() OVER (PARTITION BY finding_id ORDER BY idx DESC) AS pos
                    FROM looked),
                positions AS (
                    SELECT h.finding_id, h.idx, h.status, coalesce(t.pos, r.pos) AS pos
                    FROM {store.source(list(range(last_idx)))} h
                    JOIN ft f ON f.finding_id = h.finding_id
                    LEFT JOIN rac r ON NOT f.touched AND r.account_id = h.account_id
                        AND r.check_id = h.check_id AND r.idx = h.idx
                    LEFT JOIN rac_touched t ON f.touched AND t.finding_id = h.finding_id
                        AND t.idx = h.idx
                    WHERE h.status IN ('FAIL', 'ERROR')),
                hits AS (
                    SELECT finding_id, idx, status, pos,
                        row_number() OVER (PARTITION BY finding_id ORDER BY idx DESC) AS rn
                    FROM positions WHERE pos IS NOT NULL)
                SELECT finding_id, min(idx) FILTER (WHERE status = 'FAIL') AS first_idx
                FROM hits WHERE pos = rn GROUP BY finding_id
                """,
                open_now=open_now,
            )
            streaks = streaks.dropna(subset=["first_idx"])  # only ERROR in the streak: FAIL now
            first_idx = dict(
                zip(streaks["finding_id"], streaks["first_idx"].astype(int), strict=True)
            )
    finally:
        store.close()
    today = pd.Timestamp(last.run_date)
    rows = []
    for row in current[current["status"] == "FAIL"].itertuples(index=False):
        first = known[first_idx.get(row.finding_id, last_idx)]
        rows.append(
            {
                "finding_id": row.finding_id,
                "account_id": row.account_id,
                "bucket": row.bucket,
                "check_id": row.check_id,
                "severity": row.severity,
                "first_seen": first.run_date,
                "first_seen_run": first.run_id,
                "age_days": int((today - pd.Timestamp(first.run_date)).days),
                "exception_id": row.exception_id,
                "exception_expires": row.exception_expires,
            }
        )
    frame = pd.DataFrame(rows, columns=OPEN_COLUMNS)
    frame = frame.sort_values(["age_days", "bucket", "check_id"], ascending=[False, True, True])
    frame.attrs.update(runs=[r.run_id for r in known])
    return frame.reset_index(drop=True)


TREND_BY = {"check": "check_id", "account": "account_id", "severity": "severity"}
#: The trend's counts: FAIL counts the FAILs no exception accepts, ACCEPTED the others.
STATUSES = ("FAIL", "PASS", "ERROR", "ACCEPTED")


def trend(
    output_dir: str | Path = "output",
    by: str = "check",
    days: int = 90,
    current: ScanResult | None = None,
) -> pd.DataFrame:
    """FAIL / PASS / ERROR / ACCEPTED counts per run date and ``by`` (check, account or
    severity), over the ``days`` days that end with the last run date. FAIL leaves out the FAILs
    an exception accepted, which ACCEPTED counts (runs from before exceptions count none).

    Each account counts with its latest run on or before the date: an account scanned on
    another day, or one that could not be scanned, is carried forward, so a day with an account
    missing does not look like an improvement. By account or severity, only the checks every
    contributing run ran are counted (a profile change is not a trend); by check, a check's line
    starts when it was first run and ends when it was dropped. ``attrs`` says the runs and checks
    used and how many (date, account) cells were carried forward. ``current``: the scan being
    made, counted as the last run (the notebook draws the trend before it publishes).
    """
    if by not in TREND_BY:
        raise HistoryError(f"by must be one of {', '.join(TREND_BY)}, not {by!r}")
    if days < 1:
        raise HistoryError(f"days must be at least 1, not {days}")
    key = TREND_BY[by]
    columns = ["run_date", key, *STATUSES]
    known = _with_current(complete_runs(output_dir), current)
    if not known:
        frame = pd.DataFrame(columns=columns)
        frame.attrs.update(runs=[], checks=[], by=by, days=days, carried_forward=0)
        return frame
    store = _Store(known)
    try:
        picks = store.df(
            f"""
            WITH avail AS (
                SELECT s.account_id, r.run_date, max(s.idx) AS idx
                FROM scanned s JOIN runs r USING (idx) GROUP BY ALL),
            dates AS (
                SELECT DISTINCT run_date FROM runs
                WHERE run_date > (SELECT max(run_date) FROM runs) - INTERVAL {int(days)} DAY),
            grid AS (
                SELECT d.run_date, a.account_id
                FROM dates d CROSS JOIN (SELECT DISTINCT account_id FROM avail) a)
            SELECT g.run_date, g.account_id, a.idx, a.run_date AS source_date
            FROM grid g ASOF JOIN avail a
                ON g.account_id = a.account_id AND g.run_date >= a.run_date
            """
        )
        # Each (date, account) counts the account's posture at the picked run: the run itself
        # for a full run, the last full run with the later deltas applied for a delta.
        posture = store.posture(sorted(set(picks["idx"])), carry_all=True)
        assert store.plan is not None
        bases, overrides = store.plan
        pairs = picks[["idx", "account_id"]].rename(columns={"idx": "n"})
        used = sorted(set(bases.merge(pairs)["base"]) | set(overrides.merge(pairs)["src"]))
        checks = sorted({c for n in used for c in known[n].check_ids})
        if by != "check" and used:
            common = set.intersection(*(set(known[n].check_ids) for n in used))
            checks = [c for c in checks if c in common]
        listed = _sql_list(checks)
        counts = store.df(
            f"""
            SELECT p.run_date, h.{key},
                count(*) FILTER (WHERE h.status = 'FAIL' AND h.exception_id = '') AS FAIL,
                count(*) FILTER (WHERE h.status = 'PASS') AS PASS,
                count(*) FILTER (WHERE h.status = 'ERROR') AS ERROR,
                count(*) FILTER (WHERE h.status = 'FAIL' AND h.exception_id <> '') AS ACCEPTED
            FROM picks p JOIN {posture} h
                ON h.n = p.idx AND h.account_id = p.account_id
            WHERE list_contains({listed}, h.check_id)
            GROUP BY ALL ORDER BY p.run_date, h.{key}
            """,
            picks=picks,
        )
    finally:
        store.close()
    counts["run_date"] = pd.to_datetime(counts["run_date"]).dt.strftime("%Y-%m-%d")
    counts = counts[columns].astype({s: "int64" for s in STATUSES}).reset_index(drop=True)
    carried = picks.loc[picks["source_date"] < picks["run_date"], ["run_date", "account_id"]]
    counts.attrs.update(
        runs=[known[n].run_id for n in used],
        checks=checks,
        by=by,
        days=days,
        carried_forward=len(carried.drop_duplicates()),
    )
    return counts


REMEDIATION_COLUMNS = ["check_id", "resolved", "median_days", "p90_days", "open_now"]


def remediation_times(output_dir: str | Path = "output") -> pd.DataFrame:
    """Per check: how many FAILs were fixed, and the median and 90th percentile of the days from
    the first FAIL of each streak to the PASS that ended it.

    A streak ends only with a PASS: ERROR (the check could not tell) and runs in which the
    account was not scanned leave it open, and a bucket that disappeared was not fixed. A finding
    fixed twice counts twice. ``open_now`` is the FAIL count of the posture after the newest run.
    A delta's rows are observations like a full run's: a fix a delta saw is dated by the delta.
    """
    known = complete_runs(output_dir)
    if not known:
        return pd.DataFrame(columns=REMEDIATION_COLUMNS)
    store = _Store(known)
    try:
        # 17 million rows in a year of a large organization: the window runs over a 64-bit hash
        # of the id, the run number and a check number, not the strings.
        checks = sorted({c for r in known for c in r.check_ids})
        listed = _sql_list(checks)
        frame = store.df(
            f"""
            WITH rows AS (
                SELECT hash(finding_id) AS k, idx::INTEGER AS idx,
                    list_position({listed}, check_id)::SMALLINT AS c, status = 'FAIL' AS failing
                FROM {store.source(list(range(len(known))))}
                WHERE status IN ('FAIL', 'PASS') AND list_contains({listed}, check_id)),
            t AS (
                SELECT k, idx, c, failing,
                    lag(failing) OVER (PARTITION BY k ORDER BY idx) AS before
                FROM rows),
            edges AS (
                SELECT idx, c, failing,
                    lead(idx) OVER (PARTITION BY k ORDER BY idx) AS next_idx
                FROM t
                WHERE (failing AND before IS DISTINCT FROM true) OR (NOT failing AND before)),
            fixed AS (
                SELECT e.c, date_diff('day', a.run_date, b.run_date) AS days
                FROM edges e JOIN runs a ON a.idx = e.idx JOIN runs b ON b.idx = e.next_idx
                WHERE e.failing),
            per_check AS (
                SELECT ({listed})[c] AS check_id, count(*) AS resolved,
                    median(days) AS median_days, quantile_cont(days, 0.9) AS p90_days
                FROM fixed GROUP BY c),
            open_now AS (
                SELECT check_id, count(*) AS open_now
                FROM {store.posture([len(known) - 1])} WHERE status = 'FAIL' GROUP BY check_id)
            SELECT check_id, coalesce(resolved, 0) AS resolved, median_days, p90_days,
                coalesce(open_now, 0) AS open_now
            FROM per_check FULL OUTER JOIN open_now USING (check_id)
            ORDER BY check_id
            """
        )
    finally:
        store.close()
    frame = frame[REMEDIATION_COLUMNS].astype({"resolved": "int64", "open_now": "int64"})
    frame.attrs.update(runs=[r.run_id for r in known])
    return frame


BUCKET_STATE_COLUMNS = ["account_id", "bucket", "status", "bucket_severity"]


def _bucket_rows(run: Run) -> pd.DataFrame:
    """A run's bucket rows (status and severity), from ``buckets.parquet`` or its JSON."""
    path = run.folder / "buckets.parquet"
    if run.source == "parquet" and parquet_ok(path):
        import pyarrow.parquet as pq

        # pyarrow directly: a DuckDB connection per file cost 45 ms, most of a watcher's delta
        return pq.read_table(path, columns=BUCKET_STATE_COLUMNS).to_pandas()
    try:
        report = read_report(run.folder / "findings.json")
    except ReportInvalid:
        log.warning("history: %s has no readable bucket severities; treated as none", run.folder)
        return pd.DataFrame(columns=BUCKET_STATE_COLUMNS)
    # the contract's non_compliant_buckets says which bucket was how severe
    severity = {b["bucket_name"]: b["severity"] for b in report["non_compliant_buckets"]}
    rows = [
        (
            b.get("account_id", report["account_id"]),
            b["bucket_name"],
            b["status"],
            severity.get(b["bucket_name"], "none"),
        )
        for b in report["buckets"]
    ]
    return pd.DataFrame(rows, columns=BUCKET_STATE_COLUMNS)


def posture_buckets(output_dir: str | Path = "output") -> pd.DataFrame:
    """Every bucket of the posture after the newest run (full or delta), with its status and
    severity: what a delta's alerts compare with (a bucket announced once, not per run)."""
    return _posture_buckets(complete_runs(output_dir))


def _posture_buckets(known: list[Run]) -> pd.DataFrame:
    if not known:
        return pd.DataFrame(columns=BUCKET_STATE_COLUMNS)
    last = len(known) - 1
    bases, overrides = posture_plan(known, [last])
    cache: dict[int, pd.DataFrame] = {}

    def rows_of(n: int) -> pd.DataFrame:
        if n not in cache:
            cache[n] = _bucket_rows(known[n])
        return cache[n]

    parts = []
    replaced = set(zip(overrides["account_id"], overrides["bucket"], strict=True))
    for row in bases.itertuples(index=False):
        rows = rows_of(int(row.base))
        rows = rows[rows["account_id"] == row.account_id]
        pairs = zip(rows["account_id"], rows["bucket"], strict=True)
        keep = pd.Series([p not in replaced for p in pairs], index=rows.index, dtype=bool)
        parts.append(rows[keep])
    for row in overrides.itertuples(index=False):
        rows = rows_of(int(row.src))
        parts.append(rows[(rows["account_id"] == row.account_id) & (rows["bucket"] == row.bucket)])
    frame = pd.concat([pd.DataFrame(columns=BUCKET_STATE_COLUMNS), *parts], ignore_index=True)
    return frame.sort_values(["account_id", "bucket"]).reset_index(drop=True)


def _high_pairs(known: list[Run]) -> set[tuple[str, str]]:
    """The (account, bucket) pairs high severity in the posture after the newest run: what
    SNS ``notify_only_new`` compares a new run with, full or delta."""
    frame = _posture_buckets(known)
    high = frame[frame["bucket_severity"] == "high"]
    return set(zip(high["account_id"], high["bucket"], strict=True))


def buckets_to_announce(
    result: ScanResult, output_dir: str | Path = "output", only_new: bool = True
) -> set[str] | None:
    """``notify_only_new``: the buckets high severity in ``result`` (a full run or a delta, not
    yet published) that were not high in the posture before it (``None``, every high bucket,
    when ``only_new`` is off or there is no run yet). Per (account, bucket): a delta of three
    buckets announces at most those three."""
    known = complete_runs(output_dir) if only_new else []
    if not known:
        return None
    high = result.buckets[result.buckets["bucket_severity"] == "high"]
    before = _high_pairs(known)
    return {
        bucket
        for account, bucket in zip(high["account_id"], high["bucket"], strict=True)
        if (account, bucket) not in before
    }
