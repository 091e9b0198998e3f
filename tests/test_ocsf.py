"""Findings in OCSF (issue 22): every run writes them, and `export` converts a findings file.

Expectations come from the issue and the OCSF 1.5 schema as py-ocsf-models publishes it:
Compliance Finding class_uid 2003 in category 2 (Findings), activity Create (1), type_uid
200301; compliance status Pass 1 / Fail 3 / Unknown 0; finding status New 1 / Suppressed 3 /
Resolved 4 / Other 99; severity Critical 5 / High 4 / Medium 3 / Low 2 / Informational 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s3compliance.checks import CATALOGUE
from s3compliance.cli import EXIT_OK, EXIT_USAGE, main
from s3compliance.outputs.ocsf import CloudComplianceFinding, ocsf_findings
from s3compliance.outputs.report import build_report, write_report
from s3compliance.testing.demo import demo_params, run_demo

ROOT = Path(__file__).resolve().parent.parent
GENERATED = "2026-12-01T06:00:00Z"
EPOCH_MS = 1796104800000  # 2026-12-01T06:00:00Z


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo account, every check (account-level ones too), with the example exceptions:
    PASS, FAIL, ERROR and accepted findings in one run folder."""
    params = demo_params(
        ROOT / "params" / "exceptions-demo.yaml",
        profile="all",
        output_dir=str(tmp_path_factory.mktemp("ocsf")),
    )
    result = run_demo(params, progress=False)
    folder = write_report(result, run_id="run", generated_at=GENERATED)
    return result, folder


def test_every_finding_is_a_compliance_finding_with_every_field(demo_run) -> None:
    result, folder = demo_run
    records = json.loads((folder / "findings.ocsf.json").read_text())
    every = result.all_findings()
    assert [r["finding_info"]["uid"] for r in records] == list(every["finding_id"])
    by_uid = {r["finding_info"]["uid"]: r for r in records}
    seen = set()
    for row in every.itertuples(index=False):
        record = by_uid[row.finding_id]
        parsed = CloudComplianceFinding.model_validate(record)  # parses back, cloud included
        assert parsed.cloud is not None and parsed.cloud.provider == "AWS"
        assert parsed.cloud.account.uid == row.account_id
        assert (record["class_uid"], record["category_uid"]) == (2003, 2)
        assert (record["activity_id"], record["type_uid"]) == (1, 200301)
        assert record["time"] == EPOCH_MS
        assert record["metadata"]["product"] == {
            "name": "s3compliance",
            "vendor_name": "s3compliance",
            "version": "0.1.0",
        }
        assert "cloud" in record["metadata"]["profiles"]
        assert record["finding_info"]["title"] == CATALOGUE[row.check_id].title
        assert record["finding_info"]["desc"] == row.reason
        assert record["remediation"]["desc"] == CATALOGUE[row.check_id].remediation
        compliance = record["compliance"]
        assert compliance["checks"][0]["uid"] == row.check_id
        assert compliance["requirements"] == list(row.frameworks)
        severity = {"critical": 5, "high": 4, "medium": 3, "low": 2}[row.severity]
        assert record["severity_id"] == severity
        accepted = row.status == "FAIL" and bool(row.exception_id)
        expected = {
            "PASS": (1, 4),
            "FAIL": (3, 3 if accepted else 1),
            "ERROR": (0, 99),
        }[row.status]
        assert (compliance["status_id"], record["status_id"]) == expected, row.finding_id
        if row.status == "ERROR":
            assert compliance["status_detail"] == row.error_code and record["status"] == "Error"
        if accepted:
            assert record["status"] == "Suppressed"
            assert record["unmapped"] == {
                "exception_id": row.exception_id,
                "exception_expires": row.exception_expires,
            }
        resource = record["resources"][0]
        if row.bucket:
            assert resource["uid"] == row.bucket_arn and resource["type"] == "AwsS3Bucket"
            assert resource["region"] == row.region == record["cloud"]["region"]
            assert resource["cloud_partition"] == "aws"
            assert resource["data"]["evidence"] == json.loads(json.dumps(row.evidence))
        else:
            assert resource["uid"] == row.account_id and resource["type"] == "AwsAccount"
        assert resource["owner"]["account"]["uid"] == row.account_id
        seen.add((row.status, accepted, bool(row.bucket)))
    # every kind of finding was there to be checked
    assert {("PASS", False, True), ("FAIL", False, True), ("FAIL", True, True)} <= seen
    assert ("ERROR", False, True) in seen and any(not bucket for *_, bucket in seen)


