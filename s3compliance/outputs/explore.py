"""Exploring a finished run: its findings a page at a time, filters, one bucket's drill-down.

``notebooks/explore.ipynb`` calls these; so can any notebook. A run's findings are read from its
``findings.parquet`` through DuckDB: filters, sorting and paging are SQL (parameters, never text
pasted into a query), so a million findings browse as fast as a thousand, and only the page shown
is in memory. A run folder written before Parquet existed is read from its ``findings.json``
through :func:`s3compliance.outputs.contract.read_report` (validated). What a file holds is
untrusted: the Parquet files' columns and types are checked before use, and every value from the
account is shown as text (escaped), never as markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from s3compliance.checks import CATALOGUE
from s3compliance.checks.policy import as_list, statement_label
from s3compliance.checks.registry import SEVERITIES
from s3compliance.outputs.contract import FINDINGS_TABLE_COLUMNS, ReportInvalid, read_report
from s3compliance.outputs.runfolder import project_output_dir

#: Filters offered by :func:`explorer`, each with the choice that means "any".
ANY = "(any)"
#: The choices of the "accepted" filter: FAILs an exception covers, and every other finding.
ACCEPTED, NOT_ACCEPTED = "accepted", "not accepted"
#: A finding's exception (empty when none, and in runs written before exceptions existed).
EXCEPTION_COLUMNS = ["exception_id", "exception_expires"]
#: What a page shows: a finding without its evidence.
PAGE_COLUMNS = [*FINDINGS_TABLE_COLUMNS, *EXCEPTION_COLUMNS]
#: The default order: FAIL, then ERROR, then PASS; critical first; then account, bucket, check.
WORST = "worst first"
#: Rows a page holds unless told otherwise.
PAGE_SIZE = 500
_STATUS_ORDER = ["FAIL", "ERROR", "PASS"]
#: The Parquet columns a run's findings must have, and their Arrow types.
_FINDING_TYPES = {c: pa.string() for c in [*PAGE_COLUMNS, "evidence"]}
_BUCKET_TYPES = {"account_id": pa.string(), "bucket": pa.string(), "status": pa.string()}


def _checked_parquet(path: Path, types: dict[str, pa.DataType]) -> None:
    """Refuse, in one line, a Parquet file that cannot be read or lacks a column of its type."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise ReportInvalid(f"{path}: not a Parquet file ({str(exc).splitlines()[0]})") from exc
    for name, kind in types.items():
        index = schema.get_field_index(name)
        found = schema.field(index).type if index >= 0 else None
        if found is None or not (
            found == kind or (kind == pa.string() and found == pa.large_string())
        ):
            raise ReportInvalid(
                f"{path}: not a run's table (column {name!r} is {found or 'missing'}, not {kind})"
            )


class Run:
    """One run folder opened for exploring: DuckDB views ``findings`` (the columns of
    :data:`PAGE_COLUMNS` and ``evidence`` as JSON text) and ``buckets`` (``account_id``,
    ``bucket``, ``status``). Queries read what they return, not the run."""

    def __init__(
        self, folder: Path, findings: Path | pd.DataFrame, buckets: Path | pd.DataFrame
    ) -> None:
        self.folder = folder
        self.db = duckdb.connect()
        for name, source in (("findings", findings), ("buckets", buckets)):
            if isinstance(source, pd.DataFrame):
                self.db.register(f"{name}_frame", source)
                self.db.execute(f"CREATE VIEW {name} AS SELECT * FROM {name}_frame")
            else:
                self.db.read_parquet(str(source)).create_view(name)

    def query(self, sql: str, parameters: list[Any] | None = None) -> pd.DataFrame:
        return self.db.execute(sql, parameters or []).df()

    @cached_property
    def report(self) -> dict[str, Any]:
        """The run's ``findings.json``, validated: it reads the whole file (the explorer uses it
        only for a bucket's accepted risks, whose reviewed text lives there)."""
        return read_report(self.folder / "findings.json")

    @property
    def findings(self) -> pd.DataFrame:
        """Every finding, evidence parsed: it reads the whole run (a page is
        :func:`filter_findings` with ``limit``)."""
        frame = self.query(f"SELECT {_columns()}, evidence FROM findings")
        frame["evidence"] = _parsed(self, frame["evidence"])
        return frame

    def bucket_names(self) -> list[str]:
        """Every bucket of the run, by name."""
        rows = self.db.execute("SELECT DISTINCT bucket FROM buckets ORDER BY bucket").fetchall()
        return [r[0] for r in rows]

    def non_compliant(self) -> list[str]:
        """The non-compliant buckets, by name."""
        rows = self.db.execute(
            "SELECT DISTINCT bucket FROM buckets WHERE status = 'non_compliant' ORDER BY bucket"
        ).fetchall()
        return [r[0] for r in rows]


