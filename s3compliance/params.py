"""Parameters: one YAML format shared by the CLI and the papermill notebooks.

Everything a run can be told lives in :class:`Params`. A params file is validated before any AWS
call (and, for notebooks, before the kernel starts): an unknown key, a wrong type, an out-of-range
number, an unknown check id or an unknown region is an error that names the key and the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from s3compliance.accepted.exceptions import (
    DEFAULT_MAX_DAYS,
    DEFAULT_WARNING_DAYS,
    ExceptionsError,
    ExceptionSet,
    load_exceptions,
)
from s3compliance.checks import CATALOGUE, DEFAULT_PROFILE, DEFAULT_SSE_ALGORITHMS, PROFILES

DEFAULT_REGION = "us-east-1"


def home_region(regions: list[str]) -> str:
    """Where account-wide things (metrics, the alarm) go: the first scanned region, or
    us-east-1 for an all-regions scan."""
    return DEFAULT_REGION if not regions or regions == ["*"] else regions[0]


class ParamsError(ValueError):
    """The caller's parameters are wrong; the message says which key, in which file."""


@dataclass(frozen=True)
class Params:
    regions: list[str] = field(default_factory=lambda: ["us-east-1"])
    profile: str = DEFAULT_PROFILE
    checks: list[str] = field(default_factory=list)
    lifecycle_max_age_days: int = 90
    allowed_sse_algorithms: list[str] = field(default_factory=lambda: list(DEFAULT_SSE_ALGORITHMS))
    high_severity_threshold: int = 3
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    max_workers: int = 16
    retry_attempts: int = 5
    retry_max_wait_s: float = 20.0
    page_size: int = 1000
    endpoint_url: str | None = None
    aws_profile: str | None = None
    output_dir: str = "output"
    run_id: str | None = None
    trusted_account_ids: list[str] = field(default_factory=list)
    log_target_buckets: list[str] = field(default_factory=list)
    run_date: str | None = None
    heatmap_top_n: int = 30
    report_max_rows: int = 50_000
    demo: bool | str = False
    apply_tags: bool = False
    tag_key: str = "compliance-status"
    sns_topic_arn: str | None = None
    notify_only_new: bool = True
    publish_metrics: bool = False
    sqs_queue_url: str | None = None
    import_scope: str = "flagged"
    alarm_threshold: int | None = None
    # Remediation (docs/tasks/remediation.md): the checks whose fixes the report shows.
    remediate: list[str] = field(default_factory=list)
    lifecycle_storage_class: str = "GLACIER_IR"
    lifecycle_action: str = "transition"
    kms_key_id: str | None = None
    log_target_bucket: str | None = None
    # Organizations (docs/tasks/organizations.md): which accounts, through which role, which engine.
    accounts: str | list[str] | None = None
    organizational_units: list[str] = field(default_factory=list)
    exclude_accounts: list[str] = field(default_factory=list)
    role_name: str = "OrganizationAccountAccessRole"
    external_id: str | None = None
    role_session_name: str = "s3compliance"
    role_duration_s: int = 3600
    engine: str = "threads"
    max_accounts: int = 4
    dask_scheduler: str | None = None
    dask_workers: int | None = None
    shard_size: int = 500
    # Accepted risks (docs/tasks/accepted-risks.md): the reviewed exceptions file, and its limits.
    exceptions_file: str | None = None
    max_exception_days: int = DEFAULT_MAX_DAYS
    exception_warning_days: int = DEFAULT_WARNING_DAYS
    # AWS Security Hub (docs/tasks/security-hub.md): import after the run folder is published.
    securityhub: bool = False
    securityhub_include_passed: bool = False
    securityhub_region: str | None = None
    # Evidence (docs/tasks/evidence.md): sign each run's manifest, archive runs write-once.
    evidence_signing: str | None = None
    evidence_archive: str | None = None
    evidence_archive_allow_mutable: bool = False
    evidence_retention_days: int = 2190
    # The change watcher (docs/tasks/continuous.md): `s3compliance watch`, `watch-setup`.
    watch_queue_url: str | None = None
    watch_debounce_s: float = 5.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def all_regions(self) -> bool:
        return self.regions == ["*"]

    @property
    def home_region(self) -> str:
        return home_region(self.regions)

    @property
    def run_day(self) -> date:
        """The run's date: ``run_date``, else today (UTC). Exceptions are judged on it."""
        return date.fromisoformat(self.run_date) if self.run_date else datetime.now(UTC).date()

    @property
    def exceptions_need_tags(self) -> bool:
        """An exception is narrowed by ``when_tagged``: the scan reads each bucket's tags."""
        exceptions = self.exceptions()
        return exceptions is not None and exceptions.needs_tags

    def exceptions(self) -> ExceptionSet | None:
        """The exceptions file, validated against the run's date (None without one); raises
        :class:`ExceptionsError` naming the entry and key of the first broken rule."""
        if not self.exceptions_file:
            return None
        return load_exceptions(
            self.exceptions_file,
            self.run_day,
            self.max_exception_days,
            self.exception_warning_days,
        )

    @property
    def multi_account(self) -> bool:
        """True when the run goes through the organization engine (an account list, the
        organization, or the Dask engine even for the caller's own account)."""
        return self.accounts is not None or self.engine != "threads"


