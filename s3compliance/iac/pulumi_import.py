"""Bring flagged buckets under Pulumi without modifying them.

From a scan's findings (the DataFrame, or a run's ``findings.json``) and the configuration
evidence already fetched (no AWS call here), plan the imports: each bucket and each configuration
sub-resource that exists on it. Then write what Pulumi needs: ``import.json`` for
``pulumi import --file``, and a Python program declaring the same resources with ``import_=`` and
``protect=True`` whose inputs equal the live configuration, so ``pulumi preview`` shows imports
and no change. A sub-resource the scan could not read, or did not read, is left out and the plan
says so: it is never guessed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import keyword
import pprint
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from io import StringIO
from pathlib import Path
from typing import Any, Protocol, TextIO

import pandas as pd

from s3compliance.accepted.apply import EXCEPTION_COLUMNS
from s3compliance.iac.evidence_index import evidence_by_bucket
from s3compliance.iac.plan_store import PlanStore, aligned
from s3compliance.iac.remediation import (
    FIXES,
    PLAN_COLUMNS,
    RemediationSettings,
    fixed_policy,
    plan_for_scan,
)
from s3compliance.iac.remediation import plan as plan_fixes
from s3compliance.iac.remediation import plan_table as remediation_table
from s3compliance.outputs.jsonstream import write_object
from s3compliance.outputs.runfolder import atomic_write_stream, atomic_write_text
from s3compliance.params import home_region

#: The pulumi-aws major version the type tokens and import ids are those of.
PULUMI_AWS_MAJOR = 7
IMPORT_PLAN_COLUMNS = [
    "account_id",
    "bucket",
    "region",
    "type",
    "name",
    "id",
    "action",
    "note",
    "inputs",
    "ignore_changes",
]
#: The plans' columns that hold documents (JSON in a :class:`PlanStore`).
IMPORT_PLAN_DOCUMENTS = ["inputs", "ignore_changes"]
REMEDIATION_DOCUMENTS = ["before", "after"]
IMPORTED = "action = 'import'"  # the import plan's rows Pulumi imports
ACTIVE = "change IN ('create', 'update')"  # the remediation plan's rows the program fixes


def _snake(name: str) -> str:
    """``SSEAlgorithm`` -> ``sse_algorithm``, ``KMSMasterKeyID`` -> ``kms_master_key_id``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _inputs(value: Any) -> Any:
    """AWS API shapes (CamelCase) -> pulumi-aws input dicts (snake_case)."""
    if isinstance(value, list):
        return [_inputs(v) for v in value]
    if not isinstance(value, dict):
        return value
    converted: dict[str, Any] = {}
    for key, item in value.items():
        if key == "And":  # And.Tags: a list of {Key, Value} in the API, a map in pulumi-aws
            converted["and_"] = _inputs({k: v for k, v in item.items() if k != "Tags"})
            if "Tags" in item:
                converted["and_"]["tags"] = {t["Key"]: t["Value"] for t in item["Tags"]}
        elif key == "ID":
            converted["id"] = item
        else:
            converted[_snake(key)] = _inputs(item)
    return converted


def _versioning_inputs(value: dict[str, Any]) -> dict[str, Any] | None:
    if not value.get("Status"):
        return None  # never enabled: there is no versioning configuration to import
    config = {"status": value["Status"]}
    if value.get("MFADelete"):
        config["mfa_delete"] = value["MFADelete"]
    return {"versioning_configuration": config}


def _encryption_inputs(value: dict[str, Any]) -> dict[str, Any]:
    return {"rules": _inputs(value.get("Rules", []))}


def _lifecycle_inputs(value: list[dict[str, Any]]) -> dict[str, Any] | None:
    return {"rules": _inputs(value)} if value else None


def _policy_inputs(value: dict[str, Any]) -> dict[str, Any]:
    return {"policy": json.dumps(value, separators=(",", ":"))}


PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _public_access_block_inputs(value: dict[str, Any]) -> dict[str, Any]:
    # only the four flags become arguments: a key of the document never names an argument
    return {_snake(flag): bool(value[flag]) for flag in PAB_FLAGS if flag in value}


def _ownership_inputs(value: dict[str, Any]) -> dict[str, Any] | None:
    rules = value.get("Rules") or []
    return {"rule": {"object_ownership": rules[0]["ObjectOwnership"]}} if rules else None


def _logging_inputs(value: dict[str, Any]) -> dict[str, Any]:
    return {"target_bucket": value["TargetBucket"], "target_prefix": value.get("TargetPrefix", "")}


#: document -> (type token, Python class, logical-name suffix, inputs from the evidence)
SUB_RESOURCES: dict[str, tuple[str, str, str, Callable[[Any], dict[str, Any] | None]]] = {
    "versioning": (
        "aws:s3/bucketVersioning:BucketVersioning",
        "BucketVersioning",
        "versioning",
        _versioning_inputs,
    ),
    "encryption": (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "BucketServerSideEncryptionConfiguration",
        "sse",
        _encryption_inputs,
    ),
    "lifecycle": (
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "BucketLifecycleConfiguration",
        "lifecycle",
        _lifecycle_inputs,
    ),
    "policy": ("aws:s3/bucketPolicy:BucketPolicy", "BucketPolicy", "policy", _policy_inputs),
    "public_access_block": (
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "BucketPublicAccessBlock",
        "public-access-block",
        _public_access_block_inputs,
    ),
    "ownership": (
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "BucketOwnershipControls",
        "ownership-controls",
        _ownership_inputs,
    ),
    "logging": ("aws:s3/bucketLogging:BucketLogging", "BucketLogging", "logging", _logging_inputs),
}
BUCKET_TYPE = "aws:s3/bucket:Bucket"
CLASSES = {BUCKET_TYPE: "Bucket", **{t: c for t, c, _, _ in SUB_RESOURCES.values()}}


