"""The embedded demo account: the five checks match the spec on every kind of bucket."""

from __future__ import annotations

import os

import pytest

from s3compliance.outputs.report import build_report, validate_report
from s3compliance.testing.demo import FLEET, bucket_names, demo_params, run_demo

# Written from the spec, not from the code: which mission checks FAIL (F) or ERROR (E) per kind.
EXPECTED = {
    "compliant": {},
    "kms-transition": {},
    "dsse": {},
    "vpce-pinned": {},
    "deny-insecure": {},
    "lifecycle-365": {"lifecycle": "FAIL"},
    "lifecycle-prefix": {"lifecycle": "FAIL"},
    "lifecycle-disabled": {"lifecycle": "FAIL"},
    "versioning-suspended": {"versioning": "FAIL"},
    "versioning-never": {"versioning": "FAIL"},
    "unencrypted": {"encryption": "FAIL"},
    "public-read": {"public_access": "FAIL", "cloudwatch_metrics": "FAIL"},
    "public-aws-list": {"public_access": "FAIL"},
    "public-tls-only": {"public_access": "FAIL"},
    "metrics-prefix-only": {"cloudwatch_metrics": "FAIL"},
    "no-metrics": {"cloudwatch_metrics": "FAIL"},
    "legacy-bare": dict.fromkeys(
        ("versioning", "encryption", "lifecycle", "cloudwatch_metrics"), "FAIL"
    ),
    "public-bare": dict.fromkeys(
        ("versioning", "encryption", "lifecycle", "public_access", "cloudwatch_metrics"), "FAIL"
    ),
    "restricted": {"public_access": "ERROR"},
    # One bucket per family of S3's "meaning of public" (S3 user guide; issue 10): conditions
    # that look restrictive but let everyone in, and conditions that really pin the caller.
    "public-not-vpce": {"public_access": "FAIL"},  # StringNotEquals: everyone but one endpoint
    "public-vpce-ifexists": {"public_access": "FAIL"},  # internet requests have no SourceVpce
    "public-vpce-wildcard": {"public_access": "FAIL"},  # vpce-*: not a fixed value
    "public-any-principal": {"public_access": "FAIL"},  # arn:aws:iam::*:*
    "public-prefix-only": {"public_access": "FAIL"},  # s3:prefix does not identify the caller
    "public-read-only": {"public_access": "FAIL"},  # Deny NotAction GetObject leaves GetObject
    "public-deny-subpath": {"public_access": "FAIL"},  # the Deny covers private/* only
    "public-not-own-account": {"public_access": "FAIL"},  # every account but ours
    "public-referer-markup": {"public_access": "FAIL"},  # aws:Referer identifies no caller
    "public-broad-cidr": {"public_access": "FAIL"},  # 0.0.0.0/1 is broader than /8 (issue 19)
    "public-wildcard-principal": {"public_access": "FAIL"},  # arn:aws:iam::*:root is malformed
    "org-pinned": {},  # StringEquals aws:PrincipalOrgID
    "ip-pinned": {},  # IpAddress on a /24
    "vpce-any-value": {},  # ForAnyValue: pins like StringEquals
}
MISSION = ("versioning", "encryption", "lifecycle", "public_access", "cloudwatch_metrics")