_STR_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}}
_ACCOUNT_LIST = {
    "type": "array",
    "uniqueItems": True,
    "items": {"type": "string", "pattern": "^\\d{12}$"},
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "regions": {
            "description": (
                'regions to scan (ListBuckets filtered server-side with BucketRegion); ["*"] for '
                "every region of the account"
            ),
            **_STR_LIST,
            "minItems": 1,
            "uniqueItems": True,
        },
        "profile": {
            "description": "check profile: mission (the five required checks), fsbp, cis, all",
            "enum": sorted(PROFILES),
        },
        "checks": {
            "description": "explicit check ids; when given they replace the profile",
            **_STR_LIST,
            "uniqueItems": True,
        },
        "lifecycle_max_age_days": {
            "description": "a whole-bucket rule must expire/transition objects by this age",
            "type": "integer",
            "minimum": 1,
            "maximum": 36500,
        },
        "allowed_sse_algorithms": {
            "description": (
                'default-encryption algorithms the encryption check accepts; e.g. ["aws:kms", '
                '"aws:kms:dsse"] for KMS only'
            ),
            "type": "array",
            "minItems": 1,
            "items": {"enum": list(DEFAULT_SSE_ALGORITHMS)},
        },
        "high_severity_threshold": {
            "description": "violations at which a bucket counts as high severity",
            "type": "integer",
            "minimum": 1,
            "maximum": 1000,
        },
        "include": {
            **_STR_LIST,
            "description": "glob patterns of bucket names to scan (empty = all)",
        },
        "exclude": {**_STR_LIST, "description": "glob patterns of bucket names to skip"},
        "max_workers": {
            "description": "buckets scanned concurrently (the connection pool follows)",
            "type": "integer",
            "minimum": 1,
            "maximum": 256,
        },
        "retry_attempts": {
            "description": (
                "attempts per API call on throttling, 5xx and timeouts (tenacity, full-jitter "
                "backoff)"
            ),
            "type": "integer",
            "minimum": 1,
            "maximum": 20,
        },
        "retry_max_wait_s": {
            "description": "longest single backoff wait, seconds",
            "type": "number",
            "minimum": 0,
            "maximum": 600,
        },
        "page_size": {
            "description": "ListBuckets MaxBuckets",
            "type": "integer",
            "minimum": 1,
            "maximum": 10000,
        },
        "endpoint_url": {
            "description": (
                "S3-compatible endpoint (LocalStack, moto server); AWS_ENDPOINT_URL also works"
            ),
            "type": ["string", "null"],
            "pattern": "^https?://",
        },
        "aws_profile": {
            "description": "named profile from ~/.aws/config; null = default credential chain",
            "type": ["string", "null"],
            "minLength": 1,
        },
        "output_dir": {
            "description": "run folders are created below this",
            "type": "string",
            "minLength": 1,
        },
        "run_id": {
            "description": "run folder name; null = UTC timestamp",
            "type": ["string", "null"],
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        },
        "trusted_account_ids": {
            "description": "12-digit accounts of yours that cross_account may trust",
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^\\d{12}$"},
        },
        "log_target_buckets": {
            **_STR_LIST,
            "description": (
                "glob patterns of buckets that receive access logs (access_logging skips them)"
            ),
        },
        "run_date": {
            "description": "date shown on charts and the report (YYYY-MM-DD); null = today, UTC",
            "type": ["string", "null"],
            "format": "date",
        },
        "heatmap_top_n": {
            "description": "the heat map shows this many worst buckets",
            "type": "integer",
            "minimum": 1,
            "maximum": 500,
        },
        "report_max_rows": {
            "description": (
                "report.html lists at most this many rows per table, worst first; a cut table's "
                "caption says how many it left out"
            ),
            "type": "integer",
            "minimum": 1,
            "maximum": 1_000_000,
        },
        "demo": {
            "description": "true = the embedded demo account; org = the embedded demo organization",
            "enum": [False, True, "org"],
        },
        "apply_tags": {
            "description": "write compliance-status tags (opt-in, idempotent, lossless)",
            "type": "boolean",
        },
        "tag_key": {
            "description": "the tag key tagging sets",
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "pattern": "^(?![aA][wW][sS]:)",
        },
        "sns_topic_arn": {
            "description": "SNS topic for high-severity buckets",
            "type": ["string", "null"],
            "pattern": "^arn:aws[\\w-]*:sns:[\\w-]+:\\d{12}:[\\w-]{1,256}$",
        },
        "notify_only_new": {
            "description": "SNS: only buckets that were not high in the previous run",
            "type": "boolean",
        },
        "publish_metrics": {
            "description": "CloudWatch PutMetricData, namespace S3Compliance",
            "type": "boolean",
        },
        "sqs_queue_url": {
            "description": "one SQS message per non-compliant bucket",
            "type": ["string", "null"],
            "pattern": "^https?://",
        },
        "import_scope": {
            "description": "Pulumi import files for: flagged (non-compliant) buckets, or all",
            "enum": ["flagged", "all"],
        },
        "alarm_threshold": {
            "description": "N: the Pulumi program also creates an alarm on NonCompliantBuckets > N",
            "type": ["integer", "null"],
            "minimum": 0,
        },
        "remediate": {
            "description": "checks whose fixes the report shows (docs/tasks/remediation.md)",
            **_STR_LIST,
            "uniqueItems": True,
        },
        "lifecycle_storage_class": {
            "description": "the lifecycle fix's transition target",
            "enum": [
                "STANDARD_IA",
                "ONEZONE_IA",
                "INTELLIGENT_TIERING",
                "GLACIER_IR",
                "GLACIER",
                "DEEP_ARCHIVE",
            ],
        },
        "lifecycle_action": {
            "description": "or expire: the lifecycle fix then DELETES objects at the maximum age",
            "enum": ["transition", "expire"],
        },
        "kms_key_id": {
            "description": "the encryption fix: aws:kms with this key; null: AES256",
            "type": ["string", "null"],
            "minLength": 1,
        },
        "log_target_bucket": {
            "description": "the access_logging fix: the bucket receiving logs (same region)",
            "type": ["string", "null"],
            "pattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        },
        "accounts": {
            "description": (
                'null = the credentials\' own account; organization; or ["111122223333", ...]'
            ),
            "oneOf": [
                {"type": "null"},
                {"const": "organization"},
                {**_ACCOUNT_LIST, "minItems": 1},
            ],
        },
        "organizational_units": {
            "description": (
                "with accounts: organization, only these OUs / roots (ou-..., r-...), nested OUs "
                "included"
            ),
            "type": "array",
            "uniqueItems": True,
            "items": {
                "type": "string",
                "pattern": "^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$",
            },
        },
        "exclude_accounts": {**_ACCOUNT_LIST, "description": "12-digit accounts to leave out"},
        "role_name": {
            "description": "role assumed in each member account (a read-only one is recommended)",
            "type": "string",
            "pattern": "^[\\w+=,.@-]{1,64}$",
        },
        "external_id": {
            "description": "ExternalId the role's trust policy requires, if any",
            "type": ["string", "null"],
            "pattern": "^[\\w+=,.@:/-]{2,1224}$",
        },
        "role_session_name": {
            "description": "RoleSessionName, shown in the member accounts' CloudTrail",
            "type": "string",
            "pattern": "^[\\w+=,.@-]{2,64}$",
        },
        "role_duration_s": {
            "description": (
                "AssumeRole DurationSeconds (credentials refresh themselves before expiry)"
            ),
            "type": "integer",
            "minimum": 900,
            "maximum": 43200,
        },
        "engine": {
            "description": (
                "threads (embedded) or dask (dask[distributed]: pip install 's3compliance[dask]')"
            ),
            "enum": ["threads", "dask"],
        },
        "max_accounts": {
            "description": "accounts (shards) scanned at the same time",
            "type": "integer",
            "minimum": 1,
            "maximum": 64,
        },
        "dask_scheduler": {
            "description": (
                "null = a LocalCluster on this machine; tcp://host:8786 = an existing cluster"
            ),
            "type": ["string", "null"],
            "pattern": "^(tcp|tls|ucx|ws|wss|inproc)://.+",
        },
        "dask_workers": {
            "description": "LocalCluster worker processes; null = one per core",
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 256,
        },
        "shard_size": {
            "description": "buckets per task: a large account spreads over many workers",
            "type": "integer",
            "minimum": 1,
            "maximum": 100000,
        },
        "exceptions_file": {
            "description": (
                "the reviewed exceptions YAML (params/exceptions.example.yaml shows the format)"
            ),
            "type": ["string", "null"],
            "minLength": 1,
        },
        "max_exception_days": {
            "description": "an exception may end at most this many days after the run's date",
            "type": "integer",
            "minimum": 1,
            "maximum": 3650,
        },
        "exception_warning_days": {
            "description": "an exception ending within this many days is reported as expiring",
            "type": "integer",
            "minimum": 0,
            "maximum": 365,
        },
        "securityhub": {
            "description": "import the findings after the run folder is published (opt-in)",
            "type": "boolean",
        },
        "securityhub_include_passed": {
            "description": (
                "also import every PASS (by default only those that archive an earlier FAIL)"
            ),
            "type": "boolean",
        },
        "securityhub_region": {
            "description": "null = the home region (the first scanned region)",
            "type": ["string", "null"],
            "pattern": "^[a-z]{2}(-[a-z0-9]+)+$",
        },
        "evidence_signing": {
            "description": (
                "sign each manifest: kms:<asymmetric KMS key id or ARN> or file:<PEM "
                "Ed25519/ECDSA private key>"
            ),
            "type": ["string", "null"],
            "pattern": "^(kms|file):.+$",
        },
        "evidence_archive": {
            "description": (
                "s3://bucket/prefix: copy each published run there, write-once (Object Lock)"
            ),
            "type": ["string", "null"],
            "pattern": "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^/].*)?$",
        },
        "evidence_archive_allow_mutable": {
            "description": (
                "archive even to a bucket that is not write-once (not evidence; for tests)"
            ),
            "type": "boolean",
        },
        "evidence_retention_days": {
            "description": (
                "Object Lock COMPLIANCE retention: 6 years, a policy choice (SEC 17a-4 asks 3 or 6)"
            ),
            "type": "integer",
            "minimum": 1,
            "maximum": 36500,
        },
        "watch_queue_url": {
            "description": "the SQS queue the EventBridge rule delivers S3 change events to",
            "type": ["string", "null"],
            "pattern": "^https?://",
        },
        "watch_debounce_s": {
            "description": "changes to one bucket this close together (seconds) are one rescan",
            "type": "number",
            "minimum": 0,
            "maximum": 900,
        },
    },
}
KEYS = tuple(f.name for f in fields(Params))

