"""Reading bucket policies the way S3 does: who a statement lets in, and what cancels it.

The rule implemented (S3 user guide, "The meaning of public"; the spec's ``public_access`` row):

* A statement is **public** when it has ``Effect: Allow``, a principal of ``"*"`` or
  ``{"AWS": "*"}`` (alone or in a list) or a ``NotPrincipal`` (everyone except the listed ones),
  and no condition of it **pins the caller**. Malformed principals read as everyone too: a
  principal value with a wildcard (``*`` or ``?``) anywhere, in any principal type
  (``{"AWS": "arn:aws:iam::*:root"}``, ``{"CanonicalUser": "*"}``, ``{"Service": "*"}``...), and
  an ``Allow`` with neither ``Principal`` nor ``NotPrincipal``. S3 refuses to store either, but
  S3-compatible endpoints, emulators and findings files can hold them; such a statement is then
  judged exactly like one with ``"*"`` (a pinning condition still pins it, a covering Deny still
  cancels it).
* A condition pins the caller only when it restricts a *caller-identifying* key
  (:data:`PINNING_KEYS`: ``aws:SourceIp``, ``aws:SourceVpc``, ``aws:SourceVpce``,
  ``aws:SourceArn``, ``aws:SourceOwner``, ``aws:SourceAccount``, ``aws:PrincipalAccount``,
  ``aws:PrincipalArn``, ``aws:PrincipalOrgID``, ``aws:userid``, ``s3:DataAccessPointAccount``,
  ``s3:DataAccessPointArn``) to **fixed** values (no ``*`` or ``?`` wildcard, no ``${...}`` policy
  variable) with a **positive** operator
  (``StringEquals``, ``StringEqualsIgnoreCase``, ``StringLike``, ``ArnEquals``, ``ArnLike``,
  ``IpAddress``). ``ForAnyValue:`` forms pin like their base operator; ``ForAllValues:`` forms pin
  nothing (IAM: true when the key is absent from the request, as it is for an anonymous caller).
  ``...IfExists`` operators pin nothing (an internet request has no ``aws:SourceVpce``, so the
  condition holds). Negated operators (``StringNotEquals``, ``NotIpAddress``...) pin nothing: they
  let in everyone *except* a set. Keys in one condition block are ANDed, so one pinning condition
  is enough.
* An ``aws:SourceIp`` value is fixed only when it parses as an address or CIDR
  (``ipaddress.ip_network(value, strict=False)``, so ``10.0.0.1/8`` is the range 10.0.0.0/8; a
  bare address is a /32 or /128) with a prefix of **/8 or longer for IPv4** and **/32 or longer
  for IPv6**: S3 reads a broader range as public. Every range inside the RFC 1918 blocks is /8 or
  longer, which is S3's private-range exception. A value that does not parse (``256.0.0.0``,
  ``10.0.0.0/33``) pins nothing, and a list of values pins only when every value does (they are
  ORed: one broad range lets that range in).
* A public Allow is **cancelled** only by ``Deny`` statements that apply to every caller it lets
  in: principal ``*`` (or a ``NotPrincipal``, which denies everyone but the listed ones), covering
  the same or wider actions (``Action``, or ``NotAction`` read as "everything but") and the same
  or wider resources (``Resource`` / ``NotResource``), and either unconditioned or conditioned so
  that the Deny applies to every caller outside a fixed set (the mirror image of a pinning Allow:
  a negated operator, optionally ``IfExists``, on a caller-identifying key with fixed values,
  e.g. "deny unless from vpce-1"; ``NotIpAddress`` on a range broader than /8 confines nothing).
  A Deny's principal must be exactly ``"*"`` or ``{"AWS": "*"}``: a malformed one (a partial
  wildcard) is not trusted to reach everyone, and a ``NotPrincipal`` with a wildcard may exempt
  everyone. A Deny that only applies to some requests (only over plain
  HTTP, only for some prefix) cancels nothing.

Where a policy is malformed or a case is ambiguous, the reading that keeps the bucket public is
chosen: a false FAIL is a finding to look at, a false PASS is a hole nobody looks at. Each verdict
says which statement and which condition made it.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

#: Condition keys that restrict *who* can call, so a ``*`` principal is no longer "anyone".
PINNING_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:SourceIp",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceArn",
        "aws:SourceOwner",
        "aws:SourceAccount",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalOrgID",
        "aws:userid",
        "s3:DataAccessPointAccount",
        "s3:DataAccessPointArn",
    )
)
#: Operators that admit only the listed values (so, with fixed values, pin the caller).
POSITIVE_OPERATORS = frozenset(
    o.lower()
    for o in (
        "StringEquals",
        "StringEqualsIgnoreCase",
        "StringLike",
        "ArnEquals",
        "ArnLike",
        "IpAddress",
    )
)
#: Operators that admit everything but the listed values (a Deny with one denies all but them).
NEGATED_OPERATORS = frozenset(
    o.lower()
    for o in (
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "ArnNotEquals",
        "ArnNotLike",
        "NotIpAddress",
    )
)
#: The broadest ``aws:SourceIp`` range S3 still reads as not public, per IP version.
NARROWEST_PUBLIC_PREFIX = {4: 8, 6: 32}


def _wildcard(value: str) -> bool:
    return "*" in value or "?" in value


def source_ip_breadth(value: str) -> str:
    """Why an ``aws:SourceIp`` value pins nothing ("" when it pins): it is not an address or
    CIDR, or its range is broader than S3's bound for its IP version."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return f"holds {value}, not a valid address or CIDR: pins nothing"
    bound = NARROWEST_PUBLIC_PREFIX[network.version]
    if network.prefixlen < bound:
        return f"holds {value}, broader than /{bound}: pins nothing"
    return ""


