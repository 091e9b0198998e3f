"""Which accounts an organization scan covers, and the credentials it reaches each one with.

Accounts come from AWS Organizations (the tree walked from the root, or from the chosen OUs, so
that each account keeps its OU path) or from an explicit list. Member accounts are reached through
a role (``role_name``, default ``OrganizationAccountAccessRole``); the caller's own account is
scanned with the caller's own credentials. Role credentials are refreshable: botocore renews them
before they expire, so a scan that outlives one role session (role chaining caps it at an hour)
does not fail half-way.

Read-only: the only Organizations calls are ``List*`` and the only STS calls are
``GetCallerIdentity`` and ``AssumeRole``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from s3compliance.params import Params, ParamsError
from s3compliance.scan.aws import Clients, error_code, make_session
from s3compliance.scan.retry import RetryPolicy
from s3compliance.scan.scanner import ScanAborted

log = logging.getLogger(__name__)

#: Role chaining (a role assuming a role) caps a session at one hour, whatever was asked.
CHAINED_SESSION_LIMIT_S = 3600


class OrganizationUnavailable(ScanAborted):
    """``accounts: organization`` cannot be served: Organizations refused the listing."""


@dataclass(frozen=True)
class Account:
    """One account of the scan: id, name and OU path (``r-ab12/ou-ab12-prod``) when known;
    ``status`` is ``ACTIVE`` or what Organizations says instead (``SUSPENDED``...)."""

    account_id: str
    name: str = ""
    ou_path: str = ""
    status: str = "ACTIVE"
    org_id: str = ""  # o-...: read from the account's ARN when Organizations listed it

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


def organization_of(arn: str) -> str:
    """The organization id in an account ARN Organizations returns
    (``arn:aws:organizations::111122223333:account/o-ab12cd34ef/444455556666``); "" when the
    ARN is not of that shape."""
    match = re.match(r"^arn:aws[\w-]*:organizations::\d{12}:account/(o-[a-z0-9]{10,32})/", arn)
    return match.group(1) if match else ""


def account_state(entry: dict[str, Any]) -> str:
    """``State`` where Organizations returns it, else the ``Status`` AWS is retiring."""
    return str(entry.get("State") or entry.get("Status") or "UNKNOWN")


def _pages(client: Any, operation: str, key: str, retry: RetryPolicy, **kwargs: Any) -> list[dict]:
    """Every item of a paginated Organizations listing, each page through the retry policy."""
    items: list[dict[str, Any]] = []
    call = getattr(client, operation)
    while True:
        page = retry.call(call, **kwargs)
        items.extend(page.get(key, []))
        token = page.get("NextToken")
        if not token:
            return items
        kwargs["NextToken"] = token


def _path_to(client: Any, node_id: str, retry: RetryPolicy) -> str:
    """The OU path from the root down to ``node_id`` (ListParents, walked upwards)."""
    path = [node_id]
    while not node_id.startswith("r-"):
        parents = _pages(client, "list_parents", "Parents", retry, ChildId=node_id)
        node_id = parents[0]["Id"]
        path.insert(0, node_id)
    return "/".join(path)


def walk_organization(
    client: Any, retry: RetryPolicy, units: list[str] | None = None
) -> list[Account]:
    """Every account under the root (or under ``units``), with its OU path, depth first.

    ListAccountsForParent and ListOrganizationalUnitsForParent, paginated; an account reached
    twice (an OU listed under another listed OU) is kept once.
    """
    if units:
        starts = [(unit, _path_to(client, unit, retry)) for unit in units]
    else:
        roots = _pages(client, "list_roots", "Roots", retry)
        starts = [(root["Id"], root["Id"]) for root in roots]
    found: dict[str, Account] = {}
    stack = list(reversed(starts))
    while stack:
        parent, path = stack.pop()
        for entry in _pages(client, "list_accounts_for_parent", "Accounts", retry, ParentId=parent):
            found.setdefault(
                entry["Id"],
                Account(
                    entry["Id"],
                    entry.get("Name", ""),
                    path,
                    account_state(entry),
                    organization_of(str(entry.get("Arn", ""))),
                ),
            )
        children = _pages(
            client,
            "list_organizational_units_for_parent",
            "OrganizationalUnits",
            retry,
            ParentId=parent,
        )
        stack.extend((ou["Id"], f"{path}/{ou['Id']}") for ou in reversed(children))
    return list(found.values())


def resolve_accounts(
    params: Params, clients: Clients, retry: RetryPolicy, caller_id: str
) -> list[Account]:
    """The accounts the parameters name, excluded ones removed, in a stable order
    (``caller_id``, already asked of STS, is the account of ``accounts: null``).

    Raises :class:`OrganizationUnavailable` when Organizations cannot list the organization.
    """
    if params.accounts == "organization":
        try:
            accounts = walk_organization(
                clients.client("organizations"), retry, params.organizational_units
            )
        except (ClientError, BotoCoreError) as exc:
            code = error_code(exc)
            if code == "AWSOrganizationsNotInUseException":
                raise ParamsError(
                    "key 'accounts': organization, but the caller's account is not in an "
                    "AWS Organization (use a list of account ids, or null for this account)"
                ) from exc
            raise OrganizationUnavailable(
                f"accounts: organization needs organizations:ListAccountsForParent (and "
                f"ListRoots, ListOrganizationalUnitsForParent, ListParents) in the management or "
                f"a delegated administrator account: {code}: {exc}"
            ) from exc
    elif params.accounts is None:
        accounts = [Account(caller_id)]
    else:
        accounts = [Account(account_id) for account_id in params.accounts]
    excluded = set(params.exclude_accounts)
    return [a for a in accounts if a.account_id not in excluded]


def role_arn(account_id: str, role_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


class RoleCredentials:
    """AssumeRole into one account, as a botocore ``RefreshableCredentials``.

    The first AssumeRole happens at once (so a refused role is known before any bucket is
    touched); botocore calls :meth:`fetch` again before the credentials expire. A duration longer
    than role chaining allows is retried at the one-hour cap. ``now`` is the clock botocore reads
    (a test passes a fake one).
    """

    def __init__(
        self,
        sts: Any,
        arn: str,
        params: Params,
        retry: RetryPolicy,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.sts, self.arn, self.params, self.retry = sts, arn, params, retry
        self.duration = params.role_duration_s
        self.fetches = 0
        self._lock = threading.Lock()
        extra = {"time_fetcher": now} if now is not None else {}
        metadata = self.fetch()
        self.credentials = RefreshableCredentials(
            metadata["access_key"],
            metadata["secret_key"],
            metadata["token"],
            datetime.fromisoformat(metadata["expiry_time"]),
            self.fetch,
            "assume-role",
            **extra,
        )
        # botocore refreshes 15 min (advisory) / 10 min (mandatory) before expiry: with a
        # 15-minute session that would be an AssumeRole on every request. Scale to the session.
        self.credentials._advisory_refresh_timeout = min(15 * 60, self.duration // 3)
        self.credentials._mandatory_refresh_timeout = min(10 * 60, self.duration // 6)

    def _assume(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "RoleArn": self.arn,
            "RoleSessionName": self.params.role_session_name,
            "DurationSeconds": self.duration,
        }
        if self.params.external_id:
            kwargs["ExternalId"] = self.params.external_id
        return self.retry.call(self.sts.assume_role, **kwargs)

    def fetch(self) -> dict[str, str]:
        """Credentials metadata in the form botocore's refresh expects."""
        with self._lock:
            try:
                response = self._assume()
            except ClientError as exc:
                chained = "chaining" in str(exc) or "DurationSeconds" in str(exc)
                if error_code(exc) != "ValidationError" or not chained or self.duration <= 3600:
                    raise
                log.info("%s: role chaining caps sessions at 1 h; asking for 3600 s", self.arn)
                self.duration = CHAINED_SESSION_LIMIT_S
                response = self._assume()
            self.fetches += 1
        creds = response["Credentials"]
        expiry = creds["Expiration"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiry.isoformat() if isinstance(expiry, datetime) else str(expiry),
        }


