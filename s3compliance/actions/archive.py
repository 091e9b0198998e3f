"""The write-once evidence archive: a published run copied to an S3 bucket with Object Lock.

Opt-in (``evidence_archive`` or ``s3compliance archive``), planned first, idempotent and
lossless:

* the bucket is checked before anything is sent: Object Lock enabled, versioning enabled,
  default encryption, Block Public Access on (all four settings). A bucket that is not
  write-once is refused unless the caller allows it (then nothing there is evidence);
* each file is one ``PutObject`` with ``ChecksumAlgorithm=SHA256`` *and* the manifest's own
  digest as ``ChecksumSHA256`` (S3 refuses a body that does not match the manifest),
  ``IfNoneMatch='*'`` (never overwrites), and, with Object Lock, ``COMPLIANCE`` retention until
  now + ``retention_days``; ``manifest.json`` and ``manifest.sig.json`` go last, so an archived
  manifest means every file it lists is there;
* an object already under a key with the same SHA-256 is not sent again; a different one is a
  conflict, reported and never overwritten.

This module writes to S3 and reads no local file but the ones it uploads; the caller reads and
verifies the run's manifest (``outputs.manifest``) and passes its entries.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from s3compliance.scan.aws import error_code
from s3compliance.scan.retry import RetryPolicy

log = logging.getLogger(__name__)

#: IAM actions the archive needs on its bucket, declared next to the code that calls them.
PERMISSIONS = (
    "s3:PutObject",
    "s3:PutObjectRetention",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketVersioning",
    "s3:GetEncryptionConfiguration",
    "s3:GetBucketPublicAccessBlock",
)
DEFAULT_RETENTION_DAYS = 2190  # six years: a policy choice (SEC 17a-4 asks three or six)
LAST = ("manifest.json", "manifest.sig.json")  # what vouches for the rest goes last
_BPA = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


class ArchiveRefused(ValueError):
    """The archive bucket is not write-once (or the location is malformed): exit 2, nothing
    uploaded."""


class ArchiveUnavailable(RuntimeError):
    """The archive bucket could not be read (denied, missing): exit 1, nothing uploaded."""


@dataclass(frozen=True)
class Target:
    bucket: str
    prefix: str  # "" or "some/prefix" (no leading or trailing "/")

    def key(self, run_id: str, path: str) -> str:
        return "/".join(p for p in (self.prefix, run_id, path) if p)

    def url(self, run_id: str = "") -> str:
        key = self.key(run_id, "") if run_id else self.prefix
        return f"s3://{self.bucket}/{key}" + ("/" if run_id else "")


def parse_target(url: str) -> Target:
    """``s3://bucket[/prefix]`` -> :class:`Target`; :class:`ArchiveRefused` when malformed."""
    if not url.startswith("s3://"):
        raise ArchiveRefused(f"{url!r}: expected s3://bucket or s3://bucket/prefix")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789.-" for c in bucket):
        raise ArchiveRefused(f"{url!r}: {bucket!r} is not an S3 bucket name")
    return Target(bucket, prefix.strip("/"))


@dataclass(frozen=True)
class BucketState:
    """What makes a bucket write-once, as read from it."""

    object_lock: bool
    versioning: bool
    encryption: bool
    public_access_blocked: bool

    def problems(self) -> list[str]:
        return [
            what
            for ok, what in (
                (self.object_lock, "Object Lock is not enabled"),
                (self.versioning, "versioning is not enabled"),
                (self.encryption, "no default encryption"),
                (self.public_access_blocked, "Block Public Access is not fully on"),
            )
            if not ok
        ]


def _absent(call: Callable[[], Any], *codes: str) -> Any:
    """The call's response, or None when S3 answers that the configuration does not exist."""
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) in codes:
            return None
        raise


