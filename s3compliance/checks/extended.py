"""The extended catalogue (profiles ``fsbp``, ``cis``, ``all``): spec checks.md, second table.

Public-access answers are where other scanners are noisiest, so these checks read the effective
settings: Block Public Access is the OR, flag by flag, of the bucket and the account level; a
public ACL that IgnorePublicAcls neutralises is reported as such, not as a failure.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from s3compliance.checks.policy import external_grants, secure_transport_denials
from s3compliance.checks.registry import Settings, Unreadable, Verdict, check

BPA_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}
SENSITIVE_ACTIONS = (
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketPolicy",
    "s3:PutEncryptionConfiguration",
    "s3:PutObjectAcl",
)


def effective_bpa(bucket: dict | None, account: dict | None) -> dict[str, str]:
    """Per flag, which level turns it on: ``bucket``, ``account``, ``both`` or ``""`` (off)."""
    bucket, account = bucket or {}, account or {}
    levels = {}
    for flag in BPA_FLAGS:
        on = [name for name, cfg in (("bucket", bucket), ("account", account)) if cfg.get(flag)]
        levels[flag] = "both" if len(on) == 2 else (on[0] if on else "")
    return levels


@check(
    id="block_public_access",
    title="Block Public Access is fully on for the bucket (bucket or account level)",
    severity="high",
    documents=("public_access_block", "account_public_access_block"),
    corroborating=("account_public_access_block",),
    violation="Block Public Access not fully enabled",
    remediation="Turn on all four Block Public Access settings on the bucket, or on the account "
    "(s3control put-public-access-block) to cover every bucket.",
)
def block_public_access(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """Block Public Access is the guard rail that stops a later mistake from going public.

    The bucket's flags are required; the account's corroborate: all four bucket flags on pass
    even when the account setting is unreadable, anything less then needs the account setting.
    """
    account = ev["account_public_access_block"]
    unreadable = isinstance(account, Unreadable)
    levels = effective_bpa(ev["public_access_block"], None if unreadable else account)
    missing = [f for f, level in levels.items() if not level]
    detail = ", ".join(f"{f} ({level or 'off'})" for f, level in levels.items())
    analysis = {"effective": {f: bool(level) for f, level in levels.items()}, "levels": levels}
    if missing and unreadable:
        return Verdict.undetermined(
            account,
            f"Off at the bucket level: {', '.join(missing)}; the account level is unknown.",
            analysis,
        )
    if missing:
        return Verdict(False, f"Not effective: {', '.join(missing)}. Flags: {detail}.", analysis)
    return Verdict(True, f"All four flags effective: {detail}.", analysis)


@check(
    id="account_block_public_access",
    title="Block Public Access is fully on at the account level",
    severity="medium",
    documents=("account_public_access_block",),
    violation="Account-level Block Public Access not fully enabled",
    remediation="aws s3control put-public-access-block --account-id <id> with all four flags.",
    scope="account",
)
def account_block_public_access(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """The account setting covers every bucket, including the ones created tomorrow."""
    config = ev["account_public_access_block"]
    if config is None:
        return Verdict(False, "No account-level Block Public Access configuration.")
    missing = [f for f in BPA_FLAGS if not config.get(f)]
    if missing:
        return Verdict(False, f"Account-level flags off: {', '.join(missing)}.")
    return Verdict(True, "All four account-level flags are on.")


@check(
    id="public_acl",
    title="The bucket ACL grants nothing to everyone",
    severity="critical",
    documents=("acl", "public_access_block", "account_public_access_block"),
    corroborating=("public_access_block", "account_public_access_block"),
    violation="Bucket ACL grants public access",
    remediation="Remove the AllUsers / AuthenticatedUsers grants, or turn on IgnorePublicAcls; "
    "better, disable ACLs with ObjectOwnership=BucketOwnerEnforced.",
)
def public_acl(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """A grant to AllUsers or AuthenticatedUsers opens the bucket to anyone with an AWS login.

    The ACL is required. The Block Public Access settings corroborate: an ACL with no public
    grant passes whatever they say; a public grant needs IgnorePublicAcls on at a level that
    could be read to pass, and is ERROR when the level that could neutralise it is unreadable.
    """
    grants = [
        f"{PUBLIC_GROUPS[g['Grantee']['URI']]}:{g.get('Permission')}"
        for g in (ev["acl"] or {}).get("Grants", [])
        if g.get("Grantee", {}).get("URI") in PUBLIC_GROUPS
    ]
    if not grants:
        return Verdict(True, "The ACL grants nothing to AllUsers or AuthenticatedUsers.")
    blocks = {d: ev[d] for d in ("public_access_block", "account_public_access_block")}
    unknown = [v for v in blocks.values() if isinstance(v, Unreadable)]
    readable = {d: (None if isinstance(v, Unreadable) else v) for d, v in blocks.items()}
    level = effective_bpa(readable["public_access_block"], readable["account_public_access_block"])[
        "IgnorePublicAcls"
    ]
    analysis = {"public_grants": grants, "ignore_public_acls": level or "off"}
    if level:
        return Verdict(
            True,
            f"Public grants {', '.join(grants)} are neutralised by IgnorePublicAcls ({level}).",
            analysis,
        )
    if unknown:
        return Verdict.undetermined(
            unknown[0],
            f"The ACL grants {', '.join(grants)}; whether IgnorePublicAcls neutralises them is "
            "unknown.",
            analysis,
        )
    return Verdict(False, f"The ACL grants {', '.join(grants)}.", analysis)


@check(
    id="acls_disabled",
    title="ACLs are disabled (ObjectOwnership = BucketOwnerEnforced)",
    severity="medium",
    documents=("ownership",),
    violation="ACLs not disabled",
    remediation="aws s3api put-bucket-ownership-controls with ObjectOwnership=BucketOwnerEnforced.",
)
def acls_disabled(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """With ACLs disabled, access is governed by policies alone: one place to review."""
    rules = (ev["ownership"] or {}).get("Rules", [])
    setting = rules[0].get("ObjectOwnership") if rules else None
    if setting == "BucketOwnerEnforced":
        return Verdict(True, "ObjectOwnership is BucketOwnerEnforced.")
    return Verdict(False, f"ObjectOwnership is {setting or 'not configured'}.")


@check(
    id="ssl_only",
    title="The bucket policy denies requests without TLS",
    severity="medium",
    documents=("policy",),
    violation="Bucket policy does not require SSL",
    remediation='Add a Deny for Principal "*" on "s3:*" with Condition '
    'Bool aws:SecureTransport "false".',
)
def ssl_only(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """Without it, a client may read or write objects over plain HTTP."""
    denials = secure_transport_denials(ev["policy"])
    if denials:
        return Verdict(True, f"Statement {denials[0]} denies every request without TLS.")
    if ev["policy"] is None:
        return Verdict(False, "No bucket policy, so nothing denies plain-HTTP requests.")
    return Verdict(False, "No Deny of s3:* for everyone when aws:SecureTransport is false.")


@check(
    id="cross_account",
    title="The bucket policy gives no outside account control of the bucket",
    severity="high",
    documents=("policy", "caller"),
    violation="Bucket policy grants sensitive actions to other accounts",
    remediation="Remove the grant, or list the account in trusted_account_ids if it is yours.",
)
def cross_account(ev: Mapping[str, Any], settings: Settings) -> Verdict:
    """Who can change a bucket's policy or ACLs can give its data away."""
    own = ev["caller"]["account_id"]
    grants = external_grants(ev["policy"], own, settings.trusted_account_ids, SENSITIVE_ACTIONS)
    if not grants:
        return Verdict(True, "No sensitive action is granted outside the account.")
    described = "; ".join(
        f"statement {g.label} gives {', '.join(g.actions)} to {', '.join(g.to)}" for g in grants
    )
    return Verdict(False, f"{described}.", {"grants": [g.__dict__ for g in grants]})