@dataclass(frozen=True)
class Condition:
    """One (operator, key, values) triple of a statement's ``Condition`` block."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str
    values: tuple[str, ...]

    @property
    def set_prefix(self) -> str:
        """``forallvalues``, ``foranyvalue`` or ``""``."""
        prefix, sep, _ = self.operator.partition(":")
        return prefix.lower() if sep else ""

    @property
    def base(self) -> str:
        """The operator without set prefix or ``IfExists``, lower case: ``stringequals``."""
        name = self.operator.partition(":")[2] if self.set_prefix else self.operator
        name = name.lower()
        return name.removesuffix("ifexists")

    @property
    def if_exists(self) -> bool:
        return self.operator.lower().endswith("ifexists")

    def text(self) -> str:
        shown = ", ".join(self.values) if self.values else "no value"
        return f"{self.operator} {self.key} = {shown}"

    def unfixed(self) -> str:
        """Why the values are not a fixed set ("" when they are): no value at all, a wildcard, a
        policy variable, or an ``aws:SourceIp`` value that is invalid or broader than S3's
        bound. One such value is enough: the values are ORed."""
        if not self.values:
            return "has no value"  # nothing to pin to: read as pinning nothing
        for value in self.values:
            if _wildcard(value):
                return f"has a wildcard ({value})"
            if "${" in value:
                return f"has a policy variable ({value})"
            if self.key.lower() == "aws:sourceip" and (breadth := source_ip_breadth(value)):
                return breadth
        return ""

    def fixed_values(self) -> bool:
        """Every value is one fixed value (see :meth:`unfixed`)."""
        return not self.unfixed()

    def why_not_pinning(self) -> str:
        """Why this condition does not pin the caller ("" when it does)."""
        if self.key.lower() not in PINNING_KEYS:
            return "does not identify the caller"
        if self.set_prefix == "forallvalues":
            return "ForAllValues: is true when the key is absent"
        if self.if_exists:
            return "IfExists is true when the key is absent"
        if self.base not in POSITIVE_OPERATORS:
            return "is not a positive operator"
        return self.unfixed()

    def pins(self) -> bool:
        return not self.why_not_pinning()

    def denies_all_but_a_fixed_set(self) -> bool:
        """On a Deny: this condition holds for every caller outside a fixed set of callers, so
        the Deny applies to every public caller (e.g. ``StringNotEquals aws:SourceVpce vpce-1``,
        true for any request not through vpce-1, including one with no endpoint at all)."""
        return (
            self.key.lower() in PINNING_KEYS
            and not self.set_prefix
            and self.base in NEGATED_OPERATORS
            and self.fixed_values()
        )


class MalformedCondition(ValueError):
    """A ``Condition`` element that is not an object of operator -> {key: value(s)}."""


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def conditions_of(statement: dict[str, Any]) -> list[Condition]:
    """The statement's conditions; raises :class:`MalformedCondition` for an unreadable block."""
    block = statement.get("Condition")
    if block is None:
        return []
    if not isinstance(block, dict):
        raise MalformedCondition(f"Condition is {type(block).__name__}, not an object")
    found: list[Condition] = []
    for operator, clauses in block.items():
        if not isinstance(clauses, dict):
            raise MalformedCondition(f"{operator} holds {type(clauses).__name__}, not an object")
        for key, values in clauses.items():
            found.append(Condition(str(operator), str(key), tuple(map(str, as_list(values)))))
    return found


