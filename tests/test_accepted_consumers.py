"""Accepted risks, part 2 (issue 21): every consumer of findings treats an accepted FAIL alike.

All on the embedded demo account with an exceptions file written here. Expectations come from
the issue and the demo fleet's definition (``testing/demo.py``): ``demo-legacy-bare-*`` fail four
mission checks (versioning, encryption, lifecycle, cloudwatch_metrics), so they are high severity
at the default threshold of 3; ``demo-lifecycle-365-*`` fail lifecycle only.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from test_alerts import drain, published_metrics

from s3compliance.cli import EXIT_OK, main
from s3compliance.iac import remediation as rem
from s3compliance.iac.pulumi_import import findings_from_report
from s3compliance.outputs import explore, history
from s3compliance.outputs import notebook as runner
from s3compliance.outputs.report import build_report, write_report
from s3compliance.scan.aws import Clients
from s3compliance.scan.scanner import Scanner
from s3compliance.scan.spool import FindingSpool
from s3compliance.testing.demo import demo_account, demo_params

MISSION_FAILS_OF_LEGACY_BARE = ["versioning", "encryption", "lifecycle", "cloudwatch_metrics"]
INCLUDE = ["demo-legacy-bare-0[123]", "demo-lifecycle-365-0[12]", "demo-compliant-01"]


def exceptions_file(folder: Path) -> Path:
    """RISK-LEGACY accepts every FAIL of two legacy buckets until 2026-12-10; RISK-LC accepts
    the lifecycle FAIL of demo-lifecycle-365-01 until 2027-03-31."""
    path = folder / "exceptions.yaml"
    path.write_text(
        json.dumps(
            {
                "exceptions": [
                    {
                        "id": "RISK-LEGACY",
                        "checks": MISSION_FAILS_OF_LEGACY_BARE,
                        "buckets": ["demo-legacy-bare-0[12]"],
                        "reason": "decommissioned with the legacy stack",
                        "owner": "platform@example.com",
                        "expires": "2026-12-10",
                    },
                    {
                        "id": "RISK-LC",
                        "checks": ["lifecycle"],
                        "buckets": ["demo-lifecycle-365-01"],
                        "reason": "legal hold",
                        "owner": "records@example.com",
                        "expires": "2027-03-31",
                    },
                ]
            }
        )
    )
    return path


@pytest.fixture
def demo(tmp_path):
    """The demo account open for the test (SNS, CloudWatch and S3 in one moto), and a scanner
    factory for a given run date."""
    with demo_account() as session:
        clients = Clients(session, None, 4)
        base = demo_params(
            exceptions_file=str(exceptions_file(tmp_path)),
            output_dir=str(tmp_path / "out"),
            include=INCLUDE,
            apply_tags=True,
            max_workers=4,
        )

        def scan(run_date: str, **overrides):
            params = replace(base, run_date=run_date, **overrides)
            params = demo_params(**{k: v for k, v in params.to_dict().items() if k != "demo"})
            scanner = Scanner(params, clients=clients, sleep=lambda _s: None)
            return params, scanner, scanner.check(scanner.discover(), progress=False)

        yield session, scan


def _topic(session) -> tuple[str, str]:
    sns = session.client("sns", region_name="us-east-1")
    sqs = session.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    return topic, queue


class _Account:  # what drain() needs
    def __init__(self, session) -> None:
        self.session = session


def test_alerts_skip_accepted_buckets_until_the_exception_expires(demo) -> None:
    session, scan = demo
    topic, queue = _topic(session)
    params, scanner, first = scan("2026-12-01", sns_topic_arn=topic)
    statuses = dict(zip(first.buckets["bucket"], first.buckets["status"], strict=True))
    assert statuses["demo-legacy-bare-01"] == "accepted"
    assert first.buckets.set_index("bucket").loc["demo-legacy-bare-01", "bucket_severity"] == "none"
    runner.alerts_step(first, scanner, params)
    subjects = sorted(m["Subject"].rsplit(" ", 1)[1] for m in drain(_Account(session), queue))
    assert subjects == ["demo-legacy-bare-03"]  # the accepted two are not announced
    write_report(first, params.output_dir, "day1")
    # the next day nothing changed: nothing is announced again
    params, scanner, same = scan("2026-12-02", sns_topic_arn=topic)
    runner.alerts_step(same, scanner, params)
    assert drain(_Account(session), queue) == []
    write_report(same, params.output_dir, "day2")
    # RISK-LEGACY expired on 2026-12-10: on 2026-12-11 the two buckets are high again, and new
    params, scanner, later = scan("2026-12-11", sns_topic_arn=topic)
    assert runner.buckets_to_announce(later, params) == {
        "demo-legacy-bare-01",
        "demo-legacy-bare-02",
    }
    runner.alerts_step(later, scanner, params)
    messages = drain(_Account(session), queue)
    assert sorted(m["Subject"].rsplit(" ", 1)[1] for m in messages) == [
        "demo-legacy-bare-01",
        "demo-legacy-bare-02",
    ]  # one message per bucket, as always
    body = json.loads(messages[0]["Message"])
    assert body["violation_count"] == 4


def test_metrics_count_accepted_buckets_apart(demo) -> None:
    session, scan = demo
    params, scanner, result = scan("2026-12-01", publish_metrics=True)
    outcome = runner.alerts_step(result, scanner, params)
    assert outcome.iloc[0][["sent", "failed"]].tolist() == [5, 0]
    values = published_metrics(session)
    # 6 buckets: compliant-01; legacy-bare-01/02 and lifecycle-365-01 accepted; legacy-bare-03
    # and lifecycle-365-02 non-compliant
    assert values == {
        "TotalBuckets": 6,
        "CompliantBuckets": 1,
        "NonCompliantBuckets": 2,
        "HighSeverityBuckets": 1,  # legacy-bare-03: its four FAILs are not accepted
        "AcceptedBuckets": 3,
    }


def test_accepted_buckets_are_tagged_accepted_once(demo) -> None:
    session, scan = demo
    params, scanner, result = scan("2026-12-01")
    applied = runner.tagging_step(result, scanner, params).set_index("bucket")
    assert applied.loc["demo-lifecycle-365-01", ["new_value", "written"]].tolist() == [
        "accepted",
        True,
    ]
    assert applied.loc["demo-lifecycle-365-02", "new_value"] == "failed"
    s3 = session.client("s3", region_name="us-east-1")
    tags = s3.get_bucket_tagging(Bucket="demo-lifecycle-365-01")["TagSet"]
    assert {"Key": "compliance-status", "Value": "accepted"} in tags
    writes = scanner.clients.recorder.by_operation["PutBucketTagging"]
    params, scanner, again = scan("2026-12-02")
    second = runner.tagging_step(again, scanner, params)
    assert not second["written"].any()  # idempotent: nothing written on the re-run
    assert scanner.clients.recorder.by_operation["PutBucketTagging"] == writes


def test_the_remediation_plan_skips_accepted_findings(demo, tmp_path) -> None:
    _, scan = demo
    _, _, result = scan("2026-12-01")
    # demo-legacy-bare-03 is non-compliant (nothing accepted); to see a partly accepted bucket,
    # accept only its lifecycle FAIL
    findings = result.findings.copy()
    partly = (findings["bucket"] == "demo-legacy-bare-03") & (findings["check_id"] == "lifecycle")
    findings.loc[partly, ["exception_id", "exception_expires"]] = ["RISK-X", "2027-01-31"]
    plan = rem.plan(findings, result.buckets, ["versioning", "lifecycle"])
    rows = plan.set_index(["bucket", "check_id"])
    assert rows.loc[("demo-legacy-bare-03", "lifecycle"), "change"] == "skipped"
    assert (
        "accepted risk RISK-X (until 2027-01-31)"
        in rows.loc[("demo-legacy-bare-03", "lifecycle"), "note"]
    )
    assert rows.loc[("demo-legacy-bare-03", "versioning"), "change"] in ("create", "update")
    # accepted buckets are not flagged at all: the program never "fixes" them
    assert not plan["bucket"].isin(["demo-legacy-bare-01", "demo-lifecycle-365-01"]).any()
    # the same from the findings file (import-plan, remediate-plan read it back)
    spooled = FindingSpool.of(findings, len(result.buckets))
    report = build_report(replace(result, spool=spooled))
    from_file, buckets = findings_from_report(report)
    again = rem.plan(from_file, buckets, ["lifecycle"]).set_index(["bucket", "check_id"])
    assert again.loc[("demo-legacy-bare-03", "lifecycle"), "change"] == "skipped"


def test_history_diff_and_trend_know_accepted_and_expired(demo, capsys) -> None:
    _, scan = demo
    out = None
    # day 1: no exceptions file; day 2: the file; day 3: RISK-LEGACY has expired
    for run_id, run_date, with_file in (
        ("d1", "2026-12-01", False),
        ("d2", "2026-12-02", True),
        ("d3", "2026-12-11", True),
    ):
        params, _, result = scan(run_date, **({} if with_file else {"exceptions_file": None}))
        out = params.output_dir
        write_report(result, out, run_id, generated_at=f"{run_date}T06:00:00Z")
    day2 = history.changes("d1", "d2", out)
    by_kind = day2.groupby("kind")["bucket"].apply(sorted).to_dict()
    assert by_kind["accepted"] == sorted(
        ["demo-legacy-bare-01"] * 4 + ["demo-legacy-bare-02"] * 4 + ["demo-lifecycle-365-01"]
    )
    assert set(day2.loc[day2["kind"] == "accepted", "exception_id"]) == {"RISK-LEGACY", "RISK-LC"}
    day3 = history.changes("d2", "d3", out)
    expired = day3[day3["kind"] == "exception-expired"]
    assert sorted(set(expired["bucket"])) == ["demo-legacy-bare-01", "demo-legacy-bare-02"]
    assert set(expired["exception_id"]) == {"RISK-LEGACY"}  # the one that expired
    assert set(expired["exception_expires"]) == {"2026-12-10"}
    # persisting: RISK-LC stays accepted; legacy-bare-03 stays open
    persisting = day3[day3["kind"] == "persisting"]
    assert "demo-lifecycle-365-01" in set(persisting["bucket"])
    # the trend: ACCEPTED is its own line, and FAIL leaves accepted findings out
    trend = history.trend(out, by="check").set_index(["run_date", "check_id"])
    assert trend.loc[("2026-12-01", "lifecycle"), ["FAIL", "ACCEPTED"]].tolist() == [5, 0]
    assert trend.loc[("2026-12-02", "lifecycle"), ["FAIL", "ACCEPTED"]].tolist() == [2, 3]
    assert trend.loc[("2026-12-11", "lifecycle"), ["FAIL", "ACCEPTED"]].tolist() == [4, 1]
    # open findings carry the exception and its end date
    opened = history.open_findings(out).set_index(["bucket", "check_id"])
    assert opened.loc[("demo-lifecycle-365-01", "lifecycle"), "exception_id"] == "RISK-LC"
    assert opened.loc[("demo-lifecycle-365-01", "lifecycle"), "exception_expires"] == "2027-03-31"
    assert opened.loc[("demo-legacy-bare-01", "lifecycle"), "exception_id"] == ""
    # the CLI prints them
    assert main(["diff", "d1", "d2", "--output-dir", out]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "accepted (9):" in printed and "FAIL -> FAIL  [RISK-LC until 2027-03-31]" in printed
    assert main(["diff", "d2", "d3", "--output-dir", out]) == EXIT_OK
    assert "exception-expired (8):" in capsys.readouterr().out
    assert main(["history", "--output-dir", out]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "ACCEPTED (FAILs an exception covers, not counted above) per check" in printed
    assert "RISK-LC" in printed and "2027-03-31" in printed


def test_a_new_finding_accepted_at_once_is_accepted_not_new(demo) -> None:
    _, scan = demo
    params, _, result = scan("2026-12-01", exceptions_file=None, include=["demo-compliant-01"])
    write_report(result, params.output_dir, "before", generated_at="2026-12-01T06:00:00Z")
    params, _, result = scan("2026-12-02", include=["demo-compliant-01", "demo-lifecycle-365-01"])
    write_report(result, params.output_dir, "after", generated_at="2026-12-02T06:00:00Z")
    changed = history.changes(None, None, params.output_dir)
    assert changed.loc[changed["bucket"] == "demo-lifecycle-365-01", "kind"].tolist() == [
        "accepted"
    ]


def test_runs_written_before_exceptions_read_as_having_none(demo) -> None:
    """A run folder of an older version: its Parquet has no exception columns, its JSON none."""
    _, scan = demo
    params, _, result = scan("2026-12-01")
    folder = write_report(result, params.output_dir, "old", generated_at="2026-12-01T06:00:00Z")
    findings = pd.read_parquet(folder / "findings.parquet")
    findings.drop(columns=["exception_id", "exception_expires"]).to_parquet(
        folder / "findings.parquet", index=False
    )
    rows = history.findings_of(history.complete_runs(params.output_dir)[0])
    assert set(rows["exception_id"]) == {""} and set(rows["exception_expires"]) == {""}
    trend = history.trend(params.output_dir)
    assert trend["ACCEPTED"].sum() == 0
    # the JSON of a run before Parquet: no exception keys at all
    (folder / "findings.parquet").unlink()
    report = json.loads((folder / "findings.json").read_text())
    for b in report["buckets"]:
        for f in b["findings"]:
            f.pop("exception_id", None)
            f.pop("exception_expires", None)
    (folder / "findings.json").write_text(json.dumps(report))
    rows = history.findings_of(history.complete_runs(params.output_dir)[0])
    assert set(rows["exception_id"]) == {""}
    # a newer run beside the older one: both read in one query
    params, _, result = scan("2026-12-02")
    write_report(result, params.output_dir, "new", generated_at="2026-12-02T06:00:00Z")
    trend = history.trend(params.output_dir).groupby("run_date")["ACCEPTED"].sum().to_dict()
    assert trend == {"2026-12-01": 0, "2026-12-02": 9}


def test_explore_filters_accepted_and_shows_the_exception(demo, tmp_path, capsys) -> None:
    _, scan = demo
    params, _, result = scan("2026-12-01")
    folder = write_report(result, params.output_dir, "x", generated_at="2026-12-01T06:00:00Z")
    run = explore.load_run(folder)
    accepted = explore.filter_findings(run, accepted=explore.ACCEPTED)
    assert len(accepted) == 9 and set(accepted["status"]) == {"FAIL"}
    others = explore.filter_findings(run, accepted=explore.NOT_ACCEPTED)
    assert len(accepted) + len(others) == len(run.findings)
    assert (others["exception_id"] == "").all()
    checks = explore.bucket_checks(run, "demo-lifecycle-365-01").set_index("check_id")
    assert checks.loc["lifecycle", ["exception_id", "exception_expires"]].tolist() == [
        "RISK-LC",
        "2027-03-31",
    ]
    told = explore.exceptions_html(run, "demo-lifecycle-365-01")
    assert "<b>RISK-LC</b> (lifecycle) until 2027-03-31, owner records@example.com" in told
    assert "legal hold" in told
    assert explore.exceptions_html(run, "demo-compliant-01") == ""
    # outside a kernel HTML shows as its repr: the accepted bucket has one block more
    capsys.readouterr()
    explore.show_bucket(run, "demo-lifecycle-365-01")
    assert capsys.readouterr().out.count("<IPython.core.display.HTML object>") == 3
    explore.show_bucket(run, "demo-compliant-01")
    assert capsys.readouterr().out.count("<IPython.core.display.HTML object>") == 2
    # a report whose exceptions section is missing still names the exception, without details
    del run.report["exceptions"]
    told = explore.exceptions_html(run, "demo-lifecycle-365-01")
    assert "<b>RISK-LC</b> (lifecycle) until ?, owner ?: </li>" in told
    # the explorer's widgets offer the filter
    widget = explore.explorer(run)
    dropdowns = [w for box in widget.children[:2] for w in box.children]
    assert [d.options for d in dropdowns if d.description == "accepted"] == [
        (explore.ANY, explore.ACCEPTED, explore.NOT_ACCEPTED)
    ]
