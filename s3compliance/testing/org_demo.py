"""The embedded demo organization: moto in-process, a management account and six members.

The management account (moto's default, ``123456789012``) holds the single-account demo fleet;
each member holds about forty buckets of a posture of its own, in an OU tree two levels deep.
``legacy-erp`` refuses the scan role (moto grants every AssumeRole, so the refusal is injected by
:class:`~s3compliance.testing.emulation.RoleRefuser` on the caller's session, never on the scan
path) and ``closed-2019`` is suspended (it must be skipped). Account and OU ids are drawn from a
seeded random generator: the demo organization is the same on every run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import boto3

from s3compliance.testing.demo import (
    DEMO_REGION,
    FLEET,
    DemoAccount,
    seed_fleet,
)
from s3compliance.testing.emulation import (
    FaultInjector,
    MetricsEmulator,
    MfaDeleteEmulator,
    RoleRefuser,
    moto_bucket_exists,
)

ORG_SEED = 20261129
_BY_NAME = {kind.name: kind for kind in FLEET}


@dataclass(frozen=True)
class Member:
    """A member account: its name, OU path (names), and its fleet as (archetype, count)."""

    name: str
    ou: tuple[str, ...]
    fleet: tuple[tuple[str, int], ...] = ()
    refuses_role: bool = False
    suspended: bool = False


MEMBERS: tuple[Member, ...] = (
    Member(
        "payments-prod",
        ("prod", "payments"),
        (("compliant", 30), ("kms-transition", 6), ("lifecycle-365", 4)),
    ),
    Member(
        "data-lake",
        ("prod", "data"),
        (
            ("compliant", 12),
            ("vpce-pinned", 8),
            ("public-read", 4),
            ("unencrypted", 8),
            ("lifecycle-prefix", 8),
        ),
    ),
    Member(
        "sandbox",
        ("dev",),
        (
            ("versioning-never", 10),
            ("public-aws-list", 6),
            ("versioning-suspended", 12),
            ("lifecycle-disabled", 6),
            ("public-tls-only", 6),
        ),
    ),
    Member(
        "security-logs",
        ("security",),
        (("compliant", 34), ("restricted", 4), ("deny-insecure", 2)),
    ),
    Member("legacy-erp", ("dev",), (("unencrypted", 40),), refuses_role=True),
    Member("closed-2019", ("dev",), (), suspended=True),
)


def member_fleet(member: Member) -> tuple[Any, ...]:
    """The member's archetypes, renamed after it; links to the management account's buckets
    (access-log target, replication) are dropped: those buckets live in another account."""
    prefix = member.name
    return tuple(
        replace(
            _BY_NAME[kind],
            name=f"{prefix}-{kind}",
            count=count,
            access_logs=False,
            replicate_to=None,
        )
        for kind, count in member.fleet
    )


def member_session(
    session: boto3.Session,
    account_id: str,
    endpoint_url: str | None = None,
    session_name: str = "demo-seed",
) -> boto3.Session:
    """A session in a member account through its ``OrganizationAccountAccessRole``, assumed with
    ``session``'s STS (to seed a demo, test or benchmark organization)."""
    role = f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
    sts = session.client("sts", region_name=DEMO_REGION, endpoint_url=endpoint_url)
    credentials = sts.assume_role(RoleArn=role, RoleSessionName=session_name)["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=DEMO_REGION,
    )


class DemoOrganization(DemoAccount):
    """The demo account, made the management account of a seeded organization.

    :attr:`hook` is what the scan calls on each new member session: it installs the same
    emulators as on the management account (injected denials, metrics, MFA delete).
    """

    def __init__(self) -> None:
        super().__init__()
        # One of each, shared by the seeding and the scanning sessions: they remember state.
        self.faults = FaultInjector()
        self.metrics = MetricsEmulator(moto_bucket_exists)
        self.mfa = MfaDeleteEmulator()
        self.refuser = RoleRefuser()
        self.accounts: dict[str, str] = {}  # name -> id

    def hook(self, session: boto3.Session, account_id: str) -> None:
        self.faults.install(session)
        self.metrics.install(session)
        self.mfa.install(session)

    def start(self) -> boto3.Session:
        from moto.moto_api._internal import mock_random  # the generator moto draws ids from

        session = super().start()
        state = mock_random.getstate()
        mock_random.seed(ORG_SEED)
        try:
            self._seed_organization(session)
        finally:
            mock_random.setstate(state)
        self.refuser.install(session)
        return session

    def stop(self) -> None:
        from s3compliance.scan.organizations import forget_sessions

        forget_sessions()
        super().stop()

    def _seed_organization(self, session: boto3.Session) -> None:
        org = session.client("organizations", region_name=DEMO_REGION)
        org.create_organization(FeatureSet="ALL")
        root = org.list_roots()["Roots"][0]["Id"]
        units: dict[tuple[str, ...], str] = {(): root}
        for member in MEMBERS:
            for depth in range(1, len(member.ou) + 1):
                path = member.ou[:depth]
                if path not in units:
                    unit = org.create_organizational_unit(ParentId=units[path[:-1]], Name=path[-1])
                    units[path] = unit["OrganizationalUnit"]["Id"]
            status = org.create_account(
                Email=f"aws+{member.name}@example.com", AccountName=member.name
            )["CreateAccountStatus"]
            account_id = status["AccountId"]
            self.accounts[member.name] = account_id
            org.move_account(
                AccountId=account_id, SourceParentId=root, DestinationParentId=units[member.ou]
            )
            if member.fleet:
                seeded = member_session(session, account_id)
                self.hook(seeded, account_id)
                seed_fleet(
                    seeded,
                    self.faults,
                    member_fleet(member),
                    account_id=account_id,
                    connect=False,
                )
            if member.refuses_role:
                self.refuser.accounts.add(account_id)
            if member.suspended:
                org.close_account(AccountId=account_id)


@contextlib.contextmanager
def demo_organization() -> Iterator[DemoOrganization]:
    """A freshly seeded demo organization for the duration of the block."""
    organization = DemoOrganization()
    try:
        organization.start()
        yield organization
    finally:
        organization.stop()
