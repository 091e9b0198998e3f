"""Parameters: one YAML format shared by the CLI and the papermill notebooks.

Everything a run can be told lives in :class:`Params`. A params file is validated before any AWS
call (and, for notebooks, before the kernel starts): an unknown key, a wrong type, an out-of-range
number, an unknown check id or an unknown region is an error that names the key and the file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import yaml

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
    demo: bool = False
    apply_tags: bool = False
    tag_key: str = "compliance-status"
    sns_topic_arn: str | None = None
    notify_only_new: bool = True
    publish_metrics: bool = False
    sqs_queue_url: str | None = None
    import_scope: str = "flagged"
    alarm_threshold: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def all_regions(self) -> bool:
        return self.regions == ["*"]

    @property
    def home_region(self) -> str:
        return home_region(self.regions)


_STR_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "regions": {**_STR_LIST, "minItems": 1, "uniqueItems": True},
        "profile": {"enum": sorted(PROFILES)},
        "checks": {**_STR_LIST, "uniqueItems": True},
        "lifecycle_max_age_days": {"type": "integer", "minimum": 1, "maximum": 36500},
        "allowed_sse_algorithms": {
            "type": "array",
            "minItems": 1,
            "items": {"enum": list(DEFAULT_SSE_ALGORITHMS)},
        },
        "high_severity_threshold": {"type": "integer", "minimum": 1, "maximum": 1000},
        "include": _STR_LIST,
        "exclude": _STR_LIST,
        "max_workers": {"type": "integer", "minimum": 1, "maximum": 256},
        "retry_attempts": {"type": "integer", "minimum": 1, "maximum": 20},
        "retry_max_wait_s": {"type": "number", "minimum": 0, "maximum": 600},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 10000},
        "endpoint_url": {"type": ["string", "null"], "pattern": "^https?://"},
        "aws_profile": {"type": ["string", "null"], "minLength": 1},
        "output_dir": {"type": "string", "minLength": 1},
        "run_id": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"},
        "trusted_account_ids": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^\\d{12}$"},
        },
        "log_target_buckets": _STR_LIST,
        "run_date": {"type": ["string", "null"], "format": "date"},
        "heatmap_top_n": {"type": "integer", "minimum": 1, "maximum": 500},
        "demo": {"type": "boolean"},
        "apply_tags": {"type": "boolean"},
        "tag_key": {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "pattern": "^(?![aA][wW][sS]:)",
        },
        "sns_topic_arn": {
            "type": ["string", "null"],
            "pattern": "^arn:aws[\\w-]*:sns:[\\w-]+:\\d{12}:[\\w-]{1,256}$",
        },
        "notify_only_new": {"type": "boolean"},
        "publish_metrics": {"type": "boolean"},
        "sqs_queue_url": {"type": ["string", "null"], "pattern": "^https?://"},
        "import_scope": {"enum": ["flagged", "all"]},
        "alarm_threshold": {"type": ["integer", "null"], "minimum": 0},
    },
}
KEYS = tuple(f.name for f in fields(Params))


def known_regions() -> set[str]:
    """Every region botocore knows for S3, in every partition."""
    import boto3  # here, not at the top: `--help` and `import-plan` need no AWS SDK

    session = boto3.Session()
    return {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("s3", partition_name=partition)
    }


def _where(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(SCHEMA["properties"]))
        return f"unknown key {', '.join(map(repr, extra))} (known keys: {', '.join(KEYS)})"
    path = [str(p) for p in error.absolute_path]
    key = path[0] if path else "(top level)"
    index = f"[{path[1]}]" if len(path) > 1 else ""
    return f"key '{key}'{index}: {error.message}"


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
    unknown_checks = [c for c in data.get("checks", []) if c not in CATALOGUE]
    if unknown_checks:
        raise ParamsError(
            f"{source}: key 'checks': unknown check id(s) {', '.join(map(repr, unknown_checks))} "
            f"(known: {', '.join(CATALOGUE)})"
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
    return Params(**data)


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
