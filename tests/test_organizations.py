"""Organization scans: accounts from AWS Organizations, roles, engines, the accounts table.

Expectations come from the Organizations and STS documentation: ListAccountsForParent lists the
accounts directly under a root or OU (``State`` ACTIVE / SUSPENDED / PENDING_CLOSURE, the retiring
``Status`` where ``State`` is absent); AssumeRole refused is ``AccessDenied``; role chaining caps a
session at one hour (``ValidationError``). moto answers in-process, or on a moto server on
127.0.0.1 for the Dask engine (worker processes cannot see an in-process mock).
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pandas as pd
import pytest
from moto import mock_aws
from tqdm import tqdm

from s3compliance.cli import EXIT_FAILURE, EXIT_FINDINGS, EXIT_USAGE, main
from s3compliance.outputs.contract import validate_report
from s3compliance.outputs.report import build_report
from s3compliance.params import ParamsError, validate
from s3compliance.scan import engines
from s3compliance.scan.org_scanner import (
    AccountTask,
    DaskEngine,
    DaskUnavailable,
    OrgScanner,
    ShardTask,
    ThreadsEngine,
    scan_shard,
)
from s3compliance.scan.organizations import (
    Account,
    OrganizationUnavailable,
    RoleCredentials,
    account_state,
    forget_sessions,
    role_session,
)
from s3compliance.scan.retry import RetryPolicy
from s3compliance.scan.run import run_scan
from s3compliance.scan.scanner import FINDING_COLUMNS, ScanAborted
from s3compliance.scan.spool import decode_part
from s3compliance.testing.emulation import RoleRefuser, _error, _response
from s3compliance.testing.org_demo import member_session

ROLE = "OrganizationAccountAccessRole"
COMPLIANT = {
    "versioning": "Enabled",
    "sse": "AES256",
    "lifecycle": [{"ID": "e", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 30}}],
}


@pytest.fixture(autouse=True)
def _fresh_sessions() -> None:
    forget_sessions()


def _bucket(s3: Any, name: str, compliant: bool) -> None:
    s3.create_bucket(Bucket=name)
    if compliant:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": COMPLIANT["versioning"]}
        )
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": COMPLIANT["lifecycle"]}
        )


def seed_org(session: boto3.Session, endpoint: str | None = None) -> dict[str, Any]:
    """Management (2 buckets) + alpha (prod/pay, 5) + beta (dev, 3) + gamma (dev, suspended)."""
    org = session.client("organizations", endpoint_url=endpoint)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    prod = org.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
    pay = org.create_organizational_unit(ParentId=prod, Name="pay")["OrganizationalUnit"]["Id"]
    dev = org.create_organizational_unit(ParentId=root, Name="dev")["OrganizationalUnit"]["Id"]
    ids: dict[str, str] = {"management": "123456789012"}
    for name, parent, buckets in (("alpha", pay, 5), ("beta", dev, 3), ("gamma", dev, 0)):
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)
        account_id = status["CreateAccountStatus"]["AccountId"]
        ids[name] = account_id
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
        s3 = member_session(session, account_id, endpoint).client("s3", endpoint_url=endpoint)
        for n in range(buckets):
            _bucket(s3, f"{name}-bucket-{n}", compliant=n % 2 == 0)
    org.close_account(AccountId=ids["gamma"])
    s3 = session.client("s3", endpoint_url=endpoint)
    for n in range(2):
        _bucket(s3, f"management-bucket-{n}", compliant=n == 0)
    return {"ids": ids, "root": root, "prod": prod, "pay": pay, "dev": dev}


@pytest.fixture
def org_session() -> Any:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        yield session, seed_org(session)


def org_params(**values: Any) -> Any:
    base = {"accounts": "organization", "max_workers": 4, "retry_attempts": 2}
    return validate({**base, **values, "retry_max_wait_s": 0}, "<test>")


# --- accounts ---------------------------------------------------------------------------------


def test_the_organization_id_is_read_from_an_account_arn() -> None:
    from s3compliance.scan.organizations import organization_of

    arn = "arn:aws:organizations::111122223333:account/o-ab12cd34ef/444455556666"
    assert organization_of(arn) == "o-ab12cd34ef"
    assert organization_of("arn:aws-us-gov:organizations::111122223333:account/o-ab12cd34ef/1")
    assert organization_of("") == organization_of("arn:aws:iam::111122223333:root") == ""


def test_state_wins_and_status_is_the_fallback() -> None:
    assert account_state({"State": "ACTIVE", "Status": "SUSPENDED"}) == "ACTIVE"
    assert account_state({"Status": "SUSPENDED"}) == "SUSPENDED"
    assert account_state({}) == "UNKNOWN"
    assert not Account("111122223333", status="PENDING_CLOSURE").active


def test_every_account_with_its_ou_path_and_suspended_ones_skipped(org_session) -> None:
    session, org = org_session
    scanner = OrgScanner(org_params(), session=session)
    active = scanner.accounts()
    ids = org["ids"]
    paths = {a.account_id: a.ou_path for a in active}
    assert paths == {
        ids["management"]: org["root"],
        ids["alpha"]: f"{org['root']}/{org['prod']}/{org['pay']}",
        ids["beta"]: f"{org['root']}/{org['dev']}",
    }
    assert [(a.account_id, a.status) for a in scanner.skipped] == [(ids["gamma"], "SUSPENDED")]
    assert {a.name for a in active} == {"master", "alpha", "beta"}


def test_organizational_units_restrict_to_their_subtree_nested_ous_included(org_session) -> None:
    session, org = org_session
    scanner = OrgScanner(org_params(organizational_units=[org["prod"]]), session=session)
    assert [(a.name, a.ou_path) for a in scanner.accounts()] == [
        ("alpha", f"{org['root']}/{org['prod']}/{org['pay']}")
    ]


def test_explicit_accounts_and_exclusions(org_session) -> None:
    session, org = org_session
    ids = org["ids"]
    params = org_params(accounts=[ids["alpha"], ids["beta"]], exclude_accounts=[ids["beta"]])
    assert [a.account_id for a in OrgScanner(params, session=session).accounts()] == [ids["alpha"]]


def _deny_organizations(session: boto3.Session) -> None:
    def deny(request: Any, **_: Any) -> Any:
        body = json.dumps(
            {
                "__type": "AccessDeniedException",
                "Message": "You don't have permissions to access this resource.",
            }
        )
        return _response(request, 400, body, {"content-type": "application/x-amz-json-1.1"})

    session.events.register_first("before-send.organizations", deny)


def test_organizations_denied_aborts_in_one_line(org_session) -> None:
    session, _ = org_session
    _deny_organizations(session)
    scanner = OrgScanner(org_params(), session=session)
    with pytest.raises(OrganizationUnavailable, match="AccessDeniedException"):
        scanner.discover(progress=False)


def test_cli_organizations_denied_is_exit_1_and_not_in_use_is_exit_2(tmp_path, capsys) -> None:
    params = tmp_path / "org.yaml"
    params.write_text("accounts: organization\nretry_attempts: 1\n")
    with mock_aws():  # no organization created: AWSOrganizationsNotInUseException
        code = main(["scan", "--params", str(params), "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_USAGE
    assert err.startswith("s3compliance: bad parameters:") and "not in an AWS Organization" in err
    assert len(err.splitlines()) == 1

    forget_sessions()  # the CLI's process session is made anew, with the denial on it
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        session.client("organizations").create_organization(FeatureSet="ALL")
        original = boto3.Session

        def denied_session(*args: Any, **kwargs: Any) -> boto3.Session:
            made = original(*args, **kwargs)
            _deny_organizations(made)
            return made

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("s3compliance.scan.aws.boto3.Session", denied_session)
            code = main(["scan", "--params", str(params), "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_FAILURE
    assert err.startswith("s3compliance: scan aborted:") and "AccessDeniedException" in err
    assert len(err.splitlines()) == 1


# --- one account's failure is its row ---------------------------------------------------------


def test_a_refused_role_is_that_accounts_error_row_and_the_rest_completes(org_session) -> None:
    session, org = org_session
    ids = org["ids"]
    refuser = RoleRefuser({ids["beta"]}).install(session)
    result = run_scan(org_params(), session=session, progress=False)
    accounts = result.accounts.set_index("account_name")
    assert refuser.refused == 1
    assert accounts.loc["beta", "status"] == "error"
    assert accounts.loc["beta", "error_code"] == "AccessDenied"
    assert f"arn:aws:iam::{ids['beta']}:role/{ROLE}" in accounts.loc["beta", "reason"]
    assert "\n" not in accounts.loc["beta", "reason"]
    assert accounts.loc["gamma", "status"] == "skipped"
    assert list(accounts.loc[["master", "alpha"], "status"]) == ["scanned", "scanned"]
    assert list(accounts.loc[["master", "alpha", "beta"], "total_buckets"]) == [2, 5, 0]
    # alpha: buckets 0, 2, 4 compliant (versioning, SSE, lifecycle), 1 and 3 bare
    assert (
        accounts.loc["alpha", "compliant_buckets"] + accounts.loc["alpha", "non_compliant_buckets"]
        == 5
    )
    assert not result.buckets["bucket"].str.startswith("beta-").any()
    assert set(result.buckets["account_name"]) == {"master", "alpha"}
    summary = result.summary()
    assert summary["failed_accounts"] == 1 and summary["total_buckets"] == 7
    report = build_report(result)
    validate_report(report)
    entry = next(a for a in report["accounts"] if a["account_name"] == "beta")
    assert entry["status"] == "error" and entry["error_code"] == "AccessDenied"
    assert {b["account_id"] for b in report["buckets"]} == {ids["management"], ids["alpha"]}
    assert report["account_id"] == ids["management"]  # the scanning account


def test_the_callers_own_account_is_scanned_without_a_role(org_session) -> None:
    session, org = org_session
    refuser = RoleRefuser({org["ids"]["management"]}).install(session)  # would refuse a role
    result = run_scan(org_params(accounts=[org["ids"]["management"]]), session=session)
    assert refuser.refused == 0
    assert list(result.accounts["status"]) == ["scanned"]
    assert "sts:AssumeRole" not in result.api_calls


def test_a_role_revoked_between_discovery_and_check_makes_error_findings_never_pass(
    org_session,
) -> None:
    session, org = org_session
    scanner = OrgScanner(org_params(shard_size=2), session=session)
    discovered = scanner.discover(progress=False)
    forget_sessions()  # the next shard must assume the role again
    RoleRefuser({org["ids"]["alpha"]}).install(session)
    result = scanner.check(discovered, progress=False)
    alpha = result.findings[result.findings["account_name"] == "alpha"]
    assert len(alpha) == 5 * 5 and set(alpha["status"]) == {"ERROR"}
    assert set(alpha["error_code"]) == {"AccessDenied"}
    buckets = result.buckets[result.buckets["account_name"] == "alpha"]
    assert set(buckets["status"]) == {"unknown"}
    row = result.accounts.set_index("account_name").loc["alpha"]
    assert row["status"] == "error" and "could not be scanned" in row["reason"]


def test_a_task_that_raises_becomes_error_findings_for_its_shard(org_session) -> None:
    session, _ = org_session
    scanner = OrgScanner(org_params(), session=session)
    discovered = scanner.discover(progress=False)
    shard = scanner.shards(discovered)[0]

    def boom(task: ShardTask, **_: Any) -> Any:
        raise MemoryError("worker lost")

    engine = ThreadsEngine(scanner.params)
    with tqdm(disable=True) as bar:
        [result] = engine.map(boom, [shard], [1], bar, scanner._shard_failed)
    assert result.error_code == "MemoryError" and "worker lost" in result.reason
    findings = decode_part(result.findings)  # the shard's part, as it travels to the driver
    assert set(findings["status"]) == {"ERROR"}
    assert list(findings.columns) == FINDING_COLUMNS
    assert len(findings) == len(shard.discovered) * 5
    failed = scanner._discovery_failed(shard.task, RuntimeError("x"))
    assert failed.error_code == "RuntimeError" and failed.discovered.empty


# --- credentials ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_role_credentials_refresh_themselves_before_they_expire(org_session) -> None:
    session, org = org_session
    clock = Clock()
    params = org_params(role_duration_s=900)
    sts = session.client("sts")

    def issued_on_the_clock(parsed: dict, **_: Any) -> None:  # STS stamps expiry from its now
        parsed["Credentials"]["Expiration"] = clock.now + timedelta(seconds=900)

    sts.meta.events.register("after-call.sts.AssumeRole", issued_on_the_clock)
    arn = f"arn:aws:iam::{org['ids']['alpha']}:role/{ROLE}"
    role = RoleCredentials(sts, arn, params, RetryPolicy(1), now=clock)
    first = role.credentials.get_frozen_credentials()
    assert role.fetches == 1
    clock.now += timedelta(minutes=5)  # far from expiry: no refresh
    assert role.credentials.get_frozen_credentials() == first and role.fetches == 1
    clock.now += timedelta(hours=2)  # a scan that outlived the session
    second = role.credentials.get_frozen_credentials()
    assert role.fetches == 2 and second.access_key != first.access_key
    # a session built on them keeps working through the refresh
    member = role_session(session, arn, params, RetryPolicy(1))
    assert member.client("sts").get_caller_identity()["Account"] == org["ids"]["alpha"]


def test_role_chaining_is_retried_at_the_one_hour_cap(org_session) -> None:
    session, org = org_session
    asked: list[int] = []

    def chaining_limit(request: Any, **_: Any) -> Any:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        duration = int(parse_qs(body)["DurationSeconds"][0])
        asked.append(duration)
        if duration <= 3600:
            return None
        message = (
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
            "by role chaining."
        )
        return _response(
            request,
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>"
            f"<Message>{message}</Message></Error></ErrorResponse>",
        )

    session.events.register_first("before-send.sts.AssumeRole", chaining_limit)
    sts = session.client("sts")
    arn = f"arn:aws:iam::{org['ids']['alpha']}:role/{ROLE}"
    role = RoleCredentials(sts, arn, org_params(role_duration_s=7200), RetryPolicy(1))
    assert asked == [7200, 3600] and role.duration == 3600 and role.fetches == 1
    # an error that is not the chaining cap is not retried
    refuser = RoleRefuser({org["ids"]["alpha"]})
    session.events.register_first("before-send.sts.AssumeRole", refuser)
    with pytest.raises(Exception, match="AccessDenied"):
        RoleCredentials(
            session.client("sts"), arn, org_params(role_duration_s=7200), RetryPolicy(1)
        )


def test_external_id_is_sent_with_assume_role(org_session) -> None:
    session, org = org_session
    sent: list[dict] = []

    def record(request: Any, **_: Any) -> None:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        sent.append(parse_qs(body))

    session.events.register_first("before-send.sts.AssumeRole", record)
    params = org_params(external_id="s3c-Ext-42", role_session_name="nightly-audit")
    arn = f"arn:aws:iam::{org['ids']['alpha']}:role/{ROLE}"
    RoleCredentials(session.client("sts"), arn, params, RetryPolicy(1))
    assert sent[0]["ExternalId"] == ["s3c-Ext-42"]
    assert sent[0]["RoleSessionName"] == ["nightly-audit"]
    assert sent[0]["DurationSeconds"] == ["3600"]


# --- shards and engines -----------------------------------------------------------------------


def _comparable(frame: pd.DataFrame) -> list[dict]:
    rows = frame.drop(columns=["evidence"], errors="ignore").to_dict(orient="records")
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)


def test_shards_split_an_account_and_change_no_finding(org_session) -> None:
    session, _ = org_session
    whole = run_scan(org_params(), session=session, progress=False)
    forget_sessions()
    scanner = OrgScanner(org_params(shard_size=2), session=session)
    discovered = scanner.discover(progress=False)
    sizes = [len(s.discovered) for s in scanner.shards(discovered)]
    assert sizes == [2, 2, 2, 1, 2, 1]  # management 2; alpha 5 = 2+2+1; beta 3 = 2+1
    split = scanner.check(discovered, progress=False)
    assert _comparable(split.findings) == _comparable(whole.findings)
    assert list(split.buckets["bucket"]) == list(whole.buckets["bucket"])
    assert split.findings["evidence"].tolist() == whole.findings["evidence"].tolist()


def test_shard_function_runs_in_process_and_returns_compact_rows(org_session) -> None:
    session, org = org_session
    scanner = OrgScanner(org_params(), session=session)
    discovered = scanner.discover(progress=False)
    shard = next(s for s in scanner.shards(discovered) if s.task.account.name == "alpha")
    result = scan_shard(shard, base=session)
    assert result.account_id == org["ids"]["alpha"] and not result.error_code
    assert set(result.buckets["bucket"]) == {f"alpha-bucket-{n}" for n in range(5)}
    assert result.stats.api_calls["GetBucketVersioning"] == 5
    assert isinstance(shard.task, AccountTask) and not shard.task.own


def test_progress_bars_count_accounts_then_buckets(org_session, capsys) -> None:
    session, _ = org_session
    scanner = OrgScanner(org_params(), session=session)
    scanner.check(scanner.discover(progress=True), progress=True)
    err = capsys.readouterr().err
    assert "Discovering accounts" in err and "3/3" in err
    assert "Scanning buckets" in err and "10/10" in err


def test_dask_missing_or_unreachable_is_one_line(monkeypatch) -> None:
    params = validate({"engine": "dask", "dask_scheduler": "tcp://127.0.0.1:9"}, "<t>")
    with pytest.raises(DaskUnavailable, match="cannot reach the Dask scheduler"):
        DaskEngine(params)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(DaskUnavailable, match=r"pip install 's3compliance\[dask\]'"):
        engines.make_engine(params)


@pytest.fixture
def server_org(server_session, moto_server) -> Any:
    return server_session, seed_org(server_session, moto_server), moto_server


def test_dask_local_cluster_gives_the_threads_engines_findings(server_org, capsys) -> None:
    session, _, endpoint = server_org
    RoleRefuser(set()).install(session)
    threads = run_scan(org_params(endpoint_url=endpoint), session=session, progress=False)
    forget_sessions()
    params = org_params(endpoint_url=endpoint, engine="dask", dask_workers=2, shard_size=2)
    dask = run_scan(params, progress=True)
    out = capsys.readouterr()
    assert "Dask dashboard: http://127.0.0.1:" in out.out
    assert "Scanning shards" in out.err
    assert _comparable(dask.findings) == _comparable(threads.findings)
    assert dask.findings["evidence"].tolist() == threads.findings["evidence"].tolist()
    assert _comparable(dask.buckets) == _comparable(threads.buckets)
    columns = ["account_id", "status", "total_buckets", "non_compliant_buckets", "api_calls"]
    assert dask.accounts[columns].to_dict(orient="records") == threads.accounts[columns].to_dict(
        orient="records"
    )
    assert list(dask.accounts["status"]) == ["scanned", "scanned", "scanned", "skipped"]
    assert dask.api_calls == threads.api_calls


def test_the_local_clusters_workers_do_not_profile() -> None:
    """Their profiler's frame sampling can deadlock a CPython 3.11 worker that starts a thread
    (python/cpython#116969): every worker the engine starts has it off."""
    import dask

    engine = DaskEngine(validate({"engine": "dask", "dask_workers": 2}, "<t>"))
    try:
        enabled = engine.client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
        assert list(enabled.values()) == [False, False]
    finally:
        engine.close()
    assert dask.config.get("distributed.worker.profile.enabled") is True  # here: unchanged


# --- parameters, CLI, demo --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"accounts": "all"}, "key 'accounts': expected null (this account), 'organization'"),
        ({"accounts": ["12345"]}, "key 'accounts'"),
        ({"accounts": []}, "key 'accounts'"),
        ({"organizational_units": ["ou-x"]}, "key 'organizational_units'[0]"),
        ({"organizational_units": ["r-ab12"]}, "only used with accounts: organization"),
        ({"exclude_accounts": ["111122223333"]}, "key 'exclude_accounts': only used"),
        ({"engine": "spark"}, "key 'engine'"),
        ({"dask_scheduler": "tcp://h:8786"}, "only used with engine: dask"),
        ({"dask_scheduler": "h:8786", "engine": "dask"}, "key 'dask_scheduler'"),
        ({"role_name": "bad role"}, "key 'role_name'"),
        ({"role_duration_s": 600}, "key 'role_duration_s'"),
        ({"shard_size": 0}, "key 'shard_size'"),
        ({"accounts": "organization", "apply_tags": True}, "key 'apply_tags'"),
        ({"demo": True, "accounts": "organization"}, "use demo: org"),
        ({"demo": "org", "engine": "dask"}, "Dask workers cannot see"),
        ({"demo": "yes"}, "key 'demo'"),
    ],
)
def test_bad_organization_parameters_name_the_key(values: dict, message: str) -> None:
    with pytest.raises(ParamsError) as info:
        validate(values, "org.yaml")
    assert message in str(info.value) and str(info.value).startswith("org.yaml: ")


