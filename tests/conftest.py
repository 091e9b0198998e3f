"""Shared fixtures. No test may reach AWS: moto answers in-process or on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.httpsession import URLLib3Session
from moto import mock_aws

from s3compliance.params import Params
from s3compliance.scan.aws import Clients
from s3compliance.testing.emulation import FaultInjector, MetricsEmulator, moto_bucket_exists

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Keep each phase's report on the item, so a fixture can tell that its test failed (the
    browser tests save a screenshot then)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fail any request that would leave this machine, and hide the developer's AWS setup."""
    real_send = URLLib3Session.send

    def guarded_send(self: URLLib3Session, request: Any) -> Any:
        host = urlsplit(request.url).hostname
        if host not in LOCAL_HOSTS:
            raise AssertionError(f"test tried to reach a real host: {request.url}")
        return real_send(self, request)

    monkeypatch.setattr(URLLib3Session, "send", guarded_send)
    empty = tmp_path_factory.mktemp("awsconfig") / "none"
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class Account:
    """A moto account with the emulated metrics API and fault injection, and helpers to seed it."""

    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self.faults = FaultInjector().install(session)  # first, so its faults win
        self.metrics = MetricsEmulator(moto_bucket_exists).install(session)
        self.s3 = session.client("s3", region_name="us-east-1")

    def bucket(
        self,
        name: str,
        region: str = "us-east-1",
        versioning: str | None = None,
        sse: str | None = None,
        lifecycle: list[dict[str, Any]] | None = None,
        policy: dict[str, Any] | None = None,
        metrics: list[dict[str, Any]] | None = None,
    ) -> str:
        client = self.session.client("s3", region_name=region)
        extra = (
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        client.create_bucket(Bucket=name, **extra)
        if versioning:
            client.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": versioning}
            )
        if sse:
            client.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": sse}}]
                },
            )
        if lifecycle:
            client.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": lifecycle}
            )
        if policy:
            client.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
        for config in metrics or []:
            client.put_bucket_metrics_configuration(
                Bucket=name, Id=config["Id"], MetricsConfiguration=config
            )
        return name

    def compliant_bucket(self, name: str, region: str = "us-east-1") -> str:
        return self.bucket(
            name,
            region=region,
            versioning="Enabled",
            sse="AES256",
            lifecycle=[{"ID": "e", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 30}}],
            metrics=[{"Id": "EntireBucket"}],
        )

    def clients(self, max_workers: int = 4) -> Clients:
        return Clients(self.session, max_workers=max_workers)


@pytest.fixture
def account() -> Iterator[Account]:
    with mock_aws():
        yield Account(boto3.Session(region_name="us-east-1"))


@pytest.fixture
def params() -> Params:
    return Params(max_workers=4, retry_attempts=3, retry_max_wait_s=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (its own port), started and stopped by the tests."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def server_session(moto_server: str) -> Iterator[boto3.Session]:
    """A session on a freshly reset moto server."""
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    ).read()
    yield boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )


def minimal_report(*buckets: dict[str, Any]) -> dict[str, Any]:
    """The smallest findings report the shipped schema accepts, with these bucket entries
    (each needs ``bucket_name``, ``status`` and ``findings``)."""
    return {
        "schema_version": "1.0",
        "tool_version": "0.1.0",
        "generated_at": "2026-01-01T00:00:00Z",
        "account_id": "123456789012",
        "regions": ["us-east-1"],
        "parameters": {},
        "summary": {
            "total_buckets": len(buckets),
            "compliant_buckets": 0,
            "non_compliant_buckets": 0,
            "unknown_buckets": 0,
            "high_severity_buckets": 0,
            "by_check": {},
        },
        "non_compliant_buckets": [],
        "buckets": list(buckets),
        "errors": [],
    }


def flagged_bucket(name: str) -> dict[str, Any]:
    """A report's bucket entry failing ``versioning`` (Suspended), for :func:`minimal_report`."""
    return {
        "bucket_name": name,
        "bucket_arn": f"arn:aws:s3:::{name}",
        "region": "us-east-1",
        "status": "non_compliant",
        "findings": [
            {
                "check_id": "versioning",
                "status": "FAIL",
                "reason": "Versioning is Suspended.",
                "violation": "Versioning not enabled",
                "error_code": "",
                "evidence": {"versioning": {"Status": "Suspended"}},
            }
        ],
    }