#: The groups of ``params/default.yaml`` and of the parameters page: the key each one starts at.
SECTIONS: dict[str, str] = {
    "regions": "What to scan, and how",
    "remediate": "Remediation (docs/tasks/remediation.md)",
    "accounts": "Organizations (docs/tasks/organizations.md)",
    "exceptions_file": "Accepted risks (docs/tasks/accepted-risks.md)",
    "securityhub": "AWS Security Hub (docs/tasks/security-hub.md)",
    "evidence_signing": "Evidence: each run folder's manifest.json, signed and archived "
    "(docs/tasks/evidence.md)",
    "watch_queue_url": "The change watcher: `s3compliance watch` makes delta runs from S3 change "
    "events (docs/tasks/continuous.md)",
}
DEFAULT_YAML_HEADER = (
    "# Parameters of a production scan: `s3compliance scan --params params/default.yaml`.\n"
    "# Every key is optional; the values below are the defaults. Generated from the schema in\n"
    "# s3compliance/params.py (params.default_yaml()): a test keeps the two the same.\n"
)


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*")


def yaml_value(value: Any) -> str:
    """A default as YAML flow text: ``null``, ``true``, ``90``, ``mission``, ``[a, "aws:kms"]``."""
    if isinstance(value, list):
        return "[" + ", ".join(yaml_value(item) for item in value) + "]"
    if isinstance(value, str) and not (_PLAIN.fullmatch(value) and yaml.safe_load(value) == value):
        return json.dumps(value)  # quoted: plain YAML would read "aws:kms" in a list otherwise
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()


