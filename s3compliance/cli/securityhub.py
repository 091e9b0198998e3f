"""``securityhub``: import a run's findings into AWS Security Hub (``scan`` and ``run`` call it
too, once their run folder is published)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3compliance.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, read_findings
from s3compliance.params import Params, load_params, validate

if TYPE_CHECKING:
    pass


def register(sub: Any) -> None:
    """Add this group's commands to the parser's subcommands."""
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


def _securityhub(args: argparse.Namespace) -> int:
    """Plan, and with ``--apply`` write, the import of a findings file into Security Hub."""
    if args.demo:
        from s3compliance.testing.securityhub_demo import securityhub_demo

        return securityhub_demo(print)
    params = load_params(args.params, endpoint_url=args.endpoint_url) if args.params else None
    if params is None:
        params = validate({"endpoint_url": args.endpoint_url}, "--endpoint-url")
    report = read_findings(args.findings)
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


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "securityhub": _securityhub,
}
