"""The five checks of the default ``mission`` profile (spec: checks.md, profile ``mission``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from s3compliance.checks.policy import evaluate_policy
from s3compliance.checks.registry import Settings, Unreadable, Verdict, check


@check(
    id="versioning",
    title="Bucket versioning is enabled",
    severity="medium",
    documents=("versioning",),
    violation="Versioning not enabled",
    remediation="Enable versioning: aws s3api put-bucket-versioning --bucket <b> "
    "--versioning-configuration Status=Enabled",
)
def versioning(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """Without versioning an overwrite or a delete loses the object for good."""
    status = (ev["versioning"] or {}).get("Status")
    if status == "Enabled":
        return Verdict(True, "Versioning status is Enabled.")
    if status == "Suspended":
        return Verdict(False, "Versioning is Suspended: new writes overwrite the current version.")
    return Verdict(False, "Versioning has never been enabled on this bucket.")


@check(
    id="encryption",
    title="Default server-side encryption is configured",
    severity="high",
    documents=("encryption",),
    violation="Server-side encryption not configured",
    remediation="Set default encryption (SSE-S3 or SSE-KMS): aws s3api put-bucket-encryption.",
)
def encryption(ev: Mapping[str, Any], settings: Settings) -> Verdict:
    """Objects written without an explicit header must still be encrypted at rest."""
    allowed = settings.allowed_sse_algorithms
    if ev["encryption"] is None:
        return Verdict(False, "No default encryption configuration on the bucket.")
    seen: list[str] = []
    for rule in ev["encryption"].get("Rules", []):
        algorithm = (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
        if algorithm in allowed:
            return Verdict(True, f"Default encryption uses {algorithm}.")
        if algorithm:
            seen.append(algorithm)
    if seen:
        return Verdict(
            False, f"Default encryption uses {', '.join(seen)}, not one of {', '.join(allowed)}."
        )
    return Verdict(False, "The encryption configuration sets no default algorithm.")


def _rule_scope(rule: dict[str, Any]) -> str:
    """Empty when the rule applies to the whole bucket, else a description of its scope."""
    parts: list[str] = []
    filt = rule.get("Filter")
    prefix = rule.get("Prefix") or ""  # legacy top-level prefix
    if isinstance(filt, dict):
        and_ = filt.get("And") or {}
        prefix = prefix or filt.get("Prefix") or and_.get("Prefix") or ""
        tags = ([filt["Tag"]] if filt.get("Tag") else []) + list(and_.get("Tags") or [])
        if tags:
            parts.append("tags " + ", ".join(f"{t.get('Key')}={t.get('Value')}" for t in tags))
        for key in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
            if key in filt or key in and_:
                parts.append(f"{key} {filt.get(key, and_.get(key))}")
    if prefix:
        parts.insert(0, f"prefix '{prefix}'")
    return "; ".join(parts)


def _acting_days(rule: dict[str, Any]) -> list[int]:
    """The ages (days) at which the rule expires or transitions current objects."""
    days: list[int] = []
    expiration = rule.get("Expiration") or {}
    if "Days" in expiration:
        days.append(int(expiration["Days"]))
    transitions = list(rule.get("Transitions") or [])
    if rule.get("Transition"):
        transitions.append(rule["Transition"])
    days.extend(int(t["Days"]) for t in transitions if "Days" in t)
    return days


@check(
    id="lifecycle",
    title="A whole-bucket lifecycle rule acts on old objects",
    severity="medium",
    documents=("lifecycle",),
    violation="Lifecycle policy missing for objects older than {lifecycle_max_age_days} days",
    remediation="Add an enabled lifecycle rule with no filter that expires or transitions "
    "objects within the allowed age.",
)
def lifecycle(ev: Mapping[str, Any], settings: Settings) -> Verdict:
    """Objects older than the limit must be expired or moved; a scoped rule leaves the rest."""
    limit = settings.lifecycle_max_age_days
    rules = ev["lifecycle"]
    if not rules:
        return Verdict(False, "No lifecycle configuration on the bucket.")
    notes: list[str] = []
    for rule in rules:
        name = f"'{rule.get('ID') or '(no id)'}'"
        scope = _rule_scope(rule)
        days = _acting_days(rule)
        if rule.get("Status") != "Enabled":
            notes.append(f"rule {name} is {rule.get('Status', 'not enabled')}")
        elif scope:
            notes.append(f"rule {name} is scoped to {scope}")
        elif not days:
            notes.append(f"rule {name} neither expires nor transitions current objects by age")
        elif min(days) <= limit:
            return Verdict(
                True, f"Whole-bucket rule {name} acts on objects at {min(days)} days (<= {limit})."
            )
        else:
            notes.append(f"whole-bucket rule {name} acts only at {min(days)} days (> {limit})")
    return Verdict(
        False, f"No enabled whole-bucket rule acts within {limit} days: " + "; ".join(notes) + "."
    )


@check(
    id="public_access",
    title="The bucket policy does not allow public access",
    severity="critical",
    documents=("policy", "policy_status"),
    corroborating=("policy_status",),
    violation="Bucket policy allows public access",
    remediation="Remove or restrict the public Allow statements (pin them with aws:SourceVpce, "
    "aws:PrincipalOrgID, ...) and turn on Block Public Access.",
)
def public_access(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """A public Allow statement lets anyone on the internet use the bucket.

    The policy is required: a statement it shows to be public fails the check whatever else is
    known. S3's own ``IsPublic`` (GetBucketPolicyStatus) corroborates: true also fails; when it
    cannot be read, a policy our reading finds private is ERROR (IsPublic could still say public).
    Both readings are kept in the evidence, and the reason names each decisive statement and
    condition.
    """
    verdicts = evaluate_policy(ev["policy"])
    public = [v for v in verdicts if v.public]
    status = ev["policy_status"]
    is_public = None if isinstance(status, Unreadable) else (status or {}).get("IsPublic")
    analysis = {
        "evaluator_public": bool(public),
        "policy_status_is_public": is_public,
        "statements": [
            {
                "statement": v.label,
                "public": v.public,
                "why": v.why,
                "conditions": list(v.conditions),
            }
            for v in verdicts
        ],
    }
    if public:
        described = "; ".join(v.describe() for v in public)
        note = " (S3's IsPublic says false)" if is_public is False else ""
        return Verdict(False, f"Public: {described}{note}.", analysis)
    if ev["policy"] is None:
        return Verdict(True, "No bucket policy.", analysis)
    private = "; ".join(v.describe() for v in verdicts) or "no statement allows everyone"
    if isinstance(status, Unreadable):
        return Verdict.undetermined(
            status,
            f"The policy reads as private ({private}), but S3's IsPublic is unknown.",
            analysis,
        )
    if is_public is True:
        return Verdict(
            False, "GetBucketPolicyStatus reports the policy as public (IsPublic=true).", analysis
        )
    return Verdict(True, f"No statement allows public access: {private}.", analysis)


@check(
    id="cloudwatch_metrics",
    title="CloudWatch request metrics cover the whole bucket",
    severity="low",
    documents=("metrics",),
    violation="CloudWatch metrics not configured",
    remediation="Add a request-metrics configuration with no filter (the console's "
    "'EntireBucket'): aws s3api put-bucket-metrics-configuration.",
)
def cloudwatch_metrics(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """Request metrics are how an operator sees errors and traffic on the bucket at all."""
    configs = ev["metrics"] or []
    for config in configs:
        if not config.get("Filter"):
            return Verdict(True, f"Metrics configuration '{config.get('Id')}' has no filter.")
    if configs:
        ids = ", ".join(f"'{c.get('Id')}'" for c in configs)
        return Verdict(False, f"Only filtered metrics configurations ({ids}) cover part of it.")
    return Verdict(False, "No request-metrics configuration on the bucket.")