# The extended catalogue, also from the spec: for each kind, the checks that PASS (P) or ERROR (E);
# every other extended check FAILs. The account blocks public policies only (not ACLs).
EXTENDED_NOT_FAILING = {
    "compliant": {
        "block_public_access": "PASS",
        "acls_disabled": "PASS",
        "access_logging": "PASS",
        "public_acl": "PASS",
        "cross_account": "PASS",
    },
    "kms-transition": {
        "mfa_delete": "PASS",
        "object_lock": "PASS",
        "replication": "PASS",
        "kms_encryption": "PASS",
        "public_acl": "PASS",
        "cross_account": "PASS",
    },
    "dsse": {
        "block_public_access": "PASS",
        "public_acl": "PASS",
        "kms_encryption": "PASS",
        "cross_account": "PASS",
    },
    "deny-insecure": {"ssl_only": "PASS", "public_acl": "PASS"},
    "restricted": {"ssl_only": "ERROR", "cross_account": "ERROR", "public_acl": "PASS"},
    "versioning-never": {"cross_account": "PASS"},
    # StringNotEquals aws:PrincipalAccount <own>: every other account may rewrite the policy
    "public-not-own-account": {"public_acl": "PASS"},
    "unencrypted": {"cross_account": "PASS"},
}
EXTENDED = (
    "block_public_access",
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


@pytest.fixture(scope="module")
def demo():
    return run_demo(demo_params(max_workers=8), progress=False)


def test_fleet_is_large_enough_and_names_are_unique() -> None:
    names = [n for kind in FLEET for n in bucket_names(kind)]
    assert len(names) == len(set(names))
    assert sum(k.count for k in FLEET if k.region == "us-east-1") >= 120
    assert {k.region for k in FLEET} > {"us-east-1"}


def test_every_bucket_gets_the_verdicts_of_the_spec(demo) -> None:
    got = {(r.bucket, r.check_id): r.status for r in demo.findings.itertuples()}
    for kind in FLEET:
        if kind.region != "us-east-1":
            continue
        for bucket in bucket_names(kind):
            for check_id in MISSION:
                expected = EXPECTED[kind.name].get(check_id, "PASS")
                assert got[(bucket, check_id)] == expected, (bucket, check_id)


def test_the_newest_families_fail_with_the_rule_in_their_reason(demo) -> None:
    """Issue 19's two families: the reason names the rule that made the statement public."""
    reasons = {
        r.bucket: r.reason for r in demo.findings.itertuples() if r.check_id == "public_access"
    }
    assert "0.0.0.0/1, broader than /8: pins nothing" in reasons["demo-public-broad-cidr-01"]
    assert (
        "allows principal arn:aws:iam::*:root: a wildcard in a principal is malformed, read as "
        "everyone" in reasons["demo-public-wildcard-principal-01"]
    )


@pytest.fixture(scope="module")
def demo_all():
    return run_demo(demo_params(profile="all", max_workers=8), progress=False)


def test_every_bucket_gets_the_extended_verdicts_of_the_spec(demo_all) -> None:
    got = {(r.bucket, r.check_id): r.status for r in demo_all.findings.itertuples()}
    for kind in FLEET:
        if kind.region != "us-east-1":
            continue
        expected = EXTENDED_NOT_FAILING.get(
            kind.name, {"public_acl": "PASS", "cross_account": "PASS"}
        )
        for bucket in bucket_names(kind):
            for check_id in EXTENDED:
                assert got[(bucket, check_id)] == expected.get(check_id, "FAIL"), (bucket, check_id)
    # mission verdicts are the same under the larger profile
    for kind in FLEET:
        for bucket in bucket_names(kind) if kind.region == "us-east-1" else []:
            for check_id in MISSION:
                assert got[(bucket, check_id)] == EXPECTED[kind.name].get(check_id, "PASS")


def test_extended_checks_pass_and_fail_on_the_demo(demo_all) -> None:
    by_check = demo_all.summary()["by_check"]
    for check_id in EXTENDED:
        assert by_check[check_id]["PASS"] > 0 and by_check[check_id]["FAIL"] > 0, check_id
    assert by_check["account_block_public_access"] == {"PASS": 0, "FAIL": 1, "ERROR": 0}
    reasons = " ".join(demo_all.findings["reason"])
    for text in (
        "neutralised by IgnorePublicAcls (bucket)",
        "BlockPublicPolicy (account)",
        "replicates to demo-eu-archive-01 in eu-west-1",
        "in the same region",
        "s3:PutObjectAcl to 444455556666",
        "MFADelete is Enabled",
    ):
        assert text in reasons, text


def test_us_east_1_scan_leaves_other_regions_out(demo) -> None:
    assert set(demo.buckets["region"]) == {"us-east-1"}
    assert not demo.buckets["bucket"].str.startswith(("demo-eu-", "demo-oregon-")).any()


def test_every_pass_and_fail_path_is_covered(demo) -> None:
    by_check = demo.summary()["by_check"]
    for check_id in MISSION:
        assert by_check[check_id]["PASS"] > 0 and by_check[check_id]["FAIL"] > 0
    reasons = " ".join(demo.findings["reason"])
    for text in (
        "365 days (> 90)",
        "scoped to prefix 'logs/'",
        "is Disabled",
        "at 30 days",
        "aws:kms:dsse",
        "Suspended",
        "'all-requests' has no filter",
        "Only filtered",
        "'AnyAwsPrincipal'",
        "'TlsOnlyStillPublic'",
        "AccessDenied",
    ):
        assert text in reasons, text


def test_demo_report_validates_and_is_deterministic(demo) -> None:
    first = build_report(demo, generated_at="2026-01-01T00:00:00Z")
    validate_report(first)
    again = run_demo(demo_params(max_workers=3), progress=False)
    second = build_report(again, generated_at="2026-01-01T00:00:00Z")
    second["parameters"]["max_workers"] = first["parameters"]["max_workers"]
    for report in (first, second):  # wall time is the one thing that may differ
        assert report["accounts"][0]["seconds"] > 0
        report["accounts"][0]["seconds"] = 0
    assert first == second
    assert str(demo.buckets["created"].iloc[0]) == "2023-01-02 09:30:00+00:00"


def test_demo_hides_and_restores_the_callers_endpoint(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    result = run_demo(demo_params(include=["demo-dsse-*"], max_workers=2), progress=False)
    assert len(result.buckets) == 5
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
