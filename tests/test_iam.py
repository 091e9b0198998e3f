"""The generated least-privilege policy covers exactly the calls a scan makes."""

from __future__ import annotations

import json

import pytest

from s3compliance.cli import EXIT_OK, EXIT_USAGE, main
from s3compliance.iac.iam import OPERATION_PERMISSIONS, iam_policy, required_actions
from s3compliance.scan.aws import Clients
from s3compliance.scan.run import run_scan
from s3compliance.testing.demo import demo_account, demo_params


def recorded_permissions(profile: str, regions: list[str]) -> set[str]:
    params = demo_params(profile=profile, regions=regions, max_workers=8)
    with demo_account() as session:
        clients = Clients(session, None, 8)
        run_scan(params, clients=clients, progress=False)
    operations = clients.recorder.operations
    unknown = operations - set(OPERATION_PERMISSIONS)
    assert not unknown, f"operations without a declared permission: {unknown}"
    return {OPERATION_PERMISSIONS[op] for op in operations} - {""}


@pytest.mark.parametrize(
    ("profile", "regions"),
    [("all", ["us-east-1"]), ("mission", ["us-east-1"]), ("fsbp", ["*"]), ("cis", ["us-east-1"])],
)
def test_policy_is_exactly_what_a_demo_scan_calls(profile: str, regions: list[str]) -> None:
    used = recorded_permissions(profile, regions)
    policy = iam_policy(profile, all_regions=regions == ["*"])
    granted = set(policy["Statement"][0]["Action"])
    assert used <= granted, f"missing: {used - granted}"
    assert granted <= used, f"granted but never called: {granted - used}"


def test_policy_is_read_only() -> None:
    actions = required_actions([], all_regions=True)
    assert actions == ["s3:GetBucketLocation", "s3:ListAllMyBuckets"]
    every = iam_policy("all", all_regions=True)["Statement"][0]["Action"]
    assert all(a.split(":")[1].startswith(("Get", "List")) for a in every)


def test_cli_prints_the_policy(capsys, tmp_path) -> None:
    assert main(["iam-policy"]) == EXIT_OK
    policy = json.loads(capsys.readouterr().out)
    assert "s3:GetMetricsConfiguration" in policy["Statement"][0]["Action"]
    params = tmp_path / "p.yaml"
    params.write_text("profile: cis\nregions: ['*']\n")
    assert main(["iam-policy", "--params", str(params)]) == EXIT_OK
    actions = json.loads(capsys.readouterr().out)["Statement"][0]["Action"]
    assert "s3:GetBucketLocation" in actions and "s3:GetMetricsConfiguration" not in actions
    assert main(["iam-policy", "--params", str(params), "--profile", "fsbp"]) == EXIT_OK
    assert "s3:GetAccountPublicAccessBlock" in capsys.readouterr().out
    assert main(["iam-policy", "--profile", "strict"]) == EXIT_USAGE


def test_with_writes_covers_what_tagging_and_alerting_call(account, params) -> None:
    from dataclasses import replace

    from s3compliance.actions import alerts, securityhub, tagging
    from s3compliance.iac.iam import write_actions
    from s3compliance.outputs.report import build_report
    from s3compliance.scan.retry import RetryPolicy
    from s3compliance.scan.scanner import Scanner

    account.bucket("w-bucket")
    sns = account.session.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="t")["TopicArn"]
    queue = account.session.client("sqs", region_name="us-east-1").create_queue(QueueName="q")
    scanner = Scanner(replace(params, apply_tags=True), clients=account.clients())
    result = scanner.check(scanner.discover(), progress=False)
    before = set(scanner.clients.recorder.operations)
    retry = RetryPolicy(attempts=1)
    tagging.apply_tags(tagging.plan_tags(result.buckets), scanner.clients, retry)
    alerts.send_alerts(
        build_report(result),
        result.buckets,
        scanner.clients,
        retry,
        sns_topic_arn=topic,
        publish_cloudwatch=True,
        sqs_queue_url=queue["QueueUrl"],
    )
    writes = set(scanner.clients.recorder.operations) - before
    used = {OPERATION_PERMISSIONS[op] for op in writes | {"GetBucketTagging"}}
    # the Security Hub import's two calls are recorded in tests/test_securityhub.py
    assert used | set(securityhub.PERMISSIONS) == set(write_actions())
    policy = iam_policy(with_writes=True)
    assert policy["Statement"][1]["Action"] == write_actions()
    assert main(["iam-policy", "--with-writes"]) == EXIT_OK
