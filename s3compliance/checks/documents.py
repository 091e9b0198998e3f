"""The evidence documents a check may read: declarations only, no AWS code.

Each document says which S3 API returns it, which IAM actions reading it needs, which error
codes mean "not configured" (evidence with value ``None``, not an error), and which S3 calls
change it (as CloudTrail names them: the change watcher's EventBridge rule matches these).
Checks, the IAM policy generator, the Pulumi planner and the watcher read these declarations;
the code that fetches a document lives in :mod:`s3compliance.scan.evidence`, keyed by the same
name. Keeping the two apart is what lets ``s3compliance.checks`` import nothing from the scan
(and nothing that imports boto3).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DocumentSpec:
    """One configuration document.

    ``scope="bucket"`` documents are fetched once per bucket with the bucket's S3 client;
    ``scope="account"`` ones once per scan (s3control client, the account id as target).
    """

    name: str
    api: str  # the API name, as in the spec
    permissions: tuple[str, ...]  # the IAM actions fetching it needs
    not_found: frozenset[str] = frozenset()
    scope: str = "bucket"
    #: CloudTrail event names of the S3 calls that change this document.
    changed_by: tuple[str, ...] = ()


def _doc(
    name: str,
    api: str,
    permission: str | tuple[str, ...],
    *not_found: str,
    scope: str = "bucket",
    changed_by: tuple[str, ...] = (),
) -> DocumentSpec:
    permissions = (permission,) if isinstance(permission, str) else permission
    return DocumentSpec(name, api, permissions, frozenset(not_found), scope, changed_by)


#: The calls that create or remove a bucket: every document of it changes at once.
BUCKET_LIFECYCLE_EVENTS = ("CreateBucket", "DeleteBucket")


DOCUMENTS: dict[str, DocumentSpec] = {
    spec.name: spec
    for spec in (
        _doc(
            "versioning",
            "GetBucketVersioning",
            "s3:GetBucketVersioning",
            changed_by=("PutBucketVersioning",),
        ),
        _doc(
            "encryption",
            "GetBucketEncryption",
            "s3:GetEncryptionConfiguration",
            "ServerSideEncryptionConfigurationNotFoundError",
            changed_by=("PutBucketEncryption", "DeleteBucketEncryption"),
        ),
        _doc(
            "lifecycle",
            "GetBucketLifecycleConfiguration",
            "s3:GetLifecycleConfiguration",
            "NoSuchLifecycleConfiguration",
            changed_by=(
                "PutBucketLifecycle",
                "PutBucketLifecycleConfiguration",
                "DeleteBucketLifecycle",
            ),
        ),
        _doc(
            "policy",
            "GetBucketPolicy",
            "s3:GetBucketPolicy",
            "NoSuchBucketPolicy",
            changed_by=("PutBucketPolicy", "DeleteBucketPolicy"),
        ),
        _doc(
            "policy_status",
            "GetBucketPolicyStatus",
            "s3:GetBucketPolicyStatus",
            "NoSuchBucketPolicy",
            changed_by=("PutBucketPolicy", "DeleteBucketPolicy"),
        ),
        _doc(
            "metrics",
            "ListBucketMetricsConfigurations",
            "s3:GetMetricsConfiguration",
            changed_by=("PutBucketMetricsConfiguration", "DeleteBucketMetricsConfiguration"),
        ),
        _doc(
            "public_access_block",
            "GetPublicAccessBlock",
            "s3:GetBucketPublicAccessBlock",
            "NoSuchPublicAccessBlockConfiguration",
            changed_by=("PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"),
        ),
        _doc("acl", "GetBucketAcl", "s3:GetBucketAcl", changed_by=("PutBucketAcl",)),
        _doc(
            "ownership",
            "GetBucketOwnershipControls",
            "s3:GetBucketOwnershipControls",
            "OwnershipControlsNotFoundError",
            changed_by=("PutBucketOwnershipControls", "DeleteBucketOwnershipControls"),
        ),
        _doc(
            "logging", "GetBucketLogging", "s3:GetBucketLogging", changed_by=("PutBucketLogging",)
        ),
        _doc(
            "object_lock",
            "GetObjectLockConfiguration",
            "s3:GetBucketObjectLockConfiguration",
            "ObjectLockConfigurationNotFoundError",
            changed_by=("PutObjectLockConfiguration",),
        ),
        _doc(
            "replication",
            "GetBucketReplication",
            # destination regions: GetBucketLocation, else HeadBucket's region header (answered
            # even on 403, so it needs no permission of its own)
            ("s3:GetReplicationConfiguration", "s3:GetBucketLocation"),
            "ReplicationConfigurationNotFoundError",
            changed_by=("PutBucketReplication", "DeleteBucketReplication"),
        ),
        # Read only when tagging is on (apply_tags): no check needs it; tagging plans from it.
        _doc(  # no tag set: {} (fetch_tags)
            "tags",
            "GetBucketTagging",
            "s3:GetBucketTagging",
            changed_by=("PutBucketTagging", "DeleteBucketTagging"),
        ),
        _doc(
            "account_public_access_block",
            "s3control:GetPublicAccessBlock",
            "s3:GetAccountPublicAccessBlock",
            "NoSuchPublicAccessBlockConfiguration",
            scope="account",
            changed_by=("PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock"),
        ),
        # The caller's own account (from STS, which needs no permission); no AWS call of its own.
        _doc("caller", "sts:GetCallerIdentity", (), scope="account"),
    )
}
