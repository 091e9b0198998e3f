"""``iam-policy``, ``import-plan``, ``remediate-plan``, ``org-role`` and ``watch-setup``:
infrastructure as code, no AWS call."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3compliance.cli.common import EXIT_OK, EXIT_USAGE, read_findings
from s3compliance.params import Params, load_params, validate

if TYPE_CHECKING:
    import pandas as pd

    from s3compliance.iac.remediation import RemediationSettings


PROGRAM_FOLDER_HELP = "folder (default: pulumi/ beside findings; ./pulumi-<run>/ for a sealed run)"


def register(sub: Any) -> None:
    """Add this group's commands to the parser's subcommands."""
    policy = sub.add_parser("iam-policy", help="print the least-privilege IAM policy of a scan")
    policy.add_argument("--profile", help="check profile (default: mission, or the params file's)")
    policy.add_argument("--params", help="YAML parameters file (profile, checks, regions)")
    policy.add_argument(
        "--with-writes",
        action="store_true",
        help="add what the opt-in writers need (tags, alerts, Security Hub, evidence archive)",
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
    setup = sub.add_parser(
        "watch-setup",
        help="Pulumi program: the EventBridge rules and SQS queue that feed `watch`",
    )
    setup.add_argument(
        "--params", required=True, help="YAML parameters file (regions, accounts, debounce)"
    )
    setup.add_argument(
        "--scanner-account",
        help="the account the watcher runs in (12 digits; required for an organization)",
    )
    setup.add_argument(
        "--ou",
        action="append",
        default=[],
        help="organization: OU or root whose accounts forward their changes (repeatable)",
    )
    setup.add_argument(
        "--delegated-admin",
        action="store_true",
        help="organization: the program runs from a delegated administrator",
    )
    setup.add_argument("--output", type=Path, default=Path("watch-setup"), help="folder to write")
    imports = sub.add_parser("import-plan", help="Pulumi import files for the flagged buckets")
    imports.add_argument("--findings", type=Path, required=True, help="a run's findings.json")
    imports.add_argument("--scope", choices=("flagged", "all"), default="flagged")
    imports.add_argument("--output", type=Path, help=PROGRAM_FOLDER_HELP)
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
    fix.add_argument("--output", type=Path, help=PROGRAM_FOLDER_HELP)


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
        evidence_archive=params.evidence_archive,
        evidence_signing=params.evidence_signing,
        watch_queue_url=params.watch_queue_url,
    )
    print(json.dumps(policy, indent=2))
    return EXIT_OK


def program_folder(findings: Path) -> Path:
    """Where a program goes without ``--output``: ``pulumi/`` beside the findings file, unless
    that folder is a published run sealed by its manifest (docs/tasks/evidence.md): a run folder is
    never written after it is published, so the program goes to ``./pulumi-<run>/`` instead."""
    run = findings.resolve().parent
    if (run / "manifest.json").is_file():
        return Path.cwd() / f"pulumi-{run.name}"
    return findings.parent / "pulumi"


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
        args.output or program_folder(args.findings),
        pulumi_import.alarm_for(alarm_threshold, report.get("regions", [])),
        pulumi_import.providers_for_report(report),
        remediation,
    )
    return plan, fixes, folder


def _import_plan(args: argparse.Namespace) -> int:
    """Plan Pulumi imports from a findings file: no AWS call at all."""
    from s3compliance.iac import remediation as rem

    report = read_findings(args.findings)
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


def _watch_setup(args: argparse.Namespace) -> int:
    """Write the program that feeds the watcher: no AWS call."""
    from s3compliance.iac.watch_setup import watch_setup, write_watch_setup_folder

    setup = watch_setup(
        load_params(args.params), args.scanner_account, args.ou, args.delegated_admin
    )
    folder = write_watch_setup_folder(setup, args.output)
    regions = ", ".join(setup.regions) if setup.regions else "every enabled region"
    members = (
        f"; members of {', '.join(setup.organizational_units)} forward to {setup.scanner_account}"
        if setup.organization
        else ""
    )
    print(
        f"Queue and rule in {setup.home_region} (visibility {setup.visibility_timeout_s} s), "
        f"rules in {regions}{members}"
    )
    print(f"Pulumi files: {folder} (prerequisite: a CloudTrail trail; see README.md there)")
    return EXIT_OK


def _remediate_plan(args: argparse.Namespace) -> int:
    """Plan stage two from a findings file and write it into the Pulumi folder: no AWS call,
    no stack touched."""
    from s3compliance.iac import pulumi_import
    from s3compliance.iac import remediation as rem

    report = read_findings(args.findings)
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


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "import-plan": _import_plan,
    "iam-policy": _iam_policy,
    "org-role": _org_role,
    "remediate-plan": _remediate_plan,
    "watch-setup": _watch_setup,
}
