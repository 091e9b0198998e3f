"""History over run folders: every change kind on real runs, older JSON-only runs, bad files."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from s3compliance.cli import EXIT_OK, EXIT_USAGE, main
from s3compliance.outputs import history
from s3compliance.outputs import notebook as runner
from s3compliance.outputs.report import write_report
from s3compliance.scan.run import run_scan
from s3compliance.scan.spool import FindingSpool

NO_SLEEP = {"sleep": lambda _s: None}


def scan_and_write(account, params, out: Path, run_id: str, day: int) -> Path:
    result = run_scan(params, clients=account.clients(), **NO_SLEEP)
    return write_report(result, out, run_id, generated_at=f"2026-11-{day:02d}T06:15:00Z")


@pytest.fixture
def three_runs(account, params, tmp_path) -> tuple[Path, object]:
    """day 1: keep (compliant), fix-me and doomed bare; day 2: fix-me fixed, doomed deleted,
    newcomer created bare; day 3: fix-me broken again."""
    out = tmp_path / "output"
    account.compliant_bucket("keep")
    account.bucket("fix-me")
    account.bucket("doomed")
    scan_and_write(account, params, out, "day-1", 1)
    s3 = account.s3
    s3.put_bucket_versioning(Bucket="fix-me", VersioningConfiguration={"Status": "Enabled"})
    s3.delete_bucket(Bucket="doomed")
    account.bucket("newcomer")
    scan_and_write(account, params, out, "day-2", 2)
    s3.put_bucket_versioning(Bucket="fix-me", VersioningConfiguration={"Status": "Suspended"})
    scan_and_write(account, params, out, "day-3", 3)
    return out, account


def kinds(frame) -> dict[tuple[str, str], str]:
    return {(r.bucket, r.check_id): r.kind for r in frame.itertuples(index=False)}


def test_runs_lists_complete_runs_oldest_first(three_runs) -> None:
    out, _ = three_runs
    table = history.runs(out)
    assert list(table["run_id"]) == ["day-1", "day-2", "day-3"]
    assert list(table["run_date"]) == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert set(table["source"]) == {"parquet"}


def test_fixed_deleted_and_new_buckets_between_two_runs(three_runs) -> None:
    out, _ = three_runs
    changed = history.changes("day-1", "day-2", out)
    got = kinds(changed)
    assert got[("fix-me", "versioning")] == "resolved"
    assert got[("fix-me", "encryption")] == "persisting"
    assert got[("doomed", "versioning")] == "gone"  # deleted: not "resolved"
    assert got[("newcomer", "versioning")] == "new"
    assert ("keep", "versioning") not in got  # PASS both times: nothing to say
    assert changed.attrs["previous"] == "day-1" and changed.attrs["current"] == "day-2"
    assert list(changed["kind"]) == sorted(changed["kind"], key=history.CHANGE_KINDS.index)


def test_a_fix_that_breaks_again_is_regressed_not_new(three_runs) -> None:
    out, _ = three_runs
    got = kinds(history.changes(output_dir=out))  # default: the last two runs
    assert got[("fix-me", "versioning")] == "regressed"
    assert got[("newcomer", "versioning")] == "persisting"


def test_the_scan_in_memory_is_compared_with_the_last_run(three_runs, params, capsys) -> None:
    out, account = three_runs
    status = {"Status": "Enabled"}
    account.s3.put_bucket_versioning(Bucket="newcomer", VersioningConfiguration=status)
    result = run_scan(params, clients=account.clients(), **NO_SLEEP)
    changed = history.changes(current=result, output_dir=out)
    assert kinds(changed)[("newcomer", "versioning")] == "resolved"
    assert changed.attrs["previous"] == "day-3" and changed.attrs["current"] == "(this scan)"
    # a check that could not tell this time is an "error" change; a row missing while its
    # bucket is still there is not "gone"
    findings = result.findings.copy()
    errored = findings["bucket"].eq("keep") & findings["check_id"].eq("versioning")
    findings.loc[errored, "status"] = "ERROR"
    missing = findings["bucket"].eq("keep") & findings["check_id"].eq("lifecycle")
    edited = FindingSpool.of(findings[~missing], len(result.buckets))
    result = replace(result, spool=edited)
    got = kinds(history.changes(current=result, output_dir=out))
    assert got[("keep", "versioning")] == "error"
    assert ("keep", "lifecycle") not in got
    # the account could not be scanned this time: its findings are carried forward, not resolved
    result.accounts.loc[:, "status"] = "error"
    carried = history.changes(current=result, output_dir=out)
    assert "resolved" not in set(carried["kind"])
    assert carried.attrs["carried_forward"] == [result.account_id]
    # the report's "Since the last run" says so
    runner.show_changes(result, replace(params, output_dir=str(out)))
    said = capsys.readouterr().out
    assert f"previous findings carried forward: {result.account_id}" in said


def test_only_checks_both_runs_ran_are_compared(account, params, tmp_path) -> None:
    from dataclasses import replace

    out = tmp_path / "output"
    account.bucket("bare")
    scan_and_write(account, replace(params, checks=["versioning", "encryption"]), out, "a", 1)
    scan_and_write(account, replace(params, checks=["versioning", "lifecycle"]), out, "b", 2)
    changed = history.changes(output_dir=out)
    assert changed.attrs["checks"] == ["versioning"]
    assert set(changed["check_id"]) == {"versioning"}


def test_older_runs_bad_files_and_leftovers(three_runs, caplog) -> None:
    out, _ = three_runs
    # a run written before Parquet: only findings.json
    (out / "day-1" / "findings.parquet").unlink()
    (out / "day-1" / "run.json").unlink()
    # Parquet copied without its run.json: read from the JSON instead
    (out / "day-3" / "run.json").unlink()
    # a truncated Parquet file and no JSON to fall back to
    broken = out / "day-0"
    shutil.copytree(out / "day-2", broken)
    data = (broken / "findings.parquet").read_bytes()
    (broken / "findings.parquet").write_bytes(data[: len(data) // 2])
    (broken / "findings.json").write_text("{not json")
    (out / "failed").mkdir()
    (out / ".day-4.x.partial").mkdir()
    (out / "notes.txt").write_text("not a run")
    with caplog.at_level(logging.WARNING):
        table = history.runs(out)
    assert list(table["run_id"]) == ["day-1", "day-2", "day-3"]
    assert list(table["source"]) == ["json", "parquet", "json"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "day-0" in warnings[0]
    got = kinds(history.changes("day-1", "day-2", out))  # JSON-only run: the same ids
    assert got[("fix-me", "versioning")] == "resolved"


def test_no_history_is_an_empty_answer_not_an_error(tmp_path, three_runs) -> None:
    assert history.runs(tmp_path / "nothing").empty
    empty = history.changes(output_dir=tmp_path / "nothing")
    assert empty.empty and empty.attrs["note"] == "no complete run yet"
    out, _ = three_runs
    first = history.changes(current="day-1", output_dir=out)
    assert first.empty and first.attrs["note"] == "first run: no history yet"
    with pytest.raises(history.HistoryError, match="no complete run named 'day-9'"):
        history.changes("day-9", output_dir=out)


def test_cli_diff(three_runs, capsys) -> None:
    out, _ = three_runs
    assert main(["diff", "day-1", "day-2", "--output-dir", str(out)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "Changes from day-1 (full run) to day-2 (full run)" in text
    assert text.index("new (") < text.index("resolved (") < text.index("gone (")
    assert "fix-me" in text and "doomed" in text
    assert main(["diff", "--output-dir", str(out), "--format", "json"]) == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert {"kind": "regressed", "bucket": "fix-me", "check_id": "versioning"}.items() <= next(
        r for r in rows if r["bucket"] == "fix-me" and r["check_id"] == "versioning"
    ).items()
    assert main(["diff", "--output-dir", str(out), "--format", "csv"]) == EXIT_OK
    assert capsys.readouterr().out.startswith("kind,finding_id,account_id,bucket,check_id")
    assert main(["diff", "day-1", "--output-dir", str(out)]) == EXIT_USAGE
    assert "give two runs, or none" in capsys.readouterr().err
    assert main(["diff", "day-1", "day-7", "--output-dir", str(out)]) == EXIT_USAGE
    assert "no complete run named 'day-7'" in capsys.readouterr().err


def test_cli_diff_says_what_it_carried_forward_and_when_there_is_no_history(
    three_runs, tmp_path, capsys
) -> None:
    out, _ = three_runs
    meta_path = out / "day-3" / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["failed_account_ids"] = ["123456789012"]  # as run.json says of an account in error
    meta_path.write_text(json.dumps(meta))
    assert main(["diff", "day-2", "day-3", "--output-dir", str(out)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "Carried forward (not scanned this time): 123456789012" in text
    assert "resolved (" not in text and "regressed (" not in text
    assert main(["diff", "--output-dir", str(tmp_path / "none")]) == EXIT_OK
    assert capsys.readouterr().out.strip() == "no complete run yet"


def test_open_findings_date_the_start_of_their_current_fail_streak(three_runs) -> None:
    out, _ = three_runs
    table = history.open_findings(out).set_index(["bucket", "check_id"])
    # fix-me versioning: FAIL day 1, PASS day 2, FAIL day 3: its current streak began on day 3
    assert table.loc[("fix-me", "versioning"), "first_seen"] == "2026-11-03"
    assert table.loc[("fix-me", "versioning"), "age_days"] == 0
    # FAIL on every run since day 1
    assert table.loc[("fix-me", "encryption"), "first_seen"] == "2026-11-01"
    assert table.loc[("fix-me", "encryption"), "age_days"] == 2
    assert table.loc[("newcomer", "versioning"), "first_seen_run"] == "day-2"
    assert (
        "keep",
        "versioning",
    ) not in table.index and "doomed" not in table.index.get_level_values(0)
    ages = list(history.open_findings(out)["age_days"])
    assert ages == sorted(ages, reverse=True)


def test_a_day_the_account_was_not_scanned_does_not_break_a_streak(three_runs) -> None:
    out, _ = three_runs
    report_path = out / "day-2" / "findings.json"
    report = json.loads(report_path.read_text())
    report["accounts"][0].update(status="error", error_code="AccessDenied", reason="role refused")
    report["buckets"] = [b for b in report["buckets"] if b["bucket_name"] != "fix-me"]
    report_path.write_text(json.dumps(report))
    (out / "day-2" / "findings.parquet").write_bytes(b"")  # read from the JSON instead
    (out / "day-2" / "run.json").unlink()
    table = history.open_findings(out).set_index(["bucket", "check_id"])
    assert table.loc[("fix-me", "encryption"), "first_seen"] == "2026-11-01"


def test_open_findings_without_history() -> None:
    assert history.open_findings("/nonexistent/output").empty


def test_a_streak_ends_at_the_last_run_without_the_fail(three_runs, params) -> None:
    out, account = three_runs
    s3 = account.s3
    s3.delete_bucket(Bucket="newcomer")
    s3.put_bucket_encryption(
        Bucket="fix-me",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    rule = {"ID": "e", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 30}}
    s3.put_bucket_lifecycle_configuration(Bucket="fix-me", LifecycleConfiguration={"Rules": [rule]})
    s3.put_bucket_metrics_configuration(
        Bucket="fix-me", Id="EntireBucket", MetricsConfiguration={"Id": "EntireBucket"}
    )
    scan_and_write(account, params, out, "day-4", 4)
    table = history.open_findings(out)
    assert list(zip(table["bucket"], table["check_id"], strict=True)) == [("fix-me", "versioning")]
    assert (table.loc[0, "first_seen_run"], table.loc[0, "age_days"]) == ("day-3", 1)


def test_queries_over_runs_written_before_parquet(three_runs) -> None:
    """Runs of an older version (findings.json only) answer every query the same way."""
    out, _ = three_runs
    for day in ("day-1", "day-2", "day-3"):
        (out / day / "findings.parquet").unlink()
    assert set(history.runs(out)["source"]) == {"json"}
    times = history.remediation_times(out).set_index("check_id")
    # fix-me versioning: FAIL on day 1, PASS on day 2 (fixed in 1 day), FAIL again on day 3
    assert (times.loc["versioning", "resolved"], times.loc["versioning", "median_days"]) == (1, 1)
    assert times.loc["versioning", "open_now"] == 2  # fix-me and newcomer
    trend = history.trend(out).set_index(["run_date", "check_id"])
    # day 1: fix-me and doomed bare; day 2: newcomer bare, fix-me fixed; day 3: fix-me broken
    assert [trend.loc[(f"2026-11-0{d}", "versioning"), "FAIL"] for d in (1, 2, 3)] == [2, 1, 2]