def test_good_organization_parameters() -> None:
    params = validate(
        {
            "accounts": "organization",
            "organizational_units": ["r-ab12", "ou-ab12-abcdefgh"],
            "exclude_accounts": ["111122223333"],
            "engine": "dask",
            "dask_scheduler": "tcp://10.0.0.5:8786",
            "external_id": "abc-123",
        },
        "org.yaml",
    )
    assert params.multi_account and params.role_name == ROLE
    assert not validate({}, "x").multi_account
    assert validate({"engine": "dask"}, "x").multi_account


def test_cli_demo_org_reports_every_account_and_says_it_is_incomplete(tmp_path, capsys) -> None:
    code = main(["demo", "--org", "--output-dir", str(tmp_path), "--run-id", "org"])
    out = capsys.readouterr().out
    assert code == EXIT_FINDINGS
    assert "Accounts: 7 listed, 5 scanned, 1 in error, 1 skipped" in out
    assert "legacy-erp" in out and "AccessDenied" in out and "INCOMPLETE" in out
    folder = tmp_path / "org"
    report = json.loads((folder / "findings.json").read_text())
    validate_report(report)
    by_name = {a["account_name"]: a for a in report["accounts"]}
    assert set(by_name) == {
        "master",
        "payments-prod",
        "data-lake",
        "sandbox",
        "security-logs",
        "legacy-erp",
        "closed-2019",
    }
    assert by_name["legacy-erp"]["status"] == "error"
    assert by_name["closed-2019"]["status"] == "skipped"
    assert all(by_name[n]["total_buckets"] == 40 for n in ("payments-prod", "sandbox"))
    assert by_name["master"]["total_buckets"] == 138
    assert by_name["payments-prod"]["ou_path"].count("/") == 2  # root / prod / payments
    assert (folder / "accounts.png").exists()
    main_py = (folder / "pulumi" / "__main__.py").read_text()
    assert "aws.Provider(" in main_py and "allowed_account_ids" in main_py
    html = (folder / "report.html").read_text()
    assert "Accounts, worst first" in html and "legacy-erp" in html
    # the first screen: the organization line, its failed account in red (issue 29)
    (legacy,) = [a["account_id"] for a in report["accounts"] if a["account_name"] == "legacy-erp"]
    assert "Organization run: 7 account(s) · 1 skipped (suspended or closed)" in html
    assert f'<span class="s3c-failed">1 failed: {legacy}</span>' in html
    assert "INCOMPLETE: 1 account(s) could not be scanned" in html
    # the organization's id, read from each account's ARN, reaches the OCSF findings
    (org_id,) = {a["org_id"] for a in report["accounts"]}
    assert re.fullmatch(r"o-[a-z0-9]{10,32}", org_id)
    records = json.loads((folder / "findings.ocsf.json").read_text())
    assert {r["cloud"]["org"]["uid"] for r in records} == {org_id}
    assert {r["cloud"]["account"]["uid"] for r in records} == {
        a["account_id"]
        for a in report["accounts"]
        if a["status"] != "skipped" and a["total_buckets"]
    }


