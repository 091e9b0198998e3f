"""Delta runs: a scan of the buckets a change touched, not of every bucket in scope.

A delta is asked for with :class:`DeltaRequest` (the buckets per account, and the change events
that caused it, if any) and answered with :class:`Delta`: which of those buckets the scan covered
(their findings are in the result) and which it found deleted (the account no longer lists them).
History applies a delta to the posture of the last full run per (account, bucket); see
``outputs/history.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: What can be a bucket name: today's rule (3-63 lowercase letters, digits, dots, hyphens) and
#: the legacy us-east-1 names it replaced (up to 255, uppercase and underscores allowed).
BUCKET_NAME = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
#: The account a name is given without (``--buckets a,b`` on a single-account scan).
OWN = ""


class DeltaInvalid(ValueError):
    """A bucket name or account id that cannot be one; the message says which, in one line."""


def parse_bucket_list(text: str) -> dict[str, list[str]]:
    """``a,b,123456789012:c`` as names per account (:data:`OWN` for names without one): what
    ``scan --buckets`` takes. Bucket names hold no ``:``, so ``ACCOUNT:NAME`` is unambiguous."""
    per_account: dict[str, list[str]] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        account, _, name = item.rpartition(":")
        per_account.setdefault(account, []).append(name)
    return per_account


@dataclass(frozen=True)
class Event:
    """A change that caused the delta (a CloudTrail event id and its time, UTC ISO)."""

    id: str
    time: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "time": self.time}


@dataclass(frozen=True)
class DeltaRequest:
    """The buckets to rescan, per account id (:data:`OWN` for the scanned account itself)."""

    buckets: Mapping[str, tuple[str, ...]]
    events: tuple[Event, ...] = ()

    @classmethod
    def of(
        cls, names: Iterable[str] | Mapping[str, Iterable[str]], events: Iterable[Event] = ()
    ) -> DeltaRequest:
        """A request from bucket names (the scanned account's) or names per account, validated:
        an invalid name or account id raises :class:`DeltaInvalid`; an empty request too."""
        per_account = dict(names) if isinstance(names, Mapping) else {OWN: names}
        buckets: dict[str, tuple[str, ...]] = {}
        for account, listed in per_account.items():
            if account != OWN and not ACCOUNT_ID.match(str(account)):
                raise DeltaInvalid(f"{account!r} is not an AWS account id (12 digits)")
            chosen = tuple(sorted(set(listed)))
            bad = [n for n in chosen if not BUCKET_NAME.match(n)]
            if bad:
                raise DeltaInvalid(f"{bad[0]!r} is not an S3 bucket name")
            if chosen:
                buckets[str(account)] = chosen
        if not buckets:
            raise DeltaInvalid("a delta run needs at least one bucket name")
        return cls(buckets, tuple(events))

    def for_account(self, account_id: str, own: bool) -> tuple[str, ...] | None:
        """The names to rescan in the account (``None``: none asked for there)."""
        names = set(self.buckets.get(account_id, ()))
        if own:
            names |= set(self.buckets.get(OWN, ()))
        return tuple(sorted(names)) if names else None


@dataclass(frozen=True)
class Delta:
    """What a delta run covered: buckets scanned and buckets found deleted, per account (the
    accounts it could not reach are in neither), and the events that caused it."""

    covered: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    deleted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    events: tuple[Event, ...] = ()

    def metadata(self) -> dict[str, Any]:
        """The keys ``run.json`` records of the delta (its base is added where it is published)."""
        return {
            "buckets": {a: list(n) for a, n in sorted(self.covered.items()) if n},
            "deleted_buckets": {a: list(n) for a, n in sorted(self.deleted.items()) if n},
            "events": [e.to_dict() for e in self.events],
        }
