"""The scan: clients, retry, discovery, evidence, and the scanners that run the checks on it.

Read-only by construction; nothing under this package writes to an account (the writers live in
:mod:`s3compliance.actions`). ``from s3compliance.scan import run_scan`` is the library's entry
point; the names are resolved lazily so that importing one submodule (``scan.aws``) does not
import the whole engine.
"""

from __future__ import annotations

from typing import Any

_ENGINE_NAMES = frozenset(
    {"run_scan", "Scanner", "ScanResult", "ScanAborted", "FINDING_COLUMNS", "BUCKET_COLUMNS"}
)
_DELTA_NAMES = frozenset({"DeltaRequest", "Delta", "Event"})  # a delta run (docs/tasks/history.md)
__all__ = sorted(_ENGINE_NAMES | _DELTA_NAMES)


def __getattr__(name: str) -> Any:
    if name in _ENGINE_NAMES:
        from s3compliance.scan import run

        return getattr(run, name)
    if name in _DELTA_NAMES:
        from s3compliance.scan import delta

        return getattr(delta, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
