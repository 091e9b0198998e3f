"""``verify`` and ``archive``: prove a run is the one the scan wrote, and keep it write-once.

``verify`` reads and never repairs: exit 0 everything verified, 3 integrity problems found, 1
something could not be checked (access denied, no expected key for a signed run), 2 bad
arguments. ``archive`` copies published runs to the write-once bucket (``scan`` and ``run`` call
it too, once their run folder is published, when ``evidence_archive`` is set).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3compliance.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from s3compliance.params import Params, load_params, validate

if TYPE_CHECKING:
    from s3compliance.actions.archive import Outcome
    from s3compliance.outputs.verify import Expected


def register(sub: Any) -> None:
    """Add this group's commands to the parser's subcommands."""
    verify = sub.add_parser(
        "verify",
        help="check runs against their manifests, signatures and chain (reads, never repairs)",
    )
    verify.add_argument(
        "path", help="a run folder, an output folder, or s3://bucket/prefix[/RUN] (the archive)"
    )
    verify.add_argument(
        "--public-key", type=Path, help="PEM public key the signatures must verify with (offline)"
    )
    verify.add_argument("--params", help="YAML parameters file (evidence_signing, credentials)")
    verify.add_argument("--endpoint-url", help="S3/KMS endpoint (moto server, LocalStack)")
    archive = sub.add_parser(
        "archive", help="copy published runs to the write-once evidence archive (S3 Object Lock)"
    )
    archive.add_argument("path", type=Path, help="a run folder or an output folder")
    archive.add_argument("--to", help="s3://bucket/prefix (default: the params' evidence_archive)")
    archive.add_argument("--params", help="YAML parameters file (evidence_archive, credentials)")
    archive.add_argument("--endpoint-url", help="S3 endpoint (moto server, LocalStack)")


def _params(args: argparse.Namespace) -> Params:
    if args.params:
        return load_params(args.params, endpoint_url=args.endpoint_url)
    return validate({"endpoint_url": args.endpoint_url}, "--endpoint-url")


def _usage(message: str) -> int:
    print(f"s3compliance: bad arguments: {message}", file=sys.stderr)
    return EXIT_USAGE


def _expected(args: argparse.Namespace, params: Params) -> Expected:
    """The key signatures must verify with: ``--public-key``, else ``evidence_signing``."""
    from s3compliance.outputs.signing import (
        fingerprint,
        kms_client,
        load_public_key,
        parse_signing,
    )
    from s3compliance.outputs.verify import Expected

    if args.public_key:
        key = load_public_key(args.public_key)
        return Expected(public_key=key, describe=fingerprint(key))
    if not params.evidence_signing:
        return Expected()
    kind, ref = parse_signing(params.evidence_signing)
    if kind == "file":
        key = load_public_key(ref)
        return Expected(public_key=key, describe=fingerprint(key))
    return Expected(kms_client=kms_client(params, ref), kms_key_id=ref, describe=ref)


def _progress(items: Any) -> Any:
    from tqdm import tqdm

    return tqdm(items, desc="verify", unit="run", disable=not sys.stderr.isatty(), leave=False)


def _verify(args: argparse.Namespace) -> int:
    from s3compliance.outputs.verify import archive_sources, verify_local, verify_sources

    params = _params(args)
    expected = _expected(args, params)
    if args.path.startswith("s3://"):
        from s3compliance.actions.archive import parse_target
        from s3compliance.outputs.evidence_archive import s3_client
        from s3compliance.scan.retry import RetryPolicy

        target = parse_target(args.path)
        retry = RetryPolicy(params.retry_attempts, params.retry_max_wait_s)
        client = s3_client(params, target.bucket)
        sources = archive_sources(client, target.bucket, target.prefix, retry)
        result = verify_sources(sources, expected, progress=_progress)
    else:
        path = Path(args.path)
        if not path.is_dir():
            return _usage(f"{path}: no such folder")
        result = verify_local(path, expected, _progress)
        if not result.runs:
            return _usage(f"{path}: neither a run folder nor an output folder holding runs")
    for line in result.lines():
        print(line)
    print(
        f"Verified {len(result.verified)} run(s); {len(result.unverifiable)} unverifiable; "
        f"{len(result.problems)} problem(s); {len(result.cannot_check)} not checked"
    )
    return result.exit_code


def print_archive(outcomes: list[Outcome]) -> bool:
    """One line per run, then each conflict and failure; True when everything is archived."""
    for o in outcomes:
        print(
            f"Archive {o.location}: {len(o.uploaded)} uploaded, {len(o.present)} already there, "
            f"{len(o.conflicts)} conflict(s), {len(o.failures)} failed"
        )
        for line in [*o.conflicts, *o.failures]:
            print(f"  {line}", file=sys.stderr)
    return all(o.complete for o in outcomes)


def _archive(args: argparse.Namespace) -> int:
    from s3compliance.outputs.evidence_archive import archive_folder

    params = _params(args)
    url = args.to or params.evidence_archive
    if not url:
        return _usage("no archive: give --to s3://bucket/prefix or evidence_archive in --params")
    if not args.path.is_dir():
        return _usage(f"{args.path}: no such folder")
    return EXIT_OK if print_archive(archive_folder(args.path, url, params)) else EXIT_FAILURE


COMMANDS = {"verify": _verify, "archive": _archive}
