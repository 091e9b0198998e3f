"""Benchmark history queries over a year of daily runs of a 10,000-bucket organization.

Synthesizes N daily run folders (``findings.parquet`` + ``run.json``, as ``write_run_files``
writes them, evidence kept short) of an organization of A accounts x B buckets and the default
profile's five checks, with a deterministic drift: fixes, regressions, errors, new buckets every
day, one account that cannot be scanned every seventh day. Then times ``trend()``,
``changes()``, ``open_findings()`` and ``remediation_times()`` on a cold process cache, and prints
seconds per query and the peak RSS of the process, against the bounds the issue sets (each query
under 3 s, peak RSS under 1 GB).

    python bench/history_bench.py --days 365 --accounts 20 --buckets 500
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from s3compliance.checks import select_checks
from s3compliance.outputs import history
from s3compliance.scan.scanner import FINDING_COLUMNS

QUERY_BOUND_S = 3.0
RSS_BOUND_MIB = 1024


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthesize(root: Path, days: int, accounts: int, per_account: int, seed: int = 7) -> int:
    """Write ``days`` run folders under ``root``; returns the number of finding rows written."""
    rng = np.random.default_rng(seed)
    checks = select_checks()
    n_checks = len(checks)
    n_buckets = accounts * per_account
    account_ids = [f"{100000000000 + a:012d}" for a in range(accounts)]
    acct_of = np.repeat(np.arange(accounts), per_account)
    names = [f"bucket-{a:02d}-{b:04d}" for a in range(accounts) for b in range(per_account)]
    # row r is bucket r // n_checks, check r % n_checks
    bucket_idx = np.repeat(np.arange(n_buckets), n_checks)
    check_idx = np.tile(np.arange(n_checks), n_buckets)
    ids = np.array(
        [
            hashlib.sha256(
                f"aws\x1f{account_ids[acct_of[b]]}\x1f{names[b]}\x1f{checks[c].id}".encode()
            ).hexdigest()[:16]
            for b, c in zip(bucket_idx, check_idx, strict=True)
        ]
    )
    col = {
        "account_id": np.array(account_ids)[acct_of[bucket_idx]],
        "account_name": np.array([f"member-{a:02d}" for a in range(accounts)])[acct_of[bucket_idx]],
        "bucket": np.array(names)[bucket_idx],
        "bucket_arn": np.array([f"arn:aws:s3:::{n}" for n in names])[bucket_idx],
        "check_id": np.array([c.id for c in checks])[check_idx],
        "severity": np.array([c.severity for c in checks])[check_idx],
    }
    status = np.where(rng.random(len(ids)) < 0.3, 1, 0)  # 0 PASS, 1 FAIL, 2 ERROR
    # a tenth of the buckets appear during the year, a few each day
    born = np.zeros(n_buckets, dtype=int)
    late = rng.choice(n_buckets, n_buckets // 10, replace=False)
    born[late] = rng.integers(1, days, len(late))
    rows = 0
    start = np.datetime64("2026-01-01") - np.timedelta64(days, "D")
    for day in tqdm(range(days), desc="runs", unit="run"):
        r = rng.random(len(ids))
        failing = status == 1
        status = np.where(failing & (r < 0.01), 0, status)  # fixes
        status = np.where(~failing & (r > 0.998), 1, status)  # regressions and new breakage
        status = np.where(status == 2, np.where(failing, 1, 0), status)  # last day's errors clear
        shown = np.where(rng.random(len(ids)) < 0.002, 2, status)
        down = {accounts - 1} if day % 7 == 3 else set()
        keep = (born[bucket_idx] <= day) & ~np.isin(acct_of[bucket_idx], list(down))
        text = np.array(["PASS", "FAIL", "ERROR"])[shown[keep]]
        n = int(keep.sum())
        table = {
            "account_id": col["account_id"][keep],
            "account_name": col["account_name"][keep],
            "bucket": col["bucket"][keep],
            "bucket_arn": col["bucket_arn"][keep],
            "region": np.full(n, "us-east-1"),
            "check_id": col["check_id"][keep],
            "status": text,
            "severity": col["severity"][keep],
            "reason": np.full(n, "synthetic"),
            "violation": text == "FAIL",
            "error_code": np.where(text == "ERROR", "Throttling", ""),
            "evidence": np.full(n, '{"synthetic": true}'),
            "remediation": np.full(n, ""),
            "frameworks": np.full(n, "[]"),
            "finding_id": ids[keep],
            "exception_id": np.full(n, ""),
            "exception_expires": np.full(n, ""),
        }
        assert list(table) == FINDING_COLUMNS
        date = str(start + np.timedelta64(day, "D"))
        folder = root / f"{date}T06-00-00Z"
        folder.mkdir()
        pq.write_table(pa.table(table), folder / "findings.parquet")
        meta = {
            "schema_version": "1.2",
            "run_id": folder.name,
            "run_date": date,
            "started_at": f"{date}T06:00:00Z",
            "finished_at": f"{date}T06:20:00Z",
            "account_ids": account_ids,
            "failed_account_ids": [account_ids[a] for a in sorted(down)],
            "regions": ["us-east-1"],
            "profile": "default",
            "check_ids": [c.id for c in checks],
        }
        (folder / "run.json").write_text(json.dumps(meta))
        rows += n
    return rows


def timed(label: str, fn) -> tuple[str, float, int]:
    t0 = time.perf_counter()
    frame = fn()
    return label, time.perf_counter() - t0, len(frame)


def queries(root: Path) -> list[tuple[str, float, int]]:
    """Every history query on the runs under ``root``, timed in turn."""
    return [
        timed("runs()", lambda: history.runs(root)),
        timed("trend(by=check, days=90)", lambda: history.trend(root, by="check")),
        timed("trend(by=account, days=365)", lambda: history.trend(root, "account", 365)),
        timed("changes()", lambda: history.changes(output_dir=root)),
        timed("open_findings()", lambda: history.open_findings(root)),
        timed("remediation_times()", lambda: history.remediation_times(root)),
    ]


def rss_within_bound(base: float) -> bool:
    """Print the peak RSS against its bound; True when within it."""
    rss = peak_rss_mib()
    print(
        f"peak RSS {rss:.0f} MiB (after synthesis {base:.0f} MiB), bound {RSS_BOUND_MIB} MiB: "
        f"{'ok' if rss < RSS_BOUND_MIB else 'OVER'}"
    )
    return rss < RSS_BOUND_MIB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--buckets", type=int, default=500, help="per account")
    parser.add_argument("--keep", type=Path, help="write the runs here and keep them")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="history-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        if not any(root.iterdir()):
            t0 = time.perf_counter()
            rows = synthesize(root, args.days, args.accounts, args.buckets)
            size = sum(p.stat().st_size for p in root.rglob("*.parquet")) / 2**20
            print(
                f"synthesized {args.days} runs x {args.accounts * args.buckets} buckets: "
                f"{rows:,} finding rows, {size:.0f} MiB of Parquet "
                f"in {time.perf_counter() - t0:.1f} s"
            )
        base = peak_rss_mib()
        results = queries(root)
        print(f"{'query':<30} {'seconds':>8} {'rows':>8}   bound {QUERY_BOUND_S:.0f} s")
        ok = True
        for label, seconds, n in results:
            flag = "ok" if seconds < QUERY_BOUND_S else "OVER"
            ok &= seconds < QUERY_BOUND_S
            print(f"{label:<30} {seconds:8.2f} {n:8d}   {flag}")
        ok &= rss_within_bound(base)
        return 0 if ok else 1
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
