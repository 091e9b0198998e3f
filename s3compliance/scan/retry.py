"""The one retry layer of the package.

botocore's own retries are switched off (see :mod:`s3compliance.scan.aws`) so that attempts are not
multiplied between two layers and every retry is counted here, where the report can show it.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError
from botocore.model import OperationModel
from botocore.retries.standard import (
    ModeledRetryableChecker,
    RetryContext,
    ThrottledRetryableChecker,
    TransientRetryableChecker,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

T = TypeVar("T")

#: botocore's own classifiers (standard retry mode): throttling codes, transient codes, statuses
#: 500/502/503/504 and connection/read errors, and errors the service model marks retryable.
_CHECKERS = (ThrottledRetryableChecker(), TransientRetryableChecker(), ModeledRetryableChecker())
#: Services whose models are consulted for retryable error shapes (the ones this package calls).
_SERVICES = ("s3", "s3control", "sts", "sns", "sqs", "cloudwatch")


_MODELS_LOCK = threading.Lock()
_MODELS: dict[str, tuple[OperationModel, ...]] = {}


def _operation_models(operation: str) -> tuple[OperationModel, ...]:
    """The models of the operations of that name among :data:`_SERVICES`, loaded once per
    process under a lock: a scan's worker threads hit their first "not configured" errors
    together, and each loading the service models itself cost 200 MB and seconds of CPU.
    Once loaded, a lookup takes no lock: every "not configured" answer of a scan (a fifth of
    its calls) queued on it, a fifth of the threads engine's samples under ``py-spy``."""
    models = _MODELS.get(operation)
    if models is not None:
        return models
    with _MODELS_LOCK:
        if operation not in _MODELS:
            session = _botocore_session()
            _MODELS[operation] = tuple(
                model.operation_model(operation)
                for model in (session.get_service_model(s) for s in _SERVICES)
                if operation in model.operation_names
            )
        return _MODELS[operation]


@functools.cache
def _botocore_session() -> botocore.session.Session:
    return botocore.session.get_session()


class _Status:
    """The part of an HTTP response botocore's transient checker reads."""

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


def is_transient(exc: BaseException) -> bool:
    """True for errors that a later attempt may not see.

    What is retryable is botocore's decision (its standard-mode checkers: throttling such as
    ``SlowDown``/``Throttling``/``RequestLimitExceeded``, ``RequestTimeout``, HTTP 500/502/503/504,
    connection and read timeouts, modelled retryable errors), plus what the spec adds: HTTP 429
    and any other 5xx **except 501 NotImplemented**, which an S3-compatible endpoint answers for an
    API it lacks and which no retry will change. ``RequestTimeTooSkewed`` is not retried: the
    clock stays skewed.
    """
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        contexts = [
            RetryContext(
                attempt_number=1,
                operation_model=model,
                parsed_response=exc.response,
                http_response=_Status(status),
            )
            for model in (_operation_models(exc.operation_name) or (None,))
        ]
        if any(c.is_retryable(ctx) for c in _CHECKERS for ctx in contexts):
            return True
        return status == 429 or (500 <= status < 600 and status != 501)
    if isinstance(exc, BotoCoreError):
        context = RetryContext(attempt_number=1, caught_exception=exc)
        return any(c.is_retryable(context) for c in _CHECKERS)
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
        # One Retrying for the policy's life: tenacity keeps each call's state thread-local, and
        # building one per call was a measurable share of the scan's CPU per API call.
        # The lambdas read the policy's attributes at each retry, so they can still be tuned.
        self._retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=lambda state: stop_after_attempt(self.attempts)(state),
            wait=lambda state: wait_random_exponential(
                multiplier=self.initial_wait_s, max=self.max_wait_s
            )(state),
            before_sleep=lambda state: self.counter.record(state),
            sleep=lambda seconds: self.sleep(seconds),
            reraise=True,
        )

    def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Call ``fn``; retry transient errors; re-raise the last error once attempts run out."""
        return self._retrying(fn, *args, **kwargs)
