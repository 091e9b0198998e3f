"""Verifying runs: every file against its manifest, the signature against the expected key, and
the chain between runs. It reads; it never repairs.

A run is read through a *source*: a local run folder, or an archived copy in S3 (objects
streamed through the hash, never copied to disk). What is found is sorted three ways:

* problems (exit 3): a file changed, missing or added; a signature invalid for the expected key,
  missing where one is expected, or over another manifest; the chain broken between two runs;
* could not check (exit 1): access denied, KMS unreachable, a signed run with no expected key;
* unverifiable: runs written before manifests existed (listed, not a break).

Deleting the newest run leaves nothing in the folder that names it, except ``.chain.json``
(which whoever deletes a run can delete too): the write-once archive is the answer to that.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jsonschema

from s3compliance.outputs.manifest import (
    CHAIN_STATE,
    MANIFEST,
    NOT_LISTED,
    SIGNATURE,
    Link,
    ManifestInvalid,
    parse_manifest,
    read_chain_state,
    run_folders,
    sha256_file,
)
from s3compliance.outputs.signing import KMS_PREFERENCE, SIGNATURE_KEYS, verify_offline

_SIGNATURE_SCHEMA = {
    "type": "object",
    "required": list(SIGNATURE_KEYS),
    "properties": {
        "algorithm": {"enum": ["ED25519", *KMS_PREFERENCE]},
        "key": {"type": "string"},
        "message": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "signature": {"type": "string", "minLength": 1},
        "signed_at": {"type": "string"},
    },
}


class CannotCheck(RuntimeError):
    """The verification could not be done (access denied, no such bucket): exit 1."""


class RunSource(Protocol):
    """One run, wherever it is kept."""

    name: str  # the run id: the folder's name, or the last segment of the archive prefix
    where: str  # for messages

    def read(self, path: str) -> bytes | None: ...  # a small file, None when absent
    def listing(self) -> dict[str, int]: ...  # every file: path -> size
    def sha256(self, path: str) -> str: ...


@dataclass
class LocalRun:
    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def where(self) -> str:
        return str(self.folder)

    def read(self, path: str) -> bytes | None:
        try:
            return (self.folder / path).read_bytes()
        except FileNotFoundError:
            return None

    def listing(self) -> dict[str, int]:
        return {
            p.relative_to(self.folder).as_posix(): p.stat().st_size
            for p in self.folder.rglob("*")
            if p.is_file()
        }

    def sha256(self, path: str) -> str:
        return sha256_file(self.folder / path)


@dataclass
class Expected:
    """The key the verifier expects a signature from: a public key (offline), or a KMS key
    (``Verify``). Neither: signatures cannot be checked (and are said to be unchecked)."""

    public_key: Any = None
    kms_client: Any = None
    kms_key_id: str | None = None
    describe: str = ""

    @property
    def given(self) -> bool:
        return self.public_key is not None or self.kms_key_id is not None

    def check(self, document: dict) -> str | None:
        """None when the signature is valid for this key, else why not; raises
        :class:`CannotCheck` when KMS cannot be asked."""
        if self.public_key is not None:
            return verify_offline(document, self.public_key)
        return self._kms_verify(document)

    def _kms_verify(self, document: dict) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        if document["algorithm"] not in KMS_PREFERENCE:
            return f"algorithm {document['algorithm']} is not one KMS key {self.kms_key_id} uses"
        try:
            signature = base64.b64decode(document["signature"], validate=True)
        except ValueError:
            return "signature is not base64"
        try:
            response = self.kms_client.verify(
                KeyId=self.kms_key_id,
                Message=document["message"].encode("ascii"),
                MessageType="RAW",
                Signature=signature,
                SigningAlgorithm=document["algorithm"],
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("KMSInvalidSignatureException", "InvalidSignatureException"):
                return f"signature invalid for KMS key {self.kms_key_id}"
            raise CannotCheck(f"KMS Verify with {self.kms_key_id} failed: {exc}") from None
        except BotoCoreError as exc:
            raise CannotCheck(f"KMS Verify with {self.kms_key_id} failed: {exc}") from None
        return None if response.get("SignatureValid") else "signature invalid"


@dataclass
class RunCheck:
    """What was found in one run."""

    name: str
    where: str
    manifest: dict[str, Any] | None = None
    manifest_sha256: str | None = None
    signed_by: str | None = None
    problems: list[str] = field(default_factory=list)
    cannot_check: list[str] = field(default_factory=list)

    @property
    def link(self) -> Link | None:
        if self.manifest is None or self.manifest_sha256 is None:
            return None
        return Link(self.name, self.manifest_sha256, self.manifest["sequence"])


@dataclass
class Verification:
    """Every run looked at, and what was found, one line each."""

    runs: list[RunCheck] = field(default_factory=list)
    chain_problems: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [f"{r.name}: {p}" for r in self.runs for p in r.problems] + self.chain_problems

    @property
    def cannot_check(self) -> list[str]:
        return [f"{r.name}: {c}" for r in self.runs for c in r.cannot_check]

    @property
    def verified(self) -> list[RunCheck]:
        return [r for r in self.runs if r.manifest and not r.problems and not r.cannot_check]

    @property
    def unverifiable(self) -> list[RunCheck]:
        return [r for r in self.runs if r.manifest is None and not r.problems]

    @property
    def exit_code(self) -> int:
        """0 all verified; 3 integrity problems; 1 something could not be checked."""
        if self.problems:
            return 3
        return 1 if self.cannot_check else 0

    def lines(self) -> list[str]:
        """What ``verify`` prints: each run's verdict, then each problem on its own line."""
        out = []
        for run in self.runs:
            if run.manifest is None and not run.problems:
                out.append(f"UNVERIFIABLE {run.name}: no manifest.json (written before manifests)")
            elif run.problems:
                out.append(f"FAILED {run.name}: {len(run.problems)} problem(s)")
            elif run.cannot_check:
                out.append(f"UNCHECKED {run.name}: {'; '.join(run.cannot_check)}")
            else:
                files = len(run.manifest["files"]) if run.manifest else 0
                signed = f", signed by {run.signed_by}" if run.signed_by else ", not signed"
                out.append(f"OK {run.name}: {files} files match the manifest{signed}")
        out.extend(f"PROBLEM {p}" for p in self.problems)
        return out


