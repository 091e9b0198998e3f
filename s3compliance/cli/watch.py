"""``watch``: S3 change events on an SQS queue turned into delta runs, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3compliance.cli.common import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from s3compliance.watch.loop import Published

DEMO_PARAMS = Path("params/demo.yaml")


def register(sub: Any) -> None:
    """Add this group's commands to the parser's subcommands."""
    watch = sub.add_parser(
        "watch",
        help="turn S3 change events (EventBridge -> SQS) into delta runs, seconds after a change",
    )
    watch.add_argument("--params", help="YAML parameters file (required unless --demo)")
    watch.add_argument(
        "--queue-url", help="the SQS queue the EventBridge rule delivers to (or watch_queue_url)"
    )
    watch.add_argument("--output-dir", help="folder that receives the delta runs")
    watch.add_argument("--endpoint-url", help="AWS-compatible endpoint (moto server, LocalStack)")
    watch.add_argument(
        "--debounce",
        type=float,
        metavar="SECONDS",
        help="changes to one bucket this close together are one rescan (or watch_debounce_s: 5)",
    )
    watch.add_argument(
        "--demo",
        action="store_true",
        help="on the embedded demo account: make a bucket public, print the delta run, exit",
    )


def _stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT finish the batch in hand, publish it, and end the loop (exit 0)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())


def _watch(args: argparse.Namespace) -> int:
    if args.demo:
        return _watch_demo(args)
    if not args.params:
        print("s3compliance: bad arguments: watch needs --params (or --demo)", file=sys.stderr)
        return EXIT_USAGE
    from s3compliance.params import load_params
    from s3compliance.scan.aws import Clients, make_session
    from s3compliance.scan.retry import RetryPolicy
    from s3compliance.watch.loop import Watcher

    overrides = {"output_dir": args.output_dir} if args.output_dir else {}
    params = load_params(args.params, endpoint_url=args.endpoint_url, **overrides)
    queue_url = args.queue_url or params.watch_queue_url
    if not queue_url:
        print(
            "s3compliance: bad arguments: no queue: give --queue-url or set watch_queue_url",
            file=sys.stderr,
        )
        return EXIT_USAGE
    debounce = params.watch_debounce_s if args.debounce is None else args.debounce
    clients = Clients(make_session(params.aws_profile), params.endpoint_url, params.max_workers)
    retry = RetryPolicy(params.retry_attempts, params.retry_max_wait_s)
    # one account: the caller's; an organization: the accounts its scan reaches decide
    accounts = None if params.multi_account else {clients.account_id(retry)}
    loop = Watcher(params, queue_url, clients, debounce_s=debounce, accounts=accounts)
    stop = threading.Event()
    _stop_on_signals(stop)
    print(f"Watching {queue_url} (debounce {debounce:g} s): SIGTERM or Ctrl-C stops")
    sys.stdout.flush()
    loop.run(stop)
    print(f"Stopped. {len(loop.malformed)} malformed message(s) left for the dead-letter queue.")
    return EXIT_OK


def _watch_demo(args: argparse.Namespace) -> int:
    """The loop on the embedded account: a full run as the base, then a bucket made public and
    its event injected (testing support), and the delta run that answers it."""
    from s3compliance.outputs.notebook import require_demo_extra

    require_demo_extra()
    from s3compliance.outputs import history
    from s3compliance.outputs.report import write_report
    from s3compliance.scan.aws import Clients
    from s3compliance.scan.run import run_scan
    from s3compliance.testing.demo import demo_account, demo_params
    from s3compliance.testing.watch_demo import QUEUE_NAME, make_public
    from s3compliance.watch.loop import Watcher

    path = args.params or (DEMO_PARAMS if DEMO_PARAMS.exists() else None)
    params = demo_params(path, output_dir=args.output_dir)
    with demo_account() as session:
        clients = Clients(session, endpoint_url=None, max_workers=params.max_workers)
        base = write_report(run_scan(params, clients=clients, progress=False))
        print(f"Full run (the base): {base}")
        queue = session.client("sqs", region_name="us-east-1").create_queue(QueueName=QUEUE_NAME)
        debounce = min(params.watch_debounce_s if args.debounce is None else args.debounce, 1.0)
        loop = Watcher(params, queue["QueueUrl"], clients, debounce_s=debounce)
        stop = threading.Event()
        _stop_on_signals(stop)
        change = threading.Timer(1.0, make_public, (session, queue["QueueUrl"]))
        change.start()
        print("Watching the demo queue; making demo-compliant-01 public...")

        def told(published: Published) -> None:
            print(published.line())
            changed = history.changes(current=published.folder.name, output_dir=params.output_dir)
            for row in changed[changed["kind"].isin(["new", "regressed"])].itertuples():
                print(f"  {row.kind}: {row.severity} {row.check_id} on {row.bucket}")
            stop.set()

        loop.run(stop, max_wait_s=1, told=told)
        change.join()
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"watch": _watch}
