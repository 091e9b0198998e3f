"""watch-setup: the program that feeds the watcher, under Pulumi's mocks, then replayed on moto.

Expectations from AWS documentation: EventBridge matches CloudTrail-recorded S3 calls with source
``aws.s3``, detail-type ``AWS API Call via CloudTrail`` and ``detail.eventSource``
``s3.amazonaws.com``; a failed call carries ``detail.errorCode`` (``"exists": false`` leaves it
out); events are regional, and a rule whose target is an event bus in another region or account
needs a role allowed ``events:PutEvents`` on it; an SQS queue receives from an EventBridge rule
when its policy lets the ``events.amazonaws.com`` principal ``sqs:SendMessage`` (scoped with
``aws:SourceArn`` to the rule); a standard queue's dead-letter queue should keep messages longer
than the source queue, since a moved message keeps its original enqueue time; a service-managed
StackSet never deploys to the management account.
"""

from __future__ import annotations

import json
import runpy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi
import pytest
from test_watch_events import ISSUE_BUCKET_CALLS
from test_watch_loop import ACCOUNT, demo_base, watched, watcher  # noqa: F401 - fixtures

from s3compliance.cli import EXIT_OK, EXIT_USAGE, main
from s3compliance.iac.watch_setup import member_template, watch_setup, write_watch_setup_folder
from s3compliance.params import Params, ParamsError
from s3compliance.testing.watch_demo import cloudtrail_event

SCANNER = "111122223333"
ORG_ID = "o-abcdef1234"
ENABLED = ["eu-west-1", "us-east-1", "us-west-2"]

QUEUE = "aws:sqs/queue:Queue"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"


class Cloud(pulumi.runtime.Mocks):
    """Resources get the ARNs and URLs AWS would give them; the program's lookups get answers."""

    def __init__(self, account: str = SCANNER) -> None:
        self.account = account
        self.created: list[pulumi.runtime.MockResourceArgs] = []
        self.regions: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.created.append(args)
        state = dict(args.inputs)
        if args.typ == "pulumi:providers:aws":
            self.regions[args.name] = args.inputs["region"]
        # a provider reference is "<urn>::<id>"; the urn ends with the provider's name
        region = self.regions[args.provider.split("::")[-2]] if args.provider else "us-east-1"
        name = args.inputs.get("name", args.name)
        if args.typ == QUEUE:
            state["arn"] = f"arn:aws:sqs:{region}:{self.account}:{name}"
            state["url"] = f"https://sqs.{region}.amazonaws.com/{self.account}/{name}"
        elif args.typ in (RULE, "aws:iam/role:Role"):
            kind = "events" if args.typ == RULE else "iam"
            where = region if args.typ == RULE else ""
            state["arn"] = f"arn:aws:{kind}:{where}:{self.account}:rule/{name}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        answers = {
            "aws:index/getCallerIdentity:getCallerIdentity": {"accountId": self.account},
            "aws:index/getPartition:getPartition": {"partition": "aws"},
            "aws:index/getRegions:getRegions": {"names": ENABLED},
            "aws:organizations/getOrganization:getOrganization": {"id": ORG_ID},
        }
        return answers[args.token]


def run_program(folder: Path, account: str = SCANNER) -> list[pulumi.runtime.MockResourceArgs]:
    """Run the written program under the mocks and wait for every resource it declared."""
    cloud = Cloud(account)
    pulumi.runtime.set_mocks(cloud, project="s3compliance-watch", stack="t", preview=False)
    namespace = runpy.run_path(str(folder / "__main__.py"))

    @pulumi.runtime.test
    def settle():
        return pulumi.Output.all(namespace["queue_policy"].urn, namespace["target"].urn)

    settle()
    return cloud.created


def declared(created: list[pulumi.runtime.MockResourceArgs]) -> dict[tuple[str, str], dict]:
    """Inputs by (type, name): the program names a queue, its rule and its policy alike."""
    return {(args.typ, args.name): dict(args.inputs) for args in created}


def params(**values: Any) -> Params:
    return replace(Params(), **values)


