"""What feeds the change watcher: a Pulumi program with the EventBridge rules and the SQS queue.

``s3compliance watch-setup --params P`` writes a Pulumi (Python) program, like ``org-role``, that
creates in the scanning account's home region:

- the queue the watcher reads, with a visibility timeout longer than a change can be held plus a
  rescan and its publication (:func:`s3compliance.watch.rule.visibility_timeout_s`), and a
  dead-letter queue with a redrive policy (a malformed message, or one whose batch failed
  ``MAX_RECEIVE_COUNT`` times, is kept there, not lost);
- the rule matching successful S3 calls that change what a check reads
  (:func:`s3compliance.watch.rule.event_pattern`, written beside the program as
  ``event-pattern.json`` for review), whose only target is the queue;
- a queue policy that lets only that rule send (``aws:SourceArn``);
- in every other scanned region, the same pattern forwarding to the home region's default event
  bus (EventBridge events are regional; a cross-region bus target needs a role);
- for an organization, a service-managed StackSet (like ``org-role``) putting the forwarding rule
  into every member account of the chosen OUs, in every scanned region, and a permission on the
  home bus for the organization's accounts only (``aws:PrincipalOrgID``), added beside any the
  bus already has.

CloudTrail delivers "AWS API Call via CloudTrail" events to EventBridge only for accounts with a
trail that records management events: the README written beside the program says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3compliance.iac.program_files import program_opening, pulumi_yaml
from s3compliance.outputs.runfolder import atomic_write_text
from s3compliance.params import Params, ParamsError, validate
from s3compliance.watch.rule import (
    DLQ_RETENTION_S,
    MAX_RECEIVE_COUNT,
    QUEUE_RETENTION_S,
    event_pattern,
    visibility_timeout_s,
)

PROJECT = "s3compliance-watch"
NAME = "s3compliance-watch"  # the queue, the rules and the StackSet
MEMBER_RULE = "s3compliance-watch-forward"


@dataclass(frozen=True)
class WatchSetup:
    """What the program deploys, validated (every value reaches generated code via repr/JSON)."""

    home_region: str
    #: The scanned regions; None: every region enabled in the account (``regions: ["*"]``).
    regions: tuple[str, ...] | None
    visibility_timeout_s: int
    scanner_account: str | None = None
    organizational_units: tuple[str, ...] = ()
    delegated_admin: bool = False

    @property
    def organization(self) -> bool:
        return bool(self.organizational_units)


def watch_setup(
    params: Params,
    scanner_account: str | None = None,
    organizational_units: list[str] | None = None,
    delegated_admin: bool = False,
) -> WatchSetup:
    """Check the inputs against the scan's parameters (its regions and accounts decide where
    rules go) and assemble what to deploy."""
    ous = list(organizational_units or params.organizational_units)
    if scanner_account is not None and not re.fullmatch(r"\d{12}", scanner_account):
        raise ParamsError(
            f"--scanner-account: expected a 12-digit account id, not {scanner_account!r}"
        )
    if params.accounts not in (None, "organization"):
        raise ParamsError(
            "watch-setup: for an account list, deploy this program in each account with "
            "accounts: self, or scan the organization (accounts: organization) and use --ou"
        )
    if params.accounts == "organization":
        if not ous:
            raise ParamsError(
                "--ou: name at least one OU or root (ou-... or r-...) whose accounts forward "
                "their changes (or set organizational_units)"
            )
        if scanner_account is None:
            raise ParamsError(
                "--scanner-account: members forward to the scanning account's event bus: give "
                "its 12-digit id"
            )
        validate({**params.to_dict(), "organizational_units": ous}, "watch-setup")
    elif organizational_units:
        raise ParamsError("--ou: only for an organization scan (accounts: organization)")
    return WatchSetup(
        home_region=params.home_region,
        regions=None if params.all_regions else tuple(params.regions),
        visibility_timeout_s=visibility_timeout_s(params.watch_debounce_s),
        scanner_account=scanner_account,
        organizational_units=tuple(ous),
        delegated_admin=delegated_admin,
    )


def member_template(setup: WatchSetup) -> dict[str, Any]:
    """The CloudFormation template each member account gets in each region: the rule, whose one
    target is the scanning account's home bus, and the role EventBridge sends with."""
    bus = {
        "Fn::Sub": f"arn:${{AWS::Partition}}:events:{setup.home_region}:"
        f"{setup.scanner_account}:event-bus/default"
    }
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
    }
    send = {"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "s3compliance watch: forward S3 configuration changes (generated)",
        "Resources": {
            "ForwardRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Description": "EventBridge forwards S3 changes to the s3compliance scanner",
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [trust]},
                    "Policies": [
                        {
                            "PolicyName": "put-events-scanner-bus",
                            "PolicyDocument": {"Version": "2012-10-17", "Statement": [send]},
                        }
                    ],
                    "Tags": [{"Key": "managed-by", "Value": "s3compliance"}],
                },
            },
            "ForwardRule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Name": MEMBER_RULE,
                    "Description": "S3 configuration changes, to the s3compliance scanner",
                    "State": "ENABLED",
                    "EventPattern": event_pattern(),
                    "Targets": [
                        {
                            "Id": "scanner-bus",
                            "Arn": bus,
                            "RoleArn": {"Fn::GetAtt": ["ForwardRole", "Arn"]},
                        }
                    ],
                },
            },
        },
    }


