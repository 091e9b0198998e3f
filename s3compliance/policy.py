"""Reading bucket policies: who a statement lets in, and whether a condition pins the caller.

Kept apart from the checks so that every check that reads a policy (``public_access`` today,
``ssl_only`` and ``cross_account`` in the extended catalogue) shares one reading of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Condition keys that restrict *who* can call, so a ``*`` principal is no longer "anyone".
PINNING_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:SourceIp",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:PrincipalOrgID",
        "aws:PrincipalAccount",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:userid",
        "aws:PrincipalArn",
    )
)
_OPEN_VALUES = frozenset({"*", "0.0.0.0/0", "::/0"})


@dataclass(frozen=True)
class PublicStatement:
    label: str  # Sid, or "#<index>" when the statement has none
    actions: tuple[str, ...]
    why: str


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(policy: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not policy:
        return []
    return [s for s in as_list(policy.get("Statement")) if isinstance(s, dict)]


def statement_label(statement: dict[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f"'{sid}'" if sid else f"#{index}"


def is_everyone(principal: Any) -> bool:
    """``"*"``, ``{"AWS": "*"}`` or ``{"AWS": [..., "*", ...]}``: anyone at all."""
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "*" in as_list(principal.get("AWS"))
    return False


def pinning_keys(condition: Any) -> list[str]:
    """The condition keys that pin the caller to a network, an org, an account or an identity.

    A key that admits a wildcard value (``*``, ``0.0.0.0/0``, ``::/0``) pins nothing: any caller
    matches it.
    """
    pinned: list[str] = []
    if not isinstance(condition, dict):
        return pinned
    for operator, clauses in condition.items():
        if not isinstance(clauses, dict) or str(operator).startswith("Null"):
            continue
        for key, values in clauses.items():
            if key.lower() in PINNING_KEYS and not _OPEN_VALUES & set(map(str, as_list(values))):
                pinned.append(key)
    return pinned


def public_statements(policy: dict[str, Any] | None) -> list[PublicStatement]:
    """Allow statements that any caller on the internet can use."""
    found: list[PublicStatement] = []
    for index, st in enumerate(statements(policy)):
        if st.get("Effect") != "Allow":
            continue
        if "NotPrincipal" in st:
            why = "allows everyone outside its NotPrincipal"
        elif is_everyone(st.get("Principal")):
            why = "allows principal '*'"
        else:
            continue
        if pinning_keys(st.get("Condition")):
            continue
        actions = tuple(str(a) for a in as_list(st.get("Action") or st.get("NotAction")))
        found.append(PublicStatement(statement_label(st, index), actions, why))
    return found
