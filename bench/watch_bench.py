"""Benchmark the change watcher: events at a steady rate, time from each to its delta run.

A moto account (in-process) of B buckets is scanned in full; then a producer thread changes a
random bucket (its versioning, with boto3) and puts the CloudTrail-shaped event on an SQS queue,
N times at R events a second, while the watcher (``s3compliance.watch.loop.Watcher``) turns them
into delta runs. Prints p50 and p95 of the time from each event being sent to the publication of
the delta run that covers it, the rescans per event, the deltas published, wall time and peak
RSS, against the bound: p95 within the debounce plus 10 s.

    python bench/watch_bench.py --events 1000 --buckets 200 --rate 5 --debounce 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3

from s3compliance.outputs.report import write_report
from s3compliance.params import Params
from s3compliance.scan.aws import Clients
from s3compliance.scan.run import run_scan
from s3compliance.testing.watch_demo import cloudtrail_event
from s3compliance.watch.loop import Published, Watcher

BOUND_EXTRA_S = 10.0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--buckets", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="events per second")
    parser.add_argument("--debounce", type=float, default=1.0, help="seconds")
    args = parser.parse_args(argv)
    from moto import mock_aws

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    work = Path(tempfile.mkdtemp(prefix="watch-bench-"))
    rng = random.Random(5)
    mock = mock_aws()
    mock.start()
    try:
        session = boto3.Session(region_name="us-east-1")
        s3, sqs = session.client("s3"), session.client("sqs")
        names = [f"bench-bucket-{n:04d}" for n in range(args.buckets)]
        for name in names:
            s3.create_bucket(Bucket=name)
        params = Params(
            output_dir=str(work), max_workers=8, checks=["versioning", "encryption", "lifecycle"]
        )
        clients = Clients(session, endpoint_url=None, max_workers=8)
        write_report(run_scan(params, clients=clients, progress=False), work, "base")
        queue = sqs.create_queue(QueueName="bench-changes")["QueueUrl"]
        account = session.client("sts").get_caller_identity()["Account"]
        sent: dict[str, float] = {}
        latencies: list[float] = []
        deltas: list[Published] = []
        done = threading.Event()

        def produce() -> None:
            start = time.monotonic()
            for n in range(args.events):
                time.sleep(max(0.0, start + n / args.rate - time.monotonic()))
                bucket = rng.choice(names)
                status = rng.choice(["Enabled", "Suspended"])
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
                event = cloudtrail_event(account, "us-east-1", "PutBucketVersioning", bucket)
                sent[event["detail"]["eventID"]] = time.monotonic()
                sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event))
            done.set()

        stop = threading.Event()
        loop = Watcher(params, queue, clients, debounce_s=args.debounce, accounts={account})

        def told(published: Published) -> None:
            now = time.monotonic()
            meta = json.loads((published.folder / "run.json").read_text())
            latencies.extend(now - sent[e["id"]] for e in meta["events"])
            deltas.append(published)
            if done.is_set() and len(latencies) >= args.events:
                stop.set()

        producer = threading.Thread(target=produce, name="producer")
        t0 = time.monotonic()
        producer.start()
        loop.run(stop, max_wait_s=1, told=told)
        producer.join()
        wall = time.monotonic() - t0
    finally:
        mock.stop()
        shutil.rmtree(work, ignore_errors=True)
    rescanned = sum(p.buckets for p in deltas)
    q = statistics.quantiles(latencies, n=20)
    p50, p95 = statistics.median(latencies), q[18]
    bound = args.debounce + BOUND_EXTRA_S
    print(
        f"{args.events} events over {args.buckets} buckets at {args.rate:g}/s, "
        f"debounce {args.debounce:g} s: {len(deltas)} delta runs, {rescanned} bucket rescans "
        f"({rescanned / args.events:.2f} per event), wall {wall:.1f} s"
    )
    print(
        f"event to publication: p50 {p50:.2f} s, p95 {p95:.2f} s (bound {bound:g} s): "
        f"{'ok' if p95 <= bound else 'OVER'}"
    )
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    return 0 if p95 <= bound else 1


if __name__ == "__main__":
    sys.exit(main())
