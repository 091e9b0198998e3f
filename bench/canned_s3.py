"""A canned-response S3/STS endpoint on 127.0.0.1, fast enough not to be a scan's bottleneck.

moto answers a few hundred requests a second on two cores, so a scale benchmark against it
measures moto. This server answers what the ``mission`` scan asks, from templates, with no state
beyond the bucket count: ``ListBuckets`` (paginated, ``MaxBuckets`` and ``ContinuationToken``
honoured, ``BucketRegion`` filter), the six documents the ``mission`` checks read, the account's
Block Public Access setting, and STS ``AssumeRole``/``GetCallerIdentity`` for an account list (the
access key carries the account id). Every third bucket has versioning suspended and every fifth
no lifecycle rule, so the scan finds work to report. Anything else is 501 NotImplemented, logged.

    python bench/canned_s3.py --port 5100 --buckets-per-account 5000
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CREATED = "2026-01-01T00:00:00.000Z"
OWN_ACCOUNT = "000000000000"
REGION = "us-east-1"

VERSIONING = "<VersioningConfiguration><Status>{status}</Status></VersioningConfiguration>"
ENCRYPTION = (
    "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
    "<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
    "</ServerSideEncryptionConfiguration>"
)
LIFECYCLE = (
    "<LifecycleConfiguration><Rule><ID>expire</ID><Filter></Filter><Status>Enabled</Status>"
    "<Expiration><Days>30</Days></Expiration></Rule></LifecycleConfiguration>"
)
METRICS = (
    "<ListMetricsConfigurationsResult><IsTruncated>false</IsTruncated><MetricsConfiguration>"
    "<Id>EntireBucket</Id></MetricsConfiguration></ListMetricsConfigurationsResult>"
)
BPA = (
    "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>"
    "<IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy>"
    "<RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
)
ERROR = "<Error><Code>{code}</Code><Message>{code}</Message></Error>"
STS = "https://sts.amazonaws.com/doc/2011-06-15/"


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.unknown: dict[str, int] = {}


def make_handler(per_account: int, stats: Stats) -> type[BaseHTTPRequestHandler]:
    class Canned(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes; with Nagle on, the body waits for the client's
        # delayed ACK of the headers (40 ms on Linux): every request would take 40 ms.
        disable_nagle_algorithm = True

        def log_message(self, *_: object) -> None:
            return

        def _send(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _account(self) -> str:
            found = re.search(
                r"Credential=([A-Z]{4})(\d{12})", self.headers.get("Authorization", "")
            )
            return found.group(2) if found else OWN_ACCOUNT

        def do_GET(self) -> None:
            with stats.lock:
                stats.requests += 1
            url = urlparse(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            if url.path == "/__stats":
                self._send(200, json.dumps({"requests": stats.requests, "unknown": stats.unknown}))
                return
            if url.path.startswith("/v20180820/configuration/publicAccessBlock"):
                self._send(200, BPA)
                return
            bucket = url.path.strip("/").split("/")[0]
            if not bucket:
                self._list(query)
                return
            index = int(bucket.rsplit("-", 1)[1])
            if "versioning" in query:
                status = "Suspended" if index % 3 == 0 else "Enabled"
                self._send(200, VERSIONING.format(status=status))
            elif "encryption" in query:
                self._send(200, ENCRYPTION)
            elif "lifecycle" in query:
                if index % 5 == 0:
                    self._send(404, ERROR.format(code="NoSuchLifecycleConfiguration"))
                else:
                    self._send(200, LIFECYCLE)
            elif "policy" in query or "policyStatus" in query:
                self._send(404, ERROR.format(code="NoSuchBucketPolicy"))
            elif "metrics" in query:
                self._send(200, METRICS)
            elif "publicAccessBlock" in query:
                self._send(200, BPA)
            else:
                self._unknown(url.path + "?" + url.query)

        def _list(self, query: dict[str, list[str]]) -> None:
            account = self._account()
            size = int(query.get("max-buckets", ["10000"])[0])
            start = int(query.get("continuation-token", ["0"])[0])
            end = min(per_account, start + size)
            items = "".join(
                f"<Bucket><Name>b{account}-{n:07d}</Name><CreationDate>{CREATED}</CreationDate>"
                f"<BucketRegion>{REGION}</BucketRegion></Bucket>"
                for n in range(start, end)
            )
            token = f"<ContinuationToken>{end}</ContinuationToken>" if end < per_account else ""
            self._send(
                200,
                "<ListAllMyBucketsResult><Owner><ID>o</ID></Owner>"
                f"<Buckets>{items}</Buckets>{token}</ListAllMyBucketsResult>",
            )

        def _unknown(self, what: str) -> None:
            with stats.lock:
                stats.unknown[what.split("?")[-1][:40]] = stats.unknown.get(what, 0) + 1
            print(f"canned_s3: not implemented: {self.command} {what}", file=sys.stderr)
            self._send(501, ERROR.format(code="NotImplemented"))

        def do_POST(self) -> None:
            with stats.lock:
                stats.requests += 1
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            action = form.get("Action", [""])[0]
            if action == "AssumeRole":
                account = form["RoleArn"][0].split(":")[4]
                self._send(
                    200,
                    f'<AssumeRoleResponse xmlns="{STS}"><AssumeRoleResult><Credentials>'
                    f"<AccessKeyId>ASIA{account}</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
                    "<SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>"
                    "</Credentials><AssumedRoleUser><AssumedRoleId>AROA:s</AssumedRoleId>"
                    f"<Arn>arn:aws:sts::{account}:assumed-role/r/s</Arn></AssumedRoleUser>"
                    "</AssumeRoleResult></AssumeRoleResponse>",
                )
            elif action == "GetCallerIdentity":
                account = self._account()
                self._send(
                    200,
                    f'<GetCallerIdentityResponse xmlns="{STS}"><GetCallerIdentityResult>'
                    f"<Arn>arn:aws:iam::{account}:user/bench</Arn><UserId>AIDA</UserId>"
                    f"<Account>{account}</Account></GetCallerIdentityResult>"
                    "</GetCallerIdentityResponse>",
                )
            else:
                self._unknown(f"POST {action}")

    return Canned


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--buckets-per-account", type=int, required=True)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(
        ("127.0.0.1", args.port), make_handler(args.buckets_per_account, Stats())
    )
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
