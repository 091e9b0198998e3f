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
import sys
from pathlib import Path

from botocore.exceptions import NoCredentialsError, ProfileNotFound

from s3compliance import __version__
from s3compliance.params import Params, ParamsError, load_params, validate
from s3compliance.report import write_report
from s3compliance.runner import REPO_NOTEBOOK, NotebookFailed
from s3compliance.scan import ScanAborted, ScanResult, run_scan

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

    policy = sub.add_parser("iam-policy", help="print the least-privilege IAM policy of a scan")
    policy.add_argument("--profile", help="check profile (default: mission, or the params file's)")
    policy.add_argument("--params", help="YAML parameters file (profile, checks, regions)")

    for command in (run, demo):
        command.add_argument("--notebook", type=Path, default=REPO_NOTEBOOK, help=argparse.SUPPRESS)
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


def print_summary(result: ScanResult, report_dir: Path) -> None:
    print(f"Account {result.account_id}, regions {', '.join(result.regions)}")
    print_counts(result.summary())
    if len(result.findings):
        print(result.summary_frame().to_string())
    print(f"API calls: {sum(result.api_calls.values())}, retries: {result.retries}")
    print(f"Report: {report_dir / 'findings.json'}")


def _exit_code(summary: dict) -> int:
    return (
        EXIT_FINDINGS if summary["non_compliant_buckets"] or summary["unknown_buckets"] else EXIT_OK
    )


def _run(args: argparse.Namespace, params: Params) -> int:
    from s3compliance.runner import run_notebook

    run = run_notebook(params, args.notebook)
    print_counts(run.summary)
    print(f"Report: {run.folder / 'report.html'}")
    print(f"Run folder: {run.folder}")
    return _exit_code(run.summary)


def _iam_policy(args: argparse.Namespace) -> int:
    from s3compliance.iam import iam_policy

    try:
        params = load_params(args.params) if args.params else Params()
        if args.profile:
            params = validate({**params.to_dict(), "profile": args.profile}, "--profile")
    except ParamsError as exc:
        print(f"s3compliance: bad parameters: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(iam_policy(params.profile, params.checks, params.all_regions), indent=2))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "iam-policy":
        return _iam_policy(args)
    overrides = {"output_dir": args.output_dir, "run_id": args.run_id}
    try:
        if args.command == "demo":
            from s3compliance.demo import demo_params

            path = args.params or (DEMO_PARAMS if DEMO_PARAMS.exists() else None)
            return _run(args, demo_params(path, **overrides))
        if args.command == "run":
            return _run(args, load_params(args.params, **overrides))
        params = load_params(args.params, endpoint_url=args.endpoint_url, **overrides)
        result = run_scan(params)
        report_dir = write_report(result)
    except ParamsError as exc:
        print(f"s3compliance: bad parameters: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (NoCredentialsError, ProfileNotFound) as exc:
        print(f"s3compliance: no usable AWS credentials: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ScanAborted as exc:
        print(f"s3compliance: scan aborted: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (NotebookFailed, FileNotFoundError) as exc:
        print(f"s3compliance: report failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print_summary(result, report_dir)
    return _exit_code(result.summary())


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
