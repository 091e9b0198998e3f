"""AWS Security Hub import (issue 23): updates instead of duplicates, archives fixes and deleted
buckets, suppresses accepted risks; every failure reported.

Expectations from Security Hub's API reference: BatchImportFindings takes at most 100 findings a
call and answers FailedCount / SuccessCount / FailedFindings; an existing finding's workflow
changes only through BatchUpdateFindings (FindingIdentifiers Id + ProductArn, Workflow.Status,
Note.Text / UpdatedBy); ``InvalidAccessException`` means Security Hub is not enabled. moto
emulates BatchImportFindings and GetFindings; BatchUpdateFindings is checked with Stubber.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from botocore.stub import Stubber

from s3compliance.actions import securityhub
from s3compliance.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main
from s3compliance.outputs.asff import (
    ASFF_SCHEMA,
    MAX_FINDING_BYTES,
    AsffInvalid,
    asff_findings,
    product_arn,
    validate_asff,
)
from s3compliance.outputs.report import build_report, write_report
from s3compliance.outputs.securityhub_import import (
    StateUnreadable,
    first_seen,
    import_report,
    read_state,
    state_path,
)
from s3compliance.scan.aws import Clients
from s3compliance.scan.retry import RetryPolicy
from s3compliance.scan.run import run_scan
from s3compliance.testing.demo import demo_account, demo_params
from s3compliance.testing.securityhub_demo import hub_findings

ACCOUNT = "123456789012"
NOW = "2026-12-01T06:00:00Z"
LATER = "2026-12-02T06:00:00Z"
RETRY = RetryPolicy(attempts=2, max_wait_s=0, sleep=lambda _s: None)


def test_the_demo_shows_the_whole_lifecycle(capsys) -> None:
    """The issue's "done when": plan, apply, re-run, fix, delete on the embedded account."""
    assert main(["securityhub", "--demo"]) == EXIT_OK
    text = capsys.readouterr().out
    said = text.splitlines()
    # 110 FAIL/ERROR findings on the mission profile (demo fleet: 108 FAIL + 2 ERROR)
    assert "Security Hub: 110 create, 0 update, 0 archive" in text
    assert "Security Hub: 0 create, 110 update, 0 archive" in text  # a re-run never duplicates
    assert "0 create, 109 update, 1 archive" in text  # the fixed bucket's PASSED, archived
    assert "0 create, 104 update, 5 archive" in text  # the deleted bucket's five findings
    counts = [line for line in said if "Security Hub holds" in line]
    assert [c.strip() for c in counts] == [
        "Security Hub holds 110 finding(s), 0 archived",
        "Security Hub holds 110 finding(s), 0 archived",
        "Security Hub holds 110 finding(s), 1 archived",
        "Security Hub holds 110 finding(s), 6 archived",
    ]


@pytest.fixture
def hub_account(tmp_path):
    """The demo account, its Security Hub enabled, and a params set writing under tmp_path."""
    with demo_account() as session:
        clients = Clients(session, None, 8)
        hub = clients.client("securityhub", "us-east-1")
        hub.enable_security_hub()
        params = demo_params(output_dir=str(tmp_path / "out"), apply_tags=False, max_workers=8)
        yield session, clients, hub, params


def _publish(clients, params, run_id: str, generated_at: str) -> dict:
    result = run_scan(params, clients=clients, progress=False)
    folder = write_report(result, params.output_dir, run_id, generated_at=generated_at)
    return json.loads((Path(folder) / "findings.json").read_text())


