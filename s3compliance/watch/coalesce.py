"""Bursts of changes coalesced into rescans.

An IaC apply that sets a bucket's policy, encryption, versioning and tags is ten CloudTrail
events in a second: one rescan answers all of them. Changes are keyed by (account, bucket) (an
account's own setting by (account, "")); a key is due once ``debounce_s`` have passed without a
new change to it, or once ``max_wait_s`` have passed since its first change (a bucket changed
every few seconds is still rescanned). Everything due at one moment is one batch: one delta run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from s3compliance.scan.delta import DeltaRequest, Event
from s3compliance.watch.events import Change
from s3compliance.watch.rule import MAX_WAIT_FACTOR


@dataclass
class _Pending:
    first: float
    last: float
    changes: list[Change] = field(default_factory=list)


@dataclass
class Batch:
    """The changes one delta run answers: bucket changes, and accounts whose setting changed."""

    changes: list[Change]

    @property
    def buckets(self) -> dict[str, list[str]]:
        """The buckets to rescan, per account."""
        found: dict[str, set[str]] = {}
        for change in self.changes:
            if change.bucket is not None:
                found.setdefault(change.account_id, set()).add(change.bucket)
        return {account: sorted(names) for account, names in sorted(found.items())}

    @property
    def accounts(self) -> list[str]:
        """The accounts whose Block Public Access setting changed."""
        return sorted({c.account_id for c in self.changes if c.bucket is None})

    @property
    def events(self) -> tuple[Event, ...]:
        """Each event once (a redelivered message carries the same event id), oldest first."""
        unique = {c.event_id: c for c in self.changes}
        ordered = sorted(unique.values(), key=lambda c: (c.event_time, c.event_id))
        return tuple(c.event for c in ordered)

    def request(self) -> DeltaRequest | None:
        """The delta run of the batch's buckets (None when only account settings changed)."""
        buckets = self.buckets
        return DeltaRequest.of(buckets, self.events) if buckets else None


class Coalescer:
    """Changes in, batches out, on the caller's clock (seconds, monotonic)."""

    def __init__(self, debounce_s: float, max_wait_s: float | None = None) -> None:
        if debounce_s < 0:
            raise ValueError(f"debounce_s must be 0 or more, not {debounce_s}")
        self.debounce_s = debounce_s
        self.max_wait_s = max(
            debounce_s, max_wait_s if max_wait_s is not None else MAX_WAIT_FACTOR * debounce_s
        )
        self._pending: dict[tuple[str, str], _Pending] = {}

    def __len__(self) -> int:
        """How many keys wait for a rescan."""
        return len(self._pending)

    def add(self, change: Change, now: float) -> None:
        pending = self._pending.setdefault(change.key, _Pending(now, now))
        pending.last = now
        pending.changes.append(change)

    def _due_at(self, pending: _Pending) -> float:
        return min(pending.last + self.debounce_s, pending.first + self.max_wait_s)

    def next_due(self) -> float | None:
        """When the next key is due (None: nothing waits): how long the loop may sleep."""
        return min((self._due_at(p) for p in self._pending.values()), default=None)

    def due(self, now: float) -> Batch | None:
        """Every key due at ``now``, taken out as one batch (None when none is due)."""
        keys = [k for k, p in self._pending.items() if self._due_at(p) <= now]
        if not keys:
            return None
        return Batch([c for k in sorted(keys) for c in self._pending.pop(k).changes])

    def drain(self) -> Batch | None:
        """Everything that waits, due or not (a stopping loop rescans what it holds)."""
        return self.due(float("inf"))
