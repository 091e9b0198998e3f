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


@dataclass
class Run:
    """One run folder, loaded: the report as written, and its findings as a DataFrame."""

    folder: Path
    report: dict[str, Any]
    findings: pd.DataFrame  # FINDINGS_TABLE_COLUMNS + evidence

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
    findings = pd.DataFrame(rows, columns=[*FINDINGS_TABLE_COLUMNS, "evidence"]).fillna("")
    return Run(folder.resolve(), report, findings)


def filter_findings(
    findings: pd.DataFrame,
    check: str = ANY,
    severity: str = ANY,
    status: str = ANY,
    account: str = ANY,
    bucket: str = "",
) -> pd.DataFrame:
    """The findings matching every filter given (``(any)`` or empty: no filter); ``bucket`` is a
    case-insensitive substring of the bucket name."""
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
    return findings.loc[keep, FINDINGS_TABLE_COLUMNS].reset_index(drop=True)


def bucket_checks(run: Run, bucket: str) -> pd.DataFrame:
    """Every check of one bucket: status, reason and what to change."""
    rows = run.findings[run.findings["bucket"] == bucket]
    table = rows[["check_id", "status", "severity", "reason", "error_code"]].copy()
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


def show_bucket(run: Run, bucket: str) -> None:
    """Display one bucket's drill-down: its checks (interactive table) and its evidence."""
    from IPython.display import HTML, display

    from s3compliance.outputs.tables import show_table

    display(HTML(f"<h3>{html.escape(bucket)}</h3>"))
    show_table(bucket_checks(run, bucket), f"Checks of {bucket}")
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
    """The widgets: filters (check, severity, status, account, bucket name) over one interactive
    table, and a bucket picker whose choice shows that bucket's drill-down. The last expression
    of a cell, it renders in JupyterLab (and as its text form under papermill)."""
    import ipywidgets as widgets

    from s3compliance.outputs.tables import show_table

    findings = run.findings
    check = widgets.Dropdown(options=_choices(findings["check_id"]), description="check")
    severity = widgets.Dropdown(options=_choices(findings["severity"]), description="severity")
    status = widgets.Dropdown(options=_choices(findings["status"]), description="status")
    account = widgets.Dropdown(options=_choices(findings["account_id"]), description="account")
    name = widgets.Text(description="bucket", placeholder="part of a bucket name")
    picked = widgets.Dropdown(options=["", *run.bucket_names()], description="drill down")
    table, detail = widgets.Output(), widgets.Output()

    def refresh(_: Any = None) -> None:
        chosen = filter_findings(
            findings, check.value, severity.value, status.value, account.value, name.value
        )
        table.clear_output()
        with table:
            show_table(chosen, f"{len(chosen)} finding(s)")

    def drill(_: Any = None) -> None:
        detail.clear_output()
        if picked.value:
            with detail:
                show_bucket(run, picked.value)

    for control in (check, severity, status, account, name):
        control.observe(refresh, names="value")
    picked.observe(drill, names="value")
    refresh()
    filters = [widgets.HBox([check, severity, status]), widgets.HBox([account, name])]
    return widgets.VBox([*filters, table, picked, detail])
