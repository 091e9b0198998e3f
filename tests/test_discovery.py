"""Discovery: paginated ListBuckets, server-side region filter, regions, name patterns."""

from __future__ import annotations

import json
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


ASK_AGAIN = {"MaxBuckets": 10000, "BucketRegion": "us-east-1"}  # ListBuckets' largest page


def test_an_endpoint_that_does_not_paginate_is_asked_for_one_large_page(caplog) -> None:
    """A full page without a continuation token: asked again with MaxBuckets 10,000, and the
    longer listing is used (the endpoint ignored MaxBuckets/ContinuationToken)."""
    clients, stub = stubbed_clients()
    names = [f"b-{i:04d}" for i in range(5)]
    stub.add_response("list_buckets", page(names[:2]), {**ASK_AGAIN, "MaxBuckets": 2})
    stub.add_response("list_buckets", page(names), ASK_AGAIN)
    with stub, caplog.at_level(logging.WARNING):
        frame = discover_buckets(clients, ["us-east-1"], RETRY, page_size=2)
    stub.assert_no_pending_responses()
    assert frame["bucket"].tolist() == names
    assert frame.attrs["truncated"] is False
    assert "does not paginate" in caplog.text


def test_a_full_page_that_was_the_whole_listing_is_not_truncated(caplog) -> None:
    clients, stub = stubbed_clients()
    stub.add_response("list_buckets", page(["aaa", "bbb"]), {**ASK_AGAIN, "MaxBuckets": 2})
    stub.add_response("list_buckets", page(["aaa", "bbb"]), ASK_AGAIN)  # exactly two exist
    with stub, caplog.at_level(logging.WARNING):
        frame = discover_buckets(clients, ["us-east-1"], RETRY, page_size=2)
    stub.assert_no_pending_responses()
    assert len(frame) == 2 and frame.attrs["truncated"] is False
    assert caplog.text == ""


def test_a_large_page_that_paginates_is_followed() -> None:
    clients, stub = stubbed_clients()
    stub.add_response("list_buckets", page(["a", "b"]), {**ASK_AGAIN, "MaxBuckets": 2})
    stub.add_response("list_buckets", page(["a", "b", "c"], "t1"), ASK_AGAIN)
    stub.add_response("list_buckets", page(["d"]), {**ASK_AGAIN, "ContinuationToken": "t1"})
    with stub:
        frame = discover_buckets(clients, ["us-east-1"], RETRY, page_size=2)
    stub.assert_no_pending_responses()
    assert frame["bucket"].tolist() == ["a", "b", "c", "d"]
    assert frame.attrs["truncated"] is False


@pytest.mark.parametrize("page_size", [2, 10000])
def test_still_full_at_ten_thousand_marks_the_listing_truncated(page_size, caplog) -> None:
    clients, stub = stubbed_clients()
    names = [f"b-{i:05d}" for i in range(10000)]
    first = names[:page_size]
    stub.add_response("list_buckets", page(first), {**ASK_AGAIN, "MaxBuckets": page_size})
    if page_size < 10000:
        stub.add_response("list_buckets", page(names), ASK_AGAIN)
    with stub, caplog.at_level(logging.WARNING):
        frame = discover_buckets(clients, ["us-east-1"], RETRY, page_size=page_size)
    stub.assert_no_pending_responses()
    assert len(frame) == 10000 and frame.attrs["truncated"] is True
    assert "may be truncated" in caplog.text


def test_a_paginated_listing_is_not_truncated() -> None:
    clients, stub = stubbed_clients()
    stub.add_response("list_buckets", page(["a"]), {**ASK_AGAIN, "MaxBuckets": 2})
    with stub:
        frame = discover_buckets(clients, ["us-east-1"], RETRY, page_size=2)
    assert frame.attrs["truncated"] is False


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


def test_moto_ignores_pagination_and_the_scan_still_sees_every_bucket(
    moto_server, server_session, tmp_path, capsys, caplog
) -> None:
    """moto (like some S3-compatible stores) cuts ListBuckets at MaxBuckets and sends no
    continuation token: asked again with MaxBuckets 10,000, every bucket is scanned."""
    from test_cli import compliant, params_file

    from s3compliance.cli import EXIT_OK, main

    for name in ("pg-a", "pg-b", "pg-c"):
        compliant(server_session, moto_server, name)
    path = params_file(tmp_path, "checks: [versioning, encryption]\npage_size: 2\n")
    with caplog.at_level(logging.WARNING, logger="s3compliance.scan.discovery"):
        code = main(["scan", "--params", path, "--endpoint-url", moto_server])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "Buckets: 3 total, 3 compliant" in out and "INCOMPLETE" not in out
    assert "the endpoint does not paginate" in caplog.text


def test_a_listing_still_full_at_ten_thousand_makes_the_run_incomplete(tmp_path, capsys) -> None:
    """10,001 buckets on moto, which answers at most MaxBuckets and no token: the listing may be
    truncated, so the run is incomplete (exit 3, one line), whatever its findings say."""
    from moto import mock_aws
    from moto.s3.models import s3_backends
    from test_cli import params_file

    from s3compliance.cli import EXIT_FINDINGS, main

    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        s3 = session.client("s3")
        s3.create_bucket(Bucket="keep-me")  # listed first: moto lists in creation order
        s3.put_bucket_versioning(Bucket="keep-me", VersioningConfiguration={"Status": "Enabled"})
        backend = s3_backends["123456789012"]["aws"]
        for n in range(10_000):
            backend.create_bucket(f"filler-{n:05d}", "us-east-1")
        path = params_file(tmp_path, "checks: [versioning]\ninclude: ['keep-*']\n")
        code = main(["scan", "--params", path, "--run-id", "cut"])
    out = capsys.readouterr().out
    assert code == EXIT_FINDINGS
    assert "Buckets: 1 total, 1 compliant" in out
    lines = [line for line in out.splitlines() if line.startswith("INCOMPLETE")]
    assert lines == [
        "INCOMPLETE: discovery may be truncated in 1 account(s): ListBuckets answered a full "
        "page of 10,000 without a continuation token (see the log)"
    ]
    report = json.loads((tmp_path / "out" / "cut" / "findings.json").read_text())
    assert report["summary"]["truncated_listings"] == 1


def test_a_delta_never_calls_a_name_of_a_truncated_listing_deleted() -> None:
    clients, stub = stubbed_clients()
    others = page([f"aaa{i:05d}" for i in range(10000)])  # full at 10,000, no token
    stub.add_response("list_buckets", others, {"MaxBuckets": 10000, "Prefix": "aaa"})
    with stub:
        frame = discover_buckets(clients, ["us-east-1"], RETRY, page_size=10000, names=["aaa"])
    assert frame.empty and frame.attrs["truncated"] is True
    assert frame.attrs["missing"] == []  # "aaa" may be past the cut: not deleted
