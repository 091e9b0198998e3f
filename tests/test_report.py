"""The JSON report: schema, determinism, atomic run folders, latest pointer, CSV."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from s3compliance.outputs import report as report_mod
from s3compliance.outputs.report import (
    atomic_write_text,
    build_report,
    findings_csv,
    validate_report,
    write_report,
)
from s3compliance.outputs.runfolder import staged_run
from s3compliance.params import Params
from s3compliance.scan.run import run_scan

NO_SLEEP = {"sleep": lambda _s: None}


@pytest.fixture
def result(account, params):
    account.compliant_bucket("aaa-good")
    account.bucket("bbb-bare")
    account.compliant_bucket("ccc-denied")
    account.faults.fail("ccc-denied", "GetBucketPolicy", "AccessDenied")
    return run_scan(params, clients=account.clients(), **NO_SLEEP)


def test_report_validates_and_carries_the_contract(result) -> None:
    report = build_report(result, generated_at="2026-11-28T23:59:00Z")
    validate_report(report)
    assert report["schema_version"] == "1.0"
    assert report["summary"]["total_buckets"] == 3
    assert report["summary"]["unknown_buckets"] == 1
    assert [b["bucket_name"] for b in report["buckets"]] == ["aaa-good", "bbb-bare", "ccc-denied"]
    assert [f["check_id"] for f in report["buckets"][0]["findings"]] == [
        "versioning",
        "encryption",
        "lifecycle",
        "public_access",
        "cloudwatch_metrics",
    ]
    assert report["non_compliant_buckets"] == [
        {
            "account_id": "123456789012",
            "bucket_name": "bbb-bare",
            "bucket_arn": "arn:aws:s3:::bbb-bare",
            "region": "us-east-1",
            "severity": "high",
            "violations": [
                "Versioning not enabled",
                "Server-side encryption not configured",
                "Lifecycle policy missing for objects older than 90 days",
                "CloudWatch metrics not configured",
            ],
        }
    ]
    assert report["errors"] == [
        {
            "account_id": "123456789012",
            "bucket_name": "ccc-denied",
            "check_id": "public_access",
            "error_code": "AccessDenied",
            "message": report["errors"][0]["message"],
        }
    ]
    assert "Injected AccessDenied" in report["errors"][0]["message"]
    assert report["parameters"]["lifecycle_max_age_days"] == 90
    assert report["run"]["api_calls"]["ListBuckets"] == 1


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("summary", "total_buckets"), -1),
        (("account_id",), "12345"),
        (("generated_at",), "yesterday"),
        (("schema_version",), "2.0"),
    ],
)
def test_schema_rejects_a_broken_report(result, path: tuple, value: object) -> None:
    report = build_report(result)
    target = report
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate_report(report)


def test_schema_requires_a_violation_on_fail_and_a_code_on_error(result) -> None:
    report = build_report(result)
    fail = next(f for b in report["buckets"] for f in b["findings"] if f["status"] == "FAIL")
    fail["violation"] = ""
    with pytest.raises(jsonschema.ValidationError):
        validate_report(report)


def test_two_runs_are_byte_identical_apart_from_generated_at(account, params, tmp_path) -> None:
    """Apart from the time stamp and the account's wall seconds (a timing, not a finding)."""
    for name in ("zzz", "mmm", "aaa"):
        account.bucket(name, versioning="Enabled")
    texts = []
    for run_id in ("one", "two"):
        result = run_scan(params, clients=account.clients(max_workers=3), **NO_SLEEP)
        folder = write_report(result, tmp_path, run_id, generated_at="2026-01-01T00:00:00Z")
        text = (folder / "findings.json").read_text()
        texts.append(re.sub(r'"seconds": [0-9.e-]+', '"seconds": 0', text))
    assert texts[0] == texts[1]


def test_run_folder_latest_pointer_and_no_overwrite(result, tmp_path: Path) -> None:
    first = write_report(result, tmp_path, "nightly")
    second = write_report(result, tmp_path, "nightly")
    assert (first.name, second.name) == ("nightly", "nightly-2")
    assert (tmp_path / "latest").resolve() == second.resolve()
    data = json.loads((tmp_path / "latest" / "findings.json").read_text())
    validate_report(data)
    csv = (second / "findings.csv").read_text().splitlines()
    assert csv[0].startswith("account_id,account_name,bucket,bucket_arn,region,check_id,status")
    assert len(csv) == 1 + len(result.findings)
    # no staging folder or temporary file left: only the chain's head (docs/tasks/evidence.md)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [".chain.json"]


