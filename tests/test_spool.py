"""Issue 27, point 1: a scan's findings are spooled to Parquet parts, not held in memory.

The expectations are the contract's (every finding of every bucket, in the bucket rows' order)
and the issue's: the report path reads counts and the rows it shows, never every finding.
"""

from __future__ import annotations

import gc
import io
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3compliance.outputs import charts, history, report
from s3compliance.outputs.report import build_report, write_report
from s3compliance.scan.run import run_scan
from s3compliance.scan.spool import (
    FINDING_COLUMNS,
    FINDING_SCHEMA,
    FindingSpool,
    SpoolError,
    decode_part,
    encode,
)

NO_SLEEP = {"sleep": lambda _s: None}
NAMES = ["aaa-good", "bbb-bare", "ccc-bare", "ddd-good", "eee-bare"]


@pytest.fixture
def result(account, params, tmp_path):
    for name in NAMES:
        if name.endswith("good"):
            account.compliant_bucket(name)
        else:
            account.bucket(name)
    chosen = replace(params, shard_size=2, output_dir=str(tmp_path / "out"))
    return run_scan(chosen, clients=account.clients(), **NO_SLEEP)


def test_a_scan_spools_its_findings_a_shard_at_a_time(result) -> None:
    """Five buckets, two a shard: three parts whose bucket rows add up to the scan's."""
    parts = result.spool.parts
    assert [p.buckets for p in parts] == [2, 2, 1]
    assert all(p.path.parent == result.spool.folder and p.path.exists() for p in parts)
    checks = 5  # the default profile's bucket checks, one finding each per bucket
    assert [p.rows for p in parts] == [2 * checks, 2 * checks, checks]
    assert result.finding_count == 5 * checks
    # read back, the findings are in the bucket rows' order, each bucket's checks together
    findings = result.findings
    assert list(findings.columns) == FINDING_COLUMNS
    assert list(dict.fromkeys(findings["bucket"])) == list(result.buckets["bucket"]) == NAMES
    assert isinstance(findings["evidence"].iloc[0], dict)
    assert isinstance(findings["frameworks"].iloc[0], list)


def test_findings_of_reads_only_the_rows_asked_for(result) -> None:
    fails = result.findings_of(statuses=["FAIL"], columns=["bucket", "check_id"])
    assert list(fails.columns) == ["bucket", "check_id"]
    assert set(fails["bucket"]) == {"bbb-bare", "ccc-bare", "eee-bare"}
    one = result.findings_of(buckets=["ccc-bare"])
    assert set(one["bucket"]) == {"ccc-bare"} and len(one) == 5
    both = result.findings_of(buckets=["ccc-bare"], statuses=["PASS"])
    assert set(both["status"]) <= {"PASS"}
    assert result.findings_of(buckets=["no-such-bucket"]).empty


def test_the_report_path_never_reads_every_finding(result, tmp_path: Path) -> None:
    """Summary, tables, charts, history against the scan in memory, and the whole publish: all
    from counts and chosen rows (``findings`` is the call that reads everything)."""
    result.summary()
    result.framework_summary()
    report.errors_table(result)
    report.pass_summary(result)
    report.findings_table(result, ["FAIL", "ERROR"])
    report.exceptions_table(result)
    charts.failures_by_check(result)
    charts.heatmap_matrix(result, 3)
    history.changes(current=result, output_dir=tmp_path / "out")
    folder = write_report(result, tmp_path / "out", "r1")
    assert result._every is None  # nothing above read every finding
    # and what it published holds every finding, in the bucket rows' order
    written = pq.read_table(folder / "findings.parquet")
    assert written.schema.equals(FINDING_SCHEMA)
    assert written.num_rows == result.finding_count
    assert written.column("bucket").to_pylist() == list(result.findings["bucket"])


def test_the_summary_counts_what_the_findings_say(result) -> None:
    """The DuckDB counts against a count of the rows themselves."""
    findings = result.findings
    by_check = result.summary()["by_check"]
    for check_id, counts in by_check.items():
        mine = findings[findings["check_id"] == check_id]
        assert counts == {s: int((mine["status"] == s).sum()) for s in ("PASS", "FAIL", "ERROR")}
    # the summary is a copy: changing it changes nothing for the next caller
    by_check.clear()
    assert result.summary()["by_check"]


def test_an_empty_account_spools_nothing_and_still_reports(account, params) -> None:
    empty = run_scan(params, clients=account.clients(), **NO_SLEEP)
    assert empty.spool.parts == [] and empty.finding_count == 0
    assert empty.summary()["total_buckets"] == 0 and empty.summary()["by_check"] == {}
    assert empty.findings.empty and list(empty.findings.columns) == FINDING_COLUMNS
    assert build_report(empty)["buckets"] == []
    assert report.pass_summary(empty).empty


