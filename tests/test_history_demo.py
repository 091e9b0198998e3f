"""The demo account's past (`s3compliance demo --history N`) and the report's history sections.

The drift is a story told in fractions of the period (testing/history_demo.py); with 5 days the
past runs sit at 0, 1/4, 2/4 and 3/4 of it, so what each day must show is worked out from the
plan below by hand, then read back through the history module like any other run folders.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from s3compliance.cli import EXIT_USAGE, main
from s3compliance.outputs import charts, history
from s3compliance.outputs import notebook as runner
from s3compliance.testing.demo import demo_params, run_demo
from s3compliance.testing.history_demo import MAX_DAYS, Drift, write_demo_history

END = date(2026, 1, 5)


@pytest.fixture(scope="module")
def past(tmp_path_factory) -> tuple[object, list]:
    out = tmp_path_factory.mktemp("history") / "output"
    params = demo_params(output_dir=str(out), max_workers=4)
    return params, write_demo_history(params, 5, END, progress=False)


def kinds(frame: pd.DataFrame) -> dict[tuple[str, str], str]:
    return {(r.bucket, r.check_id): r.kind for r in frame.itertuples(index=False)}


def test_a_drift_is_off_inside_its_spans_only() -> None:
    drift = Drift("b", "versioning", ((0.0, 0.25), (0.5, 1.0)))
    assert [drift.off(d, 5) for d in range(5)] == [True, False, True, True, False]
    assert Drift("b", "absent", ((0.0, 1.0),)).off(0, 1)  # one day: no division by zero


def test_past_runs_are_dated_daily_and_named_like_run_ids(past) -> None:
    params, folders = past
    assert [f.name for f in folders] == [f"2026010{d}T060000Z" for d in (1, 2, 3, 4)]
    table = history.runs(params.output_dir)
    assert list(table["run_date"]) == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]


def test_each_day_shows_the_changes_of_the_plan(past) -> None:
    params, folders = past
    out = params.output_dir
    day = [f.name for f in folders]
    # day 0 -> 1 (at 0 -> 0.25): compliant-01 (versioning, off until 1/12) and 02 (lifecycle,
    # until 2/12) fixed; retired-01 (until 0.25) deleted; compliant-13..16 (off until 0.2) fixed
    first = kinds(history.changes(day[0], day[1], out))
    assert first[("demo-compliant-01", "versioning")] == "resolved"
    assert first[("demo-compliant-02", "lifecycle")] == "resolved"
    assert first[("demo-compliant-13", "versioning")] == "resolved"
    assert first[("demo-retired-01", "versioning")] == "gone"
    assert first[("demo-compliant-04", "lifecycle")] == "persisting"  # off until 4/12 > 0.25
    # day 1 -> 2 (0.25 -> 0.5): compliant-13 broken again (0.5 to 0.63): regressed, not new;
    # versioning-suspended-01 has versioning on (0.3 to 0.6): resolved; suspended-05 appears
    second = kinds(history.changes(day[1], day[2], out))
    assert second[("demo-compliant-13", "versioning")] == "regressed"
    assert second[("demo-versioning-suspended-01", "versioning")] == "resolved"
    assert second[("demo-versioning-suspended-05", "versioning")] == "new"
    # day 2 -> 3 (0.5 -> 0.75): suspended-01 back to Suspended: regressed; compliant-13 fixed
    third = kinds(history.changes(day[2], day[3], out))
    assert third[("demo-versioning-suspended-01", "versioning")] == "regressed"
    assert third[("demo-compliant-13", "versioning")] == "resolved"


def test_the_report_day_is_the_demo_fleet_itself(past, capsys) -> None:
    """The last span of each kind ends at 1.0: the report's day shows their changes."""
    params, folders = past
    result = run_demo(replace(params, run_date=END.isoformat()), progress=False)
    got = kinds(history.changes(current=result, output_dir=params.output_dir))
    assert got[("demo-compliant-12", "lifecycle")] == "resolved"
    assert got[("demo-versioning-suspended-08", "versioning")] == "new"
    # suspended-02 has versioning on from 0.8: no past day of five falls there (30 days do)
    assert got[("demo-versioning-suspended-02", "versioning")] == "persisting"
    assert got[("demo-retired-04", "versioning")] == "gone"
    # the report's section says the same, counts first: on day 3 (0.75) compliant-10..12 were
    # still off (10/12 > 0.75) and suspended-07 (0.8), 08 (1.0) absent; retired-04 has 5 checks
    shown = runner.show_changes(result, replace(params, run_date=END.isoformat()))
    assert kinds(shown) == got
    said = capsys.readouterr().out
    told = "2 new, 0 regressed, 0 exception-expired, 3 resolved, 0 accepted, 0 error, 5 gone"
    assert f"Since run {folders[-1].name}: {told}" in said
    # the trend counts the scan in memory as its last day, next to the four past ones
    trend = history.trend(params.output_dir, current=result)
    assert sorted(set(trend["run_date"]))[-1] == END.isoformat()
    assert trend["run_date"].nunique() == 5
    figures: dict = {}
    figure = runner.trend_step(figures, result, params, END.isoformat())
    assert figures == {"trend": figure}
    lines = charts.trend_lines(trend)
    assert list(lines.columns) == sorted(lines.columns) and len(lines) == 5
    assert lines.index.is_monotonic_increasing


