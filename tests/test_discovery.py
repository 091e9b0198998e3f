"""Discovery: paginated ListBuckets, server-side region filter, regions, name patterns."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from s3compliance.scan.aws import Clients
from s3compliance.scan.discovery import discover_buckets, matches, normalise_location
from s3compliance.scan.retry import RetryPolicy

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RETRY = RetryPolicy(attempts=2, max_wait_s=0, sleep=lambda _s: None)


def page(names: list[str], token: str | None = None, region: str | None = None) -> dict:
    buckets = [{"Name": n, "CreationDate": NOW} for n in names]
    if region:
        for b in buckets:
            b["BucketRegion"] = region
    return {"Buckets": buckets, **({"ContinuationToken": token} if token else {})}


def stubbed_clients() -> tuple[Clients, Stubber]:
    clients = Clients(boto3.Session(region_name="us-east-1"))
    return clients, Stubber(clients.s3("us-east-1"))


def test_2500_buckets_in_three_pages_all_come_out() -> None:
    clients, stub = stubbed_clients()
    names = [f"bucket-{i:05d}" for i in range(2500)]
    expected = {"MaxBuckets": 1000, "BucketRegion": "us-east-1"}
    stub.add_response("list_buckets", page(names[:1000], "t1"), expected)
    stub.add_response(
        "list_buckets", page(names[1000:2000], "t2"), {**expected, "ContinuationToken": "t1"}
    )
    stub.add_response("list_buckets", page(names[2000:]), {**expected, "ContinuationToken": "t2"})
    with stub:
        frame = discover_buckets(clients, ["us-east-1"], RETRY, page_size=1000)
    stub.assert_no_pending_responses()
    assert frame["bucket"].tolist() == names
    assert set(frame["region"]) == {"us-east-1"}
    assert (frame["location_error"] == "").all()
    assert clients.recorder.by_operation == {"ListBuckets": 3}  # no GetBucketLocation


def test_a_full_page_without_token_warns_of_truncation(caplog: pytest.LogCaptureFixture) -> None:
    clients, stub = stubbed_clients()
    stub.add_response(
        "list_buckets", page(["aaa", "bbb"]), {"MaxBuckets": 2, "BucketRegion": "us-east-1"}
    )
    with stub, caplog.at_level(logging.WARNING):
        frame = discover_buckets(clients, ["us-east-1"], RETRY, page_size=2)
    assert len(frame) == 2
    assert "may be truncated" in caplog.text


def test_all_regions_reads_region_from_response_and_locates_only_the_rest() -> None:
    clients, stub = stubbed_clients()
    listing = page(["in-eu", "in-oregon", "no-region-eu", "no-region-null"])
    listing["Buckets"][0]["BucketRegion"] = "eu-central-1"
    listing["Buckets"][1]["BucketRegion"] = "us-west-2"
    stub.add_response("list_buckets", listing, {"MaxBuckets": 1000})
    stub.add_response(
        "get_bucket_location", {"LocationConstraint": "EU"}, {"Bucket": "no-region-eu"}
    )
    stub.add_response("get_bucket_location", {}, {"Bucket": "no-region-null"})
    with stub:
        frame = discover_buckets(clients, ["*"], RETRY)
    stub.assert_no_pending_responses()
    assert dict(zip(frame["bucket"], frame["region"], strict=True)) == {
        "in-eu": "eu-central-1",
        "in-oregon": "us-west-2",
        "no-region-eu": "eu-west-1",
        "no-region-null": "us-east-1",
    }


def test_unreadable_location_keeps_the_bucket_with_its_error() -> None:
    clients, stub = stubbed_clients()
    stub.add_response("list_buckets", page(["secret-bucket"]), {"MaxBuckets": 1000})
    stub.add_client_error("get_bucket_location", "AccessDenied", http_status_code=403)
    with stub:
        frame = discover_buckets(clients, ["*"], RETRY)
    assert frame.loc[0, "bucket"] == "secret-bucket"
    assert frame.loc[0, "location_error"] == "AccessDenied"


def test_region_filter_on_moto(account) -> None:
    account.bucket("east-one")
    account.bucket("east-two")
    account.bucket("west-one", region="eu-west-1")
    clients = account.clients()
    east = discover_buckets(clients, ["us-east-1"], RETRY)
    assert east["bucket"].tolist() == ["east-one", "east-two"]
    both = discover_buckets(clients, ["eu-west-1", "us-east-1"], RETRY)
    assert dict(zip(both["bucket"], both["region"], strict=True)) == {
        "east-one": "us-east-1",
        "east-two": "us-east-1",
        "west-one": "eu-west-1",
    }
    everything = discover_buckets(clients, ["*"], RETRY)
    assert everything["region"].tolist() == ["us-east-1", "us-east-1", "eu-west-1"]
    assert str(everything["created"].dt.tz) == "UTC"


def test_include_and_exclude_globs(account) -> None:
    for name in ("prod-logs", "prod-data", "dev-data", "prod-tmp-1"):
        account.bucket(name)
    frame = discover_buckets(
        account.clients(), ["us-east-1"], RETRY, include=["prod-*"], exclude=["*-tmp-*"]
    )
    assert frame["bucket"].tolist() == ["prod-data", "prod-logs"]


@pytest.mark.parametrize(
    ("name", "include", "exclude", "expected"),
    [
        ("a-b", [], [], True),
        ("a-b", ["a-*"], [], True),
        ("a-b", ["b-*"], [], False),
        ("a-b", [], ["*-b"], False),
        ("A-b", ["a-*"], [], False),  # case-sensitive, like bucket names
    ],
)
def test_matches(name: str, include: list, exclude: list, expected: bool) -> None:
    assert matches(name, include, exclude) is expected


@pytest.mark.parametrize(
    ("constraint", "region"),
    [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1"), ("ap-south-1", "ap-south-1")],
)
def test_normalise_location(constraint: str | None, region: str) -> None:
    assert normalise_location(constraint) == region
