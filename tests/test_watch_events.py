"""The change watcher's pure core: a queue message read as a change, the scope, coalescing.

Messages are shaped as EventBridge delivers a CloudTrail-recorded S3 call (source ``aws.s3``,
detail-type ``AWS API Call via CloudTrail``, the CloudTrail record in ``detail``: eventSource,
eventName, eventID, eventTime, awsRegion, recipientAccountId, requestParameters.bucketName).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from s3compliance.params import Params
from s3compliance.scan.delta import Event
from s3compliance.watch.coalesce import Batch, Coalescer
from s3compliance.watch.events import (
    ACCOUNT_EVENTS,
    BUCKET_EVENTS,
    MalformedEvent,
    out_of_scope,
    parse_message,
)

ACCOUNT = "111122223333"


def envelope(
    name: str = "PutBucketPolicy",
    bucket: str | None = "web-assets",
    event_id: str = "evt-1",
    time: str = "2026-11-01T08:00:00Z",
    region: str = "us-east-1",
    **detail: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "eventID": event_id,
        "eventTime": time,
        "awsRegion": region,
        "recipientAccountId": ACCOUNT,
        "requestParameters": {"bucketName": bucket} if bucket is not None else None,
        **detail,
    }
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": time,
        "region": region,
        "resources": [],
        "detail": record,
    }


def message(body: Any, message_id: str = "m-1") -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {"MessageId": message_id, "ReceiptHandle": f"rh-{message_id}", "Body": text}


def test_a_bucket_change_is_read_from_its_message() -> None:
    change = parse_message(message(envelope(time="2026-11-01T08:00:01.250Z")))
    assert change.key == (ACCOUNT, "web-assets")
    assert (change.message_id, change.receipt, change.event_name) == (
        "m-1",
        "rh-m-1",
        "PutBucketPolicy",
    )
    assert change.event_time == datetime(2026, 11, 1, 8, 0, 1, tzinfo=UTC)
    assert change.event == Event("evt-1", "2026-11-01T08:00:01Z")


def test_the_account_setting_has_no_bucket() -> None:
    change = parse_message(message(envelope("PutAccountPublicAccessBlock", bucket=None)))
    assert change.bucket is None and change.key == (ACCOUNT, "")


#: The calls issue 26 names as changing what a check reads (CloudTrail event names), written out
#: here: the watched set is derived from the documents' ``changed_by`` declarations.
ISSUE_BUCKET_CALLS = [
    "CreateBucket",
    "DeleteBucket",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketAcl",
    "PutBucketEncryption",
    "DeleteBucketEncryption",
    "PutBucketVersioning",
    "PutBucketLifecycle",
    "PutBucketLifecycleConfiguration",
    "DeleteBucketLifecycle",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
    "PutBucketMetricsConfiguration",
    "DeleteBucketMetricsConfiguration",
    "PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls",
    "PutBucketLogging",
    "PutBucketReplication",
    "DeleteBucketReplication",
    "PutObjectLockConfiguration",
    "PutBucketTagging",
    "DeleteBucketTagging",
]


def test_every_watched_call_is_accepted() -> None:
    assert set(ISSUE_BUCKET_CALLS) == BUCKET_EVENTS and len(ISSUE_BUCKET_CALLS) == 23
    assert {"PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock"} == ACCOUNT_EVENTS
    for name in sorted(BUCKET_EVENTS):
        assert parse_message(message(envelope(name))).bucket == "web-assets"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{not json", "the body is not JSON"),
        ({**envelope(), "source": "com.example"}, "const at source"),
        ({**envelope(), "detail-type": "Object Created"}, "const at detail-type"),
        (envelope(errorCode="AccessDenied"), "not at detail"),  # a refused call changed nothing
        (envelope("PutObject"), "enum at detail/eventName"),
        (envelope(eventSource="iam.amazonaws.com"), "const at detail/eventSource"),
        (envelope(recipientAccountId="1234"), "pattern at detail/recipientAccountId"),
        (envelope(time="yesterday"), "pattern at detail/eventTime"),
        (envelope(time="2026-13-45T08:00:00Z"), "eventTime is not a time"),
        (envelope(bucket=None), "PutBucketPolicy without a valid requestParameters.bucketName"),
        (envelope(bucket="../../etc"), "without a valid requestParameters.bucketName"),
        ([1, 2], "type at the top"),
    ],
)
def test_a_malformed_message_is_refused_in_one_line(body: Any, why: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_message(message(body, "m-bad"))
    text = str(caught.value)
    assert text.startswith("message m-bad: ") and why in text and "\n" not in text


def test_a_message_without_a_body_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match=r"message \?: the body is not JSON"):
        parse_message({})


def test_scope_follows_the_scan_parameters() -> None:
    params = Params(regions=["us-east-1", "eu-west-1"], include=["web-*"], exclude=["web-tmp-*"])
    change = parse_message(message(envelope()))
    assert out_of_scope(change, params, None) == ""
    assert out_of_scope(change, params, {ACCOUNT}) == ""
    assert out_of_scope(change, params, {"999999999999"}) == f"account {ACCOUNT} is not scanned"
    west = parse_message(message(envelope(region="us-west-2")))
    assert out_of_scope(west, params, None) == "region us-west-2 is not scanned"
    assert out_of_scope(west, replace(params, regions=["*"]), None) == ""
    other = parse_message(message(envelope(bucket="logs-1")))
    assert out_of_scope(other, params, None) == "bucket logs-1 is outside include/exclude"
    tmp = parse_message(message(envelope(bucket="web-tmp-1")))
    assert "outside include/exclude" in out_of_scope(tmp, params, None)
    setting = parse_message(message(envelope("DeleteAccountPublicAccessBlock", bucket=None)))
    assert out_of_scope(replace(setting, region="ap-south-1"), params, None) == ""


def _change(bucket: str | None, n: int, name: str = "PutBucketPolicy") -> Any:
    body = envelope(name, bucket, event_id=f"evt-{n}", time=f"2026-11-01T08:00:{n:02d}Z")
    return parse_message(message(body, f"m-{n}"))


def test_ten_events_of_one_apply_are_one_rescan() -> None:
    coalescer = Coalescer(debounce_s=5)
    for n in range(10):
        coalescer.add(_change("web-assets", n), now=100 + n * 0.1)
    assert len(coalescer) == 1
    assert coalescer.due(104.0) is None  # still within 5 s of the last event
    assert coalescer.next_due() == pytest.approx(105.9)
    batch = coalescer.due(105.9)
    assert batch is not None and len(batch.changes) == 10
    assert batch.buckets == {ACCOUNT: ["web-assets"]}
    request = batch.request()
    assert request is not None and request.buckets == {ACCOUNT: ("web-assets",)}
    assert [e.id for e in request.events] == [f"evt-{n}" for n in range(10)]
    assert len(coalescer) == 0 and coalescer.next_due() is None


def test_buckets_are_due_on_their_own_clocks_and_a_busy_one_is_not_starved() -> None:
    coalescer = Coalescer(debounce_s=5, max_wait_s=12)
    coalescer.add(_change("a-bucket", 1), now=0)
    coalescer.add(_change("b-bucket", 2), now=3)
    first = coalescer.due(5)
    assert first is not None and first.buckets == {ACCOUNT: ["a-bucket"]}
    for t in range(4, 20, 2):  # b-bucket changes every 2 s: the debounce alone would never end
        coalescer.add(_change("b-bucket", t), now=t)
    assert coalescer.next_due() == 15  # its first change at 3, plus 12
    second = coalescer.due(15)
    assert second is not None and second.buckets == {ACCOUNT: ["b-bucket"]}


def test_a_batch_separates_account_settings_and_counts_a_redelivered_event_once() -> None:
    coalescer = Coalescer(debounce_s=0)
    coalescer.add(_change("a-bucket", 1), now=0)
    coalescer.add(_change("a-bucket", 1), now=0)  # the same event, redelivered
    coalescer.add(_change(None, 2, "PutAccountPublicAccessBlock"), now=0)
    batch = coalescer.drain()
    assert batch is not None
    assert batch.accounts == [ACCOUNT] and batch.buckets == {ACCOUNT: ["a-bucket"]}
    assert [e.id for e in batch.events] == ["evt-1", "evt-2"]
    assert Batch([_change(None, 3, "DeleteAccountPublicAccessBlock")]).request() is None
    assert coalescer.drain() is None
    with pytest.raises(ValueError, match="debounce_s must be 0 or more"):
        Coalescer(-1)
