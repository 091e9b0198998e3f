"""The scan role in every member account: a Pulumi program deploying it with a StackSet.

``s3compliance org-role --scanner-account ID --ou ou-...`` writes a Pulumi (Python) program that
creates a *service-managed* CloudFormation StackSet (AWS Organizations trusted access: no
per-account administration role to set up) with automatic deployment to the chosen OUs. Its one
resource is a read-only IAM role whose permissions are the scan's least-privilege policy (the
same generator as ``iam-policy``) and whose trust policy names only the scanning account (and the
external id, when given).

Service-managed StackSets never deploy to the management account itself; the README written
beside the program says how that account is scanned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3compliance.iac.iam import iam_policy, securityhub_actions
from s3compliance.iac.program_files import program_opening, pulumi_yaml
from s3compliance.outputs.runfolder import atomic_write_text
from s3compliance.params import Params, ParamsError, validate

PROJECT = "s3compliance-org-role"
STACK_SET = "s3compliance-scan-role"


@dataclass(frozen=True)
class OrgRole:
    """What the program deploys, validated (every value reaches generated code via repr/JSON)."""

    scanner_account: str
    organizational_units: tuple[str, ...]
    role_name: str = "s3compliance-scan"
    external_id: str | None = None
    region: str = "us-east-1"
    delegated_admin: bool = False
    max_session_s: int = 3600
    policy: dict[str, Any] | None = None
    securityhub: bool = False  # the role may also import its account's findings (opt-in)


def org_role(
    scanner_account: str,
    organizational_units: list[str],
    params: Params | None = None,
    role_name: str | None = None,
    external_id: str | None = None,
    delegated_admin: bool = False,
    securityhub: bool = False,
) -> OrgRole:
    """Check the inputs with the parameters' own rules and assemble the role to deploy."""
    params = params or Params()
    if not re.fullmatch(r"\d{12}", scanner_account):
        raise ParamsError(
            f"--scanner-account: expected a 12-digit account id, not {scanner_account!r}"
        )
    if not organizational_units:
        raise ParamsError("--ou: name at least one OU or root (ou-... or r-...) to deploy to")
    values = {
        **params.to_dict(),
        "accounts": "organization",
        "organizational_units": organizational_units,
        "trusted_account_ids": [scanner_account],
        "role_name": role_name
        or (params.role_name if params.role_name != Params.role_name else "s3compliance-scan"),
        "external_id": external_id if external_id is not None else params.external_id,
        "apply_tags": False,
        "demo": False,
    }
    checked = validate(values, "org-role")
    return OrgRole(
        scanner_account=scanner_account,
        organizational_units=tuple(organizational_units),
        role_name=checked.role_name,
        external_id=checked.external_id,
        region=checked.home_region,
        delegated_admin=delegated_admin,
        max_session_s=max(3600, checked.role_duration_s),
        securityhub=securityhub,
        policy=iam_policy(
            checked.profile,
            checked.checks,
            checked.all_regions,
            read_tags=checked.exceptions_need_tags,
        ),
    )


def _securityhub_policy(role: OrgRole) -> list[dict[str, Any]]:
    """With ``securityhub``: a second, separate policy, so a reviewer sees the one grant that
    writes (the account's own Security Hub findings: the default product takes no other's)."""
    if not role.securityhub:
        return []
    statement = {
        "Sid": "S3ComplianceSecurityHubImport",
        "Effect": "Allow",
        "Action": securityhub_actions(),
        "Resource": "*",
    }
    return [
        {
            "PolicyName": "s3compliance-securityhub-import",
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        }
    ]


def template(role: OrgRole) -> dict[str, Any]:
    """The CloudFormation template each member account gets: one IAM role, read-only."""
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {
            "AWS": {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::{role.scanner_account}:root"}
        },
        "Action": "sts:AssumeRole",
    }
    if role.external_id:
        trust["Condition"] = {"StringEquals": {"sts:ExternalId": role.external_id}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "s3compliance read-only scan role (generated; deployed by a StackSet)",
        "Resources": {
            "ScanRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": role.role_name,
                    "Description": "Read-only S3 compliance scan, assumed by the scanning account",
                    "MaxSessionDuration": role.max_session_s,
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [trust]},
                    "Policies": [
                        {"PolicyName": "s3compliance-read-only", "PolicyDocument": role.policy},
                        *_securityhub_policy(role),
                    ],
                    "Tags": [{"Key": "managed-by", "Value": "s3compliance"}],
                },
            }
        },
        "Outputs": {"ScanRoleArn": {"Value": {"Fn::GetAtt": ["ScanRole", "Arn"]}}},
    }