def test_one_account_one_region(tmp_path) -> None:
    setup = watch_setup(params(regions=["us-east-1"], watch_debounce_s=5))
    created = declared(run_program(write_watch_setup_folder(setup, tmp_path / "w")))
    assert set(created) == {
        (QUEUE, "s3compliance-watch"),
        (QUEUE, "s3compliance-watch-dlq"),
        ("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "s3compliance-watch-dlq"),
        (RULE, "s3compliance-watch"),
        (TARGET, "s3compliance-watch"),
        ("aws:sqs/queuePolicy:QueuePolicy", "s3compliance-watch"),
    }
    queue, dlq = created[QUEUE, "s3compliance-watch"], created[QUEUE, "s3compliance-watch-dlq"]
    queue_arn = f"arn:aws:sqs:us-east-1:{SCANNER}:s3compliance-watch"
    dlq_arn = f"arn:aws:sqs:us-east-1:{SCANNER}:s3compliance-watch-dlq"
    # held up to six debounce periods (30 s), then a rescan and its publication: longer than both
    assert queue["visibilityTimeoutSeconds"] >= 6 * 5 + 60
    assert queue["receiveWaitTimeSeconds"] == 20  # long polling
    assert json.loads(queue["redrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 5,
    }
    assert dlq["messageRetentionSeconds"] == 14 * 24 * 3600  # the SQS maximum
    assert queue["messageRetentionSeconds"] < dlq["messageRetentionSeconds"]
    assert queue["sqsManagedSseEnabled"] and dlq["sqsManagedSseEnabled"]
    allow = created["aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "s3compliance-watch-dlq"]
    assert allow["queueUrl"] == f"https://sqs.us-east-1.amazonaws.com/{SCANNER}/{dlq['name']}"
    assert json.loads(allow["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [queue_arn],
    }
    pattern = json.loads(created[RULE, "s3compliance-watch"]["eventPattern"])
    assert pattern == json.loads((tmp_path / "w" / "event-pattern.json").read_text())
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventSource"] == ["s3.amazonaws.com"]
    assert pattern["detail"]["errorCode"] == [{"exists": False}]
    assert set(pattern["detail"]["eventName"]) == {
        *ISSUE_BUCKET_CALLS,
        "PutAccountPublicAccessBlock",
        "DeleteAccountPublicAccessBlock",
    }
    target = created[TARGET, "s3compliance-watch"]
    assert target["arn"] == queue_arn and "roleArn" not in target


def test_the_queue_policy_lets_only_the_rule_send(tmp_path) -> None:
    events = f"arn:aws:events:us-east-1:{SCANNER}"
    setup = watch_setup(params(regions=["us-east-1"]))
    created = run_program(write_watch_setup_folder(setup, tmp_path / "w"))
    [policy] = [a.inputs for a in created if a.typ == "aws:sqs/queuePolicy:QueuePolicy"]
    assert policy["queueUrl"] == f"https://sqs.us-east-1.amazonaws.com/{SCANNER}/s3compliance-watch"
    assert json.loads(policy["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheWatchRuleSends",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": f"arn:aws:sqs:us-east-1:{SCANNER}:s3compliance-watch",
                "Condition": {"ArnEquals": {"aws:SourceArn": f"{events}:rule/s3compliance-watch"}},
            }
        ],
    }


def test_other_regions_forward_to_the_home_bus_with_a_role(tmp_path) -> None:
    setup = watch_setup(params(regions=["eu-west-1", "us-east-1", "ap-south-1"]))
    assert setup.home_region == "eu-west-1"
    created = run_program(write_watch_setup_folder(setup, tmp_path / "w"))
    home_bus = f"arn:aws:events:eu-west-1:{SCANNER}:event-bus/default"
    providers = {a.name: a.inputs["region"] for a in created if a.typ == "pulumi:providers:aws"}
    assert providers == {"aws-us-east-1": "us-east-1", "aws-ap-south-1": "ap-south-1"}
    rules = {a.name: a for a in created if a.typ == RULE}
    assert set(rules) == {
        "s3compliance-watch",
        "s3compliance-watch-us-east-1",
        "s3compliance-watch-ap-south-1",
    }
    assert rules["s3compliance-watch"].provider == ""  # the home rule: the default provider
    for region in ("us-east-1", "ap-south-1"):
        assert f"aws-{region}" in rules[f"s3compliance-watch-{region}"].provider
    patterns = {r.inputs["eventPattern"] for r in rules.values()}
    assert len(patterns) == 1  # the same pattern everywhere
    targets = {a.name: a.inputs for a in created if a.typ == TARGET}
    for region in ("us-east-1", "ap-south-1"):
        assert targets[f"s3compliance-watch-{region}"]["arn"] == home_bus
        assert targets[f"s3compliance-watch-{region}"]["roleArn"].startswith(
            f"arn:aws:iam::{SCANNER}"
        )
    [role] = [a.inputs for a in created if a.typ == "aws:iam/role:Role"]
    [trust] = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": SCANNER}}
    [grant] = [a.inputs for a in created if a.typ == "aws:iam/rolePolicy:RolePolicy"]
    assert json.loads(grant["policy"])["Statement"] == [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": home_bus}
    ]


def test_all_regions_are_the_enabled_ones(tmp_path) -> None:
    setup = watch_setup(params(regions=["*"]))
    assert setup.regions is None and setup.home_region == "us-east-1"
    created = run_program(write_watch_setup_folder(setup, tmp_path / "w"))
    rules = sorted(a.name for a in created if a.typ == RULE)
    assert rules == [
        "s3compliance-watch",
        "s3compliance-watch-eu-west-1",
        "s3compliance-watch-us-west-2",
    ]


def test_the_program_refuses_to_deploy_in_another_account(tmp_path) -> None:
    setup = watch_setup(params(regions=["us-east-1"]), scanner_account=SCANNER)
    folder = write_watch_setup_folder(setup, tmp_path / "w")
    with pytest.raises(RuntimeError, match=f"scanning account {SCANNER}, not 999988887777"):
        run_program(folder, account="999988887777")


def test_an_organization_forwards_from_every_member_through_a_stack_set(tmp_path) -> None:
    org = params(accounts="organization", regions=["us-east-1", "eu-west-1"])
    setup = watch_setup(org, SCANNER, ["ou-ab12-abcdefgh"], delegated_admin=True)
    folder = write_watch_setup_folder(setup, tmp_path / "w")
    created = run_program(folder)
    [permission] = [a.inputs for a in created if a.typ.endswith("eventPermission:EventPermission")]
    assert permission["principal"] == "*" and permission["action"] == "events:PutEvents"
    assert permission["condition"] == {
        "key": "aws:PrincipalOrgID",
        "type": "StringEquals",
        "value": ORG_ID,
    }
    [stack_set] = [a.inputs for a in created if a.typ.endswith("stackSet:StackSet")]
    assert stack_set["permissionModel"] == "SERVICE_MANAGED"
    assert stack_set["callAs"] == "DELEGATED_ADMIN"
    assert stack_set["capabilities"] == ["CAPABILITY_IAM"]  # an unnamed role per stack
    template = json.loads(stack_set["templateBody"])
    assert template == json.loads((folder / "member-template.json").read_text())
    instances = [a.inputs for a in created if a.typ.endswith("stackSetInstance:StackSetInstance")]
    assert sorted(i["stackSetInstanceRegion"] for i in instances) == ["eu-west-1", "us-east-1"]
    assert all(
        i["deploymentTargets"] == {"organizationalUnitIds": ["ou-ab12-abcdefgh"]} for i in instances
    )
    rule = template["Resources"]["ForwardRule"]["Properties"]
    assert rule["EventPattern"] == json.loads((folder / "event-pattern.json").read_text())
    [target] = rule["Targets"]
    assert target["Arn"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:events:us-east-1:{SCANNER}:event-bus/default"
    }
    assert target["RoleArn"] == {"Fn::GetAtt": ["ForwardRole", "Arn"]}
    role = template["Resources"]["ForwardRole"]["Properties"]
    assert "RoleName" not in role  # one role per region's stack: names must not collide
    [send] = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert send == {"Effect": "Allow", "Action": "events:PutEvents", "Resource": target["Arn"]}
    readme = (folder / "README.md").read_text()
    assert "management account is not covered" in readme
    assert "CloudTrail trail that records management events" in readme


def test_member_template_names_the_scanner_and_home_region() -> None:
    setup = watch_setup(
        params(accounts="organization", regions=["ap-south-1"], organizational_units=["r-ab12"]),
        SCANNER,
    )
    assert setup.organizational_units == ("r-ab12",)  # from the params
    bus = member_template(setup)["Resources"]["ForwardRule"]["Properties"]["Targets"][0]["Arn"]
    assert f":events:ap-south-1:{SCANNER}:" in bus["Fn::Sub"]


@pytest.mark.parametrize(
    ("values", "scanner", "ous", "message"),
    [
        ({"accounts": "organization"}, SCANNER, [], "--ou: name at least one OU"),
        ({"accounts": "organization"}, None, ["r-ab12"], "--scanner-account: members forward"),
        ({"accounts": "organization"}, SCANNER, ["ou-bad"], "organizational_units"),
        ({}, None, ["r-ab12"], "--ou: only for an organization scan"),
        ({}, "12345", [], "--scanner-account: expected a 12-digit account id"),
        ({"accounts": [SCANNER]}, SCANNER, [], "for an account list, deploy this program"),
    ],
)
def test_bad_inputs_are_refused(values, scanner, ous, message) -> None:
    with pytest.raises(ParamsError, match=message):
        watch_setup(params(**values), scanner, ous)


def test_cli_watch_setup(tmp_path, capsys) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("accounts: organization\nregions: [us-east-1]\nwatch_debounce_s: 10\n")
    out = tmp_path / "w"
    args = ["watch-setup", "--params", str(p), "--scanner-account", SCANNER, "--ou", "r-ab12"]
    assert main([*args, "--output", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == (
        "Queue and rule in us-east-1 (visibility 330 s), rules in us-east-1; "
        f"members of r-ab12 forward to {SCANNER}"
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "Pulumi.yaml",
        "README.md",
        "__main__.py",
        "event-pattern.json",
        "member-template.json",
        "requirements.txt",
    ]
    assert main(["watch-setup", "--params", str(p), "--output", str(out)]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith("s3compliance: bad parameters: --ou: name at least")


def test_events_through_the_declared_rule_reach_the_watcher_on_moto(watched, tmp_path) -> None:  # noqa: F811
    """The rule and the queues as the program declares them, created on moto; a bucket made
    public with boto3; its CloudTrail-shaped event (and a failed call, and a read) put on the bus:
    only the change reaches the queue, the watcher publishes the delta run, the alert goes out."""
    ctx = watched
    session = ctx["session"]
    setup = watch_setup(params(regions=["us-east-1"]))
    program = declared(run_program(write_watch_setup_folder(setup, tmp_path / "w")))
    sqs, events = ctx["sqs"], session.client("events", region_name="us-east-1")
    dlq_in = program[(QUEUE, "s3compliance-watch-dlq")]
    dlq = sqs.create_queue(
        QueueName=dlq_in["name"],
        Attributes={"MessageRetentionPeriod": str(int(dlq_in["messageRetentionSeconds"]))},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
    queue_in = program[(QUEUE, "s3compliance-watch")]
    redrive = json.loads(queue_in["redrivePolicy"])
    redrive["deadLetterTargetArn"] = dlq_arn["Attributes"]["QueueArn"]  # moto's own ARN
    queue = sqs.create_queue(
        QueueName=queue_in["name"],
        Attributes={
            "VisibilityTimeout": str(int(queue_in["visibilityTimeoutSeconds"])),
            "MessageRetentionPeriod": str(int(queue_in["messageRetentionSeconds"])),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    rule_in = program[(RULE, "s3compliance-watch")]
    events.put_rule(Name=rule_in["name"], EventPattern=rule_in["eventPattern"])
    target_in = program[(TARGET, "s3compliance-watch")]
    events.put_targets(
        Rule=rule_in["name"],
        Targets=[{"Id": target_in["targetId"], "Arn": queue_arn["Attributes"]["QueueArn"]}],
    )
    sns = session.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn["Attributes"]["QueueArn"])

    bucket = "demo-compliant-02"
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    ctx["s3"].put_bucket_policy(Bucket=bucket, Policy=json.dumps(public))
    changed = cloudtrail_event(ACCOUNT, "us-east-1", "PutBucketPolicy", bucket)
    failed = cloudtrail_event(ACCOUNT, "us-east-1", "PutBucketAcl", bucket)
    failed["detail"]["errorCode"] = "AccessDenied"
    read = cloudtrail_event(ACCOUNT, "us-east-1", "GetBucketAcl", bucket)
    entries = [
        {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"])}
        for e in (changed, failed, read)
    ]
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0

    ctx["queue"] = queue
    ctx["params"] = replace(ctx["params"], sns_topic_arn=topic, high_severity_threshold=1)
    # at the same debounce, the watcher asks for the visibility timeout the queue was given
    assert watcher(ctx, debounce_s=5).visibility_s == queue_in["visibilityTimeoutSeconds"]
    loop = watcher(ctx, debounce_s=0)
    assert loop.drain_queue(0) == 1  # the failed call and the read never reached the queue
    published = loop.step()
    assert published is not None and published.new >= 1
    from s3compliance.outputs import history

    new = history.changes(output_dir=ctx["params"].output_dir)
    flipped = new[(new["kind"] == "new") & (new["bucket"] == bucket)]
    assert ("public_access", "critical") in set(
        zip(flipped["check_id"], flipped["severity"], strict=True)
    )
    alerts = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["Subject"] for m in alerts] == [
        f"High-Severity S3 Compliance Violation: {bucket}"
    ]
    assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []  # deleted after
