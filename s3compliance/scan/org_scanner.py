"""Organization scans: many accounts, on an embedded thread engine or on a Dask cluster.

The work is cut into two kinds of task, both plain functions of picklable values so that the same
code runs in this process (``engine: threads``) and in Dask worker processes (``engine: dask``):

* :func:`discover_account`: reach the account (own credentials, or AssumeRole), list its buckets,
  read its account-scope documents, evaluate the account-level checks.
* :func:`scan_shard`: up to ``shard_size`` of one account's buckets, each document fetched once,
  every enabled check evaluated. A 10,000-bucket account spreads over many workers.

A task never carries a secret: each worker assumes the role itself, with its own credentials. A
task returns compact rows (findings, bucket rows, counters), never raw evidence it does not report.
One account's failure (AssumeRole refused, ListBuckets denied, a crash) is that account's row with
status ``error``; the other accounts complete.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from s3compliance.accepted.exceptions import ExceptionSet
from s3compliance.checks import select_checks
from s3compliance.params import Params
from s3compliance.scan import spool
from s3compliance.scan.aws import Clients, error_code
from s3compliance.scan.delta import OWN, Delta, DeltaRequest
from s3compliance.scan.discovery import DISCOVERED_COLUMNS
from s3compliance.scan.evidence import Document
from s3compliance.scan.organizations import (
    Account,
    account_session,
    process_session,
    resolve_accounts,
    role_arn,
)
from s3compliance.scan.retry import RetryPolicy
from s3compliance.scan.scanner import (
    ACCOUNT_COLUMNS,
    BUCKET_COLUMNS,
    FINDING_COLUMNS,
    ScanAborted,
    Scanner,
    ScanResult,
    _error,
    account_row,
    bucket_base,
    bucket_rows,
    utc_now,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm

log = logging.getLogger(__name__)

SessionHook = Callable[[boto3.Session, str], None]


class DaskUnavailable(RuntimeError):
    """``engine: dask`` without the ``dask`` extra, or a scheduler that cannot be reached."""


@dataclass(frozen=True)
class AccountTask:
    """What a worker needs to reach one account: no credentials, only names."""

    account: Account
    params: Params
    own: bool  # the caller's own account: its own credentials, no role
    exceptions: ExceptionSet | None = None  # read once by the driver, handed to every shard
    buckets: tuple[str, ...] | None = None  # a delta: only these buckets (None: every one)


@dataclass
class TaskStats:
    seconds: float = 0.0
    api_calls: dict[str, int] = field(default_factory=dict)
    retries: int = 0


@dataclass
class AccountDiscovery:
    """One account's buckets, account-scope documents and account-level findings, or why not."""

    task: AccountTask
    discovered: pd.DataFrame
    account_docs: dict[str, Document]
    account_findings: list[dict[str, Any]]
    stats: TaskStats
    error_code: str = ""
    reason: str = ""
    missing: tuple[str, ...] = ()  # a delta's buckets the account no longer has
    truncated: bool = False  # its listing may be cut short (discovery.MAX_PAGE)


@dataclass(frozen=True)
class ShardTask:
    task: AccountTask
    index: int
    discovered: pd.DataFrame
    account_docs: dict[str, Document]