def test_demo_organization_is_the_same_on_every_run() -> None:
    from s3compliance.testing.org_demo import demo_organization

    seen = []
    for _ in range(2):
        with demo_organization() as organization:
            seen.append(dict(organization.accounts))
    assert seen[0] == seen[1] and len(seen[0]) == 6


def test_report_of_an_organization_run_validates_and_names_accounts(tmp_path: Path) -> None:
    from s3compliance.outputs.report import accounts_table, failed_accounts_table
    from s3compliance.testing.demo import demo_params
    from s3compliance.testing.org_demo import demo_organization

    with demo_organization() as organization:
        params = demo_params(demo="org", include=["demo-sandbox-*", "demo-public-*"])
        scanner = OrgScanner(params, session=organization.session, hook=organization.hook)
        result = scanner.check(scanner.discover(progress=False), progress=False)
    table = accounts_table(result)
    statuses = list(table["status"])
    assert statuses[0] == "error" and statuses[-1] == "skipped"
    assert list(failed_accounts_table(result)["account_name"]) == ["legacy-erp"]
    scanned = table[table["status"] == "scanned"]
    assert list(scanned["non_compliant_buckets"]) == sorted(
        scanned["non_compliant_buckets"], reverse=True
    )


# --- edges: denied listings, pagination, the caller's own account, Dask plumbing ---------------


