"""Explore at any size: open a run and page through its findings, at 1,000 and 1,000,000 rows.

Writes a synthetic run folder (``findings.parquet`` and ``buckets.parquet`` of the run folder's
schema: ten checks a bucket, every third bucket failing versioning, a fifth failing lifecycle),
then times what the explore notebook does: open the run, count, the first page worst first, the
next page, a filtered page (one check, FAIL, a bucket-name substring), a sort by bucket, one
bucket's drill-down, and a jump to the middle of the run. Bound (issue 27): each browsing step at
1,000,000 findings under 1 s, and peak RSS of the process under 1 GiB (only a page is read into
memory). The jump to the middle is printed without a bound: it sorts every row (DuckDB's top-N
shortcut holds only near the start of an order).

    python bench/explore_bench.py [--sizes 1000 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CHECKS = [f"check_{n:02d}" for n in range(10)]
BOUND_S = 1.0


def write_run(folder: Path, findings: int) -> None:
    buckets = max(1, findings // len(CHECKS))
    names = [f"bench-bucket-{n:07d}" for n in range(buckets)]
    rows = buckets * len(CHECKS)
    bucket = [names[i // len(CHECKS)] for i in range(rows)]
    check = [CHECKS[i % len(CHECKS)] for i in range(rows)]
    failing = [
        (c == "check_00" and (i // len(CHECKS)) % 3 == 0)
        or (c == "check_01" and (i // len(CHECKS)) % 5 == 0)
        for i, c in enumerate(check)
    ]
    status = ["FAIL" if f else "PASS" for f in failing]
    evidence = json.dumps({"versioning": {"Status": "Suspended"}})
    account = [f"{100000000001 + (i // len(CHECKS)) % 20:012d}" for i in range(rows)]
    columns = {
        "account_id": account,
        "bucket": bucket,
        "region": ["us-east-1"] * rows,
        "check_id": check,
        "status": status,
        "severity": ["high" if c == "check_00" else "medium" for c in check],
        "reason": ["versioning is Suspended" if f else "ok" for f in failing],
        "violation": ["suspended" if f else "" for f in failing],
        "error_code": [""] * rows,
        "exception_id": [""] * rows,
        "exception_expires": [""] * rows,
        "evidence": [evidence] * rows,
    }
    pq.write_table(pa.table(columns), folder / "findings.parquet")
    statuses = [
        "non_compliant" if n % 3 == 0 or n % 5 == 0 else "compliant" for n in range(buckets)
    ]
    pq.write_table(
        pa.table(
            {
                "account_id": [f"{100000000001 + n % 20:012d}" for n in range(buckets)],
                "bucket": names,
                "status": statuses,
            }
        ),
        folder / "buckets.parquet",
    )


def timed(name: str, step, times: dict[str, float]) -> object:
    start = time.perf_counter()
    value = step()
    times[name] = time.perf_counter() - start
    return value


def one(size: int) -> dict[str, float]:
    from s3compliance.outputs import explore

    with tempfile.TemporaryDirectory(prefix="explore-bench-") as tmp:
        folder = Path(tmp)
        write_run(folder, size)
        times: dict[str, float] = {}
        run = timed("open", lambda: explore.load_run(folder), times)
        total = timed("count", lambda: explore.count_findings(run), times)
        assert total == size // len(CHECKS) * len(CHECKS), total
        timed("first page", lambda: explore.filter_findings(run, limit=500), times)
        timed("next page", lambda: explore.filter_findings(run, offset=500, limit=500), times)
        timed(
            "deep page", lambda: explore.filter_findings(run, offset=total // 2, limit=500), times
        )
        timed(
            "filtered",
            lambda: explore.filter_findings(
                run, check="check_00", status="FAIL", bucket="bucket-00", limit=500
            ),
            times,
        )
        timed("by bucket", lambda: explore.filter_findings(run, order="bucket", limit=500), times)
        timed("drill-down", lambda: explore.bucket_checks(run, "bench-bucket-0000003"), times)
        return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 1_000_000])
    args = parser.parse_args(argv)
    steps = [
        "open",
        "count",
        "first page",
        "next page",
        "filtered",
        "by bucket",
        "drill-down",
        "deep page",
    ]
    print(f"{'findings':>9} " + " ".join(f"{s + ' s':>12}" for s in steps))
    ok = True
    for size in args.sizes:
        times = one(size)
        print(f"{size:>9} " + " ".join(f"{times[s]:>12.3f}" for s in steps), flush=True)
        worst = max(v for k, v in times.items() if k != "deep page")
        if size >= 1_000_000:
            good = worst < BOUND_S
            ok &= good
            print(
                f"slowest browsing step at {size}: {worst:.3f} s (bound < {BOUND_S} s): "
                f"{'ok' if good else 'OVER'}; a jump to the middle sorts every row: "
                f"{times['deep page']:.3f} s (no bound)"
            )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    good = rss < 1024
    ok &= good
    print(
        f"peak RSS {rss:.0f} MiB with the synthetic data (bound < 1024): {'ok' if good else 'OVER'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
