"""Reading bucket policies: who is let in, and which conditions pin the caller."""

from __future__ import annotations

from typing import Any

import pytest

from s3compliance.policy import pinning_keys, public_statements


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
    allow("*", {"StringLike": {"aws:userid": "AROA*:alice"}}),
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
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*"},
            {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"]},
            {"Sid": "Web", "Effect": "Allow", "Principal": "*", "NotAction": "s3:Delete*"},
        ]
    }
    found = public_statements(policy)
    assert [(p.label, p.actions) for p in found] == [
        ("#1", ("s3:GetObject", "s3:ListBucket")),
        ("'Web'", ("s3:Delete*",)),
    ]


def test_pinning_keys_ignore_wildcards_and_malformed_conditions() -> None:
    assert pinning_keys({"StringEquals": {"aws:SourceVpce": ["vpce-1"]}}) == ["aws:SourceVpce"]
    assert pinning_keys({"StringLike": {"aws:SourceVpce": ["vpce-1", "*"]}}) == []
    assert pinning_keys({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::/0"]}}) == []
    assert pinning_keys({"StringLike": {"aws:SourceVpce": ["*"]}}) == []
    assert pinning_keys("nonsense") == []
    assert pinning_keys({"StringEquals": "nonsense"}) == []
