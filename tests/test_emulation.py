"""The testing-support emulation of the S3 metrics API, and fault injection."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from s3compliance.testing.emulation import (
    LIST_PAGE_SIZE,
    MAX_CONFIGURATIONS,
    MetricsEmulator,
    bucket_of,
)


def test_put_get_list_delete_round_trip_through_botocore(account) -> None:
    s3 = account.session.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="metrics-bucket")
    config = {
        "Id": "docs",
        "Filter": {"And": {"Prefix": "docs/", "Tags": [{"Key": "k", "Value": "v"}]}},
    }
    s3.put_bucket_metrics_configuration(
        Bucket="metrics-bucket", Id="docs", MetricsConfiguration=config
    )
    got = s3.get_bucket_metrics_configuration(Bucket="metrics-bucket", Id="docs")
    assert got["MetricsConfiguration"] == config
    listed = s3.list_bucket_metrics_configurations(Bucket="metrics-bucket")
    assert listed["MetricsConfigurationList"] == [config] and listed["IsTruncated"] is False
    s3.delete_bucket_metrics_configuration(Bucket="metrics-bucket", Id="docs")
    with pytest.raises(ClientError, match="NoSuchConfiguration"):
        s3.get_bucket_metrics_configuration(Bucket="metrics-bucket", Id="docs")
    # the DELETE ?metrics was answered here, never seen by moto as DeleteBucket
    assert s3.head_bucket(Bucket="metrics-bucket")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_list_pages_by_continuation_token(account) -> None:
    s3 = account.session.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="many-metrics")
    ids = [f"id-{i:03d}" for i in range(LIST_PAGE_SIZE + 20)]
    for i in ids:
        s3.put_bucket_metrics_configuration(
            Bucket="many-metrics", Id=i, MetricsConfiguration={"Id": i}
        )
    first = s3.list_bucket_metrics_configurations(Bucket="many-metrics")
    assert first["IsTruncated"] and len(first["MetricsConfigurationList"]) == LIST_PAGE_SIZE
    second = s3.list_bucket_metrics_configurations(
        Bucket="many-metrics", ContinuationToken=first["NextContinuationToken"]
    )
    assert (
        not second["IsTruncated"] and second["ContinuationToken"] == first["NextContinuationToken"]
    )
    got = [c["Id"] for c in first["MetricsConfigurationList"] + second["MetricsConfigurationList"]]
    assert got == ids


def test_errors_of_the_real_api(account) -> None:
    s3 = account.session.client("s3", region_name="us-east-1")
    with pytest.raises(ClientError, match="NoSuchBucket"):
        s3.list_bucket_metrics_configurations(Bucket="no-such-bucket")
    s3.create_bucket(Bucket="full-bucket")
    account.metrics._store["full-bucket"] = {f"i{n}": "<x/>" for n in range(MAX_CONFIGURATIONS)}
    with pytest.raises(ClientError, match="TooManyConfigurations"):
        s3.put_bucket_metrics_configuration(
            Bucket="full-bucket", Id="one-more", MetricsConfiguration={"Id": "one-more"}
        )
    assert "one-more" not in account.metrics.configurations("full-bucket")


def test_put_with_mismatched_id_is_rejected() -> None:
    class Request:
        url = "https://b.s3.amazonaws.com/?metrics&id=a"
        body = b"<MetricsConfiguration><Id>b</Id></MetricsConfiguration>"

    response = MetricsEmulator()(Request(), "before-send.s3.PutBucketMetricsConfiguration")
    assert response.status_code == 400


def test_other_operations_pass_through() -> None:
    assert MetricsEmulator()(object(), "before-send.s3.GetBucketVersioning") is None


def test_fault_injection_counts_down(account) -> None:
    s3 = account.clients().s3()  # botocore's own retries are off there
    s3.create_bucket(Bucket="flaky")
    account.faults.fail("flaky", "GetBucketVersioning", "InternalError", times=1)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_versioning(Bucket="flaky")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert s3.get_bucket_versioning(Bucket="flaky")["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize(
    ("url", "bucket"),
    [
        ("https://my-bucket.s3.amazonaws.com/?metrics", "my-bucket"),
        ("https://my-bucket.s3.eu-west-1.amazonaws.com/?metrics", "my-bucket"),
        ("http://127.0.0.1:5000/dotted.bucket.name?metrics", "dotted.bucket.name"),
    ],
)
def test_bucket_of(url: str, bucket: str) -> None:
    assert bucket_of(url) == bucket


def test_mfa_delete_is_remembered_and_reported(account) -> None:
    from s3compliance.testing.emulation import MfaDeleteEmulator

    MfaDeleteEmulator().install(account.session)
    s3 = account.session.client("s3", region_name="us-east-1")
    for name in ("mfa-on", "mfa-off"):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(
        Bucket="mfa-on",
        VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"},
        MFA="arn:aws:iam::123456789012:mfa/root 123456",
    )
    s3.put_bucket_versioning(Bucket="mfa-off", VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket="mfa-on")["MFADelete"] == "Enabled"
    assert "MFADelete" not in s3.get_bucket_versioning(Bucket="mfa-off")
    with pytest.raises(ClientError):
        s3.get_bucket_versioning(Bucket="no-such-bucket-here")


def test_the_bucket_a_request_addresses() -> None:
    """Virtual-host requests name the bucket in the host (even one whose name starts with s3),
    path-style ones in the first path segment (moto server, s3.<region>.amazonaws.com)."""
    from s3compliance.testing.emulation import bucket_of

    assert bucket_of("https://s3-compat-a.s3.amazonaws.com/?metrics") == "s3-compat-a"
    assert bucket_of("https://archive.s3.us-west-2.amazonaws.com/runs/r1/findings.json") == (
        "archive"
    )
    assert bucket_of("https://s3.amazonaws.com/bkt/key") == "bkt"
    assert bucket_of("https://s3.eu-west-1.amazonaws.com/b2/a/b") == "b2"
    assert bucket_of("http://127.0.0.1:5000/local%2Dbucket/k") == "local-bucket"