def _signature(source: RunSource, check: RunCheck, expected: Expected) -> None:
    data = source.read(SIGNATURE)
    if data is None:
        if expected.given:
            check.problems.append(
                f"not signed, though a signature by {expected.describe} is expected"
            )
        return
    try:
        document = json.loads(data)
        jsonschema.validate(document, _SIGNATURE_SCHEMA)
    except (ValueError, jsonschema.ValidationError) as exc:
        reason = exc.message if isinstance(exc, jsonschema.ValidationError) else exc
        check.problems.append(f"{SIGNATURE} unreadable: {reason}")
        return
    if document["message"] != check.manifest_sha256:
        check.problems.append(f"{SIGNATURE} signs another manifest ({document['message']})")
        return
    if not expected.given:
        check.cannot_check.append(
            f"signed by {document['key']}; give --public-key or --params to check the signature"
        )
        return
    failure = expected.check(document)
    if failure:
        check.problems.append(f"{failure} (it names {document['key']})")
    else:
        check.signed_by = expected.describe or document["key"]


def check_run(source: RunSource, expected: Expected) -> RunCheck:
    """One run: its manifest read back (untrusted), each file recomputed, its signature."""
    check = RunCheck(source.name, source.where)
    data = source.read(MANIFEST)
    if data is None:
        return check  # unverifiable, unless the chain says it should have one
    check.manifest_sha256 = hashlib.sha256(data).hexdigest()
    try:
        manifest = parse_manifest(data, MANIFEST)
    except ManifestInvalid as exc:
        check.problems.append(f"manifest unreadable: {exc}")
        return check
    check.manifest = manifest
    if manifest["run_id"] != source.name:
        check.problems.append(f"manifest is run {manifest['run_id']}'s, found under {source.name}")
    present = {p: size for p, size in source.listing().items() if p not in NOT_LISTED}
    for entry in manifest["files"]:
        path = entry["path"]
        if path not in present:
            check.problems.append(f"file missing: {path}")
        elif present[path] != entry["size"] or source.sha256(path) != entry["sha256"]:
            check.problems.append(f"file changed: {path}")
    listed = {e["path"] for e in manifest["files"]}
    check.problems.extend(f"file added: {p}" for p in sorted(set(present) - listed))
    _signature(source, check, expected)
    return check


