"""``diff`` and ``history``: runs read back from the output folder, no AWS call."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from s3compliance.cli.common import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    import pandas as pd


def register(sub: Any) -> None:
    """Add this group's commands to the parser's subcommands."""
    diff = sub.add_parser(
        "diff",
        help="what changed between the postures after two runs, full or delta (default: after "
        "the newest run and before it)",
    )
    diff.add_argument(
        "runs", nargs="*", help="RUN_A RUN_B: run ids under the output folder, or paths"
    )
    diff.add_argument("--output-dir", default="output", help="folder holding the run folders")
    diff.add_argument("--format", choices=("table", "csv", "json"), default="table")
    hist = sub.add_parser(
        "history", help="trend, open findings with their age, and time to remediate"
    )
    hist.add_argument("--output-dir", default="output", help="folder holding the run folders")
    hist.add_argument("--days", type=int, default=90, help="days of trend (default: 90)")
    hist.add_argument("--by", choices=("check", "account", "severity"), default="check")
    hist.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="csv: the trend only; json: trend, open findings, time to remediate, runs",
    )


def _diff(args: argparse.Namespace) -> int:
    """Print what changed between two runs, grouped by kind: no AWS call."""
    from s3compliance.outputs import history

    if len(args.runs) not in (0, 2):
        print("s3compliance: bad arguments: give two runs, or none (the last two)", file=sys.stderr)
        return EXIT_USAGE
    previous, current = args.runs if args.runs else (None, None)
    changed = history.changes(previous, current, args.output_dir)
    if args.format == "csv":
        print(changed.to_csv(index=False, lineterminator="\n"), end="")
    elif args.format == "json":
        print(changed.to_json(orient="records", indent=2))
    else:
        _print_changes(changed)
    return EXIT_OK


def _print_changes(changed: pd.DataFrame) -> None:
    attrs = changed.attrs
    if attrs.get("note"):
        print(attrs["note"])
        return
    print(
        f"Changes from {attrs['previous']} ({attrs['previous_kind']}) to {attrs['current']} "
        f"({attrs['current_kind']}) (checks compared: {', '.join(attrs['checks'])})"
    )
    if attrs["carried_forward"]:
        print(f"Carried forward (not scanned this time): {', '.join(attrs['carried_forward'])}")
    for kind, group in changed.groupby("kind", sort=False):
        print(f"{kind} ({len(group)}):")
        for r in group.itertuples(index=False):
            accepted = f"  [{r.exception_id} until {r.exception_expires}]" if r.exception_id else ""
            print(
                f"  {r.account_id}  {r.bucket}  {r.check_id}  {r.severity}  "
                f"{r.previous_status or '-'} -> {r.current_status or '-'}{accepted}"
            )


def _history(args: argparse.Namespace) -> int:
    """Print the trend, the open findings with their age and the time to remediate: no AWS call."""
    from s3compliance.outputs import history

    trend = history.trend(args.output_dir, args.by, args.days)
    if args.format == "csv":
        print(trend.to_csv(index=False, lineterminator="\n"), end="")
        return EXIT_OK
    opened = history.open_findings(args.output_dir)
    times = history.remediation_times(args.output_dir)
    if args.format == "json":
        data = {
            "runs": trend.attrs["runs"],
            "trend": trend.to_dict(orient="records"),
            "open_findings": opened.to_dict(orient="records"),
            "remediation_times": json.loads(times.to_json(orient="records")),
        }
        print(json.dumps(data, indent=2))
        return EXIT_OK
    if trend.empty:
        print("no complete run yet")
        return EXIT_OK
    listed = history.runs(args.output_dir)
    kinds = listed["kind"].value_counts()
    newest = listed.iloc[-1]
    print(
        f"Runs: {int(kinds.get('full', 0))} full, {int(kinds.get('delta', 0))} delta; "
        f"newest: {newest['run_id']} ({newest['kind']})"
    )
    key = history.TREND_BY[args.by]
    dates = trend["run_date"]
    print(
        f"FAIL per {args.by}, {dates.nunique()} run dates from {dates.min()} to {dates.max()} "
        f"({len(trend.attrs['runs'])} runs used; checks: {', '.join(trend.attrs['checks'])})"
    )
    if trend.attrs["carried_forward"]:
        print(
            f"{trend.attrs['carried_forward']} (date, account) pair(s) carried forward from an "
            "earlier run: the account was not scanned that day"
        )
    pivot = trend.pivot(index="run_date", columns=key, values="FAIL").fillna(0).astype(int)
    print(pivot.to_string())
    if trend["ACCEPTED"].any():
        accepted = trend.pivot(index="run_date", columns=key, values="ACCEPTED")
        print(f"\nACCEPTED (FAILs an exception covers, not counted above) per {args.by}")
        print(accepted.fillna(0).astype(int).to_string())
    print(f"\nOpen findings: {len(opened)} (oldest first)")
    if len(opened):
        shown = ["age_days", "first_seen", "account_id", "bucket", "check_id", "severity"]
        if opened["exception_id"].any():
            shown += ["exception_id", "exception_expires"]
        print(opened[shown].to_string(index=False))
    print("\nTime to remediate (days from first FAIL to the PASS that ended it)")
    print(times.to_string(index=False))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "diff": _diff,
    "history": _history,
}
