"""The evidence documents a check may read: declarations only, no AWS code.

Each document says which S3 API returns it, which IAM actions reading it needs, and which error
codes mean "not configured" (evidence with value ``None``, not an error). Checks, the IAM policy
generator and the Pulumi planner read these declarations; the code that fetches a document lives
in :mod:`s3compliance.scan.evidence`, keyed by the same name. Keeping the two apart is what lets
``s3compliance.checks`` import nothing from the scan (and nothing that imports boto3).
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


def _doc(
    name: str, api: str, permission: str | tuple[str, ...], *not_found: str, scope: str = "bucket"
) -> DocumentSpec:
    permissions = (permission,) if isinstance(permission, str) else permission
    return DocumentSpec(name, api, permissions, frozenset(not_found), scope)


DOCUMENTS: dict[str, DocumentSpec] = {
    spec.name: spec
    for spec in (
        _doc("versioning", "GetBucketVersioning", "s3:GetBucketVersioning"),
        _doc(
            "encryption",
            "GetBucketEncryption",
            "s3:GetEncryptionConfiguration",
            "ServerSideEncryptionConfigurationNotFoundError",
        ),
        _doc(
            "lifecycle",
            "GetBucketLifecycleConfiguration",
            "s3:GetLifecycleConfiguration",
            "NoSuchLifecycleConfiguration",
        ),
        _doc("policy", "GetBucketPolicy", "s3:GetBucketPolicy", "NoSuchBucketPolicy"),
        _doc(
            "policy_status",
            "GetBucketPolicyStatus",
            "s3:GetBucketPolicyStatus",
            "NoSuchBucketPolicy",
        ),
        _doc("metrics", "ListBucketMetricsConfigurations", "s3:GetMetricsConfiguration"),
        _doc(
            "public_access_block",
            "GetPublicAccessBlock",
            "s3:GetBucketPublicAccessBlock",
            "NoSuchPublicAccessBlockConfiguration",
        ),
        _doc("acl", "GetBucketAcl", "s3:GetBucketAcl"),
        _doc(
            "ownership",
            "GetBucketOwnershipControls",
            "s3:GetBucketOwnershipControls",
            "OwnershipControlsNotFoundError",
        ),
        _doc("logging", "GetBucketLogging", "s3:GetBucketLogging"),
        _doc(
            "object_lock",
            "GetObjectLockConfiguration",
            "s3:GetBucketObjectLockConfiguration",
            "ObjectLockConfigurationNotFoundError",
        ),
        _doc(
            "replication",
            "GetBucketReplication",
            # destination regions: GetBucketLocation, else HeadBucket's region header (answered
            # even on 403, so it needs no permission of its own)
            ("s3:GetReplicationConfiguration", "s3:GetBucketLocation"),
            "ReplicationConfigurationNotFoundError",
        ),
        # Read only when tagging is on (apply_tags): no check needs it; tagging plans from it.
        _doc("tags", "GetBucketTagging", "s3:GetBucketTagging"),  # no tag set: {} (fetch_tags)
        _doc(
            "account_public_access_block",
            "s3control:GetPublicAccessBlock",
            "s3:GetAccountPublicAccessBlock",
            "NoSuchPublicAccessBlockConfiguration",
            scope="account",
        ),
        # The caller's own account (from STS, which needs no permission); no AWS call of its own.
        _doc("caller", "sts:GetCallerIdentity", (), scope="account"),
    )
}
