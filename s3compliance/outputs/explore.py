"""Exploring a finished run: its findings as DataFrames, filters, and one bucket's drill-down.

``notebooks/explore.ipynb`` calls these; so can any notebook. A run folder is read back through
:func:`s3compliance.outputs.contract.read_report`: a findings file is validated before use. Every
value from the account is shown as text (escaped), never as markup.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from s3compliance.checks import CATALOGUE
from s3compliance.checks.policy import as_list, statement_label
from s3compliance.outputs.contract import FINDINGS_TABLE_COLUMNS, read_report
from s3compliance.outputs.runfolder import project_output_dir

#: Filters offered by :func:`explorer`, each with the choice that means "any".
ANY = "(any)"
#: The choices of the "accepted" filter: FAILs an exception covers, and every other finding.
ACCEPTED, NOT_ACCEPTED = "accepted", "not accepted"
#: A finding's exception (empty when none, and in runs written before exceptions existed).
EXCEPTION_COLUMNS = ["exception_id", "exception_expires"]


@dataclass
class Run:
    """One run folder, loaded: the report as written, and its findings as a DataFrame."""

    folder: Path
    report: dict[str, Any]
    findings: pd.DataFrame  # FINDINGS_TABLE_COLUMNS + exception columns + evidence

    def bucket_names(self) -> list[str]:
        return sorted(b["bucket_name"] for b in self.report["buckets"])


def default_run(cwd: Path | None = None) -> Path:
    """``output/latest`` of the project: found from the notebook's folder (``notebooks/`` beside
    ``output/``) or the current one, so JupyterLab and the command line agree."""
    return project_output_dir(cwd) / "latest"


def load_run(run: str | Path | None = None) -> Run:
    """Read a run folder (default: the project's ``output/latest``) into DataFrames."""
    folder = Path(run) if run else default_run()
    report = read_report(folder / "findings.json")
    rows = []
    for bucket in report["buckets"]:
        base = {
            "account_id": bucket.get("account_id", report["account_id"]),
            "bucket": bucket["bucket_name"],
            "region": bucket.get("region", ""),
        }
        rows.extend({**base, **finding} for finding in bucket["findings"])
    for finding in report.get("account_findings", []):
        rows.append({"account_id": report["account_id"], "bucket": "", "region": "", **finding})
    columns = [*FINDINGS_TABLE_COLUMNS, *EXCEPTION_COLUMNS, "evidence"]
    findings = pd.DataFrame(rows, columns=columns).astype(object).fillna("")
    return Run(folder.resolve(), report, findings)


def filter_findings(
    findings: pd.DataFrame,
    check: str = ANY,
    severity: str = ANY,
    status: str = ANY,
    account: str = ANY,
    bucket: str = "",
    accepted: str = ANY,
) -> pd.DataFrame:
    """The findings matching every filter given (``(any)`` or empty: no filter); ``bucket`` is a
    case-insensitive substring of the bucket name; ``accepted`` is ``accepted`` (FAILs an
    exception covers) or ``not accepted`` (every other finding)."""
    keep = pd.Series(True, index=findings.index)
    for column, value in (
        ("check_id", check),
        ("severity", severity),
        ("status", status),
        ("account_id", account),
    ):
        if value and value != ANY:
            keep &= findings[column] == value
    if bucket:
        keep &= findings["bucket"].str.contains(bucket, case=False, regex=False)
    if accepted in (ACCEPTED, NOT_ACCEPTED):
        covered = findings["exception_id"] != ""
        keep &= covered if accepted == ACCEPTED else ~covered
    return findings.loc[keep, [*FINDINGS_TABLE_COLUMNS, *EXCEPTION_COLUMNS]].reset_index(drop=True)


def bucket_checks(run: Run, bucket: str) -> pd.DataFrame:
    """Every check of one bucket: status, reason, the exception accepting a FAIL, and what to
    change."""
    rows = run.findings[run.findings["bucket"] == bucket]
    columns = ["check_id", "status", "severity", "reason", "error_code", *EXCEPTION_COLUMNS]
    table = rows[columns].copy()
    table["remediation"] = [
        CATALOGUE[c].remediation if c in CATALOGUE else "" for c in table["check_id"]
    ]
    return table.reset_index(drop=True)


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
    for evidence in run.findings.loc[run.findings["bucket"] == bucket, "evidence"]:
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
    ids = sorted(set(run.findings.loc[run.findings["bucket"] == bucket, "exception_id"]) - {""})
    if not ids:
        return ""
    entries = {e["id"]: e for e in (run.report.get("exceptions") or {}).get("entries", [])}
    items = []
    for exception_id in ids:
        entry = entries.get(exception_id, {})
        checks = run.findings.loc[
            (run.findings["bucket"] == bucket) & (run.findings["exception_id"] == exception_id),
            "check_id",
        ]
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
    """Findings per check and status, for the top of the notebook."""
    counts = run.findings.groupby(["check_id", "status"]).size().unstack(fill_value=0)
    for status in ("PASS", "FAIL", "ERROR"):
        if status not in counts:
            counts[status] = 0
    return counts[["PASS", "FAIL", "ERROR"]]


def _choices(values: pd.Series) -> list[str]:
    return [ANY, *sorted(v for v in set(values) if v)]


def explorer(run: Run) -> Any:
    """The widgets: filters (check, severity, status, account, accepted, bucket name) over one
    interactive table, and a bucket picker whose choice shows that bucket's drill-down. The last
    expression of a cell, it renders in JupyterLab (and as its text form under papermill)."""
    import ipywidgets as widgets

    from s3compliance.outputs.tables import show_table

    findings = run.findings
    check = widgets.Dropdown(options=_choices(findings["check_id"]), description="check")
    severity = widgets.Dropdown(options=_choices(findings["severity"]), description="severity")
    status = widgets.Dropdown(options=_choices(findings["status"]), description="status")
    account = widgets.Dropdown(options=_choices(findings["account_id"]), description="account")
    accepted = widgets.Dropdown(options=[ANY, ACCEPTED, NOT_ACCEPTED], description="accepted")
    name = widgets.Text(description="bucket", placeholder="part of a bucket name")
    picked = widgets.Dropdown(options=["", *run.bucket_names()], description="drill down")
    table, detail = widgets.Output(), widgets.Output()

    def refresh(_: Any = None) -> None:
        chosen = filter_findings(
            findings,
            check.value,
            severity.value,
            status.value,
            account.value,
            name.value,
            accepted.value,
        )
        table.clear_output()
        with table:
            show_table(chosen, f"{len(chosen)} finding(s)")

    def drill(_: Any = None) -> None:
        detail.clear_output()
        if picked.value:
            with detail:
                show_bucket(run, picked.value)

    for control in (check, severity, status, account, name, accepted):
        control.observe(refresh, names="value")
    picked.observe(drill, names="value")
    refresh()
    filters = [widgets.HBox([check, severity, status]), widgets.HBox([account, accepted, name])]
    return widgets.VBox([*filters, table, picked, detail])
