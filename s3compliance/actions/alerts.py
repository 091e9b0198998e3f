"""Alerting, all opt-in: SNS for high-severity buckets, CloudWatch metrics, SQS for automation.

A daily cron must not repeat itself: with ``notify_only_new`` (the default) a bucket is announced
on SNS only when it was not already high severity in the previous complete run. The caller decides
which buckets that is (the notebook asks the history of the run folders) and hands the set over as
``announce``: this module writes, it reads no run folder.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from s3compliance.scan.aws import DEFAULT_REGION, Clients, error_code
from s3compliance.scan.retry import RetryPolicy

log = logging.getLogger(__name__)

#: IAM actions alerting needs, declared next to the code that calls them (see iam.py).
PERMISSIONS = ("sns:Publish", "cloudwatch:PutMetricData", "sqs:SendMessage")
NAMESPACE = "S3Compliance"
SUBJECT_PREFIX = "High-Severity S3 Compliance Violation: "
SNS_SUBJECT_LIMIT = 100  # SNS rejects longer subjects; a 63-character bucket name would not fit
SQS_BATCH = 10
OUTCOME_COLUMNS = ["channel", "target", "sent", "failed", "detail"]


def _high(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in report["non_compliant_buckets"] if b["severity"] == "high"]


def high_severity_messages(
    report: dict[str, Any], announce: Collection[str] | None = None
) -> list[dict[str, str]]:
    """One SNS message (subject, body) per high-severity bucket of the report; only those named
    in ``announce`` when it is given (``None``: every one)."""
    return [
        {
            "bucket": b["bucket_name"],
            "subject": (SUBJECT_PREFIX + b["bucket_name"])[:SNS_SUBJECT_LIMIT],
            "body": json.dumps(
                {
                    "bucket": b["bucket_name"],
                    "violation_count": len(b["violations"]),
                    "violations": b["violations"],
                    "timestamp": report["generated_at"],
                }
            ),
        }
        for b in _high(report)
        if announce is None or b["bucket_name"] in announce
    ]


def _region_of_arn(arn: str) -> str:
    return arn.split(":")[3] or DEFAULT_REGION


def publish_sns(
    clients: Clients, topic_arn: str, messages: list[dict[str, str]], retry: RetryPolicy
) -> dict[str, Any]:
    sns = clients.client("sns", _region_of_arn(topic_arn))
    failed = []
    for message in messages:
        try:
            retry.call(
                sns.publish, TopicArn=topic_arn, Subject=message["subject"], Message=message["body"]
            )
        except (ClientError, BotoCoreError) as exc:
            failed.append(f"{message['bucket']}: {error_code(exc)}")
    return _outcome("sns", topic_arn, len(messages) - len(failed), failed)


def metric_data(buckets: pd.DataFrame) -> list[dict[str, Any]]:
    """The five metrics per region (dimension ``Region``). ``NonCompliantBuckets`` leaves out
    the accepted buckets (every FAIL covered by an exception), which ``AcceptedBuckets``
    counts, so an alarm on it does not fire for a risk the team accepted."""
    data = []
    for region, group in buckets.groupby("region", sort=True):
        values = {
            "TotalBuckets": len(group),
            "CompliantBuckets": int((group["status"] == "compliant").sum()),
            "NonCompliantBuckets": int((group["status"] == "non_compliant").sum()),
            "AcceptedBuckets": int((group["status"] == "accepted").sum()),
            "HighSeverityBuckets": int((group["bucket_severity"] == "high").sum()),
        }
        data.extend(
            {
                "MetricName": name,
                "Value": float(value),
                "Unit": "Count",
                "Dimensions": [{"Name": "Region", "Value": str(region)}],
            }
            for name, value in values.items()
        )
    return data


def publish_metrics(
    clients: Clients, buckets: pd.DataFrame, region: str, retry: RetryPolicy
) -> dict[str, Any]:
    data = metric_data(buckets)
    cloudwatch = clients.client("cloudwatch", region)
    try:
        for start in range(0, len(data), 1000):  # PutMetricData's limit per call
            retry.call(
                cloudwatch.put_metric_data,
                Namespace=NAMESPACE,
                MetricData=data[start : start + 1000],
            )
    except (ClientError, BotoCoreError) as exc:
        return _outcome("cloudwatch", NAMESPACE, 0, [error_code(exc)])
    return _outcome("cloudwatch", NAMESPACE, len(data), [])


def _queue_region(queue_url: str) -> str:
    host = urlsplit(queue_url).hostname or ""
    parts = host.split(".")
    return parts[1] if len(parts) > 3 and parts[0] == "sqs" else DEFAULT_REGION


def send_sqs(
    clients: Clients, queue_url: str, entries: list[dict[str, Any]], retry: RetryPolicy
) -> dict[str, Any]:
    """One message per entry, SendMessageBatch ten at a time; failed entries are reported."""
    sqs = clients.client("sqs", _queue_region(queue_url))
    failed: list[str] = []
    for start in range(0, len(entries), SQS_BATCH):
        batch = entries[start : start + SQS_BATCH]
        request = [
            {"Id": str(n), "MessageBody": json.dumps(entry)} for n, entry in enumerate(batch)
        ]
        try:
            answer = retry.call(sqs.send_message_batch, QueueUrl=queue_url, Entries=request)
        except (ClientError, BotoCoreError) as exc:
            failed.extend(f"{e['bucket_name']}: {error_code(exc)}" for e in batch)
            continue
        failed.extend(
            f"{batch[int(f['Id'])]['bucket_name']}: {f.get('Code', 'Failed')}"
            for f in answer.get("Failed", [])
        )
    return _outcome("sqs", queue_url, len(entries) - len(failed), failed)


def _outcome(channel: str, target: str, sent: int, failed: list[str]) -> dict[str, Any]:
    if failed:
        log.warning("%s: %d failed: %s", channel, len(failed), "; ".join(failed))
    return {
        "channel": channel,
        "target": target,
        "sent": sent,
        "failed": len(failed),
        "detail": "; ".join(failed),
    }


def send_alerts(
    report: dict[str, Any],
    buckets: pd.DataFrame,
    clients: Clients,
    retry: RetryPolicy,
    *,
    sns_topic_arn: str | None = None,
    announce: Collection[str] | None = None,
    publish_cloudwatch: bool = False,
    metrics_region: str = DEFAULT_REGION,
    sqs_queue_url: str | None = None,
) -> pd.DataFrame:
    """Every configured channel, one row each: what was sent and what failed. ``announce``: the
    high-severity buckets SNS announces (``None``: every one). ``report`` needs only its head
    (``generated_at``, ``non_compliant_buckets``): callers pass ``report_head``, not the whole
    report with every finding."""
    outcomes = []
    if sns_topic_arn:
        messages = high_severity_messages(report, announce)
        outcomes.append(publish_sns(clients, sns_topic_arn, messages, retry))
    if publish_cloudwatch:
        outcomes.append(publish_metrics(clients, buckets, metrics_region, retry))
    if sqs_queue_url:
        outcomes.append(send_sqs(clients, sqs_queue_url, report["non_compliant_buckets"], retry))
    return pd.DataFrame(outcomes, columns=OUTCOME_COLUMNS)
