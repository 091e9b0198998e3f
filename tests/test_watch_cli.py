"""``s3compliance watch``: the demo, bad arguments, an unreadable queue, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

from s3compliance.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main


def test_watch_demo_makes_a_bucket_public_and_prints_the_delta(tmp_path, capsys) -> None:
    out = tmp_path / "output"
    assert main(["watch", "--demo", "--output-dir", str(out)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "delta " in text and "1 event(s), 1 bucket(s), 1 new, 0 resolved" in text
    assert "  new: critical public_access on demo-compliant-01" in text
    state = json.loads((out / "latest-state").read_text())
    assert state["kind"] == "delta"
    meta = json.loads((out / state["run_id"] / "run.json").read_text())
    assert meta["buckets"] == {"123456789012": ["demo-compliant-01"]}
    assert meta["events"][0]["time"].endswith("Z")


def test_watch_needs_a_queue(capsys) -> None:
    assert main(["watch", "--params", "x.yaml"]) == EXIT_USAGE
    assert "watch needs --params and --queue-url" in capsys.readouterr().err


def _params(tmp_path: Path) -> str:
    path = tmp_path / "watch.yaml"
    path.write_text(f"output_dir: {tmp_path / 'out'}\nretry_attempts: 1\n")
    return str(path)


def test_an_unreadable_queue_is_exit_1_in_one_line(moto_server, server_session, tmp_path, capsys):
    url = f"{moto_server}/123456789012/no-such-queue"
    code = main(
        ["watch", "--params", _params(tmp_path), "--queue-url", url, "--endpoint-url", moto_server]
    )
    assert code == EXIT_FAILURE
    err = capsys.readouterr().err
    assert err.startswith("s3compliance: queue unreadable: ") and err.count("\n") == 1


def test_sigterm_stops_the_watcher_cleanly(moto_server, server_session, tmp_path, capsys) -> None:
    """A real SIGTERM to this process while the loop long-polls: the loop ends, exit 0."""
    sqs = server_session.client("sqs", endpoint_url=moto_server)
    url = sqs.create_queue(QueueName="changes")["QueueUrl"]
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        args = ["--params", _params(tmp_path), "--queue-url", url, "--endpoint-url", moto_server]
        code = main(["watch", *args])
    finally:
        timer.join()
        for sig, handler in before.items():
            signal.signal(sig, handler)
    assert code == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(f"Watching {url} (debounce 5 s)")
    assert "Stopped. 0 malformed message(s) left for the dead-letter queue." in out
