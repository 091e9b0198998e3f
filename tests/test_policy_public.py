"""Public or not, as S3 means it: a table written from the S3 user guide and IAM semantics.

Sources of each expectation (not the code's output):
- S3 user guide, "The meaning of public": an Allow to ``*`` is non-public only when it grants to
  *fixed* values (no wildcard, no policy variable) of aws:SourceIp (a CIDR set), aws:SourceArn,
  aws:SourceVpc, aws:SourceVpce, aws:SourceOwner, aws:SourceAccount, aws:userid (outside
  ``AROLEID:*``), and the principal/org/access-point keys the spec lists.
- IAM condition operators: negated operators (StringNotEquals, NotIpAddress...) match every value
  *but* the listed ones and match when the key is absent; ``...IfExists`` is true when the key is
  absent; ``ForAllValues:`` is true when the key is absent; keys in one block are ANDed; condition
  keys are case-insensitive, action names are case-insensitive, resource ARNs are not.
- IAM evaluation: an explicit Deny wins, but only over the requests it matches (its principal,
  actions, resources and conditions).

Each row: (name, policy, public?, a phrase the explanation must contain).
"""

from __future__ import annotations

from typing import Any

import pytest

from s3compliance.checks.policy import (
    Condition,
    conditions_of,
    evaluate_policy,
    public_statements,
    secure_transport_denials,
)

B = "arn:aws:s3:::b"
OBJ = f"{B}/*"
OWN = "111122223333"


def allow(principal: Any = "*", action: Any = "s3:GetObject", resource: Any = OBJ, **extra: Any):
    st = {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource}
    st.update(extra)
    return st


def deny(principal: Any = "*", action: Any = "s3:*", resource: Any = OBJ, **extra: Any):
    st = {"Effect": "Deny", "Principal": principal, "Action": action, "Resource": resource}
    st.update(extra)
    return st


def cond(operator: str, key: str, value: Any) -> dict:
    return {"Condition": {operator: {key: value}}}


