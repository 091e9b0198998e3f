"""Command line: ``scan`` an account, ``run`` the report notebook on it, or ``demo`` both.

``scan`` writes the findings (JSON, CSV); ``run`` executes the report notebook with papermill and
adds the charts, the executed notebook and its HTML rendering; ``demo`` is ``run`` on the embedded
demo account. Exit codes (cron-friendly): 0 every bucket compliant; 3 the scan completed and found
non-compliant or unknown buckets; 2 bad parameters or no credentials (one line, no traceback);
1 anything unexpected.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator

from s3compliance import __version__
from s3compliance.cli import evidence, findings, history, iac, runs, securityhub, watch
from s3compliance.cli.common import EXIT_FAILURE, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from s3compliance.cli.findings import _tag_exit
from s3compliance.cli.runs import _after_publish, _demo_history, _exit_code
from s3compliance.cli.securityhub import _securityhub_import

__all__ = [
    "EXIT_FAILURE",
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_USAGE",
    "_after_publish",
    "_demo_history",
    "_exit_code",
    "_securityhub_import",
    "_tag_exit",
    "main",
]

# One module per command group. Each command imports its own modules inside its function:
# `--help` and `import-plan` (which makes no AWS call) start without boto3, pandas' friends or
# the scan engine.
GROUPS = (runs, iac, history, findings, securityhub, evidence, watch)
log = logging.getLogger("s3compliance")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3compliance", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


COMMANDS = {name: command for group in GROUPS for name, command in group.COMMANDS.items()}
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
    (
        ("s3compliance.outputs.history:HistoryError", "s3compliance.scan.delta:DeltaInvalid"),
        "bad arguments",
        EXIT_USAGE,
    ),
    (("s3compliance.iac.remediation:RemediationError",), "bad arguments", EXIT_USAGE),
    (("s3compliance.outputs.notebook:MissingExtra",), "missing extra", EXIT_USAGE),
    (("s3compliance.scan.org_scanner:DaskUnavailable",), "dask engine unavailable", EXIT_USAGE),
    (
        ("botocore.exceptions:NoCredentialsError", "botocore.exceptions:ProfileNotFound"),
        "no usable AWS credentials",
        EXIT_USAGE,
    ),
    (("s3compliance.outputs.signing_keys:KeyUnusable",), "bad key", EXIT_USAGE),
    (("s3compliance.actions.archive:ArchiveRefused",), "archive refused", EXIT_USAGE),
    (("s3compliance.scan.scanner:ScanAborted",), "scan aborted", EXIT_FAILURE),
    (("s3compliance.watch.loop:QueueUnreadable",), "queue unreadable", EXIT_FAILURE),
    (("s3compliance.outputs.signing:SigningError",), "signing failed", EXIT_FAILURE),
    (
        (
            "s3compliance.actions.archive:ArchiveUnavailable",
            "s3compliance.outputs.verify:CannotCheck",
        ),
        "could not check",
        EXIT_FAILURE,
    ),
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
