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

from s3compliance.checks.policy import Condition, conditions_of, evaluate_policy, public_statements

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
    ("open IPv4", pol(allow(**cond("IpAddress", "aws:SourceIp", "0.0.0.0/0"))), True, "open value"),
    ("open IPv6", pol(allow(**cond("IpAddress", "aws:SourceIp", "::/0"))), True, "open value"),
    (
        "one open CIDR among fixed ones",
        pol(allow(**cond("IpAddress", "aws:SourceIp", ["10.0.0.0/8", "0.0.0.0/0"]))),
        True,
        "open value",
    ),
    (
        "no value at all",
        pol(allow(**cond("StringEquals", "aws:SourceVpce", []))),
        True,
        "open value",
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
    ],
)
def test_cross_account_reads_operators(statements: list[dict], outsiders: tuple[str, ...]) -> None:
    from s3compliance.checks.policy import external_grants

    grants = external_grants(pol(*statements), OWN, (), SENSITIVE)
    assert tuple(o for g in grants for o in g.to) == outsiders
