"""Trend, time to remediate and FAIL streaks over hand-built run folders.

Each run is written the way ``write_run_files`` lays it out (``findings.parquet`` with the
report's columns, ``run.json``), with rows chosen by hand so that the expected answers below can be
worked out on paper from the rules in the issue: carry an account forward on the days it was not
scanned, compare only the checks every run ran, end a FAIL streak only with a PASS.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from s3compliance.cli import EXIT_OK, EXIT_USAGE, main
from s3compliance.outputs import history
from s3compliance.scan.scanner import FINDING_COLUMNS, finding_id

A, B = "111111111111", "222222222222"
SEVERITY = {"versioning": "medium", "encryption": "high"}


def write_run(
    out: Path,
    day: int,
    rows: list[tuple[str, str, str, str]],
    *,
    accounts: tuple[str, ...] = (A,),
    failed: tuple[str, ...] = (),
    checks: tuple[str, ...] = ("versioning", "encryption"),
) -> None:
    """One run folder for 2026-11-<day>: rows are (account, bucket, check, status)."""
    folder = out / f"2026-11-{day:02d}T06-00-00Z"
    folder.mkdir(parents=True)
    records = [
        {
            "account_id": acct,
            "account_name": "",
            "bucket": bucket,
            "bucket_arn": f"arn:aws:s3:::{bucket}",
            "region": "us-east-1",
            "check_id": check,
            "status": status,
            "severity": SEVERITY[check],
            "reason": "",
            "violation": status == "FAIL",
            "error_code": "",
            "evidence": "{}",
            "remediation": "",
            "frameworks": "[]",
            "finding_id": finding_id("aws", acct, bucket, check),
        }
        for acct, bucket, check, status in rows
    ]
    pd.DataFrame(records, columns=FINDING_COLUMNS).to_parquet(folder / "findings.parquet")
    meta = {
        "run_id": folder.name,
        "run_date": f"2026-11-{day:02d}",
        "finished_at": f"2026-11-{day:02d}T06:00:00Z",
        "account_ids": list(accounts),
        "failed_account_ids": list(failed),
        "check_ids": list(checks),
    }
    (folder / "run.json").write_text(json.dumps(meta))


def fails(acct: str, n: int, check: str = "versioning", prefix: str = "b") -> list:
    return [(acct, f"{prefix}{i}", check, "FAIL") for i in range(n)]


def by_key(frame: pd.DataFrame, key: str) -> dict[tuple[str, str], int]:
    return {(r.run_date, getattr(r, key)): r.FAIL for r in frame.itertuples(index=False)}


def test_trend_carries_an_account_forward_on_the_days_it_was_not_scanned(tmp_path, capsys) -> None:
    out = tmp_path / "output"
    write_run(out, 1, fails(A, 2) + fails(B, 3), accounts=(A, B))
    # day 2: B's role was refused; day 3: only B was scanned (A is scanned on other days)
    write_run(out, 2, fails(A, 1), accounts=(A, B), failed=(B,))
    write_run(out, 3, [(B, "b0", "versioning", "PASS")], accounts=(B,))
    got = by_key(history.trend(out, by="account"), "account_id")
    assert got == {
        ("2026-11-01", A): 2,
        ("2026-11-01", B): 3,
        ("2026-11-02", A): 1,
        ("2026-11-02", B): 3,  # carried: not 0
        ("2026-11-03", A): 1,  # carried: not 0
        ("2026-11-03", B): 0,
    }
    per_check = history.trend(out)
    assert list(per_check["FAIL"]) == [5, 4, 1]
    assert list(per_check["PASS"]) == [0, 0, 1]
    assert per_check.attrs["carried_forward"] == 2
    assert len(per_check.attrs["runs"]) == 3
    assert main(["history", "--output-dir", str(out), "--by", "account"]) == EXIT_OK
    assert "2 (date, account) pair(s) carried forward" in capsys.readouterr().out


def test_trend_by_severity_counts_only_the_checks_every_run_ran(tmp_path) -> None:
    out = tmp_path / "output"
    write_run(out, 1, fails(A, 2) + fails(A, 4, "encryption"))
    write_run(out, 2, fails(A, 2), checks=("versioning",))  # encryption dropped from the profile
    severity = history.trend(out, by="severity")
    assert severity.attrs["checks"] == ["versioning"]
    assert by_key(severity, "severity") == {
        ("2026-11-01", "medium"): 2,
        ("2026-11-02", "medium"): 2,
    }
    # by check each line is its own: encryption ends when it was dropped, it is not carried on
    assert by_key(history.trend(out), "check_id") == {
        ("2026-11-01", "encryption"): 4,
        ("2026-11-01", "versioning"): 2,
        ("2026-11-02", "versioning"): 2,
    }


def test_trend_window_and_arguments(tmp_path) -> None:
    out = tmp_path / "output"
    for day in (1, 5, 10):
        write_run(out, day, fails(A, day))
    assert list(history.trend(out, days=6)["run_date"]) == ["2026-11-05", "2026-11-10"]
    assert list(history.trend(out, days=1)["FAIL"]) == [10]
    with pytest.raises(history.HistoryError, match="by must be one of check, account, severity"):
        history.trend(out, by="bucket")
    with pytest.raises(history.HistoryError, match="days must be at least 1"):
        history.trend(out, days=0)
    # every account of every run refused: nothing to count, no error
    write_run(tmp_path / "refused", 1, [], failed=(A,))
    assert history.trend(tmp_path / "refused", by="severity").empty
    empty = history.trend(tmp_path / "nothing")
    assert empty.empty and list(empty.columns) == [
        "run_date",
        "check_id",
        "FAIL",
        "PASS",
        "ERROR",
        "ACCEPTED",
    ]


def test_remediation_times_from_first_fail_to_the_pass_that_ended_it(tmp_path) -> None:
    out = tmp_path / "output"
    v = "versioning"
    script = {  # bucket: status per day 1..5 ("-" = no row: the bucket is not there)
        "slow": ["FAIL", "FAIL", "ERROR", "PASS", "PASS"],  # fixed after 3 days; ERROR is no fix
        "twice": ["FAIL", "PASS", "FAIL", "FAIL", "PASS"],  # fixed after 1 day, then after 2
        "deleted": ["FAIL", "FAIL", "-", "-", "-"],  # disappeared: not fixed
        "open": ["PASS", "PASS", "PASS", "FAIL", "FAIL"],
    }
    for day in range(5):
        rows = [(A, b, v, s[day]) for b, s in script.items() if s[day] != "-"]
        write_run(out, day + 1, rows, checks=(v,))
    table = history.remediation_times(out).set_index("check_id")
    assert table.loc[v, "resolved"] == 3
    assert table.loc[v, "median_days"] == 2  # of 3, 1, 2
    assert table.loc[v, "p90_days"] == pytest.approx(2.8)  # linear: 2 + 0.8 x (3 - 2)
    assert table.loc[v, "open_now"] == 1
    assert history.remediation_times(tmp_path / "nothing").empty


def test_a_fail_streak_survives_gaps_in_the_evidence_and_ends_at_a_pass(tmp_path) -> None:
    out = tmp_path / "output"
    v, e = "versioning", "encryption"
    write_run(out, 1, [(A, "x", v, "FAIL"), (A, "y", v, "FAIL"), (A, "z", e, "PASS")])
    write_run(out, 2, [(A, "x", v, "ERROR"), (A, "y", v, "PASS"), (A, "z", e, "FAIL")])
    write_run(out, 3, [(A, "x", v, "FAIL"), (A, "y", v, "FAIL")], checks=(v,))
    write_run(out, 4, [], failed=(A,))
    write_run(out, 5, [(A, "x", v, "FAIL"), (A, "y", v, "FAIL"), (A, "z", e, "FAIL")])
    table = history.open_findings(out).set_index(["bucket", "check_id"])
    # ERROR on day 2 and the refused role on day 4 tell nothing: x has failed since day 1
    assert table.loc[("x", v), "first_seen"] == "2026-11-01"
    assert table.loc[("x", v), "age_days"] == 4
    assert table.loc[("y", v), "first_seen"] == "2026-11-03"  # PASS on day 2 ended the first
    # encryption did not run on day 3: z has failed since day 2
    assert table.loc[("z", e), "first_seen"] == "2026-11-02"


def test_cli_history_prints_the_trend_and_the_open_findings(tmp_path, capsys) -> None:
    out = tmp_path / "output"
    write_run(out, 1, fails(A, 2))
    write_run(out, 2, [*fails(A, 1), (A, "b1", "versioning", "PASS")])
    assert main(["history", "--output-dir", str(out)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "FAIL per check, 2 run dates from 2026-11-01 to 2026-11-02 (2 runs used" in text
    assert "Open findings: 1" in text and "b0" in text and "b1" not in text.split("Open")[1]
    assert "Time to remediate" in text
    assert main(["history", "--output-dir", str(out), "--by", "account", "--format", "csv"]) == 0
    csv_head = "run_date,account_id,FAIL,PASS,ERROR,ACCEPTED\n2026-11-01,"
    assert capsys.readouterr().out.startswith(csv_head)
    assert main(["history", "--output-dir", str(out), "--format", "json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"trend", "open_findings", "remediation_times", "runs"}
    assert data["open_findings"][0]["bucket"] == "b0"
    assert data["open_findings"][0]["age_days"] == 1
    assert main(["history", "--output-dir", str(out), "--days", "0"]) == EXIT_USAGE
    assert "days must be at least 1" in capsys.readouterr().err
    clean = tmp_path / "clean"
    for day in (1, 2):
        write_run(clean, day, [(A, "b0", "versioning", "PASS")])
    assert main(["history", "--output-dir", str(clean)]) == EXIT_OK
    assert "Open findings: 0 (oldest first)\n\nTime to remediate" in capsys.readouterr().out
    assert main(["history", "--output-dir", str(tmp_path / "none")]) == EXIT_OK
    assert "no complete run yet" in capsys.readouterr().out


def test_a_reader_that_stops_reading_is_not_an_error(tmp_path, monkeypatch) -> None:
    """`s3compliance history | head -1`: the pipe closes early; exit 0 and no error message."""
    import os

    out = tmp_path / "output"
    write_run(out, 1, fails(A, 50))
    read_end, write_end = os.pipe()
    os.close(read_end)
    with open(write_end, "w", buffering=1) as pipe:  # line-buffered: a line hits the pipe
        monkeypatch.setattr("sys.stdout", pipe)
        assert main(["history", "--output-dir", str(out)]) == EXIT_OK
        pipe.write("after\n")  # stdout now goes to /dev/null: no second error at exit