_HOME = '''
identity = aws.get_caller_identity()
if SCANNER_ACCOUNT and identity.account_id != SCANNER_ACCOUNT:
    raise RuntimeError(
        f"deploy this program in the scanning account {SCANNER_ACCOUNT}, "
        f"not {identity.account_id}"
    )
PARTITION = aws.get_partition().partition
if REGIONS is None:  # regions: ["*"]: every region enabled in this account
    REGIONS = sorted(aws.get_regions().names)
HOME_BUS = f"arn:{PARTITION}:events:{HOME_REGION}:{identity.account_id}:event-bus/default"
TAGS = {"managed-by": "s3compliance"}


def only_the_rule_sends(arns: list[str]) -> str:
    """The queue policy: EventBridge may send, and only on behalf of the watch rule."""
    queue_arn, rule_arn = arns
    statement = {
        "Sid": "OnlyTheWatchRuleSends",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


dlq = aws.sqs.Queue(
    f"{NAME}-dlq",
    name=f"{NAME}-dlq",
    message_retention_seconds=DLQ_RETENTION_S,
    sqs_managed_sse_enabled=True,
    tags=TAGS,
)
queue = aws.sqs.Queue(
    NAME,
    name=NAME,
    visibility_timeout_seconds=VISIBILITY_TIMEOUT_S,
    message_retention_seconds=QUEUE_RETENTION_S,
    receive_wait_time_seconds=20,
    sqs_managed_sse_enabled=True,
    redrive_policy=dlq.arn.apply(
        lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVE_COUNT})
    ),
    tags=TAGS,
)
dlq_allow = aws.sqs.RedriveAllowPolicy(
    f"{NAME}-dlq",
    queue_url=dlq.url,
    redrive_allow_policy=queue.arn.apply(
        lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
    ),
)
rule = aws.cloudwatch.EventRule(
    NAME,
    name=NAME,
    description="S3 configuration changes, for the s3compliance watcher",
    event_pattern=json.dumps(PATTERN),
    tags=TAGS,
)
target = aws.cloudwatch.EventTarget(NAME, rule=rule.name, target_id="queue", arn=queue.arn)
queue_policy = aws.sqs.QueuePolicy(
    NAME,
    queue_url=queue.url,
    policy=pulumi.Output.all(queue.arn, rule.arn).apply(only_the_rule_sends),
)

# Other regions: the same rule, forwarding to the home region's default bus.
FORWARDED = [region for region in REGIONS if region != HOME_REGION]
if FORWARDED:
    forward_role = aws.iam.Role(
        f"{NAME}-forward",
        description="EventBridge forwards S3 changes to the home region's bus",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": identity.account_id}},
                    }
                ],
            }
        ),
        tags=TAGS,
    )
    aws.iam.RolePolicy(
        f"{NAME}-forward",
        role=forward_role.id,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "events:PutEvents", "Resource": HOME_BUS}
                ],
            }
        ),
    )
    for region in FORWARDED:
        opts = pulumi.ResourceOptions(provider=aws.Provider(f"aws-{region}", region=region))
        forward = aws.cloudwatch.EventRule(
            f"{NAME}-{region}",
            name=NAME,
            description="S3 configuration changes, forwarded to the s3compliance home region",
            event_pattern=json.dumps(PATTERN),
            tags=TAGS,
            opts=opts,
        )
        aws.cloudwatch.EventTarget(
            f"{NAME}-{region}",
            rule=forward.name,
            target_id="home-bus",
            arn=HOME_BUS,
            role_arn=forward_role.arn,
            opts=opts,
        )
'''

