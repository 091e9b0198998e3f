"""How a check is declared: its metadata, the settings it reads, the verdict it returns.

A check is a pure function from evidence (the documents it declared) and the scan's settings to a
:class:`Verdict`, registered with the :func:`check` decorator. The modules that hold checks
import this module; :mod:`s3compliance.checks` imports them and orders the catalogue, so no
module imports the package that imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from s3compliance.checks.documents import DOCUMENTS
from s3compliance.checks.frameworks import frameworks_for

SEVERITIES = ("critical", "high", "medium", "low")
DEFAULT_SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")


@dataclass(frozen=True)
class Settings:
    """The parameters that change what a check accepts."""

    lifecycle_max_age_days: int = 90
    allowed_sse_algorithms: tuple[str, ...] = DEFAULT_SSE_ALGORITHMS
    trusted_account_ids: tuple[str, ...] = ()
    log_target_buckets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str
    #: What the check worked out from the documents (kept in the finding's evidence).
    analysis: dict[str, Any] = field(default_factory=dict)


CheckFn = Callable[[Mapping[str, Any], Settings], Verdict]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: str
    documents: tuple[str, ...]
    violation: str  # may name a Settings field in braces, e.g. {lifecycle_max_age_days}
    remediation: str
    fn: CheckFn = field(compare=False)
    scope: str = "bucket"  # "account": one finding per account, not per bucket

    @property
    def frameworks(self) -> list[str]:
        return frameworks_for(self.id)

    @property
    def permissions(self) -> tuple[str, ...]:
        """The IAM actions this check needs, derived from the documents it reads."""
        return tuple(sorted({p for d in self.documents for p in DOCUMENTS[d].permissions}))

    @property
    def description(self) -> str:
        return (self.fn.__doc__ or "").strip()

    def violation_text(self, settings: Settings) -> str:
        return self.violation.format(**vars(settings))

    def evaluate(self, evidence: Mapping[str, Any], settings: Settings) -> Verdict:
        return self.fn(evidence, settings)


#: Checks as their modules register them; :data:`CATALOGUE` orders them by :data:`ORDER`.
_REGISTERED: dict[str, Check] = {}


def check(
    *,
    id: str,
    title: str,
    severity: str,
    documents: tuple[str, ...],
    violation: str,
    remediation: str,
    scope: str = "bucket",
) -> Callable[[CheckFn], CheckFn]:
    """Register a check function (its place in the catalogue is given by :data:`ORDER`)."""

    def register(fn: CheckFn) -> CheckFn:
        if id in _REGISTERED:
            raise ValueError(f"check id {id!r} registered twice")
        if severity not in SEVERITIES:
            raise ValueError(f"check {id!r}: unknown severity {severity!r}")
        unknown = [d for d in documents if d not in DOCUMENTS]
        if unknown:
            raise ValueError(f"check {id!r}: unknown evidence documents {unknown}")
        _REGISTERED[id] = Check(
            id=id,
            title=title,
            severity=severity,
            documents=documents,
            violation=violation,
            remediation=remediation,
            fn=fn,
            scope=scope,
        )
        return fn

    return register
