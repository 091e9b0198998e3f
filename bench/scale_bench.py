"""The whole path at organization scale: discovery, checks, publish, report, history.

For each total bucket count (spread over 20 accounts of an account list) and each engine, starts
the canned S3/STS endpoint (``bench/canned_s3.py``, a child process: moto answers a few hundred
requests a second and would be what this measures), runs ``s3compliance run`` against it (the
report notebook: the scan runs in its kernel, Dask workers in their own processes), then times
the history queries on the run folder. Each ``run`` is measured from a wrapper process of its
own, so peak RSS is that run's largest process (the kernel, or a Dask worker).

Prints per size and engine: scan wall (run.json's started/finished) and whole-run wall, API calls
per second and per core, process-tree CPU per call, largest process peak RSS, report.html,
findings.json and Parquet sizes, history query times; then the bounds of issue 27.

    python bench/scale_bench.py --sizes 1000 10000 [--engines threads dask]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scan_bench import free_port  # noqa: E402

ACCOUNTS = [f"{n:012d}" for n in range(100000000001, 100000000021)]  # 20 accounts
CORES = os.cpu_count() or 1
MIB = 1024 * 1024


def start_canned(per_account: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "canned_s3.py"),
            "--port",
            str(port),
            "--buckets-per-account",
            str(per_account),
        ]
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/__stats", timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the canned endpoint did not start")


def requests_served(url: str) -> int:
    return int(json.loads(urllib.request.urlopen(f"{url}/__stats").read())["requests"])


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def botocore_ceiling(calls: int = 3000) -> dict[str, float | None]:
    """What one Python process can ask of the canned endpoint with boto3 and nothing else: a
    single thread calling ``GetBucketVersioning`` in a loop. Its CPU per call is botocore's own
    cost (build, sign, send, parse); the threads engine runs in one process under one GIL, so
    ``1000 / cpu_ms`` is the most calls a second it could make on any number of cores."""
    import boto3
    from botocore.config import Config

    server, url = start_canned(calls)
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="AKIA000000000000",
            aws_secret_access_key="bench",
            config=Config(s3={"addressing_style": "path"}),
        )
        names = [f"b000000000000-{n:07d}" for n in range(calls)]
        s3.get_bucket_versioning(Bucket=names[0])  # the first call loads the models
        cpu, start = time.process_time(), time.perf_counter()
        for name in names:
            s3.get_bucket_versioning(Bucket=name)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        served = process_cpu(server.pid)
    finally:
        server.terminate()
        server.wait()
    return {
        "calls_per_s": calls / wall,
        "cpu_ms_per_call": 1000 * cpu / calls,
        "endpoint_ms": None if served is None else 1000 * served / calls,
    }


def measured_run(params: Path) -> dict[str, Any]:
    """``s3compliance run`` in a wrapper process: its wall, CPU and largest process's RSS."""
    code = (
        "import json, resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        f"rc = subprocess.run([sys.executable, '-m', 's3compliance', 'run', '--params', "
        f"{str(params)!r}], stdout=subprocess.DEVNULL).returncode\n"
        "wall = time.perf_counter() - start\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'rc': rc, 'wall': wall, 'cpu': u.ru_utime + u.ru_stime,"
        " 'rss_kib': u.ru_maxrss}))\n"
    )
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIA000000000000",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TQDM_DISABLE": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def history_times(output_dir: Path) -> dict[str, float]:
    from s3compliance.outputs import history

    times = {}
    for name, query in (
        ("changes", lambda: history.changes(output_dir=output_dir)),
        ("open_findings", lambda: history.open_findings(output_dir)),
        ("trend", lambda: history.trend(output_dir=output_dir)),
    ):
        start = time.perf_counter()
        query()
        times[name] = time.perf_counter() - start
    return times


def report_open_seconds(report: Path) -> float | None:
    """Headless Chromium: from navigation to every interactive table of ``report.html`` drawn
    (each itables table turned into a DataTable); None without Chromium or Playwright."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    ready = (
        "() => { const all = document.querySelectorAll('table[id^=\"itables_\"]').length;"
        " return all > 0 && document.querySelectorAll('table.dataTable').length >= all; }"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page()
            start = time.perf_counter()
            page.goto(report.as_uri(), wait_until="load", timeout=120_000)
            page.wait_for_function(ready, timeout=120_000)
            return time.perf_counter() - start
        finally:
            browser.close()


def one(size: int, engine: str, workdir: Path) -> dict[str, Any]:
    per_account = size // len(ACCOUNTS)
    server, url = start_canned(per_account)
    try:
        out = workdir / f"{size}-{engine}"
        params = workdir / f"{size}-{engine}.yaml"
        params.write_text(
            json.dumps(
                {
                    "accounts": ACCOUNTS,
                    "role_name": "bench",
                    "engine": engine,
                    "regions": ["us-east-1"],
                    "endpoint_url": url,
                    "output_dir": str(out),
                    "run_id": "run",
                    "run_date": "2026-12-01",
                    "max_workers": 32,
                }
            )
        )
        before = requests_served(url)
        run = measured_run(params)
        calls = requests_served(url) - before
        served = process_cpu(server.pid)
    finally:
        server.terminate()
        server.wait()
    folder = out / "run"
    meta = json.loads((folder / "run.json").read_text())
    from datetime import datetime

    scan_s = (
        datetime.fromisoformat(meta["finished_at"].replace("Z", "+00:00"))
        - datetime.fromisoformat(meta["started_at"].replace("Z", "+00:00"))
    ).total_seconds()
    parquet = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    return {
        "size": per_account * len(ACCOUNTS),
        "engine": engine,
        "rc": run["rc"],
        "scan_s": scan_s,
        "wall_s": run["wall"],
        "calls": calls,
        "calls_per_s_core": calls / max(scan_s, 1e-9) / CORES,
        "cpu_ms_per_call": 1000 * run["cpu"] / max(calls, 1),
        "endpoint_ms_per_call": None if served is None else 1000 * served / max(calls, 1),
        "rss_mib": run["rss_kib"] / 1024,
        "report_mib": (folder / "report.html").stat().st_size / MIB,
        "report_open_s": report_open_seconds(folder / "report.html"),
        "json_mib": (folder / "findings.json").stat().st_size / MIB,
        "parquet_mib": parquet / MIB,
        **{f"q_{k}": v for k, v in history_times(out).items()},
    }


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--engines", nargs="+", default=["threads", "dask"])
    parser.add_argument(
        "--keep",
        type=Path,
        help="write the run folders here and keep them (default: a temporary folder)",
    )
    args = parser.parse_args(argv)
    rows = []
    header = (
        f"{'buckets':>8} {'engine':>7} {'scan s':>7} {'wall s':>7} {'calls':>7} "
        f"{'calls/s/core':>12} {'CPU ms/call':>11} {'peak RSS MiB':>12} {'report MiB':>10} "
        f"{'json MiB':>8} {'parquet MiB':>11} {'changes s':>9} {'open s':>6} {'trend s':>7} "
        f"{'html s':>6} {'endpoint ms/call':>16}"
    )
    print(f"{CORES} cores; 20 accounts; canned S3 endpoint (bench/canned_s3.py)")
    ceiling = botocore_ceiling() if "threads" in args.engines else None
    if ceiling is not None:
        print(
            f"botocore alone, one thread: {ceiling['calls_per_s']:.0f} calls/s, "
            f"{ceiling['cpu_ms_per_call']:.2f} ms client CPU per call, endpoint "
            f"{_figure(ceiling['endpoint_ms'])} ms CPU per call"
        )
    print(header)
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            for engine in args.engines:
                r = one(size, engine, where)
                rows.append(r)
                print(
                    f"{r['size']:>8} {r['engine']:>7} {r['scan_s']:>7.1f} {r['wall_s']:>7.1f} "
                    f"{r['calls']:>7} {r['calls_per_s_core']:>12.0f} {r['cpu_ms_per_call']:>11.2f} "
                    f"{r['rss_mib']:>12.0f} {r['report_mib']:>10.1f} {r['json_mib']:>8.1f} "
                    f"{r['parquet_mib']:>11.1f} {r['q_changes']:>9.2f} "
                    f"{r['q_open_findings']:>6.2f} {r['q_trend']:>7.2f} "
                    f"{_figure(r['report_open_s']):>6} {_figure(r['endpoint_ms_per_call']):>16}",
                    flush=True,
                )
    ok = True
    for r in rows:
        if r["rc"] not in (0, 3):
            print(f"{r['size']} {r['engine']}: s3compliance run exited {r['rc']}")
            ok = False
    by = {(r["size"], r["engine"]): r for r in rows}
    for r in rows:
        if r["engine"] == "threads":
            good = r["calls_per_s_core"] >= 600
            ok &= good
            print(
                f"threads at {r['size']}: {r['calls_per_s_core']:.0f} calls/s per core "
                f"(bound >= 600): {'ok' if good else 'UNDER'}"
            )
            if ceiling is not None and not good:
                print(
                    f"  one process, one GIL: botocore alone reaches {ceiling['calls_per_s']:.0f}"
                    f" calls/s ({1000 / ceiling['cpu_ms_per_call']:.0f} per CPU-second) here; "
                    f"the bound asks {600 * CORES} calls/s of the scan's process"
                )
        good = r["report_mib"] < 25
        print(
            f"{r['engine']} at {r['size']}: report.html {r['report_mib']:.1f} MiB (bound < 25): "
            f"{'ok' if good else 'OVER'}"
        )
        ok &= good
        opened = r["report_open_s"]
        if opened is not None:
            good = opened < 5
            ok &= good
            print(
                f"{r['engine']} at {r['size']}: report.html interactive in Chromium in "
                f"{opened:.1f} s (bound < 5): {'ok' if good else 'OVER'}"
            )
        if r["size"] >= 100_000:
            small = by.get((r["size"] // 10, r["engine"]))
            good = r["rss_mib"] < 1024 and (small is None or r["rss_mib"] <= 1.3 * small["rss_mib"])
            ok &= good
            print(
                f"{r['engine']} at {r['size']}: peak RSS {r['rss_mib']:.0f} MiB (bound < 1024 and "
                f"<= 1.3x the 10x smaller run): {'ok' if good else 'OVER'}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    sys.exit(main())
