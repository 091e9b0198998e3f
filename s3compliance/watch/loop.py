"""The watch loop: long-poll the queue, coalesce, rescan, publish a delta run, then delete.

At-least-once, never lossy: a message is deleted only after the delta run that covers it is
published (a kill before that redelivers it, and the repeated event rescans idempotently); a
message that is not a well-formed change is logged with its id and left alone, so the queue's
redrive policy moves it to the dead-letter queue without blocking the others; a change outside
the scan's scope is acknowledged (deleted) at debug level. While a batch is rescanned its
messages' visibility is extended, so a long batch is not redelivered under it.

An account-level change (its Block Public Access setting) rescans every bucket the posture knows
in that account: each bucket's verdict reads the setting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from s3compliance.actions.alerts import high_severity_messages, publish_sns
from s3compliance.outputs import history
from s3compliance.outputs.report import report_head, write_report
from s3compliance.params import Params
from s3compliance.scan.aws import Clients, error_code
from s3compliance.scan.delta import DeltaRequest
from s3compliance.scan.retry import RetryPolicy
from s3compliance.scan.run import run_scan
from s3compliance.watch.coalesce import Batch, Coalescer
from s3compliance.watch.events import MalformedEvent, out_of_scope, parse_message
from s3compliance.watch.rule import visibility_timeout_s

log = logging.getLogger(__name__)

BATCH = 10  # ReceiveMessage and the *Batch calls take at most 10 messages
#: How long a backlog is received for while a batch is already due: a backlog left by a stopped
#: watcher comes in one go, but a steady stream never holds back what is ready to publish.
DRAIN_BUDGET_S = 1.0


class QueueUnreadable(RuntimeError):
    """The queue cannot be read (missing, denied): the watcher stops, exit 1."""


def queue_region(queue_url: str) -> str:
    """The region of ``https://sqs.<region>.amazonaws.com/<account>/<name>`` (else us-east-1)."""
    host = queue_url.split("://", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "sqs" else "us-east-1"


@dataclass
class Published:
    """One delta run: where, what it answered and how long after the oldest event."""

    folder: Path
    events: int
    buckets: int
    new: int
    resolved: int
    seconds: float

    def line(self) -> str:
        return (
            f"delta {self.folder.name}: {self.events} event(s), {self.buckets} bucket(s), "
            f"{self.new} new, {self.resolved} resolved, {self.seconds:.1f} s after the change"
        )


class _Heartbeat:
    """Extends the visibility of a batch's messages every ``every_s`` while its rescan runs."""

    def __init__(self, extend: Callable[[], None], every_s: float) -> None:
        self._extend, self._every = extend, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="visibility", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._extend()

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class Watcher:
    """Turns the queue's change events into delta runs under ``params.output_dir``.

    ``clients`` reach the queue and, for a single-account scan, the account (the demo hands in
    its own); ``accounts`` are the account ids in scope (None: any the events name).
    """

    def __init__(
        self,
        params: Params,
        queue_url: str,
        clients: Clients,
        *,
        debounce_s: float = 5.0,
        visibility_s: int | None = None,
        accounts: Iterable[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.params = params
        self.queue_url = queue_url
        self.clients = clients
        self.sqs = clients.client("sqs", queue_region(queue_url))
        self.coalescer = Coalescer(debounce_s)
        # what the setup program gives the queue; the watcher asks for it on every receive
        self.visibility_s = visibility_s or visibility_timeout_s(debounce_s)
        self.accounts = None if accounts is None else set(accounts)
        self.clock = clock
        self.now = now
        self.malformed: list[str] = []  # message ids left for the dead-letter queue

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.sqs, operation)(QueueUrl=self.queue_url, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise QueueUnreadable(f"{self.queue_url}: {error_code(exc)}: {exc}") from exc

    def poll(self, wait_s: int) -> int:
        """Receive up to 10 messages (waiting up to ``wait_s``), file them; how many came."""
        answer = self._call(
            "receive_message",
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=max(0, min(20, int(wait_s))),
            VisibilityTimeout=self.visibility_s,
        )
        messages = answer.get("Messages", [])
        ignored = []
        for message in messages:
            try:
                change = parse_message(message)
            except MalformedEvent as exc:
                log.warning("%s: left for the dead-letter queue", exc)
                self.malformed.append(str(message.get("MessageId", "?")))
                continue
            why = out_of_scope(change, self.params, self.accounts)
            if why:
                log.debug("ignored %s (%s): %s", change.event_id, change.event_name, why)
                ignored.append(change.receipt)
                continue
            self.coalescer.add(change, self.clock())
        self._delete(ignored)
        return len(messages)

    def drain_queue(self, wait_s: int, most: int = 500) -> int:
        """Poll (waiting up to ``wait_s`` for the first messages), then keep receiving while full
        batches come, up to ``most``: a backlog becomes one large batch, coalesced per bucket,
        rather than a delta run per ten messages. A batch already due stops it after
        ``DRAIN_BUDGET_S``."""
        received = got = self.poll(wait_s)
        started = self.clock()
        while got == BATCH and received < most and not self._overdue(started):
            got = self.poll(0)
            received += got
        return received

    def _overdue(self, started: float) -> bool:
        """A batch is due and the drain has run its budget: publish before receiving more (at
        20 events a second the queue never runs dry, and draining to 500 held every change
        back by 25 s)."""
        due = self.coalescer.next_due()
        now = self.clock()
        return due is not None and due <= now and now - started >= DRAIN_BUDGET_S

    def _delete(self, receipts: list[str]) -> None:
        for start in range(0, len(receipts), BATCH):
            entries = [
                {"Id": str(n), "ReceiptHandle": r}
                for n, r in enumerate(receipts[start : start + BATCH])
            ]
            failed = self._call("delete_message_batch", Entries=entries).get("Failed", [])
            for entry in failed:  # redelivered later, rescanned idempotently: logged, not fatal
                log.warning("could not delete a message: %s", entry.get("Message", entry))

    def _extend(self, receipts: list[str]) -> None:
        for start in range(0, len(receipts), BATCH):
            entries = [
                {"Id": str(n), "ReceiptHandle": r, "VisibilityTimeout": self.visibility_s}
                for n, r in enumerate(receipts[start : start + BATCH])
            ]
            self._call("change_message_visibility_batch", Entries=entries)

    def _request(self, batch: Batch) -> DeltaRequest:
        """The batch's buckets, and every known bucket of an account whose setting changed."""
        buckets = batch.buckets
        if batch.accounts:
            known = history.posture_buckets(self.params.output_dir)
            for account in batch.accounts:
                mine = known.loc[known["account_id"] == account, "bucket"]
                buckets[account] = sorted({*buckets.get(account, []), *mine})
        return DeltaRequest.of(buckets, batch.events)

    def publish(self, batch: Batch) -> Published | None:
        """Rescan the batch's buckets, publish one delta run, then delete its messages."""
        receipts = list(dict.fromkeys(c.receipt for c in batch.changes))
        try:
            request = self._request(batch)
        except ValueError:  # an account setting changed, but no bucket of it is known yet
            log.info("no known bucket in %s: nothing to rescan", ", ".join(batch.accounts))
            self._delete(receipts)
            return None
        with _Heartbeat(lambda: self._extend(receipts), max(1.0, self.visibility_s / 3)):
            result = run_scan(self.params, clients=self._scan_clients(), delta=request)
            p = self.params
            announce = history.buckets_to_announce(result, p.output_dir, p.notify_only_new)
            folder = write_report(result, p.output_dir)
        self._delete(receipts)
        if p.sns_topic_arn:  # at once, one message per bucket that became high
            report = report_head(result)
            messages = high_severity_messages(report, announce)
            retry = RetryPolicy(p.retry_attempts, p.retry_max_wait_s)
            publish_sns(self.clients, p.sns_topic_arn, messages, retry)
        changed = history.changes(current=folder.name, output_dir=self.params.output_dir)
        oldest = min(c.event_time for c in batch.changes)
        published = Published(
            folder,
            len(batch.events),
            sum(len(n) for n in request.buckets.values()),
            int(changed["kind"].isin(["new", "regressed"]).sum()),
            int((changed["kind"] == "resolved").sum()),
            (self.now() - oldest).total_seconds(),
        )
        return published

    def _scan_clients(self) -> Clients | None:
        """The watcher's own clients for a single-account scan; an organization assumes its
        roles as a full scan does."""
        return None if self.params.multi_account else self.clients

    def step(self, stopping: bool = False) -> Published | None:
        """Publish what is due (everything, when stopping)."""
        batch = self.coalescer.drain() if stopping else self.coalescer.due(self.clock())
        return self.publish(batch) if batch is not None else None

    def run(
        self,
        stop: threading.Event,
        max_wait_s: int = 20,
        told: Callable[[Published], object] = lambda p: print(p.line(), flush=True),
    ) -> None:
        """Until ``stop`` is set: poll, publish what is due (``told`` of each delta run). Then
        publish what is held: a stop never loses a change already received."""
        while not stop.is_set():
            due = self.coalescer.next_due()
            wait = max_wait_s if due is None else max(0.0, due - self.clock())
            self.drain_queue(int(min(wait, max_wait_s)))
            published = self.step()
            if published is not None:
                told(published)
        published = self.step(stopping=True)
        if published is not None:
            told(published)
