"""Pulumi import: plan, files, and the generated program run under Pulumi's unit-test mocks."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path
from typing import Any

import pandas as pd
import pulumi
import pytest
from conftest import flagged_bucket, minimal_report

from s3compliance.cli import EXIT_OK, EXIT_USAGE, main
from s3compliance.iac import pulumi_import as pi
from s3compliance.testing.demo import demo_params, run_demo

GOLDEN = Path(__file__).parent / "golden" / "import_demo.json"
KNOWN_TYPES = {pi.BUCKET_TYPE, *(t for t, _, _, _ in pi.SUB_RESOURCES.values())}


@pytest.fixture(scope="module")
def demo_all():
    return run_demo(demo_params(profile="all", apply_tags=True, max_workers=8), progress=False)


@pytest.fixture(scope="module")
def plan_all(demo_all) -> pd.DataFrame:
    return pi.plan_imports(demo_all.findings, demo_all.buckets)


class Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.created.append(args)
        state = dict(args.inputs)
        if args.typ == "aws:sns/topic:Topic":
            state["arn"] = f"arn:aws:sns:us-east-1:123456789012:{args.name}"
        return args.resource_id or f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:  # pragma: no cover - none made
        raise AssertionError(f"the program made a provider call: {args.token}")


def run_folder(
    folder: Path, config: dict[str, str] | None = None
) -> tuple[Recorder, dict[str, Any]]:
    """Run a generated program under Pulumi's mocks (with these ``s3compliance:`` config
    values, JSON-encoded when not strings) until every resource is registered."""
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()}
    pulumi.runtime.set_all_config({f"s3compliance:{k}": v for k, v in values.items()})
    mocks = Recorder()
    pulumi.runtime.set_mocks(mocks, project="s3compliance-import", stack="test", preview=False)
    try:
        namespace = runpy.run_path(str(folder / "__main__.py"))
        resources = namespace["RESOURCES"]

        @pulumi.runtime.test
        def settle():
            return pulumi.Output.all(*[r.urn for r in resources.values()])

        settle()
    finally:
        pulumi.runtime.set_all_config({})
    return mocks, resources


def run_program(plan: pd.DataFrame, tmp_path: Path) -> tuple[Recorder, dict[str, Any]]:
    return run_folder(pi.write_pulumi_folder(plan, tmp_path / "pulumi"))


def _camel_to_snake(value: Any, under_tags: bool = False) -> Any:
    if isinstance(value, list):
        return [_camel_to_snake(v) for v in value]
    if not isinstance(value, dict) or under_tags:
        return value
    out = {}
    for key, item in value.items():
        snake = "and_" if key == "and" else re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
        out[snake] = _camel_to_snake(item, under_tags=key == "tags")
    return out


def test_program_declares_exactly_the_flagged_buckets_as_planned(plan_all, demo_all, tmp_path):
    mocks, resources = run_program(plan_all, tmp_path)
    planned = plan_all[plan_all["action"] == "import"]
    created = {args.name: args for args in mocks.created}
    assert set(created) == set(planned["name"])
    flagged = set(demo_all.buckets.loc[demo_all.buckets["status"] == "non_compliant", "bucket"])
    assert set(planned.loc[planned["type"] == pi.BUCKET_TYPE, "bucket"]) == flagged
    for row in planned.itertuples(index=False):
        args = created[row.name]
        assert args.typ == row.type
        assert args.resource_id == row.bucket  # the import id
        assert resources[row.name]._protect is True
        got = _camel_to_snake(args.inputs)
        assert got == row.inputs, row.name


def test_inputs_equal_the_live_configuration(plan_all, demo_all, tmp_path) -> None:
    mocks, _ = run_program(plan_all, tmp_path)
    created = {args.name: _camel_to_snake(args.inputs) for args in mocks.created}
    evidence = pi.evidence_by_bucket(demo_all.findings)
    bucket = "demo-kms-transition-01"
    read = evidence[bucket]["read"]
    assert created[f"{bucket}-versioning"]["versioning_configuration"] == {
        "status": read["versioning"]["Status"],
        "mfa_delete": read["versioning"]["MFADelete"],
    }
    assert created[f"{bucket}-sse"]["rules"][0]["apply_server_side_encryption_by_default"] == {
        "sse_algorithm": "aws:kms"
    }
    assert created[f"{bucket}-lifecycle"]["rules"][0]["transitions"] == [
        {"days": 30, "storage_class": "GLACIER"}
    ]
    assert created[bucket]["object_lock_enabled"] is True
    policy_bucket = "demo-public-read-01"
    assert (
        json.loads(created[f"{policy_bucket}-policy"]["policy"])
        == (evidence[policy_bucket]["read"]["policy"])
    )
    assert created["demo-legacy-bare-01"]["tags"] == {"aws-cdk:owner": "platform", "Owner": "zoë"}
    assert created["demo-compliant-01-public-access-block"] == {
        "bucket": "demo-compliant-01",
        "region": "us-east-1",
        "block_public_acls": True,
        "ignore_public_acls": True,
        "block_public_policy": False,
        "restrict_public_buckets": False,
    }


def test_error_evidence_is_left_out_and_said_so(plan_all) -> None:
    rows = plan_all.set_index("name")
    left = rows.loc["demo-restricted-01-policy"]
    assert left["action"] == "left-out" and "could not be read (AccessDenied)" in left["note"]
    assert "demo-restricted-01-policy" not in {
        r["name"] for r in pi.import_file(plan_all)["resources"]
    }
    readme = pi._readme(plan_all)
    assert "demo-restricted-01-policy" in readme and "never guessed" in readme


def test_documents_the_profile_did_not_read_are_left_out(demo_all) -> None:
    mission = run_demo(demo_params(max_workers=8), progress=False)
    plan = pi.plan_imports(mission.findings, mission.buckets).set_index("name")
    assert plan.loc["demo-legacy-bare-01-logging", "action"] == "left-out"
    assert "not read by this scan's checks" in plan.loc["demo-legacy-bare-01-logging", "note"]
    bucket = plan.loc["demo-legacy-bare-01"]
    assert bucket["ignore_changes"] == ["tags", "objectLockEnabled"]
    # a versioning never enabled has no configuration to import
    assert "demo-legacy-bare-01-versioning" not in plan.index


def test_golden_import_file_for_the_demo_fleet(tmp_path) -> None:
    mission = run_demo(demo_params(max_workers=8), progress=False)
    plan = pi.plan_imports(mission.findings, mission.buckets)
    document = pi.import_file(plan)
    for resource in document["resources"]:
        assert set(resource) == {"type", "name", "id"}
        assert resource["type"] in KNOWN_TYPES and resource["id"]
    names = [(r["type"], r["name"]) for r in document["resources"]]
    assert len(names) == len(set(names))
    assert document == json.loads(GOLDEN.read_text())


def test_all_scope_and_bad_scope(demo_all) -> None:
    everything = pi.plan_imports(demo_all.findings, demo_all.buckets, scope="all")
    assert everything.loc[everything["type"] == pi.BUCKET_TYPE, "bucket"].nunique() == 138
    with pytest.raises(ValueError, match="import_scope"):
        pi.plan_imports(demo_all.findings, demo_all.buckets, scope="some")


@pytest.mark.parametrize(
    "bucket",
    ["logs.example.com", "a-b.c-d", "x" * 63, "my-bucket", "a.b-c"],
)
def test_logical_names_are_valid_stable_and_distinct(bucket: str) -> None:
    name = pi.logical_name(bucket)
    assert name == pi.logical_name(bucket)
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", name)
    if "." not in bucket:
        assert name == bucket


def test_names_that_sanitize_alike_stay_distinct() -> None:
    names = {pi.logical_name(b) for b in ("a.b-c", "a-b.c", "a-b-c", "a.b.c")}
    assert len(names) == 4


def test_dotted_and_63_character_buckets_end_to_end(account, params, tmp_path) -> None:
    from dataclasses import replace

    from s3compliance.scan.run import run_scan

    long_name = "b" * 63
    for name in ("logs.example.com", long_name):
        account.bucket(
            name,
            versioning="Suspended",
            sse="aws:kms",
            lifecycle=[
                {
                    "ID": "t",
                    "Status": "Enabled",
                    "Filter": {"And": {"Prefix": "p/", "Tags": [{"Key": "k", "Value": "v"}]}},
                    "Expiration": {"Days": 7},
                }
            ],
        )
    result = run_scan(
        replace(params, profile="all"), clients=account.clients(), sleep=lambda _s: None
    )
    plan = pi.plan_imports(result.findings, result.buckets)
    mocks, _ = run_program(plan, tmp_path)
    created = {a.name: a for a in mocks.created}
    dotted = pi.logical_name("logs.example.com")
    assert created[dotted].resource_id == "logs.example.com"
    assert created[f"{long_name}-lifecycle"].inputs["rules"][0]["filter"]["and"] == {
        "prefix": "p/",
        "tags": {"k": "v"},
    }
    assert created[f"{dotted}-versioning"].inputs["versioningConfiguration"] == {
        "status": "Suspended"
    }


def test_no_aws_call_on_the_import_path(plan_all, tmp_path, monkeypatch) -> None:
    import botocore.client

    calls: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def record(self, operation, params):  # pragma: no cover - must never run
        calls.append(operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    run_program(plan_all, tmp_path)
    report = json.loads(json.dumps({"buckets": []}))
    pi.plan_imports(*pi.findings_from_report(report))
    assert calls == []


def test_cli_import_plan_from_findings_json(tmp_path, capsys, monkeypatch) -> None:
    assert main(["demo", "--output-dir", str(tmp_path), "--run-id", "r"]) == 3
    capsys.readouterr()
    findings = tmp_path / "r" / "findings.json"
    monkeypatch.chdir(tmp_path)  # the run is sealed: the program goes to ./pulumi-r/
    assert main(["import-plan", "--findings", str(findings)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "left out" in out and str(tmp_path / "pulumi-r") in out
    folder = tmp_path / "pulumi-r"
    assert sorted(p.name for p in folder.iterdir()) == [
        "Pulumi.yaml",
        "README.md",
        "__main__.py",
        "import.json",
        "remediation_plan.csv",
        "requirements.txt",
    ]
    from_json = json.loads((folder / "import.json").read_text())
    assert from_json == json.loads(GOLDEN.read_text())
    assert main(["import-plan", "--findings", str(tmp_path / "nope.json")]) == EXIT_USAGE


def test_lifecycle_filters_convert_to_pulumi_shapes() -> None:
    rule = {
        "ID": "r",
        "Filter": {"And": {"Prefix": "a/", "ObjectSizeGreaterThan": 10}},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
        "Status": "Enabled",
    }
    assert pi._inputs(rule) == {
        "id": "r",
        "filter": {"and_": {"prefix": "a/", "object_size_greater_than": 10}},
        "noncurrent_version_expiration": {"noncurrent_days": 7},
        "status": "Enabled",
    }
    sse = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:k"}
    }
    assert pi._inputs(sse) == {
        "apply_server_side_encryption_by_default": {
            "sse_algorithm": "aws:kms",
            "kms_master_key_id": "arn:k",
        }
    }


def test_plan_table_and_run_folder_files(plan_all, demo_all, tmp_path) -> None:
    from s3compliance.outputs.report import write_report

    table = pi.plan_table(plan_all)
    assert list(table.columns) == ["bucket", "type", "name", "action", "note"]
    assert table.iloc[0]["type"] == "Bucket"
    from dataclasses import replace

    with_alarm = replace(demo_all, params=replace(demo_all.params, alarm_threshold=2))
    alarm = pi.alarm_for(with_alarm.params.alarm_threshold, with_alarm.params.regions)
    writer = pi.run_folder_writer(plan_all, alarm)
    folder = write_report(with_alarm, run_dir=tmp_path, extra_writers=[writer])
    assert (folder / "pulumi" / "import.json").exists()
    assert "threshold=2," in (folder / "pulumi" / "__main__.py").read_text()
    assert (folder / "pulumi" / "README.md").read_text().startswith("# Pulumi import")


def test_optional_alarm_and_topic_are_created_not_imported(plan_all, tmp_path, capsys) -> None:
    folder = pi.write_pulumi_folder(plan_all, tmp_path / "p", pi.Alarm(5, "us-east-1"))
    mocks = Recorder()
    pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False)
    namespace = runpy.run_path(str(folder / "__main__.py"))

    @pulumi.runtime.test
    def settle():
        return pulumi.Output.all(*[r.urn for r in namespace["RESOURCES"].values()])

    settle()
    by_type = {a.typ: a for a in mocks.created}
    alarm = by_type["aws:cloudwatch/metricAlarm:MetricAlarm"]
    assert alarm.resource_id in (None, "")  # created, not imported
    assert alarm.inputs["threshold"] == 5 and alarm.inputs["metricName"] == "NonCompliantBuckets"
    assert alarm.inputs["namespace"] == "S3Compliance"
    assert alarm.inputs["dimensions"] == {"Region": "us-east-1"}
    topic = by_type["aws:sns/topic:Topic"]
    assert alarm.inputs["alarmActions"] == [f"arn:aws:sns:us-east-1:123456789012:{topic.name}"]
    assert not namespace["RESOURCES"]["s3compliance-non-compliant-alarm"]._protect
    assert "creates** a CloudWatch alarm" in (folder / "README.md").read_text()
    # without a threshold there is no alarm
    assert "MetricAlarm" not in pi.render_program(plan_all)


def test_cli_import_plan_with_alarm(demo_all, tmp_path, capsys, monkeypatch) -> None:
    from s3compliance.outputs.report import write_report

    folder = write_report(demo_all, tmp_path, "x")
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "import-plan",
            "--findings",
            str(folder / "findings.json"),
            "--alarm-threshold",
            "3",
            "--scope",
            "all",
        ]
    )
    assert code == EXIT_OK
    program = (tmp_path / "pulumi-x" / "__main__.py").read_text()  # beside the sealed run
    assert "threshold=3," in program and "demo-compliant-01" in program
    assert not (folder / "pulumi").exists()


# --- Untrusted findings files (issue 10, 8) ----------------------------------------------------
PAYLOAD = 'x"] = 0\nimport os; os.system("touch /tmp/pwned")\n#'


def _crafted_report(tmp_path: Path, source: Path) -> Path:
    report = json.loads(source.read_text())
    report["buckets"][0]["bucket_name"] = PAYLOAD
    crafted = tmp_path / "crafted" / "findings.json"
    crafted.parent.mkdir()
    crafted.write_text(json.dumps(report))
    return crafted


@pytest.fixture(scope="module")
def demo_findings(tmp_path_factory) -> Path:
    from s3compliance.outputs.report import write_report

    folder = tmp_path_factory.mktemp("demo-run")
    result = run_demo(demo_params(max_workers=8), progress=False)
    return write_report(result, output_dir=folder, run_id="r") / "findings.json"


@pytest.mark.parametrize("command", ["import-plan", "tag"])
def test_a_crafted_findings_file_is_refused_in_one_line(
    command, demo_findings, tmp_path, capsys
) -> None:
    crafted = _crafted_report(tmp_path, demo_findings)
    assert main([command, "--findings", str(crafted)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a findings report" in err and "pattern" in err
    assert "os.system" not in err  # the offending value is not echoed
    assert not (crafted.parent / "pulumi").exists()


@pytest.mark.parametrize(
    "content", ["{not json", '{"buckets": []}', "[]", '{"schema_version": "9.9"}']
)
def test_malformed_findings_files_are_refused(content, tmp_path, capsys) -> None:
    path = tmp_path / "findings.json"
    path.write_text(content)
    assert main(["import-plan", "--findings", str(path)]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith(f"s3compliance: cannot read the findings {path}:")
    assert not (tmp_path / "pulumi").exists()


def test_names_reach_the_program_only_through_repr(tmp_path) -> None:
    """Even a plan built in Python (no schema in the way) cannot inject code: every name, id and
    value is a literal, and the program parses to exactly the expected statements."""
    import ast

    odd = 'we"ird\n] = 0 #'
    plan = pd.DataFrame(
        [
            {
                "account_id": "",
                "bucket": odd,
                "region": "us-east-1",
                "type": pi.BUCKET_TYPE,
                "name": odd,
                "id": odd,
                "action": "import",
                "note": "",
                "inputs": {"bucket": odd, "region": "us-east-1"},
                "ignore_changes": [],
            }
        ],
        columns=pi.IMPORT_PLAN_COLUMNS,
    )
    tree = ast.parse(pi.render_program(plan))
    assigns = [n for n in tree.body if isinstance(n, ast.Assign)]
    subscripts = [a.targets[0] for a in assigns if isinstance(a.targets[0], ast.Subscript)]
    assert [ast.literal_eval(s.slice) for s in subscripts] == [odd]
    bad = plan.assign(inputs=[{"bucket": "b", "x=1,y": True}])
    with pytest.raises(ValueError, match="refusing to render argument names"):
        pi.render_program(bad)


def test_public_access_block_evidence_keys_never_become_arguments() -> None:
    value = {"BlockPublicAcls": True, "IgnorePublicAcls": 1, "evil=__import__('os')": True}
    assert pi.SUB_RESOURCES["public_access_block"][3](value) == {
        "block_public_acls": True,
        "ignore_public_acls": True,
    }


def test_a_legacy_us_east_1_bucket_name_is_reported_and_imported(tmp_path, capsys) -> None:
    """Buckets created in us-east-1 before March 2018 may carry upper case and underscores (S3's
    legacy naming rule): such an account must still get a report and an import program."""
    import ast

    from s3compliance.outputs.contract import validate_report

    name = "Legacy_Bucket.2017"
    bucket = flagged_bucket(name)
    report = minimal_report(bucket)
    validate_report(report)
    path = tmp_path / "findings.json"
    path.write_text(json.dumps(report))
    assert main(["import-plan", "--findings", str(path)]) == EXIT_OK
    program = (tmp_path / "pulumi" / "__main__.py").read_text()
    assert f"opts=adopt({name!r})" in program
    ast.parse(program)


# --- organization runs: one provider per account ----------------------------------------------


def _org_plan() -> tuple[pd.DataFrame, pi.Providers]:
    buckets = pd.DataFrame(
        [
            {
                "account_id": "111122223333",
                "bucket": "mgmt-logs",
                "region": "us-east-1",
                "status": "non_compliant",
                "tags": {"team": "sec"},
            },
            {
                "account_id": "444455556666",
                "bucket": "member-data",
                "region": "eu-west-1",
                "status": "non_compliant",
                "tags": None,
            },
        ]
    )
    findings = pd.DataFrame(
        [
            {
                "bucket": b,
                "check_id": "versioning",
                "status": "FAIL",
                "error_code": "",
                "evidence": {"versioning": {"Status": "Suspended"}},
            }
            for b in ("mgmt-logs", "member-data")
        ]
    )
    providers = pi.Providers("111122223333", "audit-reader", "Ext-9", "us-east-1")
    return pi.plan_imports(findings, buckets), providers


def test_org_program_gives_each_resource_its_accounts_provider(tmp_path) -> None:
    plan, providers = _org_plan()
    folder = pi.write_pulumi_folder(plan, tmp_path / "pulumi", providers=providers)
    mocks = Recorder()
    pulumi.runtime.set_mocks(mocks, project="s3compliance-import", stack="t", preview=False)
    namespace = runpy.run_path(str(folder / "__main__.py"))

    @pulumi.runtime.test
    def settle():
        every = [*namespace["RESOURCES"].values(), *namespace["PROVIDERS"].values()]
        return pulumi.Output.all(*[r.urn for r in every])

    settle()
    created = {a.name: a for a in mocks.created}
    mgmt, member = created["account-111122223333"], created["account-444455556666"]
    assert mgmt.typ == member.typ == "pulumi:providers:aws"
    assert json.loads(mgmt.inputs["allowedAccountIds"]) == ["111122223333"]
    assert "assumeRoles" not in mgmt.inputs  # the scanning account: the stack's own credentials
    assert json.loads(member.inputs["allowedAccountIds"]) == ["444455556666"]
    assert json.loads(member.inputs["assumeRoles"]) == [
        {
            "roleArn": "arn:aws:iam::444455556666:role/audit-reader",
            "sessionName": "s3compliance-import",
            "externalId": "Ext-9",
        }
    ]
    for name, args in created.items():
        if args.typ.startswith("aws:s3/"):
            account = "111122223333" if name.startswith("mgmt-") else "444455556666"
            assert f"account-{account}" in args.provider, (name, args.provider)
    imports = json.loads((folder / "import.json").read_text())
    urn = "urn:pulumi:adopt-s3::s3compliance-import::pulumi:providers:aws::account-{}"
    assert imports["nameTable"] == {
        f"account-{a}": urn.format(a) for a in ("111122223333", "444455556666")
    }
    assert {(r["name"], r["provider"]) for r in imports["resources"]} == {
        ("mgmt-logs", "account-111122223333"),
        ("mgmt-logs-versioning", "account-111122223333"),
        ("member-data", "account-444455556666"),
        ("member-data-versioning", "account-444455556666"),
    }
    member_file = json.loads((folder / "import-444455556666.json").read_text())
    assert [r["name"] for r in member_file["resources"]] == [
        "member-data",
        "member-data-versioning",
    ]
    assert "provider" not in member_file["resources"][0] and "nameTable" not in member_file
    readme = (folder / "README.md").read_text()
    assert "allowed_account_ids" in readme and "import per account" in readme
    assert pi.plan_table(plan).columns[0] == "account_id"


def test_providers_come_from_an_organization_findings_file() -> None:
    report = minimal_report(flagged_bucket("b-one"))
    assert pi.providers_for_report(report) is None
    report["parameters"] = {"accounts": "organization", "role_name": "r1", "regions": ["eu-west-1"]}
    providers = pi.providers_for_report(report)
    assert providers == pi.Providers("123456789012", "r1", None, "eu-west-1", "aws")
    report["buckets"][0]["bucket_arn"] = "arn:aws-us-gov:s3:::b-one"
    assert pi.providers_for_report(report).role_arn("444455556666") == (
        "arn:aws-us-gov:iam::444455556666:role/r1"
    )


def test_an_odd_account_id_never_reaches_the_program() -> None:
    plan, providers = _org_plan()
    plan.loc[0, "account_id"] = "1111'); import os #"
    with pytest.raises(ValueError, match="refusing to render account id"):
        pi.render_program(plan, providers=providers)


def test_an_odd_account_id_never_names_a_file(tmp_path) -> None:
    """The per-account import files are named by account id: one that is not 12 digits (from a
    findings file, say) is refused before any file is named after it."""
    plan, providers = _org_plan()
    plan.loc[plan["account_id"] == plan["account_id"].iloc[0], "account_id"] = "../../escape"
    with pytest.raises(ValueError, match="refusing to write an import file for account"):
        pi.write_pulumi_folder(plan, tmp_path / "pulumi", providers=providers)
    assert not list(tmp_path.rglob("*escape*"))
