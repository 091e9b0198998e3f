"""``s3compliance securityhub --demo``: the Security Hub lifecycle on the embedded demo account.

Four runs of the demo account in a temporary output folder, each published and then imported
into moto's Security Hub: the first import creates, a re-run updates (no duplicates), a fixed
bucket's finding is archived as PASSED, and a deleted bucket's findings are archived. moto does
not emulate ``BatchUpdateFindings`` (the suppression of accepted risks): the tests check those
calls with botocore's Stubber instead, so the demo runs without an exceptions file.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from s3compliance.outputs.report import write_report
from s3compliance.outputs.securityhub_import import import_report
from s3compliance.scan.aws import Clients
from s3compliance.scan.run import run_scan
from s3compliance.testing.demo import DEMO_REGION, demo_account, demo_params

FIXED = "demo-versioning-never-01"  # fails versioning only: fixed by enabling versioning
DELETED = "demo-public-bare-02"  # fails five checks: its findings are archived when it goes


def hub_findings(hub: Any) -> list[dict[str, Any]]:
    """Every finding Security Hub holds (GetFindings, paginated)."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"MaxResults": 100}
    while True:
        page = hub.get_findings(**kwargs)
        found.extend(page["Findings"])
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def securityhub_demo(say: Callable[[str], object] = print) -> int:
    """Run the four steps, saying what each did and what Security Hub then holds; 0 when every
    import succeeded."""
    ok = True
    with tempfile.TemporaryDirectory() as out, demo_account() as session:
        clients = Clients(session, None, 8)
        hub = clients.client("securityhub", DEMO_REGION)
        hub.enable_security_hub()  # the demo account's setup, as an administrator would
        params = demo_params(output_dir=out, apply_tags=False, max_workers=8)

        def step(title: str, run_id: str) -> None:
            nonlocal ok
            result = run_scan(params, clients=clients, progress=False)
            folder = write_report(result, out, run_id)
            report = json.loads((Path(folder) / "findings.json").read_text())
            imported = import_report(report, params, lambda _account: hub, apply=True)
            ok = ok and imported.outcome is not None and not imported.outcome.failures
            held = hub_findings(hub)
            archived = sum(f.get("RecordState") == "ARCHIVED" for f in held)
            say(f"{title}\n  {imported.summary()}")
            say(f"  Security Hub holds {len(held)} finding(s), {archived} archived")

        step("1. First import: every FAIL and ERROR is created", "day-1")
        step("2. Re-run, nothing changed: the same findings are updated, none added", "day-2")
        s3 = clients.s3(DEMO_REGION)
        s3.put_bucket_versioning(Bucket=FIXED, VersioningConfiguration={"Status": "Enabled"})
        step(f"3. {FIXED} fixed: its finding is imported PASSED and archived", "day-3")
        s3.delete_bucket_policy(Bucket=DELETED)
        s3.delete_bucket(Bucket=DELETED)
        step(f"4. {DELETED} deleted: its findings are archived", "day-4")
    return 0 if ok else 1
