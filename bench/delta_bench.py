"""Benchmark history over full runs and the many small delta runs a change watcher leaves.

Synthesizes the daily full runs of ``history_bench.py`` (an organization of A accounts x B
buckets, five checks, a deterministic drift), then K delta runs a day between them, each of one
to three buckets of one account with fresh statuses (one in twenty finds its bucket deleted), as
``write_run_files`` lays them out (``findings.parquet``, ``run.json`` with ``kind: delta``). Times
every history query on the folder with the deltas and on the same folder without them, and the
posture of the newest run, against the bounds history already meets (3 s a query, 1 GiB peak
RSS), so the cost of the deltas is read off the difference.

    python bench/delta_bench.py --days 30 --accounts 20 --buckets 500 --deltas-per-day 100
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from history_bench import QUERY_BOUND_S, peak_rss_mib, queries, rss_within_bound, synthesize
from tqdm import tqdm


def add_deltas(root: Path, per_day: int, seed: int = 11) -> int:
    """Write ``per_day`` delta runs after each full run under ``root``; returns how many."""
    rng = np.random.default_rng(seed)
    fulls = sorted(p for p in root.iterdir() if p.is_dir())
    written = 0
    for folder in tqdm(fulls, desc="deltas", unit="day"):
        meta = json.loads((folder / "run.json").read_text())
        table = pq.read_table(folder / "findings.parquet")
        frame = table.to_pandas()
        buckets = frame.groupby(["account_id", "bucket"]).indices
        keys = list(buckets)
        date = meta["run_date"]
        for n in range(per_day):
            picked = [keys[i] for i in rng.choice(len(keys), rng.integers(1, 4), replace=False)]
            account = picked[0][0]
            picked = [k for k in picked if k[0] == account]  # one account's change
            deleted = [b for _, b in picked if rng.random() < 0.05]
            rows = np.concatenate([buckets[k] for k in picked if k[1] not in deleted] or [[]])
            part = frame.iloc[rows.astype(int)].copy()
            part["status"] = rng.choice(["PASS", "FAIL"], len(part), p=[0.7, 0.3])
            part["violation"] = part["status"] == "FAIL"
            minute = 30 + n * (1000 // max(per_day, 1)) // 60
            stamp = f"{date}T{6 + minute // 60:02d}:{minute % 60:02d}:{n % 60:02d}Z"
            run = root / f"{date}T07-{n:05d}-delta"
            run.mkdir()
            pq.write_table(
                pa.Table.from_pandas(part, preserve_index=False), run / "findings.parquet"
            )
            (run / "run.json").write_text(
                json.dumps(
                    {
                        **meta,
                        "run_id": run.name,
                        "started_at": stamp,
                        "finished_at": stamp,
                        "account_ids": [account],
                        "failed_account_ids": [],
                        "kind": "delta",
                        "base_run_id": folder.name,
                        "buckets": {account: sorted(b for _, b in picked if b not in deleted)},
                        "deleted_buckets": {account: sorted(deleted)},
                        "events": [{"id": f"evt-{n}", "time": stamp}],
                    }
                )
            )
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--buckets", type=int, default=500, help="per account")
    parser.add_argument("--deltas-per-day", type=int, default=100)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="delta-bench-"))
    try:
        fulls, both = work / "fulls", work / "with-deltas"
        fulls.mkdir()
        t0 = time.perf_counter()
        rows = synthesize(fulls, args.days, args.accounts, args.buckets)
        shutil.copytree(fulls, both)
        deltas = add_deltas(both, args.deltas_per_day)
        print(
            f"synthesized {args.days} full runs x {args.accounts * args.buckets} buckets "
            f"({rows:,} finding rows) and {deltas} delta runs in {time.perf_counter() - t0:.1f} s"
        )
        base = peak_rss_mib()
        plain, mixed = queries(fulls), queries(both)
        print(
            f"{'query':<30} {'full only':>10} {'+ deltas':>10} {'rows':>8}   "
            f"bound {QUERY_BOUND_S:.0f} s"
        )
        ok = True
        for (label, alone, _), (_, seconds, n) in zip(plain, mixed, strict=True):
            ok &= seconds < QUERY_BOUND_S
            flag = "ok" if seconds < QUERY_BOUND_S else "OVER"
            print(f"{label:<30} {alone:10.2f} {seconds:10.2f} {n:8d}   {flag}")
        ok &= rss_within_bound(base)
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
