"""The check catalogue: every check, its metadata, and the profiles that select them.

A check is a pure function from evidence (the documents it declared) and the scan's settings to a
:class:`Verdict`. It never calls AWS, so its tests need no mocks. Adding a check touches two
places: a decorated function in a module of this package, and its place in :data:`ORDER`.
"""

from __future__ import annotations

from s3compliance.checks import extended, mission  # importing them registers their checks
from s3compliance.checks.registry import (
    _REGISTERED,
    DEFAULT_SSE_ALGORITHMS,
    SEVERITIES,
    Check,
    CheckFn,
    Settings,
    Unreadable,
    Verdict,
    check,
)

__all__ = [
    "CATALOGUE",
    "DEFAULT_PROFILE",
    "DEFAULT_SSE_ALGORITHMS",
    "ORDER",
    "PROFILES",
    "SEVERITIES",
    "Check",
    "CheckFn",
    "Settings",
    "Unreadable",
    "Verdict",
    "check",
    "documents_needed",
    "extended",
    "mission",
    "select_checks",
]

#: The catalogue order (reports, summaries, the CLI's tables): the mission's five checks first,
#: then the extended ones. Explicit, so that it never depends on which module was imported first.
ORDER: tuple[str, ...] = (
    "versioning",
    "encryption",
    "lifecycle",
    "public_access",
    "cloudwatch_metrics",
    "block_public_access",
    "account_block_public_access",
    "public_acl",
    "acls_disabled",
    "ssl_only",
    "cross_account",
    "access_logging",
    "mfa_delete",
    "object_lock",
    "replication",
    "kms_encryption",
)
if set(ORDER) != set(_REGISTERED):  # pragma: no cover - a developer's mistake, caught on import
    raise RuntimeError(
        f"checks.ORDER and the registered checks differ: {set(ORDER) ^ set(_REGISTERED)}"
    )
CATALOGUE: dict[str, Check] = {check_id: _REGISTERED[check_id] for check_id in ORDER}

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
