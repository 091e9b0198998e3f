"""``s3compliance watch``: the demo, bad arguments, an unreadable queue, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

from s3compliance.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main
from s3compliance.watch import queue_arn


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


def test_watch_needs_parameters_and_a_queue(tmp_path, capsys) -> None:
    assert main(["watch"]) == EXIT_USAGE
    assert "watch needs --params (or --demo)" in capsys.readouterr().err
    assert main(["watch", "--params", _params(tmp_path)]) == EXIT_USAGE
    assert "no queue: give --queue-url or set watch_queue_url" in capsys.readouterr().err


def test_iam_policy_grants_the_watcher_its_queue_only(tmp_path, capsys) -> None:
    path = tmp_path / "p.yaml"
    url = "https://sqs.eu-west-1.amazonaws.com/111122223333/s3-changes"
    path.write_text(f"watch_queue_url: {url}\n")
    assert main(["iam-policy", "--params", str(path)]) == EXIT_OK
    statements = json.loads(capsys.readouterr().out)["Statement"]
    watch = next(s for s in statements if s["Sid"] == "S3ComplianceWatchQueue")
    assert watch["Resource"] == "arn:aws:sqs:eu-west-1:111122223333:s3-changes"
    assert watch["Action"] == [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ]
    assert queue_arn("http://127.0.0.1:5000/123456789012/q") == "*"
    assert main(["iam-policy"]) == EXIT_OK
    assert "S3ComplianceWatchQueue" not in capsys.readouterr().out


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
    # the queue from the parameters, the debounce from the command line
    """A real SIGTERM to this process while the loop long-polls: the loop ends, exit 0."""
    sqs = server_session.client("sqs", endpoint_url=moto_server)
    url = sqs.create_queue(QueueName="changes")["QueueUrl"]
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def terminate_once_handled() -> None:  # never before the watcher's handler is installed
        deadline = time.monotonic() + 60
        while signal.getsignal(signal.SIGTERM) is before[signal.SIGTERM]:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.5)  # into the long poll
        os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Thread(target=terminate_once_handled)
    timer.start()
    try:
        path = Path(_params(tmp_path))
        path.write_text(path.read_text() + f"watch_queue_url: {url}\n")
        args = ["--params", str(path), "--debounce", "2", "--endpoint-url", moto_server]
        code = main(["watch", *args])
    finally:
        timer.join()
        for sig, handler in before.items():
            signal.signal(sig, handler)
    assert code == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(f"Watching {url} (debounce 2 s)")
    assert "Stopped. 0 malformed message(s) left for the dead-letter queue." in out