def test_rerunning_keeps_the_days_already_written(past) -> None:
    params, folders = past
    stamps = [(f / "run.json").stat().st_mtime_ns for f in folders]
    assert write_demo_history(params, 5, END, progress=False) == folders
    assert [(f / "run.json").stat().st_mtime_ns for f in folders] == stamps
    assert write_demo_history(params, 1, END) == []  # one day: only the report


def test_history_days_out_of_range(tmp_path, capsys) -> None:
    params = demo_params(output_dir=str(tmp_path))
    with pytest.raises(ValueError, match=f"1 to {MAX_DAYS} days, not 0"):
        write_demo_history(params, 0, END)
    assert main(["demo", "--history", "0", "--output-dir", str(tmp_path)]) == EXIT_USAGE
    assert "--history takes 1 to 366 days, not 0" in capsys.readouterr().err
    assert main(["demo", "--history", "3", "--org", "--output-dir", str(tmp_path)]) == EXIT_USAGE
    assert "--history is for the demo account" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_report_sections_on_a_first_run(tmp_path, capsys) -> None:
    params = demo_params(output_dir=str(tmp_path / "empty"), include=["demo-compliant-0*"])
    result = run_demo(params, progress=False)
    changed = runner.show_changes(result, params)
    assert changed.empty
    figures: dict = {}
    assert runner.trend_step(figures, result, params, "2026-01-05") is None and figures == {}
    out = capsys.readouterr().out
    assert "first run: no history yet" in out
    assert "the trend appears from the second run date" in out


def test_demo_history_writes_the_past_then_hands_the_report_its_day(tmp_path, capsys) -> None:
    """`s3compliance demo --history 3`: the past runs first, then the report runs as the third
    day, with the same run date and the output folder made absolute for the kernel."""
    from s3compliance.cli import _demo_history

    params = demo_params(output_dir=str(tmp_path / "out"), run_date="2026-03-03", max_workers=4)
    got = _demo_history(params, 3)
    assert got.run_date == "2026-03-03" and got.output_dir == str((tmp_path / "out").resolve())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".chain.json",  # the chain's head (docs/tasks/evidence.md): the past runs are chained too
        "20260301T060000Z",
        "20260302T060000Z",
        "latest",
        "latest-state",  # the newest run of either kind (docs/tasks/history.md)
    ]
    previous = json.loads((tmp_path / "out" / "20260302T060000Z" / "manifest.json").read_text())
    assert previous["previous"]["run_id"] == "20260301T060000Z"
    assert "History: 2 past daily runs in" in capsys.readouterr().out