def test_a_part_is_checked_before_it_is_kept() -> None:
    spool = FindingSpool()
    with pytest.raises(SpoolError, match="not Parquet"):
        spool.add(0, b"not parquet", 1)
    other = io.BytesIO()
    pq.write_table(pa.table({"bucket": ["a"]}), other)
    with pytest.raises(SpoolError, match="not of the finding schema"):
        spool.add(0, other.getvalue(), 1)
    empty = encode(pd.DataFrame(columns=FINDING_COLUMNS))
    assert decode_part(empty).empty
    spool.add(0, empty, 0)
    with pytest.raises(SpoolError, match="added twice"):
        spool.add(0, empty, 0)
    assert spool.parts[0].rows == 0 and list(spool.folder.iterdir()) == [spool.parts[0].path]


def test_the_spool_folder_goes_with_the_spool() -> None:
    closed = FindingSpool()
    closed.close()
    assert not closed.folder.exists()
    dropped = FindingSpool()
    folder = dropped.folder
    assert folder.exists()
    del dropped
    gc.collect()
    assert not folder.exists()


def test_a_part_that_does_not_match_its_bucket_rows_is_an_error(result) -> None:
    """The report never silently leaves out a finding, or a bucket, the spool disagrees on."""
    fewer = replace(result, buckets=result.buckets.iloc[:4])
    with pytest.raises(RuntimeError, match="did not scan"):
        list(report.bucket_entries(fewer))
    more = pd.concat([result.buckets, result.buckets.iloc[:1]], ignore_index=True)
    with pytest.raises(RuntimeError, match="covers 5 bucket rows, the scan has 6"):
        list(report.bucket_entries(replace(result, buckets=more)))


@pytest.mark.parametrize("scope", ["flagged", "all"])
def test_the_pulumi_plans_made_a_part_at_a_time_equal_the_plans_over_every_finding(
    scope: str, tmp_path, monkeypatch
) -> None:
    """The demo fleet (138 buckets) in parts of 20: the import plan and stage two planned part
    by part, spooled and read back by bucket in pieces of about 7 rows, are the rows the
    whole-scan functions (tested against S3's documents in test_pulumi_import and
    test_remediation) make from every finding, and the Pulumi folder written from them is the
    one written from those, file for file."""
    from s3compliance.iac import plan_store, pulumi_import, remediation
    from s3compliance.testing.demo import demo_params, run_demo

    # profile all: account-level checks ran too (stage two plans the bucket checks' fixes)
    chosen = demo_params(max_workers=8, shard_size=20, profile="all")
    demo = run_demo(chosen, progress=False)
    assert len(demo.spool.parts) == 7
    settings = remediation.settings_for(demo.params)
    imports, fixes = pulumi_import.plan_scan(demo, scope, settings)
    whole_imports = pulumi_import.plan_imports(demo.findings, demo.buckets, scope)
    whole_fixes = pulumi_import.remediation_for_scan(demo.findings, demo.buckets, settings)
    assert len(imports) > 100 and fixes.plan.count("change = 'create'") > 10
    monkeypatch.setattr(plan_store, "PIECE_ROWS", 7)  # buckets straddle many pieces
    pd.testing.assert_frame_equal(imports.frame(), whole_imports)
    pd.testing.assert_frame_equal(fixes.plan.frame(), whole_fixes.plan)
    alarm = pulumi_import.Alarm(3, "us-east-1")
    spooled = pulumi_import.write_pulumi_folder(imports, tmp_path / "spooled", alarm, None, fixes)
    whole = pulumi_import.write_pulumi_folder(
        whole_imports, tmp_path / "whole", alarm, None, whole_fixes
    )
    names = sorted(p.name for p in whole.iterdir())
    assert names == sorted(p.name for p in spooled.iterdir()) and "__main__.py" in names
    for name in names:
        assert (spooled / name).read_bytes() == (whole / name).read_bytes(), name


def test_an_empty_scan_plans_nothing(account, params) -> None:
    from s3compliance.iac import pulumi_import, remediation

    empty = run_scan(params, clients=account.clients(), **NO_SLEEP)
    [(buckets, findings)] = list(empty.by_part())
    assert buckets.empty and findings.empty
    imports, fixes = pulumi_import.plan_scan(empty, "all", remediation.settings_for(params))
    assert len(imports) == 0 and fixes.plan.frame().empty


def test_by_part_pairs_each_parts_bucket_rows_with_their_findings(result) -> None:
    pairs = list(result.by_part())
    assert [list(rows["bucket"]) for rows, _ in pairs] == [NAMES[:2], NAMES[2:4], NAMES[4:]]
    for rows, findings in pairs:
        assert list(dict.fromkeys(findings["bucket"])) == list(rows["bucket"])
    chosen = list(result.by_part(["ccc-bare"]))
    assert [list(rows["bucket"]) for rows, _ in chosen] == [[], ["ccc-bare"], []]
    assert set(chosen[1][1]["bucket"]) == {"ccc-bare"} and chosen[0][1].empty
