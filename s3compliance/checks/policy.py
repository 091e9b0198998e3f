"""Reading bucket policies: who a statement lets in, and whether a condition pins the caller.

Kept apart from the checks so that every check that reads a policy (``public_access`` today,
``ssl_only`` and ``cross_account`` in the extended catalogue) shares one reading of it.
"""

from __future__ import annotations

import fnmatch
import re
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
    """Allow statements that any caller on the internet can use.

    An Allow whose every action an unconditional Deny-to-everyone also covers grants nothing, so
    it is not reported (a Deny is never misread as, or outweighed by, an Allow).
    """
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
        probe = ("s3:*",) if "NotAction" in st else actions  # NotAction: (almost) everything
        if denied_to_everyone(policy, probe):
            continue
        found.append(PublicStatement(statement_label(st, index), actions, why))
    return found


def actions_of(statement: dict[str, Any]) -> tuple[list[str], bool]:
    """The statement's action patterns, and whether they are a ``NotAction`` (everything but)."""
    if "NotAction" in statement:
        return [str(a) for a in as_list(statement["NotAction"])], True
    return [str(a) for a in as_list(statement.get("Action"))], False


def covers(pattern: str, action: str) -> bool:
    """IAM action matching: case-insensitive, ``*`` and ``?`` wildcards."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def applies_to(statement: dict[str, Any], action: str) -> bool:
    patterns, negated = actions_of(statement)
    matched = any(covers(p, action) for p in patterns)
    return not matched if negated else matched


def covers_everything(statement: dict[str, Any]) -> bool:
    """``Action: "*"`` or ``"s3:*"`` (so every S3 request)."""
    patterns, negated = actions_of(statement)
    return not negated and any(p in {"*", "s3:*"} for p in patterns)


def denied_to_everyone(policy: dict[str, Any] | None, actions: tuple[str, ...]) -> bool:
    """True when an unconditional ``Deny`` to everyone covers all of ``actions``.

    Such a Deny wins over any Allow (explicit deny), so an Allow of those actions grants nothing.
    A conditional Deny (e.g. only over plain HTTP) denies only some requests: it does not count.
    """
    denies = [
        st
        for st in statements(policy)
        if st.get("Effect") == "Deny"
        and is_everyone(st.get("Principal"))
        and not st.get("Condition")
    ]
    if not denies or not actions:
        return False
    return all(
        any(covers_everything(d) or any(covers(p, a) for p in actions_of(d)[0]) for d in denies)
        for a in actions
    )


def secure_transport_denials(policy: dict[str, Any] | None) -> list[str]:
    """Labels of Deny statements that refuse every S3 request made without TLS."""
    found = []
    for index, st in enumerate(statements(policy)):
        if st.get("Effect") != "Deny" or not is_everyone(st.get("Principal")):
            continue
        if not covers_everything(st):
            continue
        condition = st.get("Condition") or {}
        for operator in ("Bool", "BoolIfExists"):
            clause = {k.lower(): v for k, v in (condition.get(operator) or {}).items()}
            values = [str(v).lower() for v in as_list(clause.get("aws:securetransport"))]
            if values == ["false"]:
                found.append(statement_label(st, index))
    return found


_ACCOUNT_IN_ARN = re.compile(r"^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):")


def principal_owners(principal: Any) -> list[str]:
    """Who a principal belongs to: 12-digit account ids, ``*``, ``service:<name>``,
    ``canonical:<id>`` or ``federated:<provider>``."""
    if principal == "*":
        return ["*"]
    if not isinstance(principal, dict):
        principal = {"AWS": principal}
    owners: list[str] = []
    for kind, values in principal.items():
        for value in map(str, as_list(values)):
            if kind == "Service":
                owners.append(f"service:{value}")
            elif kind == "CanonicalUser":
                owners.append(f"canonical:{value}")
            elif kind == "Federated":
                owners.append(f"federated:{value}")
            elif value == "*" or re.fullmatch(r"\d{12}", value):
                owners.append(value)
            else:
                match = _ACCOUNT_IN_ARN.match(value)
                owners.append(match.group(1) if match else f"unknown:{value}")
    return owners


def _pinned_accounts(condition: Any) -> set[str] | None:
    """Accounts a condition restricts callers to, when it does (aws:PrincipalAccount...)."""
    if not isinstance(condition, dict):
        return None
    for clauses in condition.values():
        if not isinstance(clauses, dict):
            continue
        for key, values in clauses.items():
            if key.lower() in {"aws:principalaccount", "aws:sourceaccount"}:
                return set(map(str, as_list(values)))
    return None


@dataclass(frozen=True)
class Grant:
    label: str
    actions: tuple[str, ...]
    to: tuple[str, ...]


def external_grants(
    policy: dict[str, Any] | None,
    own_account: str,
    trusted: tuple[str, ...],
    actions: tuple[str, ...],
) -> list[Grant]:
    """Allow statements that give any of ``actions`` to someone outside the account and trusted.

    An action that an unconditional Deny to everyone also covers is not granted. AWS service
    principals are not outsiders. A ``*`` principal pinned by aws:PrincipalAccount to
    trusted accounts is not either; canonical users and federated identities are (their owner
    cannot be told from the policy), as is ``*`` unpinned.
    """
    inside = {own_account, *trusted}
    found: list[Grant] = []
    for index, st in enumerate(statements(policy)):
        if st.get("Effect") != "Allow" or "Principal" not in st:
            continue
        granted = tuple(
            a for a in actions if applies_to(st, a) and not denied_to_everyone(policy, (a,))
        )
        if not granted:
            continue
        pinned = _pinned_accounts(st.get("Condition"))
        outsiders = []
        for owner in principal_owners(st["Principal"]):
            if owner.startswith("service:") or owner in inside:
                continue
            if owner == "*" and pinned is not None and pinned <= inside:
                continue
            outsiders.append(owner)
        if outsiders:
            found.append(Grant(statement_label(st, index), granted, tuple(outsiders)))
    return found
