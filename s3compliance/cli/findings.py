"""``tag``, ``exceptions`` and ``export``: what is done with a findings file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3compliance.cli.common import EXIT_FAILURE, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, read_findings
from s3compliance.params import Params, load_params, validate

if TYPE_CHECKING:
    import pandas as pd


def register(sub: Any) -> None:
    """Add this group's commands to the parser's subcommands."""
    tag = sub.add_parser("tag", help="tag buckets with their compliance status (dry run default)")
    source = tag.add_mutually_exclusive_group(required=True)
    source.add_argument("--findings", type=Path, help="a run's findings.json")
    source.add_argument("--demo", action="store_true", help="scan and tag the demo account")
    tag.add_argument("--apply", action="store_true", help="write the tags (default: only plan)")
    tag.add_argument("--endpoint-url", help="S3-compatible endpoint (moto server, LocalStack)")
    tag.add_argument("--tag-key", default="compliance-status", help="the tag key to set")
    accepted = sub.add_parser(
        "exceptions",
        help="check an exceptions file (accepted risks) without scanning; exit 2 when invalid",
    )
    accepted.add_argument("--file", type=Path, required=True, help="the exceptions YAML file")
    accepted.add_argument(
        "--params", help="YAML parameters file (max_exception_days, run_date, warning days)"
    )
    accepted.add_argument(
        "--findings", type=Path, help="a run's findings.json: what each entry would cover"
    )
    export = sub.add_parser("export", help="convert a findings file to OCSF (or ASFF): no AWS call")
    export.add_argument("--findings", type=Path, required=True, help="a run's findings.json")
    export.add_argument("--format", choices=("ocsf", "asff"), required=True)
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")


def _print_tags(title: str, table: pd.DataFrame) -> None:
    counts = table["action"].value_counts().to_dict()
    print(f"{title}: " + ", ".join(f"{n} {action}" for action, n in sorted(counts.items())))
    changes = table[table["action"].isin(["add", "update"]) | table["action"].str.startswith("err")]
    if len(changes):
        shown = changes[["bucket", "status", "current_value", "new_value", "action"]]
        print(shown.head(20).to_string(index=False))
        if len(changes) > 20:
            print(f"... and {len(changes) - 20} more")


def _tag(args: argparse.Namespace) -> int:
    """Plan (and with --apply, write) compliance-status tags; exit 1 if any write failed."""
    import pandas as pd

    from s3compliance.actions import tagging
    from s3compliance.scan.aws import Clients
    from s3compliance.scan.retry import RetryPolicy
    from s3compliance.scan.run import run_scan

    validate({"tag_key": args.tag_key}, "--tag-key")
    retry = RetryPolicy()
    if args.demo:
        from s3compliance.testing.demo import demo_account, demo_params

        params = demo_params(apply_tags=True, tag_key=args.tag_key)
        with demo_account() as session:
            clients = Clients(session, None, params.max_workers)
            result = run_scan(params, clients=clients, progress=False)
            plan = tagging.plan_tags(result.buckets, args.tag_key)
            _print_tags("Plan", plan)
            first = tagging.apply_tags(plan, clients, retry, args.tag_key)
            puts = clients.recorder.by_operation["PutBucketTagging"]
            print(f"Applied: {int(first['written'].sum())} bucket(s) tagged, {puts} writes")
            again = tagging.plan_tags(
                result.buckets,
                args.tag_key,
                tagging.read_current_tags(result.buckets, clients, retry),
            )
            second = tagging.apply_tags(again, clients, retry, args.tag_key)
            writes = clients.recorder.by_operation["PutBucketTagging"] - puts
            print(f"Second run: {int(second['written'].sum())} changes, {writes} writes")
        return _tag_exit(first)
    report = read_findings(args.findings)
    if report is None:
        return EXIT_USAGE
    buckets = pd.DataFrame(
        [
            {"bucket": b["bucket_name"], "region": b.get("region", ""), "status": b["status"]}
            for b in report["buckets"]
        ],
        columns=["bucket", "region", "status"],
    )
    clients = Clients(endpoint_url=args.endpoint_url)
    plan = tagging.plan_tags(
        buckets, args.tag_key, tagging.read_current_tags(buckets, clients, retry)
    )
    _print_tags("Plan" if not args.apply else "Plan (applying)", plan)
    if not args.apply:
        print("Dry run: nothing written (add --apply to write).")
        return EXIT_FINDINGS if plan["action"].str.startswith("error").any() else EXIT_OK
    applied = tagging.apply_tags(plan, clients, retry, args.tag_key)
    print(
        f"Applied: {int(applied['written'].sum())} bucket(s) tagged, "
        f"{clients.recorder.by_operation['PutBucketTagging']} PutBucketTagging call(s)"
    )
    return _tag_exit(applied)


def _tag_exit(applied: pd.DataFrame) -> int:
    """1 if a write failed; 3 if some buckets could not be tagged safely (tag limit, system
    tags) and need a person; 0 otherwise."""
    failed = applied[applied["error_code"] != ""]
    if len(failed):
        print(failed[["bucket", "error_code"]].to_string(index=False), file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_FINDINGS if applied["action"].str.startswith("error").any() else EXIT_OK


def _exceptions(args: argparse.Namespace) -> int:
    """Validate an exceptions file (the params' limits and run date), and with ``--findings``
    say which findings each entry would cover; 0 valid, 2 invalid."""
    import pandas as pd

    from s3compliance.accepted.apply import exception_states
    from s3compliance.accepted.exceptions import ExceptionsError, load_exceptions

    params = load_params(args.params) if args.params else Params()
    try:
        exceptions = load_exceptions(
            args.file, params.run_day, params.max_exception_days, params.exception_warning_days
        )
    except ExceptionsError as exc:
        print(f"s3compliance: {exc}", file=sys.stderr)
        return EXIT_USAGE
    findings = None
    if args.findings:
        report = read_findings(args.findings)
        if report is None:
            return EXIT_USAGE
        findings = pd.DataFrame(
            [
                {
                    "account_id": b.get("account_id", report["account_id"]),
                    "region": b.get("region", ""),
                    "bucket": b["bucket_name"],
                    "check_id": f["check_id"],
                    "status": f["status"],
                }
                for b in report["buckets"]
                for f in b["findings"]
            ],
            columns=["account_id", "region", "bucket", "check_id", "status"],
        )
    states = exception_states(exceptions, findings)
    print(
        f"{args.file}: valid, {len(states)} exception(s) judged on {params.run_day.isoformat()} "
        f"(max {params.max_exception_days} days ahead); sha256 {exceptions.sha256}"
    )
    if len(states):
        columns = ["id", "state", "expires", "days_left", "owner"]
        columns += ["findings", "covers"] if findings is not None else []
        shown = states[columns].copy()
        if findings is not None:
            shown["covers"] = shown["covers"].str.slice(0, 60)
        print(shown.to_string(index=False))
    counts = states["state"].value_counts()
    print(
        ", ".join(f"{int(counts.get(s, 0))} {s}" for s in ("active", "expiring", "expired"))
        + (
            f", {int(counts.get('unused', 0))} unused (cover no FAIL)"
            if findings is not None
            else ""
        )
    )
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    """A findings file as OCSF Compliance Findings (or ASFF, as ``securityhub`` would import
    them, every finding, PASS included, timed at the run), validated first like
    ``import-plan``; written atomically to ``--output``, or to standard output."""
    from s3compliance.outputs.asff import asff_findings
    from s3compliance.outputs.ocsf import ocsf_findings, ocsf_json
    from s3compliance.outputs.runfolder import atomic_write_text
    from s3compliance.params import home_region

    report = read_findings(args.findings)
    if report is None:
        return EXIT_USAGE
    if args.format == "asff":
        region = home_region(report["regions"])
        findings = asff_findings(report, region, report["generated_at"])
    else:
        findings = ocsf_findings(report)
    text = ocsf_json(findings)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    atomic_write_text(args.output, text)
    kind = "OCSF Compliance Finding(s)" if args.format == "ocsf" else "ASFF finding(s)"
    print(f"{args.output}: {len(findings)} {kind}", file=sys.stderr)
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "tag": _tag,
    "exceptions": _exceptions,
    "export": _export,
}
