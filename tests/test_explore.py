"""Exploring a run: loading it back (validated), filtering, one bucket's drill-down, widgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    public_fail = explore.filter_findings(f, check="public_access", status="FAIL")
    assert len(public_fail) == 23 and set(public_fail["status"]) == {"FAIL"}
    one = explore.filter_findings(f, check="public_access", bucket="PUBLIC-BARE-01")
    assert one["bucket"].tolist() == ["demo-public-bare-01"]
    critical = explore.filter_findings(f, severity="critical", status="ERROR")
    assert set(critical["check_id"]) == {"public_access"} and len(critical) == 2
    assert len(explore.filter_findings(f, account="123456789012")) == len(f)
    assert len(explore.filter_findings(f)) == len(f)
    assert "evidence" not in explore.filter_findings(f).columns


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


def test_summary_counts_per_check(data: explore.Run) -> None:
    table = explore.summary(data)
    assert table.loc["public_access"].tolist() == [113, 23, 2]
    assert list(table.columns) == ["PASS", "FAIL", "ERROR"]
    passing_only = explore.Run(
        data.folder, data.report, data.findings[data.findings.status == "PASS"]
    )
    assert explore.summary(passing_only)["ERROR"].sum() == 0


def test_the_explorer_widgets_filter_and_drill_down(data: explore.Run, capsys) -> None:
    box = explore.explorer(data)
    (check, severity, status), (account, accepted, name) = (h.children for h in box.children[:2])
    picked = box.children[3]
    assert check.options[0] == explore.ANY and "public_access" in check.options
    check.value = "public_access"
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