def test_a_reimport_updates_in_place_and_first_observed_is_the_streak_start(hub_account):
    _, clients, hub, params = hub_account
    report = _publish(clients, params, "day1", NOW)
    first = import_report(report, params, lambda _a: hub, apply=True, now=NOW, retry=RETRY)
    assert first.outcome.imported == 110 and not first.outcome.failures
    held = {f["Id"]: f for f in hub_findings(hub)}
    assert len(held) == 110
    report = _publish(clients, params, "day2", LATER)
    again = import_report(report, params, lambda _a: hub, apply=True, now=LATER, retry=RETRY)
    assert again.plan.counts()["update"] == 110 and again.plan.counts()["create"] == 0
    after = {f["Id"]: f for f in hub_findings(hub)}
    assert set(after) == set(held)  # the same ids: updated, never duplicated
    sample = next(iter(after.values()))
    assert sample["UpdatedAt"] == LATER
    # the FAIL streak began with day1: FirstObservedAt says so, not today
    fails = [f for f in after.values() if f["Compliance"]["Status"] == "FAILED"]
    assert {f["FirstObservedAt"] for f in fails} == {NOW}
    assert {f["CreatedAt"] for f in fails} == {NOW}
    # what the import kept, outside the run folders
    state = read_state(params.output_dir)
    assert state_path(params.output_dir).parent.name == ".securityhub"
    assert len(state["findings"]) == 110
    assert {v["record_state"] for v in state["findings"].values()} == {"ACTIVE"}


