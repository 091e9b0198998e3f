"""The demo account's past: daily library scans of the embedded fleet as it was on each day.

``s3compliance demo --history N`` writes N - 1 run folders, one per day before the report's run
date, then runs the report on the last day, so a newcomer sees "Since the last run" and the trend
chart on the first try. The past is a deterministic drift that ends in today's fleet (the one the
report notebook's own demo account seeds), made with real S3 calls on the moto account before each
day's scan:

- **fixed**: twelve ``demo-compliant-*`` buckets start out without versioning (odd ones) or
  without their lifecycle rule (even ones) and are fixed one after another;
- **regressed**: four more are fixed, broken again, then fixed for good; two
  ``demo-versioning-suspended-*`` buckets have versioning on for a while, twice;
- **new**: four more ``demo-versioning-suspended-*`` buckets appear during the period;
- **gone**: four ``demo-retired-*`` buckets exist at first (bare, failing) and are deleted.

The last fix, the last new bucket, the last deletion and a regression fall on the report's day.

Each day's scan is an ordinary :func:`run_scan` of the demo parameters with ``run_date`` set, and
its run folder is written by :func:`write_report` (no notebook, no charts: that is the report's
job). A day whose run folder already exists is kept as it is, so the command can be re-run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

from s3compliance.outputs.report import write_report
from s3compliance.params import Params
from s3compliance.scan.aws import Clients
from s3compliance.scan.run import run_scan
from s3compliance.testing.demo import (
    EXPIRE_30,
    FIRST_CREATED,
    FLEET,
    configure_bucket,
    demo_account,
    fix_in_backend,
)

log = logging.getLogger(__name__)

MAX_DAYS = 366
ON_TIME = "T06:00:00Z"  # each past run "finished" at 06:00 UTC of its day


def history_run_id(day: date) -> str:
    """The folder of a past day's run: the same shape as a default run id, so they sort."""
    return f"{day:%Y%m%d}T060000Z"


@dataclass(frozen=True)
class Drift:
    """One bucket's story: ``broken(d)`` says whether it is off its final state on day d."""

    bucket: str
    kind: str  # versioning | versioning-on | lifecycle | absent | retired
    spans: tuple[tuple[float, float], ...]  # fractions of the period in which it is "off"

    def off(self, day: int, days: int) -> bool:
        at = day / max(days - 1, 1)
        return any(start <= at < end for start, end in self.spans)


def drift_plan() -> list[Drift]:
    """The whole deterministic story, as fractions of the period (1.0 is the report's day, so a
    span that ends at 1.0 ends on the report's day: one change of each kind shows there)."""
    plan = []
    for i in range(1, 13):  # fixed one after another, the last on the report's day
        kind = "versioning" if i % 2 else "lifecycle"
        plan.append(Drift(f"demo-compliant-{i:02d}", kind, ((0.0, i / 12),)))
    for i in range(13, 17):  # fixed, broken again, fixed for good
        plan.append(
            Drift(f"demo-compliant-{i:02d}", "versioning", ((0.0, 0.2), (0.5, 0.5 + i / 100)))
        )
    for i in (1, 2):  # compliant for a while, twice: broken again on the report's day
        plan.append(
            Drift(f"demo-versioning-suspended-{i:02d}", "versioning-on", ((0.3, 0.6), (0.8, 1.0)))
        )
    for n, i in enumerate(range(5, 9)):  # appear during the period
        plan.append(Drift(f"demo-versioning-suspended-{i:02d}", "absent", ((0.0, 0.4 + n / 5),)))
    for i in range(1, 5):  # bare and failing, then deleted
        plan.append(Drift(f"demo-retired-{i:02d}", "retired", ((0.0, 0.25 * i),)))
    return plan


def _archetype(bucket: str) -> Any:
    name = bucket.removeprefix("demo-").rsplit("-", 1)[0]
    return next(kind for kind in FLEET if kind.name == name)


class _Fleet:
    """Puts each drifting bucket in its state of the day, with the calls S3 would see."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.state: dict[str, bool] = {}  # bucket -> off

    def set(self, drift: Drift, off: bool) -> None:
        if self.state.get(drift.bucket, False) == off:
            return
        self.state[drift.bucket] = off
        s3, name = self.s3, drift.bucket
        if drift.kind in ("versioning", "versioning-on"):
            status = "Suspended" if off == (drift.kind == "versioning") else "Enabled"
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
        elif drift.kind == "lifecycle":
            if off:
                s3.delete_bucket_lifecycle(Bucket=name)
            else:
                rules = {"Rules": EXPIRE_30}
                s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration=rules)
        elif drift.kind == "absent":
            if off:
                s3.delete_bucket(Bucket=name)
            else:
                s3.create_bucket(Bucket=name)
                configure_bucket(s3, name, _archetype(name))
                fix_in_backend({name: FIRST_CREATED}, {})
        elif off:  # retired: exists (bare) while "off", then deleted
            s3.create_bucket(Bucket=name)
            fix_in_backend({name: FIRST_CREATED}, {})
        else:
            s3.delete_bucket(Bucket=name)


def write_demo_history(params: Params, days: int, end: date, progress: bool = True) -> list[Path]:
    """Write the ``days - 1`` daily runs before ``end`` under ``params.output_dir`` (a day whose
    folder exists is kept); returns every past day's folder, oldest first."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"history takes 1 to {MAX_DAYS} days, not {days}")
    out = Path(params.output_dir)
    plan = drift_plan()
    past = [end - timedelta(days=days - 1 - d) for d in range(days - 1)]
    todo = [(d, day) for d, day in enumerate(past) if not (out / history_run_id(day)).exists()]
    if len(todo) < len(past):
        log.info("history: %d past run(s) already there, kept", len(past) - len(todo))
    if todo:
        with demo_account() as session:
            fleet = _Fleet(session.client("s3", region_name="us-east-1"))
            for drift in plan:
                if drift.kind == "retired":
                    fleet.state[drift.bucket] = False  # not created yet
            clients = Clients(session, endpoint_url=None, max_workers=params.max_workers)
            for d, day in tqdm(todo, desc="past runs", unit="run", disable=not progress):
                for drift in plan:
                    fleet.set(drift, drift.off(d, days))
                dated = replace(params, run_date=day.isoformat())
                result = run_scan(dated, clients=clients, progress=False)
                generated = f"{day.isoformat()}{ON_TIME}"
                write_report(result, out, history_run_id(day), generated_at=generated)
    return [out / history_run_id(day) for day in past]
