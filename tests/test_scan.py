"""The scan end to end on moto: verdicts, ERROR paths, retries, call counts, read-only."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import Stubber
from moto import mock_aws

from s3compliance.scan.aws import Clients
from s3compliance.scan.run import run_scan
from s3compliance.scan.scanner import BUCKET_COLUMNS, FINDING_COLUMNS, ScanAborted, bucket_severity

MISSION_DOCUMENT_APIS = {
    "GetBucketVersioning": "versioning",
    "GetBucketEncryption": "encryption",
    "GetBucketLifecycleConfiguration": "lifecycle",
    "GetBucketPolicy": "public_access",
    "ListBucketMetricsConfigurations": "cloudwatch_metrics",
}
# GetBucketPolicyStatus only corroborates public_access: see the test of corroborating documents.
MISSION_FETCHED_APIS = (*MISSION_DOCUMENT_APIS, "GetBucketPolicyStatus")
NO_SLEEP = {"sleep": lambda _s: None}


def statuses(result, bucket: str) -> dict[str, str]:
    rows = result.findings[result.findings["bucket"] == bucket]
    return dict(zip(rows["check_id"], rows["status"], strict=True))


def test_frames_follow_the_findings_contract(account, params) -> None:
    account.compliant_bucket("good-bucket")
    account.bucket("bare-bucket")
    result = run_scan(params, clients=account.clients(), **NO_SLEEP)
    assert list(result.findings.columns) == FINDING_COLUMNS
    assert list(result.buckets.columns) == BUCKET_COLUMNS
    assert result.account_id == "123456789012"
    good = result.buckets.set_index("bucket").loc["good-bucket"]
    assert (good["status"], good["violation_count"], good["bucket_severity"]) == (
        "compliant",
        0,
        "none",
    )
    bare = result.buckets.set_index("bucket").loc["bare-bucket"]
    assert bare["status"] == "non_compliant"
    assert bare["violations"] == [
        "Versioning not enabled",
        "Server-side encryption not configured",
        "Lifecycle policy missing for objects older than 90 days",
        "CloudWatch metrics not configured",
    ]
    assert bare["bucket_severity"] == "high"
    assert bare["bucket_arn"] == "arn:aws:s3:::bare-bucket"
    row = result.findings.iloc[0]
    assert row["frameworks"] == ["AWS-FSBP S3.14"] and row["remediation"]
    assert isinstance(row["evidence"], dict) and "versioning" in row["evidence"]
    assert result.summary() == {
        "total_buckets": 2,
        "compliant_buckets": 1,
        "non_compliant_buckets": 1,
        "unknown_buckets": 0,
        "accepted_buckets": 0,
        "accepted_findings": 0,
        "high_severity_buckets": 1,
        "failed_accounts": 0,
        "truncated_listings": 0,
        "by_check": {
            c: {"PASS": 1, "FAIL": 1, "ERROR": 0}
            for c in ("versioning", "encryption", "lifecycle", "cloudwatch_metrics")
        }
        | {"public_access": {"PASS": 2, "FAIL": 0, "ERROR": 0}},
    }


def test_one_call_per_document_per_bucket_and_nothing_but_reads(account, params) -> None:
    for i in range(5):
        account.compliant_bucket(f"bucket-{i}")
    clients = account.clients()
    result = run_scan(params, clients=clients, **NO_SLEEP)
    per_bucket = clients.recorder.by_bucket_operation
    for i in range(5):
        for api in MISSION_FETCHED_APIS:
            assert per_bucket[(f"bucket-{i}", api)] == 1, api
    assert result.api_calls == {"sts:GetCallerIdentity": 1, "ListBuckets": 1} | dict.fromkeys(
        MISSION_FETCHED_APIS, 5
    )
    assert all(op.split(":")[-1].startswith(("Get", "List")) for op in clients.recorder.operations)
    assert clients.recorder.total == 2 + 6 * 5


def test_metrics_listing_follows_continuation_tokens(account, params) -> None:
    filtered = [{"Id": f"prefix-{i:03d}", "Filter": {"Prefix": f"p{i}/"}} for i in range(120)]
    account.bucket("many-metrics", metrics=[*filtered, {"Id": "zz-whole-bucket"}])
    account.bucket("only-filtered", metrics=filtered)
    clients = account.clients()
    result = run_scan(replace(params, checks=["cloudwatch_metrics"]), clients=clients, **NO_SLEEP)
    assert statuses(result, "many-metrics") == {"cloudwatch_metrics": "PASS"}
    assert statuses(result, "only-filtered") == {"cloudwatch_metrics": "FAIL"}
    assert (
        clients.recorder.by_bucket_operation[("many-metrics", "ListBucketMetricsConfigurations")]
        == 2
    )


def test_only_the_documents_the_enabled_checks_need_are_fetched(account, params) -> None:
    account.compliant_bucket("only-one")
    clients = account.clients()
    run_scan(replace(params, checks=["versioning"]), clients=clients, **NO_SLEEP)
    assert clients.recorder.operations == {
        "ListBuckets",
        "sts:GetCallerIdentity",
        "GetBucketVersioning",
    }


@pytest.mark.parametrize("api", sorted(MISSION_DOCUMENT_APIS))
def test_access_denied_on_one_document_errors_only_its_checks(account, params, api) -> None:
    account.compliant_bucket("denied-bucket")
    account.compliant_bucket("other-bucket")
    account.faults.fail("denied-bucket", api, "AccessDenied")
    result = run_scan(params, clients=account.clients(), **NO_SLEEP)
    denied = statuses(result, "denied-bucket")
    broken = MISSION_DOCUMENT_APIS[api]
    assert denied[broken] == "ERROR"
    assert all(s == "PASS" for c, s in denied.items() if c != broken)
    assert set(statuses(result, "other-bucket").values()) == {"PASS"}
    row = result.findings[
        (result.findings["bucket"] == "denied-bucket") & (result.findings["check_id"] == broken)
    ].iloc[0]
    assert row["error_code"] == "AccessDenied" and row["violation"] == ""
    assert api in row["reason"]
    bucket = result.buckets.set_index("bucket").loc["denied-bucket"]
    assert (bucket["status"], bucket["error_count"]) == ("unknown", 1)


def test_error_never_counts_as_compliant_and_fail_wins_over_error(account, params) -> None:
    account.bucket("fails-and-errors")
    account.faults.fail("fails-and-errors", "GetBucketPolicy", "AccessDenied")
    result = run_scan(params, clients=account.clients(), **NO_SLEEP)
    row = result.buckets.iloc[0]
    assert (row["status"], row["error_count"], row["violation_count"]) == ("non_compliant", 1, 4)


def test_bucket_deleted_between_listing_and_checking(account, params) -> None:
    account.compliant_bucket("stays")
    account.compliant_bucket("vanishes")

    def delete_after_listing(**_kwargs) -> None:
        account.s3.delete_bucket(Bucket="vanishes")

    clients = account.clients()
    clients.s3("us-east-1").meta.events.register("after-call.s3.ListBuckets", delete_after_listing)
    result = run_scan(params, clients=clients, **NO_SLEEP)
    gone = result.findings[result.findings["bucket"] == "vanishes"]
    assert set(gone["status"]) == {"ERROR"} and set(gone["error_code"]) == {"NoSuchBucket"}
    assert result.buckets.set_index("bucket").loc["vanishes", "status"] == "unknown"
    assert set(statuses(result, "stays").values()) == {"PASS"}


def test_throttled_then_recovered_is_pass_and_counted(account, params) -> None:
    account.compliant_bucket("throttled")
    account.faults.fail("throttled", "GetBucketVersioning", "SlowDown", times=2)
    slept: list[float] = []
    result = run_scan(params, clients=account.clients(), sleep=slept.append)
    assert statuses(result, "throttled")["versioning"] == "PASS"
    assert result.retries == 2 and len(slept) == 2


def test_throttled_past_the_attempts_becomes_error(account, params) -> None:
    account.compliant_bucket("throttled")
    account.faults.fail("throttled", "GetBucketEncryption", "SlowDown")
    result = run_scan(replace(params, retry_attempts=4), clients=account.clients(), **NO_SLEEP)
    row = result.findings[result.findings["check_id"] == "encryption"].iloc[0]
    assert (row["status"], row["error_code"]) == ("ERROR", "SlowDown")
    assert result.retries == 3
    assert result.api_calls["GetBucketEncryption"] == 4


def test_unknown_location_makes_every_check_error(account, params) -> None:
    account.compliant_bucket("nowhere")
    account.faults.fail("nowhere", "GetBucketLocation", "AccessDenied")
    result = run_scan(replace(params, regions=["*"]), clients=account.clients(), **NO_SLEEP)
    assert set(result.findings["status"]) == {"ERROR"}
    assert "GetBucketLocation" in result.findings.iloc[0]["reason"]


def test_buckets_in_other_regions_are_scanned_with_their_own_client(account, params) -> None:
    account.compliant_bucket("east-bucket")
    account.compliant_bucket("frankfurt-bucket", region="eu-central-1")
    clients = account.clients()
    result = run_scan(
        replace(params, regions=["us-east-1", "eu-central-1"]), clients=clients, **NO_SLEEP
    )
    assert set(result.findings["status"]) == {"PASS"}
    assert result.buckets.set_index("bucket").loc["frankfurt-bucket", "region"] == "eu-central-1"
    assert ("s3", "eu-central-1") in clients._clients


def test_partition_aware_arn(params) -> None:
    with mock_aws():
        session = boto3.Session(region_name="cn-north-1")
        session.client("s3", region_name="cn-north-1").create_bucket(
            Bucket="china-bucket", CreateBucketConfiguration={"LocationConstraint": "cn-north-1"}
        )
        result = run_scan(
            replace(params, regions=["cn-north-1"], checks=["versioning"]),
            clients=Clients(session),
            **NO_SLEEP,
        )
    assert result.buckets.iloc[0]["bucket_arn"] == "arn:aws-cn:s3:::china-bucket"


def test_sts_unavailable_gives_unknown_account(account, params) -> None:
    account.compliant_bucket("b-one")
    clients = account.clients()
    with Stubber(clients.sts()) as stub:
        stub.add_client_error("get_caller_identity", "AccessDenied", http_status_code=403)
        result = run_scan(params, clients=clients, **NO_SLEEP)
    assert result.account_id == "unknown"
    assert set(result.findings["account_id"]) == {"unknown"}


def test_listing_denied_aborts_with_a_clear_message(account, params) -> None:
    clients = account.clients()
    with (
        Stubber(clients.s3()) as stub,
        pytest.raises(ScanAborted, match="cannot list the account's buckets: AccessDenied"),
    ):
        stub.add_client_error("list_buckets", "AccessDenied", http_status_code=403)
        run_scan(params, clients=clients, **NO_SLEEP)


def test_no_credentials_is_raised_for_the_caller(params, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(NoCredentialsError):
        run_scan(params, **NO_SLEEP)


def test_empty_account(account, params) -> None:
    result = run_scan(params, clients=account.clients(), progress=True, **NO_SLEEP)
    assert result.buckets.empty and result.findings.empty
    assert result.summary()["total_buckets"] == 0 and result.summary()["by_check"] == {}


@pytest.mark.parametrize(
    ("count", "threshold", "expected"),
    [
        (0, 3, "none"),
        (1, 3, "low"),
        (2, 3, "medium"),
        (3, 3, "high"),
        (5, 3, "high"),
        (2, 2, "high"),
        (1, 1, "high"),
    ],
)
def test_bucket_severity(count: int, threshold: int, expected: str) -> None:
    assert bucket_severity(count, threshold) == expected


ALL_FLAGS = dict.fromkeys(
    ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
)


def test_account_level_bpa_covers_every_bucket_and_is_read_once(account, params) -> None:
    for i in range(3):
        account.bucket(f"covered-{i}")
    account.session.client("s3control", region_name="us-east-1").put_public_access_block(
        AccountId="123456789012", PublicAccessBlockConfiguration=ALL_FLAGS
    )
    clients = account.clients()
    checks = ["block_public_access", "account_block_public_access"]
    result = run_scan(replace(params, checks=checks), clients=clients, **NO_SLEEP)
    assert set(result.findings["status"]) == {"PASS"}
    assert "BlockPublicAcls (account)" in result.findings.iloc[0]["reason"]
    assert result.account_findings[["check_id", "status"]].values.tolist() == [
        ["account_block_public_access", "PASS"]
    ]
    assert clients.recorder.by_operation["s3control:GetPublicAccessBlock"] == 1
    assert clients.recorder.by_operation["GetPublicAccessBlock"] == 3


def test_account_without_bpa_configured(account, params) -> None:
    account.bucket("lonely-bucket")
    account.s3.put_public_access_block(
        Bucket="lonely-bucket", PublicAccessBlockConfiguration=ALL_FLAGS
    )
    account.bucket("open-bucket")
    checks = ["block_public_access", "account_block_public_access"]
    result = run_scan(replace(params, checks=checks), clients=account.clients(), **NO_SLEEP)
    assert statuses(result, "lonely-bucket") == {"block_public_access": "PASS"}
    assert statuses(result, "open-bucket") == {"block_public_access": "FAIL"}
    row = result.account_findings.iloc[0]
    assert (row["status"], row["reason"]) == (
        "FAIL",
        "No account-level Block Public Access configuration.",
    )
    assert result.summary()["by_check"]["account_block_public_access"]["FAIL"] == 1


def test_unknown_account_makes_account_documents_error(account, params) -> None:
    account.bucket("some-bucket", policy=None)
    clients = account.clients()
    checks = ["cross_account", "account_block_public_access", "versioning"]
    with Stubber(clients.sts()) as stub:
        stub.add_client_error("get_caller_identity", "AccessDenied", http_status_code=403)
        result = run_scan(replace(params, checks=checks), clients=clients, **NO_SLEEP)
    assert statuses(result, "some-bucket") == {"versioning": "FAIL", "cross_account": "ERROR"}
    assert result.account_findings.iloc[0]["error_code"] == "AccountIdUnknown"
    assert "s3control:GetPublicAccessBlock" not in clients.recorder.operations


def test_replication_destinations_are_located_once(account, params) -> None:
    account.bucket("dr-target", region="eu-west-1", versioning="Enabled")
    account.bucket("near-target", versioning="Enabled")
    rule = {
        "ID": "dr",
        "Status": "Enabled",
        "Priority": 1,
        "Filter": {},
        "DeleteMarkerReplication": {"Status": "Disabled"},
    }
    for name, target in (("src-a", "dr-target"), ("src-b", "dr-target"), ("src-c", "near-target")):
        account.bucket(name, versioning="Enabled")
        account.s3.put_bucket_replication(
            Bucket=name,
            ReplicationConfiguration={
                "Role": "arn:aws:iam::123456789012:role/r",
                "Rules": [{**rule, "Destination": {"Bucket": f"arn:aws:s3:::{target}"}}],
            },
        )
    clients = account.clients()
    result = run_scan(replace(params, checks=["replication"]), clients=clients, **NO_SLEEP)
    assert statuses(result, "src-a") == statuses(result, "src-b") == {"replication": "PASS"}
    assert statuses(result, "src-c") == {"replication": "FAIL"}
    # near-target was discovered (us-east-1); dr-target was looked up once for both sources
    assert clients.recorder.by_bucket_operation[("dr-target", "GetBucketLocation")] == 1
    assert clients.recorder.by_bucket_operation[("near-target", "GetBucketLocation")] == 0
    evidence = result.findings.set_index("bucket").loc["src-a", "evidence"]["replication"]
    assert evidence["DestinationRegions"] == {"dr-target": "eu-west-1"}


def _replicate(account, source: str, target: str) -> None:
    account.bucket(source, versioning="Enabled")
    account.s3.put_bucket_replication(
        Bucket=source,
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/r",
            "Rules": [
                {
                    "ID": "x",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{target}"},
                }
            ],
        },
    )


def test_a_foreign_destination_is_located_by_head_bucket_even_when_refused(account, params):
    """GetBucketLocation on another account's bucket is refused; HeadBucket answers 403 with the
    bucket's region in ``x-amz-bucket-region`` (S3 API reference, HeadBucket)."""
    account.bucket("their-bucket", region="eu-west-1", versioning="Enabled")
    _replicate(account, "src-x", "their-bucket")
    account.faults.fail("their-bucket", "GetBucketLocation", "AccessDenied")
    account.faults.fail(
        "their-bucket", "HeadBucket", "AccessDenied", headers={"x-amz-bucket-region": "eu-west-1"}
    )
    params = replace(params, checks=["replication"], include=["src-*"])
    clients = account.clients()
    result = run_scan(params, clients=clients, **NO_SLEEP)
    row = result.findings.iloc[0]
    assert row["status"] == "PASS" and "their-bucket in eu-west-1" in row["reason"]
    assert clients.recorder.by_bucket_operation[("their-bucket", "HeadBucket")] == 1