def test_the_asff_of_each_status(hub_account) -> None:
    _, clients, _, params = hub_account
    report = _publish(clients, params, "day1", NOW)
    findings = asff_findings(report, "us-east-1", NOW, first_seen(params.output_dir))
    for finding in findings:
        validate_asff(finding)
        assert finding["SchemaVersion"] == "2018-10-08"
        assert finding["ProductArn"] == product_arn("aws", "us-east-1", ACCOUNT)
        assert finding["ProductArn"].endswith(f":{ACCOUNT}:product/{ACCOUNT}/default")
        assert (
            finding["Id"] == "s3compliance/" + finding["ProductFields"]["s3compliance/finding_id"]
        )
        assert finding["FindingProviderFields"]["Severity"] == finding["Severity"]
        assert finding["Types"][0].startswith(
            "Software and Configuration Checks/Industry and Regulatory Standards"
        )
    by = {(f["Resources"][0]["Id"], f["GeneratorId"]): f for f in findings}
    versioning = by[("arn:aws:s3:::demo-versioning-never-01", "versioning")]
    assert versioning["Compliance"] == {
        "Status": "FAILED",
        "RelatedRequirements": ["AWS-FSBP S3.14"],
    }
    assert versioning["Severity"]["Label"] == "MEDIUM"
    details = versioning["Resources"][0]["Details"]["AwsS3Bucket"]
    assert details["OwnerAccountId"] == ACCOUNT
    assert details["BucketVersioningConfiguration"]["Status"] == "Off"
    denied = by[("arn:aws:s3:::demo-restricted-01", "public_access")]
    assert denied["Compliance"]["Status"] == "NOT_AVAILABLE"
    assert denied["ProductFields"]["s3compliance/error_code"] == "AccessDenied"
    passed = by[("arn:aws:s3:::demo-compliant-01", "encryption")]
    assert passed["Compliance"]["Status"] == "PASSED"
    assert passed["Severity"]["Label"] == "INFORMATIONAL"
    sse = passed["Resources"][0]["Details"]["AwsS3Bucket"]["ServerSideEncryptionConfiguration"]
    assert sse["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "Remediation" in passed and "evidence" not in json.dumps(passed)


def _minimal() -> dict:
    return {
        "SchemaVersion": "2018-10-08",
        "Id": "s3compliance/0123456789abcdef",
        "ProductArn": product_arn("aws", "us-east-1", ACCOUNT),
        "GeneratorId": "versioning",
        "AwsAccountId": ACCOUNT,
        "Types": ["Software and Configuration Checks"],
        "CreatedAt": NOW,
        "UpdatedAt": NOW,
        "Severity": {"Label": "MEDIUM"},
        "Title": "t",
        "Description": "d",
        "Resources": [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b"}],
        "Compliance": {"Status": "FAILED"},
        "RecordState": "ACTIVE",
    }


@pytest.mark.parametrize("missing", ASFF_SCHEMA["required"])
def test_the_validator_refuses_a_finding_missing_a_required_field(missing: str) -> None:
    finding = _minimal()
    validate_asff(finding)
    del finding[missing]
    with pytest.raises(AsffInvalid, match=f"'{missing}' is a required property"):
        validate_asff(finding)


def test_the_validator_refuses_wrong_types_and_oversized_findings() -> None:
    for key, value in (
        ("AwsAccountId", "12345"),
        ("Types", []),
        ("CreatedAt", "yesterday"),
        ("Severity", {"Label": "SEVERE"}),
        ("Compliance", {"Status": "OK"}),
        ("Resources", []),
    ):
        with pytest.raises(AsffInvalid, match=f"at {key}"):
            validate_asff({**_minimal(), key: value})
    big = {**_minimal(), "ProductFields": {"pad": "x" * MAX_FINDING_BYTES}}
    with pytest.raises(AsffInvalid, match="over Security Hub's 240 KB"):
        validate_asff(big)


def _asff(n: int, status: str = "FAILED", exception: str = "") -> dict:
    finding = copy.deepcopy(_minimal())
    finding["Id"] = f"s3compliance/{n:016x}"
    finding["Compliance"]["Status"] = status
    finding["ProductFields"] = {"s3compliance/finding_id": f"{n:016x}"}
    if exception:
        finding["ProductFields"]["s3compliance/exception_id"] = exception
        finding["ProductFields"]["s3compliance/exception_expires"] = "2027-03-31"
    return finding


class _Hub:
    """A recording stand-in where moto cannot answer (a FailedFindings answer)."""

    def __init__(self, failed_ids: tuple[str, ...] = ()) -> None:
        self.calls: list[int] = []
        self.failed_ids = failed_ids

    def batch_import_findings(self, Findings: list[dict]) -> dict:
        self.calls.append(len(Findings))
        failed = [
            {"Id": f["Id"], "ErrorCode": "InvalidInput", "ErrorMessage": "no"}
            for f in Findings
            if f["Id"] in self.failed_ids
        ]
        return {
            "FailedCount": len(failed),
            "SuccessCount": len(Findings) - len(failed),
            "FailedFindings": failed,
        }


def test_250_findings_go_in_3_calls_and_a_failed_finding_is_named(hub_account) -> None:
    _, clients, hub, _ = hub_account
    findings = [_asff(n) for n in range(250)]
    plan = securityhub.plan_import(findings, securityhub.empty_state(), NOW, [ACCOUNT])
    outcome = securityhub.send(plan, lambda _a: hub, RETRY, validate_asff)
    assert clients.recorder.by_operation["securityhub:BatchImportFindings"] == 3
    assert (outcome.imported, outcome.failures) == (250, []) and len(hub_findings(hub)) == 250
    # moto accepts every finding: a FailedFindings answer comes from a recording stand-in
    hub = _Hub(failed_ids=(findings[7]["Id"],))
    outcome = securityhub.send(plan, lambda _a: hub, RETRY, validate_asff)
    assert hub.calls == [100, 100, 50]
    assert outcome.imported == 249
    assert outcome.failures == [f"{findings[7]['Id']}: InvalidInput"]
    kept = securityhub.state_after(plan, outcome, securityhub.empty_state())
    assert findings[7]["Id"] not in kept["findings"] and len(kept["findings"]) == 249
    # a finding that breaks the rules is a reported failure, never sent
    broken = {**_asff(999), "AwsAccountId": "x"}
    plan = securityhub.plan_import([broken], securityhub.empty_state(), NOW, [ACCOUNT])
    hub = _Hub()
    outcome = securityhub.send(plan, lambda _a: hub, RETRY, validate_asff)
    assert hub.calls == [] and "Invalid" in outcome.failures[0]


def test_passes_are_imported_only_to_archive_unless_asked() -> None:
    state = securityhub.empty_state()
    first = securityhub.plan_import([_asff(1), _asff(2, "PASSED")], state, NOW, [ACCOUNT])
    assert first.table["action"].tolist() == ["create", "skip"]
    fixed = securityhub.plan_import(
        [_asff(1, "PASSED"), _asff(2, "PASSED")], first.state, LATER, [ACCOUNT]
    )
    assert fixed.table["action"].tolist() == ["archive", "skip"]
    assert fixed.imports[0]["RecordState"] == "ARCHIVED"
    # archived already: not sent again
    again = securityhub.plan_import([_asff(1, "PASSED")], fixed.state, LATER, [ACCOUNT])
    assert again.table["action"].tolist() == ["skip"]
    everything = securityhub.plan_import(
        [_asff(2, "PASSED")], state, NOW, [ACCOUNT], include_passed=True
    )
    assert everything.table["action"].tolist() == ["create"]


def test_a_gone_finding_is_archived_only_in_an_account_that_was_scanned() -> None:
    first = securityhub.plan_import([_asff(1)], securityhub.empty_state(), NOW, [ACCOUNT])
    not_scanned = securityhub.plan_import([], first.state, LATER, [])
    assert not_scanned.table.empty and not_scanned.imports == []
    gone = securityhub.plan_import([], first.state, LATER, [ACCOUNT])
    assert gone.table["action"].tolist() == ["archive"]
    assert gone.imports[0]["RecordState"] == "ARCHIVED" and gone.imports[0]["UpdatedAt"] == LATER


def test_accepted_risks_are_suppressed_and_reopened_with_batch_update_findings() -> None:
    """moto has no BatchUpdateFindings: the exact requests, with botocore's Stubber."""
    import boto3

    client = boto3.client(
        "securityhub",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    accepted = _asff(1, exception="RISK-1042")
    plan = securityhub.plan_import([accepted], securityhub.empty_state(), NOW, [ACCOUNT])
    assert plan.table["workflow"].tolist() == ["suppress"]
    identifiers = [{"Id": accepted["Id"], "ProductArn": accepted["ProductArn"]}]
    with Stubber(client) as stub:
        stub.add_response(
            "batch_import_findings",
            {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []},
            {"Findings": [accepted]},
        )
        stub.add_response(
            "batch_update_findings",
            {"ProcessedFindings": identifiers, "UnprocessedFindings": []},
            {
                "FindingIdentifiers": identifiers,
                "Workflow": {"Status": "SUPPRESSED"},
                "Note": {
                    "Text": "Accepted risk RISK-1042 until 2027-03-31 (s3compliance exceptions "
                    "file).",
                    "UpdatedBy": "s3compliance",
                },
            },
        )
        outcome = securityhub.send(plan, lambda _a: client, RETRY, validate_asff)
        stub.assert_no_pending_responses()
    assert (outcome.imported, outcome.updated, outcome.failures) == (1, 1, [])
    state = securityhub.state_after(plan, outcome, securityhub.empty_state())
    assert state["findings"][accepted["Id"]]["workflow"] == "SUPPRESSED"
    # still accepted the next night: no second BatchUpdateFindings
    same = securityhub.plan_import([accepted], state, LATER, [ACCOUNT])
    assert same.workflows == []
    # the exception expired: back to NEW, once
    expired = _asff(1)
    reopen = securityhub.plan_import([expired], state, LATER, [ACCOUNT])
    assert reopen.table["workflow"].tolist() == ["unsuppress"]
    with Stubber(client) as stub:
        stub.add_response(
            "batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []}
        )
        stub.add_response(
            "batch_update_findings",
            {
                "ProcessedFindings": [],
                "UnprocessedFindings": [
                    {
                        "FindingIdentifier": identifiers[0],
                        "ErrorCode": "FindingNotFound",
                        "ErrorMessage": "gone",
                    }
                ],
            },
            {
                "FindingIdentifiers": identifiers,
                "Workflow": {"Status": "NEW"},
                "Note": {
                    "Text": "The accepted risk has expired or was removed.",
                    "UpdatedBy": "s3compliance",
                },
            },
        )
        outcome = securityhub.send(reopen, lambda _a: client, RETRY, validate_asff)
    assert outcome.failures == [f"{expired['Id']}: FindingNotFound"]
    kept = securityhub.state_after(reopen, outcome, state)
    assert kept["findings"][expired["Id"]]["workflow"] == "SUPPRESSED"  # tried again next run


def test_security_hub_not_enabled_or_failing_is_exit_1(tmp_path, capsys) -> None:
    """moto imports whether or not Security Hub is enabled: AWS's answer when it is not
    (InvalidAccessException) comes from Stubber; a FailedFindings answer from the recorder."""
    from dataclasses import replace

    import boto3

    from s3compliance.cli import _after_publish, _securityhub_import

    client = boto3.client(
        "securityhub", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with demo_account() as session:
        clients = Clients(session, None, 4)
        params = demo_params(output_dir=str(tmp_path), include=["demo-public-bare-01"])
        result = run_scan(params, clients=clients, progress=False)
        folder = write_report(result, params.output_dir, "r", generated_at=NOW)
    report = json.loads((folder / "findings.json").read_text())
    message = "Account 123456789012 is not subscribed to AWS Security Hub"
    with Stubber(client) as stub:
        stub.add_client_error("batch_import_findings", "InvalidAccessException", message)
        with pytest.raises(securityhub.SecurityHubUnavailable, match="not enabled"):
            import_report(report, params, lambda _a: client, apply=True, retry=RETRY)
        stub.add_client_error("batch_import_findings", "InvalidAccessException", message)
        assert _securityhub_import(report, params, True, lambda _a: client) is None
    err = capsys.readouterr().err
    assert "Security Hub is not enabled" in err and err.count("\n") == 1
    assert not state_path(tmp_path).exists()  # nothing was written: no state either
    on = replace(params, securityhub=True)
    with Stubber(client) as stub:
        stub.add_client_error("batch_import_findings", "InvalidAccessException", message)
        assert _after_publish(on, folder, 3, lambda _a: client) == EXIT_FAILURE
    failing = _Hub(failed_ids=(f"s3compliance/{result.findings['finding_id'].iloc[0]}",))
    assert _after_publish(on, folder, 3, lambda _a: failing) == EXIT_FAILURE
    assert "1 FAILED" in capsys.readouterr().out
    assert _after_publish(on, folder, 3, lambda _a: _Hub()) == 3  # a good import keeps 3
    assert _after_publish(params, folder, 0) == 0  # off: nothing imported


def test_the_cli_plans_by_default_and_refuses_bad_inputs(tmp_path, capsys) -> None:
    findings = tmp_path / "findings.json"
    with demo_account() as session:
        clients = Clients(session, None, 4)
        params = demo_params(output_dir=str(tmp_path / "out"), include=["demo-public-bare-01"])
        result = run_scan(params, clients=clients, progress=False)
        findings.write_text(json.dumps(build_report(result, NOW)))
    params_file = tmp_path / "p.yaml"
    params_file.write_text(f"output_dir: {tmp_path / 'out'}\n")
    args = ["securityhub", "--findings", str(findings), "--params", str(params_file)]
    # plan only: no AWS call is needed for a plan (the state decides), so none is made
    assert main(args) == EXIT_OK
    out = capsys.readouterr().out
    assert "Security Hub plan: 5 create, 0 update" in out and "nothing sent: add --apply" in out
    assert "demo-public-bare-01" in out
    state_path(tmp_path / "out").parent.mkdir(parents=True)
    state_path(tmp_path / "out").write_text("{")
    assert main(args) == EXIT_USAGE
    assert "bad Security Hub state" in capsys.readouterr().err
    state_path(tmp_path / "out").write_text('{"version": 9}')
    with pytest.raises(StateUnreadable, match="not a Security Hub state of version 1"):
        read_state(tmp_path / "out")
    # an entry that is not what an import wrote is refused, naming where (never a KeyError)
    entry = {
        "account_id": ACCOUNT,
        "compliance": "FAILED",
        "record_state": "ACTIVE",
        "workflow": "NEW",
        "updated_at": NOW,
        "finding": _minimal(),
    }
    good = {"version": 1, "findings": {"s3compliance/x": entry}}
    state_path(tmp_path / "out").write_text(json.dumps(good))
    assert read_state(tmp_path / "out") == good
    for key, value in (("record_state", "GONE"), ("account_id", "me"), ("finding", {})):
        bad_state = {"version": 1, "findings": {"s3compliance/x": {**entry, key: value}}}
        state_path(tmp_path / "out").write_text(json.dumps(bad_state))
        with pytest.raises(StateUnreadable, match="at findings/s3compliance/x"):
            read_state(tmp_path / "out")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["securityhub", "--findings", str(bad)]) == EXIT_USAGE
    assert "cannot read the findings" in capsys.readouterr().err


def test_scan_with_securityhub_imports_after_publishing(moto_server, server_session, tmp_path):
    """Through real HTTP: `scan` with securityhub: true imports into the server's Security Hub
    once the run folder is published."""
    from test_cli import compliant, params_file

    compliant(server_session, moto_server, "hub-bucket")
    path = params_file(tmp_path, "securityhub: true\ninclude: ['hub-bucket']\n")
    hub = server_session.client("securityhub", region_name="us-east-1", endpoint_url=moto_server)
    hub.enable_security_hub()
    code = main(["scan", "--params", path, "--endpoint-url", moto_server])
    assert code == 3  # moto's server has no metrics API: cloudwatch_metrics FAILs
    held = [f for f in hub_findings(hub) if "hub-bucket" in f["Resources"][0]["Id"]]
    assert [f["GeneratorId"] for f in held] == ["cloudwatch_metrics"]
    assert read_state(tmp_path / "out")["findings"]


def test_the_import_permissions_and_the_org_role(tmp_path, capsys) -> None:
    from s3compliance.iac.org_role import org_role, template

    assert main(["iam-policy", "--with-writes"]) == EXIT_OK
    statements = json.loads(capsys.readouterr().out)["Statement"]
    writes = next(s for s in statements if s["Sid"] == "S3ComplianceOptInWrites")
    assert {"securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings"} <= set(
        writes["Action"]
    )
    plain = template(org_role("111122223333", ["r-ab12"]))
    policies = plain["Resources"]["ScanRole"]["Properties"]["Policies"]
    assert [p["PolicyName"] for p in policies] == ["s3compliance-read-only"]
    role = org_role("111122223333", ["r-ab12"], securityhub=True)
    policies = template(role)["Resources"]["ScanRole"]["Properties"]["Policies"]
    assert [p["PolicyName"] for p in policies] == [
        "s3compliance-read-only",
        "s3compliance-securityhub-import",
    ]
    assert policies[1]["PolicyDocument"]["Statement"][0]["Action"] == [
        "securityhub:BatchImportFindings",
        "securityhub:BatchUpdateFindings",
    ]
    args = ["org-role", "--scanner-account", "111122223333", "--ou", "r-ab12"]
    out = tmp_path / "role"
    assert main([*args, "--with-securityhub", "--output", str(out)]) == EXIT_OK
    assert "s3compliance-securityhub-import" in (out / "template.json").read_text()


def test_the_demo_account_cannot_be_imported_from_a_run(tmp_path) -> None:
    from s3compliance.params import ParamsError

    with pytest.raises(ParamsError, match="use `s3compliance securityhub --demo`"):
        demo_params(securityhub=True)


def test_the_notebook_step(hub_account, tmp_path, capsys) -> None:
    from dataclasses import replace

    from s3compliance.outputs import notebook as runner
    from s3compliance.scan.scanner import Scanner

    _, clients, hub, params = hub_account
    params = replace(params, include=["demo-public-bare-0*"])
    scanner = Scanner(params, clients=clients)
    result = scanner.check(scanner.discover(), progress=False)
    folder = write_report(result, params.output_dir, "nb", generated_at=NOW)
    assert runner.securityhub_step(folder, scanner, params) == (
        "Security Hub import is off (securityhub: false)."
    )
    on = replace(params, securityhub=True)  # replace: the demo refuses it in a params file
    assert "imports once the run folder is published" in runner.securityhub_step(
        folder, scanner, on, run_dir="/staging"
    )
    table = runner.securityhub_step(folder, scanner, on)
    assert table["action"].value_counts().to_dict() == {"create": 10}
    assert len(hub_findings(hub)) == 10
    assert "Security Hub: 10 create" in capsys.readouterr().out
    # a failed import stops the notebook with one line (the client is the scanner's own)
    with Stubber(hub) as stub:
        stub.add_client_error("batch_import_findings", "AccessDeniedException", "no")
        with pytest.raises(runner.NotebookStop, match="10 FAILED"):
            runner.securityhub_step(folder, scanner, on)


def test_an_organization_imports_each_accounts_findings_through_its_role(tmp_path) -> None:
    """The default product takes only an account's own findings: each member's are imported
    through its role session, with its account id, into its own Security Hub."""
    from dataclasses import replace

    from s3compliance.outputs import notebook as runner
    from s3compliance.scan.org_scanner import OrgScanner
    from s3compliance.testing.org_demo import DemoOrganization, member_session

    demo = DemoOrganization()
    session = demo.start()
    try:
        params = demo_params(demo="org", output_dir=str(tmp_path), max_workers=4)
        hubs = {}
        for name in ("payments-prod", "sandbox"):
            account_id = demo.accounts[name]
            member = member_session(session, account_id)
            hubs[account_id] = member.client("securityhub", region_name="us-east-1")
            hubs[account_id].enable_security_hub()
        own = session.client("securityhub", region_name="us-east-1")
        own.enable_security_hub()
        params = replace(
            params, exclude_accounts=[a for a in demo.accounts.values() if a not in hubs]
        )
        scanner = OrgScanner(params, session=session, hook=demo.hook)
        result = scanner.check(scanner.discover(progress=False), progress=False)
        folder = write_report(result, params.output_dir, "org", generated_at=NOW)
        table = runner.securityhub_step(folder, scanner, replace(params, securityhub=True))
        imported = table[table["action"] != "skip"]
        for account_id, hub in hubs.items():
            held = hub_findings(hub)
            mine = imported[imported["account_id"] == account_id]
            assert len(held) == len(mine) > 0
            assert {f["AwsAccountId"] for f in held} == {account_id}
            assert {f["ProductArn"] for f in held} == {product_arn("aws", "us-east-1", account_id)}
        caller = scanner.caller_id
        assert {f["AwsAccountId"] for f in hub_findings(own)} <= {caller}
    finally:
        demo.stop()


def _stubbed_client():
    import boto3

    return boto3.client(
        "securityhub", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_refused_calls_are_failures_and_a_failed_import_changes_no_workflow() -> None:
    """AccessDenied on an import or a workflow change is a named failure, never a crash; a
    finding whose import failed gets no workflow change (there may be no such finding)."""
    client = _stubbed_client()
    accepted, other = _asff(1, exception="RISK-1"), _asff(2, exception="RISK-2")
    plan = securityhub.plan_import([accepted], securityhub.empty_state(), NOW, [ACCOUNT])
    with Stubber(client) as stub:
        stub.add_client_error("batch_import_findings", "AccessDeniedException", "no")
        outcome = securityhub.send(plan, lambda _a: client, RETRY, validate_asff)
        stub.assert_no_pending_responses()  # and no batch_update_findings was made
    assert outcome.failures == [f"{accepted['Id']}: AccessDeniedException"]
    plan = securityhub.plan_import([other], securityhub.empty_state(), NOW, [ACCOUNT])
    with Stubber(client) as stub:
        stub.add_response(
            "batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []}
        )
        stub.add_client_error("batch_update_findings", "AccessDeniedException", "no")
        outcome = securityhub.send(plan, lambda _a: client, RETRY, validate_asff)
    assert (outcome.imported, outcome.failures) == (1, [f"{other['Id']}: AccessDeniedException"])


def test_the_cli_reports_every_row_and_each_way_it_can_fail(
    moto_server, server_session, tmp_path, capsys, monkeypatch
) -> None:
    """Against the moto server: the plan of a whole demo run (more rows than it prints), the
    apply, an import failure (exit 1) and Security Hub not enabled (exit 1, one line)."""
    from s3compliance.cli import securityhub as command

    with demo_account() as session:
        params = demo_params(output_dir=str(tmp_path / "out"))
        result = run_scan(params, clients=Clients(session, None, 8), progress=False)
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps(build_report(result, NOW)))
    monkeypatch.chdir(tmp_path)  # no --params: the default output folder is ./output
    args = ["securityhub", "--findings", str(findings), "--endpoint-url", moto_server]
    assert main(args) == EXIT_OK
    out = capsys.readouterr().out
    assert "Security Hub plan: 110 create" in out and "... and 90 more" in out
    server_session.client(
        "securityhub", region_name="us-east-1", endpoint_url=moto_server
    ).enable_security_hub()
    assert main([*args, "--apply"]) == EXIT_OK
    assert "110 imported" in capsys.readouterr().out
    assert read_state(tmp_path / "output")["findings"]
    # AWS's refusals moto does not emulate come from Stubber, through the CLI's client factory
    client = _stubbed_client()
    monkeypatch.setattr(command, "_securityhub_clients", lambda _params: lambda _a: client)
    with Stubber(client) as stub:
        stub.add_client_error("batch_import_findings", "InvalidAccessException", "not subscribed")
        assert main([*args, "--apply"]) == EXIT_FAILURE
    assert "Security Hub is not enabled" in capsys.readouterr().err
    with Stubber(client) as stub:
        for _ in range(2):  # 110 findings: two calls
            stub.add_client_error("batch_import_findings", "ThrottlingException", "slow down")
        assert main([*args, "--apply"]) == EXIT_FAILURE
    assert "FAILED" in capsys.readouterr().out


def test_each_account_gets_a_client_of_its_own(moto_server, server_session) -> None:
    """The CLI's client factory: the caller's own account directly, another through the scan
    role (moto's STS gives the role session that account's identity)."""
    from s3compliance.cli.securityhub import _securityhub_clients
    from s3compliance.params import validate

    params = validate({"endpoint_url": moto_server, "retry_attempts": 1}, "<test>")
    client_for = _securityhub_clients(params)
    own = client_for(ACCOUNT)
    other = client_for("444455556666")
    assert own is client_for(ACCOUNT)  # built once
    other.enable_security_hub()
    finding = {**_minimal(), "AwsAccountId": "444455556666"}
    assert other.batch_import_findings(Findings=[finding])["SuccessCount"] == 1
    assert [f["AwsAccountId"] for f in hub_findings(other)] == ["444455556666"]
    assert all(f["AwsAccountId"] != "444455556666" for f in hub_findings(own))


def test_a_report_of_a_check_no_longer_in_the_catalogue_has_no_remediation() -> None:
    from s3compliance.outputs.asff import asff_finding
    from s3compliance.outputs.contract import Place

    place = Place(ACCOUNT, "", "b", "arn:aws:s3:::b", "us-east-1")
    finding = {
        "finding_id": "0" * 16,
        "check_id": "retired_check",
        "status": "FAIL",
        "severity": "low",
        "reason": "r",
    }
    built = asff_finding(finding, place, "us-east-1", NOW)
    validate_asff(built)
    assert "Remediation" not in built and built["Title"] == "retired_check"
    assert built["Types"] == ["Software and Configuration Checks/Industry and Regulatory Standards"]


def test_a_run_with_nothing_to_send_plans_nothing(tmp_path, capsys, monkeypatch) -> None:
    with demo_account() as session:
        params = demo_params(output_dir=str(tmp_path / "out"), include=["demo-compliant-01"])
        result = run_scan(params, clients=Clients(session, None, 4), progress=False)
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps(build_report(result, NOW)))
    monkeypatch.chdir(tmp_path)
    assert main(["securityhub", "--findings", str(findings)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("Security Hub plan: 0 create, 0 update, 0 archive") and "5 skip" in out
    assert "s3compliance/" not in out  # no row printed: every PASS is skipped