def test_a_member_whose_buckets_cannot_be_listed_is_an_error_row(org_session) -> None:
    session, org = org_session

    def deny(request: Any, **_: Any) -> Any:
        return _error(request, 403, "AccessDenied", "Access Denied")

    def hook(member: boto3.Session, account_id: str) -> None:
        if account_id == org["ids"]["beta"]:
            member.events.register_first("before-send.s3.ListBuckets", deny)

    scanner = OrgScanner(org_params(), session=session, hook=hook)
    result = scanner.check(scanner.discover(progress=False), progress=False)
    row = result.accounts.set_index("account_name").loc["beta"]
    assert (row["status"], row["error_code"]) == ("error", "AccessDenied")
    assert row["reason"].startswith("ListBuckets failed: cannot list the account's buckets")
    assert result.accounts.set_index("account_name").loc["alpha", "status"] == "scanned"
    scanner.close()  # closing twice is harmless


def test_listings_are_followed_past_the_first_page() -> None:
    """ListAccountsForParent pages at 20 accounts (NextToken): the 23rd account is still found."""
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        org = session.client("organizations")
        org.create_organization(FeatureSet="ALL")
        for n in range(22):
            org.create_account(Email=f"m{n}@example.com", AccountName=f"member-{n:02d}")
        scanner = OrgScanner(org_params(), session=session)
        accounts = scanner.accounts()
    assert len(accounts) == 23 and len({a.account_id for a in accounts}) == 23
    assert {a.name for a in accounts} >= {"member-00", "member-21", "master"}