def test_a_destination_whose_region_stays_hidden_is_error_not_fail(account, params) -> None:
    account.bucket("hidden", versioning="Enabled")
    _replicate(account, "src-h", "hidden")
    account.faults.fail("hidden", "GetBucketLocation", "AccessDenied")
    account.faults.fail("hidden", "HeadBucket", "AccessDenied")  # no region header
    params = replace(params, checks=["replication"], include=["src-*"])
    row = run_scan(params, clients=account.clients(), **NO_SLEEP).findings.iloc[0]
    assert (row["status"], row["error_code"]) == ("ERROR", "AccessDenied")
    assert row["violation"] == ""


def test_a_destination_that_does_not_exist_fails(account, params) -> None:
    _replicate(account, "src-gone", "gone-bucket")
    account.faults.fail("gone-bucket", "GetBucketLocation", "NoSuchBucket")
    params = replace(params, checks=["replication"], include=["src-*"])
    row = run_scan(params, clients=account.clients(), **NO_SLEEP).findings.iloc[0]
    assert (
        row["status"] == "FAIL" and "region of gone-bucket unknown (NoSuchBucket)" in row["reason"]
    )


def test_a_throttled_location_lookup_is_retried_never_cached_never_fail(account, params) -> None:
    """Issue 10, 5: SlowDown that outlives its retries is ERROR for the bucket that asked, and the
    next bucket asking for the same destination looks again (and here succeeds)."""
    account.bucket("dr-copy", region="eu-west-1", versioning="Enabled")
    _replicate(account, "src-1", "dr-copy")
    _replicate(account, "src-2", "dr-copy")
    account.faults.fail("dr-copy", "GetBucketLocation", "SlowDown", times=3)  # = retry_attempts
    params = replace(params, checks=["replication"], include=["src-*"], max_workers=1)
    clients = account.clients(max_workers=1)
    result = run_scan(params, clients=clients, **NO_SLEEP)
    by_bucket = result.findings.set_index("bucket")
    assert (by_bucket.loc["src-1", "status"], by_bucket.loc["src-1", "error_code"]) == (
        "ERROR",
        "SlowDown",
    )
    assert by_bucket.loc["src-2", "status"] == "PASS"
    assert clients.recorder.by_bucket_operation[("dr-copy", "GetBucketLocation")] == 4
    assert result.retries >= 2


