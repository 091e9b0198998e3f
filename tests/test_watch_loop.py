"""The watch loop on the demo account (moto in-process): CloudTrail-shaped events put on a real
moto SQS queue (injection is testing support: real EventBridge refuses ``aws.*`` sources), a
bucket changed with boto3, the delta run published, the messages deleted only after it."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_watch_events import envelope

from s3compliance.outputs import history
from s3compliance.outputs.report import write_report
from s3compliance.scan.aws import Clients
from s3compliance.scan.run import run_scan
from s3compliance.testing.demo import demo_account, demo_params
from s3compliance.watch.loop import QueueUnreadable, Watcher, _Heartbeat, queue_region

ACCOUNT = "123456789012"  # the demo account (moto's)
BUCKET = "demo-compliant-04"


def policy_of(s3: Any, bucket: str) -> str | None:
    try:
        return s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except s3.exceptions.from_code("NoSuchBucketPolicy"):
        return None


@pytest.fixture(scope="module")
def demo_base(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The demo account, narrowed to its compliant buckets, scanned in full once per module."""
    with demo_account() as session:
        clients = Clients(session, endpoint_url=None, max_workers=8)
        base = tmp_path_factory.mktemp("base")
        params = demo_params(
            output_dir=str(base / "output"), max_workers=8, include=["demo-compliant-0*"]
        )
        full = run_scan(params, clients=clients, progress=False)
        # an hour before the events: runs of one second are ordered by time, then by id
        write_report(full, params.output_dir, "full", generated_at="2026-11-01T07:00:00Z")
        s3 = session.client("s3", region_name="us-east-1")
        saved = {  # no bucket of the base has MFA delete or lacks versioning
            name: (s3.get_bucket_versioning(Bucket=name)["Status"], policy_of(s3, name))
            for name in full.findings["bucket"].unique()
        }
        yield {"session": session, "clients": clients, "params": params, "saved": saved}


