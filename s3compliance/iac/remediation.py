"""Remediation as code: the compliant configuration of each flagged bucket, as a reviewed plan.

Stage two of the generated Pulumi program (see :mod:`s3compliance.iac.pulumi_import`): for each
flagged bucket and each check it failed, the configuration that passes the check, computed here
from the documents the scan read (no AWS call) as S3 API documents, before and after. The plan is
data: the notebook, ``s3compliance remediate-plan`` and the program's stage two all come from it,
so what a reviewer reads is what ``pulumi preview`` shows.

What a fix never does: delete a bucket, a policy statement it did not name, an existing lifecycle
rule, or data (expiring objects is opt-in, ``lifecycle_action="expire"``). A check whose
documents could not be read (ERROR) gets no fix, and the plan says why; a check with no safe
declarative fix is listed as manual, never guessed.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from s3compliance.checks import CATALOGUE
from s3compliance.checks.policy import evaluate_policy
from s3compliance.iac.evidence_index import evidence_by_bucket
from s3compliance.iac.plan_store import PlanStore, PlanView

if TYPE_CHECKING:
    from s3compliance.params import Params

#: What each automated fix declares (the plan's notes and the README say the same).
FIXES = {
    "versioning": "versioning Enabled (an existing MFA delete setting is kept)",
    "encryption": "default encryption AES256, or aws:kms with the given key",
    "lifecycle": "existing rules kept, plus a whole-bucket rule 's3compliance-max-age' that "
    "transitions (or, opted in, expires) objects at the scan's maximum age",
    "public_access": "each public statement gains StringEquals aws:PrincipalAccount = the "
    "bucket's account; then Block Public Access with all four flags on",
    "block_public_access": "Block Public Access with all four flags on",
    "cloudwatch_metrics": "a request-metrics configuration 'EntireBucket' with no filter",
    "kms_encryption": "default encryption aws:kms with the given key (kmsKeyId)",
    "acls_disabled": "ObjectOwnership BucketOwnerEnforced (only when the ACL grants nothing "
    "beyond the owner: S3 refuses it otherwise)",
    "access_logging": "server access logs to the given bucket (logTargetBucket, same region), "
    "prefix '<bucket>/'",
    "ssl_only": "a Deny of every request without TLS (aws:SecureTransport false) added to the "
    "policy, every other statement kept",
}
#: Checks with no safe declarative fix in this version: listed as manual, with the reason.
MANUAL = {
    "mfa_delete": "MFA delete can only be set by the root user with an MFA code",
    "object_lock": "Object Lock cannot be enabled declaratively on an existing bucket safely",
    "replication": "replication needs a destination bucket and a role chosen by a person",
    "cross_account": "which other accounts should keep access is a decision, not a default",
}
RULE_ID = "s3compliance-max-age"
TLS_SID = "s3compliance-deny-insecure-transport"
METRICS_ID = "EntireBucket"
PAB_ON = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
#: Storage classes a lifecycle transition may name, and the minimum age S3 accepts for each.
STORAGE_CLASSES = {
    "STANDARD_IA": 30,
    "ONEZONE_IA": 30,
    "INTELLIGENT_TIERING": 0,
    "GLACIER_IR": 0,
    "GLACIER": 0,
    "DEEP_ARCHIVE": 0,
}
PLAN_COLUMNS = [
    "account_id",
    "bucket",
    "region",
    "check_id",
    "document",
    "change",
    "before",
    "after",
    "note",
]


class RemediationError(ValueError):
    """A remediation request that cannot be planned; the message says what to change."""


@dataclass(frozen=True)
class RemediationSettings:
    """What the fixes depend on beyond the scan: the Pulumi config keys of the same names."""

    lifecycle_max_age_days: int = 90
    lifecycle_storage_class: str = "GLACIER_IR"
    lifecycle_action: str = "transition"  # or "expire": deletes objects, opt-in only
    kms_key_id: str | None = None
    allowed_sse_algorithms: tuple[str, ...] = ("AES256", "aws:kms", "aws:kms:dsse")
    log_target_bucket: str | None = None

    def __post_init__(self) -> None:
        if self.lifecycle_action not in ("transition", "expire"):
            raise RemediationError(
                f"lifecycleAction must be transition or expire, not {self.lifecycle_action!r}"
            )
        minimum = STORAGE_CLASSES.get(self.lifecycle_storage_class)
        if minimum is None:
            raise RemediationError(
                f"lifecycleStorageClass must be one of {', '.join(STORAGE_CLASSES)}, "
                f"not {self.lifecycle_storage_class!r}"
            )
        if self.lifecycle_action == "transition" and self.lifecycle_max_age_days < minimum:
            raise RemediationError(
                f"S3 refuses a transition to {self.lifecycle_storage_class} before {minimum} "
                f"days; the scan's maximum age is {self.lifecycle_max_age_days}"
            )

    def config(self) -> dict[str, str | None]:
        """The Pulumi config values (``s3compliance:<key>``) these settings correspond to."""
        return {
            "kmsKeyId": self.kms_key_id,
            "lifecycleStorageClass": self.lifecycle_storage_class,
            "lifecycleAction": self.lifecycle_action,
            "logTargetBucket": self.log_target_bucket,
        }


def fixed_versioning(before: dict[str, Any] | None) -> dict[str, Any]:
    after = {"Status": "Enabled"}
    if before and before.get("MFADelete"):
        after["MFADelete"] = before["MFADelete"]
    return after


def fixed_encryption(settings: RemediationSettings) -> dict[str, Any]:
    default: dict[str, Any] = {"SSEAlgorithm": "AES256"}
    if settings.kms_key_id:
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": settings.kms_key_id}
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": default}]}


def max_age_rule(settings: RemediationSettings, versioned: bool) -> dict[str, Any]:
    """The whole-bucket rule that makes ``lifecycle`` pass: current objects (and, on a
    versioned bucket, noncurrent versions) move to the storage class at the maximum age, or are
    expired when that was chosen."""
    days = settings.lifecycle_max_age_days
    rule: dict[str, Any] = {"ID": RULE_ID, "Status": "Enabled", "Filter": {}}
    if settings.lifecycle_action == "expire":
        rule["Expiration"] = {"Days": days}
        if versioned:
            rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
    else:
        rule["Transitions"] = [{"Days": days, "StorageClass": settings.lifecycle_storage_class}]
        if versioned:
            rule["NoncurrentVersionTransitions"] = [
                {"NoncurrentDays": days, "StorageClass": settings.lifecycle_storage_class}
            ]
    return rule


def fixed_lifecycle(
    before: list[dict[str, Any]] | None, settings: RemediationSettings, versioned: bool
) -> list[dict[str, Any]]:
    """Every existing rule as it is, and ours (replacing an earlier rule of ours, if any)."""
    kept = [r for r in (before or []) if r.get("ID") != RULE_ID]
    return [*copy.deepcopy(kept), max_age_rule(settings, versioned)]


def fixed_policy(policy: dict[str, Any], owner: str) -> tuple[dict[str, Any], list[str], list[str]]:
    """Each statement the evaluator finds public gains ``StringEquals aws:PrincipalAccount =
    owner`` (ANDed with its own conditions, so in-account callers keep their access); every other
    statement stays as it is. Returns the policy, the labels of the statements rewritten, and the
    labels of those the same evaluator still reads as public in the result (a statement whose
    ``Condition`` block is unreadable cannot be rewritten): the fix is only offered when that
    last list is empty."""
    after = copy.deepcopy(policy)
    statements = after["Statement"]
    listed = statements if isinstance(statements, list) else [statements]
    rewritten = []
    for verdict in [v for v in evaluate_policy(policy) if v.public]:
        statement = listed[verdict.index]
        condition = statement.setdefault("Condition", {})
        if not isinstance(condition, dict) or not isinstance(
            condition.setdefault("StringEquals", {}), dict
        ):
            continue
        condition["StringEquals"]["aws:PrincipalAccount"] = owner
        rewritten.append(verdict.label)
    still_public = [v.label for v in evaluate_policy(after) if v.public]
    return after, rewritten, still_public


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    """The statement ``ssl_only`` looks for: everyone, every S3 action, on the bucket and its
    objects, denied when the request did not use TLS."""
    return {
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def fixed_ssl_policy(policy: dict[str, Any] | None, bucket_arn: str) -> dict[str, Any]:
    """The policy with our Deny appended (replacing an earlier one of ours); a bucket without a
    policy gets one holding just that statement."""
    if policy is None:
        return {"Version": "2012-10-17", "Statement": [deny_insecure_transport(bucket_arn)]}
    after = copy.deepcopy(policy)
    statements = after["Statement"]
    listed = statements if isinstance(statements, list) else [statements]
    kept = [st for st in listed if st.get("Sid") != TLS_SID]
    after["Statement"] = [*kept, deny_insecure_transport(bucket_arn)]
    return after


def _row(b: Any, check: str, document: str, change: str, before: Any, after: Any, note: str):
    return {
        "account_id": b.account_id,
        "bucket": b.bucket,
        "region": b.region,
        "check_id": check,
        "document": document,
        "change": change,
        "before": before,
        "after": after,
        "note": note,
    }


def grants_beyond_owner(acl: dict[str, Any]) -> list[str]:
    """Who the ACL grants to besides the bucket owner (S3 refuses BucketOwnerEnforced then)."""
    owner = (acl.get("Owner") or {}).get("ID")
    others = []
    for grant in acl.get("Grants") or []:
        grantee = grant.get("Grantee") or {}
        if grantee.get("Type") == "CanonicalUser" and grantee.get("ID") == owner:
            continue
        others.append(str(grantee.get("URI") or grantee.get("ID") or grantee.get("Type")))
    return others


def _extended_fixes(
    b: Any, check: str, read: dict[str, Any], settings: RemediationSettings, regions: dict
) -> list[dict[str, Any]]:
    """kms_encryption, acls_disabled, access_logging: each needs something only a person knows
    (a key, a clean ACL, a log bucket), and says so when it is missing."""
    if check == "kms_encryption":
        if not settings.kms_key_id:
            note = "needs kmsKeyId: a customer managed key chosen by a person"
            return [_row(b, check, "encryption", "manual", read.get("encryption"), None, note)]
        before = read.get("encryption")
        change = "update" if before is not None else "create"
        return [
            _row(b, check, "encryption", change, before, fixed_encryption(settings), FIXES[check])
        ]
    if check == "acls_disabled":
        if "acl" not in read:
            note = "the ACL was not read (profile: all reads it): S3 refuses this while it grants"
            return [_row(b, check, "ownership", "manual", read.get("ownership"), None, note)]
        others = grants_beyond_owner(read["acl"] or {})
        if others:
            note = (
                "the ACL grants to " + ", ".join(others) + ": move that access to the policy first"
            )
            return [_row(b, check, "ownership", "manual", read.get("ownership"), None, note)]
        before = read.get("ownership")
        after = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        change = "update" if (before or {}).get("Rules") else "create"
        return [_row(b, check, "ownership", change, before, after, FIXES[check])]
    target = settings.log_target_bucket
    before = read.get("logging")
    if not target:
        note = "needs logTargetBucket: the bucket that receives the logs"
    elif target == b.bucket:
        note = "this is the log target itself: a bucket does not log into itself"
    elif regions.get(target) != b.region:
        where = regions.get(target) or "a region this scan did not see"
        note = f"the log target is in {where}, not {b.region}: S3 delivers logs in-region only"
    else:
        after = {"TargetBucket": target, "TargetPrefix": f"{b.bucket}/"}
        change = "update" if before else "create"
        return [_row(b, check, "logging", change, before, after, FIXES[check])]
    return [_row(b, check, "logging", "manual", before, None, note)]


def _fixes(
    b: Any, check: str, read: dict[str, Any], settings: RemediationSettings, regions: dict
) -> list[dict[str, Any]]:
    """The rows of one failed check of one bucket whose documents were all read."""
    if check in ("kms_encryption", "acls_disabled", "access_logging"):
        return _extended_fixes(b, check, read, settings, regions)
    if check == "versioning":
        before = read.get("versioning")
        change = "update" if (before or {}).get("Status") else "create"
        return [
            _row(b, check, "versioning", change, before, fixed_versioning(before), FIXES[check])
        ]
    if check == "encryption":
        after = fixed_encryption(settings)
        algorithm = after["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        if algorithm not in settings.allowed_sse_algorithms:
            note = f"{algorithm} is not an allowed algorithm here: set kmsKeyId (aws:kms)"
            return [_row(b, check, "encryption", "manual", read.get("encryption"), None, note)]
        before = read.get("encryption")
        change = "update" if before is not None else "create"
        return [_row(b, check, "encryption", change, before, after, FIXES[check])]
    if check == "lifecycle":
        before = read.get("lifecycle") or None
        versioned = "versioning" in read and (read["versioning"] or {}).get("Status") is not None
        after = fixed_lifecycle(before, settings, versioned)
        change = "update" if before else "create"
        note = FIXES[check]
        if "versioning" not in read:
            note += " (versioning not read: noncurrent versions not covered)"
        return [_row(b, check, "lifecycle", change, before, after, note)]
    if check == "cloudwatch_metrics":
        before = read.get("metrics") or []
        if any(c.get("Id") == METRICS_ID for c in before):
            note = f"a filtered configuration is already named {METRICS_ID!r}: replace it by hand"
            return [_row(b, check, "metrics", "manual", before, None, note)]
        return [_row(b, check, "metrics", "create", before, {"Id": METRICS_ID}, FIXES[check])]
    if check == "ssl_only":
        before = read.get("policy")
        arn = getattr(b, "bucket_arn", "") or f"arn:aws:s3:::{b.bucket}"
        change = "update" if before else "create"
        after = fixed_ssl_policy(before, arn)
        return [_row(b, check, "policy", change, before, after, FIXES[check])]
    rows = []
    if check == "public_access":
        policy = read.get("policy")
        if not policy:
            note = "S3 reports the bucket public but its policy names no public statement"
            return [_row(b, check, "policy", "manual", policy, None, note)]
        after, rewritten, still_public = fixed_policy(policy, b.account_id)
        if still_public:
            note = (
                f"statements {', '.join(still_public)} would still read as public after the "
                "rewrite (unreadable Condition block): review by hand"
            )
            return [_row(b, check, "policy", "manual", policy, None, note)]
        if not rewritten:
            note = "S3's IsPublic says public but no statement reads as public: review by hand"
            return [_row(b, check, "policy", "manual", policy, None, note)]
        note = "statements rewritten: " + ", ".join(rewritten)
        rows.append(_row(b, check, "policy", "update", policy, after, note))
    note = "all four flags on" + (", after the policy" if rows else "")
    if "public_access_block" not in read:  # created: S3 keeps one setting, this replaces it
        note += "; the current setting was not read (profile: all reads it) and is replaced"
        return [*rows, _row(b, check, "public_access_block", "create", None, dict(PAB_ON), note)]
    pab = read["public_access_block"]
    change = "update" if pab is not None else "create"
    return [*rows, _row(b, check, "public_access_block", change, pab, dict(PAB_ON), note)]


def check_ids(checks: list[str] | str) -> list[str]:
    """The checks asked for, validated: a comma-separated string or a list."""
    wanted = [c.strip() for c in checks.split(",")] if isinstance(checks, str) else list(checks)
    wanted = [c for c in wanted if c]
    unknown = [c for c in wanted if c not in CATALOGUE]
    if unknown:
        raise RemediationError(
            f"unknown check id(s) {', '.join(map(repr, unknown))}: fixable are "
            f"{', '.join(FIXES)}; every other check is listed as manual"
        )
    return list(dict.fromkeys(wanted))


def manual_reason(check: str) -> str:
    return MANUAL.get(check, "no declarative fix for this check")


def plan(
    findings: pd.DataFrame,
    buckets: pd.DataFrame,
    checks: list[str] | str,
    settings: RemediationSettings | None = None,
) -> pd.DataFrame:
    """One row per (flagged bucket, failed check, document): ``change`` is ``create``,
    ``update``, ``manual`` (no safe declarative fix: ``note`` says why) or ``skipped`` (the check
    could not tell, did not run, or its FAIL is an accepted risk: ``note`` names the exception);
    ``before`` and ``after`` are S3 API documents. An ``accepted`` bucket is not flagged."""
    settings = settings or RemediationSettings()
    wanted = check_ids(checks)
    evidence = evidence_by_bucket(findings)
    status = {(r.bucket, r.check_id): r for r in findings.itertuples(index=False)}
    rows: list[dict[str, Any]] = []
    regions = dict(zip(buckets["bucket"], buckets["region"], strict=True))
    flagged = buckets[buckets["status"] == "non_compliant"].sort_values("bucket")
    for b in flagged.itertuples(index=False):
        read = evidence.get(b.bucket, {"read": {}, "errors": {}})["read"]
        for check in wanted:
            finding = status.get((b.bucket, check))
            if finding is None:
                rows.append(_row(b, check, "", "skipped", None, None, "not run by this scan"))
            elif finding.status == "ERROR":
                note = f"could not be read ({finding.error_code or 'error'}): no fix guessed"
                rows.append(_row(b, check, "", "skipped", None, None, note))
            elif finding.status != "FAIL":
                continue
            elif getattr(finding, "exception_id", ""):  # the team chose to keep it: never "fixed"
                expires = getattr(finding, "exception_expires", "")
                note = f"accepted risk {finding.exception_id} (until {expires}): not fixed"
                rows.append(_row(b, check, "", "skipped", None, None, note))
            elif check not in FIXES:
                rows.append(_row(b, check, "", "manual", None, None, manual_reason(check)))
            else:
                rows.extend(_fixes(b, check, read, settings, regions))
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


ACRONYMS = {"id": "ID", "sse": "SSE", "kms": "KMS", "mfa": "MFA"}


def api_shape(value: Any) -> Any:
    """pulumi-aws inputs (snake_case) -> S3 API shapes (CamelCase): the import's converters in
    reverse, so that a declared resource can be checked as the scan would read it."""
    if isinstance(value, list):
        return [api_shape(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "and_":
            inner = {k: v for k, v in item.items() if k != "tags"}
            out["And"] = api_shape(inner)
            if "tags" in item:
                out["And"]["Tags"] = [{"Key": k, "Value": v} for k, v in item["tags"].items()]
            continue
        out["".join(ACRONYMS.get(p, p.capitalize()) for p in key.split("_"))] = api_shape(item)
    return out


def document_of(document: str, inputs: dict[str, Any]) -> Any:
    """The S3 API document a declared resource of ``document`` stands for (snake_case inputs)."""
    if document == "versioning":
        return api_shape(inputs["versioning_configuration"])
    if document == "encryption":
        return {"Rules": api_shape(inputs["rules"])}
    if document == "lifecycle":
        return api_shape(inputs["rules"])
    if document == "policy":
        return json.loads(inputs["policy"])
    if document == "public_access_block":
        return {flag: bool(inputs.get(_snake_flag(flag), False)) for flag in PAB_ON}
    if document == "metrics":
        return {
            "Id": inputs["name"],
            **({"Filter": inputs["filter"]} if inputs.get("filter") else {}),
        }
    if document == "ownership":
        return {"Rules": [{"ObjectOwnership": inputs["rule"]["object_ownership"]}]}
    if document == "logging":
        return {"TargetBucket": inputs["target_bucket"], "TargetPrefix": inputs["target_prefix"]}
    raise ValueError(f"no document for {document!r}")


def _snake_flag(flag: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in flag).lstrip("_")


def settings_from(parameters: dict[str, Any]) -> RemediationSettings:
    """The fixes' settings from a run's parameters (``Params.to_dict()`` or a findings file's
    ``parameters``: older files lack the remediation keys, the defaults stand in)."""
    default = RemediationSettings()
    return RemediationSettings(
        lifecycle_max_age_days=int(parameters.get("lifecycle_max_age_days") or 90),
        lifecycle_storage_class=parameters.get("lifecycle_storage_class")
        or default.lifecycle_storage_class,
        lifecycle_action=parameters.get("lifecycle_action") or default.lifecycle_action,
        kms_key_id=parameters.get("kms_key_id") or None,
        log_target_bucket=parameters.get("log_target_bucket") or None,
        allowed_sse_algorithms=tuple(
            parameters.get("allowed_sse_algorithms") or default.allowed_sse_algorithms
        ),
    )


def settings_for(params: Params) -> RemediationSettings:
    """The fixes' settings from a scan's parameters (the notebook's and the run folder's)."""
    return settings_from(params.to_dict())


def plan_for_scan(
    findings: pd.DataFrame, buckets: pd.DataFrame, settings: RemediationSettings
) -> pd.DataFrame:
    """Every fixable check the scan ran, planned: what the run folder's program can do."""
    ran = set(findings["check_id"])
    return plan(findings, buckets, [c for c in FIXES if c in ran], settings)


def chosen(
    remediation: pd.DataFrame | PlanStore, checks: list[str]
) -> pd.DataFrame | PlanView | str:
    """The notebook's "Remediation plan": the rows of the checks asked for (``remediate``;
    of a spooled plan, a view the report reads the first rows of), or the sentence saying none
    was."""
    stored = isinstance(remediation, PlanStore)
    if not checks:
        named = remediation.distinct("check_id") if stored else remediation["check_id"]
        return (
            "Remediation is off (remediate: []). The run folder's Pulumi program can fix: "
            + ", ".join(sorted(set(named)) or ["nothing flagged"])
            + " (docs/tasks/remediation.md)."
        )
    if isinstance(remediation, PlanStore):
        return PlanView(remediation, "list_contains(?, check_id)", [list(checks)], plan_table)
    return plan_table(remediation[remediation["check_id"].isin(checks)])


def plan_table(remediation: pd.DataFrame) -> pd.DataFrame:
    """The plan for people: before and after as compact JSON."""
    table = remediation.copy()
    for column in ("before", "after"):
        table[column] = [
            "" if v is None else json.dumps(v, sort_keys=True, separators=(",", ":"))
            for v in table[column]
        ]
    return table.reset_index(drop=True)
