"""``scan``, ``run`` and ``demo``: a scan, the report notebook, the demo account; and what every
run prints and exits with."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3compliance.cli.common import EXIT_FAILURE, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from s3compliance.cli.securityhub import _securityhub_import
from s3compliance.params import Params, ParamsError, load_params

if TYPE_CHECKING:
    import pandas as pd

    from s3compliance.scan.delta import DeltaRequest
    from s3compliance.scan.scanner import ScanResult

DEMO_PARAMS = Path("params/demo.yaml")


def register(sub: Any) -> None:
    """Add this group's commands to the parser's subcommands."""
    scan = sub.add_parser("scan", help="scan the account the credentials point at")
    scan.add_argument("--params", required=True, help="YAML parameters file")
    scan.add_argument("--endpoint-url", help="S3-compatible endpoint (moto server, LocalStack)")
    scan.add_argument(
        "--buckets",
        metavar="NAME[,NAME...]",
        help="a delta run: rescan only these buckets (ACCOUNT:NAME names the account in an "
        "organization scan); `latest` stays on the last full run",
    )
    run = sub.add_parser("run", help="execute the report notebook (papermill) on the account")
    run.add_argument("--params", required=True, help="YAML parameters file")
    demo = sub.add_parser("demo", help="the report notebook on the embedded demo account")
    demo.add_argument("--params", help=f"YAML parameters file (default: {DEMO_PARAMS} if present)")
    demo.add_argument(
        "--org", action="store_true", help="the embedded demo organization (7 accounts)"
    )
    demo.add_argument(
        "--history",
        type=int,
        metavar="DAYS",
        help="first write DAYS-1 daily past runs of the demo account (1-366), for the trend",
    )
    for command in (run, demo):
        command.add_argument("--notebook", type=Path, help=argparse.SUPPRESS)
    for command in (scan, run, demo):
        command.add_argument("--output-dir", help="folder that receives the run folder")
        command.add_argument("--run-id", help="name of the run folder (default: UTC timestamp)")
        command.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log details"
        )


def print_counts(summary: dict) -> None:
    s = summary
    print(
        f"Buckets: {s['total_buckets']} total, {s['compliant_buckets']} compliant, "
        f"{s['non_compliant_buckets']} non-compliant, {s['unknown_buckets']} unknown, "
        f"{s['high_severity_buckets']} high severity"
    )
    if s.get("truncated_listings"):
        print(
            f"INCOMPLETE: discovery may be truncated in {s['truncated_listings']} account(s): "
            "ListBuckets answered a full page of 10,000 without a continuation token (see the log)"
        )


def print_accepted(summary: dict, exceptions: dict | None) -> None:
    """Two lines when the run applied an exceptions file (the report's ``exceptions``): what
    is accepted, and which exceptions expire soon or have expired (they no longer apply)."""
    if exceptions is None:
        return
    entries = exceptions["entries"]
    print(
        f"Accepted risks: {summary['accepted_buckets']} bucket(s) accepted, "
        f"{summary['accepted_findings']} finding(s) covered by {len(entries)} exception(s)"
    )
    by_state: dict[str, list[str]] = {}
    for entry in entries:
        by_state.setdefault(entry["state"], []).append(f"{entry['id']} ({entry['expires']})")
    expiring, expired = by_state.get("expiring", []), by_state.get("expired", [])
    unused = by_state.get("unused", [])
    print(
        f"Exceptions: {len(expiring)} expiring soon"
        + (f" [{', '.join(expiring)}]" if expiring else "")
        + f", {len(expired)} expired"
        + (f" [{', '.join(expired)}]" if expired else "")
        + f", {len(unused)} unused"
    )


def print_accounts(summary: dict, accounts: pd.DataFrame) -> None:
    """The organization line, and each account that could not be scanned."""
    status = accounts["status"].value_counts()
    print(
        f"Accounts: {len(accounts)} listed, {int(status.get('scanned', 0))} scanned, "
        f"{int(status.get('error', 0))} in error, {int(status.get('skipped', 0))} skipped"
    )
    for row in accounts[accounts["status"] == "error"].itertuples(index=False):
        print(f"  account {row.account_id} ({row.account_name}): {row.error_code}: {row.reason}")
    if summary.get("failed_accounts"):
        print("The organization scan is INCOMPLETE: see the accounts in error above.")


def print_delta(result: ScanResult, folder: Path) -> None:
    """What a delta run covered, and what it changed in the posture (``s3compliance diff``)."""
    from s3compliance.outputs import history

    assert result.delta is not None
    covered = sum(len(n) for n in result.delta.covered.values())
    deleted = [f"{a}:{n}" for a, names in result.delta.deleted.items() for n in names]
    base = json.loads((folder / "run.json").read_text(encoding="utf-8"))["base_run_id"]
    print(
        f"Delta run: {covered} bucket(s) rescanned, {len(deleted)} found deleted"
        + (f" ({', '.join(deleted)})" if deleted else "")
        + f"; applied to full run {base or '(none yet: run a full scan)'}"
    )
    changed = history.changes(current=folder.name, output_dir=folder.parent)
    counts = changed["kind"].value_counts()
    told = ", ".join(f"{int(counts.get(k, 0))} {k}" for k in history.CHANGE_KINDS)
    print(f"Changes to the posture: {told} (s3compliance diff --output-dir {folder.parent})")


def print_summary(result: ScanResult, report_dir: Path) -> None:
    from s3compliance.outputs.report import exceptions_section

    if result.delta is not None:
        print_delta(result, report_dir)
    print(f"Account {result.account_id}, regions {', '.join(result.regions)}")
    print_counts(result.summary())
    print_accepted(result.summary(), exceptions_section(result))
    if result.organization:
        print_accounts(result.summary(), result.accounts)
    if result.finding_count:
        print(result.summary_frame().to_string())
    print(f"API calls: {sum(result.api_calls.values())}, retries: {result.retries}")
    print(f"Report: {report_dir / 'findings.json'}")


def _exit_code(summary: dict) -> int:
    """3 when any bucket is non-compliant or unknown, any finding (account-level ones
    included) is FAIL or ERROR, an account of an organization scan failed, or a bucket listing
    may be truncated; else 0. A FAIL covered by an active exception is not left to look at: it
    does not count."""
    open_findings = sum(c["FAIL"] + c["ERROR"] for c in summary["by_check"].values())
    failing = open_findings - summary.get("accepted_findings", 0) > 0
    incomplete = summary.get("failed_accounts", 0) or summary.get("truncated_listings", 0)
    if summary["non_compliant_buckets"] or summary["unknown_buckets"] or failing or incomplete:
        return EXIT_FINDINGS
    return EXIT_OK


def _run(args: argparse.Namespace, params: Params) -> int:
    from s3compliance.outputs.evidence_archive import preflight_archive
    from s3compliance.outputs.notebook import REPO_NOTEBOOK, run_notebook

    preflight_archive(params)  # a bucket that is not write-once stops the run before the kernel
    run = run_notebook(params, args.notebook or REPO_NOTEBOOK)
    print_counts(run.summary)
    print_accepted(run.summary, run.exceptions)
    if len(run.accounts) > 1:
        print_accounts(run.summary, run.accounts)
    print(f"Report: {run.folder / 'report.html'}")
    print(f"Run folder: {run.folder}")
    return _after_publish(params, run.folder, _exit_code(run.summary))


def _overrides(args: argparse.Namespace) -> dict[str, str | None]:
    return {"output_dir": args.output_dir, "run_id": args.run_id}


def _scan(args: argparse.Namespace) -> int:
    from s3compliance.outputs.evidence_archive import preflight_archive
    from s3compliance.outputs.report import write_report
    from s3compliance.outputs.signing import signer_for
    from s3compliance.scan.run import run_scan

    params = load_params(args.params, endpoint_url=args.endpoint_url, **_overrides(args))
    delta = _delta_request(args.buckets, params) if args.buckets is not None else None
    signer = signer_for(params)  # a KMS key that cannot sign stops the run before the scan
    preflight_archive(params)  # so does an archive bucket that is not write-once
    result = run_scan(params, delta=delta)
    alert = _delta_alerts(result, params) if delta is not None else None
    folder = write_report(result, signer=signer)
    print_summary(result, folder)
    code = _exit_code(result.summary())
    if alert is not None and not alert():
        code = EXIT_FAILURE
    return _after_publish(params, folder, code)


def _delta_request(text: str, params: Params) -> DeltaRequest:
    """``--buckets``: names of the scanned account, or ``ACCOUNT:NAME``; in an organization
    scan a bare name is looked up in the posture of the run folders (it must be known there)."""
    from s3compliance.outputs.history import posture_buckets
    from s3compliance.scan.delta import OWN, DeltaRequest, parse_bucket_list

    names = parse_bucket_list(text)
    if params.multi_account and names.get(OWN):
        known = posture_buckets(params.output_dir)
        owner = dict(zip(known["bucket"], known["account_id"], strict=True))
        unknown = [n for n in names[OWN] if n not in owner]
        if unknown:
            raise ParamsError(
                f"--buckets: {unknown[0]!r} is not in the last runs of {params.output_dir}: "
                "name its account as ACCOUNT:NAME"
            )
        for name in names.pop(OWN):
            names.setdefault(owner[name], []).append(name)
    return DeltaRequest.of(names)


def _delta_alerts(result: ScanResult, params: Params) -> Callable[[], bool] | None:
    """A delta's alerts, decided before it is published (against the posture before it) and
    sent after: SNS for each of its buckets that became high severity, SQS for its non-compliant
    buckets. CloudWatch metrics are account-wide counts: a delta's would read as a drop, so it
    publishes none. Returns the sender (False when a message failed), or None with no channel."""
    if not (params.sns_topic_arn or params.sqs_queue_url):
        return None
    from s3compliance.actions.alerts import send_alerts
    from s3compliance.outputs.history import buckets_to_announce
    from s3compliance.outputs.report import report_head
    from s3compliance.scan.aws import Clients, make_session
    from s3compliance.scan.retry import RetryPolicy

    announce = buckets_to_announce(result, params.output_dir, params.notify_only_new)

    def send() -> bool:
        clients = Clients(make_session(params.aws_profile), params.endpoint_url)
        retry = RetryPolicy(params.retry_attempts, params.retry_max_wait_s)
        outcome = send_alerts(
            report_head(result),
            result.buckets,
            clients,
            retry,
            sns_topic_arn=params.sns_topic_arn,
            announce=announce,
            sqs_queue_url=params.sqs_queue_url,
        )
        for row in outcome.itertuples(index=False):
            print(f"Alerts: {row.channel} {row.target}: {row.sent} sent, {row.failed} failed")
        return not outcome["failed"].any()

    return send


def _after_publish(
    params: Params, folder: Path, code: int, client_for: Callable[[str], Any] | None = None
) -> int:
    """``evidence_archive``: archive the published run; ``securityhub: true``: import it. A
    failed archive or import is exit 1 (it outranks the findings' 3)."""
    if params.evidence_archive:
        from s3compliance.cli.evidence import print_archive
        from s3compliance.outputs.evidence_archive import archive_folder

        if not print_archive(archive_folder(folder, params.evidence_archive, params)):
            code = EXIT_FAILURE
    if not params.securityhub:
        return code
    report = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
    result = _securityhub_import(report, params, True, client_for)
    return EXIT_FAILURE if result is None or result.outcome.failures else code


def _run_command(args: argparse.Namespace) -> int:
    return _run(args, load_params(args.params, **_overrides(args)))


def _demo(args: argparse.Namespace) -> int:
    from s3compliance.outputs.notebook import require_demo_extra

    require_demo_extra()  # one line naming the extra, before any kernel starts
    from s3compliance.testing.demo import demo_params

    path = args.params or (DEMO_PARAMS if DEMO_PARAMS.exists() else None)
    org = {"demo": "org"} if args.org else {}
    params = demo_params(path, **_overrides(args), **org)
    if args.history is not None:
        if args.org:
            print(
                "s3compliance: bad arguments: --history is for the demo account, not --org",
                file=sys.stderr,
            )
            return EXIT_USAGE
        params = _demo_history(params, args.history)
    return _run(args, params)


def _demo_history(params: Params, days: int) -> Params:
    """Write the demo account's past runs; the report then runs as the last of the ``days``."""
    from datetime import UTC, date, datetime

    from s3compliance.testing.history_demo import MAX_DAYS, write_demo_history

    if not 1 <= days <= MAX_DAYS:
        raise ParamsError(f"--history takes 1 to {MAX_DAYS} days, not {days}")
    end = date.fromisoformat(params.run_date) if params.run_date else datetime.now(UTC).date()
    params = replace(
        params,
        run_date=end.isoformat(),
        output_dir=str(Path(params.output_dir).resolve()),
    )
    folders = write_demo_history(params, days, end, progress=sys.stderr.isatty())
    print(f"History: {len(folders)} past daily runs in {params.output_dir}")
    return params


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "scan": _scan,
    "run": _run_command,
    "demo": _demo,
}