_ORGANIZATION = """
# The organization: its accounts may put events on the home bus (a statement added beside the
# bus policy's others), and a StackSet puts the forwarding rule in each member of the OUs.
organization = aws.organizations.get_organization()
aws.cloudwatch.EventPermission(
    f"{NAME}-organization",
    statement_id="S3ComplianceWatchOrganization",
    principal="*",
    action="events:PutEvents",
    condition=aws.cloudwatch.EventPermissionConditionArgs(
        key="aws:PrincipalOrgID", type="StringEquals", value=organization.id
    ),
)
MEMBER_TEMPLATE = json.loads((HERE / "member-template.json").read_text())
stack_set = aws.cloudformation.StackSet(
    NAME,
    name=NAME,
    description="s3compliance watch: forward S3 configuration changes (generated)",
    permission_model="SERVICE_MANAGED",
    call_as=CALL_AS,
    auto_deployment=aws.cloudformation.StackSetAutoDeploymentArgs(
        enabled=True, retain_stacks_on_account_removal=False
    ),
    capabilities=["CAPABILITY_IAM"],
    template_body=json.dumps(MEMBER_TEMPLATE),
)
for region in REGIONS:
    aws.cloudformation.StackSetInstance(
        f"{NAME}-{region}",
        stack_set_name=stack_set.name,
        call_as=CALL_AS,
        deployment_targets=aws.cloudformation.StackSetInstanceDeploymentTargetsArgs(
            organizational_unit_ids=ORGANIZATIONAL_UNITS
        ),
        stack_set_instance_region=region,
    )
"""


def render_program(setup: WatchSetup) -> str:
    """The Pulumi program (values only via repr; the pattern and template from reviewed JSON)."""
    regions = None if setup.regions is None else list(setup.regions)
    header = [
        *program_opening(
            "Generated by s3compliance watch-setup: the EventBridge rules and the SQS queue that",
            "feed `s3compliance watch`. Review event-pattern.json (what is matched) and README.md",
            "before `pulumi up`.",
        ),
        "HERE = Path(__file__).parent",
        'PATTERN = json.loads((HERE / "event-pattern.json").read_text())',
        f"NAME = {NAME!r}",
        f"HOME_REGION = {setup.home_region!r}",
        f"REGIONS = {regions!r}",
        f"SCANNER_ACCOUNT = {setup.scanner_account!r}",
        f"VISIBILITY_TIMEOUT_S = {setup.visibility_timeout_s!r}",
        f"QUEUE_RETENTION_S = {QUEUE_RETENTION_S!r}",
        f"DLQ_RETENTION_S = {DLQ_RETENTION_S!r}",
        f"MAX_RECEIVE_COUNT = {MAX_RECEIVE_COUNT!r}",
    ]
    if setup.organization:
        call_as = "DELEGATED_ADMIN" if setup.delegated_admin else "SELF"
        header += [
            f"ORGANIZATIONAL_UNITS = {list(setup.organizational_units)!r}",
            f"CALL_AS = {call_as!r}",
        ]
    body = _HOME + (_ORGANIZATION if setup.organization else "")
    exports = [
        "",
        'pulumi.export("queue_url", queue.url)',
        'pulumi.export("dead_letter_queue_url", dlq.url)',
        'pulumi.export("rule_arn", rule.arn)',
        "",
    ]
    return "\n".join(header) + "\n" + body + "\n".join(exports)


