"""Benchmark what a run does with its findings after the checks, at organization scale.

Synthesizes the findings of B buckets x the mission profile's five checks (a third of them
FAIL) and an exceptions file of E entries, then times the steps added since the scan was
measured: applying the exceptions (the pure step), the exception states of the report section,
the OCSF and ASFF conversions of every finding, and the Security Hub import plan. Prints seconds,
microseconds per finding and the peak RSS, against the bound each step should reach on this
2-core machine (a nightly run of 100,000 buckets must not spend minutes here).

    python bench/findings_bench.py --buckets 20000 --exceptions 200
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import date

import pandas as pd

from s3compliance.accepted.apply import apply_exceptions, exception_states
from s3compliance.accepted.exceptions import parse_exceptions
from s3compliance.actions import securityhub
from s3compliance.checks import select_checks
from s3compliance.outputs.asff import asff_findings
from s3compliance.outputs.ocsf import ocsf_findings
from s3compliance.scan.scanner import FINDING_COLUMNS, finding_id

ACCOUNT = "111122223333"
RUN_DAY = date(2026, 12, 1)
#: Per-finding bounds (microseconds) each step should stay under.
BOUNDS_US = {"apply": 50, "states": 50, "ocsf": 1500, "asff": 500, "plan": 100}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthesize(buckets: int) -> pd.DataFrame:
    checks = select_checks()
    rows = []
    for b in range(buckets):
        name = f"bucket-{b:06d}"
        for n, check in enumerate(checks):
            status = "FAIL" if (b + n) % 3 == 0 else "PASS"
            rows.append(
                {
                    **dict.fromkeys(FINDING_COLUMNS, ""),
                    "finding_id": finding_id("aws", ACCOUNT, name, check.id),
                    "account_id": ACCOUNT,
                    "bucket": name,
                    "bucket_arn": f"arn:aws:s3:::{name}",
                    "region": "us-east-1",
                    "check_id": check.id,
                    "status": status,
                    "severity": check.severity,
                    "reason": "synthetic",
                    "violation": "synthetic violation" if status == "FAIL" else "",
                    "evidence": {"versioning": {"Status": "Enabled"}},
                    "frameworks": check.frameworks,
                }
            )
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def exceptions_text(entries: int) -> str:
    checks = [c.id for c in select_checks()]
    return json.dumps(
        {
            "exceptions": [
                {
                    "id": f"RISK-{n}",
                    "checks": [checks[n % len(checks)]],
                    "buckets": [f"bucket-{n:04d}*"],
                    "reason": "bench",
                    "owner": "bench@example.com",
                    "expires": "2027-06-30",
                }
                for n in range(entries)
            ]
        }
    )


def report_of(findings: pd.DataFrame) -> dict:
    buckets = []
    for name, group in findings.groupby("bucket", sort=True):
        entries = []
        for f in group.itertuples(index=False):
            entry = {
                "finding_id": f.finding_id,
                "check_id": f.check_id,
                "status": f.status,
                "severity": f.severity,
                "reason": f.reason,
                "violation": f.violation,
                "error_code": "",
                "evidence": f.evidence,
            }
            if f.exception_id:
                entry.update(exception_id=f.exception_id, exception_expires=f.exception_expires)
            entries.append(entry)
        buckets.append(
            {
                "bucket_name": name,
                "bucket_arn": f"arn:aws:s3:::{name}",
                "region": "us-east-1",
                "status": "non_compliant",
                "findings": entries,
            }
        )
    return {
        "account_id": ACCOUNT,
        "regions": ["us-east-1"],
        "generated_at": "2026-12-01T06:00:00Z",
        "tool_version": "0.1.0",
        "buckets": buckets,
    }


def timed(label: str, n: int, fn, results: list) -> object:
    started = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - started
    results.append((label, seconds, seconds / n * 1e6))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buckets", type=int, default=20000)
    parser.add_argument("--exceptions", type=int, default=200)
    args = parser.parse_args(argv)
    findings = synthesize(args.buckets)
    exceptions = parse_exceptions(exceptions_text(args.exceptions), "bench", RUN_DAY)
    n = len(findings)
    print(f"{args.buckets} buckets, {n} findings, {args.exceptions} exceptions")
    results: list[tuple[str, float, float]] = []
    applied = timed("apply", n, lambda: apply_exceptions(findings, exceptions, {}), results)
    timed("states", n, lambda: exception_states(exceptions, applied, {}), results)
    report = report_of(applied)
    timed("ocsf", n, lambda: ocsf_findings(report), results)
    asff = timed(
        "asff", n, lambda: asff_findings(report, "us-east-1", "2026-12-01T06:00:00Z"), results
    )
    timed(
        "plan",
        n,
        lambda: securityhub.plan_import(
            asff, securityhub.empty_state(), "2026-12-01T06:00:00Z", [ACCOUNT]
        ),
        results,
    )
    accepted = int((applied["exception_id"] != "").sum())
    print(f"accepted findings: {accepted}")
    print(f"{'step':8} {'seconds':>9} {'us/finding':>11} {'bound':>7}")
    ok = True
    for label, seconds, per in results:
        within = per <= BOUNDS_US[label]
        ok &= within
        verdict = "ok" if within else "OVER"
        print(f"{label:8} {seconds:9.2f} {per:11.1f} {BOUNDS_US[label]:7} {verdict}")
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
