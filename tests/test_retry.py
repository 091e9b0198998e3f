"""tenacity is the one retry layer: transient errors retried with backoff, others not at all."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from s3compliance.checks.documents import DOCUMENTS
from s3compliance.scan.evidence import fetch_document
from s3compliance.scan.retry import RetryCounter, RetryPolicy, is_transient


@pytest.fixture
def stubbed() -> Iterator[tuple[object, Stubber]]:
    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def policy(attempts: int = 5, max_wait: float = 4.0) -> tuple[RetryPolicy, list[float]]:
    sleeps: list[float] = []
    return RetryPolicy(attempts, max_wait, counter=RetryCounter(), sleep=sleeps.append), sleeps


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (client_error("SlowDown", 503), True),
        (client_error("Throttling", 400), True),
        (client_error("ThrottlingException", 400), True),
        (client_error("RequestLimitExceeded", 400), True),
        (client_error("TooManyRequestsException", 400), True),
        (client_error("RequestTimeout", 400), True),
        (client_error("InternalError", 500), True),
        (client_error("ServiceUnavailable", 503), True),
        (client_error("Whatever", 502), True),
        (client_error("", 429), True),
        (ReadTimeoutError(endpoint_url="http://x"), True),
        (client_error("ThrottledException", 400), True),  # botocore knows more codes than we did
        (client_error("BandwidthLimitExceeded", 400), True),
        (client_error("Whatever", 507), True),  # spec: any 5xx but 501
        (ConnectionClosedError(endpoint_url="http://x"), True),
        (EndpointConnectionError(endpoint_url="http://x"), True),
        (client_error("NotImplemented", 501), False),  # an S3-compatible endpoint lacks the API
        (client_error("RequestTimeTooSkewed", 403), False),  # the clock stays skewed
        (client_error("AccessDenied", 403), False),
        (client_error("NoSuchBucket", 404), False),
        (client_error("PermanentRedirect", 301), False),
        (NoCredentialsError(), False),
        (ValueError("x"), False),
    ],
)
def test_transient_classification(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_throttling_then_success_is_retried_and_counted(stubbed) -> None:
    client, stub = stubbed
    stub.add_client_error("get_bucket_versioning", "SlowDown", http_status_code=503)
    stub.add_client_error("get_bucket_versioning", "Throttling", http_status_code=400)
    stub.add_client_error("get_bucket_versioning", "InternalError", http_status_code=500)
    stub.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": "b"})
    retry, sleeps = policy()
    assert retry.call(client.get_bucket_versioning, Bucket="b")["Status"] == "Enabled"
    assert retry.counter.count == 3
    assert len(sleeps) == 3 and all(0 <= s <= 4.0 for s in sleeps)


def test_gives_up_after_the_configured_attempts_and_becomes_error(stubbed) -> None:
    client, stub = stubbed
    for _ in range(3):
        stub.add_client_error("get_bucket_versioning", "SlowDown", http_status_code=503)
    retry, sleeps = policy(attempts=3)
    doc = fetch_document(DOCUMENTS["versioning"], client, "b", retry)
    assert not doc.ok and doc.error_code == "SlowDown"
    assert retry.counter.count == 2 and len(sleeps) == 2


def test_access_denied_is_not_retried(stubbed) -> None:
    client, stub = stubbed
    stub.add_client_error("get_bucket_policy", "AccessDenied", http_status_code=403)
    retry, sleeps = policy()
    doc = fetch_document(DOCUMENTS["policy"], client, "b", retry)
    assert (doc.error_code, retry.counter.count, sleeps) == ("AccessDenied", 0, [])


def test_not_configured_is_evidence_not_error(stubbed) -> None:
    client, stub = stubbed
    stub.add_client_error(
        "get_bucket_encryption", "ServerSideEncryptionConfigurationNotFoundError", 404
    )
    doc = fetch_document(DOCUMENTS["encryption"], client, "b", policy()[0])
    assert doc.ok and doc.value is None


def test_backoff_grows_and_is_capped_by_max_wait() -> None:
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 8:
            raise client_error("SlowDown", 503)
        return "ok"

    retry, sleeps = policy(attempts=8, max_wait=3.0)
    retry.initial_wait_s = 0.1
    assert retry.call(flaky) == "ok"
    assert len(sleeps) == 7
    for n, slept in enumerate(sleeps):  # full jitter under an exponential, capped ceiling
        assert 0 <= slept <= min(0.1 * 2 ** (n + 1), 3.0)


def test_unreadable_policy_document_is_an_error_not_a_crash(stubbed) -> None:
    client, stub = stubbed
    stub.add_response("get_bucket_policy", {"Policy": "{not json"}, {"Bucket": "b"})
    doc = fetch_document(DOCUMENTS["policy"], client, "b", policy()[0])
    assert doc.error_code == "JSONDecodeError"


def test_a_modelled_retryable_error_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's ModeledRetryableChecker reads the operation's error shapes. S3 marks none
    retryable, so an operation model whose error shape carries the retryable trait stands in."""
    from types import SimpleNamespace

    from s3compliance.scan import retry as retry_module

    real = retry_module._operation_models("GetBucketVersioning")
    assert real and {m.name for m in real} == {"GetBucketVersioning"}  # s3 (and s3control)
    error = client_error("BusyNow", 409)
    error.operation_name = "GetBucketVersioning"
    assert is_transient(error) is False
    shape = SimpleNamespace(name="BusyNow", metadata={"retryable": {"throttling": True}})
    monkeypatch.setattr(
        retry_module, "_operation_models", lambda name: (SimpleNamespace(error_shapes=[shape]),)
    )
    assert is_transient(error) is True


def test_service_models_load_once_when_threads_fail_together(monkeypatch) -> None:
    """A scan's 16 workers meet "not configured" errors at the same moment; the models behind
    the modelled-retryable check must be loaded once, not by each thread (that cost the scan
    benchmark 200 MB and 30 % of its wall time before it was guarded)."""
    from concurrent.futures import ThreadPoolExecutor

    from s3compliance.scan import retry as retry_module

    monkeypatch.setattr(retry_module, "_MODELS", {})
    session = retry_module._botocore_session()
    loads: list[str] = []
    real = session.get_service_model
    monkeypatch.setattr(session, "get_service_model", lambda name: loads.append(name) or real(name))
    errors = []
    for _ in range(64):
        error = client_error("NoSuchBucketPolicy", 404)
        error.operation_name = "GetBucketPolicy"
        errors.append(error)
    with ThreadPoolExecutor(16) as pool:
        assert not any(pool.map(is_transient, errors))
    assert sorted(loads) == sorted(retry_module._SERVICES)