def _refuse_caller_identity(session: boto3.Session) -> None:
    def refuse(request: Any, **_: Any) -> Any:
        return _response(
            request,
            403,
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            "<Message>denied</Message></Error></ErrorResponse>",
        )

    session.events.register_first("before-send.sts.GetCallerIdentity", refuse)


def test_the_dask_engine_on_the_callers_own_account_needs_its_id(org_session) -> None:
    session, org = org_session
    params = validate({"engine": "dask"}, "<t>")
    scanner = OrgScanner(params, session=session)
    assert [a.account_id for a in scanner.accounts()] == [org["ids"]["management"]]
    assert scanner.listed == [org["ids"]["management"]]
    forget_sessions()
    with mock_aws():
        denied = boto3.Session(region_name="us-east-1")
        _refuse_caller_identity(denied)
        with pytest.raises(ScanAborted, match="cannot tell the caller's account"):
            OrgScanner(params, session=denied).accounts()


def test_process_sessions_are_made_once_per_profile() -> None:
    from s3compliance.scan.organizations import process_session

    assert process_session(None) is process_session(None)


def fail_on_odd(n: int) -> int:
    if n % 2:
        raise ValueError(f"task {n} failed")
    return n * 10


def test_dask_engine_on_an_existing_scheduler_returns_failures_in_order() -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        params = validate({"engine": "dask", "dask_scheduler": cluster.scheduler_address}, "<t>")
        engine = DaskEngine(params)
        try:
            with tqdm(disable=True) as bar:
                results = engine.map(
                    fail_on_odd, [0, 1, 2], [1, 1, 1], bar, lambda n, e: f"{n}: {e}"
                )
        finally:
            engine.close()
        assert results == [0, "1: task 1 failed", 20]
        assert engine.cluster is None  # an existing cluster is not ours to stop