def test_standards_name_the_frameworks_of_the_requirements(demo_run) -> None:
    _, folder = demo_run
    records = json.loads((folder / "findings.ocsf.json").read_text())
    mfa = next(r for r in records if r["compliance"]["checks"][0]["uid"] == "mfa_delete")
    assert mfa["compliance"]["requirements"] == ["AWS-FSBP S3.20", "CIS 2.1.2"]
    assert mfa["compliance"]["standards"] == [
        "AWS Foundational Security Best Practices (Security Hub)",
        "CIS Amazon Web Services Foundations Benchmark (S3 section)",
    ]


def test_pydantic_would_drop_cloud_without_the_extended_model(demo_run) -> None:
    """Why the subclass exists: the published model has no `cloud` and drops it silently."""
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

    _, folder = demo_run
    record = json.loads((folder / "findings.ocsf.json").read_text())[0]
    plain = ComplianceFinding.model_validate(record).model_dump(mode="json", exclude_none=True)
    assert "cloud" not in plain
    extended = CloudComplianceFinding.model_validate(record).model_dump(
        mode="json", exclude_none=True
    )
    assert extended["cloud"] == record["cloud"]


def test_export_prints_the_run_folders_array(demo_run, capsys, tmp_path) -> None:
    _, folder = demo_run
    findings = folder / "findings.json"
    assert main(["export", "--findings", str(findings), "--format", "ocsf"]) == EXIT_OK
    assert capsys.readouterr().out == (folder / "findings.ocsf.json").read_text()
    out = tmp_path / "sub" / "findings.ocsf.json"
    args = ["export", "--findings", str(findings), "--format", "ocsf", "--output", str(out)]
    assert main(args) == EXIT_OK
    assert out.read_text() == (folder / "findings.ocsf.json").read_text()
    count = len(json.loads(out.read_text()))
    assert f"{out}: {count} OCSF Compliance Finding(s)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{", "not JSON"),
        ('{"schema_version": "1.0"}', "not a findings report"),
        (None, "No such file"),
    ],
    ids=["truncated", "crafted", "missing"],
)
def test_export_refuses_a_bad_findings_file_in_one_line(tmp_path, capsys, content, said) -> None:
    path = tmp_path / "findings.json"
    if content is not None:
        path.write_text(content)
    assert main(["export", "--findings", str(path), "--format", "ocsf"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == "" and said in captured.err and captured.err.count("\n") == 1


def test_export_asff_gives_every_finding_as_security_hub_would_take_it(demo_run, capsys) -> None:
    from s3compliance.outputs.asff import validate_asff

    result, folder = demo_run
    args = ["export", "--findings", str(folder / "findings.json"), "--format", "asff"]
    assert main(args) == EXIT_OK
    findings = json.loads(capsys.readouterr().out)
    for finding in findings:
        validate_asff(finding)
    ids = [f["ProductFields"]["s3compliance/finding_id"] for f in findings]
    assert ids == list(result.all_findings()["finding_id"])
    assert {f["UpdatedAt"] for f in findings} == {GENERATED}


def test_a_report_of_an_older_version_gets_the_same_ids() -> None:
    """A findings file written before finding_id existed: the ids are computed the scan's way,
    so a pipeline sees the same finding across old and new files."""
    result = run_demo(demo_params(include=["demo-compliant-0[12]"]), progress=False)
    report = build_report(result, GENERATED)
    expected = [r["finding_info"]["uid"] for r in ocsf_findings(report)]
    for bucket in report["buckets"]:
        for finding in bucket["findings"]:
            del finding["finding_id"]
    assert [r["finding_info"]["uid"] for r in ocsf_findings(report)] == expected
    assert expected == list(result.findings["finding_id"])
