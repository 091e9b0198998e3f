"""Compliance-status tagging: opt-in, planned first, idempotent and lossless.

PutBucketTagging replaces a bucket's whole tag set, so a careless writer drops tags. Here the plan
is computed from the tags the scan fetched; just before writing, each bucket's tags are read again
(a tag added by someone since the scan survives), only the one key changes, and nothing is written
when the value is already right, so a second run makes no write at all. A bucket at S3's 50-tag
limit, or one carrying ``aws:`` system tags that no requester may write back, is reported and
never written: losing a tag is worse than missing a status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from s3compliance.scan.aws import Clients, error_code
from s3compliance.scan.evidence import fetch_tags
from s3compliance.scan.retry import RetryPolicy

log = logging.getLogger(__name__)

#: IAM actions tagging needs, declared next to the code that calls them (see iam.py).
PERMISSIONS = ("s3:GetBucketTagging", "s3:PutBucketTagging")
DEFAULT_TAG_KEY = "compliance-status"
MAX_TAGS = 50
#: The tag value of each bucket status; an ``accepted`` bucket (every FAIL covered by a reviewed
#: exception) is tagged as such, so that a tag-based policy can tell it from a compliant one.
VALUES = {"non_compliant": "failed", "compliant": "passed", "accepted": "accepted"}
TAG_PLAN_COLUMNS = [
    "bucket",
    "region",
    "status",
    "current_value",
    "new_value",
    "action",
    "tag_count",
]
APPLY_COLUMNS = [*TAG_PLAN_COLUMNS, "written", "error_code", "tags_after"]


def _action(status: str, tags: dict[str, str] | None, key: str) -> tuple[str, str]:
    """What to do with one bucket, and the value it should carry."""
    new = VALUES.get(status, "")
    if not new:
        return "skip-unknown", ""
    if tags is None:
        return "error-tags-unread", new
    current = tags.get(key)
    if current == new:
        return "none", new
    if any(k.lower().startswith("aws:") for k in tags):
        return "error-system-tags", new
    if current is None and len(tags) >= MAX_TAGS:
        return "error-tag-limit", new
    return ("add" if current is None else "update"), new


def plan_tags(
    buckets: pd.DataFrame,
    tag_key: str = DEFAULT_TAG_KEY,
    current: Mapping[str, dict[str, str] | None] | None = None,
) -> pd.DataFrame:
    """One row per bucket: current and planned value of ``tag_key`` and the action.

    Actions: ``add``, ``update``, ``none`` (already right), ``skip-unknown`` (status unknown: an
    ERROR is no verdict), ``error-tag-limit`` (50 tags, key missing), ``error-system-tags``
    (``aws:`` tags cannot be written back), ``error-tags-unread`` (tags not known). ``current``
    defaults to the ``tags`` the scan fetched.
    """
    rows = []
    for row in buckets.itertuples(index=False):
        tags = current.get(row.bucket) if current is not None else row.tags
        action, new = _action(row.status, tags, tag_key)
        rows.append(
            {
                "bucket": row.bucket,
                "region": row.region,
                "status": row.status,
                "current_value": (tags or {}).get(tag_key, ""),
                "new_value": new,
                "action": action,
                "tag_count": len(tags) if tags is not None else -1,
            }
        )
    return pd.DataFrame(rows, columns=TAG_PLAN_COLUMNS)


def _apply_one(
    row: dict[str, Any], clients: Clients, retry: RetryPolicy, tag_key: str
) -> dict[str, Any]:
    client = clients.s3(row["region"])
    try:
        tags = retry.call(fetch_tags, client, row["bucket"])  # fresh: keep tags added since
        action, new = _action(row["status"], tags, tag_key)
        if action not in ("add", "update"):
            return {**row, "action": action, "written": False, "error_code": "", "tags_after": tags}
        merged = {**tags, tag_key: new}
        retry.call(
            client.put_bucket_tagging,
            Bucket=row["bucket"],
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in merged.items()]},
        )
    except (ClientError, BotoCoreError) as exc:
        log.warning("tagging %s failed: %s", row["bucket"], exc)
        return {**row, "written": False, "error_code": error_code(exc), "tags_after": None}
    return {**row, "action": action, "written": True, "error_code": "", "tags_after": merged}


def apply_tags(
    plan: pd.DataFrame, clients: Clients, retry: RetryPolicy, tag_key: str = DEFAULT_TAG_KEY
) -> pd.DataFrame:
    """Write the planned changes; returns the plan with, per bucket, what was written.

    Rows whose action is not ``add``/``update`` are not touched at all (no read, no write).
    """
    results = []
    for row in plan.to_dict("records"):
        if row["action"] in ("add", "update"):
            results.append(_apply_one(row, clients, retry, tag_key))
        else:
            results.append({**row, "written": False, "error_code": "", "tags_after": None})
    applied = pd.DataFrame(results, columns=APPLY_COLUMNS)
    log.info("tags written on %d bucket(s)", int(applied["written"].sum()))
    return applied


def read_current_tags(
    buckets: pd.DataFrame, clients: Clients, retry: RetryPolicy
) -> dict[str, dict[str, str] | None]:
    """Tags of each bucket read now (to plan from an older findings file); None if unreadable."""
    current: dict[str, dict[str, str] | None] = {}
    for row in buckets.itertuples(index=False):
        try:
            current[row.bucket] = retry.call(fetch_tags, clients.s3(row.region), row.bucket)
        except NoCredentialsError:
            raise  # not a per-bucket problem: the caller says so once
        except (ClientError, BotoCoreError) as exc:
            log.warning("cannot read the tags of %s: %s", row.bucket, exc)
            current[row.bucket] = None
    return current