def _columns(names: list[str] = PAGE_COLUMNS) -> str:
    """The page's columns, nulls as "" (a run without exceptions has none to show)."""
    return ", ".join(f"COALESCE({c}, '') AS {c}" for c in names)


def default_run(cwd: Path | None = None) -> Path:
    """``output/latest`` of the project: found from the notebook's folder (``notebooks/`` beside
    ``output/``) or the current one, so JupyterLab and the command line agree."""
    return project_output_dir(cwd) / "latest"


def load_run(run: str | Path | None = None) -> Run:
    """Open a run folder (default: the project's ``output/latest``) for exploring: its
    ``findings.parquet`` and ``buckets.parquet`` (columns checked), or for a run written before
    them its ``findings.json`` (validated, and then held in memory)."""
    folder = Path(run) if run else default_run()
    findings, buckets = folder / "findings.parquet", folder / "buckets.parquet"
    if findings.exists() and buckets.exists():
        _checked_parquet(findings, _FINDING_TYPES)
        _checked_parquet(buckets, _BUCKET_TYPES)
        return Run(folder.resolve(), findings, buckets)
    return _run_from_report(folder)


def _run_from_report(folder: Path) -> Run:
    report = read_report(folder / "findings.json")
    rows, bucket_rows = [], []
    for bucket in report["buckets"]:
        base = {
            "account_id": bucket.get("account_id", report["account_id"]),
            "bucket": bucket["bucket_name"],
            "region": bucket.get("region", ""),
        }
        bucket_rows.append({**base, "status": bucket["status"]})
        rows.extend({**base, **finding} for finding in bucket["findings"])
    for finding in report.get("account_findings", []):
        rows.append({"account_id": report["account_id"], "bucket": "", "region": "", **finding})
    findings = pd.DataFrame(rows, columns=[*PAGE_COLUMNS, "evidence"]).astype(object)
    findings["evidence"] = [
        json.dumps(e, sort_keys=True, default=str) if isinstance(e, dict) else "{}"
        for e in findings["evidence"]
    ]
    findings = findings.fillna("")
    buckets = pd.DataFrame(bucket_rows, columns=["account_id", "bucket", "region", "status"])
    run = Run(folder.resolve(), findings, buckets)
    run.__dict__["report"] = report  # already read and validated
    return run


def _where(
    check: str, severity: str, status: str, account: str, bucket: str, accepted: str
) -> tuple[str, list[Any]]:
    clauses, values = ["TRUE"], []
    for column, value in (
        ("check_id", check),
        ("severity", severity),
        ("status", status),
        ("account_id", account),
    ):
        if value and value != ANY:
            clauses.append(f"{column} = ?")
            values.append(value)
    if bucket:
        clauses.append("contains(lower(bucket), lower(?))")  # a substring, not a pattern
        values.append(bucket)
    if accepted in (ACCEPTED, NOT_ACCEPTED):
        covered = "COALESCE(exception_id, '') <> ''"
        clauses.append(covered if accepted == ACCEPTED else f"NOT ({covered})")
    return " AND ".join(clauses), values


def _order(order: str) -> tuple[str, list[Any]]:
    """``worst first``, or a column of :data:`PAGE_COLUMNS` ascending (then the worst-first
    keys); anything else is refused, never pasted into the query."""
    worst = "list_position(?, status), list_position(?, severity), account_id, bucket, check_id"
    values: list[Any] = [_STATUS_ORDER, list(SEVERITIES)]
    if order == WORST:
        return worst, values
    if order not in PAGE_COLUMNS:
        raise ValueError(f"cannot sort by {order!r}: choose {WORST!r} or one of {PAGE_COLUMNS}")
    return f"{order}, {worst}", values


def count_findings(
    run: Run,
    check: str = ANY,
    severity: str = ANY,
    status: str = ANY,
    account: str = ANY,
    bucket: str = "",
    accepted: str = ANY,
) -> int:
    """How many findings match the filters (as :func:`filter_findings` takes them)."""
    where, values = _where(check, severity, status, account, bucket, accepted)
    row = run.db.execute(f"SELECT count(*) FROM findings WHERE {where}", values).fetchone()
    return int(row[0]) if row else 0


def filter_findings(
    run: Run,
    check: str = ANY,
    severity: str = ANY,
    status: str = ANY,
    account: str = ANY,
    bucket: str = "",
    accepted: str = ANY,
    order: str = WORST,
    offset: int = 0,
    limit: int | None = None,
) -> pd.DataFrame:
    """The findings matching every filter given (``(any)`` or empty: no filter), without their
    evidence, in ``order`` (default worst first), ``limit`` rows from ``offset`` (a page; None:
    every matching row). ``bucket`` is a case-insensitive substring of the bucket name;
    ``accepted`` is ``accepted`` (FAILs an exception covers) or ``not accepted`` (every other
    finding)."""
    where, values = _where(check, severity, status, account, bucket, accepted)
    order_by, order_values = _order(order)
    page = " LIMIT ? OFFSET ?" if limit is not None else ""
    paging = [limit, offset] if limit is not None else []
    return run.query(
        f"SELECT {_columns()} FROM findings WHERE {where} ORDER BY {order_by}{page}",
        [*values, *order_values, *paging],
    )