def role_session(
    base: boto3.Session,
    arn: str,
    params: Params,
    retry: RetryPolicy,
    now: Callable[[], datetime] | None = None,
) -> boto3.Session:
    """A boto3 session on ``arn``'s refreshable credentials, obtained through ``base``'s STS."""
    sts = base.client("sts", region_name=params.home_region, endpoint_url=params.endpoint_url)
    credentials = RoleCredentials(sts, arn, params, retry, now).credentials
    core = botocore.session.Session()
    # One model loader for every account's session: each session loading its own service models
    # cost 15 MiB and 150 ms of CPU per account (measured: 20 accounts, 295 MiB -> 17 MiB).
    core.register_component("data_loader", base._session.get_component("data_loader"))
    core._credentials = credentials  # botocore has no public setter for refreshable credentials
    return boto3.Session(botocore_session=core, region_name=params.home_region)


#: Sessions of this process, one per (account, role, endpoint): Dask worker processes reuse them
#: across shards instead of assuming the role for every shard.
_SESSIONS: dict[tuple[str, ...], boto3.Session] = {}
_SESSIONS_LOCK = threading.Lock()


def process_session(aws_profile: str | None) -> boto3.Session:
    """This process's own credentials (profile or default chain), one session per profile."""
    key = ("base", aws_profile or "")
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            session = _SESSIONS[key] = make_session(aws_profile)
        return session


def account_session(
    account_id: str,
    own: bool,
    params: Params,
    retry: RetryPolicy,
    base: boto3.Session | None = None,
    hook: Callable[[boto3.Session, str], None] | None = None,
) -> boto3.Session:
    """The session that reaches ``account_id``: the caller's own (``own``) or the role's.

    ``base`` defaults to the process's credentials (``aws_profile`` or the default chain): in a
    Dask worker they are the worker's own, so no secret ever travels in a task. ``hook`` lets
    the embedded demo install its emulators on each new session.
    """
    base = base or process_session(params.aws_profile)
    if own:
        return base
    partition = base._session.get_partition_for_region(params.home_region)
    arn = role_arn(account_id, params.role_name, partition)
    key = (arn, params.external_id or "", params.endpoint_url or "", str(id(base)))
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
    if session is None:
        session = role_session(base, arn, params, retry)
        if hook is not None:
            hook(session, account_id)
        with _SESSIONS_LOCK:
            session = _SESSIONS.setdefault(key, session)
    return session


def forget_sessions() -> None:
    """Drop the cached role sessions (a new demo organization, a test)."""
    with _SESSIONS_LOCK:
        _SESSIONS.clear()