PULUMI_YAML = pulumi_yaml(
    PROJECT, "EventBridge rules and the SQS queue feeding s3compliance watch (generated)"
)


def _readme(setup: WatchSetup) -> str:
    where = (
        ", ".join(setup.regions)
        if setup.regions is not None
        else "every region enabled in the account"
    )
    lines = [
        "# What feeds `s3compliance watch`",
        "",
        f"Creates, in {setup.home_region}: the queue `{NAME}` (visibility timeout "
        f"{setup.visibility_timeout_s} s, longer than a change is held plus a rescan), its",
        f"dead-letter queue `{NAME}-dlq` (after {MAX_RECEIVE_COUNT} receives), the rule `{NAME}`",
        "matching the S3 calls in `event-pattern.json`, and a queue policy that lets only that",
        f"rule send. Scanned regions: {where}; each one other than {setup.home_region} gets the",
        "same rule, forwarding to the home region's default event bus.",
        "",
        "**Prerequisite: a CloudTrail trail that records management events** (write events at",
        "least) in every scanned region: EventBridge receives `AWS API Call via CloudTrail` events",
        "only from a trail with logging on. A multi-region trail covers an account"
        + ("; an organization trail covers every member." if setup.organization else "."),
        "",
        "```sh",
        "python3 -m venv venv && venv/bin/pip install -r requirements.txt",
        "pulumi stack init watch",
        f"pulumi config set aws:region {setup.home_region}",
        "pulumi preview",
        "pulumi up",
        "pulumi stack output queue_url   # set it as watch_queue_url in the params",
        "s3compliance watch --params PARAMS.yaml",
        "```",
        "",
        "The watcher needs `sqs:ReceiveMessage`, `sqs:DeleteMessage`,",
        "`sqs:ChangeMessageVisibility` and `sqs:GetQueueAttributes` on the queue:",
        "`s3compliance iam-policy --params PARAMS.yaml` adds them once `watch_queue_url` is set.",
        "Messages in the dead-letter queue were not understood (the watcher logs each message id)",
        "or their batch failed repeatedly: inspect them, then redrive them to the queue.",
    ]
    if setup.organization:
        where = "a delegated administrator" if setup.delegated_admin else "the management account"
        lines += [
            "",
            "## The organization",
            "",
            f"Every account of {', '.join(setup.organizational_units)} (and accounts added there",
            "later) gets `member-template.json` in every scanned region through a service-managed",
            f"StackSet run from {where}: a rule forwarding the same events to the default bus of",
            f"{setup.scanner_account} in {setup.home_region}, and the role EventBridge uses.",
            "The home bus gets one permission statement (`S3ComplianceWatchOrganization`), for",
            "accounts of this organization only (`aws:PrincipalOrgID`); the bus's other statements",
            "stay. Deploy the program in the scanning account; the StackSet needs trusted access",
            "for CloudFormation StackSets, as `org-role` does.",
            "",
            "**The management account is not covered** by a service-managed StackSet: when its",
            "buckets are scanned, deploy `member-template.json` there as an ordinary stack in each",
            "scanned region (`aws cloudformation deploy --template-file member-template.json",
            "--stack-name s3compliance-watch-forward --capabilities CAPABILITY_IAM`).",
        ]
    return "\n".join(lines) + "\n"


def write_watch_setup_folder(setup: WatchSetup, folder: str | Path) -> Path:
    """``__main__.py``, ``event-pattern.json``, ``member-template.json`` (organization),
    ``Pulumi.yaml``, ``requirements.txt``, ``README.md``."""
    from s3compliance.iac.pulumi_import import REQUIREMENTS

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "__main__.py", render_program(setup))
    atomic_write_text(folder / "event-pattern.json", json.dumps(event_pattern(), indent=2) + "\n")
    if setup.organization:
        template = json.dumps(member_template(setup), indent=2) + "\n"
        atomic_write_text(folder / "member-template.json", template)
    atomic_write_text(folder / "Pulumi.yaml", PULUMI_YAML)
    atomic_write_text(folder / "requirements.txt", REQUIREMENTS)
    atomic_write_text(folder / "README.md", _readme(setup))
    return folder