def default_yaml() -> str:
    """``params/default.yaml``: every key, its default and its description from :data:`SCHEMA`,
    in groups (:data:`SECTIONS`). The description lives once, in the schema; the file users copy
    and the documentation's parameters page are made from it."""
    defaults = Params().to_dict()
    lines = [DEFAULT_YAML_HEADER.rstrip("\n")]
    for key in KEYS:
        if key in SECTIONS:
            lines.append(f"# {SECTIONS[key]}")
        setting = f"{key}: {yaml_value(defaults[key])}"
        description = SCHEMA["properties"][key]["description"]
        lines.append(f"{setting:<31} # {description}")
    return "\n".join(lines) + "\n"


def known_regions() -> set[str]:
    """Every region botocore knows for S3, in every partition."""
    import boto3  # here, not at the top: `--help` and `import-plan` need no AWS SDK

    session = boto3.Session()
    return {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("s3", partition_name=partition)
    }


_HINTS = {
    "accounts": "expected null (this account), 'organization', or a list of 12-digit account ids",
}
_PATTERN_HINTS = {
    "evidence_signing": "expected kms:<key id or ARN> or file:<path to a PEM private key>",
    "evidence_archive": "expected s3://bucket or s3://bucket/prefix",
}


def _where(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(SCHEMA["properties"]))
        return f"unknown key {', '.join(map(repr, extra))} (known keys: {', '.join(KEYS)})"
    path = [str(p) for p in error.absolute_path]
    key = path[0] if path else "(top level)"
    index = f"[{path[1]}]" if len(path) > 1 else ""
    message = _HINTS.get(key, error.message) if error.validator == "oneOf" else error.message
    if error.validator == "pattern" and key in _PATTERN_HINTS:
        message = f"{error.instance!r}: {_PATTERN_HINTS[key]}"
    return f"key '{key}'{index}: {message}"


