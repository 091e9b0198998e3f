"""The mission checks as pure functions over hand-written evidence: no AWS, no mocks."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from s3compliance.checks import (
    CATALOGUE,
    PROFILES,
    SEVERITIES,
    Settings,
    Unreadable,
    Verdict,
    check,
    documents_needed,
    select_checks,
)
from s3compliance.checks.documents import DOCUMENTS
from s3compliance.checks.frameworks import FRAMEWORKS

S = Settings()


def run(check_id: str, settings: Settings = S, **evidence: Any) -> tuple[bool, str]:
    c = CATALOGUE[check_id]
    full = {d: None for d in c.documents} | {"bucket": "b"} | evidence
    verdict = c.evaluate(full, settings)
    return verdict.passed, verdict.reason


def rule(days: int | None = 30, status: str = "Enabled", filt: Any = None, **extra: Any) -> dict:
    r: dict[str, Any] = {"ID": "r1", "Status": status, **extra}
    if filt is not None:
        r["Filter"] = filt
    if days is not None:
        r["Expiration"] = {"Days": days}
    return r


# (check id, evidence, expected pass, text the reason must contain)
CASES = [
    ("versioning", {"versioning": {"Status": "Enabled"}}, True, "Enabled"),
    ("versioning", {"versioning": {"Status": "Suspended"}}, False, "Suspended"),
    ("versioning", {"versioning": {}}, False, "never been enabled"),
    ("encryption", {"encryption": None}, False, "No default encryption"),
    (
        "encryption",
        {
            "encryption": {
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            }
        },
        True,
        "AES256",
    ),
    (
        "encryption",
        {
            "encryption": {
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse"}}]
            }
        },
        True,
        "aws:kms:dsse",
    ),
    (
        "encryption",
        {"encryption": {"Rules": [{"BucketKeyEnabled": True}]}},
        False,
        "no default algorithm",
    ),
    ("lifecycle", {"lifecycle": None}, False, "No lifecycle"),
    ("lifecycle", {"lifecycle": [rule(30, filt={})]}, True, "30 days"),
    ("lifecycle", {"lifecycle": [rule(90, filt={"Prefix": ""})]}, True, "90 days"),
    ("lifecycle", {"lifecycle": [rule(365, filt={})]}, False, "365 days (> 90)"),
    ("lifecycle", {"lifecycle": [rule(30, filt={"Prefix": "logs/"})]}, False, "prefix 'logs/'"),
    ("lifecycle", {"lifecycle": [rule(30, Prefix="tmp/")]}, False, "prefix 'tmp/'"),
    (
        "lifecycle",
        {"lifecycle": [rule(30, filt={"Tag": {"Key": "k", "Value": "v"}})]},
        False,
        "tags k=v",
    ),
    (
        "lifecycle",
        {
            "lifecycle": [
                rule(30, filt={"And": {"Prefix": "", "Tags": [{"Key": "a", "Value": "b"}]}})
            ]
        },
        False,
        "tags a=b",
    ),
    (
        "lifecycle",
        {"lifecycle": [rule(30, filt={"ObjectSizeGreaterThan": 1024})]},
        False,
        "ObjectSizeGreaterThan 1024",
    ),
    ("lifecycle", {"lifecycle": [rule(30, status="Disabled", filt={})]}, False, "is Disabled"),
    (
        "lifecycle",
        {"lifecycle": [rule(None, filt={}, Transitions=[{"Days": 30, "StorageClass": "GLACIER"}])]},
        True,
        "30 days",
    ),
    (
        "lifecycle",
        {"lifecycle": [rule(None, Prefix="", Transition={"Days": 60, "StorageClass": "GLACIER"})]},
        True,
        "60 days",
    ),
    (
        "lifecycle",
        {"lifecycle": [rule(None, filt={}, NoncurrentVersionExpiration={"NoncurrentDays": 7})]},
        False,
        "neither expires",
    ),
    (
        "lifecycle",
        {"lifecycle": [rule(30, filt={"Prefix": "a/"}), rule(400, filt={})]},
        False,
        "400 days",
    ),
    (
        "lifecycle",
        {"lifecycle": [rule(30, filt={"Prefix": "a/"}), rule(60, filt={})]},
        True,
        "60 days",
    ),
    ("public_access", {"policy": None, "policy_status": None}, True, "No bucket policy"),
    (
        "public_access",
        {
            "policy": {
                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]
            },
            "policy_status": {"IsPublic": True},
        },
        False,
        "s3:GetObject",
    ),
    (
        "public_access",
        {
            "policy": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                        "Action": "s3:*",
                    }
                ]
            },
            "policy_status": {"IsPublic": True},
        },
        False,
        "IsPublic=true",
    ),
    (
        "public_access",
        {
            "policy": {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*"}]},
            "policy_status": {"IsPublic": False},
        },
        True,
        "No statement",
    ),
    ("cloudwatch_metrics", {"metrics": []}, False, "No request-metrics"),
    ("cloudwatch_metrics", {"metrics": [{"Id": "EntireBucket"}]}, True, "EntireBucket"),
    ("cloudwatch_metrics", {"metrics": [{"Id": "whatever-id"}]}, True, "whatever-id"),
    (
        "cloudwatch_metrics",
        {"metrics": [{"Id": "p", "Filter": {"Prefix": "x/"}}]},
        False,
        "Only filtered",
    ),
    (
        "cloudwatch_metrics",
        {"metrics": [{"Id": "p", "Filter": {"Prefix": "x/"}}, {"Id": "all"}]},
        True,
        "'all'",
    ),
]


ALL_ON = dict.fromkeys(
    ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
)
ACLS_ONLY = {"BlockPublicAcls": True, "IgnorePublicAcls": True}
POLICY_ONLY = {"BlockPublicPolicy": True, "RestrictPublicBuckets": True}
ALL_USERS = {
    "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
    "Permission": "READ",
}
AUTH_USERS = {
    "Grantee": {
        "Type": "Group",
        "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
    },
    "Permission": "WRITE",
}
OWNER = {"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "FULL_CONTROL"}
DENY_HTTP = {
    "Statement": [
        {
            "Sid": "TLS",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
}
CALLER = {"account_id": "111111111111"}


def grant(principal: object, action: object = "s3:PutBucketPolicy", **extra: object) -> dict:
    return {"Statement": [{"Effect": "Allow", "Principal": principal, "Action": action, **extra}]}


def replication_doc(*rules: dict, source: str = "us-east-1", regions: dict | None = None) -> dict:
    return {"Rules": list(rules), "SourceRegion": source, "DestinationRegions": regions or {}}


def repl_rule(bucket: str, status: str = "Enabled") -> dict:
    return {"ID": "r", "Status": status, "Destination": {"Bucket": f"arn:aws:s3:::{bucket}"}}


CASES += [
    (
        "block_public_access",
        {"public_access_block": ALL_ON, "account_public_access_block": None},
        True,
        "BlockPublicAcls (bucket)",
    ),
    (
        "block_public_access",
        {"public_access_block": None, "account_public_access_block": ALL_ON},
        True,
        "RestrictPublicBuckets (account)",
    ),
    (
        "block_public_access",
        {"public_access_block": ACLS_ONLY, "account_public_access_block": POLICY_ONLY},
        True,
        "BlockPublicPolicy (account)",
    ),
    (
        "block_public_access",
        {"public_access_block": ALL_ON, "account_public_access_block": ALL_ON},
        True,
        "(both)",
    ),
    (
        "block_public_access",
        {"public_access_block": ACLS_ONLY, "account_public_access_block": None},
        False,
        "Not effective: BlockPublicPolicy, RestrictPublicBuckets",
    ),
    (
        "block_public_access",
        {"public_access_block": None, "account_public_access_block": None},
        False,
        "BlockPublicAcls (off)",
    ),
    ("account_block_public_access", {"account_public_access_block": ALL_ON}, True, "All four"),
    (
        "account_block_public_access",
        {"account_public_access_block": POLICY_ONLY},
        False,
        "BlockPublicAcls, IgnorePublicAcls",
    ),
    (
        "account_block_public_access",
        {"account_public_access_block": None},
        False,
        "No account-level",
    ),
    ("public_acl", {"acl": {"Grants": [OWNER]}}, True, "grants nothing"),
    ("public_acl", {"acl": {"Grants": [OWNER, ALL_USERS]}}, False, "AllUsers:READ"),
    ("public_acl", {"acl": {"Grants": [AUTH_USERS]}}, False, "AuthenticatedUsers:WRITE"),
    (
        "public_acl",
        {"acl": {"Grants": [ALL_USERS]}, "public_access_block": {"IgnorePublicAcls": True}},
        True,
        "neutralised by IgnorePublicAcls (bucket)",
    ),
    (
        "public_acl",
        {"acl": {"Grants": [ALL_USERS]}, "account_public_access_block": ALL_ON},
        True,
        "IgnorePublicAcls (account)",
    ),
    (
        "public_acl",
        {"acl": {"Grants": [ALL_USERS]}, "account_public_access_block": POLICY_ONLY},
        False,
        "AllUsers",
    ),
    (
        "acls_disabled",
        {"ownership": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}},
        True,
        "BucketOwnerEnforced",
    ),
    (
        "acls_disabled",
        {"ownership": {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}},
        False,
        "ObjectWriter",
    ),
    ("acls_disabled", {"ownership": None}, False, "not configured"),
    ("ssl_only", {"policy": DENY_HTTP}, True, "'TLS'"),
    (
        "ssl_only",
        {
            "policy": {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "*",
                        "Condition": {"BoolIfExists": {"aws:SecureTransport": False}},
                    }
                ]
            }
        },
        True,
        "#0",
    ),
    ("ssl_only", {"policy": None}, False, "No bucket policy"),
    (
        "ssl_only",
        {
            "policy": {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ]
            }
        },
        False,
        "No Deny",
    ),
    (
        "ssl_only",
        {
            "policy": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ]
            }
        },
        False,
        "No Deny",
    ),
    (
        "ssl_only",
        {
            "policy": {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                    }
                ]
            }
        },
        False,
        "No Deny",
    ),
    ("cross_account", {"policy": None, "caller": CALLER}, True, "No sensitive action"),
    (
        "cross_account",
        {"policy": grant({"AWS": "arn:aws:iam::111111111111:root"}), "caller": CALLER},
        True,
        "No sensitive",
    ),
    (
        "cross_account",
        {"policy": grant({"AWS": "arn:aws:iam::222222222222:role/x"}), "caller": CALLER},
        False,
        "s3:PutBucketPolicy to 222222222222",
    ),
    (
        "cross_account",
        {"policy": grant({"AWS": "333333333333"}, "s3:Put*"), "caller": CALLER},
        False,
        "s3:PutBucketAcl",
    ),
    (
        "cross_account",
        {"policy": grant({"AWS": "222222222222"}, "s3:GetObject"), "caller": CALLER},
        True,
        "No sensitive",
    ),
    ("cross_account", {"policy": grant("*", "s3:*"), "caller": CALLER}, False, "to *"),
    (
        "cross_account",
        {
            "policy": grant({"Service": "logging.s3.amazonaws.com"}, "s3:PutObjectAcl"),
            "caller": CALLER,
        },
        True,
        "No sensitive",
    ),
    (
        "cross_account",
        {"policy": grant({"CanonicalUser": "79a59df9"}, "s3:PutObjectAcl"), "caller": CALLER},
        False,
        "canonical:79a59df9",
    ),
    (
        "cross_account",
        {
            "policy": {
                "Statement": [
                    {"Effect": "Deny", "Principal": {"AWS": "222222222222"}, "Action": "s3:*"}
                ]
            },
            "caller": CALLER,
        },
        True,
        "No sensitive",
    ),
    (
        "access_logging",
        {"logging": {"TargetBucket": "logs", "TargetPrefix": "b/"}},
        True,
        "s3://logs/b/",
    ),
    ("access_logging", {"logging": None}, False, "No LoggingEnabled"),
    ("mfa_delete", {"versioning": {"Status": "Enabled", "MFADelete": "Enabled"}}, True, "Enabled"),
    (
        "mfa_delete",
        {"versioning": {"Status": "Enabled", "MFADelete": "Disabled"}},
        False,
        "Disabled",
    ),
    ("mfa_delete", {"versioning": {}}, False, "not set"),
    ("object_lock", {"object_lock": {"ObjectLockEnabled": "Enabled"}}, True, "enabled"),
    (
        "object_lock",
        {
            "object_lock": {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}},
            }
        },
        True,
        "GOVERNANCE",
    ),
    ("object_lock", {"object_lock": None}, False, "not enabled"),
    ("replication", {"replication": None}, False, "No replication"),
    (
        "replication",
        {"replication": replication_doc(repl_rule("dr"), regions={"dr": "eu-west-1"})},
        True,
        "dr in eu-west-1",
    ),
    (
        "replication",
        {"replication": replication_doc(repl_rule("near"), regions={"near": "us-east-1"})},
        False,
        "same region",
    ),
    (
        "replication",
        {"replication": replication_doc(repl_rule("dr", "Disabled"), regions={"dr": "eu-west-1"})},
        False,
        "is Disabled",
    ),
    (
        "replication",
        {"replication": replication_doc(repl_rule("gone"), regions={"gone": "error:NoSuchBucket"})},
        False,
        "unknown (NoSuchBucket)",
    ),
    (
        "kms_encryption",
        {
            "encryption": {
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            }
        },
        True,
        "aws:kms",
    ),
    (
        "kms_encryption",
        {
            "encryption": {
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            }
        },
        False,
        "AES256",
    ),
    ("kms_encryption", {"encryption": None}, False, "absent"),
]


@pytest.mark.parametrize(("check_id", "evidence", "passed", "text"), CASES)
def test_check_verdicts(check_id: str, evidence: dict, passed: bool, text: str) -> None:
    got, reason = run(check_id, **evidence)
    assert got is passed, reason
    assert text in reason


def test_encryption_any_rule_counts_and_allowed_set_is_a_parameter() -> None:
    evidence = {
        "encryption": {
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}},
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}},
            ]
        }
    }
    assert run("encryption", **evidence)[0] is True
    kms_only = Settings(allowed_sse_algorithms=("aws:kms", "aws:kms:dsse"))
    assert run("encryption", kms_only, **evidence) == (True, "Default encryption uses aws:kms.")
    aes_only = {"encryption": {"Rules": evidence["encryption"]["Rules"][:1]}}
    passed, reason = run("encryption", kms_only, **aes_only)
    assert not passed and "AES256, not one of aws:kms, aws:kms:dsse" in reason


def test_lifecycle_limit_follows_the_parameter_in_verdict_and_violation() -> None:
    evidence = {"lifecycle": [rule(120, filt={})]}
    assert run("lifecycle", **evidence)[0] is False
    assert run("lifecycle", Settings(lifecycle_max_age_days=180), **evidence)[0] is True
    lifecycle = CATALOGUE["lifecycle"]
    assert lifecycle.violation_text(S) == "Lifecycle policy missing for objects older than 90 days"
    assert lifecycle.violation_text(Settings(lifecycle_max_age_days=30)).endswith("30 days")


VIOLATIONS = {
    "versioning": "Versioning not enabled",
    "encryption": "Server-side encryption not configured",
    "lifecycle": "Lifecycle policy missing for objects older than 90 days",
    "public_access": "Bucket policy allows public access",
    "cloudwatch_metrics": "CloudWatch metrics not configured",
}
SEVERITY = {
    "versioning": "medium",
    "encryption": "high",
    "lifecycle": "medium",
    "public_access": "critical",
    "cloudwatch_metrics": "low",
}


def test_trusted_accounts_and_log_targets_are_parameters() -> None:
    evidence = {"policy": grant({"AWS": "222222222222"}), "caller": CALLER}
    assert run("cross_account", **evidence)[0] is False
    assert run("cross_account", Settings(trusted_account_ids=("222222222222",)), **evidence)[0]
    logs = Settings(log_target_buckets=("*-access-logs",))
    assert run("access_logging", logs, logging=None, bucket="org-access-logs") == (
        True,
        "Not logged, but the bucket is a declared log target.",
    )
    assert run("access_logging", logs, logging=None, bucket="org-data")[0] is False


def test_public_acl_and_bpa_keep_their_analysis() -> None:
    verdict = CATALOGUE["public_acl"].evaluate(
        {
            "acl": {"Grants": [ALL_USERS]},
            "public_access_block": ACLS_ONLY,
            "account_public_access_block": None,
        },
        S,
    )
    assert verdict.analysis == {"public_grants": ["AllUsers:READ"], "ignore_public_acls": "bucket"}


def test_profiles_follow_the_spec() -> None:
    assert [c.id for c in select_checks("cis")] == ["block_public_access", "ssl_only", "mfa_delete"]
    fsbp = [c.id for c in select_checks("fsbp")]
    assert fsbp[:5] == list(VIOLATIONS) and len(fsbp) == 12
    assert len(select_checks("all")) == len(CATALOGUE) == 16


def test_frameworks_come_from_the_data_files() -> None:
    assert CATALOGUE["versioning"].frameworks == ["AWS-FSBP S3.14"]
    assert CATALOGUE["mfa_delete"].frameworks == ["AWS-FSBP S3.20", "CIS 2.1.2"]
    assert CATALOGUE["cloudwatch_metrics"].frameworks == []
    for fw in FRAMEWORKS.values():
        for control in fw["controls"].values():
            assert control["title"] and set(control["checks"]) <= set(CATALOGUE)


def test_mission_profile_matches_the_spec_contract() -> None:
    mission = select_checks("mission")
    assert [c.id for c in mission] == list(VIOLATIONS)
    for c in mission:
        assert c.violation_text(S) == VIOLATIONS[c.id]
        assert c.severity == SEVERITY[c.id]


@pytest.mark.parametrize("check_id", list(CATALOGUE))
def test_every_check_has_metadata_and_pass_and_fail_tests(check_id: str) -> None:
    c = CATALOGUE[check_id]
    assert c.title and c.remediation and c.violation
    assert c.severity in SEVERITIES
    assert c.description, "a check's docstring says why it matters"
    assert all(p.startswith("s3:") for p in c.permissions)
    assert c.permissions or c.documents == ("caller",)
    assert all(d in DOCUMENTS for d in c.documents)
    outcomes = {passed for cid, _, passed, _ in CASES if cid == check_id}
    assert outcomes == {True, False}, "each check needs at least one PASS and one FAIL case"
    assert inspect.signature(c.fn).parameters.keys().__len__() == 2


def test_documents_needed_are_distinct_and_ordered() -> None:
    docs = documents_needed(select_checks("mission"))
    assert docs == ["versioning", "encryption", "lifecycle", "policy", "policy_status", "metrics"]
    assert documents_needed(select_checks(ids=["public_access"])) == ["policy", "policy_status"]


def test_explicit_check_list_wins_over_profile_and_keeps_catalogue_order() -> None:
    chosen = select_checks("mission", ["cloudwatch_metrics", "versioning"])
    assert [c.id for c in chosen] == ["versioning", "cloudwatch_metrics"]
    assert set(PROFILES["mission"]) <= set(CATALOGUE)


def test_registry_rejects_duplicates_bad_severity_and_unknown_documents() -> None:
    def fn(ev: Any, s: Settings) -> Any:  # pragma: no cover - never registered
        raise AssertionError

    common = {"title": "t", "violation": "v", "remediation": "r"}
    with pytest.raises(ValueError, match="registered twice"):
        check(id="versioning", severity="low", documents=("versioning",), **common)(fn)
    with pytest.raises(ValueError, match="unknown severity"):
        check(id="x-new", severity="urgent", documents=("versioning",), **common)(fn)
    with pytest.raises(ValueError, match="unknown evidence documents"):
        check(id="x-new", severity="low", documents=("nope",), **common)(fn)
    assert "x-new" not in CATALOGUE


# Required and corroborating documents (issue 10, 4): a verdict proven from what was read stands.
DENIED_BUCKET_BPA = Unreadable("public_access_block", "AccessDenied")
DENIED_ACCOUNT_BPA = Unreadable("account_public_access_block", "AccessDenied")
DENIED_STATUS = Unreadable("policy_status", "AccessDenied")
PUBLIC_POLICY = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}
PINNED_POLICY = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}},
        }
    ]
}


def verdict_of(check_id: str, **evidence: Any) -> Verdict:
    c = CATALOGUE[check_id]
    return c.evaluate({d: None for d in c.documents} | {"bucket": "b"} | evidence, S)


@pytest.mark.parametrize(
    ("check_id", "evidence", "expected", "needs"),
    [
        ("public_access", {"policy": PUBLIC_POLICY, "policy_status": DENIED_STATUS}, False, ""),
        (
            "public_access",
            {"policy": PINNED_POLICY, "policy_status": DENIED_STATUS},
            None,
            "policy_status",
        ),
        ("public_access", {"policy": None, "policy_status": DENIED_STATUS}, True, ""),
        (
            "block_public_access",
            {"public_access_block": ALL_ON, "account_public_access_block": DENIED_ACCOUNT_BPA},
            True,
            "",
        ),
        (
            "block_public_access",
            {"public_access_block": None, "account_public_access_block": DENIED_ACCOUNT_BPA},
            None,
            "account_public_access_block",
        ),
        ("public_acl", {"acl": {"Grants": []}, "public_access_block": DENIED_BUCKET_BPA}, True, ""),
        (
            "public_acl",
            {
                "acl": {"Grants": [ALL_USERS]},
                "public_access_block": DENIED_BUCKET_BPA,
                "account_public_access_block": ALL_ON,
            },
            True,
            "",
        ),
        (
            "public_acl",
            {
                "acl": {"Grants": [ALL_USERS]},
                "public_access_block": None,
                "account_public_access_block": DENIED_ACCOUNT_BPA,
            },
            None,
            "account_public_access_block",
        ),
        (
            "public_acl",
            {
                "acl": {"Grants": [ALL_USERS]},
                "public_access_block": DENIED_BUCKET_BPA,
                "account_public_access_block": None,
            },
            None,
            "public_access_block",
        ),
    ],
)
def test_a_corroborating_document_changes_only_the_verdicts_it_could_change(
    check_id: str, evidence: dict, expected: bool | None, needs: str
) -> None:
    verdict = verdict_of(check_id, **evidence)
    assert (verdict.passed, verdict.needs) == (expected, needs), verdict.reason


def test_declared_required_and_corroborating_documents() -> None:
    declared = {c.id: (c.required, c.corroborating) for c in CATALOGUE.values() if c.corroborating}
    assert declared == {
        "public_access": (("policy",), ("policy_status",)),
        "block_public_access": (("public_access_block",), ("account_public_access_block",)),
        "public_acl": (("acl",), ("public_access_block", "account_public_access_block")),
    }
    with pytest.raises(ValueError, match="corroborating documents must be some of its documents"):
        check(
            id="x-corroborating",
            title="t",
            severity="low",
            documents=("versioning",),
            corroborating=("versioning",),
            violation="v",
            remediation="r",
        )(lambda ev, s: Verdict(True, "ok"))
