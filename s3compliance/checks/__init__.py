"""The check catalogue: every check registers itself here with its metadata.

A check is a pure function from evidence (the documents it declared) and the scan's settings to a
:class:`Verdict`. It never calls AWS, so its tests need no mocks. Adding a check touches one place:
a decorated function in a module of this package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from s3compliance.evidence import DOCUMENTS
from s3compliance.frameworks import frameworks_for

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


CATALOGUE: dict[str, Check] = {}


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
    """Register a check function in the catalogue (catalogue order = registration order)."""

    def register(fn: CheckFn) -> CheckFn:
        if id in CATALOGUE:
            raise ValueError(f"check id {id!r} registered twice")
        if severity not in SEVERITIES:
            raise ValueError(f"check {id!r}: unknown severity {severity!r}")
        unknown = [d for d in documents if d not in DOCUMENTS]
        if unknown:
            raise ValueError(f"check {id!r}: unknown evidence documents {unknown}")
        CATALOGUE[id] = Check(
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


# Importing the modules registers their checks.
from s3compliance.checks import extended, mission  # noqa: E402, F401

_MISSION = ("versioning", "encryption", "lifecycle", "public_access", "cloudwatch_metrics")
PROFILES: dict[str, tuple[str, ...]] = {
    "mission": _MISSION,
    "fsbp": (
        *_MISSION,
        "block_public_access",
        "account_block_public_access",
        "public_acl",
        "acls_disabled",
        "ssl_only",
        "cross_account",
        "access_logging",
    ),
    "cis": ("ssl_only", "mfa_delete", "block_public_access"),
    "all": tuple(CATALOGUE),
}
DEFAULT_PROFILE = "mission"


def select_checks(profile: str = DEFAULT_PROFILE, ids: list[str] | None = None) -> list[Check]:
    """The checks to run, in catalogue order: an explicit id list wins over the profile."""
    wanted = set(ids) if ids else set(PROFILES[profile])
    return [c for c in CATALOGUE.values() if c.id in wanted]


def documents_needed(checks: list[Check]) -> list[str]:
    """Each document the checks need, once, in a stable order."""
    needed: list[str] = []
    for c in checks:
        needed.extend(d for d in c.documents if d not in needed)
    return needed