def check_chain(runs: list[RunCheck], head: Link | None = None) -> list[str]:
    """The chain between runs: each ``previous`` must be a run here with that manifest digest;
    one run may start the chain; no two runs name the same predecessor."""
    chained = sorted((r for r in runs if r.link), key=lambda r: (r.link.sequence, r.name))  # type: ignore[union-attr]
    by_digest = {r.manifest_sha256: r for r in chained}
    by_name = {r.name: r for r in runs}
    problems: list[str] = []
    successors: dict[str, list[str]] = {}
    roots = []
    for run in chained:
        previous = run.manifest["previous"]  # type: ignore[index]
        if previous is None:
            roots.append(run)
            continue
        successors.setdefault(previous["manifest_sha256"], []).append(run.name)
        if previous["manifest_sha256"] in by_digest:
            continue
        before = [r.name for r in chained if r.link.sequence < run.link.sequence]  # type: ignore[union-attr]
        between = f"between {before[-1]} and {run.name}" if before else f"before {run.name}"
        named = by_name.get(previous["run_id"])
        if named is None:
            why = f"run {previous['run_id']} is missing"
        elif named.manifest_sha256 is None:
            why = f"run {previous['run_id']}'s manifest.json is missing"
        else:
            why = f"run {previous['run_id']}'s manifest.json changed after {run.name} was published"
        problems.append(f"chain broken {between}: {why}")
    for extra in roots[1:]:
        problems.append(
            f"chain broken before {extra.name}: it starts a new chain (names no previous run), "
            f"though {roots[0].name} started this folder's"
        )
    for digest, names in successors.items():
        if len(names) > 1:
            base = by_digest[digest].name if digest in by_digest else digest[:12]
            problems.append(f"chain forks at {base}: {', '.join(names)} all name it as previous")
    if head is not None and head.manifest_sha256 not in by_digest:
        named = by_name.get(head.run_id)
        why = "is missing" if named is None or named.manifest is None else "has another manifest"
        problems.append(f"the last run published here ({head.run_id}, per {CHAIN_STATE}) {why}")
    return problems


def verify_sources(
    sources: Iterable[RunSource],
    expected: Expected,
    head: Link | None = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] = lambda it: it,
) -> Verification:
    """Every run, then the chain between them (one run alone: its predecessor is elsewhere,
    so there is no chain to check)."""
    runs = [check_run(source, expected) for source in progress(list(sources))]
    return Verification(runs, check_chain(runs, head) if len(runs) > 1 or head else [])


def _pages(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a ``ListObjectsV2`` (botocore's paginator), read in one retried call."""
    return list(client.get_paginator("list_objects_v2").paginate(**kwargs))


@dataclass
class S3Run:
    """An archived run, read object by object: each streamed through the hash."""

    client: Any
    bucket: str
    prefix: str  # the run's prefix, ending in "/"
    retry: Any = None

    @property
    def name(self) -> str:
        return self.prefix.rstrip("/").rsplit("/", 1)[-1]

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.retry.call(fn, **kwargs) if self.retry else fn(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(kwargs.get("Key")) from None
            raise CannotCheck(f"{self.where}: {exc}") from None
        except BotoCoreError as exc:
            raise CannotCheck(f"{self.where}: {exc}") from None

    def read(self, path: str) -> bytes | None:
        try:
            body = self._call(self.client.get_object, Bucket=self.bucket, Key=self.prefix + path)
        except FileNotFoundError:
            return None
        return body["Body"].read()

    def listing(self) -> dict[str, int]:
        pages = self._call(_pages, client=self.client, Bucket=self.bucket, Prefix=self.prefix)
        return {
            item["Key"][len(self.prefix) :]: item["Size"]
            for page in pages
            for item in page.get("Contents", [])
        }

    def sha256(self, path: str) -> str:
        response = self._call(self.client.get_object, Bucket=self.bucket, Key=self.prefix + path)
        digest = hashlib.sha256()
        for chunk in response["Body"].iter_chunks(1 << 20):
            digest.update(chunk)
        return digest.hexdigest()


def archive_sources(client: Any, bucket: str, prefix: str, retry: Any = None) -> list[S3Run]:
    """``s3://bucket/prefix``: the run there (``prefix/manifest.json`` exists), else every run
    directly under the prefix."""
    base = prefix.strip("/")
    single = S3Run(client, bucket, f"{base}/" if base else "", retry)
    if base and single.read(MANIFEST) is not None:
        return [single]
    folder = f"{base}/" if base else ""
    pages = single._call(_pages, client=client, Bucket=bucket, Prefix=folder, Delimiter="/")
    runs = [
        S3Run(client, bucket, p["Prefix"], retry)
        for page in pages
        for p in page.get("CommonPrefixes", [])
    ]
    if not runs:
        raise CannotCheck(f"s3://{bucket}/{folder}: no archived run there")
    return runs


def verify_local(
    path: Path,
    expected: Expected,
    progress: Callable[[Iterable[Any]], Iterable[Any]] = lambda it: it,
) -> Verification:
    """A run folder (it and nothing else), or an output folder (every run and the chain)."""
    if (path / MANIFEST).is_file() or (path / "run.json").is_file():
        return verify_sources([LocalRun(path)], expected)
    head, unreadable = read_chain_state(path)
    result = verify_sources([LocalRun(f) for f in run_folders(path)], expected, head, progress)
    if unreadable:
        result.chain_problems.append(unreadable)
    return result