def pol(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def without(st: dict, *keys: str) -> dict:
    return {k: v for k, v in st.items() if k not in keys}


VPCE = "vpce-1a2b3c4d"
TABLE: list[tuple[str, dict, bool, str]] = [
    # --- principals ------
    ("star principal", pol(allow()), True, "allows principal '*'"),
    ("AWS star", pol(allow({"AWS": "*"})), True, "allows principal '*'"),
    ("star in a list", pol(allow({"AWS": [f"arn:aws:iam::{OWN}:root", "*"]})), True, "'*'"),
    ("named account", pol(allow({"AWS": f"arn:aws:iam::{OWN}:root"})), False, ""),
    ("service principal", pol(allow({"Service": "cloudfront.amazonaws.com"})), False, ""),
    (
        "Allow NotPrincipal is everyone else",
        pol(without(allow(), "Principal") | {"NotPrincipal": {"AWS": f"arn:aws:iam::{OWN}:root"}}),
        True,
        "everyone outside its NotPrincipal",
    ),
    (
        "Deny NotPrincipal denies the public",
        pol(
            allow(),
            without(deny(), "Principal") | {"NotPrincipal": {"AWS": f"arn:aws:iam::{OWN}:root"}},
        ),
        False,
        "cancelled by Deny #1",
    ),
    (
        "Deny NotPrincipal * exempts everyone",
        pol(allow(), without(deny(), "Principal") | {"NotPrincipal": {"AWS": "*"}}),
        True,
        "no Deny to everyone covers",
    ),
    # --- positive operators on caller-identifying keys, fixed values: private ----------------
    ("SourceVpce", pol(allow(**cond("StringEquals", "aws:SourceVpce", VPCE))), False, "pinned"),
    (
        "SourceVpc ignore case",
        pol(allow(**cond("StringEqualsIgnoreCase", "aws:SourceVpc", "vpc-1"))),
        False,
        "pinned by StringEqualsIgnoreCase aws:SourceVpc",
    ),
    (
        "OrgID StringLike fixed",
        pol(allow(**cond("StringLike", "aws:PrincipalOrgID", "o-abc"))),
        False,
        "pinned",
    ),
    (
        "SourceArn ArnEquals",
        pol(
            allow(
                **cond("ArnEquals", "aws:SourceArn", f"arn:aws:cloudfront::{OWN}:distribution/E1")
            )
        ),
        False,
        "pinned by ArnEquals aws:SourceArn",
    ),
    (
        "PrincipalArn ArnLike without wildcard",
        pol(allow(**cond("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{OWN}:role/reader"))),
        False,
        "pinned by ArnLike",
    ),
    (
        "SourceIp CIDR",
        pol(allow(**cond("IpAddress", "aws:SourceIp", "203.0.113.0/24"))),
        False,
        "pinned",
    ),
    (
        "SourceAccount",
        pol(allow(**cond("StringEquals", "aws:SourceAccount", OWN))),
        False,
        "pinned",
    ),
    ("SourceOwner", pol(allow(**cond("StringEquals", "aws:SourceOwner", OWN))), False, "pinned"),
    (
        "PrincipalAccount",
        pol(allow(**cond("StringEquals", "aws:PrincipalAccount", OWN))),
        False,
        "pinned",
    ),
    (
        "userid fixed",
        pol(allow(**cond("StringEquals", "aws:userid", "AIDAEXAMPLEUSER"))),
        False,
        "pinned",
    ),
    (
        "DataAccessPointAccount",
        pol(allow(**cond("StringEquals", "s3:DataAccessPointAccount", OWN))),
        False,
        "pinned",
    ),
    (
        "DataAccessPointArn",
        pol(
            allow(
                **cond(
                    "ArnEquals",
                    "s3:DataAccessPointArn",
                    f"arn:aws:s3:us-east-1:{OWN}:accesspoint/ap",
                )
            )
        ),
        False,
        "pinned",
    ),
    (
        "key in any case",
        pol(allow(**cond("StringEquals", "AWS:SOURCEVPCE", VPCE))),
        False,
        "pinned",
    ),
    (
        "ForAnyValue pins like its base",
        pol(allow(**cond("ForAnyValue:StringEquals", "aws:SourceVpce", VPCE))),
        False,
        "pinned by ForAnyValue:StringEquals",
    ),
    (
        "several fixed values",
        pol(allow(**cond("StringEquals", "aws:SourceVpce", [VPCE, "vpce-2"]))),
        False,
        "pinned",
    ),
    # --- negated operators: everyone but a set is still the public ------
    (
        "StringNotEquals",
        pol(allow(**cond("StringNotEquals", "aws:SourceVpce", VPCE))),
        True,
        "not a positive operator",
    ),
    (
        "StringNotLike PrincipalArn",
        pol(allow(**cond("StringNotLike", "aws:PrincipalArn", f"arn:aws:iam::{OWN}:*"))),
        True,
        "not a positive operator",
    ),
    (
        "NotIpAddress",
        pol(allow(**cond("NotIpAddress", "aws:SourceIp", "10.0.0.0/8"))),
        True,
        "not a positive operator",
    ),
    (
        "ArnNotEquals",
        pol(allow(**cond("ArnNotEquals", "aws:SourceArn", f"arn:aws:sns:us-east-1:{OWN}:t"))),
        True,
        "not a positive operator",
    ),
    (
        "StringNotEqualsIgnoreCase",
        pol(allow(**cond("StringNotEqualsIgnoreCase", "aws:SourceVpc", "vpc-1"))),
        True,
        "not a positive operator",
    ),
    (
        "not my account is everyone else",
        pol(allow(**cond("StringNotEquals", "aws:PrincipalAccount", OWN))),
        True,
        "not a positive operator",
    ),
    # --- IfExists: an internet request has no aws:SourceVpce, so the condition holds ------
    (
        "StringEqualsIfExists",
        pol(allow(**cond("StringEqualsIfExists", "aws:SourceVpce", VPCE))),
        True,
        "IfExists is true when the key is absent",
    ),
    (
        "IpAddressIfExists",
        pol(allow(**cond("IpAddressIfExists", "aws:SourceIp", "10.0.0.0/8"))),
        True,
        "IfExists",
    ),
    (
        "ForAnyValue IfExists",
        pol(allow(**cond("ForAnyValue:StringEqualsIfExists", "aws:SourceVpce", VPCE))),
        True,
        "IfExists",
    ),
    # --- ForAllValues: true when the key is absent ------
    (
        "ForAllValues org",
        pol(allow(**cond("ForAllValues:StringEquals", "aws:PrincipalOrgID", "o-abc"))),
        True,
        "ForAllValues: is true when the key is absent",
    ),
    (
        "ForAllValues vpce",
        pol(allow(**cond("ForAllValues:StringLike", "aws:SourceVpce", VPCE))),
        True,
        "ForAllValues",
    ),
    # --- wildcards, policy variables and open CIDRs pin nothing ------
    (
        "vpce wildcard",
        pol(allow(**cond("StringLike", "aws:SourceVpce", "vpce-*"))),
        True,
        "wildcard",
    ),
    (
        "any principal arn",
        pol(allow(**cond("StringLike", "aws:PrincipalArn", "arn:aws:iam::*:*"))),
        True,
        "wildcard",
    ),
    (
        "any distribution",
        pol(allow(**cond("ArnLike", "aws:SourceArn", "arn:aws:cloudfront::*:distribution/*"))),
        True,
        "wildcard",
    ),
    (
        "role id with any session",
        pol(allow(**cond("StringLike", "aws:userid", "AROAEXAMPLE:*"))),
        True,
        "wildcard",
    ),
    (
        "policy variable",
        pol(allow(**cond("StringEquals", "aws:PrincipalAccount", "${aws:PrincipalAccount}"))),
        True,
        "policy variable",
    ),
    (
        "single-char wildcard",
        pol(allow(**cond("StringLike", "aws:SourceVpce", "vpce-1?"))),
        True,
        "wildcard",
    ),
    (
        "open IPv4",
        pol(allow(**cond("IpAddress", "aws:SourceIp", "0.0.0.0/0"))),
        True,
        "0.0.0.0/0, broader than /8",
    ),
    (
        "open IPv6",
        pol(allow(**cond("IpAddress", "aws:SourceIp", "::/0"))),
        True,
        "broader than /32",
    ),
    (
        "one open CIDR among fixed ones",
        pol(allow(**cond("IpAddress", "aws:SourceIp", ["10.0.0.0/8", "0.0.0.0/0"]))),
        True,
        "broader than /8",
    ),
    (
        "no value at all",
        pol(allow(**cond("StringEquals", "aws:SourceVpce", []))),
        True,
        "has no value",
    ),
    # --- keys that do not identify the caller ------
    (
        "s3:prefix",
        pol(allow(**cond("StringEquals", "s3:prefix", "home/"))),
        True,
        "does not identify the caller",
    ),
    (
        "existing object tag",
        pol(allow(**cond("StringEquals", "s3:ExistingObjectTag/public", "yes"))),
        True,
        "does not identify the caller",
    ),
    (
        "TLS only",
        pol(allow(**cond("Bool", "aws:SecureTransport", "true"))),
        True,
        "does not identify",
    ),
    (
        "Referer",
        pol(allow(**cond("StringLike", "aws:Referer", "https://example.com/*"))),
        True,
        "does not identify",
    ),
    (
        "Null is no pin",
        pol(allow(**cond("Null", "aws:SourceVpce", "false"))),
        True,
        "not a positive operator",
    ),
    # --- several keys in one block are ANDed: one fixed pinning key suffices ------
    (
        "prefix AND vpce",
        pol(allow(Condition={"StringEquals": {"s3:prefix": "home/", "aws:SourceVpce": VPCE}})),
        False,
        "pinned by StringEquals aws:SourceVpce",
    ),
    (
        "negated vpce AND prefix",
        pol(
            allow(
                Condition={
                    "StringNotEquals": {"aws:SourceVpce": VPCE},
                    "StringEquals": {"s3:prefix": "home/"},
                }
            )
        ),
        True,
        "not a positive operator",
    ),
    (
        "vpce AND TLS",
        pol(
            allow(
                Condition={
                    "StringEquals": {"aws:SourceVpce": VPCE},
                    "Bool": {"aws:SecureTransport": "true"},
                }
            )
        ),
        False,
        "pinned",
    ),
    # --- Deny with NotAction ------
    (
        "public read only: Deny NotAction GetObject",
        pol(allow(), deny(action=None, NotAction="s3:GetObject")),
        True,
        "no Deny to everyone covers s3:GetObject",
    ),
    (
        "Deny NotAction PutObject covers GetObject",
        pol(allow(), without(deny(resource="*"), "Action") | {"NotAction": "s3:PutObject"}),
        False,
        "cancelled by Deny #1",
    ),
    (
        "Deny NotAction GetObject leaves s3:* half open",
        pol(allow(action="s3:*"), without(deny(), "Action") | {"NotAction": "s3:GetObject"}),
        True,
        "no Deny to everyone covers s3:*",
    ),
    # --- Deny with NotResource ------
    (
        "Deny NotResource public/*",
        pol(allow(), without(deny(), "Resource") | {"NotResource": f"{B}/public/*"}),
        True,
        f"covers s3:GetObject on {OBJ}",
    ),
    (
        "Deny NotResource private/* covers public/*",
        pol(
            allow(resource=f"{B}/public/*"),
            without(deny(), "Resource") | {"NotResource": f"{B}/private/*"},
        ),
        False,
        "cancelled",
    ),
    # --- Deny scoped to a sub-path -------------------------------------------------------------
    ("Deny on private/* only", pol(allow(), deny(resource=f"{B}/private/*")), True, "no Deny"),
    ("Deny on the whole bucket", pol(allow(resource=f"{B}/private/*"), deny()), False, "cancelled"),
    ("same action, same resource", pol(allow(), deny(action="s3:GetObject")), False, "cancelled"),
    # --- Deny of narrower or wider actions ------
    (
        "Deny GetObject, Allow Get*",
        pol(allow(action="s3:Get*"), deny(action="s3:GetObject")),
        True,
        "s3:Get*",
    ),
    ("Deny Get*, Allow GetObject", pol(allow(), deny(action="s3:Get*")), False, "cancelled"),
    (
        "bucket and objects both denied",
        pol(
            allow(action=["s3:GetObject", "s3:ListBucket"], resource=[B, OBJ]),
            deny(resource=[B, OBJ]),
        ),
        False,
        "cancelled",
    ),
    (
        "ListBucket on the bucket left open",
        pol(allow(action=["s3:GetObject", "s3:ListBucket"], resource=[B, OBJ]), deny()),
        True,
        f"covers s3:GetObject on {B}",
    ),
    (
        "two Denies together cover the Allow",
        pol(
            allow(action=["s3:GetObject", "s3:PutObject"]),
            deny(action="s3:GetObject"),
            deny(action="s3:PutObject"),
        ),
        False,
        "cancelled by Deny #1, #2",
    ),
    # --- conditions on the Deny ------
    (
        "Deny only over HTTP",
        pol(allow(), deny(**cond("Bool", "aws:SecureTransport", "false"))),
        True,
        "no Deny",
    ),
    (
        "Deny unless from my endpoint",
        pol(allow(), deny(**cond("StringNotEquals", "aws:SourceVpce", VPCE))),
        False,
        "cancelled",
    ),
    (
        "Deny unless from any endpoint",
        pol(allow(), deny(**cond("StringNotLike", "aws:SourceVpce", "vpce-*"))),
        True,
        "no Deny",
    ),
    (
        "Deny outside my org, IfExists",
        pol(allow(), deny(**cond("StringNotEqualsIfExists", "aws:PrincipalOrgID", "o-abc"))),
        False,
        "cancelled",
    ),
    (
        "Deny only from my endpoint",
        pol(allow(), deny(**cond("StringEquals", "aws:SourceVpce", VPCE))),
        True,
        "no Deny",
    ),
    (
        "Deny for one account only",
        pol(allow(), deny({"AWS": f"arn:aws:iam::{OWN}:root"})),
        True,
        "no Deny",
    ),
    (
        "Deny with a set operator",
        pol(allow(), deny(**cond("ForAnyValue:StringNotEquals", "aws:SourceVpce", VPCE))),
        True,
        "no Deny",
    ),
    # --- Allow with NotAction ------
    (
        "Allow NotAction, Deny everything",
        pol(without(allow(), "Action") | {"NotAction": "s3:DeleteObject"}, deny(action="*")),
        False,
        "cancelled",
    ),
    (
        "Allow NotAction Delete, Deny NotAction Delete+Put leaves Put",
        pol(
            without(allow(), "Action") | {"NotAction": "s3:DeleteObject"},
            without(deny(), "Action") | {"NotAction": ["s3:DeleteObject", "s3:PutObject"]},
        ),
        True,
        "NotAction s3:DeleteObject",
    ),
    (
        "Allow NotAction Delete+Put, Deny NotAction Put",
        pol(
            without(allow(), "Action") | {"NotAction": ["s3:DeleteObject", "s3:PutObject"]},
            without(deny(), "Action") | {"NotAction": "s3:PutObject"},
        ),
        False,
        "cancelled",
    ),
    # --- Allow with NotResource: only a Deny on every resource covers it ------
    (
        "Allow NotResource, Deny on *",
        pol(without(allow(), "Resource") | {"NotResource": f"{B}/private/*"}, deny(resource="*")),
        False,
        "cancelled",
    ),
    (
        "Allow NotResource, Deny on the bucket's objects",
        pol(without(allow(), "Resource") | {"NotResource": f"{B}/private/*"}, deny()),
        True,
        "no Deny",
    ),
    # --- malformed input reads as public ------
    ("unreadable Allow condition", pol(allow(Condition="nonsense")), True, "unreadable"),
    ("unreadable Deny condition", pol(allow(), deny(Condition={"Bool": "x"})), True, "no Deny"),
    # --- several statements; case of actions ------
    (
        "one pinned, one not",
        pol(
            allow(Sid="Vpc", **cond("StringEquals", "aws:SourceVpce", VPCE)),
            allow(Sid="Open", action="s3:ListBucket", resource=B),
        ),
        True,
        "statement 'Open'",
    ),
    (
        "action case",
        pol(allow(action="S3:GETOBJECT"), deny(action="s3:getobject")),
        False,
        "cancelled",
    ),
    ("resource case", pol(allow(), deny(resource="arn:aws:s3:::B/*")), True, "no Deny"),
]


@pytest.mark.parametrize(
    ("policy", "public", "phrase"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_public_as_s3_means_it(policy: dict, public: bool, phrase: str) -> None:
    for statement in policy["Statement"]:
        if statement.get("Action", "") is None:
            del statement["Action"]
    verdicts = evaluate_policy(policy)
    assert any(v.public for v in verdicts) is public
    text = " | ".join(v.describe() for v in verdicts)
    assert phrase in text


def test_the_table_is_large_enough_and_names_are_unique() -> None:
    assert len(TABLE) >= 60
    assert len({row[0] for row in TABLE}) == len(TABLE)


# aws:SourceIp breadth (S3 user guide, "The meaning of public": a policy restricted by
# aws:SourceIp is still public when the range is broader than /8 for IPv4 or /32 for IPv6; RFC
# 1918 ranges are /8 or longer, so they pin). Values are ORed: one broad value lets its range in.
# Each row: (name, value(s) of IpAddress aws:SourceIp, public?, phrase).
IP_BREADTH: list[tuple[str, Any, bool, str]] = [
    ("IPv4 /7", "10.0.0.0/7", True, "10.0.0.0/7, broader than /8: pins nothing"),
    ("IPv4 /8", "10.0.0.0/8", False, "pinned by IpAddress aws:SourceIp = 10.0.0.0/8"),
    ("IPv4 /9", "10.0.0.0/9", False, "pinned"),
    ("IPv4 /1", "0.0.0.0/1", True, "0.0.0.0/1, broader than /8"),
    ("IPv4 /2 high half", "128.0.0.0/2", True, "broader than /8"),
    ("host bits set read as the range", "10.0.0.1/8", False, "pinned"),
    ("host bits set, broad", "10.0.0.1/7", True, "broader than /8"),
    ("bare IPv4 address", "203.0.113.7", False, "pinned"),
    ("RFC 1918 172.16/12", "172.16.0.0/12", False, "pinned"),
    ("RFC 1918 192.168/16", "192.168.0.0/16", False, "pinned"),
    ("IPv6 /31", "2001:db8::/31", True, "2001:db8::/31, broader than /32"),
    ("IPv6 /32", "2001:db8::/32", False, "pinned"),
    ("IPv6 /33", "2001:db8::/33", False, "pinned"),
    ("IPv6 global unicast /3", "2000::/3", True, "broader than /32"),
    ("IPv6 ULA fd00::/8", "fd00::/8", True, "broader than /32"),
    ("bare IPv6 address", "2001:db8::1", False, "pinned"),
    ("one broad value among narrow ones", ["203.0.113.0/24", "0.0.0.0/1"], True, "0.0.0.0/1"),
    ("every value narrow", ["203.0.113.0/24", "2001:db8::/48"], False, "pinned"),
    ("octet out of range", "256.256.256.256", True, "not a valid address or CIDR"),
    ("prefix out of range", "10.0.0.0/33", True, "10.0.0.0/33, not a valid address"),
    ("not an address", "abc", True, "not a valid address or CIDR"),
    ("empty string", "", True, "not a valid address or CIDR"),
    ("invalid among valid", ["203.0.113.0/24", "10.0.0.0/33"], True, "not a valid address"),
]


@pytest.mark.parametrize(
    ("value", "public", "phrase"),
    [row[1:] for row in IP_BREADTH],
    ids=[row[0] for row in IP_BREADTH],
)
def test_source_ip_pins_only_ranges_of_slash_8_or_32_and_longer(
    value: Any, public: bool, phrase: str
) -> None:
    verdicts = evaluate_policy(pol(allow(**cond("IpAddress", "aws:SourceIp", value))))
    assert [v.public for v in verdicts] == [public]
    assert phrase in verdicts[0].describe()
    # ForAnyValue: pins like its base operator, by the same breadth rule
    verdicts = evaluate_policy(pol(allow(**cond("ForAnyValue:IpAddress", "aws:SourceIp", value))))
    assert [v.public for v in verdicts] == [public]


# The mirror image on a Deny: "deny unless from <range>" confines the public to that range only
# when the range pins (a Deny with NotIpAddress on a /1 still lets half the internet in).
DENY_BUT_RANGE: list[tuple[str, Any, bool, str]] = [
    ("deny all but a /24", "203.0.113.0/24", False, "cancelled by Deny #1"),
    ("deny all but a /8", "10.0.0.0/8", False, "cancelled"),
    ("deny all but a /1", "0.0.0.0/1", True, "no Deny to everyone covers"),
    ("deny all but an IPv6 /31", "2001:db8::/31", True, "no Deny to everyone covers"),
    ("deny all but an invalid value", "10.0.0.0/33", True, "no Deny to everyone covers"),
    ("deny all but a broad value among narrow", ["203.0.113.0/24", "128.0.0.0/2"], True, "no"),
]


@pytest.mark.parametrize(
    ("value", "public", "phrase"),
    [row[1:] for row in DENY_BUT_RANGE],
    ids=[row[0] for row in DENY_BUT_RANGE],
)
def test_deny_not_ip_address_confines_only_to_a_pinning_range(
    value: Any, public: bool, phrase: str
) -> None:
    policy = pol(allow(), deny(**cond("NotIpAddress", "aws:SourceIp", value)))
    verdicts = evaluate_policy(policy)
    assert [v.public for v in verdicts] == [public]
    assert phrase in verdicts[0].describe()


# Malformed principals (IAM: a wildcard cannot match part of a principal; S3 refuses to store it)
# are read the public way, and then judged exactly like "*": a pinning condition still pins, a
# covering Deny still cancels. A Deny's malformed principal is *not* trusted to reach everyone.
# Each row: (name, policy, public?, phrase).
PRINCIPALS: list[tuple[str, dict, bool, str]] = [
    (
        "AWS partial wildcard",
        pol(allow({"AWS": "arn:aws:iam::*:root"})),
        True,
        "allows principal arn:aws:iam::*:root: a wildcard in a principal is malformed",
    ),
    ("AWS single-char wildcard", pol(allow({"AWS": "11112222333?"})), True, "malformed"),
    ("CanonicalUser star", pol(allow({"CanonicalUser": "*"})), True, "allows principal *:"),
    ("Federated star", pol(allow({"Federated": "*"})), True, "read as everyone"),
    ("Service star", pol(allow({"Service": "*"})), True, "read as everyone"),
    ("Service partial wildcard", pol(allow({"Service": "s3.*.amazonaws.com"})), True, "malformed"),
    (
        "wildcard among named principals",
        pol(allow({"AWS": [f"arn:aws:iam::{OWN}:root", "arn:aws:iam::*:user/x"]})),
        True,
        "arn:aws:iam::*:user/x",
    ),
    (
        "no principal at all",
        pol(without(allow(), "Principal")),
        True,
        "is malformed (an Allow with no Principal), read as allowing everyone",
    ),
    (
        "no principal, pinned",
        pol(without(allow(), "Principal") | cond("StringEquals", "aws:SourceVpce", VPCE)),
        False,
        "an Allow with no Principal), read as allowing everyone but is pinned by",
    ),
    (
        "no principal, unpinned condition",
        pol(without(allow(), "Principal") | cond("StringNotEquals", "aws:SourceVpce", VPCE)),
        True,
        "not a positive operator",
    ),
    (
        "no principal, cancelled",
        pol(without(allow(), "Principal"), deny()),
        False,
        "cancelled by Deny #1",
    ),
    (
        "wildcard principal, pinned",
        pol(
            allow(
                {"AWS": "arn:aws:iam::*:root"}, **cond("StringEquals", "aws:PrincipalOrgID", "o-1")
            )
        ),
        False,
        "pinned by StringEquals aws:PrincipalOrgID",
    ),
    (
        "wildcard principal, cancelled",
        pol(allow({"CanonicalUser": "*"}), deny()),
        False,
        "cancelled by Deny #1",
    ),
    (
        "Deny with a partial wildcard principal cancels nothing",
        pol(allow(), deny({"AWS": "arn:aws:iam::*:root"})),
        True,
        "no Deny to everyone covers",
    ),
    (
        "Deny NotPrincipal with a wildcard may exempt everyone",
        pol(allow(), without(deny(), "Principal") | {"NotPrincipal": {"AWS": "arn:aws:iam::*:*"}}),
        True,
        "no Deny to everyone covers",
    ),
    ("named principals only", pol(allow({"AWS": [f"arn:aws:iam::{OWN}:root", OWN]})), False, ""),
    ("a Deny with no principal is no Allow", pol(without(deny(), "Principal")), False, ""),
]


@pytest.mark.parametrize(
    ("policy", "public", "phrase"),
    [row[1:] for row in PRINCIPALS],
    ids=[row[0] for row in PRINCIPALS],
)
def test_malformed_principals_read_as_everyone(policy: dict, public: bool, phrase: str) -> None:
    verdicts = evaluate_policy(policy)
    assert any(v.public for v in verdicts) is public
    assert phrase in " | ".join(v.describe() for v in verdicts)


def test_ssl_only_trusts_only_a_documented_everyone() -> None:
    """A Deny over plain HTTP must reach every caller for ``ssl_only``: a partial wildcard
    principal may not, so it does not count (the reading that keeps the check failing)."""
    tls = cond("Bool", "aws:SecureTransport", "false")
    assert secure_transport_denials(pol(deny(resource=[B, OBJ], **tls))) == ["#0"]
    malformed = deny({"AWS": "arn:aws:iam::*:root"}, resource=[B, OBJ], **tls)
    assert secure_transport_denials(pol(malformed)) == []


def test_conditions_are_operator_key_values() -> None:
    st = allow(
        Condition={
            "ForAnyValue:StringLikeIfExists": {"aws:SourceVpce": ["a", "b"]},
            "Bool": {"aws:SecureTransport": True},
        }
    )
    found = conditions_of(st)
    assert found == [
        Condition("ForAnyValue:StringLikeIfExists", "aws:SourceVpce", ("a", "b")),
        Condition("Bool", "aws:SecureTransport", ("True",)),
    ]
    first = found[0]
    assert (first.set_prefix, first.base, first.if_exists) == ("foranyvalue", "stringlike", True)
    assert first.text() == "ForAnyValue:StringLikeIfExists aws:SourceVpce = a, b"
    assert Condition("StringEquals", "aws:SourceVpce", ()).text().endswith("= no value")


def test_public_statements_lists_only_the_public_ones_with_their_actions() -> None:
    policy = pol(
        allow(Sid="Pinned", **cond("StringEquals", "aws:SourceVpce", VPCE)),
        allow(action=["s3:GetObject", "s3:ListBucket"], resource=[B, OBJ]),
        without(allow(Sid="Web"), "Action") | {"NotAction": "s3:Delete*"},
    )
    assert [(p.label, p.actions) for p in public_statements(policy)] == [
        ("#1", ("s3:GetObject", "s3:ListBucket")),
        ("'Web'", ("NotAction s3:Delete*",)),
    ]


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (f"{B}/private/*", f"{B}/public/*", False),  # heads contradict
        ("s3:Get*", "s3:*Object", True),  # both match s3:GetObject
        ("*.log", "*.csv", False),  # tails contradict
        (f"{B}/*", f"{B}/private/*", True),
        ("s3:GetObject", "s3:PutObject", False),
    ],
)
def test_pattern_overlap(a: str, b: str, overlap: bool) -> None:
    from s3compliance.checks.policy import _overlap

    assert _overlap(a, b, case_sensitive=True) is overlap


# cross_account: who outside the account may change the bucket's policy or ACLs (spec row).
SENSITIVE = ("s3:PutBucketPolicy", "s3:PutBucketAcl")


@pytest.mark.parametrize(
    ("statements", "outsiders"),
    [
        # StringNotEquals own account: every *other* account may (the opposite of a pin)
        (
            [
                allow(
                    action="s3:PutBucketPolicy",
                    resource=B,
                    **cond("StringNotEquals", "aws:PrincipalAccount", OWN),
                )
            ],
            ("*",),
        ),
        (
            [
                allow(
                    action="s3:PutBucketPolicy",
                    resource=B,
                    **cond("StringEquals", "aws:PrincipalAccount", OWN),
                )
            ],
            (),
        ),
        # a wildcard account value pins nothing
        (
            [
                allow(
                    action="s3:PutBucketPolicy",
                    resource=B,
                    **cond("StringLike", "aws:PrincipalAccount", "*"),
                )
            ],
            ("*",),
        ),
        # Allow with NotPrincipal: everyone but the listed one
        (
            [
                without(allow(action="s3:PutBucketAcl", resource=B), "Principal")
                | {"NotPrincipal": {"AWS": OWN}}
            ],
            ("*",),
        ),
        # a Deny to everyone on the bucket removes the grant; one on objects only does not
        ([allow(action="s3:PutBucketPolicy", resource=B), deny(resource=B)], ()),
        ([allow(action="s3:PutBucketPolicy", resource=B), deny(resource=OBJ)], ("*",)),
        # two account conditions ANDed: only accounts in both
        (
            [
                allow(
                    action="s3:PutBucketPolicy",
                    resource=B,
                    Condition={
                        "StringEquals": {"aws:PrincipalAccount": [OWN, "999999999999"]},
                        "ForAnyValue:StringEquals": {"aws:SourceAccount": OWN},
                    },
                )
            ],
            (),
        ),
        ([allow(action="s3:PutBucketPolicy", resource=B, Condition="nonsense")], ("*",)),
        # malformed principals read as everyone, here too: a wildcard in any principal type...
        ([allow({"Service": "*"}, action="s3:PutBucketPolicy", resource=B)], ("*",)),
        ([allow({"AWS": "arn:aws:iam::*:root"}, action="s3:PutBucketAcl", resource=B)], ("*",)),
        ([allow({"CanonicalUser": "*"}, action="s3:PutBucketAcl", resource=B)], ("*",)),
        # ...and an Allow with no principal at all; pinned to the own account, nobody outside
        ([without(allow(action="s3:PutBucketAcl", resource=B), "Principal")], ("*",)),
        (
            [
                without(allow(action="s3:PutBucketAcl", resource=B), "Principal")
                | cond("StringEquals", "aws:PrincipalAccount", OWN)
            ],
            (),
        ),
        # a service principal named in full is AWS itself, not an outsider
        (
            [allow({"Service": "logging.s3.amazonaws.com"}, action="s3:PutBucketAcl", resource=B)],
            (),
        ),
    ],
)
def test_cross_account_reads_operators(statements: list[dict], outsiders: tuple[str, ...]) -> None:
    from s3compliance.checks.policy import external_grants

    grants = external_grants(pol(*statements), OWN, (), SENSITIVE)
    assert tuple(o for g in grants for o in g.to) == outsiders
