"""Evidence: the S3 configuration documents of one bucket, each fetched once.

Checks never call AWS. A scan works out which documents its enabled checks need, fetches each of
them once per bucket through the retry policy, and hands the results to every check that reads
them. "Not configured" answers are evidence (value ``None``), not errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from s3compliance.aws import error_code
from s3compliance.retry import RetryPolicy


@dataclass(frozen=True)
class DocumentSpec:
    """How to fetch one configuration document and what its "not configured" answers are."""

    name: str
    api: str  # the S3 API name, as in the spec
    permission: str  # the IAM action that API needs
    fetch: Callable[[Any, str], Any]
    not_found: frozenset[str] = frozenset()


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


def _versioning(client: Any, bucket: str) -> dict[str, Any]:
    return _strip_metadata(client.get_bucket_versioning(Bucket=bucket))


def _encryption(client: Any, bucket: str) -> dict[str, Any]:
    return client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]


def _lifecycle(client: Any, bucket: str) -> list[dict[str, Any]]:
    return client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])


def _policy(client: Any, bucket: str) -> dict[str, Any]:
    return json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"])


def _policy_status(client: Any, bucket: str) -> dict[str, Any]:
    return client.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]


def _metrics(client: Any, bucket: str) -> list[dict[str, Any]]:
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


DOCUMENTS: dict[str, DocumentSpec] = {
    spec.name: spec
    for spec in (
        DocumentSpec("versioning", "GetBucketVersioning", "s3:GetBucketVersioning", _versioning),
        DocumentSpec(
            "encryption",
            "GetBucketEncryption",
            "s3:GetEncryptionConfiguration",
            _encryption,
            frozenset({"ServerSideEncryptionConfigurationNotFoundError"}),
        ),
        DocumentSpec(
            "lifecycle",
            "GetBucketLifecycleConfiguration",
            "s3:GetLifecycleConfiguration",
            _lifecycle,
            frozenset({"NoSuchLifecycleConfiguration"}),
        ),
        DocumentSpec(
            "policy",
            "GetBucketPolicy",
            "s3:GetBucketPolicy",
            _policy,
            frozenset({"NoSuchBucketPolicy"}),
        ),
        DocumentSpec(
            "policy_status",
            "GetBucketPolicyStatus",
            "s3:GetBucketPolicyStatus",
            _policy_status,
            frozenset({"NoSuchBucketPolicy"}),
        ),
        DocumentSpec(
            "metrics",
            "ListBucketMetricsConfigurations",
            "s3:GetMetricsConfiguration",
            _metrics,
        ),
    )
}


def fetch_document(spec: DocumentSpec, client: Any, bucket: str, retry: RetryPolicy) -> Document:
    """Fetch one document; an error is returned as data so the other documents still get fetched."""
    try:
        return Document(value=_jsonable(retry.call(spec.fetch, client, bucket)))
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
) -> BucketEvidence:
    """Fetch each named document of one bucket exactly once."""
    evidence = BucketEvidence(bucket=bucket, region=region)
    for name in documents:
        evidence.documents[name] = fetch_document(DOCUMENTS[name], client, bucket, retry)
    return evidence
