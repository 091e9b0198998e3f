"""Reading bucket policies: who is let in, and which conditions pin the caller."""

from __future__ import annotations

from typing import Any

import pytest

from s3compliance.checks.policy import public_statements


def allow(principal: Any = "*", condition: Any = None, **extra: Any) -> dict:
    st = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", **extra}
    if condition is not None:
        st["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [st]}


PUBLIC = [
    allow("*"),
    allow({"AWS": "*"}),
    allow({"AWS": ["*"]}),
    allow({"AWS": ["arn:aws:iam::111122223333:root", "*"]}),
    allow("*", {"Bool": {"aws:SecureTransport": "true"}}),
    allow("*", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}),
    allow("*", {"StringLike": {"aws:PrincipalArn": "*"}}),
    allow("*", {"Null": {"aws:SourceVpce": "false"}}),
    allow("*", {"StringLike": {"aws:userid": "AROA*:alice"}}),  # a wildcard pins nothing
    {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*"}},  # a lone statement
    {
        "Statement": [
            {
                "Effect": "Allow",
                "NotPrincipal": {"AWS": "arn:aws:iam::1:root"},
                "Action": "s3:GetObject",
            }
        ]
    },
]
PRIVATE = [
    None,
    {},
    {"Version": "2012-10-17"},
    allow({"AWS": "arn:aws:iam::111122223333:root"}),
    allow({"Service": "logging.s3.amazonaws.com"}),
    allow("arn:aws:iam::111122223333:root"),  # malformed (a bare string), but not "*"
    allow("*", {"StringEquals": {"aws:SourceVpce": "vpce-1"}}),
    allow("*", {"StringEquals": {"aws:sourcevpc": "vpc-1"}}),
    allow("*", {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}),
    allow("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}),
    allow("*", {"StringEquals": {"aws:PrincipalAccount": "111122223333"}}),
    allow("*", {"StringEquals": {"aws:SourceAccount": "111122223333"}}),
    allow("*", {"ArnLike": {"aws:SourceArn": "arn:aws:cloudfront::1:distribution/X"}}),
    allow("*", {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::1:role/r"}}),
    {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    },
    {"Statement": ["not-a-statement"]},
]


@pytest.mark.parametrize("policy", PUBLIC)
def test_public_policies_are_found(policy: dict) -> None:
    assert public_statements(policy)


@pytest.mark.parametrize("policy", PRIVATE)
def test_private_policies_are_not_public(policy: dict | None) -> None:
    assert public_statements(policy) == []


def test_public_statement_is_named_by_sid_or_index_with_its_actions() -> None:
    policy = {
        "Statement": [
            {"Effect": "Deny", "Principal": {"AWS": "123456789012"}, "Action": "s3:*"},
            {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"]},
            {"Sid": "Web", "Effect": "Allow", "Principal": "*", "NotAction": "s3:Delete*"},
        ]
    }
    found = public_statements(policy)
    assert [(p.label, p.actions) for p in found] == [
        ("#1", ("s3:GetObject", "s3:ListBucket")),
        ("'Web'", ("NotAction s3:Delete*",)),  # everything but: said so, not listed as granted
    ]


# ---- The evaluator as a whole: at least 40 policies with their three verdicts -----------------
# (policy, public?, requires TLS?, sensitive grant outside account 111111111111?)
OWN = "111111111111"
TLS_DENY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def pol(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def st(
    effect: str = "Allow", principal: Any = "*", action: Any = "s3:GetObject", **extra: Any
) -> dict:
    return {"Effect": effect, "Principal": principal, "Action": action, **extra}


TABLE = [
    (None, False, False, False),
    (pol(), False, False, False),
    (pol(st()), True, False, False),
    (pol(st(principal={"AWS": "*"})), True, False, False),
    (pol(st(principal={"AWS": ["*"]})), True, False, False),
    (pol(st(action="s3:*")), True, False, True),
    (pol(st(action="*")), True, False, True),
    (pol(st(action=["s3:GetObject", "s3:PutObjectAcl"])), True, False, True),
    (pol(st(action="s3:Put*")), True, False, True),
    # Prowler false positives: a Deny with Principal "*" is not public
    (pol(st("Deny", action="s3:*")), False, False, False),
    (pol(st("Deny", action="s3:DeleteObject")), False, False, False),
    # Allow "*" pinned by a VPC endpoint / org / account / IP is not public
    (pol(st(Condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}})), False, False, False),
    (pol(st(Condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}})), False, False, False),
    (pol(st(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}})), False, False, False),
    (pol(st(Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})), False, False, False),
    (
        pol(st(action="s3:*", Condition={"StringEquals": {"aws:PrincipalAccount": OWN}})),
        False,
        False,
        False,
    ),
    (
        pol(
            st(action="s3:*", Condition={"StringEquals": {"aws:PrincipalAccount": "999999999999"}})
        ),
        False,
        False,
        True,
    ),
    # aws:SecureTransport alone does not make an Allow private
    (pol(st(Condition={"Bool": {"aws:SecureTransport": "true"}})), True, False, False),
    (pol(st(Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})), True, False, False),
    # NotPrincipal with Allow is everyone else
    (
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "NotPrincipal": {"AWS": "arn:aws:iam::1:root"},
                    "Action": "s3:GetObject",
                }
            ]
        },
        True,
        False,
        False,
    ),
    # Deny "*" with SecureTransport false: the TLS requirement, not a public grant
    (pol(TLS_DENY), False, True, False),
    (pol({**TLS_DENY, "Action": "*"}), False, True, False),
    (
        pol({**TLS_DENY, "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}}}),
        False,
        True,
        False,
    ),
    (
        pol({**TLS_DENY, "Condition": {"Bool": {"aws:SecureTransport": ["false"]}}}),
        False,
        True,
        False,
    ),
    (pol({**TLS_DENY, "Condition": {"Bool": {"aws:securetransport": False}}}), False, True, False),
    (pol({**TLS_DENY, "Action": "s3:GetObject"}), False, False, False),
    (pol({**TLS_DENY, "Principal": {"AWS": "arn:aws:iam::1:root"}}), False, False, False),
    (
        pol({**TLS_DENY, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}),
        False,
        False,
        False,
    ),
    (pol(TLS_DENY, st()), True, True, False),
    # an unconditional Deny to everyone outweighs the public Allow of the same actions
    (pol(st(), st("Deny", action="s3:*")), False, False, False),
    (
        pol(st(action=["s3:GetObject", "s3:PutObject"]), st("Deny", action="s3:GetObject")),
        True,
        False,
        False,
    ),
    (
        pol(st(NotAction="s3:DeleteObject", action=None), st("Deny", action="*")),
        False,
        False,
        False,
    ),
    # a conditional Deny does not outweigh it
    (pol(st(), TLS_DENY), True, True, False),
    # named principals
    (pol(st(principal={"AWS": f"arn:aws:iam::{OWN}:root"}, action="s3:*")), False, False, False),
    (pol(st(principal={"AWS": OWN}, action="s3:PutBucketPolicy")), False, False, False),
    (
        pol(st(principal={"AWS": "arn:aws:iam::222222222222:user/bob"}, action="s3:PutBucketAcl")),
        False,
        False,
        True,
    ),
    (
        pol(
            st(
                principal={"AWS": ["arn:aws:sts::222222222222:assumed-role/r/s"]},
                action="s3:PutObjectAcl",
            )
        ),
        False,
        False,
        True,
    ),
    (pol(st(principal={"AWS": "222222222222"}, action="s3:GetObject")), False, False, False),
    (
        pol(st(principal={"Service": "cloudtrail.amazonaws.com"}, action="s3:PutObject")),
        False,
        False,
        False,
    ),
    (
        pol(st(principal={"Service": "logging.s3.amazonaws.com"}, action="s3:*")),
        False,
        False,
        False,
    ),
    (pol(st(principal={"CanonicalUser": "abc123"}, action="s3:PutBucketAcl")), False, False, True),
    (
        pol(
            st(principal={"Federated": "cognito-identity.amazonaws.com"}, action="s3:PutObjectAcl")
        ),
        False,
        False,
        True,
    ),
    (
        pol(
            st(principal={"AWS": "arn:aws:iam::222222222222:root"}, action="s3:DeleteBucketPolicy")
        ),
        False,
        False,
        True,
    ),
    (
        pol(
            st(
                principal={"AWS": "arn:aws:iam::222222222222:root"},
                action="s3:PutEncryptionConfiguration",
            )
        ),
        False,
        False,
        True,
    ),
    (
        pol(st(principal={"AWS": "arn:aws:iam::222222222222:root"}, action="S3:PUTBUCKETPOLICY")),
        False,
        False,
        True,
    ),
    (
        pol(
            st(
                principal={"AWS": "arn:aws:iam::222222222222:root"},
                NotAction="s3:Get*",
                action=None,
            )
        ),
        False,
        False,
        True,
    ),
    (
        pol(st(principal={"AWS": "arn:aws:iam::222222222222:root"}, NotAction="s3:*", action=None)),
        False,
        False,
        False,
    ),
    (pol(st(principal={"AWS": "not-an-arn"}, action="s3:PutBucketPolicy")), False, False, True),
    (
        pol(st(principal="arn:aws:iam::222222222222:root", action="s3:PutBucketAcl")),
        False,
        False,
        True,
    ),
    (pol(st(action="s3:PutBucketAcl", Condition="malformed")), True, False, True),
    (pol(st(action="s3:PutBucketAcl", Condition={"Bool": "malformed"})), True, False, True),
]


@pytest.mark.parametrize(("policy", "public", "tls", "external"), TABLE)
def test_policy_evaluator_table(policy: Any, public: bool, tls: bool, external: bool) -> None:
    from s3compliance.checks.extended import SENSITIVE_ACTIONS
    from s3compliance.checks.policy import external_grants, secure_transport_denials

    for statement in (policy or {}).get("Statement", []):
        if statement.get("Action", "") is None:
            del statement["Action"]
    assert bool(public_statements(policy)) is public
    assert bool(secure_transport_denials(policy)) is tls
    assert bool(external_grants(policy, OWN, (), SENSITIVE_ACTIONS)) is external


def test_the_table_is_large_enough() -> None:
    assert len(TABLE) >= 40


@pytest.mark.parametrize("condition", ["nonsense", {"Bool": "nonsense"}, {"Bool": ["x"]}])
def test_an_unreadable_tls_condition_is_no_tls_requirement(condition: Any) -> None:
    from s3compliance.checks.policy import secure_transport_denials

    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Condition": condition}
    assert secure_transport_denials({"Statement": [deny]}) == []
