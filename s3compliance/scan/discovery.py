"""Discovery: every bucket of the account, with its region, filtered by name patterns.

ListBuckets is paginated (``MaxBuckets`` / ``ContinuationToken``). The loop is written out rather
than taken from the boto3 paginator so that each page goes through the retry policy on its own: a
throttled page 7 is retried, instead of restarting the listing or crashing it. A listing that may
be cut short (a full page without a token, even at 10,000) is said so in ``attrs["truncated"]``,
and the run is then incomplete.
"""

from __future__ import annotations

import fnmatch
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from s3compliance.scan.aws import DEFAULT_REGION, Clients, error_code
from s3compliance.scan.retry import RetryPolicy

log = logging.getLogger(__name__)

DISCOVERED_COLUMNS = ["bucket", "region", "created", "location_error"]


#: ListBuckets' largest page (``MaxBuckets`` 1 to 10,000).
MAX_PAGE = 10_000


def _pages(client: Any, kwargs: dict[str, Any], retry: RetryPolicy) -> tuple[list[dict], bool]:
    """Follow ``ContinuationToken`` to the end; the buckets, and whether the last page came back
    full without a token (the listing may go on: the endpoint did not say)."""
    buckets: list[dict[str, Any]] = []
    while True:
        page = retry.call(client.list_buckets, **kwargs)
        items = page.get("Buckets", [])
        for item in items:
            # With BucketRegion in the request every bucket returned is in that region, whether or
            # not the response repeats it (moto does not).
            buckets.append(
                {**item, "BucketRegion": item.get("BucketRegion") or kwargs.get("BucketRegion")}
            )
        token = page.get("ContinuationToken")
        if not token:
            return buckets, len(items) >= kwargs["MaxBuckets"]
        kwargs = {**kwargs, "ContinuationToken": token}


def _list_pages(
    client: Any, page_size: int, retry: RetryPolicy, region: str | None, prefix: str = ""
) -> tuple[list[dict], bool]:
    """All buckets ListBuckets returns, page by page (those whose name starts with ``prefix``),
    and whether the listing may be truncated.

    A page that comes back full without a continuation token is what an endpoint that ignores
    pagination answers (some S3-compatible stores and emulators): the listing is asked for again
    in one page of :data:`MAX_PAGE`, and used when it is longer. Still full at that size, the
    listing may be truncated and the caller marks the run incomplete: never a silently short
    scan.
    """
    kwargs: dict[str, Any] = {"MaxBuckets": page_size}
    if region:
        kwargs["BucketRegion"] = region
    if prefix:
        kwargs["Prefix"] = prefix
    buckets, full = _pages(client, kwargs, retry)
    where = ", ".join(f"{k} {v}" for k, v in kwargs.items() if k != "MaxBuckets")
    if full and page_size < MAX_PAGE:
        again, full = _pages(client, {**kwargs, "MaxBuckets": MAX_PAGE}, retry)
        if len(again) > len(buckets):
            log.warning(
                "ListBuckets (%s): a full page of %d came without a continuation token and "
                "MaxBuckets %d returned %d buckets: the endpoint does not paginate; using that "
                "listing",
                where or "every region",
                page_size,
                MAX_PAGE,
                len(again),
            )
            buckets = again
    if full:
        log.warning(
            "ListBuckets (%s): a full page of %d buckets came without a continuation token: "
            "the listing may be truncated; the run is marked incomplete",
            where or "every region",
            MAX_PAGE,
        )
    return buckets, full


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


def _named(
    clients: Clients, names: list[str], retry: RetryPolicy, page_size: int
) -> tuple[list[dict], set[str]]:
    """The account's own buckets among ``names``: one ListBuckets by ``Prefix`` per name, so a
    bucket is found exactly as a full listing would find it (owned by this account), and a name
    not listed is a bucket this account does not have (deleted, or never its own). The second
    value: names whose listing may be truncated (never called deleted).

    The lookups run concurrently (as many as the client's connection pool holds): a watcher's
    batch of 100 buckets is 100 round trips, which one after another took seconds.
    """
    client = clients.s3(DEFAULT_REGION)
    unique = list(dict.fromkeys(names))

    def look_up(name: str) -> tuple[list[dict], bool]:
        return _list_pages(client, page_size, retry, None, prefix=name)

    workers = max(1, min(len(unique), client.meta.config.max_pool_connections))
    with ThreadPoolExecutor(workers, thread_name_prefix="discover") as pool:
        answers = list(pool.map(look_up, unique))
    found, unsure = [], set()
    for name, (listed, truncated) in zip(unique, answers, strict=True):
        found.extend(item for item in listed if item["Name"] == name)
        if truncated:
            unsure.add(name)
    return found, unsure


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
    unsure: set[str] = set()
    truncated = False
    if names is not None:
        raw, unsure = _named(clients, names, retry, page_size)
        truncated = bool(unsure)
    elif regions == ["*"]:
        raw, truncated = _list_pages(clients.s3(DEFAULT_REGION), page_size, retry, None)
    else:
        for region in regions:
            listed, cut = _list_pages(clients.s3(region), page_size, retry, region)
            raw.extend(listed)
            truncated = truncated or cut

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
    frame.attrs["truncated"] = truncated  # the run is incomplete: see _list_pages
    if names is not None:  # what a delta records as deleted: the account has no such bucket
        listed = {item["Name"] for item in raw} | unsure
        frame.attrs["missing"] = sorted(n for n in set(names) if n not in listed)
    return frame
