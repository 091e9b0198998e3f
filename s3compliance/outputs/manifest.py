"""The run's manifest: every file of a run folder hashed, and the runs chained by those hashes.

``manifest.json`` is the last file a run writes, inside the atomic publish: it lists each other
file of the folder (``{path, size, sha256}``, POSIX paths, sorted) and names the run published
before it in the same output folder (its run id and the SHA-256 of its ``manifest.json``). Editing
a file changes its digest; deleting a run in the middle leaves its successor naming a manifest
that is no longer there. A signature (``manifest.sig.json``, see ``signing.py``) covers the
manifest's own digest, so the signature alone vouches for every file.

The chain's head (the last published run) is kept in ``<output>/.chain.json`` under the publish
lock; when that file is missing or unreadable the head is found again from the manifests
themselves (the highest ``sequence``). This module only formats and reads: it sends nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig.json"
NOT_LISTED = (MANIFEST, SIGNATURE)  # the manifest cannot list itself, nor what signs it
MANIFEST_VERSION = 1
CHAIN_STATE = ".chain.json"
_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
RUN_ID = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_LINK = {
    "type": "object",
    "required": ["run_id", "manifest_sha256"],
    "properties": {"run_id": {"type": "string", "pattern": RUN_ID}, "manifest_sha256": _HEX64},
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "manifest_version",
        "run_id",
        "sequence",
        "tool_version",
        "parameters_hash",
        "exceptions_sha256",
        "previous",
        "files",
    ],
    "properties": {
        "manifest_version": {"const": MANIFEST_VERSION},
        "run_id": {"type": "string", "pattern": RUN_ID},
        "sequence": {"type": "integer", "minimum": 1},
        "tool_version": {"type": "string"},
        "parameters_hash": {"type": ["string", "null"]},
        "exceptions_sha256": {"oneOf": [{"type": "null"}, _HEX64]},
        "previous": {"oneOf": [{"type": "null"}, _LINK]},
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "size", "sha256"],
                "additionalProperties": False,
                "properties": {
                    "path": {"type": "string", "minLength": 1},
                    "size": {"type": "integer", "minimum": 0},
                    "sha256": _HEX64,
                },
            },
        },
    },
}
_CHAIN_SCHEMA: dict[str, Any] = {
    **_LINK,
    "required": [*_LINK["required"], "sequence"],
    "properties": {**_LINK["properties"], "sequence": {"type": "integer", "minimum": 1}},
}


class ManifestInvalid(ValueError):
    """A manifest (read back: untrusted) that is not one this tool writes; the message says
    where and why."""


@dataclass(frozen=True)
class Link:
    """A run in the chain: what its successor names as ``previous``."""

    run_id: str
    manifest_sha256: str
    sequence: int

    def as_previous(self) -> dict[str, str]:
        return {"run_id": self.run_id, "manifest_sha256": self.manifest_sha256}


def sha256_file(path: Path) -> str:
    """The file's SHA-256 as lower-case hex, read in chunks (a run's Parquet can be large)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def file_entries(folder: Path) -> list[dict[str, Any]]:
    """``{path, size, sha256}`` of every file under ``folder`` except the manifest and its
    signature, sorted by path: what the manifest lists and what verification recomputes."""
    entries = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).as_posix()
        if relative in NOT_LISTED or not path.is_file():
            continue
        entries.append({"path": relative, "size": path.stat().st_size, "sha256": sha256_file(path)})
    return sorted(entries, key=lambda e: e["path"])