def bucket_state(client: Any, bucket: str, retry: RetryPolicy) -> BucketState:
    """Read the four settings; :class:`ArchiveUnavailable` when the bucket cannot be read."""
    try:
        lock = _absent(
            lambda: retry.call(client.get_object_lock_configuration, Bucket=bucket),
            "ObjectLockConfigurationNotFoundError",
        )
        versioning = retry.call(client.get_bucket_versioning, Bucket=bucket)
        encryption = _absent(
            lambda: retry.call(client.get_bucket_encryption, Bucket=bucket),
            "ServerSideEncryptionConfigurationNotFoundError",
        )
        block = _absent(
            lambda: retry.call(client.get_public_access_block, Bucket=bucket),
            "NoSuchPublicAccessBlockConfiguration",
        )
    except (ClientError, BotoCoreError) as exc:
        raise ArchiveUnavailable(f"archive bucket {bucket}: {exc}") from None
    config = (lock or {}).get("ObjectLockConfiguration", {})
    rules = (encryption or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    settings = (block or {}).get("PublicAccessBlockConfiguration", {})
    return BucketState(
        object_lock=config.get("ObjectLockEnabled") == "Enabled",
        versioning=versioning.get("Status") == "Enabled",
        encryption=any("ApplyServerSideEncryptionByDefault" in r for r in rules),
        public_access_blocked=all(settings.get(k) is True for k in _BPA),
    )


@dataclass(frozen=True)
class Entry:
    """One file to archive: its path in the run, its SHA-256 (hex, from the manifest)."""

    path: str
    sha256: str

    @property
    def checksum(self) -> str:
        """The digest as S3 reports ``ChecksumSHA256``: base64 of the raw 32 bytes."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode("ascii")


@dataclass
class Outcome:
    """What archiving one run did: keys uploaded, already there, in conflict, failed."""

    run_id: str
    location: str
    uploaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.conflicts and not self.failures


def ordered(entries: Iterable[Entry]) -> list[Entry]:
    """Every file, then the manifest, then its signature."""
    entries = list(entries)
    rest = sorted((e for e in entries if e.path not in LAST), key=lambda e: e.path)
    return rest + [e for name in LAST for e in entries if e.path == name]


def _existing(client: Any, bucket: str, key: str, retry: RetryPolicy) -> str | None:
    """The ``ChecksumSHA256`` of the object under ``key`` ("" when it has none), or None when
    there is no object."""
    try:
        head = retry.call(client.head_object, Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return head.get("ChecksumSHA256") or ""


def archive_run(
    client: Any,
    target: Target,
    run_id: str,
    folder: Path,
    entries: Iterable[Entry],
    retry: RetryPolicy,
    object_lock: bool,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    now: datetime | None = None,
    progress: Callable[[list[Entry]], Iterable[Entry]] = lambda items: items,
) -> Outcome:
    """Copy the run folder's files to ``target`` (checked by the caller with
    :func:`bucket_state`). Never overwrites, never touches the local folder."""
    outcome = Outcome(run_id, target.url(run_id))
    retain = (now or datetime.now(UTC)) + timedelta(days=retention_days)
    lock = (
        {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": retain} if object_lock else {}
    )
    for entry in progress(ordered(entries)):
        key = target.key(run_id, entry.path)
        if (outcome.failures or outcome.conflicts) and entry.path in LAST:
            # a manifest over an incomplete archive would vouch for files that are not there
            outcome.failures.append(f"{key}: not sent (earlier files were not archived)")
            continue
        try:
            found = _existing(client, target.bucket, key, retry)
            if found == entry.checksum:
                outcome.present.append(key)
                continue
            if found is not None:
                outcome.conflicts.append(f"{key}: another object is there (not overwritten)")
                continue
            _put(client, target.bucket, key, folder / entry.path, entry, retry, lock)
            outcome.uploaded.append(key)
        except ClientError as exc:
            if error_code(exc) == "PreconditionFailed":  # written meanwhile: look again
                again = _existing(client, target.bucket, key, retry)
                if again == entry.checksum:
                    outcome.present.append(key)
                else:
                    outcome.conflicts.append(f"{key}: another object is there (not overwritten)")
                continue
            outcome.failures.append(f"{key}: {error_code(exc)}: {exc}")
        except (BotoCoreError, OSError) as exc:
            outcome.failures.append(f"{key}: {exc}")
    return outcome


def _put(
    client: Any,
    bucket: str,
    key: str,
    path: Path,
    entry: Entry,
    retry: RetryPolicy,
    lock: dict[str, Any],
) -> None:
    """One single-part upload; the file is reopened on each attempt (a retry resends it whole)."""

    def send() -> Any:
        with path.open("rb") as body:
            return client.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=entry.checksum,
                IfNoneMatch="*",
                **lock,
            )

    retry.call(send)
