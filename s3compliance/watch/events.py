"""One queue message as a :class:`Change`: the CloudTrail event EventBridge delivered, validated.

What arrives on the queue is untrusted: anything that can send to it, or a misconfigured rule,
could put a message there. A message is read only through :data:`EVENT_SCHEMA`, and a bucket name
only if it can be one; anything else is :class:`MalformedEvent` (one line naming the message id),
left for the queue's dead-letter queue rather than guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jsonschema

from s3compliance.params import Params
from s3compliance.scan.delta import BUCKET_NAME, Event
from s3compliance.scan.discovery import matches
from s3compliance.watch.rule import (
    ACCOUNT_EVENTS,
    BUCKET_EVENTS,
    DETAIL_TYPE,
    EVENT_SOURCE,
    SOURCE,
)

#: The EventBridge envelope of a CloudTrail-recorded S3 call, as far as the watcher reads it.
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["source", "detail-type", "detail"],
    "properties": {
        "source": {"const": SOURCE},
        "detail-type": {"const": DETAIL_TYPE},
        "detail": {
            "type": "object",
            "required": [
                "eventSource",
                "eventName",
                "eventID",
                "eventTime",
                "awsRegion",
                "recipientAccountId",
            ],
            "not": {"required": ["errorCode"]},  # a call that failed changed nothing
            "properties": {
                "eventSource": {"const": EVENT_SOURCE},
                "eventName": {"enum": sorted(BUCKET_EVENTS | ACCOUNT_EVENTS)},
                "eventID": {"type": "string", "minLength": 1, "maxLength": 128},
                "eventTime": {
                    "type": "string",
                    "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$",
                },
                "awsRegion": {"type": "string", "pattern": "^[a-z]{2}(-[a-z0-9]+)+$"},
                "recipientAccountId": {"type": "string", "pattern": "^\\d{12}$"},
                "requestParameters": {"type": ["object", "null"]},
            },
        },
    },
}


class MalformedEvent(ValueError):
    """A message that is not a well-formed change event; the message says which and why."""


@dataclass(frozen=True)
class Change:
    """One change: which call, on which bucket (None: the account's setting), where and when,
    and the queue message that carried it (deleted once the delta run covering it is out)."""

    message_id: str
    receipt: str
    event_id: str
    event_name: str
    event_time: datetime
    account_id: str
    region: str
    bucket: str | None

    @property
    def key(self) -> tuple[str, str]:
        """What one rescan covers: (account, bucket), or (account, "") for its setting."""
        return self.account_id, self.bucket or ""

    @property
    def event(self) -> Event:
        return Event(self.event_id, self.event_time.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _where(error: jsonschema.ValidationError) -> str:
    return "/".join(map(str, error.absolute_path)) or "the top"


def parse_message(message: Mapping[str, Any]) -> Change:
    """The change an SQS message (``MessageId``, ``ReceiptHandle``, ``Body``) carries; raises
    :class:`MalformedEvent` for anything else."""
    message_id = str(message.get("MessageId", "?"))
    try:
        body = json.loads(message["Body"])
    except (KeyError, TypeError, ValueError):
        raise MalformedEvent(f"message {message_id}: the body is not JSON") from None
    errors = sorted(
        jsonschema.Draft202012Validator(EVENT_SCHEMA).iter_errors(body), key=lambda e: e.path
    )
    if errors:
        raise MalformedEvent(
            f"message {message_id}: not an S3 change event ({errors[0].validator} at "
            f"{_where(errors[0])})"
        )
    detail = body["detail"]
    name = detail["eventName"]
    bucket = None
    if name in BUCKET_EVENTS:
        bucket = (detail.get("requestParameters") or {}).get("bucketName")
        if not isinstance(bucket, str) or not BUCKET_NAME.match(bucket):
            raise MalformedEvent(
                f"message {message_id}: {name} without a valid requestParameters.bucketName"
            )
    try:
        when = datetime.fromisoformat(detail["eventTime"].split(".")[0].rstrip("Z"))
    except ValueError:
        raise MalformedEvent(f"message {message_id}: eventTime is not a time") from None
    return Change(
        message_id=message_id,
        receipt=str(message.get("ReceiptHandle", "")),
        event_id=detail["eventID"],
        event_name=name,
        event_time=when.replace(tzinfo=UTC),
        account_id=detail["recipientAccountId"],
        region=detail["awsRegion"],
        bucket=bucket,
    )


def out_of_scope(change: Change, params: Params, accounts: Collection[str] | None) -> str:
    """Why the scan does not cover the change ("" when it does): an account it does not scan
    (``accounts``: the scan's, None for any), a region it does not scan, a bucket its
    ``include``/``exclude`` patterns leave out."""
    if accounts is not None and change.account_id not in accounts:
        return f"account {change.account_id} is not scanned"
    if change.bucket is None:
        return ""
    if params.regions != ["*"] and change.region not in params.regions:
        return f"region {change.region} is not scanned"
    if not matches(change.bucket, params.include, params.exclude):
        return f"bucket {change.bucket} is outside include/exclude"
    return ""