@dataclass
class ShardResult:
    """A shard's outcome: its findings as one Parquet part (:func:`spool.encode`, tens of
    bytes a finding: what travels back from a worker), its bucket rows and counters."""

    index: int
    account_id: str
    findings: bytes
    buckets: pd.DataFrame
    stats: TaskStats
    error_code: str = ""
    reason: str = ""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The error's message on one line (an AWS error's own message, without botocore's
    "An error occurred (...) when calling..." preamble: the code is shown beside it)."""
    message = str(exc)
    if isinstance(exc, ClientError):
        message = str(exc.response.get("Error", {}).get("Message") or message)
    text = " ".join(message.split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code(exc: BaseException) -> str:
    """The AWS error code, looking through :class:`ScanAborted` to the error that caused it."""
    if isinstance(exc, ScanAborted) and exc.__cause__ is not None:
        return error_code(exc.__cause__)
    return error_code(exc)


def _clients(
    task: AccountTask, retry: RetryPolicy, base: boto3.Session | None, hook: SessionHook | None
) -> Clients:
    p = task.params
    session = account_session(task.account.account_id, task.own, p, retry, base, hook)
    return Clients(session, p.endpoint_url, p.max_workers)


def _stats(started: float, clients: Clients | None, retries: int) -> TaskStats:
    calls = dict(clients.recorder.by_operation) if clients is not None else {}
    return TaskStats(round(time.perf_counter() - started, 3), calls, retries)


def discover_account(
    task: AccountTask,
    base: boto3.Session | None = None,
    hook: SessionHook | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> AccountDiscovery:
    """Reach the account and list its buckets; any failure is returned, never raised."""
    started = time.perf_counter()
    p, account = task.params, task.account
    retry = RetryPolicy(p.retry_attempts, p.retry_max_wait_s, sleep=sleep)
    clients = None
    empty = pd.DataFrame(columns=DISCOVERED_COLUMNS)
    try:
        step = "AssumeRole"
        clients = _clients(task, retry, base, hook)
        scanner = Scanner(p, clients, sleep=sleep, exceptions=task.exceptions)
        step = "ListBuckets"
        discovered = scanner.discover(task.buckets)
        missing = tuple(discovered.attrs.get("missing", ()))
        truncated = bool(discovered.attrs.get("truncated"))
        step = "account documents"
        docs, rows = scanner.account_step(account.account_id, account.name)
        retries = retry.counter.count + scanner.retry.counter.count
        stats = _stats(started, clients, retries)
        return AccountDiscovery(
            task, discovered, docs, rows, stats, missing=missing, truncated=truncated
        )
    except Exception as exc:  # one account's failure is that account's row, never the run's end
        code = _code(exc)
        if step == "AssumeRole" and not task.own:
            arn = role_arn(account.account_id, p.role_name)
            reason = f"cannot assume {arn}: {one_line(exc)}"
        else:
            reason = f"{step} failed: {one_line(exc)}"
        log.warning("account %s: %s", account.account_id, reason)
        stats = _stats(started, clients, retry.counter.count)
        return AccountDiscovery(task, empty, {}, [], stats, code, reason)


def shard_failure(shard: ShardTask, code: str, reason: str, seconds: float = 0.0) -> ShardResult:
    """A shard that could not run: every check of each of its buckets is ERROR (never PASS,
    never silently missing), and the account is marked ``error``."""
    p, account = shard.task.params, shard.task.account
    checks = [c for c in select_checks(p.profile, p.checks) if c.scope == "bucket"]
    session = boto3.Session()
    bases, rows = {}, []
    for item in shard.discovered.itertuples(index=False):
        base = bases[item.bucket] = bucket_base(session, item, account.account_id, account.name)
        rows.extend(
            _error(c, base, f"The scan of this bucket failed: {reason}", code, "", reason)
            for c in checks
        )
    findings = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    buckets = bucket_rows(findings, shard.discovered, p.high_severity_threshold, bases, {})
    return ShardResult(
        shard.index,
        account.account_id,
        spool.encode(findings),
        buckets,
        TaskStats(seconds),
        code,
        reason,
    )


def scan_shard(
    shard: ShardTask,
    base: boto3.Session | None = None,
    hook: SessionHook | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_bucket: Callable[[int], object] | None = None,
) -> ShardResult:
    """Check one shard of an account's buckets; a failure becomes ERROR findings, not a raise.

    ``on_bucket`` (in-process only) is told of each bucket as it completes."""
    started = time.perf_counter()
    task = shard.task
    p, account = task.params, task.account
    retry = RetryPolicy(p.retry_attempts, p.retry_max_wait_s, sleep=sleep)
    try:
        clients = _clients(task, retry, base, hook)
        scanner = Scanner(p, clients, sleep=sleep, exceptions=task.exceptions)
        findings, buckets = scanner.check_buckets(
            shard.discovered,
            account.account_id,
            shard.account_docs,
            account.name,
            progress=False,
            on_bucket=on_bucket,
        )
    except Exception as exc:  # the shard's buckets become ERROR findings
        log.warning("account %s shard %d failed: %s", account.account_id, shard.index, exc)
        return shard_failure(shard, _code(exc), one_line(exc), time.perf_counter() - started)
    stats = _stats(started, clients, retry.counter.count + scanner.retry.counter.count)
    return ShardResult(shard.index, account.account_id, spool.encode(findings), buckets, stats)


def _kept(outcome: Any) -> Any:
    return outcome


class ThreadsEngine:
    """The embedded engine: ``max_accounts`` tasks at a time in this process, each with its own
    pool of ``max_workers`` bucket threads."""

    def __init__(
        self,
        params: Params,
        base: boto3.Session | None = None,
        hook: SessionHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.params = params
        self.extra = {"base": base, "hook": hook, "sleep": sleep}

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[Any],
        weights: Sequence[int],
        bar: Any,
        on_error: Callable[[Any, BaseException], Any],
        per_item: bool = False,
        on_result: Callable[[Any], Any] = _kept,
    ) -> list[Any]:
        """``fn`` over ``tasks`` in input order; ``bar`` advances by each task's weight.

        With ``per_item`` the task reports each item (bucket) as it completes, through an
        ``on_bucket`` callback; what it did not report is added when it ends. Each result (or
        ``on_error``'s) goes through ``on_result`` as it arrives: what the list keeps."""
        done = [0] * len(tasks)
        lock = threading.Lock()

        def reporter(n: int) -> Callable[[int], None]:
            def report(count: int) -> None:
                with lock:
                    done[n] += count
                bar.update(count)

            return report

        with ThreadPoolExecutor(max_workers=self.params.max_accounts) as pool:
            futures = {
                pool.submit(
                    partial(fn, **self.extra, **({"on_bucket": reporter(n)} if per_item else {})),
                    t,
                ): n
                for n, t in enumerate(tasks)
            }
            results: list[Any] = [None] * len(tasks)
            for future in as_completed(futures):
                n = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:  # fn returns its failures; this is the last resort
                    outcome = on_error(tasks[n], exc)
                del futures[future]  # the future holds the result: let it go with the list's
                results[n] = on_result(outcome)
                with lock:
                    rest, done[n] = weights[n] - done[n], weights[n]
                bar.update(rest)
        return results

    @property
    def progress_unit(self) -> str:
        return "bucket"

    def close(self) -> None:
        """Nothing to release: the pools end with each map."""


class DaskEngine:
    """``dask.distributed``: a ``LocalCluster`` of worker processes started here, or the cluster
    at ``dask_scheduler``. Workers import this package and assume the roles themselves."""

    def __init__(self, params: Params) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise DaskUnavailable(
                "engine: dask needs the dask extra: pip install 's3compliance[dask]'"
            ) from exc
        self.params = params
        self.cluster = None
        if params.dask_scheduler:
            try:
                self.client = Client(params.dask_scheduler, timeout="10s")
            except OSError as exc:
                raise DaskUnavailable(
                    f"cannot reach the Dask scheduler at {params.dask_scheduler}: {one_line(exc)}"
                ) from exc
        else:
            import dask

            workers = params.dask_workers or os.cpu_count() or 1
            # A worker's profiler reads every thread's frame 100 times a second; on CPython 3.11
            # that can deadlock with a thread being started (python/cpython#116969, fixed in
            # 3.12), and each shard starts its pool: a 10,000-bucket bench run hung so, all
            # threads of a worker waiting. The workers started here profile nothing.
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                self.cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=max(1, math.ceil(params.max_accounts / workers)),
                    processes=True,
                    dashboard_address="127.0.0.1:0",
                    host="127.0.0.1",
                    silence_logs=logging.ERROR,
                )
            self.client = Client(self.cluster)
        print(f"Dask dashboard: {self.client.dashboard_link}")  # where a human watches the work

    @property
    def progress_unit(self) -> str:
        return "shard"

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[Any],
        weights: Sequence[int],
        bar: Any,
        on_error: Callable[[Any, BaseException], Any],
        per_item: bool = False,  # workers report per task only: the bar counts shards
        on_result: Callable[[Any], Any] = _kept,
    ) -> list[Any]:
        """As :meth:`ThreadsEngine.map`; each result is fetched from its worker as it ends and
        released there."""
        from distributed import as_completed as dask_completed

        futures = self.client.map(fn, list(tasks), pure=False)
        where = {future.key: n for n, future in enumerate(futures)}
        results: list[Any] = [None] * len(tasks)
        for future in dask_completed(futures):
            n = where[future.key]
            if future.status == "error":
                outcome = on_error(tasks[n], future.exception())
            else:
                outcome = future.result()
            results[n] = on_result(outcome)
            future.release()
            bar.update(1)  # one task (an account's discovery, or a shard)
        return results

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_engine(
    params: Params,
    base: boto3.Session | None = None,
    hook: SessionHook | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ThreadsEngine | DaskEngine:
    if params.engine == "dask":
        return DaskEngine(params)
    return ThreadsEngine(params, base, hook, sleep)


def _frame(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The frames one after the other, or an empty frame of ``columns`` when there are none."""
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


class OrgScanner:
    """The organization scan in the notebook's two steps: :meth:`discover` (accounts, then each
    account's buckets) and :meth:`check` (every shard), on the configured engine.

    ``session`` is the caller's (default: ``aws_profile`` or the default chain); ``hook`` is
    called on each new role session (the embedded demo installs its emulators with it).
    ``delta``: only the accounts and buckets it names (an account it names that is not in the
    scan's scope is left out, logged).
    """

    def __init__(
        self,
        params: Params,
        session: boto3.Session | None = None,
        hook: SessionHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
        delta: DeltaRequest | None = None,
    ) -> None:
        self.started = time.perf_counter()
        self.started_at = utc_now()
        self.params = params
        self.exceptions = params.exceptions()  # validated before any AWS call
        self.session = session or process_session(params.aws_profile)
        self.hook = hook
        self.sleep = sleep
        self.retry = RetryPolicy(params.retry_attempts, params.retry_max_wait_s, sleep=sleep)
        self.clients = Clients(self.session, params.endpoint_url, params.max_workers)
        self.caller_id = self.clients.account_id(self.retry)
        self.skipped: list[Account] = []
        self.listed: list[str] = []
        self.discoveries: list[AccountDiscovery] = []
        self.delta = delta
        self._engine: ThreadsEngine | DaskEngine | None = None

    @property
    def engine(self) -> ThreadsEngine | DaskEngine:
        if self._engine is None:
            # In-process sessions (the demo's) cannot travel to Dask workers: workers use their own.
            self._engine = make_engine(self.params, self.session, self.hook, self.sleep)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def _in_listed_order(self, frame: pd.DataFrame) -> pd.DataFrame:
        order = {account_id: n for n, account_id in enumerate(self.listed)}
        ranks = frame["account_id"].map(order)
        return frame.iloc[ranks.argsort(kind="stable")].reset_index(drop=True)

    def accounts(self) -> list[Account]:
        """The accounts to scan (active ones) and, in :attr:`skipped`, the others."""
        found = resolve_accounts(self.params, self.clients, self.retry, self.caller_id)
        self.listed = [a.account_id for a in found]
        if self.params.accounts is None and self.caller_id == "unknown":
            raise ScanAborted("cannot tell the caller's account: sts:GetCallerIdentity failed")
        if self.delta is not None:
            found = self._delta_accounts(found)
        self.skipped = [a for a in found if not a.active]
        return [a for a in found if a.active]

    def _delta_accounts(self, found: list[Account]) -> list[Account]:
        """The scope's accounts the delta names (its own-account names are the caller's)."""
        assert self.delta is not None
        chosen = [
            a
            for a in found
            if self.delta.for_account(a.account_id, a.account_id == self.caller_id) is not None
        ]
        named = {a.account_id for a in chosen}
        for account_id in sorted(set(self.delta.buckets) - named - {OWN}):
            log.info("delta: account %s is not in the scan's scope: not scanned", account_id)
        self.listed = [a.account_id for a in chosen]
        return chosen

    def discover(self, progress: bool | None = None) -> pd.DataFrame:
        """Every active account's buckets, with ``account_id`` and ``account_name`` columns."""
        accounts = self.accounts()
        tasks = [
            AccountTask(
                a,
                self.params,
                a.account_id == self.caller_id,
                self.exceptions,
                self.delta.for_account(a.account_id, a.account_id == self.caller_id)
                if self.delta is not None
                else None,
            )
            for a in accounts
        ]
        with tqdm(
            total=len(tasks),
            desc="Discovering accounts",
            unit="account",
            disable=None if progress is None else not progress,
        ) as bar:
            self.discoveries = self.engine.map(
                discover_account, tasks, [1] * len(tasks), bar, self._discovery_failed
            )
        frames = [
            d.discovered.assign(
                account_id=d.task.account.account_id, account_name=d.task.account.name
            )
            for d in self.discoveries
            if not d.error_code and len(d.discovered)
        ]
        columns = [*DISCOVERED_COLUMNS, "account_id", "account_name"]
        return _frame(frames, columns)[columns]

    @staticmethod
    def _discovery_failed(task: AccountTask, exc: BaseException) -> AccountDiscovery:
        empty = pd.DataFrame(columns=DISCOVERED_COLUMNS)
        reason = f"the account's task failed: {one_line(exc)}"
        return AccountDiscovery(task, empty, {}, [], TaskStats(), _code(exc), reason)

    @staticmethod
    def _shard_failed(shard: ShardTask, exc: BaseException) -> ShardResult:
        return shard_failure(shard, _code(exc), f"the shard's task failed: {one_line(exc)}")

    def shards(self, discovered: pd.DataFrame) -> list[ShardTask]:
        """The discovered buckets of each reachable account, cut into ``shard_size`` pieces."""
        shards: list[ShardTask] = []
        size = self.params.shard_size
        for d in self.discoveries:
            if d.error_code:
                continue
            mine = discovered[discovered["account_id"] == d.task.account.account_id]
            mine = mine[DISCOVERED_COLUMNS].reset_index(drop=True)
            for start in range(0, len(mine), size):
                piece = mine.iloc[start : start + size].reset_index(drop=True)
                shards.append(ShardTask(d.task, len(shards), piece, d.account_docs))
        return shards

    def check(self, discovered: pd.DataFrame, progress: bool | None = None) -> ScanResult:
        """Scan every shard on the engine and assemble the organization's result."""
        parts = spool.FindingSpool()

        def spooled(result: ShardResult) -> ShardResult:
            # the part goes to disk now; the driver keeps the bucket rows and counters
            parts.add(result.index, result.findings, len(result.buckets))
            return replace(result, findings=b"")

        try:
            shards = self.shards(discovered)
            unit = self.engine.progress_unit
            weights = [len(s.discovered) for s in shards]
            with tqdm(
                total=sum(weights) if unit == "bucket" else len(shards),
                desc="Scanning buckets" if unit == "bucket" else "Scanning shards",
                unit=unit,
                disable=None if progress is None else not progress,
            ) as bar:
                results = self.engine.map(
                    scan_shard,
                    shards,
                    weights,
                    bar,
                    self._shard_failed,
                    per_item=True,
                    on_result=spooled,
                )
        finally:
            self.close()
        return self._assemble(results, parts)

    def _delta_covered(self) -> Delta | None:
        """What a delta covered: in each account it reached, the buckets found and those gone."""
        if self.delta is None:
            return None
        reached = [d for d in self.discoveries if not d.error_code]
        return Delta(
            {d.task.account.account_id: tuple(d.discovered["bucket"]) for d in reached},
            {d.task.account.account_id: d.missing for d in reached},
            self.delta.events,
        )

    def _assemble(self, results: list[ShardResult], parts: spool.FindingSpool) -> ScanResult:
        """The organization's result: bucket rows in shard order (the order of the spool's
        parts), one row per account, the counters summed."""
        by_account: dict[str, list[ShardResult]] = {}
        for r in results:
            by_account.setdefault(r.account_id, []).append(r)
        ordered = sorted((r for r in results if len(r.buckets)), key=lambda r: r.index)
        buckets = [r.buckets for r in ordered]
        account_findings, rows, stats = [], [], []
        for d in self.discoveries:
            account = d.task.account
            mine = by_account.get(account.account_id, [])
            frame_b = [r.buckets for r in mine if len(r.buckets)]
            account_findings.extend(d.account_findings)
            own = _frame(frame_b, BUCKET_COLUMNS)
            failed = next((r for r in mine if r.error_code), None)
            code = d.error_code or (failed.error_code if failed else "")
            reason = d.reason or (
                f"part of the account's buckets could not be scanned: {failed.reason}"
                if failed
                else ""
            )
            task_stats = [d.stats, *(r.stats for r in mine)]
            stats.extend(task_stats)
            rows.append(
                account_row(
                    account.account_id,
                    own,
                    account.name,
                    account.ou_path,
                    "error" if code else "scanned",
                    code,
                    reason,
                    seconds=sum(s.seconds for s in task_stats),
                    api_calls=sum(sum(s.api_calls.values()) for s in task_stats),
                    retries=sum(s.retries for s in task_stats),
                    org_id=account.org_id,
                )
            )
        for account in self.skipped:  # listed where Organizations listed them
            rows.append(
                account_row(
                    account.account_id,
                    pd.DataFrame(columns=BUCKET_COLUMNS),
                    account.name,
                    account.ou_path,
                    "skipped",
                    "",
                    f"the account is {account.status}, not ACTIVE",
                    org_id=account.org_id,
                )
            )
        calls = Counter(self.clients.recorder.by_operation)
        for s in stats:
            calls.update(s.api_calls)
        result = ScanResult(
            account_id=self.caller_id,
            regions=list(self.params.regions),
            params=self.params,
            spool=parts,
            buckets=_frame(buckets, BUCKET_COLUMNS),
            account_findings=pd.DataFrame(account_findings, columns=FINDING_COLUMNS),
            retries=self.retry.counter.count + sum(s.retries for s in stats),
            api_calls=dict(sorted(calls.items())),
            wall_seconds=time.perf_counter() - self.started,
            accounts=self._in_listed_order(pd.DataFrame(rows, columns=ACCOUNT_COLUMNS)),
            organization=True,
            started_at=self.started_at,
            exceptions=self.exceptions,
            delta=self._delta_covered(),
            truncated_listings=tuple(
                d.task.account.account_id for d in self.discoveries if d.truncated
            ),
        )
        summary = {k: v for k, v in result.summary().items() if k != "by_check"}
        log.info("organization scan finished: %s", summary)
        return result
