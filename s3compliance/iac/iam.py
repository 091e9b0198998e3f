"""Least privilege: the IAM policy a scan needs, generated from what the code declares.

Every evidence document declares the IAM actions its API needs; every check declares its
documents. The union (plus listing the buckets) *is* the policy: nothing here is hand-written, so
adding a check cannot silently need a permission the documented policy lacks. A test records every
operation a full demo scan makes and compares it with this policy, both ways.
"""

from __future__ import annotations

from typing import Any

from s3compliance.checks import Check, select_checks
from s3compliance.checks.documents import DOCUMENTS

LIST_BUCKETS = "s3:ListAllMyBuckets"
GET_LOCATION = "s3:GetBucketLocation"

#: Operation (as the call recorder names it) -> the IAM action it needs ("" = none).
OPERATION_PERMISSIONS: dict[str, str] = {
    "ListBuckets": LIST_BUCKETS,
    "GetBucketLocation": GET_LOCATION,
    # another account's replication destination: its region comes back even on a 403
    "HeadBucket": "",
    "sts:GetCallerIdentity": "",  # needs no permission
    "PutBucketTagging": "s3:PutBucketTagging",
    "sns:Publish": "sns:Publish",
    "cloudwatch:PutMetricData": "cloudwatch:PutMetricData",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sts:AssumeRole": "sts:AssumeRole",
    **{
        f"organizations:{op}": f"organizations:{op}"
        for op in (
            "ListRoots",
            "ListOrganizationalUnitsForParent",
            "ListAccountsForParent",
            "ListParents",
        )
    },
    **{spec.api: spec.permissions[0] for spec in DOCUMENTS.values() if spec.permissions},
}


def required_actions(
    checks: list[Check], all_regions: bool = False, read_tags: bool = False
) -> list[str]:
    """The IAM actions a scan with these checks calls.

    GetBucketLocation is needed when scanning every region (regions the listing does not give)
    and by the replication check (destination regions); a one-region scan otherwise never asks.
    GetBucketTagging is read only when an accepted risk is narrowed to tagged buckets
    (``read_tags``).
    """
    actions = {LIST_BUCKETS} | {p for c in checks for p in c.permissions}
    if all_regions:
        actions.add(GET_LOCATION)
    if read_tags:
        actions.update(DOCUMENTS["tags"].permissions)
    return sorted(actions)


def write_actions() -> list[str]:
    """What the opt-in writers (tagging, alerting, the Security Hub import) need, as their
    modules declare it."""
    from s3compliance.actions import alerts, securityhub, tagging

    return sorted({*tagging.PERMISSIONS, *alerts.PERMISSIONS, *securityhub.PERMISSIONS})


def securityhub_actions() -> list[str]:
    """What an organization's scan role needs to import its account's findings (the default
    product takes only the account's own findings, so each member imports through its role)."""
    from s3compliance.actions import securityhub

    return sorted(securityhub.PERMISSIONS)


def evidence_statements(archive: str | None, signing: str | None) -> list[dict[str, Any]]:
    """What the evidence archive (its bucket, as its module declares) and, when a KMS key signs,
    signing need: kept in statements of their own, scoped to the bucket and key when known."""
    from s3compliance.actions.archive import PERMISSIONS as ARCHIVE
    from s3compliance.actions.archive import parse_target
    from s3compliance.outputs.signing import PERMISSIONS as SIGNING

    resource: str | list[str] = "*"
    if archive:
        target = parse_target(archive)
        objects = f"{target.prefix}/*" if target.prefix else "*"
        resource = [f"arn:aws:s3:::{target.bucket}", f"arn:aws:s3:::{target.bucket}/{objects}"]
    statements = [
        {
            "Sid": "S3ComplianceEvidenceArchive",
            "Effect": "Allow",
            "Action": sorted(ARCHIVE),
            "Resource": resource,
        }
    ]
    if signing and signing.startswith("kms:"):
        key = signing.removeprefix("kms:")
        statements.append(
            {
                "Sid": "S3ComplianceEvidenceSigning",
                "Effect": "Allow",
                "Action": sorted(SIGNING),
                "Resource": key if key.startswith("arn:") else "*",
            }
        )
    return statements


ORGANIZATION_ACTIONS = [
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListParents",
    "organizations:ListRoots",
]


def iam_policy(
    profile: str = "mission",
    checks: list[str] | None = None,
    all_regions: bool = False,
    with_writes: bool = False,
    organization_role: str | None = None,
    read_tags: bool = False,
    evidence_archive: str | None = None,
    evidence_signing: str | None = None,
    watch_queue_url: str | None = None,
) -> dict[str, Any]:
    """An identity policy document granting exactly what the scan needs, read-only.

    ``with_writes`` adds a second statement for tagging and alerting, kept apart so that a
    reviewer sees at once which grants can change the account. ``organization_role`` (the
    scanning account of an organization scan) adds listing the organization and assuming that
    role in the member accounts. ``read_tags``: an exception of the run is narrowed by tags.
    With writes come the evidence archive's grants (on its bucket, when ``evidence_archive``
    names it) and, when a KMS key signs the manifests (``evidence_signing``), that key's.
    ``watch_queue_url``: the change watcher's grants on its queue (``s3compliance watch``).
    """
    statements = [
        {
            "Sid": "S3ComplianceReadOnlyScan",
            "Effect": "Allow",
            "Action": required_actions(select_checks(profile, checks), all_regions, read_tags),
            "Resource": "*",
        }
    ]
    if organization_role is not None:
        statements.append(
            {
                "Sid": "S3ComplianceOrganization",
                "Effect": "Allow",
                "Action": ORGANIZATION_ACTIONS,
                "Resource": "*",
            }
        )
        statements.append(
            {
                "Sid": "S3ComplianceAssumeScanRole",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::*:role/{organization_role}",
            }
        )
    if with_writes:
        statements.append(
            {
                "Sid": "S3ComplianceOptInWrites",
                "Effect": "Allow",
                "Action": write_actions(),
                "Resource": "*",
            }
        )
        statements.extend(evidence_statements(evidence_archive, evidence_signing))
    if watch_queue_url:
        from s3compliance.watch import PERMISSIONS as WATCH
        from s3compliance.watch import queue_arn

        statements.append(
            {
                "Sid": "S3ComplianceWatchQueue",
                "Effect": "Allow",
                "Action": sorted(WATCH),
                "Resource": queue_arn(watch_queue_url),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
