"""The embedded demo account: moto in-process, seeded with a deterministic fleet of buckets.

It needs no AWS credentials and no network. The fleet covers every PASS and FAIL path of the
``mission`` checks, including the cases that trip up other scanners (a 365-day lifecycle rule, a
prefix-scoped rule, ``Principal: {"AWS": ["*"]}``, a public Allow guarded only by
``aws:SecureTransport``, one pinned by ``aws:SourceVpce``...), two buckets whose policy the auditor
may not read (so ``unknown`` shows up), and a few buckets outside ``us-east-1`` that a
``us-east-1`` scan must leave out.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from s3compliance.params import Params, load_params, validate
from s3compliance.scan.aws import Clients
from s3compliance.scan.run import run_scan
from s3compliance.scan.scanner import ScanResult
from s3compliance.testing.emulation import (
    FaultInjector,
    MetricsEmulator,
    MfaDeleteEmulator,
    moto_bucket_exists,
)

DEMO_REGION = "us-east-1"
DEMO_ACCOUNT = "123456789012"  # moto's default account
FIRST_CREATED = datetime(2023, 1, 2, 9, 30, tzinfo=UTC)


def _policy(bucket: str, *statements: dict[str, Any]) -> dict[str, Any]:
    """The statements on the bucket and its objects; a statement's own ``Resource`` (with
    ``{bucket}`` for the name) wins."""
    resource = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Resource": resource, **s}
            | ({"Resource": s["Resource"].format(bucket=bucket)} if "Resource" in s else {})
            for s in statements
        ],
    }


def _log_delivery_statement(bucket: str) -> dict[str, Any]:
    return {
        "Sid": "S3ServerAccessLogs",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": ["s3:PutObject"],
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }


PUBLIC_READ = {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
PUBLIC_AWS_LIST = {**PUBLIC_READ, "Sid": "AnyAwsPrincipal", "Principal": {"AWS": ["*"]}}
PUBLIC_TLS_ONLY = {
    **PUBLIC_READ,
    "Sid": "TlsOnlyStillPublic",
    "Condition": {"Bool": {"aws:SecureTransport": "true"}},
}
VPCE_PINNED = {
    **PUBLIC_READ,
    "Sid": "FromOurVpcEndpoint",
    "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f60718"}},
}
OUR_VPCE = "vpce-0a1b2c3d4e5f60718"


def _read_if(sid: str, operator: str, key: str, value: Any) -> dict[str, Any]:
    return {**PUBLIC_READ, "Sid": sid, "Condition": {operator: {key: value}}}


#: One bucket per family of the S3 "meaning of public" rule (see checks/policy.py): the public
#: ones look restricted at a glance; the private ones are restricted to fixed callers.
POLICY_FAMILIES: dict[str, tuple[dict[str, Any], ...]] = {
    "public-not-vpce": (_read_if("AllButOurVpce", "StringNotEquals", "aws:SourceVpce", OUR_VPCE),),
    "public-vpce-ifexists": (
        _read_if("VpceIfExists", "StringEqualsIfExists", "aws:SourceVpce", OUR_VPCE),
    ),
    "public-vpce-wildcard": (_read_if("AnyVpce", "StringLike", "aws:SourceVpce", "vpce-*"),),
    "public-any-principal": (
        _read_if("AnyPrincipalArn", "StringLike", "aws:PrincipalArn", "arn:aws:iam::*:*"),
    ),
    "public-prefix-only": (_read_if("PublicPrefix", "StringEquals", "s3:prefix", "public/"),),
    "public-read-only": (
        PUBLIC_READ,
        {"Sid": "DenyAllButRead", "Effect": "Deny", "Principal": "*", "NotAction": "s3:GetObject"},
    ),
    "public-deny-subpath": (
        PUBLIC_READ,
        {
            "Sid": "DenyPrivatePrefix",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::{bucket}/private/*",
        },
    ),
    "public-not-own-account": (
        {
            "Sid": "AnyOtherAccountAdministers",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:PutBucketPolicy", "s3:PutBucketAcl"],
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}},
        },
    ),
    # S3 accepts any string as a condition value: the report must show it as text, not markup.
    "public-referer-markup": (
        _read_if("RefererOnly", "StringLike", "aws:Referer", "<img src=x onerror=alert(1)>"),
    ),
    # S3 reads an aws:SourceIp range broader than /8 (IPv4) as public: half the internet here.
    "public-broad-cidr": (
        _read_if("LowerHalfOfTheInternet", "IpAddress", "aws:SourceIp", "0.0.0.0/1"),
    ),
    # A partial wildcard in a principal is malformed (S3 refuses it; S3-compatible stores and
    # emulators keep it): read as everyone.
    "public-wildcard-principal": (
        {**PUBLIC_READ, "Sid": "AnyAccountRoot", "Principal": {"AWS": "arn:aws:iam::*:root"}},
    ),
    "org-pinned": (
        _read_if("OurOrganization", "StringEquals", "aws:PrincipalOrgID", "o-a1b2c3d4e5"),
    ),
    "ip-pinned": (_read_if("OfficeNetwork", "IpAddress", "aws:SourceIp", "203.0.113.0/24"),),
    "vpce-any-value": (
        _read_if("AnyOfOurVpces", "ForAnyValue:StringEquals", "aws:SourceVpce", [OUR_VPCE]),
    ),
}

DENY_INSECURE = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
CROSS_ACCOUNT_ACL = {
    "Sid": "PartnerMayRewriteAcls",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
    "Action": "s3:PutObjectAcl",
}
LOG_TARGET = "demo-compliant-01"
ACLS_BLOCKED = {"BlockPublicAcls": True, "IgnorePublicAcls": True}
#: The account level blocks public policies only, so the bucket level must supply the ACL flags.
ACCOUNT_BPA = {"BlockPublicPolicy": True, "RestrictPublicBuckets": True}
EXPIRE_30 = [{"ID": "expire-30d", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 30}}]
WHOLE_BUCKET_METRICS = [{"Id": "EntireBucket"}]


@dataclass(frozen=True)
class Archetype:
    """One kind of bucket in the fleet; ``count`` buckets are made from it."""

    name: str
    count: int
    versioning: str | None = "Enabled"
    sse: str | None = "AES256"
    lifecycle: list[dict[str, Any]] | None = field(default_factory=lambda: EXPIRE_30)
    statement: dict[str, Any] | None = None
    metrics: list[dict[str, Any]] = field(default_factory=lambda: WHOLE_BUCKET_METRICS)
    denied: tuple[str, ...] = ()  # operations answered with AccessDenied
    region: str = DEMO_REGION
    # Read only by the extended catalogue (fsbp, cis, all): mission verdicts do not change.
    extra_statements: tuple[dict[str, Any], ...] = ()
    bpa: dict[str, bool] | None = None
    acl: str | None = None
    ownership: str | None = None
    access_logs: bool = False
    mfa_delete: bool = False
    object_lock: bool = False
    replicate_to: str | None = None
    tags: dict[str, str] | None = None
    system_tags: dict[str, str] | None = None  # aws:* tags, as CloudFormation would leave them


FLEET: tuple[Archetype, ...] = (
    Archetype(
        "compliant",
        30,
        bpa=ACLS_BLOCKED,
        ownership="BucketOwnerEnforced",
        access_logs=True,
        tags={"team": "data-platform", "cost-center": "CC-1042", "note": "Données — archivées"},
    ),
    Archetype(
        "kms-transition",
        10,
        sse="aws:kms",
        object_lock=True,
        mfa_delete=True,
        replicate_to="demo-eu-archive-01",
        lifecycle=[
            {
                "ID": "to-glacier-30d",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
            }
        ],
        metrics=[{"Id": "all-requests"}],
    ),
    Archetype(
        "dsse",
        5,
        sse="aws:kms:dsse",
        acl="public-read",
        bpa=ACLS_BLOCKED,  # the public ACL is neutralised
        replicate_to="demo-compliant-02",  # same region: not cross-region
    ),
    Archetype("vpce-pinned", 5, statement=VPCE_PINNED),
    Archetype("deny-insecure", 5, statement=DENY_INSECURE, extra_statements=(CROSS_ACCOUNT_ACL,)),
    Archetype(
        "lifecycle-365",
        8,
        lifecycle=[
            {"ID": "expire-1y", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 365}}
        ],
    ),
    Archetype(
        "lifecycle-prefix",
        6,
        lifecycle=[
            {
                "ID": "logs-30d",
                "Status": "Enabled",
                "Filter": {"Prefix": "logs/"},
                "Expiration": {"Days": 30},
            }
        ],
    ),
    Archetype(
        "lifecycle-disabled",
        4,
        lifecycle=[
            {"ID": "expire-30d", "Status": "Disabled", "Filter": {}, "Expiration": {"Days": 30}}
        ],
    ),
    Archetype("versioning-suspended", 8, versioning="Suspended"),
    Archetype("versioning-never", 6, versioning=None, acl="public-read"),
    Archetype("unencrypted", 6, sse=None, acl="authenticated-read"),
    Archetype("public-read", 4, statement=PUBLIC_READ, metrics=[]),
    Archetype("public-aws-list", 3, statement=PUBLIC_AWS_LIST),
    Archetype("public-tls-only", 3, statement=PUBLIC_TLS_ONLY),
    Archetype(
        "metrics-prefix-only",
        6,
        metrics=[{"Id": "uploads", "Filter": {"Prefix": "uploads/"}}],
        tags={f"label-{n:02d}": f"value-{n:02d}" for n in range(50)},  # at S3's 50-tag limit
    ),
    Archetype(
        "no-metrics",
        5,
        metrics=[],
        system_tags={"aws:cloudformation:stack-name": "legacy-stack", "env": "prod"},
    ),
    Archetype(
        "legacy-bare",
        6,
        versioning=None,
        sse=None,
        lifecycle=None,
        metrics=[],
        tags={"aws-cdk:owner": "platform", "Owner": "zoë"},
    ),
    Archetype(
        "public-bare",
        2,
        versioning=None,
        sse=None,
        lifecycle=None,
        statement=PUBLIC_READ,
        metrics=[],
    ),
    Archetype("restricted", 2, statement=DENY_INSECURE, denied=("GetBucketPolicy",)),
    *(
        Archetype(family, 1, statement=statements[0], extra_statements=statements[1:])
        for family, statements in POLICY_FAMILIES.items()
    ),
    # Outside the default region: a us-east-1 scan must not see these.
    Archetype("eu-archive", 2, region="eu-west-1"),
    Archetype("oregon-data", 2, region="us-west-2"),
)


def bucket_names(archetype: Archetype) -> list[str]:
    return [f"demo-{archetype.name}-{i:02d}" for i in range(1, archetype.count + 1)]


def configure_bucket(client: Any, bucket: str, kind: Archetype) -> None:
    if kind.versioning:
        config = {"Status": kind.versioning}
        extra = {}
        if kind.mfa_delete:
            config["MFADelete"] = "Enabled"
            extra["MFA"] = "arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456"
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=config, **extra)
    if kind.sse:
        client.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": kind.sse}}]
            },
        )
    if kind.lifecycle:
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": kind.lifecycle}
        )
    if kind.statement:
        policy = _policy(bucket, kind.statement, *kind.extra_statements)
        client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    if kind.acl:
        client.put_bucket_acl(Bucket=bucket, ACL=kind.acl)
    if kind.bpa:
        client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=kind.bpa)
    if kind.ownership:
        client.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": kind.ownership}]}
        )
    if kind.tags:
        client.put_bucket_tagging(
            Bucket=bucket,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in kind.tags.items()]},
        )
    for config in kind.metrics:
        client.put_bucket_metrics_configuration(
            Bucket=bucket, Id=config["Id"], MetricsConfiguration=config
        )


def fix_in_backend(dates: dict[str, datetime], system_tags: dict[str, dict[str, str]]) -> None:
    """What no S3 request can do: pin creation dates (moto stamps 'now'; the demo must be the
    same on every run) and leave ``aws:`` system tags, as CloudFormation does."""
    from moto.s3.models import s3_backends

    for account in s3_backends.values():
        for backend in account.values():
            for name, bucket in backend.buckets.items():
                bucket.creation_date = dates.get(name, bucket.creation_date)
                if name in system_tags:
                    backend.put_bucket_tagging(name, system_tags[name])


def _connect(session: boto3.Session, fleet: tuple[Archetype, ...]) -> None:
    """What links buckets together, once they all exist: access logs, replication."""
    s3 = session.client("s3", region_name=DEMO_REGION)
    s3.put_bucket_policy(
        Bucket=LOG_TARGET,
        Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": [_log_delivery_statement(LOG_TARGET)]}
        ),
    )
    for kind in fleet:
        client = session.client("s3", region_name=kind.region)
        for bucket in bucket_names(kind):
            if kind.access_logs:
                client.put_bucket_logging(
                    Bucket=bucket,
                    BucketLoggingStatus={
                        "LoggingEnabled": {"TargetBucket": LOG_TARGET, "TargetPrefix": f"{bucket}/"}
                    },
                )
            if kind.replicate_to:
                client.put_bucket_replication(
                    Bucket=bucket,
                    ReplicationConfiguration={
                        "Role": "arn:aws:iam::123456789012:role/s3-replication",
                        "Rules": [
                            {
                                "ID": "disaster-recovery",
                                "Status": "Enabled",
                                "Priority": 1,
                                "Filter": {},
                                "DeleteMarkerReplication": {"Status": "Disabled"},
                                "Destination": {"Bucket": f"arn:aws:s3:::{kind.replicate_to}"},
                            }
                        ],
                    },
                )


def seed_fleet(
    session: boto3.Session,
    faults: FaultInjector,
    fleet: tuple[Archetype, ...] = FLEET,
    account_id: str = DEMO_ACCOUNT,
    connect: bool = True,
) -> None:
    """Create the fleet in the active moto mock, registering its denials with ``faults``.

    ``connect`` adds the access-log and replication links between the fleet's own buckets (the
    demo organization's members have none)."""
    dates: dict[str, datetime] = {}
    system_tags: dict[str, dict[str, str]] = {}
    for kind in fleet:
        client = session.client("s3", region_name=kind.region)
        for bucket in bucket_names(kind):
            extra: dict[str, Any] = {"ObjectLockEnabledForBucket": True} if kind.object_lock else {}
            if kind.region != "us-east-1":
                extra["CreateBucketConfiguration"] = {"LocationConstraint": kind.region}
            client.create_bucket(Bucket=bucket, **extra)
            configure_bucket(client, bucket, kind)
            for operation in kind.denied:
                faults.fail(bucket, operation, "AccessDenied")
            dates[bucket] = FIRST_CREATED + timedelta(days=len(dates))
            if kind.system_tags:
                system_tags[bucket] = kind.system_tags
    if connect:
        _connect(session, fleet)
    session.client("s3control", region_name=DEMO_REGION).put_public_access_block(
        AccountId=account_id, PublicAccessBlockConfiguration=ACCOUNT_BPA
    )
    fix_in_backend(dates, system_tags)


