"""The change watcher: CloudTrail events of S3 configuration changes, delivered by EventBridge to
an SQS queue, turned into delta runs (docs/tasks/continuous.md).

``rule`` is what the EventBridge rule matches and what its queue must be (shared with the
``watch-setup`` program, so it imports nothing of the scan);
``events`` reads and validates one queue message (untrusted input) and decides whether its
bucket is in the scan's scope; ``coalesce`` groups the changes of a burst into one rescan. Both
are pure: the loop that receives, rescans and publishes reuses the scan's engines and the run
folder code.
"""

#: IAM actions the watcher needs on its queue, declared with the watcher (``iam-policy`` adds
#: them when ``watch_queue_url`` is set).
PERMISSIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)


def queue_arn(queue_url: str) -> str:
    """``arn:aws:sqs:<region>:<account>:<name>`` of ``https://sqs.<region>.amazonaws.com/
    <account>/<name>``; ``*`` for a URL of another shape (an emulator's)."""
    host, _, path = queue_url.split("://", 1)[-1].partition("/")
    labels, parts = host.split("."), path.strip("/").split("/")
    if len(labels) > 2 and labels[0] == "sqs" and len(parts) == 2 and parts[0].isdigit():
        return f"arn:aws:sqs:{labels[1]}:{parts[0]}:{parts[1]}"
    return "*"
