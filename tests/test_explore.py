"""Exploring a run: loading it back (validated), filtering, one bucket's drill-down, widgets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from s3compliance.checks.registry import SEVERITIES
from s3compliance.outputs import explore
from s3compliance.outputs.contract import ReportInvalid
from s3compliance.outputs.report import write_report
from s3compliance.testing.demo import demo_params, run_demo


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run_demo(demo_params(profile="fsbp", max_workers=8), progress=False)
    project = tmp_path_factory.mktemp("explore")
    return write_report(result, output_dir=project / "output", run_id="r")


@pytest.fixture(scope="module")
def data(run_folder: Path) -> explore.Run:
    return explore.load_run(run_folder)


def test_load_run_holds_every_finding_of_the_report(data: explore.Run, run_folder: Path) -> None:
    report = json.loads((run_folder / "findings.json").read_text())
    bucket_findings = sum(len(b["findings"]) for b in report["buckets"])
    assert len(data.findings) == bucket_findings + len(report["account_findings"]) == 138 * 11 + 1
    account_rows = data.findings[data.findings["bucket"] == ""]
    assert account_rows["check_id"].tolist() == ["account_block_public_access"]
    assert set(data.findings["account_id"]) == {"123456789012"}
    assert data.bucket_names()[0] == "demo-compliant-01"


def test_load_run_refuses_a_file_that_breaks_the_contract(tmp_path: Path) -> None:
    (tmp_path / "findings.json").write_text('{"buckets": []}')
    with pytest.raises(ReportInvalid, match="not a findings report"):
        explore.load_run(tmp_path)


def test_filters_combine(data: explore.Run) -> None:
    f = data.findings
    public_fail = explore.filter_findings(data, check="public_access", status="FAIL")
    assert len(public_fail) == 23 and set(public_fail["status"]) == {"FAIL"}
    assert explore.count_findings(data, check="public_access", status="FAIL") == 23
    one = explore.filter_findings(data, check="public_access", bucket="PUBLIC-BARE-01")
    assert one["bucket"].tolist() == ["demo-public-bare-01"]
    critical = explore.filter_findings(data, severity="critical", status="ERROR")
    assert set(critical["check_id"]) == {"public_access"} and len(critical) == 2
    assert len(explore.filter_findings(data, account="123456789012")) == len(f)
    assert len(explore.filter_findings(data)) == explore.count_findings(data) == len(f)
    assert "evidence" not in explore.filter_findings(data).columns
    # a bucket filter is a substring, never a pattern: LIKE's wildcards match nothing here
    assert explore.count_findings(data, bucket="%") == explore.count_findings(data, bucket="_") == 0


def test_pages_are_worst_first_and_add_up_to_the_whole(data: explore.Run) -> None:
    """Worst first (FAIL, ERROR, PASS; then severity, critical first), pages of 100 rows that
    together are every finding once; a column order sorts by that column."""
    pages = []
    offset = 0
    while page := len(pages[-1]) if pages else 1:
        pages.append(explore.filter_findings(data, offset=offset, limit=100))
        offset += 100
        if len(pages[-1]) < 100:
            break
    assert page
    every = pd.concat(pages, ignore_index=True)
    assert len(every) == len(data.findings) == explore.count_findings(data)
    assert not every.duplicated(["account_id", "bucket", "check_id"]).any()
    status_rank = every["status"].map({"FAIL": 0, "ERROR": 1, "PASS": 2})
    assert status_rank.is_monotonic_increasing
    severity_rank = every["severity"].map(SEVERITIES.index)
    for _, group in every.groupby(status_rank):
        assert group["severity"].map(SEVERITIES.index).is_monotonic_increasing
    assert severity_rank.iloc[0] == 0 and every["status"].iloc[0] == "FAIL"  # critical FAIL first
    by_bucket = explore.filter_findings(data, order="bucket", limit=50)
    assert by_bucket["bucket"].tolist() == sorted(data.findings["bucket"])[:50]
    with pytest.raises(ValueError, match="cannot sort by"):
        explore.filter_findings(data, order="evidence; DROP TABLE findings")


def test_page_label() -> None:
    assert explore.page_label(500, 500, 12345) == "findings 501 to 1,000 of 12,345"
    assert explore.page_label(0, 0, 0) == "no finding matches"


def test_a_bucket_drill_down_lists_every_check_with_its_remediation(data: explore.Run) -> None:
    checks = explore.bucket_checks(data, "demo-public-bare-01")
    assert len(checks) == 11
    row = checks.set_index("check_id").loc["versioning"]
    assert row["status"] == "FAIL" and "put-bucket-versioning" in row["remediation"].lower()


def test_evidence_is_escaped_and_public_statements_are_highlighted(data: explore.Run) -> None:
    page = explore.evidence_html(data, "demo-public-referer-markup-01")
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>public: statement &#x27;RefererOnly&#x27;</b>" in page
    pinned = explore.evidence_html(data, "demo-vpce-pinned-01")
    assert '<div class="s3c-public">' not in pinned and "FromOurVpcEndpoint" in pinned
    lone = explore._policy_html({"Statement": {"Effect": "Allow", "Principal": "*"}}, {"#0"})
    assert lone.startswith('<div class="s3c-public"><b>public: statement #0</b>')
    # the evaluator skips a non-statement element: the labels must skip it too
    junk_first = {"Statement": ["junk", {"Effect": "Allow", "Principal": "*"}]}
    shown = explore._policy_html(junk_first, {"#0"})
    assert shown.startswith('<pre>&quot;junk&quot;</pre><div class="s3c-public">')


def test_default_run_is_the_projects_latest(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (tmp_path / "output").mkdir()
    (tmp_path / "notebooks").mkdir()
    assert explore.default_run(tmp_path / "notebooks") == tmp_path / "output" / "latest"
    lonely = tmp_path_factory.mktemp("no-project")  # no output/ in it or above it
    assert explore.default_run(lonely) == lonely / "output" / "latest"


def test_summary_counts_per_check(data: explore.Run, run_folder: Path) -> None:
    table = explore.summary(data)
    assert table.loc["public_access"].tolist() == [113, 23, 2]
    assert list(table.columns) == ["PASS", "FAIL", "ERROR"]
    findings = pd.read_parquet(run_folder / "findings.parquet")
    passing = explore.Run(
        data.folder,
        findings[findings["status"] == "PASS"],
        pd.read_parquet(run_folder / "buckets.parquet"),
    )
    assert explore.summary(passing)["ERROR"].sum() == 0


def test_the_explorer_widgets_filter_and_drill_down(data: explore.Run, capsys) -> None:
    box = explore.explorer(data, page_size=400)
    rows = [h.children for h in box.children[:3]]
    (check, severity, status), (account, accepted, name), (order, back, forward, where) = rows
    picked = box.children[4]
    assert check.options[0] == explore.ANY and "public_access" in check.options
    total = len(data.findings)
    assert where.value == f"findings 1 to 400 of {total:,}" and back.disabled
    forward.click()
    assert where.value == f"findings 401 to 800 of {total:,}" and not back.disabled
    check.value = "public_access"  # a new filter starts at its first page
    assert where.value == "findings 1 to 138 of 138" and back.disabled and forward.disabled
    order.value = "bucket"
    status.value = "FAIL"
    name.value = "bare"
    picked.value = "demo-public-bare-01"
    picked.value = ""
    assert severity.value == account.value == accepted.value == explore.ANY
    out = capsys.readouterr().out  # outside a kernel the widgets' displays fall back to text
    assert "demo-public-bare-01" in out


def test_load_run_defaults_to_latest(run_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(run_folder.parent.parent)  # the project: output/ beside it
    assert explore.load_run().folder == run_folder.resolve()


def test_a_run_written_before_parquet_is_read_from_its_report(
    run_folder: Path, data: explore.Run, tmp_path: Path
) -> None:
    old = tmp_path / "old-run"
    shutil.copytree(run_folder, old)
    (old / "findings.parquet").unlink()
    (old / "buckets.parquet").unlink()
    back = explore.load_run(old)
    assert explore.count_findings(back) == explore.count_findings(data)
    assert explore.summary(back).equals(explore.summary(data))
    assert back.non_compliant() == data.non_compliant()
    assert back.bucket_names() == data.bucket_names()
    assert back.report["buckets"][0]["bucket_name"] == "demo-compliant-01"
    assert explore.evidence_html(back, "demo-public-bare-01") == explore.evidence_html(
        data, "demo-public-bare-01"
    )


def test_a_corrupt_or_foreign_parquet_file_is_refused_in_one_line(
    run_folder: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad-run"
    shutil.copytree(run_folder, bad)
    (bad / "findings.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ReportInvalid, match=r"findings.parquet: not a Parquet file") as caught:
        explore.load_run(bad)
    assert "\n" not in str(caught.value)
    pd.DataFrame({"bucket": ["b"], "check_id": ["c"]}).to_parquet(bad / "findings.parquet")
    with pytest.raises(ReportInvalid, match="column 'account_id' is missing"):
        explore.load_run(bad)
    pd.DataFrame({"account_id": [1], "bucket": ["b"], "status": ["x"]}).to_parquet(
        bad / "buckets.parquet"
    )
    shutil.copy(run_folder / "findings.parquet", bad / "findings.parquet")
    with pytest.raises(ReportInvalid, match="column 'account_id' is int64, not string"):
        explore.load_run(bad)


def test_evidence_that_is_not_json_is_refused(run_folder: Path) -> None:
    findings = pd.read_parquet(run_folder / "findings.parquet")
    findings.loc[0, "evidence"] = "{not json"
    run = explore.Run(run_folder, findings, pd.read_parquet(run_folder / "buckets.parquet"))
    with pytest.raises(ReportInvalid, match="evidence is not JSON") as caught:
        explore.evidence_html(run, findings.loc[0, "bucket"])
    assert "\n" not in str(caught.value)
    with pytest.raises(ReportInvalid, match="evidence is not JSON"):
        run.findings  # noqa: B018 (the property reads every finding)
