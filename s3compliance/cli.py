"""Command line: ``scan`` an account, ``run`` the report notebook on it, or ``demo`` both.

``scan`` writes the findings (JSON, CSV); ``run`` executes the report notebook with papermill and
adds the charts, the executed notebook and its HTML rendering; ``demo`` is ``run`` on the embedded
demo account. Exit codes (cron-friendly): 0 every bucket compliant; 3 the scan completed and found
non-compliant or unknown buckets; 2 bad parameters or no credentials (one line, no traceback);
1 anything unexpected.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3compliance import __version__
from s3compliance.params import Params, ParamsError, load_params, validate

if TYPE_CHECKING:
    import pandas as pd

    from s3compliance.iac.remediation import RemediationSettings
    from s3compliance.scan.engine import ScanResult

# Each command imports its own modules inside its function: `--help` and `import-plan` (which
# makes no AWS call) start without boto3, pandas' friends or the scan engine.

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3
DEMO_PARAMS = Path("params/demo.yaml")
log = logging.getLogger("s3compliance")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3compliance", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    scan = sub.add_parser("scan", help="scan the account the credentials point at")
    scan.add_argument("--params", required=True, help="YAML parameters file")
    scan.add_argument("--endpoint-url", help="S3-compatible endpoint (moto server, LocalStack)")

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

    policy = sub.add_parser("iam-policy", help="print the least-privilege IAM policy of a scan")
    policy.add_argument("--profile", help="check profile (default: mission, or the params file's)")
    policy.add_argument("--params", help="YAML parameters file (profile, checks, regions)")
    policy.add_argument(
        "--with-writes", action="store_true", help="add what tagging and alerting need"
    )

    diff = sub.add_parser("diff", help="what changed between two runs (default: the last two)")
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

    org_role = sub.add_parser(
        "org-role", help="Pulumi program: the read-only scan role in every member account"
    )
    org_role.add_argument(
        "--scanner-account", required=True, help="the account the scan runs from (12 digits)"
    )
    org_role.add_argument(
        "--ou", action="append", default=[], help="OU or root id to deploy to (repeatable)"
    )
    org_role.add_argument("--role-name", help="role to create (default: s3compliance-scan)")
    org_role.add_argument("--external-id", help="external id the role's trust policy requires")
    org_role.add_argument("--params", help="YAML parameters file (profile, checks, regions)")
    org_role.add_argument(
        "--delegated-admin",
        action="store_true",
        help="the program runs from a delegated administrator, not the management account",
    )
    org_role.add_argument(
        "--with-securityhub",
        action="store_true",
        help="also let the role import its account's findings into Security Hub",
    )
    org_role.add_argument("--output", type=Path, default=Path("org-role"), help="folder to write")

    tag = sub.add_parser("tag", help="tag buckets with their compliance status (dry run default)")
    source = tag.add_mutually_exclusive_group(required=True)
    source.add_argument("--findings", type=Path, help="a run's findings.json")
    source.add_argument("--demo", action="store_true", help="scan and tag the demo account")
    tag.add_argument("--apply", action="store_true", help="write the tags (default: only plan)")
    tag.add_argument("--endpoint-url", help="S3-compatible endpoint (moto server, LocalStack)")
    tag.add_argument("--tag-key", default="compliance-status", help="the tag key to set")

    imports = sub.add_parser("import-plan", help="Pulumi import files for the flagged buckets")
    imports.add_argument("--findings", type=Path, required=True, help="a run's findings.json")
    imports.add_argument("--scope", choices=("flagged", "all"), default="flagged")
    imports.add_argument("--output", type=Path, help="folder (default: pulumi/ beside findings)")
    imports.add_argument(
        "--alarm-threshold", type=int, help="also create an alarm on NonCompliantBuckets > N"
    )

    fix = sub.add_parser(
        "remediate-plan",
        help="stage two of the Pulumi program: the fixes of some checks, planned for review",
    )
    fix.add_argument("--findings", type=Path, required=True, help="a run's findings.json")
    fix.add_argument("--checks", required=True, help="comma-separated, e.g. versioning,encryption")
    fix.add_argument("--kms-key-id", help="encryption: aws:kms with this key (default: AES256)")
    fix.add_argument(
        "--lifecycle-storage-class", help="lifecycle: transition target (default: GLACIER_IR)"
    )
    fix.add_argument(
        "--lifecycle-action",
        choices=("transition", "expire"),
        help="expire DELETES objects at the maximum age: opt-in only (default: transition)",
    )
    fix.add_argument(
        "--log-target-bucket", help="access_logging: the bucket receiving logs (same region)"
    )
    fix.add_argument("--output", type=Path, help="folder (default: pulumi/ beside findings)")

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

    hub = sub.add_parser(
        "securityhub",
        help="import a run's findings into AWS Security Hub (plan by default; --apply writes)",
    )
    hub_source = hub.add_mutually_exclusive_group(required=True)
    hub_source.add_argument("--findings", type=Path, help="a run's findings.json")
    hub_source.add_argument(
        "--demo", action="store_true", help="the lifecycle on the embedded demo account"
    )
    hub.add_argument("--params", help="YAML parameters file (output_dir, region, role)")
    hub.add_argument("--endpoint-url", help="Security Hub endpoint (moto server, LocalStack)")
    hub.add_argument("--apply", action="store_true", help="write (default: only plan)")

    for command in (run, demo):
        command.add_argument("--notebook", type=Path, help=argparse.SUPPRESS)
    for command in (scan, run, demo):
        command.add_argument("--output-dir", help="folder that receives the run folder")
        command.add_argument("--run-id", help="name of the run folder (default: UTC timestamp)")
        command.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log details"
        )
    return parser


def print_counts(summary: dict) -> None:
    s = summary
    print(
        f"Buckets: {s['total_buckets']} total, {s['compliant_buckets']} compliant, "
        f"{s['non_compliant_buckets']} non-compliant, {s['unknown_buckets']} unknown, "
        f"{s['high_severity_buckets']} high severity"
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


def print_summary(result: ScanResult, report_dir: Path) -> None:
    from s3compliance.outputs.report import exceptions_section

    print(f"Account {result.account_id}, regions {', '.join(result.regions)}")
    print_counts(result.summary())
    print_accepted(result.summary(), exceptions_section(result))
    if result.organization:
        print_accounts(result.summary(), result.accounts)
    if len(result.findings):
        print(result.summary_frame().to_string())
    print(f"API calls: {sum(result.api_calls.values())}, retries: {result.retries}")
    print(f"Report: {report_dir / 'findings.json'}")


def _exit_code(summary: dict) -> int:
    """3 when any bucket is non-compliant or unknown, any finding (account-level ones
    included) is FAIL or ERROR, or an account of an organization scan failed; else 0. A FAIL
    covered by an active exception is not left to look at: it does not count."""
    open_findings = sum(c["FAIL"] + c["ERROR"] for c in summary["by_check"].values())
    failing = open_findings - summary.get("accepted_findings", 0) > 0
    incomplete = summary.get("failed_accounts", 0)
    if summary["non_compliant_buckets"] or summary["unknown_buckets"] or failing or incomplete:
        return EXIT_FINDINGS
    return EXIT_OK


def _run(args: argparse.Namespace, params: Params) -> int:
    from s3compliance.outputs.notebook import REPO_NOTEBOOK, run_notebook

    run = run_notebook(params, args.notebook or REPO_NOTEBOOK)
    print_counts(run.summary)
    print_accepted(run.summary, run.exceptions)
    if len(run.accounts) > 1:
        print_accounts(run.summary, run.accounts)
    print(f"Report: {run.folder / 'report.html'}")
    print(f"Run folder: {run.folder}")
    return _after_publish(params, run.folder, _exit_code(run.summary))


def _iam_policy(args: argparse.Namespace) -> int:
    from s3compliance.iac.iam import iam_policy

    params = load_params(args.params) if args.params else Params()
    if args.profile:
        params = validate({**params.to_dict(), "profile": args.profile}, "--profile")
    role = params.role_name if params.accounts is not None else None
    policy = iam_policy(
        params.profile,
        params.checks,
        params.all_regions,
        args.with_writes,
        role,
        read_tags=params.exceptions_need_tags,
    )
    print(json.dumps(policy, indent=2))
    return EXIT_OK


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
    from s3compliance.scan.engine import run_scan
    from s3compliance.scan.retry import RetryPolicy

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
    report = _read_findings(args.findings)
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


def _read_findings(path: Path) -> dict | None:
    """A run's findings file, validated; None, after one line on stderr, when it cannot be used
    (untrusted input: nothing is read from, or generated from, a bad file)."""
    from s3compliance.outputs.contract import ReportInvalid, read_report

    try:
        return read_report(path)
    except ReportInvalid as exc:
        print(f"s3compliance: cannot read the findings {exc}", file=sys.stderr)
        return None


def _write_program(
    args: argparse.Namespace,
    report: dict,
    scope: str,
    alarm_threshold: int | None,
    remediation_checks: list[str] | None,
    settings: RemediationSettings,
) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """The Pulumi folder of a findings file (``--output``, default ``pulumi/`` beside it): the
    imports of ``scope``, the optional alarm, and stage two for ``remediation_checks`` (None:
    every fixable check the scan ran). Returns the import plan, the remediation plan, the folder.
    """
    from s3compliance.iac import pulumi_import
    from s3compliance.iac import remediation as rem

    findings, buckets = pulumi_import.findings_from_report(report)
    if remediation_checks is None:
        remediation = pulumi_import.remediation_for_scan(findings, buckets, settings)
        fixes = remediation.plan
    else:
        fixes = rem.plan(findings, buckets, remediation_checks, settings)
        remediation = pulumi_import.Remediation(fixes, settings, tuple(remediation_checks))
    plan = pulumi_import.plan_imports(findings, buckets, scope)
    folder = pulumi_import.write_pulumi_folder(
        plan,
        args.output or args.findings.parent / "pulumi",
        pulumi_import.alarm_for(alarm_threshold, report.get("regions", [])),
        pulumi_import.providers_for_report(report),
        remediation,
    )
    return plan, fixes, folder


def _import_plan(args: argparse.Namespace) -> int:
    """Plan Pulumi imports from a findings file: no AWS call at all."""
    from s3compliance.iac import remediation as rem

    report = _read_findings(args.findings)
    if report is None:
        return EXIT_USAGE
    settings = rem.settings_from(report["parameters"])
    plan, _, folder = _write_program(args, report, args.scope, args.alarm_threshold, None, settings)
    imported = plan[plan["action"] == "import"]
    print(
        f"{len(imported)} resource(s) on {imported['bucket'].nunique()} bucket(s) to import, "
        f"{int((plan['action'] == 'left-out').sum())} left out (see README.md)"
    )
    print(f"Pulumi files: {folder}")
    return EXIT_OK


def _org_role(args: argparse.Namespace) -> int:
    """Write the StackSet program that deploys the scan role: no AWS call."""
    from s3compliance.iac.org_role import org_role, write_org_role_folder

    params = load_params(args.params) if args.params else Params()
    role = org_role(
        args.scanner_account,
        args.ou,
        params,
        args.role_name,
        args.external_id,
        args.delegated_admin,
        args.with_securityhub,
    )
    folder = write_org_role_folder(role, args.output)
    print(
        f"Role {role.role_name} for {', '.join(role.organizational_units)}, trusting "
        f"{role.scanner_account}: {len(role.policy['Statement'][0]['Action'])} read-only actions"
    )
    print(f"Pulumi files: {folder} (review template.json, then see README.md there)")
    return EXIT_OK


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
        f"Changes from {attrs['previous']} to {attrs['current']} "
        f"(checks compared: {', '.join(attrs['checks'])})"
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


def _remediate_plan(args: argparse.Namespace) -> int:
    """Plan stage two from a findings file and write it into the Pulumi folder: no AWS call,
    no stack touched."""
    from s3compliance.iac import pulumi_import
    from s3compliance.iac import remediation as rem

    report = _read_findings(args.findings)
    if report is None:
        return EXIT_USAGE
    parameters = report["parameters"]
    chosen = {
        "lifecycle_storage_class": args.lifecycle_storage_class,
        "lifecycle_action": args.lifecycle_action,
        "kms_key_id": args.kms_key_id,
        "log_target_bucket": args.log_target_bucket,
    }
    given = {k: v for k, v in chosen.items() if v is not None}  # else what the run used
    settings = rem.settings_from({**parameters, **given})
    checks = rem.check_ids(args.checks)
    # the run's own import scope and alarm: re-planning stage two keeps stage one as it was
    scope = parameters.get("import_scope") or "flagged"
    _, plan, folder = _write_program(
        args, report, scope, parameters.get("alarm_threshold"), checks, settings
    )
    counts = plan["change"].value_counts()
    print(
        f"Remediation of {', '.join(checks)}: "
        + ", ".join(
            f"{int(counts.get(k, 0))} {k}" for k in ("create", "update", "manual", "skipped")
        )
        + f" on {plan['bucket'].nunique()} bucket(s)"
    )
    if len(plan):
        shown = plan[["bucket", "check_id", "document", "change", "note"]]
        print(shown.to_string(index=False))
    print(f"Pulumi files: {folder} (remediation_plan.csv: every change, before and after)")
    print("After stage one has been applied (README.md), in that folder:")
    for command in pulumi_import.config_commands(checks, settings):
        print(f"  {command}")
    print("  pulumi preview")
    return EXIT_OK


def _securityhub(args: argparse.Namespace) -> int:
    """Plan, and with ``--apply`` write, the import of a findings file into Security Hub."""
    if args.demo:
        from s3compliance.testing.securityhub_demo import securityhub_demo

        return securityhub_demo(print)
    params = load_params(args.params, endpoint_url=args.endpoint_url) if args.params else None
    if params is None:
        params = validate({"endpoint_url": args.endpoint_url}, "--endpoint-url")
    report = _read_findings(args.findings)
    if report is None:
        return EXIT_USAGE
    result = _securityhub_import(report, params, args.apply)
    if result is None:
        return EXIT_FAILURE
    shown = result.plan.table[result.plan.table["action"] != "skip"]
    if len(shown):
        print(shown.head(20).to_string(index=False))
        if len(shown) > 20:
            print(f"... and {len(shown) - 20} more")
    if result.outcome is not None and result.outcome.failures:
        return EXIT_FAILURE
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    """A findings file as OCSF Compliance Findings (or ASFF, as ``securityhub`` would import
    them, every finding, PASS included, timed at the run), validated first like
    ``import-plan``; written atomically to ``--output``, or to standard output."""
    from s3compliance.outputs.asff import asff_findings
    from s3compliance.outputs.ocsf import ocsf_findings, ocsf_json
    from s3compliance.outputs.runfolder import atomic_write_text
    from s3compliance.params import home_region

    report = _read_findings(args.findings)
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
        report = _read_findings(args.findings)
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


def _tag_exit(applied: pd.DataFrame) -> int:
    """1 if a write failed; 3 if some buckets could not be tagged safely (tag limit, system
    tags) and need a person; 0 otherwise."""
    failed = applied[applied["error_code"] != ""]
    if len(failed):
        print(failed[["bucket", "error_code"]].to_string(index=False), file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_FINDINGS if applied["action"].str.startswith("error").any() else EXIT_OK


def _overrides(args: argparse.Namespace) -> dict[str, str | None]:
    return {"output_dir": args.output_dir, "run_id": args.run_id}


def _scan(args: argparse.Namespace) -> int:
    from s3compliance.outputs.report import write_report
    from s3compliance.scan.engine import run_scan

    params = load_params(args.params, endpoint_url=args.endpoint_url, **_overrides(args))
    result = run_scan(params)
    folder = write_report(result)
    print_summary(result, folder)
    return _after_publish(params, folder, _exit_code(result.summary()))


def _after_publish(
    params: Params, folder: Path, code: int, client_for: Callable[[str], Any] | None = None
) -> int:
    """``securityhub: true``: import the published run; a failed import is exit 1 (it outranks
    the findings' 3)."""
    if not params.securityhub:
        return code
    report = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
    result = _securityhub_import(report, params, True, client_for)
    return EXIT_FAILURE if result is None or result.outcome.failures else code


def _securityhub_clients(params: Params) -> Callable[[str], Any]:
    """A Security Hub client per account: the caller's own, or through the scan role (the
    default product takes only an account's own findings)."""
    from s3compliance.scan.aws import Clients
    from s3compliance.scan.organizations import account_session, process_session
    from s3compliance.scan.retry import RetryPolicy

    region = params.securityhub_region or params.home_region
    retry = RetryPolicy(params.retry_attempts, params.retry_max_wait_s)
    base = process_session(params.aws_profile)
    own = Clients(base, params.endpoint_url)
    caller: list[str] = []

    def client_for(account_id: str) -> Any:
        if not caller:
            caller.append(own.account_id(retry))
        if account_id == caller[0]:
            return own.client("securityhub", region)
        session = account_session(account_id, False, params, retry, base)
        return Clients(session, params.endpoint_url).client("securityhub", region)

    return client_for


def _securityhub_import(
    report: dict, params: Params, apply: bool, client_for: Callable[[str], Any] | None = None
) -> Any:
    """Plan (and apply) one report's import, printing the plan and the outcome; None (after
    one line on stderr) when Security Hub is not enabled."""
    from s3compliance.actions.securityhub import SecurityHubUnavailable
    from s3compliance.outputs.securityhub_import import import_report

    try:
        result = import_report(report, params, client_for or _securityhub_clients(params), apply)
    except SecurityHubUnavailable as exc:
        print(f"s3compliance: {exc}", file=sys.stderr)
        return None
    print(result.summary())
    return result


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


COMMANDS = {
    "scan": _scan,
    "run": _run_command,
    "demo": _demo,
    "tag": _tag,
    "import-plan": _import_plan,
    "iam-policy": _iam_policy,
    "org-role": _org_role,
    "diff": _diff,
    "history": _history,
    "remediate-plan": _remediate_plan,
    "exceptions": _exceptions,
    "export": _export,
    "securityhub": _securityhub,
}
#: The caller's mistakes and the environment's refusals: one line, no traceback. Classes are
#: named ``module:Class`` so that this table imports nothing: an exception of a class can only
#: have been raised if its module is loaded, so unloaded modules are simply not looked at.
EXPECTED_ERRORS: tuple[tuple[tuple[str, ...], str, int], ...] = (
    (("s3compliance.params:ParamsError",), "bad parameters", EXIT_USAGE),
    (
        ("s3compliance.outputs.securityhub_import:StateUnreadable",),
        "bad Security Hub state",
        EXIT_USAGE,
    ),
    (("s3compliance.outputs.history:HistoryError",), "bad arguments", EXIT_USAGE),
    (("s3compliance.iac.remediation:RemediationError",), "bad arguments", EXIT_USAGE),
    (("s3compliance.outputs.notebook:MissingExtra",), "missing extra", EXIT_USAGE),
    (("s3compliance.scan.engines:DaskUnavailable",), "dask engine unavailable", EXIT_USAGE),
    (
        ("botocore.exceptions:NoCredentialsError", "botocore.exceptions:ProfileNotFound"),
        "no usable AWS credentials",
        EXIT_USAGE,
    ),
    (("s3compliance.scan.engine:ScanAborted",), "scan aborted", EXIT_FAILURE),
    (
        ("s3compliance.outputs.notebook:NotebookFailed", "builtins:FileNotFoundError"),
        "report failed",
        EXIT_FAILURE,
    ),
    (("builtins:OSError",), "cannot write the output", EXIT_FAILURE),  # e.g. read-only output
)


def _loaded(names: tuple[str, ...]) -> Iterator[type[BaseException]]:
    for name in names:
        module, _, cls = name.partition(":")
        if module in sys.modules:
            yield getattr(sys.modules[module], cls)


def expected_error(exc: BaseException) -> tuple[str, int] | None:
    """What to call ``exc`` and the exit code, when it is one of :data:`EXPECTED_ERRORS`."""
    for names, what, code in EXPECTED_ERRORS:
        if isinstance(exc, tuple(_loaded(names))):
            return what, code
    return None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args)
    except BrokenPipeError:  # `s3compliance diff | head`: the reader stopped, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        known = expected_error(exc)
        if known is None:
            raise
        what, code = known
        print(f"s3compliance: {what}: {exc}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