@pytest.fixture
def watched(demo_base: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Per test: a copy of the base run's output folder, a queue of its own, and the demo's
    buckets as the base run saw them (a test's changes are undone after it)."""
    session = demo_base["session"]
    output = tmp_path / "output"
    shutil.copytree(demo_base["params"].output_dir, output, symlinks=True)
    sqs = session.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName=f"s3-changes-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    s3 = session.client("s3", region_name="us-east-1")
    yield {
        "session": session,
        "clients": demo_base["clients"],
        "params": replace(demo_base["params"], output_dir=str(output)),
        "sqs": sqs,
        "queue": queue,
        "s3": s3,
    }
    for name, (versioning, policy) in demo_base["saved"].items():  # what tests change, undone
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
        if policy is None:
            s3.delete_bucket_policy(Bucket=name)
        else:
            s3.put_bucket_policy(Bucket=name, Policy=policy)


def inject(ctx: dict[str, Any], body: Any, n: int = 1) -> None:
    for _ in range(n):
        text = body if isinstance(body, str) else json.dumps(body)
        ctx["sqs"].send_message(QueueUrl=ctx["queue"], MessageBody=text)


def event(bucket: str | None, n: int, name: str = "PutBucketVersioning") -> dict[str, Any]:
    body = envelope(name, bucket, event_id=f"evt-{n}", time=f"2026-11-01T08:00:{n:02d}Z")
    body["detail"]["recipientAccountId"] = ACCOUNT
    return body


def left_on_queue(ctx: dict[str, Any]) -> int:
    attrs = ctx["sqs"].get_queue_attributes(
        QueueUrl=ctx["queue"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attrs.values())


def watcher(ctx: dict[str, Any], **kwargs: Any) -> Watcher:
    return Watcher(ctx["params"], ctx["queue"], ctx["clients"], accounts={ACCOUNT}, **kwargs)


def test_a_change_becomes_a_delta_run_and_its_messages_are_deleted_after(watched) -> None:
    ctx = watched
    ctx["s3"].put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    for n in range(10):  # an apply touching the bucket ten times: one rescan
        inject(ctx, event(BUCKET, n))
    loop = watcher(ctx, debounce_s=0)
    while loop.poll(0):
        pass
    assert left_on_queue(ctx) == 10  # received, in flight: not deleted before the publication
    published = loop.step()
    assert published is not None
    assert (published.events, published.buckets, published.new) == (10, 1, 1)
    assert published.line().startswith(f"delta {published.folder.name}: 10 event(s), 1 bucket(s)")
    meta = json.loads((published.folder / "run.json").read_text())
    assert meta["kind"] == "delta" and meta["buckets"] == {ACCOUNT: [BUCKET]}
    assert [e["id"] for e in meta["events"]] == [f"evt-{n}" for n in range(10)]
    changed = history.changes(output_dir=ctx["params"].output_dir)
    new = changed[changed["kind"] == "new"]
    assert list(zip(new["bucket"], new["check_id"], strict=True)) == [(BUCKET, "versioning")]
    assert left_on_queue(ctx) == 0
    assert loop.step() is None  # nothing more is due


def test_malformed_and_out_of_scope_messages(watched, caplog) -> None:
    ctx = watched
    inject(ctx, "{not json")
    inject(ctx, event("demo-unencrypted-01", 1))  # outside include: acknowledged, no rescan
    loop = watcher(ctx, debounce_s=0)
    with caplog.at_level("WARNING", logger="s3compliance.watch.loop"):
        assert loop.poll(0) == 2
    assert len(loop.malformed) == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"message {loop.malformed[0]}: the body is not JSON: left for the dead-letter queue"
    ]
    assert loop.step() is None
    assert left_on_queue(ctx) == 1  # only the malformed one, in flight until its redrive


def test_a_kill_between_receive_and_publish_redelivers_and_nothing_is_doubled(watched) -> None:
    ctx = watched
    ctx["s3"].put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    inject(ctx, event(BUCKET, 1))
    killed = watcher(ctx, debounce_s=0, visibility_s=1)
    assert killed.poll(0) == 1  # received, then the process dies before publishing
    time.sleep(1.2)  # the visibility timeout passes: the queue redelivers
    again = watcher(ctx, debounce_s=0)
    assert again.poll(0) == 1
    first = again.step()
    assert first is not None and left_on_queue(ctx) == 0
    inject(ctx, event(BUCKET, 1))  # the same event delivered once more (at-least-once)
    again.poll(0)
    second = again.step()
    assert second is not None
    opened = history.open_findings(ctx["params"].output_dir)
    assert len(opened[(opened["bucket"] == BUCKET) & (opened["check_id"] == "versioning")]) == 1
    assert history.changes(output_dir=ctx["params"].output_dir)["kind"].eq("new").sum() == 0


def test_an_account_setting_rescans_every_known_bucket_of_the_account(watched) -> None:
    ctx = watched
    inject(ctx, event(None, 1, "DeleteAccountPublicAccessBlock"))
    loop = watcher(ctx, debounce_s=0)
    loop.poll(0)
    published = loop.step()
    assert published is not None
    meta = json.loads((published.folder / "run.json").read_text())
    known = history.posture_buckets(ctx["params"].output_dir)
    assert meta["buckets"][ACCOUNT] == sorted(known["bucket"])
    assert len(meta["buckets"][ACCOUNT]) == 9


def test_an_account_setting_with_no_known_bucket_is_acknowledged(watched, tmp_path) -> None:
    ctx = watched
    ctx["params"] = replace(ctx["params"], output_dir=str(tmp_path / "empty"))
    inject(ctx, event(None, 1, "PutAccountPublicAccessBlock"))
    loop = watcher(ctx, debounce_s=0)
    loop.poll(0)
    assert loop.step() is None and left_on_queue(ctx) == 0


def test_a_stop_publishes_what_is_held(watched) -> None:
    ctx = watched
    inject(ctx, event(BUCKET, 1))
    loop = watcher(ctx, debounce_s=600)  # not due for ten minutes
    loop.poll(0)
    stop = threading.Event()
    stop.set()  # SIGTERM arrived: the batch in hand is published, then the loop ends
    told: list[Any] = []
    loop.run(stop, told=told.append)
    assert len(told) == 1 and left_on_queue(ctx) == 0


def test_the_loop_polls_then_publishes_what_is_due(watched) -> None:
    ctx = watched
    inject(ctx, event(BUCKET, 1))
    loop = watcher(ctx, debounce_s=0)
    stop = threading.Event()
    told: list[Any] = []

    def tell(published: Any) -> None:
        told.append(published)
        stop.set()

    loop.run(stop, max_wait_s=0, told=tell)
    assert len(told) == 1


def test_a_long_batch_extends_its_visibility(watched) -> None:
    ctx = watched
    inject(ctx, event(BUCKET, 1))
    loop = watcher(ctx, debounce_s=0, visibility_s=2)
    loop.poll(0)
    receipts = [c.receipt for c in loop.coalescer.drain().changes]  # type: ignore[union-attr]
    beats: list[float] = []

    def extend() -> None:
        beats.append(time.monotonic())
        loop._extend(receipts)

    with _Heartbeat(extend, every_s=0.5):
        time.sleep(2.6)  # longer than the visibility timeout
    assert len(beats) >= 3  # every 0.5 s; a loaded machine may run late, never none
    # still in flight: the extensions kept it from being redelivered
    assert watcher(ctx, debounce_s=0).poll(0) == 0


def test_an_unreadable_queue_stops_the_watcher(watched) -> None:
    ctx = watched
    ctx["queue"] = ctx["queue"].rsplit("/", 1)[0] + "/missing"
    with pytest.raises(
        QueueUnreadable, match=r"missing: AWS\.SimpleQueueService\.NonExistentQueue"
    ):
        watcher(ctx).poll(0)


def test_queue_region() -> None:
    assert queue_region("https://sqs.eu-west-1.amazonaws.com/111122223333/q") == "eu-west-1"
    assert queue_region("http://127.0.0.1:5000/123456789012/q") == "us-east-1"


def test_a_bucket_that_became_high_is_announced_at_once(watched) -> None:
    ctx = watched
    sns = ctx["session"].client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    inbox = ctx["sqs"].create_queue(QueueName="inbox")["QueueUrl"]
    arn = ctx["sqs"].get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
    ctx["params"] = replace(ctx["params"], sns_topic_arn=topic, high_severity_threshold=1)
    ctx["s3"].put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    inject(ctx, event(BUCKET, 1))
    loop = watcher(ctx, debounce_s=0)
    loop.poll(0)
    assert loop.step() is not None
    got = ctx["sqs"].receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["Subject"] for m in got] == [
        f"High-Severity S3 Compliance Violation: {BUCKET}"
    ]


def test_an_idle_loop_keeps_polling_and_a_failed_delete_is_only_logged(watched, caplog) -> None:
    ctx = watched
    loop = watcher(ctx, debounce_s=0)
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    told: list[Any] = []
    loop.run(stop, max_wait_s=0, told=told.append)  # nothing on the queue: polls until stopped
    timer.join()
    assert told == []
    with caplog.at_level("WARNING", logger="s3compliance.watch.loop"):
        loop._delete(["not-a-receipt-handle"])  # redelivered later, rescanned idempotently
    assert "could not delete a message" in caplog.text


def test_a_backlog_is_received_as_one_batch(watched) -> None:
    ctx = watched
    for n in range(25):  # three buckets, a backlog of 25 events: one delta run, not three
        inject(ctx, event(f"demo-compliant-0{1 + n % 3}", n % 60))
    loop = watcher(ctx, debounce_s=0)
    assert loop.drain_queue(0) == 25
    assert len(loop.coalescer) == 3
    assert loop.drain_queue(0, most=5) == 0  # nothing left
    published = loop.step()
    assert published is not None and published.buckets == 3 and left_on_queue(ctx) == 0


def test_a_steady_stream_does_not_hold_back_a_due_batch(watched) -> None:
    """Messages keep coming (the queue never runs dry at 20 events a second): once a batch is
    due and the drain has run its budget, the watcher stops receiving and publishes."""
    ctx = watched
    for n in range(25):
        inject(ctx, event(f"demo-compliant-0{1 + n % 3}", n % 60))
    ticks = iter(range(0, 1000, 2))  # every look at the clock is two seconds later
    loop = watcher(ctx, debounce_s=0, clock=lambda: float(next(ticks)))
    drained = []
    for _ in range(3):  # each turn: one full batch, then the due batch is published first
        drained.append(loop.drain_queue(0))
        assert loop.step() is not None
    assert drained == [10, 10, 5]