def logical_name(bucket: str) -> str:
    """A valid, stable Pulumi name for a bucket.

    Dots become dashes; when that changed the name, a short hash of the real name is appended, so
    ``a.b`` and ``a-b`` never collide and the name does not depend on which other buckets exist.
    """
    name = bucket.replace(".", "-")
    if name != bucket:
        name += "-" + hashlib.sha256(bucket.encode()).hexdigest()[:6]
    return name


def findings_from_report(report: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``findings.json`` -> (findings, buckets) frames with the columns planning needs."""
    findings, buckets = [], []
    for b in report["buckets"]:
        buckets.append(
            {
                "account_id": b.get("account_id", report["account_id"]),
                "bucket": b["bucket_name"],
                "region": b.get("region", ""),
                "status": b["status"],
                "tags": None,
                "bucket_arn": b.get("bucket_arn", ""),
            }
        )
        findings.extend({"bucket": b["bucket_name"], **f} for f in b["findings"])
    columns = ["bucket", "check_id", "status", "error_code", "evidence", *EXCEPTION_COLUMNS]
    return (
        pd.DataFrame(findings, columns=columns).fillna({c: "" for c in EXCEPTION_COLUMNS}),
        pd.DataFrame(
            buckets, columns=["account_id", "bucket", "region", "status", "tags", "bucket_arn"]
        ),
    )


def buckets_in_scope(buckets: pd.DataFrame, scope: str = "flagged") -> list[str]:
    """The buckets ``scope`` imports (``flagged``: the non-compliant ones; ``all``): whose
    findings :func:`plan_imports` needs (a scan reads only those back from its spool)."""
    if scope not in ("flagged", "all"):
        raise ValueError(f"import_scope must be 'flagged' or 'all', not {scope!r}")
    chosen = buckets if scope == "all" else buckets[buckets["status"] == "non_compliant"]
    return list(chosen["bucket"])


def plan_imports(
    findings: pd.DataFrame, buckets: pd.DataFrame, scope: str = "flagged"
) -> pd.DataFrame:
    """The resources to import for ``scope`` (``flagged``: non-compliant buckets; ``all``).

    One row per resource, ``action`` ``import``, or ``left-out`` with the reason in ``note``.
    """
    chosen = buckets[buckets["bucket"].isin(buckets_in_scope(buckets, scope))]
    evidence = evidence_by_bucket(findings)
    rows: list[dict[str, Any]] = []
    for b in chosen.sort_values("bucket").itertuples(index=False):
        base = logical_name(b.bucket)
        read = evidence.get(b.bucket, {"read": {}, "errors": {}})
        rows.append(_bucket_row(b, base, read["read"]))
        for doc, (type_, _cls, suffix, convert) in SUB_RESOURCES.items():
            name = f"{base}-{suffix}"
            if doc in read["errors"]:
                rows.append(
                    _row(
                        b,
                        type_,
                        name,
                        "left-out",
                        f"could not be read ({read['errors'][doc]}): not guessed",
                        None,
                    )
                )
            elif doc not in read["read"]:
                rows.append(
                    _row(
                        b,
                        type_,
                        name,
                        "left-out",
                        "not read by this scan's checks (try profile: all)",
                        None,
                    )
                )
            elif read["read"][doc] is not None and (inputs := convert(read["read"][doc])):
                inputs = {"bucket": b.bucket, "region": b.region, **inputs}
                rows.append(_row(b, type_, name, "import", "", inputs))
    return pd.DataFrame(rows, columns=IMPORT_PLAN_COLUMNS)


def _bucket_row(b: Any, name: str, read: dict[str, Any]) -> dict[str, Any]:
    """The bucket itself. What the scan did not read is ignored by Pulumi, not guessed: unknown
    tags would otherwise be removed, an unknown Object Lock flag would force a replacement."""
    inputs: dict[str, Any] = {"bucket": b.bucket, "region": b.region, "force_destroy": False}
    ignore, notes = [], []
    if isinstance(b.tags, dict):
        inputs["tags"] = b.tags
    else:
        ignore.append("tags")
        notes.append("tags not read: ignore_changes")
    if "object_lock" in read:
        lock = (read["object_lock"] or {}).get("ObjectLockEnabled")
        inputs["object_lock_enabled"] = lock == "Enabled"
    else:
        ignore.append("objectLockEnabled")
        notes.append("object lock not read: ignore_changes")
    return _row(b, BUCKET_TYPE, name, "import", "; ".join(notes), inputs, ignore)


def _row(
    b: Any,
    type_: str,
    name: str,
    action: str,
    note: str,
    inputs: Any,
    ignore: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "account_id": getattr(b, "account_id", ""),
        "bucket": b.bucket,
        "region": b.region,
        "type": type_,
        "name": name,
        "id": b.bucket if action == "import" else "",
        "action": action,
        "note": note,
        "inputs": inputs,
        "ignore_changes": ignore or [],
    }


@dataclass(frozen=True)
class Providers:
    """One ``aws.Provider`` per account of an organization run.

    The scanning account's provider uses the stack's own credentials; every other account's
    assumes ``role_name`` (with ``external_id``), as the scan did. ``allowed_account_ids`` pins
    each provider to its account, so a wrong role or profile fails instead of touching another
    account.
    """

    caller: str
    role_name: str = "OrganizationAccountAccessRole"
    external_id: str | None = None
    region: str = "us-east-1"
    partition: str = "aws"

    @staticmethod
    def name(account_id: str) -> str:
        return f"account-{account_id}"

    def role_arn(self, account_id: str) -> str | None:
        if account_id == self.caller:
            return None
        return f"arn:{self.partition}:iam::{account_id}:role/{self.role_name}"


#: The stack the README's commands create: the import file's provider URNs name it.
STACK = "adopt-s3"
PROJECT = "s3compliance-import"


def provider_urn(account_id: str, stack: str = STACK) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::pulumi:providers:aws::{Providers.name(account_id)}"


def providers_for(
    parameters: dict[str, Any], caller: str, organization: bool, partition: str = "aws"
) -> Providers | None:
    """The providers an organization run's program declares (None for one account), from the
    run's parameters (the role and external id the scan used)."""
    if not organization:
        return None
    return Providers(
        caller,
        str(parameters.get("role_name") or "OrganizationAccountAccessRole"),
        parameters.get("external_id") or None,
        home_region(list(parameters.get("regions") or [])),
        partition,
    )


def providers_for_report(report: dict[str, Any]) -> Providers | None:
    """:func:`providers_for` from a findings file (validated by the caller)."""
    accounts = report.get("accounts", [])
    organization = len(accounts) > 1 or report["parameters"].get("accounts") is not None
    arn = next((b.get("bucket_arn", "") for b in report["buckets"]), "")
    partition = arn.split(":")[1] if arn.count(":") >= 2 else "aws"
    return providers_for(report["parameters"], report["account_id"], organization, partition)


def import_file(plan: pd.DataFrame, providers: Providers | None = None) -> dict[str, Any]:
    """The document ``pulumi import --file`` reads.

    With ``providers`` each resource names its account's provider, through the ``nameTable``
    the format requires (provider name -> URN of a provider already in the stack: see the
    README for how it gets there)."""
    imported = plan[plan["action"] == "import"]
    head = _import_head(sorted(set(imported["account_id"])), providers)
    return {**head, "resources": list(_import_entries([imported], providers))}


def _import_head(accounts: list[str], providers: Providers | None) -> dict[str, Any]:
    """``import.json`` but its resources (with ``providers``, the ``nameTable`` first)."""
    if providers is None:
        return {"resources": []}
    return {"nameTable": {Providers.name(a): provider_urn(a) for a in accounts}, "resources": []}


def _import_entries(
    pieces: Iterable[pd.DataFrame], providers: Providers | None
) -> Iterator[dict[str, Any]]:
    for piece in pieces:
        for r in piece.itertuples(index=False):
            entry = {"type": r.type, "name": r.name, "id": r.id}
            if providers is not None:
                entry["provider"] = Providers.name(r.account_id)
            yield entry


def _write_import_file(
    path: Path, imports: PlanStore, providers: Providers | None, account: str | None = None
) -> None:
    """:func:`import_file` (of ``account``'s rows only, when given) streamed into ``path``."""
    where, args = IMPORTED, []
    if account is not None:
        where, args = f"{IMPORTED} AND account_id = ?", [account]
    head = _import_head(sorted(imports.distinct("account_id", where, args)), providers)
    entries = _import_entries(imports.pieces(where, args), providers)
    atomic_write_stream(path, lambda out: write_object(out, head, "resources", entries))


def _literal(value: Any, indent: int) -> str:
    text = pprint.pformat(value, width=96 - indent, sort_dicts=False)
    return text.replace("\n", "\n" + " " * indent)


@dataclass(frozen=True)
class Alarm:
    """An optional CloudWatch alarm on the scan's ``NonCompliantBuckets`` metric, with its topic.

    Unlike everything else in the program these are *created* by ``pulumi up``: they watch the
    metrics that ``publish_metrics`` sends, they change no bucket.
    """

    threshold: int
    region: str = "us-east-1"
    period_s: int = 86400  # the scan runs daily


def _alarm_lines(alarm: Alarm) -> list[str]:
    return [
        "",
        "# Created, not imported: an alarm on the scan's NonCompliantBuckets metric, its topic.",
        'ALARM_TOPIC = aws.sns.Topic("s3compliance-alarms", region=' + repr(alarm.region) + ")",
        'RESOURCES["s3compliance-non-compliant-alarm"] = aws.cloudwatch.MetricAlarm(',
        '    "s3compliance-non-compliant-alarm",',
        f"    region={alarm.region!r},",
        '    namespace="S3Compliance",',
        '    metric_name="NonCompliantBuckets",',
        f'    dimensions={{"Region": {alarm.region!r}}},',
        '    statistic="Maximum",',
        f"    period={alarm.period_s},",
        "    evaluation_periods=1,",
        f"    threshold={alarm.threshold},",
        '    comparison_operator="GreaterThanThreshold",',
        '    treat_missing_data="breaching",  # no metric means the scan did not run',
        f'    alarm_description="More than {alarm.threshold} non-compliant S3 buckets",',
        "    alarm_actions=[ALARM_TOPIC.arn],",
        ")",
    ]


def _provider_lines(accounts: Iterable[str], providers: Providers) -> list[str]:
    lines = [
        "",
        "# One provider per account, pinned to it (allowed_account_ids).",
        "PROVIDERS = {}",
    ]
    for account in sorted(set(accounts)):
        if not re.fullmatch(r"\d{12}", str(account)):  # ids are code here: refuse anything odd
            raise ValueError(f"refusing to render account id {account!r}")
        arn = providers.role_arn(account)
        role = ""
        if arn is not None:
            external = f", external_id={providers.external_id!r}" if providers.external_id else ""
            role = (
                f"\n    assume_roles=[aws.ProviderAssumeRoleArgs(role_arn={arn!r}, "
                f"session_name='s3compliance-import'{external})],"
            )
        lines.append(
            f"PROVIDERS[{account!r}] = aws.Provider(\n    {Providers.name(account)!r},\n"
            f"    region={providers.region!r},\n    allowed_account_ids=[{account!r}],{role}\n)"
        )
    return lines


def render_program(
    plan: pd.DataFrame | PlanStore,
    alarm: Alarm | None = None,
    providers: Providers | None = None,
    remediation: Remediation | None = None,
) -> str:
    """A Pulumi Python program declaring every planned resource as imported and protected
    (and, with ``alarm``, the alarm and topic it creates); with ``providers``, each resource
    goes through its account's provider. With ``remediation``, stage two: the fixes of the
    checks listed in the stack's ``s3compliance:remediate`` config (none: stage one only)."""
    out = StringIO()
    write_program(out, import_store(plan), alarm, providers, stored(remediation))
    return out.getvalue()


def write_program(
    out: TextIO,
    imports: PlanStore,
    alarm: Alarm | None = None,
    providers: Providers | None = None,
    remediation: Remediation | None = None,
) -> None:
    """:func:`render_program` written into ``out`` a few thousand plan rows at a time (the
    resources by bucket; the fixes that create a resource after every import, as there)."""
    lines = [
        '"""Generated by s3compliance: adopt these buckets as they are. Nothing here changes AWS:',
        "every resource is imported (import_) and protected (protect=True), with inputs equal to",
        "the live configuration the scan read. `pulumi preview` should show only imports.",
        '"""',
        "",
        "import pulumi",
        "import pulumi_aws as aws",
        "",
        "RESOURCES = {}",
        "",
        "",
        "def adopt(resource_id, ignore_changes=None):",
        "    return pulumi.ResourceOptions(",
        "        import_=resource_id, protect=True, ignore_changes=ignore_changes",
        "    )",
        "",
    ]
    if providers is not None:  # each resource through its account's provider
        lines[-5:-1] = [
            "def adopt(resource_id, ignore_changes=None, provider=None):",
            "    return pulumi.ResourceOptions(",
            "        import_=resource_id,",
            "        protect=True,",
            "        ignore_changes=ignore_changes,",
            "        provider=provider,",
            "    )",
        ]
    if providers is not None:
        lines += _provider_lines(imports.distinct("account_id", IMPORTED), providers)
    if remediation is not None:
        lines += remediation_header(remediation)
    _emit(out, lines)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as created:
        for piece, fix_rows in _with_fixes(imports, remediation):
            fixes = replace(remediation, plan=fix_rows).by_resource() if remediation else {}
            _emit(out, _resource_lines(piece[piece["action"] == "import"], fixes, providers))
            for name, fix in fixes.items():  # stage two creates what did not exist
                _emit(created, _created_lines(name, fix, providers))
        created.seek(0)
        shutil.copyfileobj(created, out)
    if alarm is not None:
        _emit(out, _alarm_lines(alarm))


def _emit(out: TextIO, lines: Iterable[str]) -> None:
    """Write ``lines`` as joining them with newlines, plus a last one, would: a line at a time."""
    for line in lines:
        out.write(line + "\n")


def _with_fixes(
    imports: PlanStore, remediation: Remediation | None
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """The import plan by bucket, each piece with the remediation rows of its buckets."""
    if remediation is None:
        yield from ((piece, piece.iloc[:0]) for piece in imports.pieces())
        return
    assert isinstance(remediation.plan, PlanStore)
    yield from aligned(imports, remediation.plan)


def _resource_lines(
    imported: pd.DataFrame, fixes: dict[str, Fix], providers: Providers | None
) -> Iterator[str]:
    """Each imported resource, declared; ``fixes`` loses those it declares (stage two edits
    them in place)."""
    for r in imported.itertuples(index=False):
        _check_arguments(r.inputs, r.name)
        ignore = f", ignore_changes={r.ignore_changes!r}" if r.ignore_changes else ""
        if providers is not None:
            ignore += f", provider=PROVIDERS[{r.account_id!r}]"
        fix = fixes.pop(r.name, None)
        args = _arguments(r.inputs, fix)
        options = f"adopt({r.id!r}{ignore})"
        if fix is not None and fix.after_resource:
            after = f"fix(depends_on=[RESOURCES[{fix.after_resource!r}]])"
            options = f"pulumi.ResourceOptions.merge({options}, {after})"
        # Names and ids come from the account (or a findings file): only ever through repr().
        yield (
            f"\nRESOURCES[{r.name!r}] = aws.s3.{CLASSES[r.type]}(\n    {r.name!r},\n{args}"
            f"    opts={options},\n)"
        )


def _check_arguments(inputs: dict[str, Any], name: str) -> None:
    bad = [k for k in inputs if not k.isidentifier() or keyword.iskeyword(k)]
    if bad:  # argument names are code: refuse rather than render anything odd
        raise ValueError(f"refusing to render argument names {bad!r} for {name!r}")


def _arguments(inputs: dict[str, Any], fix: Fix | None = None) -> str:
    """Keyword arguments, one a line; with ``fix``, each input the fix changes becomes
    ``pick(checks, scanned, fixed)``."""
    out = []
    after = fix.inputs if fix is not None else {}
    for key in dict.fromkeys([*inputs, *after]):
        value = _literal(inputs.get(key), 5 + len(key))
        if fix is not None and fix.variants and key == "policy":
            checks = _literal(sorted(fix.checks), 10 + len(key))
            each = {k: v["policy"] for k, v in fix.variants.items()}
            value = (
                f"choose(\n        {checks},\n        {value},\n        {_literal(each, 8)},\n    )"
            )
        elif fix is not None and key in after and after[key] != inputs.get(key):
            checks = _literal(list(fix.checks), 10 + len(key))
            fixed = _literal(after[key], 10 + len(key))
            value = f"pick(\n        {checks},\n        {value},\n        {fixed},\n    )"
        out.append(f"    {key}={value},\n")
    return "".join(out)


def _created_lines(name: str, fix: Fix, providers: Providers | None) -> list[str]:
    _check_arguments(fix.inputs, name)
    options = []
    if providers is not None:
        options.append(f"provider=PROVIDERS[{fix.account_id!r}]")
    if fix.after_resource:
        options.append(f"depends_on=[RESOURCES[{fix.after_resource!r}]]")
    args = "".join(
        f"        {key}={_literal(value, 9 + len(key))},\n" for key, value in fix.inputs.items()
    )
    return [
        f"\nif remediating({list(fix.checks)!r}):",
        f"    RESOURCES[{name!r}] = aws.s3.{fix.cls}(\n        {name!r},\n{args}"
        f"        opts=fix({', '.join(options)}),\n    )",
    ]


@dataclass(frozen=True)
class Fix:
    """Stage two for one resource: the inputs that make it compliant, and the checks asking."""

    account_id: str
    cls: str
    checks: tuple[str, ...]
    inputs: dict[str, Any]
    after_resource: str | None = None  # the policy a Block Public Access waits for
    # one policy fixed by several checks: its value for each remediated subset (sorted ids)
    variants: dict[tuple[str, ...], dict[str, Any]] | None = None


METRICS_RESOURCE = ("BucketMetric", "metrics-entire-bucket")


@dataclass(frozen=True)
class Remediation:
    """A remediation plan (:func:`s3compliance.iac.remediation.plan`, or its rows spooled by
    :func:`plan_scan`) and its settings, as the program's stage two renders them."""

    plan: pd.DataFrame | PlanStore
    settings: RemediationSettings
    checks: tuple[str, ...] = tuple(FIXES)  # what the stack may list in s3compliance:remediate

    def by_resource(self) -> dict[str, Fix]:
        """One :class:`Fix` per resource name, in plan order (two checks may fix one resource:
        ``public_access`` and ``block_public_access`` both turn Block Public Access on)."""
        assert isinstance(self.plan, pd.DataFrame)  # a piece of the plan, read back by bucket
        fixes: dict[str, Fix] = {}
        active = self.plan[self.plan["change"].isin(["create", "update"])]
        for r in active.itertuples(index=False):
            base = logical_name(r.bucket)
            if r.document == "metrics":
                cls, suffix = METRICS_RESOURCE
                converted: dict[str, Any] | None = {"name": r.after["Id"]}
            else:
                _type, cls, suffix, convert = SUB_RESOURCES[r.document]
                converted = convert(r.after)
            name = f"{base}-{suffix}"
            inputs = {"bucket": r.bucket, "region": r.region, **(converted or {})}
            after = None
            if r.document == "public_access_block":
                policy = active[(active["bucket"] == r.bucket) & (active["document"] == "policy")]
                after = f"{base}-{SUB_RESOURCES['policy'][2]}" if len(policy) else None
            if name in fixes:
                old = fixes[name]
                checks = tuple(dict.fromkeys([*old.checks, r.check_id]))
                variants = None
                if r.document == "policy":  # public_access and ssl_only edit one document
                    variants = _policy_variants(active, r.bucket, str(r.account_id))
                fixes[name] = Fix(
                    old.account_id, cls, checks, inputs, old.after_resource or after, variants
                )
            else:
                fixes[name] = Fix(str(r.account_id), cls, (r.check_id,), inputs, after)
        return fixes


def _policy_variants(
    active: pd.DataFrame, bucket: str, owner: str
) -> dict[tuple[str, ...], dict[str, Any]]:
    """The policy for each non-empty subset of the checks fixing it: the ssl_only Deny is not
    public, so the public_access rewrite applies to it unchanged."""
    rows = active[(active["bucket"] == bucket) & (active["document"] == "policy")]
    after = dict(zip(rows["check_id"], rows["after"], strict=True))
    both = fixed_policy(after["ssl_only"], owner)[0]
    chosen = {
        ("public_access",): after["public_access"],
        ("ssl_only",): after["ssl_only"],
        ("public_access", "ssl_only"): both,
    }
    return {k: _policy_inputs(v) for k, v in chosen.items()}


_Parts = Iterator[tuple[pd.DataFrame, pd.DataFrame]]  # each part's bucket rows and findings


class SpooledScan(Protocol):
    """What :func:`plan_scan` reads of a scan result (:class:`s3compliance.scan.ScanResult`;
    named by shape: the generator does not import the scan)."""

    buckets: pd.DataFrame

    def by_part(self, buckets: Collection[str] | None = None) -> _Parts: ...

    def bucket_checks(self) -> list[str]: ...


def plan_scan(
    result: SpooledScan, scope: str, settings: RemediationSettings
) -> tuple[PlanStore, Remediation]:
    """The import plan of ``scope`` and stage two (every fixable check the scan ran) of a scan,
    planned a spooled part at a time (``result.by_part``) into two :class:`PlanStore`: one
    part's evidence and one part's plans in memory at once, whatever the bucket count. Read
    back by bucket, they are the rows :func:`plan_imports` and :func:`remediation_for_scan`
    make from every finding, in the same order."""
    ran = set(result.bucket_checks())  # as plan_for_scan: the checks of the bucket findings
    fixable = [c for c in FIXES if c in ran]
    imports = PlanStore(IMPORT_PLAN_COLUMNS, IMPORT_PLAN_DOCUMENTS)
    fixes = PlanStore(PLAN_COLUMNS, REMEDIATION_DOCUMENTS)
    for buckets, findings in result.by_part(buckets_in_scope(result.buckets, scope)):
        imports.add(plan_imports(findings, buckets, scope))
        fixes.add(plan_fixes(findings, buckets, fixable, settings))
    return imports, Remediation(fixes, settings)


def import_store(plan: pd.DataFrame | PlanStore) -> PlanStore:
    """An import plan as a :class:`PlanStore` (one made in one piece is spooled as one part)."""
    if isinstance(plan, PlanStore):
        return plan
    return PlanStore.of(plan, IMPORT_PLAN_COLUMNS, IMPORT_PLAN_DOCUMENTS)


def stored(remediation: Remediation | None) -> Remediation | None:
    """``remediation`` with its plan as a :class:`PlanStore`."""
    if remediation is None or isinstance(remediation.plan, PlanStore):
        return remediation
    plan = PlanStore.of(remediation.plan, PLAN_COLUMNS, REMEDIATION_DOCUMENTS)
    return replace(remediation, plan=plan)


def remediation_for_scan(
    findings: pd.DataFrame, buckets: pd.DataFrame, settings: RemediationSettings
) -> Remediation:
    """Stage two for every fixable check the scan ran: the run folder's program."""
    return Remediation(plan_for_scan(findings, buckets, settings), settings)


def remediation_header(remediation: Remediation) -> list[str]:
    """Stage two's switches: which checks the stack asks to fix, and the settings the plan was
    made with (a config value that differs stops the program: the reviewed plan is what runs)."""
    generated = remediation.settings.config()
    return [
        "",
        "# Stage two (remediation): off until the stack lists checks, e.g.",
        """#   pulumi config set s3compliance:remediate '["versioning", "encryption"]'""",
        "# Apply stage one (the imports) first: see README.md.",
        'CONFIG = pulumi.Config("s3compliance")',
        'REMEDIATE = set(CONFIG.get_object("remediate") or [])',
        f"FIXABLE = {[c for c in remediation.checks if c in FIXES]!r}",
        "if not REMEDIATE <= set(FIXABLE):",
        "    raise ValueError(",
        '        "s3compliance:remediate names checks with no fix in this program: "',
        '        + ", ".join(sorted(REMEDIATE - set(FIXABLE)))',
        '        + " (fixable: " + ", ".join(FIXABLE) + ")"',
        "    )",
        f"GENERATED_WITH = {generated!r}",
        "for _key, _value in GENERATED_WITH.items():",
        "    if CONFIG.get(_key) is not None and CONFIG.get(_key) != _value:",
        "        raise ValueError(",
        '            f"s3compliance:{_key} is {CONFIG.get(_key)!r}, but this program was "',
        '            f"generated with {_value!r}: run s3compliance remediate-plan with the "',
        '            "new value and review its plan"',
        "        )",
        "",
        "",
        "def remediating(checks):",
        "    return bool(REMEDIATE & set(checks))",
        "",
        "",
        "def pick(checks, scanned, fixed):",
        '    """The compliant value when one of these checks is remediated, else the scanned."""',
        "    return fixed if remediating(checks) else scanned",
        "",
        "",
        "def choose(checks, scanned, variants):",
        '    """The value for the remediated subset of these checks (keys: sorted check ids)."""',
        "    key = tuple(sorted(REMEDIATE & set(checks)))",
        "    return variants[key] if key else scanned",
        "",
        "",
        "def fix(provider=None, depends_on=None):",
        "    return pulumi.ResourceOptions(provider=provider, depends_on=depends_on)",
    ]


PULUMI_YAML = """name: s3compliance-import
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: venv
description: Buckets flagged by s3compliance, imported and protected (generated)
"""
REQUIREMENTS = f"pulumi>=3,<4\npulumi-aws>={PULUMI_AWS_MAJOR},<{PULUMI_AWS_MAJOR + 1}\n"


def _org_readme(accounts: list[str], providers: Providers) -> list[str]:
    return [
        "",
        f"## Accounts ({len(accounts)})",
        "",
        "The program declares one `aws.Provider` per account, pinned with `allowed_account_ids`:",
        f"the scanning account ({providers.caller}) uses the stack's own credentials, the others "
        f"assume `{providers.role_name}`, as the scan did. Run it with the scanning account's "
        "credentials.",
        "",
        "`import.json` names each resource's provider through its `nameTable`, which the",
        "`pulumi import --file` format requires to hold the URN of a provider *already in the",
        f"stack* (URNs written for stack `{STACK}`, project `{PROJECT}`). Either create the",
        "providers first (they are not cloud resources: nothing changes in AWS):",
        "",
        "```sh",
        "pulumi up "
        + " ".join(f"--target '{provider_urn(a)}'" for a in accounts[:3])
        + (" ..." if len(accounts) > 3 else ""),
        "pulumi import --file import.json",
        "```",
        "",
        "or import per account, each with that account's credentials and no provider:",
        "`import-<account id>.json` holds that account's resources only.",
    ]


def _readme(
    plan: pd.DataFrame | PlanStore, alarm: Alarm | None = None, providers: Providers | None = None
) -> str:
    return "\n".join(_readme_lines(import_store(plan), alarm, providers)) + "\n"


def _readme_lines(
    imports: PlanStore, alarm: Alarm | None = None, providers: Providers | None = None
) -> Iterator[str]:
    regions = sorted(imports.distinct("region", IMPORTED))
    lines = [
        "# Pulumi import of the flagged buckets",
        "",
        f"{imports.count(IMPORTED)} resources on {imports.count_distinct('bucket', IMPORTED)} "
        "bucket(s), "
        f"regions: {', '.join(regions) or 'none'}. Nothing below modifies a bucket: resources are",
        "imported (read) and protected against deletion.",
        "",
        "Run, in this folder:",
        "",
        "```sh",
        "python3 -m venv venv && venv/bin/pip install -r requirements.txt",
        "pulumi login --local            # or your backend",
        "pulumi stack init adopt-s3",
        f"pulumi config set aws:region {regions[0] if regions else 'us-east-1'}",
        "pulumi preview                  # expect only '= import' lines, no '~ update'",
        "pulumi up                       # performs the imports (reads only)",
        "```",
        "",
        "Each resource sets its own `region`, so one stack adopts buckets of every region.",
        "Alternatively, `pulumi import --file import.json` imports the same resources and writes",
        "its own program (type tokens of pulumi-aws "
        f"{PULUMI_AWS_MAJOR}.x; ids are bucket names, as that provider documents).",
    ]
    if alarm is not None:
        lines += [
            "",
            "The program also **creates** a CloudWatch alarm (NonCompliantBuckets > "
            f"{alarm.threshold}, {alarm.region}) and its SNS topic: subscribe to the topic to be",
            "told. They read the metrics the scan publishes with `publish_metrics: true`; they",
            "change no bucket.",
        ]
    if providers is not None:
        lines += _org_readme(sorted(imports.distinct("account_id", IMPORTED)), providers)
    yield from lines
    left_out = "action = 'left-out'"
    if imports.count(left_out):
        yield from ["", "Left out (never guessed):", ""]
        for left in imports.pieces(left_out):
            yield from (f"- `{r.name}` ({r.type}): {r.note}" for r in left.itertuples(index=False))


def config_commands(checks: list[str], settings: RemediationSettings) -> list[str]:
    """The exact ``pulumi config set`` commands for stage two with these checks and settings."""
    fixable = [c for c in checks if c in FIXES]  # the others are manual: not in the program
    commands = [f"pulumi config set s3compliance:remediate '{json.dumps(fixable)}'"]
    defaults = RemediationSettings().config()
    relevant = {
        "kmsKeyId": ("encryption", "kms_encryption"),
        "lifecycleStorageClass": ("lifecycle",),
        "lifecycleAction": ("lifecycle",),
        "logTargetBucket": ("access_logging",),
    }
    for key, value in settings.config().items():
        if value is not None and value != defaults[key] and set(relevant[key]) & set(checks):
            commands.append(f"pulumi config set s3compliance:{key} {shlex.quote(value)}")
    return commands


def _remediation_readme(remediation: Remediation) -> Iterator[str]:
    """README's stage two section, the rows it lists read back by bucket."""
    plan = remediation.plan
    assert isinstance(plan, PlanStore)
    checks = plan.distinct("check_id", ACTIVE)
    yield from [
        "",
        "## Stage two: remediation (opt-in)",
        "",
        "Only after stage one has been applied (`pulumi up` above: the resources are then in the",
        "stack, and `import_` is ignored for them). Then, per check to fix:",
        "",
        "```sh",
        *config_commands(checks or ["versioning"], remediation.settings),
        "pulumi preview                  # review: '~ update' and '+ create' of the fixes only",
        "pulumi up",
        "```",
        "",
        "Undo: `pulumi config rm s3compliance:remediate` and `pulumi up` declares the scanned",
        "configuration again. `remediation_plan.csv` lists every change with the S3 documents",
        "before and after; nothing is deleted (no bucket, no statement, no lifecycle rule, no data",
        "unless lifecycleAction is expire).",
    ]
    policies = f"{ACTIVE} AND document = 'policy'"
    if plan.count(policies):
        yield from ["", "Policy statements rewritten (public -> this account only):", ""]
        for piece in plan.pieces(policies):
            yield from (f"- `{r.bucket}`: {r.note}" for r in piece.itertuples(index=False))
    other = "change IN ('manual', 'skipped')"
    if plan.count(other):
        yield from ["", "Not fixed here:", ""]
        for piece in plan.pieces(other):
            yield from (
                f"- `{r.bucket}` {r.check_id}: {r.change}, {r.note}"
                for r in piece.itertuples(index=False)
            )


def _write_remediation_csv(out: TextIO, plan: PlanStore) -> None:
    """``remediation_plan.csv``: the readable plan, a piece at a time (one header)."""
    header = True
    for piece in plan.pieces():
        out.write(remediation_table(piece).to_csv(index=False, header=header, lineterminator="\n"))
        header = False
    if header:  # nothing planned: the header alone
        out.write(remediation_table(plan.empty()).to_csv(index=False, lineterminator="\n"))


def write_pulumi_folder(
    plan: pd.DataFrame | PlanStore,
    folder: str | Path,
    alarm: Alarm | None = None,
    providers: Providers | None = None,
    remediation: Remediation | None = None,
) -> Path:
    """``import.json``, ``__main__.py``, ``Pulumi.yaml``, ``requirements.txt``, ``README.md``;
    with ``providers`` also ``import-<account>.json`` per account; with ``remediation`` also
    ``remediation_plan.csv`` (and stage two in the program). Each file is written a few
    thousand plan rows at a time, atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    imports = import_store(plan)
    remediation = stored(remediation)
    _write_import_file(folder / "import.json", imports, providers)
    if providers is not None:
        for account in sorted(imports.distinct("account_id")):  # a bucket is always imported
            if not re.fullmatch(r"\d{12}", account):  # a file name: refuse anything odd
                raise ValueError(f"refusing to write an import file for account {account!r}")
            _write_import_file(folder / f"import-{account}.json", imports, None, account)
    atomic_write_stream(
        folder / "__main__.py",
        lambda out: write_program(out, imports, alarm, providers, remediation),
    )
    atomic_write_text(folder / "Pulumi.yaml", PULUMI_YAML)
    atomic_write_text(folder / "requirements.txt", REQUIREMENTS)
    readme = _readme_lines(imports, alarm, providers)
    if remediation is not None:
        assert isinstance(remediation.plan, PlanStore)
        fixes = remediation.plan
        atomic_write_stream(
            folder / "remediation_plan.csv", lambda out: _write_remediation_csv(out, fixes)
        )
        readme = itertools.chain(readme, _remediation_readme(remediation))
    atomic_write_stream(folder / "README.md", lambda out: _emit(out, readme))
    return folder


def alarm_for(alarm_threshold: int | None, regions: list[str]) -> Alarm | None:
    """The alarm the parameters ask for (``alarm_threshold``), in the run's home region."""
    if alarm_threshold is None:
        return None
    return Alarm(alarm_threshold, home_region(regions))


def run_folder_writer(
    plan: pd.DataFrame,
    alarm: Alarm | None = None,
    providers: Providers | None = None,
    remediation: Remediation | None = None,
) -> Callable[[Path], Path]:
    """A writer for :func:`s3compliance.outputs.report.write_report`'s ``extra_writers``: the
    Pulumi files go to ``pulumi/`` inside the run folder, staged and published with the rest."""
    return lambda folder: write_pulumi_folder(
        plan, Path(folder) / "pulumi", alarm, providers, remediation
    )


def plan_table(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan for people: one row per resource, without the (long) inputs."""
    accounts = ["account_id"] if plan["account_id"].nunique() > 1 else []
    table = plan[[*accounts, "bucket", "type", "name", "action", "note"]].copy()
    table["type"] = table["type"].str.rsplit(":", n=1).str[-1]
    return table.reset_index(drop=True)
