"""Compliance tagging: planned, idempotent, lossless (moto records every call)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from botocore.stub import Stubber

from s3compliance.actions import tagging
from s3compliance.scan.retry import RetryPolicy
from s3compliance.scan.run import run_scan

RETRY = RetryPolicy(attempts=3, max_wait_s=0, sleep=lambda _s: None)
KEEP = {"team": "data", "note": "Données — ünïcødé ✓", "aws-cdk:owner": "platform", "Empty": ""}


def set_tags(account, bucket: str, tags: dict[str, str]) -> None:
    account.s3.put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
    )


def get_tags(account, bucket: str) -> dict[str, str]:
    return tagging.fetch_tags(account.s3, bucket)


@pytest.fixture
def fleet(account, params):
    account.compliant_bucket("good-a")
    set_tags(account, "good-a", KEEP)
    account.compliant_bucket("good-b")
    account.bucket("bad-a")
    account.compliant_bucket("unknown-a")
    account.faults.fail("unknown-a", "GetBucketPolicy", "AccessDenied")
    clients = account.clients()
    result = run_scan(replace(params, apply_tags=True), clients=clients, sleep=lambda _s: None)
    return account, clients, result


def puts(clients) -> int:
    return clients.recorder.by_operation["PutBucketTagging"]


def test_plan_comes_from_the_tags_the_scan_read(fleet) -> None:
    _, clients, result = fleet
    assert result.buckets.set_index("bucket").loc["good-a", "tags"] == KEEP
    plan = tagging.plan_tags(result.buckets).set_index("bucket")
    assert plan["action"].to_dict() == {
        "bad-a": "add",
        "good-a": "add",
        "good-b": "add",
        "unknown-a": "skip-unknown",
    }
    assert (
        plan.loc["bad-a", "new_value"] == "failed" and plan.loc["good-a", "new_value"] == "passed"
    )
    assert puts(clients) == 0, "planning writes nothing"


def test_apply_is_lossless_and_idempotent(fleet) -> None:
    account, clients, result = fleet
    plan = tagging.plan_tags(result.buckets)
    applied = tagging.apply_tags(plan, clients, RETRY)
    assert puts(clients) == 3
    assert applied.set_index("bucket")["written"].to_dict() == {
        "bad-a": True,
        "good-a": True,
        "good-b": True,
        "unknown-a": False,
    }
    assert get_tags(account, "good-a") == {**KEEP, "compliance-status": "passed"}
    assert get_tags(account, "bad-a") == {"compliance-status": "failed"}
    assert get_tags(account, "unknown-a") == {}
    # second run on the same findings: zero writes
    again = tagging.plan_tags(
        result.buckets, current=tagging.read_current_tags(result.buckets, clients, RETRY)
    )
    assert set(again["action"]) == {"none", "skip-unknown"}
    second = tagging.apply_tags(again, clients, RETRY)
    assert puts(clients) == 3 and not second["written"].any()
    # even replaying the stale first plan writes nothing: apply re-reads before writing
    tagging.apply_tags(plan, clients, RETRY)
    assert puts(clients) == 3


def test_tag_added_between_scan_and_apply_survives(fleet) -> None:
    account, clients, result = fleet
    plan = tagging.plan_tags(result.buckets)
    set_tags(account, "good-a", {**KEEP, "added-later": "by someone else"})
    tagging.apply_tags(plan, clients, RETRY)
    assert get_tags(account, "good-a")["added-later"] == "by someone else"
    assert get_tags(account, "good-a")["compliance-status"] == "passed"


def test_status_change_updates_the_value(fleet) -> None:
    account, clients, result = fleet
    set_tags(account, "bad-a", {"compliance-status": "passed", "x": "y"})
    current = tagging.read_current_tags(result.buckets, clients, RETRY)
    plan = tagging.plan_tags(result.buckets, current=current).set_index("bucket")
    assert (plan.loc["bad-a", "action"], plan.loc["bad-a", "current_value"]) == ("update", "passed")
    tagging.apply_tags(plan.reset_index(), clients, RETRY)
    assert get_tags(account, "bad-a") == {"compliance-status": "failed", "x": "y"}


def test_fifty_tags_without_the_key_is_an_error_never_a_dropped_tag(account, params) -> None:
    full = {f"k{n:02d}": f"v{n}" for n in range(50)}
    account.bucket("full-bucket")
    set_tags(account, "full-bucket", full)
    account.bucket("full-with-key")
    set_tags(account, "full-with-key", {**dict(list(full.items())[:49]), "compliance-status": "x"})
    clients = account.clients()
    result = run_scan(replace(params, apply_tags=True), clients=clients, sleep=lambda _s: None)
    plan = tagging.plan_tags(result.buckets).set_index("bucket")
    assert plan.loc["full-bucket", "action"] == "error-tag-limit"
    assert plan.loc["full-with-key", "action"] == "update"  # the key exists: still 50 tags
    tagging.apply_tags(plan.reset_index(), clients, RETRY)
    assert get_tags(account, "full-bucket") == full
    assert len(get_tags(account, "full-with-key")) == 50


def test_system_tags_make_the_bucket_untouchable(account, params) -> None:
    from moto.s3.models import s3_backends

    account.bucket("cfn-bucket")
    s3_backends["123456789012"]["aws"].put_bucket_tagging(
        "cfn-bucket", {"aws:cloudformation:stack-name": "s", "env": "prod"}
    )
    clients = account.clients()
    result = run_scan(replace(params, apply_tags=True), clients=clients, sleep=lambda _s: None)
    plan = tagging.plan_tags(result.buckets)
    assert plan["action"].tolist() == ["error-system-tags"]
    tagging.apply_tags(plan, clients, RETRY)
    assert puts(clients) == 0
    assert get_tags(account, "cfn-bucket") == {"aws:cloudformation:stack-name": "s", "env": "prod"}


def test_write_errors_are_recorded_and_transient_ones_retried(fleet) -> None:
    account, clients, result = fleet
    account.faults.fail("good-b", "PutBucketTagging", "SlowDown", times=1)
    account.faults.fail("bad-a", "PutBucketTagging", "AccessDenied")
    applied = tagging.apply_tags(tagging.plan_tags(result.buckets), clients, RETRY)
    rows = applied.set_index("bucket")
    assert rows.loc["good-b", "written"] and rows.loc["good-b", "error_code"] == ""
    assert not rows.loc["bad-a", "written"] and rows.loc["bad-a", "error_code"] == "AccessDenied"
    assert get_tags(account, "bad-a") == {}


def test_unreadable_tags_are_planned_as_an_error(fleet) -> None:
    account, clients, result = fleet
    account.faults.fail("good-b", "GetBucketTagging", "AccessDenied")
    current = tagging.read_current_tags(result.buckets, clients, RETRY)
    assert current["good-b"] is None
    plan = tagging.plan_tags(result.buckets, current=current).set_index("bucket")
    assert plan.loc["good-b", "action"] == "error-tags-unread"


def test_scan_without_tagging_reads_no_tags(account, params) -> None:
    account.bucket("quiet-bucket")
    clients = account.clients()
    result = run_scan(params, clients=clients, sleep=lambda _s: None)
    assert result.buckets.iloc[0]["tags"] is None
    assert "GetBucketTagging" not in clients.recorder.operations


def test_fetch_tags_raises_other_errors() -> None:
    import boto3

    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_bucket_tagging", "AccessDenied", http_status_code=403)
        with pytest.raises(Exception, match="AccessDenied"):
            tagging.fetch_tags(client, "b")


def test_plan_of_an_empty_fleet() -> None:
    empty = pd.DataFrame(columns=["bucket", "region", "status", "tags"])
    assert tagging.plan_tags(empty).empty
