"""Testing support: S3 behaviour that moto does not emulate. Never used on the scan path.

moto (5.x) has no bucket metrics configuration API: its GET falls through to ListObjects and its
PUT to CreateBucket, so a scan against plain moto would see "no metrics" everywhere. This module
answers Put/Get/List/DeleteBucketMetricsConfiguration from a small in-memory store, with the real
S3 XML bodies, so botocore's own serializer and parser run on both sides, exactly as against S3.

It also lets the demo and the tests make one operation of one bucket fail with a given AWS error
(``AccessDenied``, ``SlowDown``...), the way an SCP or a throttled API would, which moto cannot.

Both work as ``before-send`` handlers registered *first* on a boto3 session (the fault injector
before the metrics emulator, so that a fault can hit the metrics API too). botocore calls every
``before-send`` handler and uses the first response, so moto's in-process handler would still act
on the request (a DELETE ``?metrics`` is DeleteBucket to moto): an answered request therefore has
its URL pointed at a host no emulator claims before moto sees it. Against a moto server the
answered request is never sent.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

import boto3
from botocore.awsrequest import AWSResponse

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
LIST_PAGE_SIZE = 100  # S3 returns at most 100 metrics configurations per page
MAX_CONFIGURATIONS = 1000  # S3's limit per bucket

METRICS_OPERATIONS = (
    "PutBucketMetricsConfiguration",
    "GetBucketMetricsConfiguration",
    "ListBucketMetricsConfigurations",
    "DeleteBucketMetricsConfiguration",
)
_ID = re.compile(r"<Id>(.*?)</Id>", re.S)


class _RawBody:
    """The minimal raw-response object botocore reads a body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


#: Where an answered request is pointed so that no later handler (moto's) acts on it.
ANSWERED_URL = "https://answered-by-emulation.invalid/"


def _response(
    request: Any, status: int, body: str = "", headers: dict[str, str] | None = None
) -> AWSResponse:
    url, request.url = request.url, ANSWERED_URL
    all_headers = {"content-type": "application/xml", "x-amz-request-id": "EMULATED"}
    return AWSResponse(url, status, all_headers | (headers or {}), _RawBody(body.encode("utf-8")))


def _error(
    request: Any, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> AWSResponse:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    )
    return _response(request, status, body, headers)


def bucket_of(url: str) -> str:
    """The bucket a request addresses: the virtual-host label (``<bucket>.s3...``), else the
    path-style first segment."""
    parts = urlsplit(url)
    virtual = re.match(r"^(.+?)\.s3[.-]", parts.hostname or "")  # not s3.amazonaws.com itself
    if virtual:
        return virtual.group(1)
    return unquote(parts.path.lstrip("/").split("/", 1)[0])


def moto_bucket_exists(bucket: str) -> bool:
    """True when the bucket exists in moto's in-process backend (any account)."""
    from moto.s3.models import s3_backends

    return any(
        bucket in backend.buckets
        for account in s3_backends.values()
        for backend in account.values()
    )


class MetricsEmulator:
    """Bucket metrics configurations, stored as the XML S3 was given."""

    def __init__(self, bucket_exists: Callable[[str], bool] | None = None) -> None:
        self._lock = threading.Lock()
        self._store: dict[str, dict[str, str]] = {}
        self._bucket_exists = bucket_exists or (lambda _bucket: True)

    def install(self, session: boto3.Session) -> MetricsEmulator:
        """Answer the metrics operations of clients created from ``session`` from now on.

        Install a :class:`FaultInjector` before this, so that injected faults win.
        """
        session.events.register_first("before-send.s3", self)
        return self

    def configurations(self, bucket: str) -> dict[str, str]:
        with self._lock:
            return dict(self._store.get(bucket, {}))

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation not in METRICS_OPERATIONS:
            return None
        bucket = bucket_of(request.url)
        if not self._bucket_exists(bucket):
            return _error(request, 404, "NoSuchBucket", "The specified bucket does not exist")
        query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
        config_id = query.get("id", [""])[0]
        with self._lock:
            configs = self._store.setdefault(bucket, {})
            if operation == "PutBucketMetricsConfiguration":
                return self._put(request, configs, config_id)
            if operation == "ListBucketMetricsConfigurations":
                return self._list(request, configs, query.get("continuation-token", [""])[0])
            if config_id not in configs:
                return _error(
                    request,
                    404,
                    "NoSuchConfiguration",
                    "The specified configuration does not exist.",
                )
            if operation == "DeleteBucketMetricsConfiguration":
                del configs[config_id]
                return _response(request, 204)
            return _response(request, 200, configs[config_id])

    def _put(self, request: Any, configs: dict[str, str], config_id: str) -> AWSResponse:
        body = request.body.decode("utf-8") if isinstance(request.body, bytes) else request.body
        ids = _ID.findall(body)
        if not ids or ids[0] != config_id:
            return _error(request, 400, "InvalidArgument", "The Id in the body must match id.")
        if config_id not in configs and len(configs) >= MAX_CONFIGURATIONS:
            return _error(request, 400, "TooManyConfigurations", "Too many metrics configurations.")
        configs[config_id] = body
        return _response(request, 204)

    def _list(self, request: Any, configs: dict[str, str], token: str) -> AWSResponse:
        ids = sorted(configs)
        start = ids.index(token) if token in configs else 0
        page, rest = ids[start : start + LIST_PAGE_SIZE], ids[start + LIST_PAGE_SIZE :]
        inner = "".join(re.sub(r"^<\?xml[^>]*\?>", "", configs[i]) for i in page)
        tail = f"<NextContinuationToken>{escape(rest[0])}</NextContinuationToken>" if rest else ""
        if token:
            tail = f"<ContinuationToken>{escape(token)}</ContinuationToken>" + tail
        body = (
            f'<ListMetricsConfigurationsResult xmlns="{S3_NS}">'
            f"<IsTruncated>{'true' if rest else 'false'}</IsTruncated>{inner}{tail}"
            "</ListMetricsConfigurationsResult>"
        )
        return _response(request, 200, body)


