"""Audit the S3 buckets of an AWS account for compliance.

The entry point is :func:`s3compliance.scan.run_scan`. The package follows the data's path:
``scan`` (clients, retry, discovery, evidence, engine) -> ``checks`` (catalogue, policy
evaluator, framework data) -> ``outputs`` (report contract, run folder, charts, notebook);
beside them ``iac`` (Pulumi import, IAM policy), ``actions`` (tagging, alerts: the only
writers) and ``testing`` (demo account, emulation).

The flat modules of 0.1 (``s3compliance.report``, ``s3compliance.runner``...) and the scan
modules renamed in 0.3 (``scan.engine``, ``scan.engines``) still import, with a
:class:`DeprecationWarning`, for one release: both ``from s3compliance import report`` (through
the module ``__getattr__``) and ``from s3compliance.report import write_report`` or
``from s3compliance.scan.engines import OrgScanner`` (through a meta-path finder that hands back
the moved module).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from importlib.machinery import ModuleSpec
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import Any

try:
    __version__ = version("s3compliance")
except PackageNotFoundError:  # pragma: no cover - only when run from a source tree never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]

#: Old module (below the package) -> its home since the layout change (0.2) or the scan's
#: renaming (0.3: ``engine`` and ``engines`` differed by a letter and meant different things).
#: Removed in the release after.
MOVED: dict[str, str] = {
    "scan.engine": "scan.run",  # the single-account scanner (scan.scanner) and run_scan
    "scan.engines": "scan.org_scanner",
    "aws": "scan.aws",
    "retry": "scan.retry",
    "discovery": "scan.discovery",
    "evidence": "scan.evidence",
    "policy": "checks.policy",
    "frameworks": "checks.frameworks",
    "report": "outputs.report",
    "charts": "outputs.charts",
    "runner": "outputs.notebook",
    "pulumi_import": "iac.pulumi_import",
    "iam": "iac.iam",
    "tagging": "actions.tagging",
    "alerts": "actions.alerts",
    "demo": "testing.demo",
    "emulation": "testing.emulation",
}


def _importer_stacklevel() -> int:
    """The ``stacklevel`` that points the warning at the importing line: past this file's frames
    (``warnings`` itself skips importlib's)."""
    frame, level = sys._getframe(2), 2
    while frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


def _moved(old: str) -> ModuleType:
    new = f"{__name__}.{MOVED[old]}"
    warnings.warn(
        f"{__name__}.{old} has moved to {new}; the old path will be removed in the next release",
        DeprecationWarning,
        stacklevel=_importer_stacklevel(),
    )
    module = importlib.import_module(new)
    parent, _, name = f"{__name__}.{old}".rpartition(".")
    setattr(sys.modules[parent], name, module)  # warn once: the next lookup finds the attribute
    return module


def __getattr__(name: str) -> Any:
    if name in MOVED:
        return _moved(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _MovedLoader(importlib.abc.Loader):
    def __init__(self, old: str) -> None:
        self.old = old

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return _moved(self.old)

    def exec_module(self, module: ModuleType) -> None:
        """The moved module is already executed."""


class _MovedFinder(importlib.abc.MetaPathFinder):
    """Finds ``s3compliance.<old>`` for ``import``/``from ... import`` statements."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        package, _, old = fullname.partition(".")
        if package != __name__ or old not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _MovedLoader(old))


# Once, even when the package is reloaded (a reloaded module has a new _MovedFinder class).
if not any(type(f).__qualname__ == "_MovedFinder" for f in sys.meta_path):
    sys.meta_path.append(_MovedFinder())