def bucket_checks(run: Run, bucket: str) -> pd.DataFrame:
    """Every check of one bucket: status, reason, the exception accepting a FAIL, and what to
    change."""
    columns = ["check_id", "status", "severity", "reason", "error_code", *EXCEPTION_COLUMNS]
    table = run.query(f"SELECT {_columns(columns)} FROM findings WHERE bucket = ?", [bucket])
    table["remediation"] = [
        CATALOGUE[c].remediation if c in CATALOGUE else "" for c in table["check_id"]
    ]
    return table


def _parsed(run: Run, texts: Iterable[str]) -> list[dict[str, Any]]:
    """Evidence read back from the run's file: JSON, or one :class:`ReportInvalid` line."""
    try:
        return [json.loads(text) if text else {} for text in texts]
    except json.JSONDecodeError as exc:
        raise ReportInvalid(f"{run.folder}: a finding's evidence is not JSON ({exc.msg})") from exc


def _evidence(run: Run, bucket: str) -> list[dict[str, Any]]:
    rows = run.db.execute("SELECT evidence FROM findings WHERE bucket = ?", [bucket]).fetchall()
    return _parsed(run, (r[0] for r in rows))


def _public_labels(evidence: dict[str, Any]) -> set[str]:
    statements = (evidence.get("analysis") or {}).get("statements") or []
    return {s.get("statement", "") for s in statements if s.get("public")}


def _policy_html(policy: dict[str, Any], public: set[str]) -> str:
    """The policy, one statement a block; those the evaluator found public are highlighted.

    Labels are the evaluator's (:func:`statement_label`, counted over the statements it reads),
    so a malformed element in the list does not shift which block is highlighted.
    """
    blocks = []
    read = 0
    for statement in as_list(policy.get("Statement")):
        label = ""
        if isinstance(statement, dict):
            label, read = statement_label(statement, read), read + 1
        text = html.escape(json.dumps(statement, indent=2, ensure_ascii=False))
        if label and label in public:
            blocks.append(
                f'<div class="s3c-public"><b>public: statement {html.escape(label)}</b>'
                f"<pre>{text}</pre></div>"
            )
        else:
            blocks.append(f"<pre>{text}</pre>")
    return "".join(blocks)


def evidence_html(run: Run, bucket: str) -> str:
    """Every evidence document of one bucket, pretty-printed and escaped; the bucket policy's
    public statements (as the evaluator named them) highlighted."""
    documents: dict[str, Any] = {}
    public: set[str] = set()
    for evidence in _evidence(run, bucket):
        for name, value in (evidence or {}).items():
            if name == "analysis":
                public |= _public_labels(evidence)
            elif name not in documents:
                documents[name] = value
    parts = [
        "<style>.s3c-public{background:#fde2e1;border-left:4px solid #c0392b;padding:4px}</style>"
    ]
    for name, value in documents.items():
        parts.append(f"<h4>{html.escape(name)}</h4>")
        if name == "policy" and isinstance(value, dict):
            parts.append(_policy_html(value, public))
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
            parts.append(f"<pre>{html.escape(text)}</pre>")
    return "".join(parts)


def exceptions_html(run: Run, bucket: str) -> str:
    """The accepted risks on one bucket: each exception's id, end date, owner and reason (from
    the report's ``exceptions`` section), escaped; "" when none covers it."""
    rows = run.db.execute(
        "SELECT exception_id, check_id FROM findings WHERE bucket = ? AND exception_id <> ''",
        [bucket],
    ).fetchall()
    if not rows:
        return ""
    entries = {e["id"]: e for e in (run.report.get("exceptions") or {}).get("entries", [])}
    items = []
    for exception_id in sorted({r[0] for r in rows}):
        entry = entries.get(exception_id, {})
        checks = [check for eid, check in rows if eid == exception_id]
        told = ", ".join(checks)
        items.append(
            f"<li><b>{html.escape(exception_id)}</b> ({html.escape(told)}) until "
            f"{html.escape(str(entry.get('expires', '?')))}, owner "
            f"{html.escape(str(entry.get('owner', '?')))}: "
            f"{html.escape(str(entry.get('reason', '')))}</li>"
        )
    return "<p>Accepted risks on this bucket:</p><ul>" + "".join(items) + "</ul>"