class FaultInjector:
    """Makes chosen (bucket, operation) pairs answer with an AWS error, a number of times."""

    STATUS: ClassVar[dict[str, int]] = {
        "AccessDenied": 403,
        "NoSuchBucket": 404,
        "SlowDown": 503,
        "InternalError": 500,
        "NotImplemented": 501,
    }

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[tuple[str, str], list[Any]] = {}
        self._headers: dict[tuple[str, str], dict[str, str]] = {}

    def install(self, session: boto3.Session) -> FaultInjector:
        session.events.register_first("before-send.s3", self)
        return self

    def fail(
        self,
        bucket: str,
        operation: str,
        code: str,
        times: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``operation`` on ``bucket`` with ``code``; ``times=None`` means every time.

        ``headers`` go on the error response (S3 sends ``x-amz-bucket-region`` on a refused
        HeadBucket)."""
        with self._lock:
            self._faults[(bucket, operation)] = [code, times]
            self._headers[(bucket, operation)] = dict(headers or {})

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        key = (bucket_of(request.url), event_name.rsplit(".", 1)[-1])
        with self._lock:
            fault = self._faults.get(key)
            if fault is None or fault[1] == 0:
                return None
            if fault[1] is not None:
                fault[1] -= 1
            code, headers = fault[0], self._headers[key]
        return _error(request, self.STATUS.get(code, 400), code, f"Injected {code}", headers)


class MfaDeleteEmulator:
    """moto ignores ``MFADelete`` in PutBucketVersioning; this remembers it and reports it back.

    The PUT still goes to moto (which keeps the Status); the MFADelete value from its XML body is
    recorded, and added to GetBucketVersioning answers after botocore has parsed moto's reply.
    """

    _MFA = re.compile(r"<MfaDelete>(Enabled|Disabled)</MfaDelete>")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, str] = {}

    def install(self, session: boto3.Session) -> MfaDeleteEmulator:
        session.events.register("before-send.s3.PutBucketVersioning", self._on_put)
        session.events.register("before-parameter-build.s3.GetBucketVersioning", self._remember)
        session.events.register("after-call.s3.GetBucketVersioning", self._on_get)
        return self

    def _on_put(self, request: Any, **_: Any) -> None:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        match = self._MFA.search(body)
        if match:
            with self._lock:
                self._state[bucket_of(request.url)] = match.group(1)

    @staticmethod
    def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["emulated_bucket"] = params.get("Bucket")

    def _on_get(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            state = self._state.get(context.get("emulated_bucket", ""))
        if state and "Error" not in parsed:
            parsed["MFADelete"] = state


class RoleRefuser:
    """moto grants every AssumeRole; this refuses it for chosen accounts, as IAM does when the
    role's trust policy does not name the caller (``AccessDenied``, HTTP 403).

    Installed on the *caller's* session (the one whose STS assumes the roles); the scan itself
    never knows. Answers in STS's query-protocol error shape.
    """

    def __init__(self, accounts: set[str] | frozenset[str] = frozenset()) -> None:
        self.accounts = set(accounts)
        self.refused = 0

    def install(self, session: boto3.Session) -> RoleRefuser:
        session.events.register_first("before-send.sts.AssumeRole", self)
        return self

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        arn = parse_qs(body).get("RoleArn", [""])[0]
        account = arn.split(":")[4] if arn.count(":") >= 5 else ""
        if account not in self.accounts:
            return None
        self.refused += 1
        message = f"User is not authorized to perform: sts:AssumeRole on resource: {arn}"
        body = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            "<RequestId>EMULATED</RequestId></ErrorResponse>"
        )
        return _response(request, 403, body, {"content-type": "text/xml"})
