"""The one retry layer of the package.

botocore's own retries are switched off (see :mod:`s3compliance.scan.aws`) so that attempts are not
multiplied between two layers and every retry is counted here, where the report can show it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

T = TypeVar("T")

#: Error codes that mean "try again later" (spec: checks.md, error handling).
TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
    }
)

_TRANSIENT_NETWORK_ERRORS = (
    ConnectTimeoutError,
    ReadTimeoutError,
    EndpointConnectionError,
    ConnectionClosedError,
)


def is_transient(exc: BaseException) -> bool:
    """True for errors that a later attempt may not see: throttling, 5xx, 429 and timeouts."""
    if isinstance(exc, _TRANSIENT_NETWORK_ERRORS):
        return True
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in TRANSIENT_CODES or status == 429 or status >= 500
    return False


class RetryCounter:
    """Thread-safe count of retries made during one run (the report carries it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def record(self, _state: RetryCallState | None = None) -> None:
        with self._lock:
            self.count += 1


class RetryPolicy:
    """Exponential backoff with full jitter over transient AWS errors.

    The n-th wait is random in ``[0, min(initial * 2**n, max_wait_s)]`` (AWS's recommended "full
    jitter"), so a fleet of threads that were throttled together do not retry together.

    ``sleep`` is injectable so that tests exercise the policy without waiting.
    """

    def __init__(
        self,
        attempts: int = 5,
        max_wait_s: float = 20.0,
        initial_wait_s: float = 0.5,
        counter: RetryCounter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.attempts = attempts
        self.max_wait_s = max_wait_s
        self.initial_wait_s = initial_wait_s
        self.counter = counter if counter is not None else RetryCounter()
        self.sleep = sleep

    def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Call ``fn``; retry transient errors; re-raise the last error once attempts run out."""
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self.attempts),
            wait=wait_random_exponential(multiplier=self.initial_wait_s, max=self.max_wait_s),
            before_sleep=self.counter.record,
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(fn, *args, **kwargs)
