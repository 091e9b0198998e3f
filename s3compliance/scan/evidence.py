"""Evidence: the S3 configuration documents of one bucket, each fetched once.

Checks never call AWS. A scan works out which documents its enabled checks need, fetches each of
them once per bucket through the retry policy, and hands the results to every check that reads
them. "Not configured" answers are evidence (value ``None``), not errors.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from s3compliance.checks.documents import DOCUMENTS, DocumentSpec
from s3compliance.scan.aws import error_code
from s3compliance.scan.discovery import locate
from s3compliance.scan.retry import RetryPolicy, is_transient


@dataclass(frozen=True)
class Document:
    """One fetched document: a value (``None``: not configured) or the AWS error it got."""

    value: Any = None
    error_code: str = ""
    error_message: str = ""

    @property
    def ok(self) -> bool:
        return not self.error_code


@dataclass
class BucketEvidence:
    bucket: str
    region: str
    documents: dict[str, Document] = field(default_factory=dict)


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so evidence can go into a report as it is (dates become text)."""
    return json.loads(json.dumps(value, default=str))


def _strip_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _fetch_versioning(client: Any, bucket: str) -> dict[str, Any]:
    return _strip_metadata(client.get_bucket_versioning(Bucket=bucket))


def _fetch_encryption(client: Any, bucket: str) -> dict[str, Any]:
    return client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]


def _fetch_lifecycle(client: Any, bucket: str) -> list[dict[str, Any]]:
    return client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])


def _fetch_policy(client: Any, bucket: str) -> dict[str, Any]:
    return json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"])


def _fetch_policy_status(client: Any, bucket: str) -> dict[str, Any]:
    return client.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]


def _fetch_public_access_block(client: Any, bucket: str) -> dict[str, Any]:
    return client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]


def _fetch_acl(client: Any, bucket: str) -> dict[str, Any]:
    return _strip_metadata(client.get_bucket_acl(Bucket=bucket))


def _fetch_ownership(client: Any, bucket: str) -> dict[str, Any]:
    return client.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]


def _fetch_logging(client: Any, bucket: str) -> dict[str, Any] | None:
    return client.get_bucket_logging(Bucket=bucket).get("LoggingEnabled")


def _fetch_object_lock(client: Any, bucket: str) -> dict[str, Any]:
    return client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]


class RegionUnknown(Exception):
    """A bucket's region could not be learned (a transient error that outlived its retries, or a
    refusal that hid the region). Not a fact about the bucket: never cached, never a verdict."""

    def __init__(self, bucket: str, code: str, message: str) -> None:
        super().__init__(f"region of {bucket} unknown: {code}: {message}")
        self.code = code


#: Answers that are facts about a destination bucket: it does not exist.
_MISSING_BUCKET = frozenset({"NoSuchBucket", "404", "NotFound"})


def head_bucket_region(client: Any, bucket: str) -> str:
    """The region from HeadBucket's ``x-amz-bucket-region`` header, which S3 sends even when it
    refuses the request (403): how the region of another account's bucket is learned."""
    try:
        response = client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        response = exc.response
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if not headers.get("x-amz-bucket-region"):
            raise
    return str(response["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"])


