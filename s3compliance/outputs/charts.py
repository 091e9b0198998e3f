"""Charts of a scan, as matplotlib figures (object API, no pyplot state: safe in threads).

Each chart carries a title, axis labels, and the account and run date, so a PNG lifted out of the
run folder still says what it shows. The data behind each chart comes from a small function that
the tests check directly, rather than comparing pixels.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from s3compliance.scan.scanner import ScanResult

STATUS_COLOURS = {"compliant": "#2e7d32", "non_compliant": "#c62828", "unknown": "#9e9e9e"}
SEVERITY_COLOURS = {"high": "#b71c1c", "medium": "#ef6c00", "low": "#fbc02d", "none": "#2e7d32"}
CELL_CODES = {"PASS": 0, "FAIL": 1, "ERROR": 2}
CELL_COLOURS = ["#66bb6a", "#e53935", "#9e9e9e"]


def _subtitle(result: ScanResult, run_date: str) -> str:
    if result.organization:
        who = f"{len(result.accounts)} accounts, scanned from {result.account_id}"
    else:
        who = f"account {result.account_id}"
    return f"{who} · {', '.join(result.regions)} · {run_date}"


def _titled(fig: Figure, title: str, result: ScanResult, run_date: str) -> None:
    fig.suptitle(title, fontsize=13, fontweight="bold")
    fig.axes[0].set_title(_subtitle(result, run_date), fontsize=9, color="#555555")


def status_counts(result: ScanResult) -> pd.Series:
    """Buckets per compliance status, every status present (zero when none)."""
    counts = result.buckets["status"].value_counts()
    return pd.Series({s: int(counts.get(s, 0)) for s in STATUS_COLOURS})


def _count_bars(
    counts: pd.Series,
    colours: list[str],
    xlabel: str,
    title: str,
    result: ScanResult,
    run_date: str,
) -> Figure:
    """A labelled vertical bar per category, with its count on top."""
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.bar(list(counts.index), counts.to_numpy(), color=colours)
    ax.bar_label(bars, padding=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("buckets")
    ax.margins(y=0.12)
    _titled(fig, title, result, run_date)
    return fig


def status_chart(result: ScanResult, run_date: str) -> Figure:
    counts = status_counts(result)
    counts.index = [s.replace("_", "-") for s in counts.index]
    title = f"Bucket compliance ({len(result.buckets)} buckets)"
    return _count_bars(
        counts, list(STATUS_COLOURS.values()), "compliance status", title, result, run_date
    )


def failures_by_check(result: ScanResult) -> pd.DataFrame:
    """FAIL and ERROR counts per bucket check, in catalogue order (counted over the spool)."""
    counted = result.spool.sql(
        "SELECT check_id, count(*) FILTER (WHERE status = 'FAIL') AS fail, "
        "count(*) FILTER (WHERE status = 'ERROR') AS error FROM findings GROUP BY check_id"
    ).set_index("check_id")
    counted.columns = ["FAIL", "ERROR"]
    checks = result.bucket_checks()
    frame = counted.reindex(pd.Index(checks, name="check_id"))[["FAIL", "ERROR"]]
    return frame.astype("int64")


def failures_chart(result: ScanResult, run_date: str) -> Figure:
    data = failures_by_check(result).iloc[::-1]  # first check on top
    fig = Figure(figsize=(8, 1.2 + 0.45 * max(len(data), 1)), layout="constrained")
    ax = fig.add_subplot()
    fail = ax.barh(data.index, data["FAIL"], color="#e53935", label="FAIL")
    error = ax.barh(data.index, data["ERROR"], left=data["FAIL"], color="#9e9e9e", label="ERROR")
    ax.bar_label(fail, label_type="center", color="white", labels=_nonzero(data["FAIL"]))
    ax.bar_label(error, padding=3, labels=[f"+{n} error" if n else "" for n in data["ERROR"]])
    ax.set_xlabel("buckets")
    ax.set_ylabel("check")
    ax.set_xlim(0, int(max((data["FAIL"] + data["ERROR"]).tolist(), default=0) * 1.2) + 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    _titled(fig, "Failures per check", result, run_date)
    return fig


def _nonzero(values: pd.Series) -> list[str]:
    return [str(v) if v else "" for v in values]


def worst_buckets(result: ScanResult, top_n: int) -> pd.DataFrame:
    """The ``top_n`` buckets with most violations (then most errors, then by name)."""
    ranked = result.buckets.sort_values(
        ["violation_count", "error_count", "bucket"], ascending=[False, False, True]
    )
    return ranked[(ranked["violation_count"] > 0) | (ranked["error_count"] > 0)].head(top_n)


def heatmap_matrix(result: ScanResult, top_n: int) -> pd.DataFrame:
    """Bucket x check matrix of status codes (0 PASS, 1 FAIL, 2 ERROR) for the worst buckets."""
    buckets = worst_buckets(result, top_n)["bucket"].tolist()
    findings = result.findings_of(buckets, columns=["bucket", "check_id", "status"])
    checks = result.bucket_checks()
    matrix = findings.pivot(index="bucket", columns="check_id", values="status")
    ordered = matrix.reindex(index=buckets, columns=checks)
    return ordered.apply(lambda column: column.map(CELL_CODES)).astype("int64")


def heatmap_chart(result: ScanResult, run_date: str, top_n: int = 30) -> Figure:
    matrix = heatmap_matrix(result, top_n)
    rows = max(len(matrix), 1)
    fig = Figure(figsize=(8, 2.2 + 0.28 * rows), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(
        matrix.to_numpy() if len(matrix) else [[0] * len(matrix.columns)],
        cmap=ListedColormap(CELL_COLOURS),
        vmin=0,
        vmax=2,
        aspect="auto",
        interpolation="nearest",
    )
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(matrix)), matrix.index, fontsize=8)
    ax.set_xlabel("check")
    ax.set_ylabel("bucket")
    ax.legend(
        handles=[Patch(color=c, label=s) for s, c in zip(CELL_CODES, CELL_COLOURS, strict=True)],
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        frameon=False,
    )
    shown = f"{len(matrix)} worst of {len(result.buckets)} buckets"
    _titled(fig, f"Check results, {shown}", result, run_date)
    return fig


def severity_counts(result: ScanResult) -> pd.Series:
    counts = result.buckets["bucket_severity"].value_counts()
    return pd.Series({s: int(counts.get(s, 0)) for s in SEVERITY_COLOURS})


def severity_chart(result: ScanResult, run_date: str) -> Figure:
    return _count_bars(
        severity_counts(result),
        list(SEVERITY_COLOURS.values()),
        "bucket severity (by number of violations)",
        "Buckets by severity",
        result,
        run_date,
    )


def framework_chart(result: ScanResult, run_date: str) -> Figure:
    """Share of resources passing each framework control whose checks ran."""
    data = result.framework_summary().iloc[::-1]
    labels = [f"{f} {c}" for f, c in zip(data["framework"], data["control"], strict=True)]
    fig = Figure(figsize=(8, 1.4 + 0.38 * max(len(data), 1)), layout="constrained")
    ax = fig.add_subplot()
    rates = (data["pass_rate"] * 100).tolist()
    bars = ax.barh(
        labels,
        rates,
        color=["#2e7d32" if r >= 90 else "#ef6c00" if r >= 50 else "#c62828" for r in rates],
    )
    totals = (data["PASS"] + data["FAIL"] + data["ERROR"]).tolist()
    ax.bar_label(
        bars, padding=3, labels=[f"{p}/{t}" for p, t in zip(data["PASS"], totals, strict=True)]
    )
    ax.set_xlim(0, 115)
    ax.set_xlabel("resources passing (%)")
    ax.set_ylabel("control")
    _titled(fig, "Framework controls", result, run_date)
    return fig


def account_label(account_id: str, name: str) -> str:
    return f"{name} ({account_id})" if name else account_id


def accounts_matrix(result: ScanResult) -> pd.DataFrame:
    """Buckets per account and status (skipped accounts left out), worst account first; an
    account that could not be scanned is labelled ``[NOT SCANNED]``."""
    rows = result.accounts[result.accounts["status"] != "skipped"]
    labels = [
        account_label(a, n) + ("  [NOT SCANNED]" if s == "error" else "")
        for a, n, s in zip(rows["account_id"], rows["account_name"], rows["status"], strict=True)
    ]
    frame = pd.DataFrame(
        {
            "compliant": rows["compliant_buckets"].to_numpy(),
            "non_compliant": rows["non_compliant_buckets"].to_numpy(),
            "unknown": rows["unknown_buckets"].to_numpy(),
        },
        index=labels,
    )
    return frame.sort_values(["non_compliant", "unknown"], ascending=False, kind="stable")


def accounts_chart(result: ScanResult, run_date: str) -> Figure:
    """Non-compliant, unknown and compliant buckets per account, stacked, worst on top."""
    frame = accounts_matrix(result).iloc[::-1]
    fig = Figure(figsize=(8, 1.2 + 0.42 * max(len(frame), 1)), layout="constrained")
    ax = fig.add_subplot()
    left = pd.Series(0, index=frame.index)
    for status in ("non_compliant", "unknown", "compliant"):
        ax.barh(
            list(frame.index),
            frame[status].to_numpy(),
            left=left.to_numpy(),
            color=STATUS_COLOURS[status],
            label=status.replace("_", "-"),
        )
        left = left + frame[status]
    ax.set_xlabel("buckets")
    ax.legend(loc="lower right", fontsize=8)
    _titled(fig, "Buckets per account", result, run_date)
    return fig


def trend_lines(trend: pd.DataFrame) -> pd.DataFrame:
    """FAIL count per run date (rows, oldest first) and check (columns, alphabetical); a check
    not run on a date has no point there (not zero)."""
    frame = trend.pivot(index="run_date", columns="check_id", values="FAIL")
    frame.index = pd.to_datetime(frame.index)
    return frame.sort_index()[sorted(frame.columns)]


def trend_chart(trend: pd.DataFrame, result: ScanResult, run_date: str) -> Figure:
    """FAIL findings per check over time (from :func:`history.trend`), one line each."""
    lines = trend_lines(trend)
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    marker = "o" if len(lines) <= 45 else None
    for check in lines.columns:
        ax.plot(lines.index, lines[check].to_numpy(), marker=marker, markersize=3, label=check)
    ax.set_xlabel("run date")
    ax.set_ylabel("FAIL findings")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.autofmt_xdate()
    days = (lines.index.max() - lines.index.min()).days + 1
    _titled(
        fig, f"FAIL findings per check, {len(lines)} run dates over {days} days", result, run_date
    )
    return fig


def all_charts(result: ScanResult, run_date: str, top_n: int = 30) -> dict[str, Figure]:
    """Every chart of the report, by the file name it is saved under (``accounts`` only for
    an organization run)."""
    figures = {
        "status": status_chart(result, run_date),
        "failures_by_check": failures_chart(result, run_date),
        "heatmap": heatmap_chart(result, run_date, top_n),
        "severity": severity_chart(result, run_date),
        "frameworks": framework_chart(result, run_date),
    }
    if result.organization:
        figures["accounts"] = accounts_chart(result, run_date)
    return figures


def save_charts(figures: dict[str, Figure], folder: str | Path, dpi: int = 110) -> list[Path]:
    """Write each figure as ``<name>.png`` into the (staging) run folder."""
    paths = []
    for name, fig in figures.items():
        path = Path(folder) / f"{name}.png"
        fig.savefig(path, dpi=dpi, metadata={"Software": None})
        paths.append(path)
    return paths
