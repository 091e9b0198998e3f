"""Benchmark the evidence of a run: sealing (manifest + signature), verifying, archiving.

Builds a run folder as large as a nightly organization run's (``--mib`` of findings files plus
the usual small ones, incompressible bytes), then times, through the real code:

* seal: hashing every file and writing + signing ``manifest.json`` (Ed25519 file key), i.e. what
  publication adds to a run;
* verify: ``verify`` of an output folder of ``--runs`` such runs (every file re-hashed, the
  chain checked);
* archive: every file of one run to a write-once bucket on moto (in-process), with the API calls
  per file (the bound: one ``HeadObject`` and one ``PutObject``; a re-archive only the heads).

Hashing is bounded by the disk and SHA-256 (~0.5-1 GB/s on this machine); the bound printed is
200 MiB/s, so that a 1 GiB run seals in seconds, not minutes.

    python bench/evidence_bench.py --mib 256 --runs 5
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

BOUND_MIB_S = 200
BOUND_CALLS_PER_FILE = 2


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def verdict(rate: float) -> str:
    return "ok" if rate >= BOUND_MIB_S else "SLOW"


def fill(folder: Path, mib: int) -> None:
    """The files of a large run: the findings four ways, and a dozen small ones."""
    chunk = os.urandom(1 << 20)
    for name, share in (("findings.json", 4), ("findings.parquet", 2), ("findings.ocsf.json", 4)):
        with (folder / name).open("wb") as fh:
            for _ in range(max(1, mib * share // 10)):
                fh.write(chunk)
    for i in range(12):
        (folder / f"chart-{i}.png").write_bytes(os.urandom(50_000))
    (folder / "run.json").write_text('{"parameters_hash": "bench", "exceptions_sha256": null}')


def main(argv: list[str] | None = None) -> int:
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from moto import mock_aws

    from s3compliance.actions.archive import bucket_state
    from s3compliance.outputs.evidence_archive import archive_folder
    from s3compliance.outputs.runfolder import staged_run
    from s3compliance.outputs.signing import FileSigner
    from s3compliance.outputs.verify import Expected, verify_local
    from s3compliance.params import Params
    from s3compliance.scan.aws import Clients
    from s3compliance.scan.retry import RetryPolicy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="size of one run's files")
    parser.add_argument("--runs", type=int, default=5, help="runs in the verified output folder")
    args = parser.parse_args(argv)
    key = ed25519.Ed25519PrivateKey.generate()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        seal_seconds, size = [], 0
        for i in range(args.runs):
            with staged_run(out, f"run{i:03d}", FileSigner(key)) as run:
                fill(run.staging, args.mib)
                size = sum(p.stat().st_size for p in run.staging.iterdir())
                started = time.perf_counter()
            seal_seconds.append(time.perf_counter() - started)  # the publish: seal + rename
        mib = size / (1 << 20)
        seal = min(seal_seconds)
        print(f"one run: {mib:.0f} MiB in 16 files; {args.runs} runs")
        print(f"{'step':8} {'seconds':>8} {'MiB/s':>8} {'bound':>6}")
        rate = mib / seal
        ok &= rate >= BOUND_MIB_S
        print(f"{'seal':8} {seal:8.2f} {rate:8.0f} {BOUND_MIB_S:6} {verdict(rate)}")
        started = time.perf_counter()
        result = verify_local(out, Expected(public_key=key.public_key(), describe="bench"))
        seconds = time.perf_counter() - started
        assert result.exit_code == 0, result.lines()
        rate = mib * args.runs / seconds
        ok &= rate >= BOUND_MIB_S
        print(f"{'verify':8} {seconds:8.2f} {rate:8.0f} {BOUND_MIB_S:6} {verdict(rate)}")
        with mock_aws():
            clients = Clients()
            s3 = clients.s3()
            s3.create_bucket(Bucket="bench-archive", ObjectLockEnabledForBucket=True)
            assert bucket_state(s3, "bench-archive", RetryPolicy()).object_lock
            params = Params(evidence_archive_allow_mutable=True)  # moto: no default encryption
            files = 17  # 16 files + the manifest; the signature makes 18
            for label in ("archive", "again"):
                before = clients.recorder.total
                cpu, started = time.process_time(), time.perf_counter()
                outcome = archive_folder(out / "run000", "s3://bench-archive/e", params, s3)[0]
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                calls = clients.recorder.total - before - 4  # the four bucket settings
                per_file = calls / (files + 1)
                bound = BOUND_CALLS_PER_FILE if label == "archive" else 1
                ok &= outcome.complete and per_file <= bound
                print(
                    f"{label:8} {seconds:8.2f} {'':>8} {'':>6} {calls} calls ({per_file:.1f}/file,"
                    f" bound {bound}), CPU {cpu / calls * 1000:.1f} ms/call (moto's included)"
                )
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
