"""Run folders: every file written atomically, a run published whole or not at all.

A run's files are written into a hidden staging folder next to the final one, then the folder is
renamed into place in one step: a crash leaves either a complete run folder or none, and never
touches an earlier run. ``<output>/latest`` is a symlink swapped atomically to the newest *full*
run (what ``tag``, ``explore`` and ``import-plan`` read: the last full report); a delta run (the
buckets a change touched) never moves it. ``<output>/latest-state`` (JSON, written atomically)
names the newest run of either kind.
Everything that writes into a run folder (the report, the charts, the Pulumi program) goes
through here.

Publishing happens under a lock on the output folder: the folder's name, the run it chains to
(``previous``), the last files that depend on them (the HTML report's evidence header), the
manifest and its signature are all decided and written there, in that order, so the manifest is
the last file and covers every other one (see ``manifest.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from s3compliance import __version__
from s3compliance.outputs.manifest import (
    CHAIN_STATE,
    MANIFEST,
    SIGNATURE,
    Link,
    build_manifest,
    chain_head,
    chain_state_text,
    manifest_bytes,
    publish_lock,
)
from s3compliance.outputs.signing import Signer, signature_document


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old content or the new, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide the report from the team
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """:func:`atomic_write_text` for bytes written exactly (the manifest is hashed as written)."""
    atomic_write_with(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_with(path: Path, write: Callable[[Path], object]) -> None:
    """Let ``write`` fill a temporary file beside ``path``, then rename it into place (for
    binary formats written by a library, e.g. Parquet)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_stream(
    path: Path, fill: Callable[[TextIO], object], newline: str | None = None
) -> None:
    """A text file that ``fill`` writes a piece at a time (UTF-8), renamed into place whole."""

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8", newline=newline) as fh:
            fill(fh)

    atomic_write_with(path, write)


def new_run_id(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def _free_run_dir(output_dir: Path, run_id: str) -> Path:
    """``output/<run_id>``, or ``<run_id>-2``, ``-3``... : an earlier run is never overwritten."""
    candidate, n = output_dir / run_id, 1
    while candidate.exists():
        n += 1
        candidate = output_dir / f"{run_id}-{n}"
    return candidate


LATEST = "latest"
LATEST_STATE = "latest-state"
RUN_KINDS = ("full", "delta")


def latest_full(output_dir: str | Path) -> str | None:
    """The run id ``latest`` names (the newest full run), or None before the first."""
    link = Path(output_dir) / LATEST
    try:
        return os.readlink(link).rstrip("/").rsplit("/", 1)[-1] or None
    except OSError:
        return None


def latest_state_text(run_dir: Path, kind: str, published_at: str) -> str:
    """``latest-state``: the newest run of either kind, its kind and when it was published."""
    state = {"run_id": run_dir.name, "kind": kind, "published_at": published_at}
    return json.dumps(state, indent=2) + "\n"


def point_latest(output_dir: Path, run_dir: Path) -> None:
    """Swap ``output/latest`` to the run folder in one rename."""
    link = output_dir / LATEST
    tmp = output_dir / f".latest.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(tmp, link)


@dataclass
class StagedRun:
    """A run folder being written: files go into ``staging``; ``final`` is set once published."""

    staging: Path
    #: Where the run will be published, chosen when staging starts (so a notebook can name it);
    #: taken unless another run took it meanwhile (then the next free name, and ``final`` says).
    planned: Path
    final: Path | None = None
    #: The run published before this one (None for the first), known once publishing starts.
    previous: Link | None = None
    #: Called under the publish lock once ``final`` and ``previous`` are decided, before the
    #: manifest: the last files that name them (the HTML report) are written here.
    before_publish: Callable[[StagedRun], None] | None = None
    #: This run in the chain, once published.
    link: Link | None = None


def seal(folder: Path, run_id: str, previous: Link | None, signer: Signer | None) -> Link:
    """Write ``manifest.json`` (and, with a signer, ``manifest.sig.json``) as the folder's last
    files. The signature is made before either is written: a signing failure raises and leaves
    the folder as it was (no half-sealed run)."""
    try:
        meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        meta = {}
    manifest = build_manifest(folder, run_id, previous, {**meta, "tool_version": __version__})
    data = manifest_bytes(manifest)
    digest = hashlib.sha256(data).hexdigest()
    signature = signature_document(signer, digest) if signer else None
    atomic_write_bytes(folder / MANIFEST, data)
    if signature:
        atomic_write_text(folder / SIGNATURE, json.dumps(signature, indent=2) + "\n")
    return Link(run_id, digest, manifest["sequence"])


@contextlib.contextmanager
def staged_run(
    output_dir: str | Path, run_id: str | None, signer: Signer | None = None, kind: str = "full"
) -> Iterator[StagedRun]:
    """A hidden staging folder that becomes ``output_dir/<run_id>`` when the block succeeds.

    If the block raises, the staging folder is removed and nothing under ``output_dir`` changes.
    On success, under the publish lock: the name is taken (``-2``, ``-3``... if it is), the run
    is chained to the last one published, ``before_publish`` runs, the manifest is written (and
    signed by ``signer``: a failure publishes nothing), the folder is renamed into place, and
    the chain's head and ``latest-state`` point at it, and ``latest`` too for a ``full`` run.
    """
    if kind not in RUN_KINDS:
        raise ValueError(f"a run is full or delta, not {kind!r}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    run_id = run_id or new_run_id()
    staging = Path(tempfile.mkdtemp(dir=output_dir, prefix=f".{run_id}.", suffix=".partial"))
    run = StagedRun(staging, planned=_free_run_dir(output_dir, run_id))
    try:
        os.chmod(run.staging, 0o777 & ~_umask())
        yield run
        with publish_lock(output_dir):
            taken = run.planned.exists()
            run.final = _free_run_dir(output_dir, run_id) if taken else run.planned
            run.previous = chain_head(output_dir)
            if run.before_publish:
                run.before_publish(run)
            run.link = seal(run.staging, run.final.name, run.previous, signer)
            os.rename(run.staging, run.final)
            atomic_write_text(output_dir / CHAIN_STATE, chain_state_text(run.link))
            published = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            state = latest_state_text(run.final, kind, published)
            atomic_write_text(output_dir / LATEST_STATE, state)
            if kind == "full":
                point_latest(output_dir, run.final)
    except BaseException:
        shutil.rmtree(run.staging, ignore_errors=True)
        raise


def project_output_dir(cwd: Path | None = None) -> Path:
    """The project's ``output/``: the nearest one in the folder or above it (a notebook's kernel
    runs in ``notebooks/``, beside ``output/``), else ``output/`` in the folder itself."""
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "output").is_dir():
            return folder / "output"
    return here / "output"