class LocationCache:
    """Bucket regions already known (from discovery) or looked up once per scan.

    Only facts are kept: a region, or ``error:NoSuchBucket`` for a destination that does not
    exist. A lookup that failed otherwise raises :class:`RegionUnknown` and is tried again by the
    next bucket that asks.
    """

    def __init__(
        self, known: dict[str, str] | None = None, retry: RetryPolicy | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._regions: dict[str, str] = dict(known or {})
        self._retry = retry or RetryPolicy()

    def region(self, client: Any, bucket: str) -> str:
        """The bucket's region, or ``error:<code>`` when the bucket does not exist.

        GetBucketLocation first; when it is refused (another account's bucket), HeadBucket's
        region header. Threads asking for the same bucket wait for one lookup.
        """
        with self._lock:
            key_lock = self._key_locks.setdefault(bucket, threading.Lock())
        with key_lock:
            if bucket not in self._regions:
                self._regions[bucket] = self._lookup(client, bucket)
            return self._regions[bucket]

    def _lookup(self, client: Any, bucket: str) -> str:
        try:
            return self._retry.call(locate, client, bucket)
        except ClientError as exc:
            if error_code(exc) in _MISSING_BUCKET:
                return f"error:{error_code(exc)}"
            if is_transient(exc):
                raise RegionUnknown(bucket, error_code(exc), str(exc)) from exc
        except BotoCoreError as exc:
            raise RegionUnknown(bucket, error_code(exc), str(exc)) from exc
        try:
            return self._retry.call(head_bucket_region, client, bucket)
        except ClientError as exc:
            if error_code(exc) in _MISSING_BUCKET:
                return f"error:{error_code(exc)}"
            raise RegionUnknown(bucket, error_code(exc), str(exc)) from exc
        except BotoCoreError as exc:
            raise RegionUnknown(bucket, error_code(exc), str(exc)) from exc


def _bucket_of_arn(arn: str) -> str:
    return arn.split(":::", 1)[-1]


def _fetch_replication(client: Any, bucket: str, locations: LocationCache) -> dict[str, Any]:
    """The replication rules, plus the region of the source and of each destination bucket."""
    config = client.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
    destinations = {
        _bucket_of_arn(rule.get("Destination", {}).get("Bucket", ""))
        for rule in config.get("Rules", [])
    }
    return {
        **config,
        "SourceRegion": client.meta.region_name,
        "DestinationRegions": {d: locations.region(client, d) for d in sorted(destinations) if d},
    }


def fetch_tags(client: Any, bucket: str) -> dict[str, str]:
    """The bucket's tags as a dict (no tag set is an empty dict).

    Tagging re-reads tags with this same function just before it writes.
    """
    try:
        tag_set = client.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchTagSet":
            return {}
        raise
    return {t["Key"]: t.get("Value", "") for t in tag_set}  # an empty value may come back absent


def _fetch_account_public_access_block(client: Any, account_id: str) -> dict[str, Any]:
    return client.get_public_access_block(AccountId=account_id)["PublicAccessBlockConfiguration"]


def _fetch_metrics(client: Any, bucket: str) -> list[dict[str, Any]]:
    """Every metrics configuration, following ContinuationToken (no paginator exists for it)."""
    configs: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Bucket": bucket}
    while True:
        page = client.list_bucket_metrics_configurations(**kwargs)
        configs.extend(page.get("MetricsConfigurationList", []))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return configs
        kwargs["ContinuationToken"] = token


#: The replication document looks destination regions up through the scan's LocationCache.
NEEDS_LOCATIONS = frozenset({"replication"})

#: How each declared document (see :mod:`s3compliance.checks.documents`) is fetched. ``caller``
#: has no fetcher: it is the account id the scan already knows.
FETCHERS: dict[str, Callable[..., Any]] = {
    "versioning": _fetch_versioning,
    "encryption": _fetch_encryption,
    "lifecycle": _fetch_lifecycle,
    "policy": _fetch_policy,
    "policy_status": _fetch_policy_status,
    "metrics": _fetch_metrics,
    "public_access_block": _fetch_public_access_block,
    "acl": _fetch_acl,
    "ownership": _fetch_ownership,
    "logging": _fetch_logging,
    "object_lock": _fetch_object_lock,
    "replication": _fetch_replication,
    "tags": fetch_tags,
    "account_public_access_block": _fetch_account_public_access_block,
}


def fetch_document(
    spec: DocumentSpec,
    client: Any,
    target: str,
    retry: RetryPolicy,
    locations: LocationCache | None = None,
) -> Document:
    """Fetch one document; an error is returned as data so the other documents still get fetched.

    ``target`` is the bucket name, or the account id for account-scope documents.
    """
    extra = (locations or LocationCache(retry=retry),) if spec.name in NEEDS_LOCATIONS else ()
    try:
        return Document(value=_jsonable(retry.call(FETCHERS[spec.name], client, target, *extra)))
    except RegionUnknown as exc:  # a destination's region: the document cannot be judged
        return Document(error_code=exc.code, error_message=str(exc))
    except ClientError as exc:
        code = error_code(exc)
        if code in spec.not_found:
            return Document(value=None)
        return Document(error_code=code, error_message=str(exc))
    except (BotoCoreError, ValueError) as exc:
        # Exhausted timeouts, unreadable responses, a policy that is not JSON: never a crash.
        return Document(error_code=error_code(exc), error_message=str(exc))


def fetch_evidence(
    client: Any,
    bucket: str,
    region: str,
    documents: Iterable[str],
    retry: RetryPolicy,
    account_documents: dict[str, Document] | None = None,
    locations: LocationCache | None = None,
) -> BucketEvidence:
    """Fetch each named bucket document of one bucket exactly once.

    Account-scope documents are not fetched here: the scan fetched them once and passes them in.
    """
    evidence = BucketEvidence(bucket=bucket, region=region, documents=dict(account_documents or {}))
    for name in documents:
        if DOCUMENTS[name].scope == "bucket":
            evidence.documents[name] = fetch_document(
                DOCUMENTS[name], client, bucket, retry, locations
            )
    return evidence


def fetch_account_documents(
    names: Iterable[str], s3control: Any, account_id: str, retry: RetryPolicy
) -> dict[str, Document]:
    """The account-scope documents the checks need, once per scan."""
    known = account_id != "unknown"
    found: dict[str, Document] = {}
    for name in names:
        spec = DOCUMENTS[name]
        if spec.scope != "account":
            continue
        if not known:
            found[name] = Document(
                error_code="AccountIdUnknown",
                error_message="sts:GetCallerIdentity failed, so the account id is unknown",
            )
        elif name == "caller":
            found[name] = Document(value={"account_id": account_id})
        else:
            found[name] = fetch_document(spec, s3control, account_id, retry)
    return found