def validate(data: dict[str, Any], source: str = "<params>") -> Params:
    """Check a parameters mapping and return :class:`Params`; raise :class:`ParamsError`."""
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: expected a mapping of parameters, got {type(data).__name__}")
    if isinstance(data.get("run_date"), date):  # papermill -f reads YAML dates as dates
        data = {**data, "run_date": data["run_date"].isoformat()}
    validator = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    if errors:
        raise ParamsError(f"{source}: {_where(errors[0])}")
    for key in ("checks", "remediate"):
        unknown_checks = [c for c in data.get(key, []) if c not in CATALOGUE]
        if unknown_checks:
            raise ParamsError(
                f"{source}: key {key!r}: unknown check id(s) "
                f"{', '.join(map(repr, unknown_checks))} (known: {', '.join(CATALOGUE)})"
            )
    if (
        data.get("lifecycle_action", "transition") == "transition"
        and data.get("lifecycle_storage_class") in ("STANDARD_IA", "ONEZONE_IA")
        and data.get("lifecycle_max_age_days", 90) < 30
    ):
        raise ParamsError(
            f"{source}: key 'lifecycle_storage_class': S3 refuses a transition to "
            f"{data['lifecycle_storage_class']} before 30 days (lifecycle_max_age_days is "
            f"{data.get('lifecycle_max_age_days', 90)})"
        )
    regions = data.get("regions", ["us-east-1"])
    if "*" in regions and regions != ["*"]:
        raise ParamsError(f"{source}: key 'regions': '*' (all regions) must stand alone")
    if regions != ["*"]:
        known = known_regions()
        bad = [r for r in regions if r not in known]
        if bad:
            raise ParamsError(
                f"{source}: key 'regions': unknown region(s) {', '.join(map(repr, bad))} "
                f"(use names such as us-east-1, or ['*'] for every region)"
            )
    _check_accounts(data, source)
    params = Params(**data)
    if params.exceptions_file:  # the file is validated with the parameters, before any AWS call
        absolute = str(Path(params.exceptions_file).resolve())
        params = replace(params, exceptions_file=absolute)
        try:
            params.exceptions()
        except ExceptionsError as exc:
            raise ParamsError(str(exc)) from None
    if params.evidence_signing and params.evidence_signing.startswith("file:"):
        params = replace(params, evidence_signing=_signing_key_file(params, source))
    return params


