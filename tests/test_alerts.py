"""Alerting on moto: SNS (read back through a subscribed SQS queue), CloudWatch, SQS batches."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from s3compliance.actions import alerts
from s3compliance.outputs import notebook as runner
from s3compliance.outputs.report import build_report, write_report
from s3compliance.scan.retry import RetryPolicy
from s3compliance.scan.scanner import Scanner

RETRY = RetryPolicy(attempts=2, max_wait_s=0, sleep=lambda _s: None)


@pytest.fixture
def scanned(account, params):
    account.bucket("bare-one")  # 4 violations: high
    account.bucket("bare-two")
    account.bucket("half-bad", versioning="Enabled", sse="AES256")  # 2 violations: medium
    account.compliant_bucket("fine-one")
    scanner = Scanner(params, clients=account.clients(), sleep=lambda _s: None)
    result = scanner.check(scanner.discover(), progress=False)
    return account, scanner, result


def subscribed_queue(account) -> tuple[str, str]:
    sns = account.session.client("sns", region_name="us-east-1")
    sqs = account.session.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="s3-compliance")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    return topic, queue


def drain(account, queue: str) -> list[dict]:
    sqs = account.session.client("sqs", region_name="us-east-1")
    got = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return got
        got.extend(json.loads(m["Body"]) for m in batch)
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)
            ],
        )


def test_sns_message_per_high_severity_bucket(scanned) -> None:
    account, scanner, result = scanned
    topic, queue = subscribed_queue(account)
    report = build_report(result, generated_at="2026-11-29T06:15:00Z")
    outcome = alerts.send_alerts(
        report, result.buckets, scanner.clients, RETRY, sns_topic_arn=topic
    )
    assert outcome.to_dict("records") == [
        {"channel": "sns", "target": topic, "sent": 2, "failed": 0, "detail": ""}
    ]
    messages = sorted(drain(account, queue), key=lambda m: m["Subject"])
    assert [m["Subject"] for m in messages] == [
        "High-Severity S3 Compliance Violation: bare-one",
        "High-Severity S3 Compliance Violation: bare-two",
    ]
    body = json.loads(messages[0]["Message"])
    assert body == {
        "bucket": "bare-one",
        "violation_count": 4,
        "violations": [
            "Versioning not enabled",
            "Server-side encryption not configured",
            "Lifecycle policy missing for objects older than 90 days",
            "CloudWatch metrics not configured",
        ],
        "timestamp": "2026-11-29T06:15:00Z",
    }


def test_notify_only_new_stays_quiet_on_an_unchanged_second_run(scanned, params, tmp_path) -> None:
    """The notebook's alert cell: SNS announces the buckets high severity now that were not in
    the previous complete run (found through the history of the run folders)."""
    account, scanner, result = scanned
    topic, queue = subscribed_queue(account)
    params = replace(params, sns_topic_arn=topic, output_dir=str(tmp_path))
    # no previous run: every high bucket is new
    outcome = runner.alerts_step(result, scanner, params)
    assert outcome.iloc[0]["sent"] == 2
    assert sorted(m["Subject"][-8:] for m in drain(account, queue)) == ["bare-one", "bare-two"]
    folder = write_report(result, tmp_path, "yesterday")
    outcome = runner.alerts_step(result, scanner, params)
    assert outcome.iloc[0]["sent"] == 0 and drain(account, queue) == []
    # a bucket that was not high yesterday is announced (yesterday's buckets.parquet is lost:
    # its findings.json, without bare-two, says what was high)
    (folder / "buckets.parquet").unlink()
    report = json.loads((folder / "findings.json").read_text())
    report["non_compliant_buckets"] = [
        b for b in report["non_compliant_buckets"] if b["bucket_name"] != "bare-two"
    ]
    (folder / "findings.json").write_text(json.dumps(report))
    assert runner.buckets_to_announce(result, params) == {"bare-two"}
    runner.alerts_step(result, scanner, params)
    assert [m["Subject"][-8:] for m in drain(account, queue)] == ["bare-two"]
    # notify_only_new: false repeats every high bucket
    runner.alerts_step(result, scanner, replace(params, notify_only_new=False))
    assert len(drain(account, queue)) == 2
    # yesterday's severities unreadable: announce again rather than stay silent
    (folder / "findings.json").write_text("{")
    assert runner.buckets_to_announce(result, params) == {"bare-one", "bare-two"}


def test_metrics_land_in_cloudwatch(scanned) -> None:
    account, scanner, result = scanned
    outcome = alerts.send_alerts(
        build_report(result), result.buckets, scanner.clients, RETRY, publish_cloudwatch=True
    )
    assert outcome.iloc[0]["sent"] == 5  # five metrics, one region
    assert published_metrics(account.session) == {
        "TotalBuckets": 4,
        "CompliantBuckets": 1,
        "NonCompliantBuckets": 3,
        "HighSeverityBuckets": 2,
        "AcceptedBuckets": 0,  # no exceptions file
    }


METRICS = (
    "TotalBuckets",
    "CompliantBuckets",
    "NonCompliantBuckets",
    "HighSeverityBuckets",
    "AcceptedBuckets",
)


def published_metrics(session) -> dict[str, float]:
    """What CloudWatch holds of each metric in us-east-1 (the maximum of the last hour)."""
    cloudwatch = session.client("cloudwatch", region_name="us-east-1")
    now = datetime.now(UTC)
    values = {}
    for name in METRICS:
        stats = cloudwatch.get_metric_statistics(
            Namespace="S3Compliance",
            MetricName=name,
            Dimensions=[{"Name": "Region", "Value": "us-east-1"}],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            Period=60,
            Statistics=["Maximum"],
        )
        values[name] = stats["Datapoints"][0]["Maximum"]
    return values


def test_25_non_compliant_buckets_reach_sqs_in_3_batches(account, params) -> None:
    for n in range(25):
        account.bucket(f"bad-{n:02d}")
    scanner = Scanner(params, clients=account.clients(), sleep=lambda _s: None)
    result = scanner.check(scanner.discover(), progress=False)
    queue = account.session.client("sqs", region_name="us-east-1").create_queue(
        QueueName="automation"
    )["QueueUrl"]
    outcome = alerts.send_alerts(
        build_report(result), result.buckets, scanner.clients, RETRY, sqs_queue_url=queue
    )
    assert outcome.iloc[0][["sent", "failed"]].tolist() == [25, 0]
    assert scanner.clients.recorder.by_operation["sqs:SendMessageBatch"] == 3
    received = drain(account, queue)
    assert sorted(m["bucket_name"] for m in received) == [f"bad-{n:02d}" for n in range(25)]
    assert received[0]["violations"] and received[0]["bucket_arn"].startswith("arn:aws:s3:::")


def test_failed_sqs_entries_and_sns_errors_are_reported(scanned) -> None:
    _, scanner, result = scanned
    report = build_report(result)
    sqs = scanner.clients.client("sqs", "us-east-1")
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message_batch",
            {
                "Successful": [{"Id": "0", "MessageId": "m", "MD5OfMessageBody": "x"}],
                "Failed": [
                    {"Id": "1", "SenderFault": True, "Code": "InvalidParameterValue"},
                    {"Id": "2", "SenderFault": True, "Code": "InvalidParameterValue"},
                ],
            },
        )
        out = alerts.send_sqs(
            scanner.clients,
            "https://sqs.us-east-1.amazonaws.com/1/q",
            report["non_compliant_buckets"],
            RETRY,
        )
    assert (out["sent"], out["failed"]) == (1, 2) and "InvalidParameterValue" in out["detail"]
    with Stubber(sqs) as stub:
        stub.add_client_error("send_message_batch", "AccessDenied", http_status_code=403)
        out = alerts.send_sqs(
            scanner.clients,
            "https://sqs.us-east-1.amazonaws.com/1/q",
            report["non_compliant_buckets"],
            RETRY,
        )
    assert (out["sent"], out["failed"]) == (0, 3)
    missing_topic = "arn:aws:sns:us-east-1:123456789012:does-not-exist"
    out = alerts.publish_sns(
        scanner.clients, missing_topic, alerts.high_severity_messages(report), RETRY
    )
    assert (out["sent"], out["failed"]) == (0, 2)
    cloudwatch = scanner.clients.client("cloudwatch", "us-east-1")
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("put_metric_data", "AccessDenied", http_status_code=403)
        out = alerts.publish_metrics(scanner.clients, result.buckets, "us-east-1", RETRY)
    assert (out["sent"], out["failed"], out["detail"]) == (0, 1, "AccessDenied")


def test_subject_fits_sns_limit_for_a_63_character_name() -> None:
    name = "b" * 63
    report = {
        "generated_at": "t",
        "non_compliant_buckets": [{"bucket_name": name, "severity": "high", "violations": ["v"]}],
    }
    [message] = alerts.high_severity_messages(report)
    assert len(message["subject"]) == 100 and json.loads(message["body"])["bucket"] == name


def test_queue_region_from_url() -> None:
    assert alerts._queue_region("https://sqs.eu-west-2.amazonaws.com/1/q") == "eu-west-2"
    assert alerts._queue_region("http://127.0.0.1:5000/1/q") == "us-east-1"


def test_notebook_steps_say_when_they_are_off(scanned, params) -> None:
    _, scanner, result = scanned
    assert "Tagging is off" in runner.tagging_step(result, scanner, params)
    assert "No alerting configured" in runner.alerts_step(result, scanner, params)
    table = runner.alerts_step(result, scanner, replace(params, publish_metrics=True))
    assert table.iloc[0]["channel"] == "cloudwatch"
    applied = runner.tagging_step(result, scanner, replace(params, apply_tags=True))
    assert set(applied["action"]) == {"error-tags-unread"}  # this scan did not read tags
