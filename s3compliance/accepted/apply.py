"""Applying the exceptions to a scan's findings: a pure function of findings, tags and the file.

A FAIL finding covered by an active exception stays FAIL (the configuration is what it is) and
gains ``exception_id`` and ``exception_expires``; when several cover it, the one expiring last is
recorded. ERROR and PASS findings never carry an exception: an exception accepts a known
configuration, not an unknown one. An entry narrowed by ``when_tagged`` applies only to a bucket
whose tags were read and carry the tag; when they could not be read, the finding's reason says
which exception was not applied and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd

from s3compliance.accepted.exceptions import ExceptionSet, RiskException

#: The finding columns this step fills ("" on findings no exception covers).
EXCEPTION_COLUMNS = ("exception_id", "exception_expires")
#: The states of an exception in a run, in the order a reader acts on them.
STATES = ("expired", "unused", "expiring", "active")

Tags = Mapping[str, dict[str, str] | None]


#: How many covered findings an exception's row names (the count says how many there are).
COVERS_SHOWN = 20


def _by_check(entries: list[RiskException]) -> dict[str, list[RiskException]]:
    """The entries naming each check: a finding is only tested against those."""
    index: dict[str, list[RiskException]] = {}
    for entry in entries:
        for check_id in entry.checks:
            index.setdefault(check_id, []).append(entry)
    return index


def apply_exceptions(
    findings: pd.DataFrame, exceptions: ExceptionSet | None, tags: Tags
) -> pd.DataFrame:
    """The findings with the active exceptions recorded on the FAILs they cover.

    ``tags`` maps a bucket to its tags, or to None when they were not read (then an entry with
    ``when_tagged`` does not apply to it). The input frame is not modified.
    """
    out = findings.copy()
    for column in EXCEPTION_COLUMNS:
        if column not in out:
            out[column] = ""
    active = _by_check(exceptions.active()) if exceptions is not None else {}
    if not active or out.empty:
        return out
    ids, expiries, reasons = list(out["exception_id"]), list(out["exception_expires"]), []
    rows = zip(
        out["account_id"], out["region"], out["bucket"], out["check_id"], out["status"],
        out["reason"], strict=True,
    )  # fmt: skip
    for n, (account_id, region, bucket, check_id, status, reason) in enumerate(rows):
        reasons.append(reason)
        if status != "FAIL":
            continue
        candidates = [
            e for e in active.get(check_id, ()) if e.scopes(account_id, region, bucket, check_id)
        ]
        bucket_tags = tags.get(bucket)
        applying = [
            e
            for e in candidates
            if not e.when_tagged or (bucket_tags is not None and e.tagged(bucket_tags))
        ]
        if applying:
            chosen = min(applying, key=lambda e: (-e.expires.toordinal(), e.id))
            ids[n], expiries[n] = chosen.id, chosen.expires.isoformat()
            continue
        blind = [e.id for e in candidates if e.when_tagged and bucket_tags is None]
        if blind:
            reasons[n] = (
                f"{reason} Exception {', '.join(blind)} not applied: it needs the bucket's tags, "
                "which could not be read."
            )
    out["exception_id"], out["exception_expires"], out["reason"] = ids, expiries, reasons
    return out


def _state(entry: RiskException, run_date: date, warning_days: int, used: bool) -> str:
    if not entry.active_on(run_date):
        return "expired"
    if not used:
        return "unused"
    if (entry.expires - run_date).days <= warning_days:
        return "expiring"
    return "active"


def exception_states(
    exceptions: ExceptionSet, findings: pd.DataFrame | None, tags: Tags | None = None
) -> pd.DataFrame:
    """One row per exception: its state in this run and the FAIL findings it covers.

    ``tags`` None means they are unknown (a findings file read back holds none): an entry with
    ``when_tagged`` then counts the findings its scope names, and ``note`` says so.
    States: ``expired`` (past its date), ``unused`` (active, covers no FAIL: it may be removed),
    ``expiring`` (within ``warning_days`` of its end), ``active``. Without ``findings`` (a file
    checked on its own) no entry is ``unused`` and ``findings`` is None. One pass over the FAILs,
    each tested only against the active entries that name its check.
    """
    known = findings is not None
    if findings is None:
        findings = pd.DataFrame(columns=["account_id", "region", "bucket", "check_id", "status"])
    fails = findings[findings["status"] == "FAIL"]
    run_date = exceptions.run_date
    by_check = _by_check(exceptions.active())
    covered: dict[str, list[str]] = {e.id: [] for e in exceptions.entries}
    for account_id, region, bucket, check_id in zip(
        fails["account_id"], fails["region"], fails["bucket"], fails["check_id"], strict=True
    ):
        for entry in by_check.get(check_id, ()):
            if not entry.scopes(account_id, region, bucket, check_id):
                continue
            bucket_tags = None if tags is None else tags.get(bucket)
            if (
                entry.when_tagged
                and tags is not None
                and not (bucket_tags is not None and entry.tagged(bucket_tags))
            ):
                continue
            covered[entry.id].append(f"{bucket} ({check_id})")
    rows: list[dict[str, Any]] = []
    for entry in exceptions.entries:
        mine = covered[entry.id]
        state = _state(entry, run_date, exceptions.warning_days, bool(mine) or not known)
        note = "tags unknown here: counted by scope" if entry.when_tagged and tags is None else ""
        rows.append(
            {
                "id": entry.id,
                "state": state,
                "expires": entry.expires.isoformat(),
                "days_left": (entry.expires - run_date).days,
                "owner": entry.owner,
                "reason": entry.reason,
                "approved_by": entry.approved_by,
                "ticket": entry.ticket,
                "checks": ", ".join(entry.checks),
                "buckets": ", ".join(entry.buckets),
                "findings": len(mine) if known else None,
                "covers": "; ".join(mine[:COVERS_SHOWN])
                + (
                    f"; ... and {len(mine) - COVERS_SHOWN} more" if len(mine) > COVERS_SHOWN else ""
                ),
                "note": note,
            }
        )
    order = {s: n for n, s in enumerate(STATES)}
    frame = pd.DataFrame(rows, columns=STATE_COLUMNS)
    frame["_order"] = frame["state"].map(order)
    frame = frame.sort_values(["_order", "expires", "id"], kind="stable").drop(columns="_order")
    return frame.reset_index(drop=True)


STATE_COLUMNS = [
    "id",
    "state",
    "expires",
    "days_left",
    "owner",
    "reason",
    "approved_by",
    "ticket",
    "checks",
    "buckets",
    "findings",
    "covers",
    "note",
]