def show_bucket(run: Run, bucket: str) -> None:
    """Display one bucket's drill-down: its checks (interactive table), the exceptions that
    accept its FAILs, and its evidence."""
    from IPython.display import HTML, display

    from s3compliance.outputs.tables import show_table

    display(HTML(f"<h3>{html.escape(bucket)}</h3>"))
    show_table(bucket_checks(run, bucket), f"Checks of {bucket}")
    accepted = exceptions_html(run, bucket)
    if accepted:
        display(HTML(accepted))
    display(HTML(evidence_html(run, bucket)))


def summary(run: Run) -> pd.DataFrame:
    """Findings per check and status, for the top of the notebook (checks in catalogue order)."""
    counts = run.query(
        "SELECT check_id, status, count(*) AS n FROM findings GROUP BY ALL"
    ).pivot_table(index="check_id", columns="status", values="n", fill_value=0, aggfunc="sum")
    for status in ("PASS", "FAIL", "ERROR"):
        if status not in counts:
            counts[status] = 0
    order = {check_id: n for n, check_id in enumerate(CATALOGUE)}
    counts = counts.loc[sorted(counts.index, key=lambda c: (order.get(c, len(order)), c))]
    counts.columns.name = None
    return counts[["PASS", "FAIL", "ERROR"]].astype(int)


def _choices(run: Run, column: str) -> list[str]:
    rows = run.db.execute(
        f"SELECT DISTINCT {column} FROM findings WHERE COALESCE({column}, '') <> '' "
        f"ORDER BY {column}"
    ).fetchall()
    return [ANY, *(r[0] for r in rows)]


def page_label(offset: int, shown: int, total: int) -> str:
    """``findings 501 to 1,000 of 12,345`` (or ``no finding matches``)."""
    if not total:
        return "no finding matches"
    return f"findings {offset + 1:,} to {offset + shown:,} of {total:,}"


def explorer(run: Run, page_size: int = PAGE_SIZE) -> Any:
    """The widgets: filters (check, severity, status, account, accepted, bucket name) and a sort
    order over one interactive table that shows a page of ``page_size`` findings (worst first
    by default; *previous*/*next* move through the pages, each a DuckDB query), and a bucket
    picker whose choice shows that bucket's drill-down. The last expression of a cell, it
    renders in JupyterLab (and as its text form under papermill)."""
    import ipywidgets as widgets

    from s3compliance.outputs.tables import show_table

    check = widgets.Dropdown(options=_choices(run, "check_id"), description="check")
    severity = widgets.Dropdown(options=_choices(run, "severity"), description="severity")
    status = widgets.Dropdown(options=_choices(run, "status"), description="status")
    account = widgets.Dropdown(options=_choices(run, "account_id"), description="account")
    accepted = widgets.Dropdown(options=[ANY, ACCEPTED, NOT_ACCEPTED], description="accepted")
    name = widgets.Text(description="bucket", placeholder="part of a bucket name")
    order = widgets.Dropdown(options=[WORST, *PAGE_COLUMNS], description="sort")
    previous = widgets.Button(description="previous", icon="arrow-left")
    following = widgets.Button(description="next", icon="arrow-right")
    where = widgets.Label()
    picked = widgets.Dropdown(options=["", *run.bucket_names()], description="drill down")
    table, detail = widgets.Output(), widgets.Output()
    state = {"offset": 0}

    def filters() -> dict[str, str]:
        return {
            "check": check.value,
            "severity": severity.value,
            "status": status.value,
            "account": account.value,
            "bucket": name.value,
            "accepted": accepted.value,
        }

    def show() -> None:
        total = count_findings(run, **filters())
        state["offset"] = max(0, min(state["offset"], (total - 1) // page_size * page_size))
        chosen = filter_findings(
            run, **filters(), order=order.value, offset=state["offset"], limit=page_size
        )
        where.value = page_label(state["offset"], len(chosen), total)
        previous.disabled = state["offset"] == 0
        following.disabled = state["offset"] + len(chosen) >= total
        table.clear_output()
        with table:
            show_table(chosen, where.value)

    def refresh(_: Any = None) -> None:
        state["offset"] = 0
        show()

    def move(step: int) -> Any:
        def go(_: Any = None) -> None:
            state["offset"] += step * page_size
            show()

        return go

    def drill(_: Any = None) -> None:
        detail.clear_output()
        if picked.value:
            with detail:
                show_bucket(run, picked.value)

    for control in (check, severity, status, account, name, accepted, order):
        control.observe(refresh, names="value")
    previous.on_click(move(-1))
    following.on_click(move(1))
    picked.observe(drill, names="value")
    refresh()
    rows = [
        widgets.HBox([check, severity, status]),
        widgets.HBox([account, accepted, name]),
        widgets.HBox([order, previous, following, where]),
    ]
    return widgets.VBox([*rows, table, picked, detail])