_HIDDEN_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


class DemoAccount:
    """A freshly seeded in-process demo account, isolated from the caller's AWS setup.

    While it is started, the caller's profile and endpoint variables are hidden and moto answers
    every AWS call of this process, so the demo can never reach a real account. A notebook kernel
    starts one and keeps it for its lifetime; :func:`demo_account` is the scoped form.
    """

    def __init__(self) -> None:
        from moto import mock_aws

        self._mock = mock_aws()
        self._hidden: dict[str, str] = {}
        self.session: boto3.Session | None = None

    def start(self) -> boto3.Session:
        self._hidden = {k: os.environ.pop(k) for k in _HIDDEN_VARIABLES if k in os.environ}
        self._mock.start()
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=DEMO_REGION
        )
        faults = FaultInjector().install(session)  # first, so its faults win
        MetricsEmulator(moto_bucket_exists).install(session)
        MfaDeleteEmulator().install(session)
        seed_fleet(session, faults)
        self.session = session
        return session

    def stop(self) -> None:
        self._mock.stop()
        os.environ.update(self._hidden)
        self.session = None


@contextlib.contextmanager
def demo_account() -> Iterator[boto3.Session]:
    """A session on a freshly seeded demo account, for the duration of the block."""
    account = DemoAccount()
    try:
        yield account.start()
    finally:
        account.stop()


def demo_params(path: str | Path | None = None, **overrides: Any) -> Params:
    """``params/demo.yaml`` when given, else defaults; never an endpoint or a profile.

    ``demo="org"`` is the demo organization (``accounts: organization`` unless the file names
    accounts); anything else the single demo account."""
    values = {k: v for k, v in overrides.items() if v is not None}
    org = values.get("demo") == "org"
    values["demo"] = "org" if org else True
    if org:
        values.setdefault("accounts", "organization")
        values["apply_tags"] = False  # tagging is per account (see docs/tasks/organizations.md)
    params = load_params(path, **values) if path else validate(values, "<demo defaults>")
    return replace(params, endpoint_url=None, aws_profile=None)


def run_demo(params: Params, progress: bool | None = None) -> ScanResult:
    """Scan the demo account with the given parameters."""
    with demo_account() as session:
        clients = Clients(session, endpoint_url=None, max_workers=params.max_workers)
        return run_scan(params, clients=clients, progress=progress)