@check(
    id="access_logging",
    title="Server access logging is enabled",
    severity="medium",
    documents=("logging",),
    violation="Server access logging not enabled",
    remediation="aws s3api put-bucket-logging with a TargetBucket that is not the bucket itself.",
)
def access_logging(ev: Mapping[str, Any], settings: Settings) -> Verdict:
    """Access logs are the record of who read what, after an incident."""
    logging = ev["logging"]
    if logging:
        return Verdict(
            True,
            f"Logs go to s3://{logging.get('TargetBucket')}/{logging.get('TargetPrefix', '')}.",
        )
    bucket = ev.get("bucket", "")
    if any(fnmatch.fnmatchcase(bucket, p) for p in settings.log_target_buckets):
        return Verdict(True, "Not logged, but the bucket is a declared log target.")
    return Verdict(False, "No LoggingEnabled configuration.")


@check(
    id="mfa_delete",
    title="MFA delete is enabled",
    severity="low",
    documents=("versioning",),
    violation="MFA delete not enabled",
    remediation="Enable MFA delete with the root user's MFA device (put-bucket-versioning --mfa).",
)
def mfa_delete(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """MFA delete stops a stolen key from erasing object versions."""
    state = (ev["versioning"] or {}).get("MFADelete")
    if state == "Enabled":
        return Verdict(True, "MFADelete is Enabled.")
    return Verdict(False, f"MFADelete is {state or 'not set'}.")


@check(
    id="object_lock",
    title="Object Lock is enabled",
    severity="medium",
    documents=("object_lock",),
    violation="Object Lock not enabled",
    remediation="Object Lock can be enabled on existing buckets (put-object-lock-configuration), "
    "after versioning is on.",
)
def object_lock(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """Object Lock makes objects immutable for their retention period (WORM)."""
    config = ev["object_lock"] or {}
    if config.get("ObjectLockEnabled") == "Enabled":
        rule = config.get("Rule", {}).get("DefaultRetention")
        return Verdict(True, f"Object Lock enabled{f', default retention {rule}' if rule else ''}.")
    return Verdict(False, "Object Lock is not enabled.")


@check(
    id="replication",
    title="An enabled replication rule copies objects to another region",
    severity="low",
    documents=("replication",),
    violation="Cross-region replication not configured",
    remediation="Add a replication rule to a versioned bucket in another region.",
)
def replication(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """A copy in another region survives the loss of this one."""
    config = ev["replication"]
    if not config:
        return Verdict(False, "No replication configuration.")
    source = config.get("SourceRegion")
    regions = config.get("DestinationRegions", {})
    notes = []
    for rule in config.get("Rules", []):
        target = rule.get("Destination", {}).get("Bucket", "").split(":::", 1)[-1]
        region = regions.get(target, "")
        name = f"rule '{rule.get('ID') or '(no id)'}'"
        if rule.get("Status") != "Enabled":
            notes.append(f"{name} is {rule.get('Status')}")
        elif region.startswith("error:") or not region:
            notes.append(f"{name}: region of {target} unknown ({region[6:] or 'not found'})")
        elif region == source:
            notes.append(f"{name} replicates to {target} in the same region ({region})")
        else:
            return Verdict(True, f"{name.capitalize()} replicates to {target} in {region}.")
    return Verdict(False, "No enabled rule replicates to another region: " + "; ".join(notes) + ".")


@check(
    id="kms_encryption",
    title="Default encryption uses AWS KMS",
    severity="medium",
    documents=("encryption",),
    violation="Default encryption does not use KMS",
    remediation="Set default encryption to aws:kms (or aws:kms:dsse) with a customer managed key.",
)
def kms_encryption(ev: Mapping[str, Any], _: Settings) -> Verdict:
    """KMS keys add key policies, rotation and CloudTrail records of every decrypt."""
    algorithms = [
        (r.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
        for r in (ev["encryption"] or {}).get("Rules", [])
    ]
    kms = [a for a in algorithms if a in ("aws:kms", "aws:kms:dsse")]
    if kms:
        return Verdict(True, f"Default encryption uses {kms[0]}.")
    return Verdict(
        False, f"Default encryption is {', '.join(filter(None, algorithms)) or 'absent'}."
    )