def test_default_run_id_is_a_utc_timestamp(result, tmp_path: Path) -> None:
    folder = write_report(result, tmp_path)
    assert len(folder.name) == 16 and folder.name.endswith("Z") and folder.name[8] == "T"


def test_files_are_readable_by_the_team(result, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        folder = write_report(result, tmp_path, "perm")
    finally:
        os.umask(old)
    assert (folder / "findings.json").stat().st_mode & 0o777 == 0o644
    assert folder.stat().st_mode & 0o777 == 0o755


def test_crash_mid_write_leaves_the_previous_report_intact(
    result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write_report(result, tmp_path, "good")
    before = (good / "findings.json").read_bytes()

    def explode(_result, _path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(report_mod, "write_findings_csv", explode)
    with pytest.raises(OSError, match="disk full"):
        write_report(result, tmp_path, "bad")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".chain.json",
        "good",
        "latest",
        "latest-state",
    ]
    assert (tmp_path / "latest").resolve() == good.resolve()
    assert (good / "findings.json").read_bytes() == before


def test_staging_folder_is_removed_when_writing_fails(tmp_path: Path) -> None:
    def half_write(folder: Path) -> None:
        (folder / "findings.json").write_text("{half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError), staged_run(tmp_path, "r1") as run:
        half_write(run.staging)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_old_content_on_failure(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "f.json"
    atomic_write_text(target, "old")

    def failing_replace(*_a, **_k) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_csv_joins_frameworks(result) -> None:
    text = findings_csv(result)
    assert "AWS-FSBP S3.2;AWS-FSBP S3.3" in text


def test_output_dir_defaults_to_the_parameter(account, tmp_path: Path) -> None:
    account.bucket("only-bucket")
    params = Params(output_dir=str(tmp_path / "out"), run_id="from-params", max_workers=2)
    folder = write_report(run_scan(params, clients=account.clients(), **NO_SLEEP))
    assert folder == tmp_path / "out" / "from-params"


def test_tables_for_people(result) -> None:
    overview = report_mod.overview_table(result)
    assert overview.loc["total buckets", "count"] == 3
    assert overview.loc["unknown buckets", "count"] == 1
    table = report_mod.non_compliant_table(result)
    assert table.to_dict("records") == [
        {
            "bucket": "bbb-bare",
            "region": "us-east-1",
            "bucket_severity": "high",
            "violation_count": 4,
            "violations": "Versioning not enabled; Server-side encryption not configured; "
            "Lifecycle policy missing for objects older than 90 days; "
            "CloudWatch metrics not configured",
        }
    ]
    errors = report_mod.errors_table(result)
    assert errors[["bucket", "check_id", "error_code"]].values.tolist() == [
        ["ccc-denied", "public_access", "AccessDenied"]
    ]


def test_account_table(account, params) -> None:
    from dataclasses import replace

    account.bucket("acct-bucket")
    checks = ["account_block_public_access"]
    result = run_scan(replace(params, checks=checks), clients=account.clients(), **NO_SLEEP)
    assert report_mod.account_table(result).values.tolist() == [
        [
            "account_block_public_access",
            "FAIL",
            "No account-level Block Public Access configuration.",
        ]
    ]
    assert result.findings.empty and len(result.buckets) == 1
    assert "account_block_public_access" in findings_csv(result)


def test_write_report_into_a_given_run_dir(result, tmp_path: Path) -> None:
    from s3compliance.outputs.charts import status_chart

    figures = {"status": status_chart(result, "2026-01-01")}
    tables = {"tags_applied": pd.DataFrame({"bucket": ["x"]}), "skipped": "tagging is off"}
    folder = write_report(result, run_dir=tmp_path, figures=figures, tables=tables)
    assert folder == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "buckets.parquet",
        "findings.csv",
        "findings.json",
        "findings.ocsf.json",
        "findings.parquet",
        "run.json",
        "status.png",
        "tags_applied.csv",
    ]
    assert json.loads((tmp_path / "run.json").read_text())["run_id"] is None  # caller names it
    assert (tmp_path / "tags_applied.csv").read_text() == "bucket\nx\n"


def test_a_run_published_after_another_took_its_name_gets_the_next_one(tmp_path) -> None:
    """The planned name is told to the notebook before it runs; if another run published under
    it meanwhile, nothing is overwritten: this one becomes ``-2``."""
    from s3compliance.outputs.runfolder import staged_run

    with staged_run(tmp_path, "same") as run:
        assert run.planned == tmp_path / "same"
        (tmp_path / "same").mkdir()  # another run, published first
        (tmp_path / "same" / "theirs.txt").write_text("kept")
    assert run.final == tmp_path / "same-2"
    assert (tmp_path / "same" / "theirs.txt").read_text() == "kept"


def test_findings_table_holds_every_finding_without_evidence(account, params) -> None:
    from s3compliance.outputs.report import findings_table

    account.compliant_bucket("one-bucket")
    result = run_scan(replace(params, profile="fsbp"), clients=account.clients(), **NO_SLEEP)
    table = findings_table(result)
    assert len(table) == len(result.findings) + len(result.account_findings)
    assert "evidence" not in table.columns and table.columns[0] == "account_id"
    assert table["check_id"].iloc[-1] == "account_block_public_access"


def test_worst_first_orders_fail_then_error_then_pass_by_severity(result) -> None:
    ordered = report_mod.worst_first(report_mod.findings_table(result))
    status = ordered["status"].map({"FAIL": 0, "ERROR": 1, "PASS": 2}).tolist()
    assert status == sorted(status) and set(status) == {0, 1, 2}
    ranks = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    fails = ordered[ordered["status"] == "FAIL"]["severity"].map(ranks).tolist()
    assert fails == sorted(fails)
    assert ordered.iloc[len(fails)]["bucket"] == "ccc-denied"  # the one ERROR, after the FAILs
    assert sorted(ordered.index) == list(range(len(ordered)))  # rows reordered, none lost


def test_pass_findings_are_counted_per_check_account_and_region(result) -> None:
    every = result.all_findings()
    counts = report_mod.pass_summary(result)
    assert list(counts.columns) == ["check_id", "account_id", "region", "passed"]
    assert counts["passed"].sum() == (every["status"] == "PASS").sum()
    versioning = counts[counts["check_id"] == "versioning"]
    assert versioning[["account_id", "region", "passed"]].values.tolist() == [
        [result.account_id, "us-east-1", 2]  # aaa-good and ccc-denied have versioning on
    ]


def test_a_report_past_its_row_limit_lists_what_fails_and_counts_what_passes(result) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from s3compliance.outputs import notebook as runner

    InteractiveShell.instance()  # a shell, as in a notebook: displays are captured
    try:
        every = report_mod.findings_table(result)
        open_rows = int((every["status"] != "PASS").sum())
        passed = len(every) - open_rows
        with capture_output() as captured:
            runner.show_findings(result, replace(result.params, report_max_rows=len(every)))
            runner.show_findings(result, replace(result.params, report_max_rows=2))
            runner.show_cut(every, "Cut", replace(result.params, report_max_rows=1))
    finally:
        InteractiveShell.clear_instance()  # the next test in this worker sees no shell
    html = "".join(o.data.get("text/html", "") for o in captured.outputs)
    assert '"caption": "Every finding, worst first"' in html  # at the limit: every row
    assert (
        f"Every FAIL and ERROR finding (the first 2 of {open_rows} rows, worst first; "
        f"{open_rows - 2} left out" in html
    )
    assert f"PASS findings ({passed}), counted per check, account and region" in html
    assert f"Cut (the first 1 of {len(every)} rows" in html


def test_the_overview_says_when_a_listing_may_be_truncated(result) -> None:
    assert "truncated listings" not in report_mod.overview_table(result).index
    cut = replace(result, truncated_listings=(result.account_id,))
    assert cut.summary()["truncated_listings"] == 1
    assert report_mod.overview_table(cut).loc["truncated listings", "count"] == 1
