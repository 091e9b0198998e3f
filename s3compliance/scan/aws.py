"""Sessions and clients: the one place that knows how to reach AWS (or an emulator of it).

Every function that talks to AWS receives a :class:`Clients` instead of building its own client,
so that tests, the demo account and a LocalStack user all go through the same code.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from s3compliance.params import DEFAULT_REGION
from s3compliance.scan.retry import RetryPolicy

_ACCOUNT_PREFIX = re.compile(r"^(https?://)\d{12}\.")


class CallRecorder:
    """Counts the AWS operations a run calls, per operation and per bucket.

    S3 operations go by their name (``GetBucketPolicy``), others with their service in front
    (``sts:GetCallerIdentity``, ``s3control:GetPublicAccessBlock``).

    Attached to every client the factory builds (``before-parameter-build`` fires once per call
    attempt, before any stub or mock can answer it), so the
    benchmark and the tests can prove that no document is fetched twice for one bucket and that a
    scan makes no mutating call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_operation: Counter[str] = Counter()
        self.by_bucket_operation: Counter[tuple[str, str]] = Counter()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        bucket = params.get("Bucket", "") if isinstance(params, dict) else ""
        service = model.service_model.service_name
        name = model.name if service == "s3" else f"{service}:{model.name}"
        with self._lock:
            self.by_operation[name] += 1
            self.by_bucket_operation[(bucket, name)] += 1

    @property
    def operations(self) -> set[str]:
        return set(self.by_operation)

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())


def _strip_account_prefix(request: Any, **_: Any) -> None:
    """s3control puts ``<account-id>.`` in front of the host; a custom endpoint has no such host."""
    request.url = _ACCOUNT_PREFIX.sub(r"\1", request.url)


def make_session(aws_profile: str | None = None) -> boto3.Session:
    """A boto3 session for the named profile (or the default credential chain)."""
    return boto3.Session(profile_name=aws_profile) if aws_profile else boto3.Session()


class Clients:
    """Hands out per-region S3 clients, an STS client and an s3control client, built once each.

    botocore's retries are set to a single attempt: tenacity (``s3compliance.scan.retry``) is the
    one retry layer. The connection pool is sized to the worker pool so threads never queue for a
    socket.
    """

    def __init__(
        self,
        session: boto3.Session | None = None,
        endpoint_url: str | None = None,
        max_workers: int = 16,
        recorder: CallRecorder | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.session = session if session is not None else boto3.Session()
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self.recorder = recorder if recorder is not None else CallRecorder()
        self.config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=max(10, max_workers),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}

    def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self.session.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    config=self.config,
                )
                client.meta.events.register("before-parameter-build", self.recorder)
                if service == "s3control" and self.endpoint_url:
                    client.meta.events.register("before-sign.s3-control.*", _strip_account_prefix)
                self._clients[key] = client
            return client

    def s3(self, region: str = DEFAULT_REGION) -> Any:
        """An S3 client of the bucket's own region (avoids 301 PermanentRedirect)."""
        return self._client("s3", region)

    def client(self, service: str, region: str = DEFAULT_REGION) -> Any:
        """Any other service's client (SNS, CloudWatch, SQS for the opt-in writers)."""
        return self._client(service, region)

    def sts(self) -> Any:
        return self._client("sts", DEFAULT_REGION)

    def s3control(self, region: str = DEFAULT_REGION) -> Any:
        return self._client("s3control", region)

    def account_id(self, retry: RetryPolicy | None = None) -> str:
        """The caller's account id, or ``unknown`` when STS cannot say (the scan still runs).

        Through the retry policy: one throttled GetCallerIdentity must not make every
        account-level document fail."""
        retry = retry or RetryPolicy()
        try:
            return str(retry.call(self.sts().get_caller_identity)["Account"])
        except ClientError:
            return "unknown"


def error_code(exc: BaseException) -> str:
    """The AWS error code of an exception, or its class name for non-AWS errors."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
    return type(exc).__name__


def partition_for_region(session: boto3.Session, region: str) -> str:
    """``aws``, ``aws-cn`` or ``aws-us-gov``: ARNs must carry the partition of the region."""
    return str(session._session.get_partition_for_region(region))
