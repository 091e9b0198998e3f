"""What ``s3compliance watch --demo`` does to the embedded account, and the events it injects.

Testing support, never the product's path: real EventBridge refuses ``PutEvents`` with an
``aws.*`` source, so in production only CloudTrail puts these events on the queue. Here the
change is made with boto3 and the event a trail would record is put on a moto queue by hand.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

from s3compliance.testing.demo import PUBLIC_READ

DEMO_BUCKET = "demo-compliant-01"
QUEUE_NAME = "s3compliance-demo-changes"


def cloudtrail_event(
    account_id: str, region: str, name: str, bucket: str | None, when: datetime | None = None
) -> dict[str, Any]:
    """The EventBridge envelope of a CloudTrail-recorded S3 call, as the rule delivers it."""
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": account_id,
        "time": stamp,
        "region": region,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "eventSource": "s3.amazonaws.com",
            "eventName": name,
            "eventID": str(uuid.uuid4()),
            "eventTime": stamp,
            "awsRegion": region,
            "recipientAccountId": account_id,
            "requestParameters": {"bucketName": bucket} if bucket else None,
        },
    }


def make_public(session: boto3.Session, queue_url: str, bucket: str = DEMO_BUCKET) -> None:
    """Attach a public-read policy to ``bucket``, and inject the event it makes."""
    s3 = session.client("s3", region_name="us-east-1")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{**PUBLIC_READ, "Resource": f"arn:aws:s3:::{bucket}/*"}],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    account = session.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
    event = cloudtrail_event(account, "us-east-1", "PutBucketPolicy", bucket)
    session.client("sqs", region_name="us-east-1").send_message(
        QueueUrl=queue_url, MessageBody=json.dumps(event)
    )
