"""What the EventBridge rule matches and what its queue must be: one source for the setup program
(``watch-setup``) and for the watcher that reads the queue.

The event names come from the evidence documents' declarations
(:data:`s3compliance.checks.documents.DOCUMENTS`, ``changed_by``): a document a check reads is
watched because it declares the calls that change it, so a new document cannot be forgotten by
the rule. This module imports nothing of the scan, so the Pulumi generator can use it.
"""

from __future__ import annotations

import math
from typing import Any

from s3compliance.checks.documents import BUCKET_LIFECYCLE_EVENTS, DOCUMENTS

SOURCE = "aws.s3"
DETAIL_TYPE = "AWS API Call via CloudTrail"
EVENT_SOURCE = "s3.amazonaws.com"

#: The S3 calls that change what a check reads, on a bucket (CloudTrail's event names).
BUCKET_EVENTS = frozenset(BUCKET_LIFECYCLE_EVENTS).union(
    *(d.changed_by for d in DOCUMENTS.values() if d.scope == "bucket")
)
#: The account's own Block Public Access setting (S3 Control), which every bucket's verdict reads.
ACCOUNT_EVENTS = frozenset().union(
    *(d.changed_by for d in DOCUMENTS.values() if d.scope == "account")
)

#: A bucket changed again and again is still rescanned this many debounce periods after its
#: first change (the coalescer's ``max_wait_s``).
MAX_WAIT_FACTOR = 6
#: What one delta run may take to rescan and publish before the watcher's heartbeat extends the
#: visibility of its messages (a batch holds up to 500 events; the watch bench's largest took
#: under 15 s, so this is a wide margin, not a measurement).
RESCAN_AND_PUBLISH_S = 270
#: Receives before SQS moves a message to the dead-letter queue: a malformed message, or one
#: whose batch crashed this many times.
MAX_RECEIVE_COUNT = 5
#: A message waits this long for a stopped watcher; the dead-letter queue keeps it longer, since
#: SQS keeps a moved message's original enqueue time (AWS SQS dead-letter queue documentation).
QUEUE_RETENTION_S = 7 * 24 * 3600
DLQ_RETENTION_S = 14 * 24 * 3600  # the SQS maximum


def event_pattern() -> dict[str, Any]:
    """The EventBridge pattern: successful S3 calls (no ``errorCode``: a failed call changed
    nothing) that change a document a check reads."""
    return {
        "source": [SOURCE],
        "detail-type": [DETAIL_TYPE],
        "detail": {
            "eventSource": [EVENT_SOURCE],
            "eventName": sorted(BUCKET_EVENTS | ACCOUNT_EVENTS),
            "errorCode": [{"exists": False}],
        },
    }


def visibility_timeout_s(debounce_s: float) -> int:
    """The queue's visibility timeout: longer than a change can be held (``MAX_WAIT_FACTOR``
    debounce periods) plus a rescan and its publication, so a message is not redelivered while
    the batch that covers it is still running."""
    return math.ceil(MAX_WAIT_FACTOR * debounce_s + RESCAN_AND_PUBLISH_S)