def test_cli_scan_of_an_account_list_prints_the_accounts_line(tmp_path, capsys) -> None:
    params = tmp_path / "p.yaml"
    params.write_text('accounts: ["123456789012"]\n')
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="own-bucket")
        code = main(["scan", "--params", str(params), "--output-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == EXIT_FINDINGS  # the bare bucket is non-compliant
    assert "Accounts: 1 listed, 1 scanned, 0 in error, 0 skipped" in out
    assert "INCOMPLETE" not in out


def test_notebook_steps_of_an_organization_run(capsys) -> None:
    from s3compliance.outputs import charts
    from s3compliance.outputs import notebook as runner
    from s3compliance.outputs.report import overview_table
    from s3compliance.testing.demo import demo_params

    params = demo_params(demo="org", include=["demo-sandbox-*", "demo-compliant-0*"])
    scanner = runner.open_scanner(params)
    try:
        result = scanner.check(runner.discover(scanner), progress=False)
    finally:
        runner._demo_account.stop()
        runner._demo_account = None
    runner.show_accounts(result)
    out = capsys.readouterr().out
    assert "INCOMPLETE: 1 account(s) could not be scanned" in out
    figures = charts.all_charts(result, "2026-01-01")
    assert "accounts" in figures
    assert figures["accounts"].axes[0].get_title().startswith("7 accounts, scanned from")
    labels = [t.get_text() for t in figures["accounts"].axes[0].get_yticklabels()]
    assert any(label.endswith("[NOT SCANNED]") and "legacy-erp" in label for label in labels)
    matrix = charts.accounts_matrix(result)
    assert matrix.iloc[0]["non_compliant"] == matrix["non_compliant"].max()
    assert "failed accounts" in overview_table(result).index
    result.accounts = result.accounts[result.accounts["status"] != "error"]
    runner.show_accounts(result)
    assert "Every listed account was scanned." in capsys.readouterr().out
    result.organization = False  # a single-account run: one line, no table
    runner.show_accounts(result)
    assert capsys.readouterr().out.startswith("One account: 123456789012 (accounts: null).")
