"""The scan: discover buckets, fetch their evidence once, run every enabled check on it.

Read-only by construction: the only AWS operations on this path are List/Get calls (a test records
every operation a scan makes and asserts it). One bucket's failure becomes ERROR findings for that
bucket; it never stops the run.
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from s3compliance.accepted.apply import apply_exceptions
from s3compliance.accepted.exceptions import ExceptionSet
from s3compliance.checks import (
    CATALOGUE,
    Check,
    Settings,
    Unreadable,
    documents_needed,
    select_checks,
)
from s3compliance.checks.documents import DOCUMENTS
from s3compliance.checks.frameworks import framework_summary
from s3compliance.params import Params
from s3compliance.scan.aws import Clients, error_code, make_session, partition_for_region
from s3compliance.scan.delta import Delta
from s3compliance.scan.discovery import discover_buckets
from s3compliance.scan.evidence import (
    BucketEvidence,
    Document,
    LocationCache,
    fetch_account_documents,
    fetch_evidence,
)
from s3compliance.scan.retry import RetryPolicy
from s3compliance.scan.spool import FINDING_COLUMNS, FindingSpool

with warnings.catch_warnings():
    # In a kernel without ipywidgets tqdm.auto warns, then falls back to the text bar: fine.
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm

log = logging.getLogger(__name__)

BUCKET_COLUMNS = [
    "account_id",
    "account_name",
    "bucket",
    "bucket_arn",
    "region",
    "created",
    "status",
    "violation_count",
    "violations",
    "error_count",
    "bucket_severity",
    "tags",
    "accepted_count",  # FAILs covered by an exception (not counted in violation_count)
]

#: One row per account of the run (a single-account scan has one): what the report's ``accounts``
#: section and the notebook's "Accounts" table show.
ACCOUNT_COLUMNS = [
    "account_id",
    "account_name",
    "ou_path",
    "status",
    "error_code",
    "reason",
    "total_buckets",
    "compliant_buckets",
    "non_compliant_buckets",
    "unknown_buckets",
    "high_severity_buckets",
    "accepted_buckets",
    "seconds",
    "api_calls",
    "retries",
    "org_id",  # the AWS Organization (o-...) when Organizations listed the account, else ""
]


def utc_now() -> str:
    """Now, UTC, to the second, as the report writes times (``2026-11-29T06:15:00Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ScanAborted(RuntimeError):
    """The scan could not start (e.g. ListBuckets denied); the message says why in one line."""


@dataclass
class ScanResult:
    """What a scan found, as the DataFrames of the findings contract, plus run statistics.

    The bucket findings are in :attr:`spool` (Parquet parts on disk): :attr:`findings` reads
    every one into memory (gigabytes at 100,000 buckets), :meth:`findings_of` the buckets or
    statuses asked for, :meth:`summary` counts them without reading the rows. The bucket rows,
    the account rows and the account-level findings are DataFrames (one row per bucket or
    account).
    """

    account_id: str
    regions: list[str]
    params: Params
    spool: FindingSpool
    buckets: pd.DataFrame
    account_findings: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=FINDING_COLUMNS)
    )
    retries: int = 0
    api_calls: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    accounts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ACCOUNT_COLUMNS))
    organization: bool = False  # more than the caller's own account was asked for
    started_at: str = field(default_factory=lambda: utc_now())  # when the scan started, UTC
    exceptions: ExceptionSet | None = None  # the accepted risks applied (docs: accepted risks)
    delta: Delta | None = None  # a delta run: the buckets it covered (None: a full run)
    #: Accounts whose bucket listing may be cut short (a full ListBuckets page without a
    #: continuation token, even at 10,000): the run is incomplete there.
    truncated_listings: tuple[str, ...] = ()
    _every: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)
    _counted: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def findings(self) -> pd.DataFrame:
        """Every bucket finding, evidence parsed. It reads the whole spool and keeps it (about
        2 KB a finding): the report, the publish and history never call it."""
        if self._every is None:
            self._every = self.spool.frame()
        return self._every

    @property
    def finding_count(self) -> int:
        """Bucket and account-level findings, counted without reading them."""
        return self.spool.count + len(self.account_findings)

    def findings_of(
        self,
        buckets: Collection[str] | None = None,
        statuses: Collection[str] | None = None,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """The bucket findings of ``buckets`` with ``statuses`` (None: all), reading only
        those rows (and ``columns``, default all) from the spool."""
        return self.spool.frame(columns, statuses, buckets)

    def bucket_checks(self) -> list[str]:
        """The bucket checks with findings in this run, in catalogue order (counted)."""
        found = set(self.spool.sql("SELECT DISTINCT check_id FROM findings")["check_id"])
        return [c for c in CATALOGUE if c in found]

    def by_part(
        self, buckets: Collection[str] | None = None, columns: list[str] | None = None
    ) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        """Each spooled part's bucket rows (those of ``buckets``; all when None) and their
        findings (``columns``, default all), one part at a time: what a step that needs many
        buckets' findings reads, holding one part's. A scan without a part yields one empty
        pair (the columns). Bucket rows that no part accounts for raise: never left out."""
        wanted = None if buckets is None else set(buckets)
        at = 0
        for part in self.spool.parts:
            rows = self.buckets.iloc[at : at + part.buckets]
            at += part.buckets
            if wanted is None:
                yield rows, self.spool.frame(columns, parts=[part])
                continue
            rows = rows[rows["bucket"].isin(wanted)]
            yield rows, self.spool.frame(columns, buckets=list(rows["bucket"]), parts=[part])
        if at != len(self.buckets):
            raise RuntimeError(
                f"the spool covers {at} bucket rows, the scan has {len(self.buckets)}"
            )
        if not at:
            yield self.buckets.iloc[:0], self.spool.frame(columns, buckets=[])

    def all_findings(self) -> pd.DataFrame:
        """Bucket findings, then the account-level ones (whose bucket columns are empty). It
        reads every finding (see :attr:`findings`)."""
        both = [f for f in (self.findings, self.account_findings) if len(f)]
        return pd.concat(both, ignore_index=True) if both else self.findings

    def status_counts(self) -> pd.DataFrame:
        """Findings per check and status (``check_id``, ``status``, ``findings``,
        ``accepted``: FAILs an exception covers), bucket and account-level ones together,
        counted by DuckDB over the spool."""
        if self._counted is None:  # the spool does not change once the scan has made it
            self._counted = self.spool.sql(
                "SELECT check_id, status, count(*) AS findings, "
                "count(*) FILTER (WHERE status = 'FAIL' AND exception_id <> '') AS accepted "
                "FROM findings GROUP BY check_id, status"
            )
        counted = self._counted
        account = self.account_findings
        if len(account):
            extra = (
                account.assign(
                    accepted=(account["status"] == "FAIL") & (account["exception_id"] != "")
                )
                .groupby(["check_id", "status"], as_index=False)
                .agg(findings=("status", "size"), accepted=("accepted", "sum"))
            )
            counted = pd.concat([counted, extra], ignore_index=True)
            counted = counted.groupby(["check_id", "status"], as_index=False).sum()
        return counted.astype({"findings": "int64", "accepted": "int64"})

    def summary(self) -> dict[str, Any]:
        """Bucket counts by status and severity, and finding counts per check and status (the
        findings counted by DuckDB, not read)."""
        status = self.buckets["status"].value_counts()
        counts = self.status_counts()
        order = {check_id: n for n, check_id in enumerate(CATALOGUE)}
        by_check: dict[str, dict[str, int]] = {}
        for check_id in sorted(set(counts["check_id"]), key=order.__getitem__):
            mine = counts[counts["check_id"] == check_id]
            of = dict(zip(mine["status"], mine["findings"], strict=True))
            by_check[check_id] = {s: int(of.get(s, 0)) for s in ("PASS", "FAIL", "ERROR")}
        return {
            "total_buckets": len(self.buckets),
            "compliant_buckets": int(status.get("compliant", 0)),
            "non_compliant_buckets": int(status.get("non_compliant", 0)),
            "unknown_buckets": int(status.get("unknown", 0)),
            "accepted_buckets": int(status.get("accepted", 0)),
            "accepted_findings": int(counts["accepted"].sum()),
            "high_severity_buckets": int((self.buckets["bucket_severity"] == "high").sum()),
            "failed_accounts": int((self.accounts["status"] == "error").sum()),
            "truncated_listings": len(self.truncated_listings),
            "by_check": by_check,
        }

    def framework_summary(self) -> pd.DataFrame:
        """Per framework control: resources passing, failing, in error (see frameworks.py);
        reads three columns of every finding."""
        columns = ["bucket", "check_id", "status"]
        both = [self.findings_of(columns=columns), self.account_findings[columns]]
        return framework_summary(pd.concat([f for f in both if len(f)] or both[:1]))

    def summary_frame(self) -> pd.DataFrame:
        """The per-check counts as a table, for people (CLI and notebook)."""
        by_check = self.summary()["by_check"]
        frame = pd.DataFrame.from_dict(by_check, orient="index", columns=["PASS", "FAIL", "ERROR"])
        frame.index.name = "check_id"
        return frame


def bucket_severity(violation_count: int, high_threshold: int) -> str:
    """``high`` at or above the threshold, then ``medium`` at 2, ``low`` at 1, ``none`` at 0."""
    if violation_count >= high_threshold:
        return "high"
    return {0: "none", 1: "low"}.get(violation_count, "medium")


def finding_id(partition: str, account_id: str, bucket: str, check_id: str) -> str:
    """The finding's identity across runs: the same bucket and check in the same account (and
    partition) get the same id on every run, whatever else changes. 16 hex digits of SHA-256."""
    key = "\x1f".join((partition, account_id, bucket, check_id))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def arn_partition(arn: str, default: str = "aws") -> str:
    """``aws``, ``aws-cn``... from an ARN; ``default`` when there is no ARN."""
    return arn.split(":")[1] if arn.startswith("arn:") else default


def _partition(base: dict[str, Any]) -> str:
    """From the bucket's ARN, or the account row's own ``partition`` (no bucket ARN there)."""
    return arn_partition(str(base.get("bucket_arn") or ""), str(base.get("partition", "aws")))


def bucket_base(
    session: boto3.Session, item: Any, account_id: str, account_name: str = ""
) -> dict[str, str]:
    """The columns every row of a bucket starts with (ARN in the region's partition)."""
    partition = partition_for_region(session, item.region)
    return {
        "account_id": account_id,
        "account_name": account_name,
        "bucket": item.bucket,
        "bucket_arn": f"arn:{partition}:s3:::{item.bucket}",
        "region": item.region,
    }


def _finding(check: Check, base: dict[str, Any], **values: Any) -> dict[str, Any]:
    return {
        "finding_id": finding_id(_partition(base), base["account_id"], base["bucket"], check.id),
        **base,
        "check_id": check.id,
        "severity": check.severity,
        "violation": "",
        "error_code": "",
        "remediation": check.remediation,
        "frameworks": check.frameworks,
        "exception_id": "",
        "exception_expires": "",
        **values,
    }


def _error(
    check: Check,
    base: dict[str, Any],
    reason: str,
    code: str,
    api: str,
    message: str,
    documents: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An ERROR finding: the AWS (or check) error, and what was read before it, as evidence."""
    return _finding(
        check,
        base,
        status="ERROR",
        reason=reason,
        error_code=code,
        evidence={**(documents or {}), "error": {"api": api, "message": message}},
    )


def evaluate(
    checks: list[Check], evidence: BucketEvidence, settings: Settings, base: dict[str, Any]
) -> list[dict[str, Any]]:
    """Run each check on the bucket's evidence.

    A check whose *required* document failed is ERROR without running. A *corroborating*
    document that failed is handed to the check as :class:`Unreadable`: a verdict the other
    documents prove stands (its evidence names what could not be read), and a verdict the
    missing document could change comes back undetermined and becomes ERROR with its error code.
    """
    rows: list[dict[str, Any]] = []
    docs = evidence.documents
    for check in checks:
        failed = next((d for d in check.required if not docs[d].ok), None)
        if failed is not None:
            rows.append(_document_error(check, base, failed, docs[failed]))
            continue
        values = {d: docs[d].value for d in check.documents if docs[d].ok}
        unreadable = {
            d: Unreadable(d, docs[d].error_code) for d in check.documents if not docs[d].ok
        }
        try:
            verdict = check.evaluate({**values, **unreadable, "bucket": evidence.bucket}, settings)
        except Exception as exc:  # a document shaped as no check expected: never a crashed run
            log.exception("check %s failed on bucket %s", check.id, evidence.bucket)
            reason = f"The check could not read the configuration ({type(exc).__name__})."
            rows.append(_error(check, base, reason, "CheckFailed", "", repr(exc), values))
            continue
        if verdict.passed is None:
            missing = docs[verdict.needs]
            api = DOCUMENTS[verdict.needs].api
            reason = f"{verdict.reason} {api} failed with {missing.error_code}."
            rows.append(
                _error(check, base, reason, missing.error_code, api, missing.error_message, values)
            )
            continue
        shown: dict[str, Any] = dict(values)
        if verdict.analysis:
            shown["analysis"] = verdict.analysis
        if unreadable:
            shown["unreadable"] = {
                d: {"api": DOCUMENTS[d].api, "error_code": u.error_code}
                for d, u in unreadable.items()
            }
        rows.append(
            _finding(
                check,
                base,
                status="PASS" if verdict.passed else "FAIL",
                reason=verdict.reason,
                violation="" if verdict.passed else check.violation_text(settings),
                evidence=shown,
            )
        )
    return rows


def _document_error(check: Check, base: dict[str, Any], name: str, doc: Document) -> dict:
    api = DOCUMENTS[name].api
    reason = f"{api} failed with {doc.error_code}; the check was not evaluated."
    return _error(check, base, reason, doc.error_code, api, doc.error_message)


def _location_errors(checks: list[Check], code: str, base: dict[str, Any]) -> list[dict]:
    reason = f"GetBucketLocation failed with {code}; the bucket's region is unknown."
    return [_error(c, base, reason, code, "GetBucketLocation", code) for c in checks]


def bucket_rows(
    findings: pd.DataFrame,
    discovered: pd.DataFrame,
    high: int,
    bases: dict[str, dict[str, str]],
    tags: dict[str, dict[str, str] | None],
) -> pd.DataFrame:
    """One row per bucket: status and severity from its findings (ERROR is never compliant).

    A FAIL covered by an exception (``exception_id`` set) is counted in ``accepted_count``, not
    in ``violation_count`` or the severity: a bucket whose FAILs are all accepted and that has
    no ERROR is ``accepted``. ``bases`` gives each bucket's account id, name and ARN (a profile
    of account-level checks only leaves buckets without findings: they are compliant for it).
    ``tags`` is None for a bucket whose tags the scan did not read (it reads them only for
    tagging, or for an exception narrowed by ``when_tagged``), or could not read.
    """
    rows = []
    # One pass over plain columns: per-bucket DataFrame indexing cost more CPU than the checks.
    violations_of: dict[str, list[str]] = {}
    errors_of: dict[str, int] = {}
    accepted_of: dict[str, int] = {}
    columns = (
        findings["bucket"],
        findings["status"],
        findings["violation"],
        findings["exception_id"],
    )
    for bucket, status, violation, exception in zip(*columns, strict=True):
        if status == "FAIL" and exception:
            accepted_of[bucket] = accepted_of.get(bucket, 0) + 1
        elif status == "FAIL":
            violations_of.setdefault(bucket, []).append(violation)
        elif status == "ERROR":
            errors_of[bucket] = errors_of.get(bucket, 0) + 1
    for item in discovered.itertuples(index=False):
        violations = violations_of.get(item.bucket, [])
        errors = errors_of.get(item.bucket, 0)
        accepted = accepted_of.get(item.bucket, 0)
        status = (
            "non_compliant"
            if violations
            else "unknown"
            if errors
            else "accepted"
            if accepted
            else "compliant"
        )
        rows.append(
            {
                "account_id": bases[item.bucket]["account_id"],
                "account_name": bases[item.bucket]["account_name"],
                "bucket": item.bucket,
                "bucket_arn": bases[item.bucket]["bucket_arn"],
                "region": item.region,
                "created": item.created,
                "status": status,
                "violation_count": len(violations),
                "violations": violations,
                "error_count": errors,
                "bucket_severity": bucket_severity(len(violations), high),
                "tags": tags.get(item.bucket),
                "accepted_count": accepted,
            }
        )
    return pd.DataFrame(rows, columns=BUCKET_COLUMNS)


def account_row(
    account_id: str,
    buckets: pd.DataFrame,
    name: str = "",
    ou_path: str = "",
    status: str = "scanned",
    error_code: str = "",
    reason: str = "",
    seconds: float = 0.0,
    api_calls: int = 0,
    retries: int = 0,
    org_id: str = "",
) -> dict[str, Any]:
    """One row of the accounts table, its bucket counts taken from the account's bucket rows."""
    counts = buckets["status"].value_counts()
    return {
        "account_id": account_id,
        "account_name": name,
        "ou_path": ou_path,
        "status": status,
        "error_code": error_code,
        "reason": reason,
        "total_buckets": len(buckets),
        "compliant_buckets": int(counts.get("compliant", 0)),
        "non_compliant_buckets": int(counts.get("non_compliant", 0)),
        "unknown_buckets": int(counts.get("unknown", 0)),
        "high_severity_buckets": int((buckets["bucket_severity"] == "high").sum()),
        "accepted_buckets": int(counts.get("accepted", 0)),
        "seconds": round(float(seconds), 3),
        "api_calls": int(api_calls),
        "retries": int(retries),
        "org_id": org_id,
    }


class Scanner:
    """One scan in two steps, discover then check, sharing clients, retry policy and counters.

    The notebook calls the two steps in separate cells; :func:`run_scan` calls both.
    ``exceptions`` are the accepted risks to apply; by default the parameters' file (an
    organization's shards are handed the set the driver read, so a worker reads no file).
    """

    def __init__(
        self,
        params: Params,
        clients: Clients | None = None,
        session: boto3.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        exceptions: ExceptionSet | None = None,
    ) -> None:
        self.started = time.perf_counter()
        self.started_at = utc_now()
        if clients is None:
            session = session or make_session(params.aws_profile)
            clients = Clients(session, params.endpoint_url, params.max_workers)
        self.params = params
        self.clients = clients
        checks = select_checks(params.profile, params.checks)
        self.checks = [c for c in checks if c.scope == "bucket"]
        self.account_checks = [c for c in checks if c.scope == "account"]
        self.exceptions = exceptions if exceptions is not None else params.exceptions()
        # Tags are read for tagging, or when an exception is narrowed to tagged buckets.
        read_tags = params.apply_tags or (
            self.exceptions is not None and self.exceptions.needs_tags
        )
        self.documents = documents_needed(checks) + (["tags"] if read_tags else [])
        self.settings = Settings(
            lifecycle_max_age_days=params.lifecycle_max_age_days,
            allowed_sse_algorithms=tuple(params.allowed_sse_algorithms),
            trusted_account_ids=tuple(params.trusted_account_ids),
            log_target_buckets=tuple(params.log_target_buckets),
        )
        self.retry = RetryPolicy(params.retry_attempts, params.retry_max_wait_s, sleep=sleep)

    def discover(self, names: tuple[str, ...] | None = None) -> pd.DataFrame:
        """The buckets to scan (see :func:`s3compliance.scan.discovery.discover_buckets`): every
        one in scope, or only ``names`` for a delta (``attrs["missing"]``: those not found).

        Raises :class:`botocore.exceptions.NoCredentialsError` when there are no credentials and
        :class:`ScanAborted` when the buckets cannot be listed at all.
        """
        p = self.params
        try:
            return discover_buckets(
                self.clients,
                p.regions,
                self.retry,
                p.page_size,
                p.include,
                p.exclude,
                None if names is None else list(names),
            )
        except NoCredentialsError:
            raise
        except (ClientError, BotoCoreError) as exc:
            raise ScanAborted(
                f"cannot list the account's buckets: {error_code(exc)}: {exc}"
            ) from exc

    def _scan_one(
        self,
        item: Any,
        base: dict[str, str],
        account_docs: dict[str, Document],
        locations: LocationCache,
    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """The bucket's findings, and its tags when they were read (else None)."""
        if item.location_error:
            return _location_errors(self.checks, item.location_error, base), None
        evidence = fetch_evidence(
            self.clients.s3(item.region),
            item.bucket,
            item.region,
            self.documents,
            self.retry,
            account_docs,
            locations,
        )
        tags = evidence.documents.get("tags")
        tag_values = tags.value if tags is not None and tags.ok else None
        return evaluate(self.checks, evidence, self.settings, base), tag_values

    def account_step(
        self, account_id: str, account_name: str = ""
    ) -> tuple[dict[str, Document], list[dict[str, Any]]]:
        """The account-scope documents (fetched once per account) and the account-level
        findings (one per account-scope check, bucket columns left empty)."""
        docs = fetch_account_documents(
            self.documents, self.clients.s3control(), account_id, self.retry
        )
        base = {
            "account_id": account_id,
            "account_name": account_name,
            "bucket": "",
            "bucket_arn": "",
            "region": "",
            "partition": partition_for_region(self.clients.session, self.params.home_region),
        }
        evidence = BucketEvidence(bucket="", region="", documents=docs)
        return docs, evaluate(self.account_checks, evidence, self.settings, base)

    def check_buckets(
        self,
        discovered: pd.DataFrame,
        account_id: str,
        account_docs: dict[str, Document],
        account_name: str = "",
        progress: bool | None = False,
        on_bucket: Callable[[int], object] | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The findings and bucket rows of ``discovered`` (one account's buckets, or a shard of
        them), each document fetched once per bucket, ``max_workers`` buckets at a time.

        ``on_bucket(1)`` is called as each bucket completes (an organization's progress bar)."""
        locations = LocationCache(
            dict(zip(discovered["bucket"], discovered["region"], strict=True)), self.retry
        )
        rows: list[dict[str, Any]] = []
        tags: dict[str, dict[str, str] | None] = {}
        items = list(discovered.itertuples(index=False))
        session = self.clients.session
        bases = {i.bucket: bucket_base(session, i, account_id, account_name) for i in items}
        with (
            ThreadPoolExecutor(max_workers=self.params.max_workers) as pool,
            tqdm(
                total=len(items),
                desc="Scanning buckets",
                unit="bucket",
                disable=None if progress is None else not progress,
            ) as bar,
        ):
            outcomes = pool.map(
                lambda item: self._scan_one(item, bases[item.bucket], account_docs, locations),
                items,
            )
            for item, (bucket_findings, bucket_tags) in zip(items, outcomes, strict=True):
                rows.extend(bucket_findings)
                tags[item.bucket] = bucket_tags
                bar.update(1)
                if on_bucket is not None:
                    on_bucket(1)
        findings = pd.DataFrame(rows, columns=FINDING_COLUMNS)
        findings = apply_exceptions(findings, self.exceptions, tags)
        buckets = bucket_rows(
            findings, discovered, self.params.high_severity_threshold, bases, tags
        )
        return findings, buckets

    def check(self, discovered: pd.DataFrame, progress: bool | None = None) -> ScanResult:
        """Fetch every bucket's evidence once and run the enabled checks on it.

        The buckets are checked ``shard_size`` at a time, each piece's findings spooled to disk
        as it ends (:mod:`s3compliance.scan.spool`): memory holds one piece's findings, not the
        account's. ``progress=None`` shows a bar only when a human is watching (a terminal or
        a notebook).
        """
        account_id = self.clients.account_id(self.retry)
        account_docs, account_rows = self.account_step(account_id)
        spool, pieces = FindingSpool(), []
        size = self.params.shard_size
        with tqdm(
            total=len(discovered),
            desc="Scanning buckets",
            unit="bucket",
            disable=None if progress is None else not progress,
        ) as bar:
            for index, start in enumerate(range(0, len(discovered), size)):
                piece = discovered.iloc[start : start + size]
                findings, rows = self.check_buckets(
                    piece, account_id, account_docs, "", False, bar.update
                )
                spool.add_frame(index, findings, len(rows))
                pieces.append(rows)
        buckets = (
            pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=BUCKET_COLUMNS)
        )
        wall = time.perf_counter() - self.started
        calls = dict(sorted(self.clients.recorder.by_operation.items()))
        account = account_row(
            account_id,
            buckets,
            seconds=wall,
            api_calls=sum(calls.values()),
            retries=self.retry.counter.count,
        )
        result = ScanResult(
            account_id=account_id,
            regions=list(self.params.regions),
            params=self.params,
            spool=spool,
            buckets=buckets,
            account_findings=pd.DataFrame(account_rows, columns=FINDING_COLUMNS),
            retries=self.retry.counter.count,
            api_calls=calls,
            wall_seconds=wall,
            accounts=pd.DataFrame([account], columns=ACCOUNT_COLUMNS),
            started_at=self.started_at,
            exceptions=self.exceptions,
            truncated_listings=(account_id,) if discovered.attrs.get("truncated") else (),
        )
        summary = {k: v for k, v in result.summary().items() if k != "by_check"}
        log.info("scan finished: %s", summary)
        return result
