"""Benchmark a scan against a moto server on 127.0.0.1.

Starts ``moto.server`` in a child process on its own free port (stopped at the end), creates N
buckets with a mix of configurations, scans them with the mission profile and prints wall time,
buckets per second, API calls per bucket by operation, retries and peak RSS. ``--latency-ms``
sleeps before every request (a ``before-send`` hook) to imitate real AWS round trips; the figure to
compare against is ``calls x latency / max_workers``.

    python bench/scan_bench.py --buckets 1000 --latency-ms 30
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from s3compliance.params import Params
from s3compliance.scan.aws import Clients
from s3compliance.scan.run import run_scan
from s3compliance.testing.emulation import MetricsEmulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("moto server did not start within 30 s")


def seed_bucket(s3: Any, name: str, i: int, metrics: bool = True) -> None:
    """The i-th bucket of a bench fleet: every second versioned, two in three encrypted, and
    (with ``metrics``) every fifth with whole-bucket request metrics."""
    s3.create_bucket(Bucket=name)
    if i % 2:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if i % 3:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
    if metrics and i % 5 == 0:
        s3.put_bucket_metrics_configuration(
            Bucket=name, Id="EntireBucket", MetricsConfiguration={"Id": "EntireBucket"}
        )


def seed(session: boto3.Session, endpoint: str, count: int, workers: int) -> None:
    s3 = session.client("s3", endpoint_url=endpoint)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: seed_bucket(s3, f"bench-{i:05d}", i), range(count)))


PLAIN_CALLS = (
    "get_bucket_versioning",
    "get_bucket_encryption",
    "get_bucket_lifecycle_configuration",
    "get_bucket_policy",
    "get_bucket_policy_status",
    "list_bucket_metrics_configurations",
)


def plain_loop_cpu_ms(endpoint: str, limit: int) -> float:
    """CPU ms per call of a plain sequential boto3 loop (client creation included), no latency."""
    cpu0 = time.process_time()
    session = boto3.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]][:limit]
    calls = 1
    for name in names:
        for method in PLAIN_CALLS:
            calls += 1
            with contextlib.suppress(s3.exceptions.ClientError):
                getattr(s3, method)(Bucket=name)
    return 1000 * (time.process_time() - cpu0) / calls


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buckets", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument("--profile", default="mission", help="check profile to scan with")
    args = parser.parse_args(argv)

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = start_server(port)
    try:
        session = boto3.Session(
            aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
        )
        if args.latency_ms:
            delay = args.latency_ms / 1000

            def latency(**_: Any) -> None:
                time.sleep(delay)

            session.events.register_first("before-send", latency)
        MetricsEmulator().install(session)  # moto has no metrics API; emulated client-side
        seed(session, endpoint, args.buckets, args.max_workers)

        params = Params(max_workers=args.max_workers, page_size=10000, profile=args.profile)
        clients = Clients(session, endpoint_url=endpoint, max_workers=args.max_workers)
        cpu0 = time.process_time()
        started = time.perf_counter()
        result = run_scan(params, clients=clients, progress=False)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        plain = plain_loop_cpu_ms(endpoint, 200)
    finally:
        server.terminate()
        server.wait(timeout=10)

    scanned = len(result.buckets)
    calls = sum(result.api_calls.values())
    per_bucket = {
        op: n / scanned
        for op, n in result.api_calls.items()
        if op not in {"ListBuckets", "sts:GetCallerIdentity", "s3control:GetPublicAccessBlock"}
    }
    figures = {
        "buckets": scanned,
        "max_workers": args.max_workers,
        "profile": args.profile,
        "latency_ms": args.latency_ms,
        "wall_s": round(wall, 2),
        "buckets_per_s": round(scanned / wall, 1),
        "api_calls": calls,
        "api_calls_per_bucket": round(sum(per_bucket.values()), 3),
        "retries": result.retries,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_ms_per_call": round(1000 * cpu / calls, 2),
        "plain_loop_cpu_ms": round(plain, 2),
    }
    if args.latency_ms:
        ideal = calls * args.latency_ms / 1000 / args.max_workers
        figures["ideal_s"] = round(ideal, 2)
        figures["wall_over_ideal"] = round(wall / ideal, 2)
    for key, value in figures.items():
        print(f"{key:>22}: {value}")
    print("  calls per bucket by operation:")
    for op, n in sorted(per_bucket.items()):
        print(f"    {op:<34} {n:.3f}")
    return figures


if __name__ == "__main__":
    main()