def render_program(role: OrgRole) -> str:
    """The Pulumi program: the StackSet and its instances on the OUs (values only via repr)."""
    call_as = "DELEGATED_ADMIN" if role.delegated_admin else "SELF"
    return "\n".join(
        [
            *program_opening(
                "Generated by s3compliance org-role: the read-only scan role in each member "
                "account",
                "of the chosen OUs, through a service-managed CloudFormation StackSet. Review",
                "template.json (the role and its policy) before `pulumi up`.",
            ),
            "# The reviewed file is what gets deployed: the role, its trust and its policy.",
            'TEMPLATE = json.loads((Path(__file__).parent / "template.json").read_text())',
            f"ORGANIZATIONAL_UNITS = {list(role.organizational_units)!r}",
            "",
            "stack_set = aws.cloudformation.StackSet(",
            f"    {STACK_SET!r},",
            f"    name={STACK_SET!r},",
            '    description="s3compliance read-only scan role (generated)",',
            '    permission_model="SERVICE_MANAGED",',
            f"    call_as={call_as!r},",
            "    auto_deployment=aws.cloudformation.StackSetAutoDeploymentArgs(",
            "        enabled=True, retain_stacks_on_account_removal=False",
            "    ),",
            '    capabilities=["CAPABILITY_NAMED_IAM"],',
            "    template_body=json.dumps(TEMPLATE),",
            ")",
            "",
            "instances = aws.cloudformation.StackSetInstance(",
            f"    {STACK_SET + '-instances'!r},",
            "    stack_set_name=stack_set.name,",
            f"    call_as={call_as!r},",
            "    deployment_targets=aws.cloudformation.StackSetInstanceDeploymentTargetsArgs(",
            "        organizational_unit_ids=ORGANIZATIONAL_UNITS",
            "    ),",
            f"    stack_set_instance_region={role.region!r},  # IAM is global: one region",
            ")",
            "",
            'pulumi.export("stack_set", stack_set.name)',
            f'pulumi.export("role_name", {role.role_name!r})',
            "",
        ]
    )


PULUMI_YAML = pulumi_yaml(
    PROJECT, "The s3compliance read-only scan role in every member account (generated)"
)


def _readme(role: OrgRole) -> str:
    where = "a delegated administrator" if role.delegated_admin else "the management account"
    external = (
        f"and the external id you chose (set `external_id: {role.external_id}` in the params)"
        if role.external_id
        else "(add `--external-id` to require an external id as well)"
    )
    return "\n".join(
        [
            "# The s3compliance scan role, in every member account",
            "",
            f"Creates the IAM role `{role.role_name}` in every account of "
            f"{', '.join(role.organizational_units)} (and accounts added there later), through a",
            f"service-managed StackSet run from {where}. The role is read-only (see",
            "`template.json`: its policy is `s3compliance iam-policy`'s) and trusts only the",
            f"scanning account {role.scanner_account} {external}.",
            "",
            "```sh",
            "python3 -m venv venv && venv/bin/pip install -r requirements.txt",
            "pulumi stack init org-role",
            f"pulumi config set aws:region {role.region}",
            "pulumi preview   # a StackSet and its instances: nothing else",
            "pulumi up",
            "```",
            "",
            "Prerequisite: trusted access for CloudFormation StackSets in AWS Organizations",
            "(`aws organizations enable-aws-service-access --service-principal "
            "member.org.stacksets.cloudformation.amazonaws.com`, or the console).",
            "",
            "Then scan with `accounts: organization` and `role_name: " + role.role_name + "`.",
            "",
            "**The management account is not covered**: service-managed StackSets never deploy",
            "to it. When the scan runs from the management account it scans that account with its",
            "own credentials (no role needed). When it runs from a delegated administrator, deploy",
            "`template.json` as an ordinary stack in the management account (CloudFormation",
            "console or `aws cloudformation deploy --template-file template.json --stack-name",
            "s3compliance-scan-role --capabilities CAPABILITY_NAMED_IAM`).",
            "",
        ]
    )


def write_org_role_folder(role: OrgRole, folder: str | Path) -> Path:
    """``__main__.py``, ``template.json``, ``Pulumi.yaml``, ``requirements.txt``, ``README.md``."""
    from s3compliance.iac.pulumi_import import REQUIREMENTS

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "__main__.py", render_program(role))
    atomic_write_text(folder / "template.json", json.dumps(template(role), indent=2) + "\n")
    atomic_write_text(folder / "Pulumi.yaml", PULUMI_YAML)
    atomic_write_text(folder / "requirements.txt", REQUIREMENTS)
    atomic_write_text(folder / "README.md", _readme(role))
    return folder
