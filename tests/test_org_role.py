"""org-role: the StackSet program, run under Pulumi's unit-test mocks, and the IAM it grants.

Expectations from the CloudFormation StackSets documentation: a service-managed StackSet uses
Organizations trusted access (no administration role), deploys to OUs with automatic deployment,
needs CAPABILITY_NAMED_IAM for a named IAM role, and never deploys to the management account.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest

from s3compliance.cli import EXIT_OK, EXIT_USAGE, main
from s3compliance.iac.iam import iam_policy
from s3compliance.iac.org_role import org_role, write_org_role_folder
from s3compliance.params import Params, ParamsError

SCANNER = "111122223333"
OUS = ["r-ab12", "ou-ab12-abcdefgh"]


class Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.created.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:  # pragma: no cover - none made
        raise AssertionError(f"the program made a provider call: {args.token}")


def run_program(folder: Path) -> dict[str, Any]:
    mocks = Recorder()
    pulumi.runtime.set_mocks(mocks, project="s3compliance-org-role", stack="t", preview=False)
    namespace = runpy.run_path(str(folder / "__main__.py"))

    @pulumi.runtime.test
    def settle():
        return pulumi.Output.all(namespace["stack_set"].urn, namespace["instances"].urn)

    settle()
    return {args.typ: args.inputs for args in mocks.created}


def test_program_deploys_one_read_only_role_trusting_only_the_scanner(tmp_path) -> None:
    role = org_role(SCANNER, OUS, external_id="Ext-42")
    created = run_program(write_org_role_folder(role, tmp_path / "org-role"))
    assert set(created) == {
        "aws:cloudformation/stackSet:StackSet",
        "aws:cloudformation/stackSetInstance:StackSetInstance",
    }
    stack_set = created["aws:cloudformation/stackSet:StackSet"]
    assert stack_set["permissionModel"] == "SERVICE_MANAGED"
    assert stack_set["autoDeployment"] == {"enabled": True, "retainStacksOnAccountRemoval": False}
    assert stack_set["capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert stack_set["callAs"] == "SELF"
    assert "administrationRoleArn" not in stack_set  # service-managed: Organizations' access
    body = json.loads(stack_set["templateBody"])
    [resource] = body["Resources"].values()
    assert resource["Type"] == "AWS::IAM::Role"
    props = resource["Properties"]
    assert props["RoleName"] == "s3compliance-scan"
    [trust] = props["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {
        "AWS": {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::{SCANNER}:root"}
    }
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": "Ext-42"}}
    [policy] = props["Policies"]
    assert policy["PolicyDocument"] == iam_policy("mission")
    actions = policy["PolicyDocument"]["Statement"][0]["Action"]
    assert all(a.split(":")[1].startswith(("Get", "List")) for a in actions), actions
    instances = created["aws:cloudformation/stackSetInstance:StackSetInstance"]
    assert instances["deploymentTargets"] == {"organizationalUnitIds": OUS}
    assert instances["stackSetInstanceRegion"] == "us-east-1"
    assert json.loads((tmp_path / "org-role" / "template.json").read_text()) == body


def test_profile_role_name_and_delegated_admin_follow_the_inputs(tmp_path) -> None:
    params = Params(profile="all", regions=["*"], role_name="audit-reader", role_duration_s=7200)
    role = org_role(SCANNER, ["ou-ab12-abcdefgh"], params, delegated_admin=True)
    created = run_program(write_org_role_folder(role, tmp_path / "o"))
    stack_set = created["aws:cloudformation/stackSet:StackSet"]
    assert stack_set["callAs"] == "DELEGATED_ADMIN"
    props = json.loads(stack_set["templateBody"])["Resources"]["ScanRole"]["Properties"]
    assert props["RoleName"] == "audit-reader"
    assert props["MaxSessionDuration"] == 7200
    assert "Condition" not in props["AssumeRolePolicyDocument"]["Statement"][0]
    assert props["Policies"][0]["PolicyDocument"] == iam_policy("all", [], True)
    assert (
        "s3:GetBucketLocation" in props["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"]
    )
    readme = (tmp_path / "o" / "README.md").read_text()
    assert "management account is not covered" in readme and "template.json" in readme


@pytest.mark.parametrize(
    ("account", "ous", "message"),
    [
        ("12345", OUS, "--scanner-account: expected a 12-digit account id"),
        (SCANNER, [], "--ou: name at least one OU"),
        (SCANNER, ["ou-bad"], "key 'organizational_units'[0]"),
    ],
)
def test_bad_inputs_are_refused(account: str, ous: list[str], message: str) -> None:
    with pytest.raises(ParamsError, match=message.replace("[", r"\[")):
        org_role(account, ous)


def test_a_hostile_external_id_is_refused_before_any_code_is_written() -> None:
    with pytest.raises(ParamsError, match="external_id"):
        org_role(SCANNER, OUS, external_id="x'); import os; os.system('id')#")


def test_cli_org_role(tmp_path, capsys) -> None:
    out = tmp_path / "role"
    code = main(["org-role", "--scanner-account", SCANNER, "--ou", "r-ab12", "--output", str(out)])
    assert code == EXIT_OK
    printed = capsys.readouterr().out
    assert "Role s3compliance-scan for r-ab12, trusting 111122223333" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "Pulumi.yaml",
        "README.md",
        "__main__.py",
        "requirements.txt",
        "template.json",
    ]
    code = main(["org-role", "--scanner-account", "nope", "--ou", "r-ab12", "--output", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and err.startswith("s3compliance: bad parameters: --scanner-account")


def test_iam_policy_of_an_organization_scan(tmp_path, capsys) -> None:
    params = tmp_path / "org.yaml"
    params.write_text("accounts: organization\nrole_name: audit-reader\n")
    assert main(["iam-policy", "--params", str(params)]) == EXIT_OK
    policy = json.loads(capsys.readouterr().out)
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["S3ComplianceOrganization"]["Action"] == [
        "organizations:ListAccountsForParent",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListParents",
        "organizations:ListRoots",
    ]
    assert by_sid["S3ComplianceAssumeScanRole"]["Resource"] == "arn:aws:iam::*:role/audit-reader"
    assert main(["iam-policy"]) == EXIT_OK
    single = json.loads(capsys.readouterr().out)
    assert [s["Sid"] for s in single["Statement"]] == ["S3ComplianceReadOnlyScan"]
