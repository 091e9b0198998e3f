"""Archiving published runs to the write-once evidence archive: each run verified against its
manifest, the bucket checked, then every file handed to the writer (``actions/archive.py``).

Used by ``s3compliance archive``, by ``scan`` and ``run`` once their folder is published (with
``evidence_archive``), and by the report notebook's last cell in JupyterLab.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3compliance.actions.archive import (
    ArchiveRefused,
    BucketState,
    Entry,
    Outcome,
    archive_run,
    bucket_state,
    parse_target,
)
from s3compliance.outputs.manifest import MANIFEST, SIGNATURE, run_folders, sha256_file
from s3compliance.outputs.verify import Expected, LocalRun, check_run
from s3compliance.scan.retry import RetryPolicy

if TYPE_CHECKING:
    from s3compliance.params import Params


def s3_client(params: Params, bucket: str) -> Any:
    """An S3 client in the bucket's own region (``HeadBucket`` names it, even on a 403)."""
    from botocore.exceptions import ClientError

    from s3compliance.scan.aws import Clients, make_session

    clients = Clients(make_session(params.aws_profile), params.endpoint_url)
    try:
        head = clients.s3(params.home_region).head_bucket(Bucket=bucket)
        headers = head["ResponseMetadata"].get("HTTPHeaders", {})
    except ClientError as exc:
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return clients.s3(headers.get("x-amz-bucket-region") or params.home_region)


def archive_folder(path: Path, url: str, params: Params, client: Any = None) -> list[Outcome]:
    """Archive every run of ``path`` (a run folder or an output folder) to ``url``: each run is
    verified locally first (a run that no longer matches its manifest is not archived), the
    bucket checked once (through ``client``, default: one in the bucket's region). Raises
    ``ArchiveRefused`` / ``ArchiveUnavailable``."""
    from tqdm import tqdm

    target = parse_target(url)
    single = (path / MANIFEST).is_file() or (path / "run.json").is_file()
    folders = [path] if single else run_folders(path)
    if not folders:
        raise ArchiveRefused(f"{path}: neither a run folder nor an output folder holding runs")
    if not single:  # an output folder: runs from before manifests are left where they are
        older = [f for f in folders if not (f / MANIFEST).is_file()]
        if older:
            print(
                f"Archive: {len(older)} run(s) without manifest.json (written before "
                "manifests) left out",
                file=sys.stderr,
            )
        folders = [f for f in folders if f not in older]
    retry = RetryPolicy(params.retry_attempts, params.retry_max_wait_s)
    client = client or s3_client(params, target.bucket)
    state = write_once(client, target.bucket, params, retry)
    outcomes = []
    for folder in folders:
        check = check_run(LocalRun(folder), Expected())
        outcome = Outcome(folder.name, target.url(folder.name))
        if check.manifest is None or check.problems:
            why = "; ".join(check.problems) or "no manifest.json (written before manifests)"
            outcome.failures.append(f"{folder}: not archived: {why}")
            outcomes.append(outcome)
            continue
        entries = [Entry(e["path"], e["sha256"]) for e in check.manifest["files"]]
        entries.append(Entry(MANIFEST, check.manifest_sha256 or ""))
        if (folder / SIGNATURE).is_file():
            entries.append(Entry(SIGNATURE, sha256_file(folder / SIGNATURE)))

        def bar(items: list[Entry], name: str = folder.name) -> Any:
            return tqdm(items, desc=name, unit="file", disable=not sys.stderr.isatty(), leave=False)

        outcomes.append(
            archive_run(
                client,
                target,
                folder.name,
                folder,
                entries,
                retry,
                state.object_lock,
                params.evidence_retention_days,
                progress=bar,
            )
        )
    return outcomes


def preflight_archive(params: Params) -> None:
    """Before a scan with ``evidence_archive``: refuse a bucket that is not write-once (or
    cannot be read) now, not after the scan."""
    if not params.evidence_archive:
        return
    target = parse_target(params.evidence_archive)
    retry = RetryPolicy(params.retry_attempts, params.retry_max_wait_s)
    write_once(s3_client(params, target.bucket), target.bucket, params, retry)


def write_once(client: Any, bucket: str, params: Params, retry: RetryPolicy) -> BucketState:
    """The archive bucket's settings; :class:`ArchiveRefused` when it is not write-once and
    ``evidence_archive_allow_mutable`` is not set."""
    state = bucket_state(client, bucket, retry)
    problems = state.problems()
    if problems and not params.evidence_archive_allow_mutable:
        raise ArchiveRefused(
            f"s3://{bucket} is not write-once ({'; '.join(problems)}): nothing uploaded "
            "(evidence_archive_allow_mutable: true archives anyway, not as evidence)"
        )
    return state


def outcomes_table(outcomes: list[Outcome]) -> Any:
    """One row per run archived: where, how many files sent / already there, and what failed."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "run_id": o.run_id,
                "location": o.location,
                "uploaded": len(o.uploaded),
                "already_there": len(o.present),
                "conflicts": len(o.conflicts),
                "failed": len(o.failures),
                "problems": "; ".join([*o.conflicts, *o.failures]),
            }
            for o in outcomes
        ]
    )
