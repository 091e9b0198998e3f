"""Benchmark an organization scan on both engines against a moto server on 127.0.0.1.

Starts ``moto.server`` and a latency proxy in front of it (child processes, own free ports,
stopped at the end), seeds an organization of N member accounts x M buckets, then scans it with
``engine: threads`` and ``engine: dask`` (a LocalCluster of worker processes), each at
``--latency-ms`` and at 0 ms. Every request of every engine goes through the proxy, so Dask
workers see the same latency as the driver's threads.

Prints, per engine: wall seconds, buckets per second, driver peak RSS, client CPU per API call
(driver plus workers), and the bound ``max(calls x latency / concurrency, wall at 0 ms)``: on two
cores shared with the moto server the CPU, not the network, is often the limit, and the bound says
which. Also prints the CPU per call of a plain sequential boto3 loop over the same checks.

    python bench/org_bench.py --accounts 20 --buckets 100 --latency-ms 30
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


from scan_bench import PLAIN_CALLS, free_port, seed_bucket, start_server  # noqa: E402
from tqdm import tqdm  # noqa: E402

from s3compliance.params import validate  # noqa: E402
from s3compliance.scan.org_scanner import OrgScanner, scan_shard  # noqa: E402
from s3compliance.scan.organizations import forget_sessions  # noqa: E402
from s3compliance.testing.org_demo import member_session  # noqa: E402


def start_proxy(target_port: int, latency_ms: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "latency_proxy.py"),
            "--port",
            str(port),
            "--target",
            f"127.0.0.1:{target_port}",
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return proc, f"http://127.0.0.1:{port}"


def seed(session: boto3.Session, endpoint: str, accounts: int, buckets: int) -> list[str]:
    """An organization of ``accounts`` members under one OU, each with ``buckets`` buckets."""
    org = session.client("organizations", endpoint_url=endpoint)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    unit = org.create_organizational_unit(ParentId=root, Name="bench")["OrganizationalUnit"]["Id"]
    ids = []
    for n in range(accounts):
        status = org.create_account(Email=f"bench{n}@example.com", AccountName=f"bench-{n:02d}")
        account_id = status["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=unit)
        ids.append(account_id)

    def fill(index_account: tuple[int, str]) -> None:
        n, account_id = index_account
        s3 = member_session(session, account_id, endpoint, "bench-seed").client(
            "s3", endpoint_url=endpoint
        )
        for i in range(buckets):
            seed_bucket(s3, f"bench-{n:02d}-{i:04d}", i, metrics=False)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fill, enumerate(ids)))
    return ids


def plain_loop(session: boto3.Session, endpoint: str, account_id: str) -> dict[str, float]:
    """A plain sequential boto3 loop: one client, the same calls per bucket, no engine at all."""
    s3 = member_session(session, account_id, endpoint, "bench-seed").client(
        "s3", endpoint_url=endpoint
    )
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # The loop's own session and client are left out of its figure (they would cost it 0.25 ms
    # per call over 600 calls); the scan's figures include everything it does.
    calls = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for name in names:
        for method in PLAIN_CALLS:
            calls += 1
            with contextlib.suppress(s3.exceptions.ClientError):
                getattr(s3, method)(Bucket=name)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {
        "buckets": len(names),
        "calls": calls,
        "cpu_ms_per_call": 1000 * cpu / calls,
        "wall_s": wall,
    }


def worker_cpu(client: Any) -> float:
    return sum(client.run(time.process_time).values())


def scan(engine: str, endpoint: str, args: argparse.Namespace) -> dict[str, Any]:
    forget_sessions()
    values: dict[str, Any] = {
        "accounts": "organization",
        "engine": engine,
        "endpoint_url": endpoint,
        "max_workers": args.max_workers,
        "max_accounts": args.max_accounts,
        "page_size": 10000,
    }
    if engine == "dask":
        values["dask_workers"] = args.dask_workers
        values["shard_size"] = args.shard_size
    params = validate(values, "<bench>")

    scanner = OrgScanner(params)
    setup = time.perf_counter()
    workers_before = worker_cpu(scanner.engine.client) if engine == "dask" else 0.0
    setup = time.perf_counter() - setup  # LocalCluster start-up, reported apart
    cpu0 = time.process_time()
    started = time.perf_counter()
    discovered = scanner.discover(progress=False)
    shards = scanner.shards(discovered)
    with tqdm(disable=True) as bar:
        results = scanner.engine.map(
            scan_shard, shards, [len(s.discovered) for s in shards], bar, scanner._shard_failed
        )
    workers_cpu = worker_cpu(scanner.engine.client) - workers_before if engine == "dask" else 0.0
    scanner.close()
    result = scanner._assemble(results)
    wall = time.perf_counter() - started
    driver_cpu = time.process_time() - cpu0
    calls = sum(result.api_calls.values())
    concurrency = args.max_accounts * args.max_workers
    return {
        "engine": engine,
        "buckets": len(result.buckets),
        "accounts_scanned": int((result.accounts["status"] == "scanned").sum()),
        "api_calls": calls,
        "wall_s": wall,
        "buckets_per_s": len(result.buckets) / wall,
        "cpu_ms_per_call": 1000 * (driver_cpu + workers_cpu) / calls,
        "concurrency": concurrency,
        "setup_s": setup,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--buckets", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument("--max-accounts", type=int, default=4)
    parser.add_argument("--dask-workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--shard-size", type=int, default=100)
    parser.add_argument(
        "--engines", default="dask,threads", help="dask first: its driver RSS is then its own"
    )
    args = parser.parse_args(argv)

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    moto_port = free_port()
    server = start_server(moto_port)
    direct = f"http://127.0.0.1:{moto_port}"
    slow, slow_url = start_proxy(moto_port, args.latency_ms)
    fast, fast_url = start_proxy(moto_port, 0)
    rows = []
    try:
        session = boto3.Session(region_name="us-east-1")
        t0 = time.perf_counter()
        ids = seed(session, direct, args.accounts, args.buckets)
        print(
            f"seeded {args.accounts} accounts x {args.buckets} buckets in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        plain = plain_loop(session, fast_url, ids[0])
        for engine in args.engines.split(","):
            at_zero = scan(engine, fast_url, args)
            at_latency = scan(engine, slow_url, args)
            network = at_latency["api_calls"] * args.latency_ms / 1000 / at_latency["concurrency"]
            bound = max(network, at_zero["wall_s"])
            at_latency.update(
                wall_at_0ms_s=at_zero["wall_s"],
                network_bound_s=network,
                bound_s=bound,
                limited_by="cpu" if at_zero["wall_s"] >= network else "network",
                wall_over_bound=at_latency["wall_s"] / bound,
                cpu_ms_per_call_at_0ms=at_zero["cpu_ms_per_call"],
            )
            rows.append(at_latency)
    finally:
        for proc in (slow, fast, server):
            proc.terminate()
            proc.wait(timeout=10)
    print(
        f"plain boto3 loop (1 account, sequential): {plain['calls']} calls, "
        f"{plain['cpu_ms_per_call']:.2f} ms CPU per call"
    )
    header = (
        f"{'engine':>8} {'buckets':>7} {'calls':>6} {'wall s':>7} {'b/s':>6} "
        f"{'@0ms s':>7} {'net s':>6} {'bound s':>7} {'limit':>7} {'x bound':>7} "
        f"{'CPU ms/call':>11} {'RSS MiB':>7}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['engine']:>8} {r['buckets']:>7} {r['api_calls']:>6} {r['wall_s']:>7.1f} "
            f"{r['buckets_per_s']:>6.0f} {r['wall_at_0ms_s']:>7.1f} {r['network_bound_s']:>6.1f} "
            f"{r['bound_s']:>7.1f} {r['limited_by']:>7} {r['wall_over_bound']:>7.2f} "
            f"{r['cpu_ms_per_call_at_0ms']:>11.2f} {r['peak_rss_mib']:>7.0f}"
        )
    for r in rows:
        if r["setup_s"] > 0.05:
            print(f"{r['engine']}: cluster start-up {r['setup_s']:.1f} s (not in wall)")
    print(
        "targets: wall within 1.5x of bound; driver peak RSS under 400 MiB (RSS is the peak so "
        f"far, engines in order); CPU per call at or below the plain loop's "
        f"{plain['cpu_ms_per_call']:.2f} ms"
    )
    return rows


if __name__ == "__main__":
    main()