def build_manifest(
    folder: Path, run_id: str, previous: Link | None, run_meta: dict[str, Any]
) -> dict[str, Any]:
    """The manifest of a run folder whose other files are all written; ``run_meta`` is its
    ``run.json`` (tool version, parameters hash, exceptions file digest)."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "run_id": run_id,
        "sequence": previous.sequence + 1 if previous else 1,
        "tool_version": run_meta.get("tool_version"),
        "parameters_hash": run_meta.get("parameters_hash"),
        "exceptions_sha256": run_meta.get("exceptions_sha256"),
        "previous": previous.as_previous() if previous else None,
        "files": file_entries(folder),
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The manifest as written: its digest is over exactly these bytes."""
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """A manifest read back, validated; raises :class:`ManifestInvalid` naming ``where``."""
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestInvalid(f"{where}: not valid JSON ({exc})") from None
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(manifest))
    if errors:
        error = min(errors, key=lambda e: list(e.absolute_path))
        at = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ManifestInvalid(f"{where}: {at}: {error.message}")
    seen: set[str] = set()
    for entry in manifest["files"]:
        path = entry["path"]
        if not safe_relative_path(path) or path in NOT_LISTED or path in seen:
            raise ManifestInvalid(f"{where}: files: path {path!r} is not a run file")
        seen.add(path)
    return manifest


def safe_relative_path(path: str) -> bool:
    """A POSIX path inside the run: relative, no empty, ``.`` or ``..`` segment, no backslash
    or NUL. A manifest read back cannot make a reader look outside the run folder."""
    parts = path.split("/")
    return (
        "\\" not in path
        and "\x00" not in path
        and all(part not in ("", ".", "..") for part in parts)
    )


@contextlib.contextmanager
def publish_lock(output_dir: Path) -> Iterator[None]:
    """Held while a run is named, chained and renamed into place: two runs publishing into the
    same output folder (cron and a person, or the watcher) take turns, so each names the other
    as ``previous`` and none is left out of the chain."""
    fd = os.open(output_dir, os.O_RDONLY)  # the folder itself: no lock file left behind
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def run_folders(output_dir: Path) -> list[Path]:
    """The run folders of an output folder: visible directories holding ``run.json`` or a
    manifest (not ``latest``, a link to one of them, nor ``failed/``)."""
    return sorted(
        p
        for p in output_dir.iterdir()
        if p.is_dir()
        and not p.is_symlink()
        and not p.name.startswith(".")
        and ((p / "run.json").is_file() or (p / MANIFEST).is_file())
    )


def _head_from_manifests(output_dir: Path) -> Link | None:
    """The chain's head found again from the manifests: the one with the highest sequence."""
    best: Link | None = None
    for folder in run_folders(output_dir):
        path = folder / MANIFEST
        if not path.is_file():
            continue
        data = path.read_bytes()
        try:
            manifest = parse_manifest(data, str(path))
        except ManifestInvalid as exc:
            log.warning("chain head: %s (skipped)", exc)
            continue
        link = Link(folder.name, hashlib.sha256(data).hexdigest(), manifest["sequence"])
        if best is None or link.sequence > best.sequence:
            best = link
    return best


def read_chain_state(output_dir: Path) -> tuple[Link | None, str | None]:
    """``.chain.json`` read back (untrusted): the last run published, or why it cannot be
    read (None, None when there is none)."""
    path = output_dir / CHAIN_STATE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(state, _CHAIN_SCHEMA)
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, jsonschema.ValidationError) as exc:
        reason = exc.message if isinstance(exc, jsonschema.ValidationError) else exc
        return None, f"{CHAIN_STATE} unreadable: {reason}"
    return Link(state["run_id"], state["manifest_sha256"], state["sequence"]), None


def chain_head(output_dir: Path) -> Link | None:
    """The last run published in ``output_dir`` (call it under :func:`publish_lock`)."""
    head, unreadable = read_chain_state(output_dir)
    if unreadable:
        log.warning("%s: the chain continues from the newest manifest", unreadable)
    return head if head is not None else _head_from_manifests(output_dir)


def chain_state_text(link: Link) -> str:
    """``.chain.json`` for a newly published run."""
    return (
        json.dumps(
            {
                "run_id": link.run_id,
                "manifest_sha256": link.manifest_sha256,
                "sequence": link.sequence,
            },
            indent=2,
        )
        + "\n"
    )
