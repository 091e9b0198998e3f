"""``run_scan``: which scanner a run's parameters call for.

One account on the threads engine is :class:`~s3compliance.scan.scanner.Scanner`; an account
list, the organization or the Dask engine go through
:class:`~s3compliance.scan.org_scanner.OrgScanner` (which runs ``Scanner``'s own checks on each
shard). The choice lives here, above both, so neither scanner imports the other's caller.

The scanner's public names are importable from here too: ``s3compliance.scan.engine`` (0.2) is
an alias of this module for one release.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import boto3

from s3compliance.params import Params
from s3compliance.scan.aws import Clients
from s3compliance.scan.delta import OWN, Delta, DeltaInvalid, DeltaRequest
from s3compliance.scan.org_scanner import OrgScanner
from s3compliance.scan.scanner import (
    BUCKET_COLUMNS,
    FINDING_COLUMNS,
    ScanAborted,
    Scanner,
    ScanResult,
    finding_id,
)

__all__ = [
    "BUCKET_COLUMNS",
    "FINDING_COLUMNS",
    "ScanAborted",
    "ScanResult",
    "Scanner",
    "finding_id",
    "run_scan",
]


def run_scan(
    params: Params,
    clients: Clients | None = None,
    session: boto3.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool | None = None,
    delta: DeltaRequest | None = None,
) -> ScanResult:
    """Scan the account(s) the parameters point at and return the findings: every bucket in
    scope, or with ``delta`` only the buckets it names (a delta run: ``result.delta`` says
    which it covered and which it found deleted).

    One account on the threads engine is today's :class:`Scanner`; an account list, the
    organization or the Dask engine go through :class:`s3compliance.scan.org_scanner.OrgScanner`.
    """
    if params.multi_account:
        base = session or (clients.session if clients is not None else None)
        org = OrgScanner(params, session=base, sleep=sleep, delta=delta)
        return org.check(org.discover(), progress)
    scanner = Scanner(params, clients, session, sleep)
    if delta is None:
        return scanner.check(scanner.discover(), progress)
    account_id = scanner.clients.account_id(scanner.retry)
    others = sorted(set(delta.buckets) - {OWN, account_id})
    if others:
        raise DeltaInvalid(
            f"the delta names account {others[0]}, but this scan is of account {account_id} only "
            "(accounts: null)"
        )
    discovered = scanner.discover(delta.for_account(account_id, own=True))
    result = scanner.check(discovered, progress)
    result.delta = Delta(
        {account_id: tuple(discovered["bucket"])},
        {account_id: tuple(discovered.attrs["missing"])},
        delta.events,
    )
    return result
