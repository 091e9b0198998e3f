"""Discovery: every bucket of the account, with its region, filtered by name patterns.

ListBuckets is paginated (``MaxBuckets`` / ``ContinuationToken``). The loop is written out rather
than taken from the boto3 paginator so that each page goes through the retry policy on its own: a
throttled page 7 is retried, instead of restarting the listing or crashing it.
"""

from __future__ import annotations

import fnmatch
import logging
from typing import Any

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from s3compliance.scan.aws import DEFAULT_REGION, Clients, error_code
from s3compliance.scan.retry import RetryPolicy

log = logging.getLogger(__name__)

DISCOVERED_COLUMNS = ["bucket", "region", "created", "location_error"]


def _list_pages(
    client: Any, page_size: int, retry: RetryPolicy, region: str | None, prefix: str = ""
) -> list[dict]:
    """All buckets ListBuckets returns, page by page (those whose name starts with ``prefix``)."""
    buckets: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"MaxBuckets": page_size}
    if region:
        kwargs["BucketRegion"] = region
    if prefix:
        kwargs["Prefix"] = prefix
    page_no = 0
    while True:
        page = retry.call(client.list_buckets, **kwargs)
        page_no += 1
        items = page.get("Buckets", [])
        for item in items:
            # With BucketRegion in the request every bucket returned is in that region, whether or
            # not the response repeats it (moto does not).
            buckets.append({**item, "BucketRegion": item.get("BucketRegion") or region})
        token = page.get("ContinuationToken")
        if not token:
            if len(items) >= page_size:
                log.warning(
                    "ListBuckets page %d is full (%d buckets) but carries no ContinuationToken: "
                    "the listing may be truncated; raise page_size to check.",
                    page_no,
                    len(items),
                )
            return buckets
        kwargs["ContinuationToken"] = token


def normalise_location(constraint: str | None) -> str:
    """GetBucketLocation's answer as a region: null/empty means us-east-1, ``EU`` eu-west-1."""
    if not constraint:
        return DEFAULT_REGION
    return "eu-west-1" if constraint == "EU" else constraint


def locate(client: Any, bucket: str) -> str:
    """The bucket's region, from GetBucketLocation."""
    return normalise_location(client.get_bucket_location(Bucket=bucket).get("LocationConstraint"))


def _locate(client: Any, bucket: str, retry: RetryPolicy) -> tuple[str, str]:
    try:
        return retry.call(locate, client, bucket), ""
    except (ClientError, BotoCoreError) as exc:
        return "", error_code(exc)


def matches(name: str, include: list[str], exclude: list[str]) -> bool:
    """Glob filters on bucket names: in ``include`` (when given) and in no ``exclude``."""
    if include and not any(fnmatch.fnmatchcase(name, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(name, p) for p in exclude)


def _named(clients: Clients, names: list[str], retry: RetryPolicy, page_size: int) -> list[dict]:
    """The account's own buckets among ``names``: one ListBuckets by ``Prefix`` per name, so a
    bucket is found exactly as a full listing would find it (owned by this account), and a name
    not listed is a bucket this account does not have (deleted, or never its own)."""
    found = []
    for name in dict.fromkeys(names):
        listed = _list_pages(clients.s3(DEFAULT_REGION), page_size, retry, None, prefix=name)
        found.extend(item for item in listed if item["Name"] == name)
    return found


def discover_buckets(
    clients: Clients,
    regions: list[str],
    retry: RetryPolicy,
    page_size: int = 1000,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    names: list[str] | None = None,
) -> pd.DataFrame:
    """The buckets to scan, one row each, sorted by name.

    ``regions == ["*"]`` lists every bucket once and reads each region from the response, calling
    GetBucketLocation only where the response does not say. A bucket whose location cannot be read
    keeps its row with ``location_error`` set, so the scan reports it as ERROR instead of losing it.

    ``names`` (a delta run): only those buckets, each looked up on its own; a name that is not
    one of the account's buckets, or not in the scan's regions and patterns, has no row.
    """
    include, exclude = include or [], exclude or []
    raw: list[dict[str, Any]] = []
    if names is not None:
        raw = _named(clients, names, retry, page_size)
    elif regions == ["*"]:
        raw = _list_pages(clients.s3(DEFAULT_REGION), page_size, retry, None)
    else:
        for region in regions:
            raw.extend(_list_pages(clients.s3(region), page_size, retry, region))

    rows: dict[str, dict[str, Any]] = {}
    for item in raw:
        name = item["Name"]
        if name in rows or not matches(name, include, exclude):
            continue
        region, problem = item.get("BucketRegion") or "", ""
        if not region:
            region, problem = _locate(clients.s3(DEFAULT_REGION), name, retry)
        if names is not None and regions != ["*"] and region and region not in regions:
            log.info("bucket %s is in %s, outside the scanned regions: not scanned", name, region)
            continue
        created = item.get("CreationDate")
        rows[name] = {
            "bucket": name,
            "region": region or DEFAULT_REGION,
            "created": pd.Timestamp(created).tz_convert("UTC") if created is not None else pd.NaT,
            "location_error": problem,
        }
    log.info("discovered %d bucket(s) in %s", len(rows), ", ".join(regions))
    frame = pd.DataFrame([rows[n] for n in sorted(rows)], columns=DISCOVERED_COLUMNS)
    frame = frame.reset_index(drop=True)
    if names is not None:  # what a delta records as deleted: the account has no such bucket
        listed = {item["Name"] for item in raw}
        frame.attrs["missing"] = sorted(n for n in set(names) if n not in listed)
    return frame