def _signing_key_file(params: Params, source: str) -> str:
    """``file:<path>`` made absolute, the key read now: a key that cannot sign is a bad
    parameter, said before the scan rather than found after it."""
    from s3compliance.outputs.signing_keys import KeyUnusable, load_private_key

    path = Path(params.evidence_signing.removeprefix("file:")).resolve()  # type: ignore[union-attr]
    try:
        load_private_key(path)
    except KeyUnusable as exc:
        raise ParamsError(f"{source}: key 'evidence_signing': {exc}") from None
    return f"file:{path}"


def _check_accounts(data: dict[str, Any], source: str) -> None:
    """The organization keys that only mean something together."""
    accounts = data.get("accounts")
    if data.get("organizational_units") and accounts != "organization":
        raise ParamsError(
            f"{source}: key 'organizational_units': only used with accounts: organization"
        )
    if data.get("exclude_accounts") and accounts is None:
        raise ParamsError(
            f"{source}: key 'exclude_accounts': only used with accounts "
            "(organization or a list of account ids)"
        )
    if data.get("dask_scheduler") and data.get("engine", "threads") != "dask":
        raise ParamsError(f"{source}: key 'dask_scheduler': only used with engine: dask")
    if accounts is not None and data.get("apply_tags"):
        raise ParamsError(
            f"{source}: key 'apply_tags': tagging writes with the caller's credentials, so it "
            "tags one account only: run it per account (accounts: null)"
        )
    demo = data.get("demo", False)
    if demo and data.get("securityhub"):
        raise ParamsError(
            f"{source}: key 'securityhub': the demo account lives in the report's kernel, out "
            "of reach after the run; use `s3compliance securityhub --demo`"
        )
    for key in ("evidence_archive", "evidence_signing"):
        value = data.get(key) or ""
        if demo and value and (key == "evidence_archive" or value.startswith("kms:")):
            raise ParamsError(
                f"{source}: key {key!r}: the demo account lives in the report's kernel, so its "
                "runs cannot reach an AWS archive or KMS key; sign the demo with file:<PEM> "
                "and use `s3compliance archive --to ... --endpoint-url ...`"
            )
    if demo is True and accounts is not None:
        raise ParamsError(f"{source}: key 'demo': true is one account; use demo: org")
    if demo == "org" and data.get("engine", "threads") == "dask":
        raise ParamsError(
            f"{source}: key 'engine': the demo organization lives in this process (moto "
            "in-process), which Dask workers cannot see; use engine: threads"
        )


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: ``run_date: 2026-11-29`` stays the text it was."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_params(path: str | Path, **overrides: Any) -> Params:
    """Read a YAML params file; ``overrides`` (from the command line) win over the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read the params file ({exc.strerror})") from exc
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ParamsError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    data = {} if data is None else data
    if isinstance(data, dict):
        data.update({k: v for k, v in overrides.items() if v is not None})
    return validate(data, str(path))