def statements(policy: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not policy:
        return []
    return [s for s in as_list(policy.get("Statement")) if isinstance(s, dict)]


def statement_label(statement: dict[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return f"'{sid}'" if sid else f"#{index}"


def is_everyone(principal: Any) -> bool:
    """``"*"``, ``{"AWS": "*"}`` or ``{"AWS": [..., "*", ...]}``: anyone at all, written the way
    IAM documents it. Used where reading a principal as everyone would *narrow* what is public
    (a Deny's principal, the Deny that ``ssl_only`` looks for)."""
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "*" in as_list(principal.get("AWS"))
    return False


def wildcard_principals(principal: Any) -> list[str]:
    """The values of a principal that hold a wildcard (``*`` or ``?``) anywhere, in any
    principal type: ``["arn:aws:iam::*:root"]`` for ``{"AWS": "arn:aws:iam::*:root"}``."""
    if isinstance(principal, dict):
        values = [v for vs in principal.values() for v in as_list(vs)]
    else:
        values = as_list(principal)
    return [str(v) for v in values if _wildcard(str(v))]


def may_be_everyone(principal: Any) -> bool:
    """Read the public way: the documented forms of everyone, or any wildcard in any principal
    value (malformed: S3 refuses to store a partial wildcard, so its meaning is unknown). Used
    where reading a principal as everyone *widens* what is public (an Allow's principal, a
    NotPrincipal that could exempt everyone)."""
    return is_everyone(principal) or bool(wildcard_principals(principal))


def allowed_to_everyone(statement: dict[str, Any]) -> str:
    """How an Allow statement reaches every caller, as a phrase ("" when it names someone): the
    documented ``"*"``, a ``NotPrincipal``, a wildcard principal, or no principal at all."""
    if "NotPrincipal" in statement:
        return "allows everyone outside its NotPrincipal"
    if "Principal" not in statement:
        return "is malformed (an Allow with no Principal), read as allowing everyone"
    principal = statement["Principal"]
    if is_everyone(principal):
        return "allows principal '*'"
    wild = wildcard_principals(principal)
    if wild:
        return (
            f"allows principal {', '.join(wild)}: a wildcard in a principal is malformed, "
            "read as everyone"
        )
    return ""


# --- actions and resources -------------------------------------------------------------------


def covers(pattern: str, action: str) -> bool:
    """IAM action matching: case-insensitive, ``*`` and ``?`` wildcards. ``action`` may itself be
    a pattern: then it is covered when the pattern matches it read literally (``s3:*`` covers
    ``s3:Get*``; ``s3:GetObject`` does not)."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _overlap(a: str, b: str, case_sensitive: bool = False) -> bool:
    """Could one request match both patterns? Two wildcard patterns whose literal heads (before
    the first wildcard) or tails (after the last) contradict each other cannot overlap
    (``b/private/*`` and ``b/public/*``); otherwise they are assumed to (``s3:Get*`` and
    ``s3:*Object`` do): the safe answer."""
    if not case_sensitive:
        a, b = a.lower(), b.lower()
    if fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a):
        return True
    if not (_wildcard(a) and _wildcard(b)):
        return False
    head_a, head_b = re.split(r"[*?]", a, maxsplit=1)[0], re.split(r"[*?]", b, maxsplit=1)[0]
    tail_a, tail_b = re.split(r"[*?]", a)[-1], re.split(r"[*?]", b)[-1]
    heads_agree = head_a.startswith(head_b) or head_b.startswith(head_a)
    tails_agree = tail_a.endswith(tail_b) or tail_b.endswith(tail_a)
    return heads_agree and tails_agree


def actions_of(statement: dict[str, Any]) -> tuple[list[str], bool]:
    """The statement's action patterns, and whether they are a ``NotAction`` (everything but)."""
    if "NotAction" in statement:
        return [str(a) for a in as_list(statement["NotAction"])], True
    return [str(a) for a in as_list(statement.get("Action"))], False


def resources_of(statement: dict[str, Any]) -> tuple[list[str], bool]:
    """Resource patterns, and whether they are a ``NotResource``. No element at all (invalid in
    a bucket policy) reads as every resource."""
    if "NotResource" in statement:
        return [str(r) for r in as_list(statement["NotResource"])], True
    if "Resource" not in statement:
        return ["*"], False
    return [str(r) for r in as_list(statement["Resource"])], False


def applies_to(statement: dict[str, Any], action: str) -> bool:
    """Does the statement name ``action`` (a concrete action)?"""
    patterns, negated = actions_of(statement)
    matched = any(covers(p, action) for p in patterns)
    return not matched if negated else matched


def _everything(patterns: list[str]) -> bool:
    return any(p in {"*", "s3:*"} for p in patterns)  # a bucket policy grants S3 actions only


def _deny_covers_action(deny: dict[str, Any], action: str, allow_negated: list[str] | None) -> bool:
    """Does the Deny cover ``action`` (an Allow pattern), or, with ``allow_negated``, all that an
    Allow ``NotAction`` grants?"""
    patterns, negated = actions_of(deny)
    if allow_negated is not None:  # the Allow grants everything but allow_negated
        if not negated:
            return _everything(patterns)
        # Deny everything but M covers "everything but N" when every m in M is inside N
        return all(any(covers(n, m) for n in allow_negated) for m in patterns)
    if negated:
        return not any(_overlap(p, action) for p in patterns)
    return any(covers(p, action) for p in patterns)


def _deny_covers_resource(deny: dict[str, Any], resource: str, allow_negated: bool) -> bool:
    patterns, negated = resources_of(deny)
    if allow_negated:  # the Allow's NotResource reaches an open set: only a Deny on "*" covers
        return not negated and "*" in patterns
    if negated:
        return not any(_overlap(p, resource, case_sensitive=True) for p in patterns)
    return any(fnmatch.fnmatchcase(resource, p) for p in patterns)


def _deny_reaches_the_public(deny: dict[str, Any]) -> bool:
    """Does this Deny apply to every caller a public Allow lets in? An unreadable condition,
    or one that holds only for some requests, says no."""
    if deny.get("Effect") != "Deny":
        return False
    if "NotPrincipal" in deny:
        if may_be_everyone(deny["NotPrincipal"]):
            return False
    elif not is_everyone(deny.get("Principal")):
        return False
    try:
        conditions = conditions_of(deny)
    except MalformedCondition:
        return False
    return all(c.denies_all_but_a_fixed_set() for c in conditions)


def cancelling_denies(
    policy: dict[str, Any] | None, allow: dict[str, Any]
) -> tuple[list[str], str]:
    """The labels of the Deny statements that together cancel every action on every resource of
    ``allow``; an empty list (and what is left uncovered) when they do not."""
    denies = [
        (statement_label(st, i), st)
        for i, st in enumerate(statements(policy))
        if _deny_reaches_the_public(st)
    ]
    actions, actions_negated = actions_of(allow)
    resources, resources_negated = resources_of(allow)
    units = [(None, a) for a in actions] if not actions_negated else [(actions, "")]
    used: list[str] = []
    for negated_list, action in units:
        for resource in resources:
            by = next(
                (
                    label
                    for label, d in denies
                    if _deny_covers_action(d, action, negated_list)
                    and _deny_covers_resource(d, resource, resources_negated)
                ),
                None,
            )
            if by is None:
                what = f"NotAction {', '.join(actions)}" if negated_list is not None else action
                return [], f"no Deny to everyone covers {what} on {resource}"
            if by not in used:
                used.append(by)
    return used, ""


def denied_to_everyone(policy: dict[str, Any] | None, allow: dict[str, Any], action: str) -> bool:
    """True when Deny statements to every public caller cover ``action`` on all of ``allow``'s
    resources (used by ``cross_account`` per sensitive action)."""
    one = {k: v for k, v in allow.items() if k not in ("Action", "NotAction")}
    return bool(cancelling_denies(policy, {**one, "Action": action})[0])


# --- the verdict -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementVerdict:
    """Why one Allow-to-everyone statement is public, or is not."""

    label: str  # Sid, or "#<index>" when the statement has none
    index: int
    actions: tuple[str, ...]
    public: bool
    why: str
    conditions: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        acts = ", ".join(self.actions) or "no action"
        return f"statement {self.label} ({acts}) {self.why}"


def evaluate_policy(policy: dict[str, Any] | None) -> list[StatementVerdict]:
    """One verdict per Allow statement that reaches everyone (see :func:`allowed_to_everyone`)."""
    verdicts: list[StatementVerdict] = []
    for index, st in enumerate(statements(policy)):
        if st.get("Effect") != "Allow":
            continue
        who = allowed_to_everyone(st)
        if not who:
            continue
        label = statement_label(st, index)
        patterns, negated = actions_of(st)
        actions = tuple(f"NotAction {p}" for p in patterns) if negated else tuple(patterns)
        try:
            conditions = conditions_of(st)
        except MalformedCondition as exc:
            conditions, who = [], f"{who}; its condition is unreadable ({exc}), read as none"
        shown = tuple(c.text() for c in conditions)
        pinning = next((c for c in conditions if c.pins()), None)
        if pinning is not None:
            why = f"{who} but is pinned by {pinning.text()}"
            verdicts.append(StatementVerdict(label, index, actions, False, why, shown))
            continue
        denied_by, uncovered = cancelling_denies(policy, st)
        if denied_by:
            why = f"{who} but is cancelled by Deny {', '.join(denied_by)}"
            verdicts.append(StatementVerdict(label, index, actions, False, why, shown))
            continue
        unpinned = "; ".join(f"{c.text()} {c.why_not_pinning()}" for c in conditions)
        why = (
            f"{who} with no condition pinning the caller"
            + (f" ({unpinned})" if unpinned else "")
            + f", and {uncovered}"
        )
        verdicts.append(StatementVerdict(label, index, actions, True, why, shown))
    return verdicts


def public_statements(policy: dict[str, Any] | None) -> list[StatementVerdict]:
    """Allow statements that any caller on the internet can use."""
    return [v for v in evaluate_policy(policy) if v.public]


def secure_transport_denials(policy: dict[str, Any] | None) -> list[str]:
    """Labels of Deny statements that refuse every S3 request made without TLS."""
    found = []
    for index, st in enumerate(statements(policy)):
        if st.get("Effect") != "Deny" or not is_everyone(st.get("Principal")):
            continue
        patterns, negated = actions_of(st)
        if negated or not _everything(patterns):
            continue
        condition = st.get("Condition") or {}
        if not isinstance(condition, dict):
            continue
        for operator in ("Bool", "BoolIfExists"):
            clause = condition.get(operator) or {}
            if not isinstance(clause, dict):
                continue
            clause = {k.lower(): v for k, v in clause.items()}
            values = [str(v).lower() for v in as_list(clause.get("aws:securetransport"))]
            if values == ["false"]:
                found.append(statement_label(st, index))
    return found


# --- cross-account grants --------------------------------------------------------------------

_ACCOUNT_IN_ARN = re.compile(r"^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):")


def principal_owners(principal: Any) -> list[str]:
    """Who a principal belongs to: 12-digit account ids, ``*``, ``service:<name>``,
    ``canonical:<id>`` or ``federated:<provider>``. A value with a wildcard, in any principal
    type, is ``*`` (malformed, read as everyone)."""
    if principal == "*":
        return ["*"]
    if not isinstance(principal, dict):
        principal = {"AWS": principal}
    owners: list[str] = []
    for kind, values in principal.items():
        for value in map(str, as_list(values)):
            if _wildcard(value):
                owners.append("*")
            elif kind == "Service":
                owners.append(f"service:{value}")
            elif kind == "CanonicalUser":
                owners.append(f"canonical:{value}")
            elif kind == "Federated":
                owners.append(f"federated:{value}")
            elif re.fullmatch(r"\d{12}", value):
                owners.append(value)
            else:
                match = _ACCOUNT_IN_ARN.match(value)
                owners.append(match.group(1) if match else f"unknown:{value}")
    return owners


_ACCOUNT_KEYS = frozenset({"aws:principalaccount", "aws:sourceaccount"})


def pinned_accounts(statement: dict[str, Any]) -> set[str] | None:
    """The accounts a statement's conditions restrict callers to, when they do: a pinning
    condition (positive operator, fixed values) on ``aws:PrincipalAccount``/``aws:SourceAccount``.
    ``StringNotEquals aws:PrincipalAccount <own>`` restricts to everyone *but* the account: None.
    An unreadable condition restricts nothing."""
    try:
        conditions = conditions_of(statement)
    except MalformedCondition:
        return None
    pinned: set[str] | None = None
    for c in conditions:
        if c.key.lower() in _ACCOUNT_KEYS and c.pins():
            values = set(c.values)
            pinned = values if pinned is None else pinned & values  # conditions are ANDed
    return pinned


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

    An action that Deny statements to every public caller cover is not granted. AWS service
    principals are not outsiders. A ``*`` principal (or a ``NotPrincipal``, which allows everyone
    else) pinned by aws:PrincipalAccount to trusted accounts is not either; canonical users and
    federated identities are (their owner cannot be told from the policy), as is ``*`` unpinned.
    A wildcard principal value and an Allow with no principal at all are read as ``*``.
    """
    inside = {own_account, *trusted}
    found: list[Grant] = []
    for index, st in enumerate(statements(policy)):
        if st.get("Effect") != "Allow":
            continue
        granted = tuple(
            a for a in actions if applies_to(st, a) and not denied_to_everyone(policy, st, a)
        )
        if not granted:
            continue
        pinned = pinned_accounts(st)
        if "NotPrincipal" in st or "Principal" not in st:
            owners = ["*"]
        else:
            owners = principal_owners(st["Principal"])
        outsiders = []
        for owner in owners:
            if owner.startswith("service:") or owner in inside:
                continue
            if owner == "*" and pinned is not None and pinned <= inside:
                continue
            outsiders.append(owner)
        if outsiders:
            found.append(Grant(statement_label(st, index), granted, tuple(outsiders)))
    return found
