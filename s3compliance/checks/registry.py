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
class Unreadable:
    """The value a check sees for a *corroborating* document that could not be read.

    A required document that fails makes the check ERROR before it runs; a corroborating one is
    handed in as this marker, so that a verdict the other documents already prove still stands
    and only a verdict that the missing document could change becomes ERROR (the check returns
    :meth:`Verdict.undetermined`). A check that forgets the marker and reads it as a document
    raises, which the scan turns into an ERROR finding too: never a silent PASS.
    """

    document: str
    error_code: str


@dataclass(frozen=True)
class Verdict:
    passed: bool | None  # None: undetermined, the document named in ``needs`` could change it
    reason: str
    #: What the check worked out from the documents (kept in the finding's evidence).
    analysis: dict[str, Any] = field(default_factory=dict)
    needs: str = ""

    @classmethod
    def undetermined(
        cls, missing: Unreadable, reason: str, analysis: dict[str, Any] | None = None
    ) -> Verdict:
        """The readable documents do not settle it and ``missing`` could: the finding is ERROR."""
        return cls(None, reason, analysis or {}, needs=missing.document)


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
    #: Documents that can confirm or change a verdict but need not be read for one; the others
    #: in ``documents`` are required (unreadable: the check is ERROR without running).
    corroborating: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(d for d in self.documents if d not in self.corroborating)

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
    corroborating: tuple[str, ...] = (),
) -> Callable[[CheckFn], CheckFn]:
    """Register a check function (its place in the catalogue is given by :data:`ORDER`).

    ``documents`` are all the documents it reads; those also named in ``corroborating`` may be
    :class:`Unreadable` when the function runs.
    """

    def register(fn: CheckFn) -> CheckFn:
        if id in _REGISTERED:
            raise ValueError(f"check id {id!r} registered twice")
        if severity not in SEVERITIES:
            raise ValueError(f"check {id!r}: unknown severity {severity!r}")
        unknown = [d for d in documents if d not in DOCUMENTS]
        if unknown:
            raise ValueError(f"check {id!r}: unknown evidence documents {unknown}")
        if not set(corroborating) < set(documents):
            raise ValueError(f"check {id!r}: corroborating documents must be some of its documents")
        _REGISTERED[id] = Check(
            id=id,
            title=title,
            severity=severity,
            documents=documents,
            violation=violation,
            remediation=remediation,
            fn=fn,
            scope=scope,
            corroborating=corroborating,
        )
        return fn

    return register