def test_public_access_keeps_both_verdicts_in_the_evidence(account, params) -> None:
    tls_only = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::tls-only/*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ]
    }
    account.bucket("tls-only", policy=tls_only)
    result = run_scan(
        replace(params, checks=["public_access"]), clients=account.clients(), **NO_SLEEP
    )
    row = result.findings.iloc[0]
    assert row["status"] == "FAIL" and "(S3's IsPublic says false)" in row["reason"]
    analysis = row["evidence"]["analysis"]
    assert (analysis["evaluator_public"], analysis["policy_status_is_public"]) == (True, False)
    assert [(s["statement"], s["public"]) for s in analysis["statements"]] == [("#0", True)]
    assert analysis["statements"][0]["conditions"] == ["Bool aws:SecureTransport = true"]


def test_framework_summary_rolls_findings_up_per_control(account, params) -> None:
    account.compliant_bucket("good-one")
    account.bucket("bare-one")
    result = run_scan(params, clients=account.clients(), **NO_SLEEP)
    summary = result.framework_summary().set_index("control")
    assert summary.loc["S3.14", ["PASS", "FAIL", "ERROR"]].tolist() == [1, 1, 0]
    assert summary.loc["S3.2", "checks"] == "public_access"  # public_acl did not run
    assert summary.loc["S3.14", "pass_rate"] == 0.5
    assert "S3.5" not in summary.index  # ssl_only did not run


def test_a_check_that_breaks_on_odd_evidence_is_error_not_a_crash(account, params, caplog):
    account.compliant_bucket("odd-bucket")
    account.s3.put_bucket_lifecycle_configuration(
        Bucket="odd-bucket",
        LifecycleConfiguration={
            "Rules": [{"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 30}}]
        },
    )
    from s3compliance.checks import CATALOGUE

    lifecycle = CATALOGUE["lifecycle"]

    def broken(ev, settings):
        raise KeyError("Days")

    object.__setattr__(lifecycle, "fn", broken)
    try:
        result = run_scan(params, clients=account.clients(), **NO_SLEEP)
    finally:
        from s3compliance.checks import mission

        object.__setattr__(lifecycle, "fn", mission.lifecycle)
    row = result.findings.set_index("check_id").loc["lifecycle"]
    assert (row["status"], row["error_code"]) == ("ERROR", "CheckFailed")
    assert "KeyError" in row["reason"] and "lifecycle" in row["evidence"]
    assert statuses(result, "odd-bucket")["versioning"] == "PASS"
    assert "check lifecycle failed on bucket odd-bucket" in caplog.text


PUBLIC_READ = {
    "Statement": [
        {
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::{name}/*",
        }
    ]
}


def _policy(name: str, **condition: Any) -> dict:
    statement = {**PUBLIC_READ["Statement"][0], "Resource": f"arn:aws:s3:::{name}/*"}
    if condition:
        statement["Condition"] = condition
    return {"Statement": [statement]}


def test_an_unreadable_policy_status_never_flips_a_proven_verdict(account, params) -> None:
    """Issue 10, 4: the policy is required, GetBucketPolicyStatus only corroborates."""
    account.bucket("plainly-public", policy=_policy("plainly-public"))
    account.bucket(
        "reads-private",
        policy=_policy("reads-private", StringEquals={"aws:SourceVpce": "vpce-1"}),
    )
    account.bucket("no-policy")
    for name in ("plainly-public", "reads-private", "no-policy"):
        account.faults.fail(name, "GetBucketPolicyStatus", "AccessDenied")
    result = run_scan(
        replace(params, checks=["public_access"]), clients=account.clients(), **NO_SLEEP
    )
    rows = result.findings.set_index("bucket")
    assert rows.loc["plainly-public", "status"] == "FAIL"  # the policy proves it
    assert "statement 'PublicRead'" in rows.loc["plainly-public", "reason"]
    assert rows.loc["plainly-public", "evidence"]["unreadable"] == {
        "policy_status": {"api": "GetBucketPolicyStatus", "error_code": "AccessDenied"}
    }
    private = rows.loc["reads-private"]
    assert (private["status"], private["error_code"]) == ("ERROR", "AccessDenied")
    assert (
        "IsPublic is unknown" in private["reason"] and "GetBucketPolicyStatus" in private["reason"]
    )
    assert rows.loc["no-policy", "status"] == "PASS"
    assert result.buckets.set_index("bucket").loc["reads-private", "status"] == "unknown"


def test_an_endpoint_that_does_not_implement_an_api_costs_one_call_per_bucket(account, params):
    """Issue 10, 6: 501 NotImplemented (an S3-compatible endpoint without the metrics API) is
    not retried: one call per bucket, ERROR, and the other checks unaffected."""
    for name in ("s3-compat-a", "s3-compat-b"):
        account.compliant_bucket(name)
        account.faults.fail(name, "ListBucketMetricsConfigurations", "NotImplemented")
    clients = account.clients()
    result = run_scan(params, clients=clients, **NO_SLEEP)
    for name in ("s3-compat-a", "s3-compat-b"):
        assert clients.recorder.by_bucket_operation[(name, "ListBucketMetricsConfigurations")] == 1
        assert statuses(result, name)["cloudwatch_metrics"] == "ERROR"
        assert statuses(result, name)["versioning"] == "PASS"
    assert result.retries == 0


def test_location_lookup_outcomes_facts_are_cached_failures_are_not(account) -> None:
    """What LocationCache keeps (a region, a bucket that does not exist) and what it refuses to
    keep (connection failures, a HeadBucket that cannot answer)."""
    from botocore.exceptions import ConnectionClosedError

    from s3compliance.scan.evidence import LocationCache, RegionUnknown
    from s3compliance.scan.retry import RetryPolicy

    retry = RetryPolicy(1, 0, sleep=lambda _s: None)
    client = account.s3
    cache = LocationCache(retry=retry)
    assert cache.region(client, "never-created") == "error:NoSuchBucket"
    # refused location, and HeadBucket finds no such bucket: a fact too
    account.faults.fail("ghost-bucket", "GetBucketLocation", "AccessDenied")
    assert cache.region(client, "ghost-bucket") == "error:404"

    def drop(request: Any, **_: Any) -> None:
        raise ConnectionClosedError(endpoint_url=request.url)

    account.bucket("flaky-net")
    account.faults.fail("flaky-net", "GetBucketLocation", "AccessDenied")
    client.meta.events.register_first("before-send.s3.HeadBucket", drop)
    with pytest.raises(RegionUnknown, match="ConnectionClosedError"):
        cache.region(client, "flaky-net")
    client.meta.events.unregister("before-send.s3.HeadBucket", drop)
    client.meta.events.register_first("before-send.s3.GetBucketLocation", drop)
    with pytest.raises(RegionUnknown, match="ConnectionClosedError"):
        cache.region(client, "flaky-net")  # not cached: asked again, failed again
    client.meta.events.unregister("before-send.s3.GetBucketLocation", drop)
