"""The command line: exit codes, one-line errors, artefacts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from conftest import minimal_report

from s3compliance.checks.extended import BPA_FLAGS
from s3compliance.cli import EXIT_FAILURE, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, main
from s3compliance.scan.aws import Clients

ROOT = Path(__file__).resolve().parent.parent


def params_file(tmp_path: Path, text: str = "") -> str:
    path = tmp_path / "scan.yaml"
    path.write_text(f"output_dir: {tmp_path / 'out'}\nmax_workers: 4\nretry_attempts: 1\n{text}")
    return str(path)


def compliant(session: boto3.Session, endpoint: str, name: str) -> None:
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [{"ID": "e", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 7}}]
        },
    )


def test_scan_against_a_moto_server(moto_server, server_session, tmp_path, capsys) -> None:
    """As a LocalStack user would run it: --endpoint-url, real HTTP on 127.0.0.1."""
    compliant(server_session, moto_server, "server-bucket")
    code = main(
        [
            "scan",
            "--params",
            params_file(tmp_path),
            "--endpoint-url",
            moto_server,
            "--run-id",
            "srv",
        ]
    )
    out = capsys.readouterr().out
    # moto's server has no metrics API, so cloudwatch_metrics cannot pass there: exit 3.
    assert code == EXIT_FINDINGS
    assert "Buckets: 1 total, 0 compliant, 1 non-compliant" in out
    report = json.loads((tmp_path / "out" / "srv" / "findings.json").read_text())
    assert report["non_compliant_buckets"][0]["violations"] == ["CloudWatch metrics not configured"]
    assert f"Report: {tmp_path / 'out' / 'srv' / 'findings.json'}" in out


def test_all_compliant_exits_zero(moto_server, server_session, tmp_path, capsys) -> None:
    compliant(server_session, moto_server, "fine-bucket")
    path = params_file(tmp_path, "checks: [versioning, encryption, lifecycle, public_access]\n")
    code = main(["scan", "--params", path, "--endpoint-url", moto_server])
    assert code == EXIT_OK, capsys.readouterr()


@pytest.mark.parametrize(
    ("public_access_block", "expected"),
    [(None, EXIT_FINDINGS), (dict.fromkeys(BPA_FLAGS, True), EXIT_OK)],
)
def test_an_account_level_profile_scans_and_its_fail_sets_the_exit_code(
    moto_server, server_session, tmp_path, capsys, public_access_block, expected
) -> None:
    """Issue 10, 7: `checks: [account_block_public_access]` crashed in build_report; and an
    account-level FAIL must exit 3 like a bucket's."""
    compliant(server_session, moto_server, "any-bucket")
    if public_access_block:
        Clients(server_session, moto_server).s3control().put_public_access_block(
            AccountId="123456789012", PublicAccessBlockConfiguration=public_access_block
        )
    path = params_file(tmp_path, "checks: [account_block_public_access]\n")
    code = main(["scan", "--params", path, "--endpoint-url", moto_server, "--run-id", "acct"])
    assert code == expected, capsys.readouterr()
    report = json.loads((tmp_path / "out" / "acct" / "findings.json").read_text())
    assert report["buckets"][0]["findings"] == []
    assert report["summary"]["compliant_buckets"] == 1
    status = "PASS" if expected == EXIT_OK else "FAIL"
    assert [f["status"] for f in report["account_findings"]] == [status]


def test_a_scan_that_finds_no_bucket_prints_no_check_table(
    moto_server, server_session, tmp_path, capsys
) -> None:
    """Nothing in scope: the counts say so, with no empty per-check table under them."""
    path = params_file(tmp_path, "include: ['no-bucket-is-named-like-this-*']\n")
    assert main(["scan", "--params", path, "--endpoint-url", moto_server]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Buckets: 0 total" in out
    assert "check_id" not in out and "PASS" not in out


def test_endpoint_from_environment(moto_server, server_session, tmp_path, monkeypatch) -> None:
    compliant(server_session, moto_server, "env-bucket")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    path = params_file(tmp_path, "checks: [versioning]\n")
    assert main(["scan", "--params", path, "--run-id", "env"]) == EXIT_OK
    report = json.loads((tmp_path / "out" / "env" / "findings.json").read_text())
    assert report["summary"]["total_buckets"] == 1


def test_bad_params_exit_2_with_one_line(tmp_path, capsys) -> None:
    path = params_file(tmp_path, "max_wrkers: 3\n")
    assert main(["scan", "--params", path]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown key 'max_wrkers'" in err and path in err
    assert not (tmp_path / "out").exists()


def test_no_credentials_exit_2(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(["scan", "--params", params_file(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("s3compliance: no usable AWS credentials") and err.count("\n") == 1


def test_unknown_profile_exit_2(tmp_path, capsys) -> None:
    path = params_file(tmp_path, "aws_profile: does-not-exist\n")
    assert main(["scan", "--params", path]) == EXIT_USAGE
    assert "does-not-exist" in capsys.readouterr().err


def test_listing_failure_exit_1(tmp_path, capsys) -> None:
    # Nothing listens on this port: ListBuckets cannot connect, after its one attempt.
    from conftest import free_port

    path = params_file(tmp_path)
    code = main(["scan", "--params", path, "--endpoint-url", f"http://127.0.0.1:{free_port()}"])
    assert code == EXIT_FAILURE
    assert "scan aborted: cannot list the account's buckets" in capsys.readouterr().err


def test_demo_writes_a_run_folder(tmp_path, capsys) -> None:
    code = main(["demo", "--output-dir", str(tmp_path), "--run-id", "demo-run", "-v"])
    assert code == EXIT_FINDINGS
    out = capsys.readouterr().out
    assert "Buckets: 138 total, 58 compliant, 78 non-compliant, 2 unknown, 8 high severity" in out
    assert (tmp_path / "demo-run" / "findings.json").exists()
    assert (tmp_path / "demo-run" / "findings.csv").exists()


def test_demo_with_explicit_params_file(tmp_path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("include: ['demo-compliant-*']\nmax_workers: 2\n")
    assert main(["demo", "--params", str(path), "--output-dir", str(tmp_path)]) == EXIT_OK


def test_console_entry_point_runs_as_a_module(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "s3compliance", "scan", "--params", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == EXIT_USAGE
    assert "Traceback" not in proc.stderr and "cannot read the params file" in proc.stderr


def test_python_dash_m_entry(monkeypatch, tmp_path, capsys) -> None:
    import runpy

    monkeypatch.setattr(sys, "argv", ["s3compliance", "scan", "--params", str(tmp_path / "x")])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("s3compliance", run_name="__main__")
    assert exit_.value.code == EXIT_USAGE
    assert "cannot read the params file" in capsys.readouterr().err


def test_version_flag(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("s3compliance ")


def test_tag_against_a_moto_server_is_lossless_and_idempotent(
    moto_server, server_session, tmp_path, capsys
) -> None:
    """The issue's 'done when', as a LocalStack user would run it."""
    s3 = server_session.client("s3", endpoint_url=moto_server)
    compliant(server_session, moto_server, "tidy-bucket")
    s3.put_bucket_tagging(
        Bucket="tidy-bucket",
        Tagging={
            "TagSet": [
                {"Key": "team", "Value": "ünïcødé ✓"},
                {"Key": "aws-cdk:owner", "Value": "x"},
            ]
        },
    )
    s3.create_bucket(Bucket="messy-bucket")
    s3.create_bucket(Bucket="dark-bucket")
    path = params_file(tmp_path, "checks: [versioning, encryption, lifecycle, public_access]\n")
    main(["scan", "--params", path, "--endpoint-url", moto_server, "--run-id", "t"])
    findings = tmp_path / "out" / "t" / "findings.json"
    # make one bucket unknown in the report: its status must leave it untouched
    report = json.loads(findings.read_text())
    for bucket in report["buckets"]:
        if bucket["bucket_name"] == "dark-bucket":
            bucket["status"] = "unknown"
    findings.write_text(json.dumps(report))
    capsys.readouterr()

    assert main(["tag", "--findings", str(findings), "--endpoint-url", moto_server]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Plan: 2 add, 1 skip-unknown" in out and "Dry run: nothing written" in out
    assert "TagSet" not in str(s3.list_buckets())  # sanity: nothing else changed
    code = main(["tag", "--findings", str(findings), "--endpoint-url", moto_server, "--apply"])
    assert code == EXIT_OK
    assert "Applied: 2 bucket(s) tagged, 2 PutBucketTagging call(s)" in capsys.readouterr().out
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="tidy-bucket")["TagSet"]}
    assert tags == {"team": "ünïcødé ✓", "aws-cdk:owner": "x", "compliance-status": "passed"}
    messy = s3.get_bucket_tagging(Bucket="messy-bucket")["TagSet"]
    assert messy == [{"Key": "compliance-status", "Value": "failed"}]
    with pytest.raises(Exception, match="NoSuchTagSet"):
        s3.get_bucket_tagging(Bucket="dark-bucket")
    code = main(["tag", "--findings", str(findings), "--endpoint-url", moto_server, "--apply"])
    out = capsys.readouterr().out
    assert code == EXIT_OK and "Plan (applying): 2 none, 1 skip-unknown" in out
    assert "Applied: 0 bucket(s) tagged, 0 PutBucketTagging call(s)" in out


def test_tag_demo_shows_the_applied_plan_and_a_quiet_second_run(capsys) -> None:
    assert main(["tag", "--demo"]) == EXIT_FINDINGS  # some buckets need a person
    out = capsys.readouterr().out
    assert "Plan: 125 add, 5 error-system-tags, 6 error-tag-limit, 2 skip-unknown" in out
    assert "Applied: 125 bucket(s) tagged, 125 writes" in out
    assert "Second run: 0 changes, 0 writes" in out


def test_tag_without_credentials_exits_2(tmp_path, capsys, monkeypatch) -> None:
    findings = tmp_path / "f.json"
    bucket = {"bucket_name": "b-one", "region": "us-east-1", "status": "compliant", "findings": []}
    findings.write_text(json.dumps(minimal_report(bucket)))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(["tag", "--findings", str(findings)]) == EXIT_USAGE
    assert "no usable AWS credentials" in capsys.readouterr().err


def test_tag_bad_inputs(tmp_path, capsys) -> None:
    assert main(["tag", "--findings", str(tmp_path / "none.json")]) == EXIT_USAGE
    assert "cannot read the findings" in capsys.readouterr().err
    assert main(["tag", "--demo", "--tag-key", "aws:mine"]) == EXIT_USAGE
    assert "key 'tag_key'" in capsys.readouterr().err


def test_tag_exit_codes_for_failed_writes(moto_server, server_session, tmp_path, capsys) -> None:
    import pandas as pd

    from s3compliance.cli import _tag_exit

    failed = pd.DataFrame({"bucket": ["b"], "action": ["add"], "error_code": ["AccessDenied"]})
    assert _tag_exit(failed) == EXIT_FAILURE
    assert "AccessDenied" in capsys.readouterr().err
    limited = pd.DataFrame({"bucket": ["b"], "action": ["error-tag-limit"], "error_code": [""]})
    assert _tag_exit(limited) == EXIT_FINDINGS


def test_unwritable_output_dir_is_one_line(tmp_path, capsys) -> None:
    locked = tmp_path / "locked"
    locked.write_text("a file where the output folder should be")
    path = tmp_path / "d.yaml"
    path.write_text("include: ['demo-dsse-*']\nmax_workers: 2\n")
    from s3compliance.outputs.report import write_report
    from s3compliance.testing.demo import demo_params, run_demo

    result = run_demo(demo_params(path), progress=False)
    with pytest.raises(OSError):
        write_report(result, locked / "out")
    code = main(["demo", "--params", str(path), "--output-dir", str(locked / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_FAILURE and err.startswith("s3compliance: ") and "Traceback" not in err


def test_an_unexpected_error_is_not_disguised_as_an_expected_one(monkeypatch) -> None:
    """Only the errors of EXPECTED_ERRORS become one line; a bug keeps its traceback (exit 1
    through the interpreter), so it is never mistaken for bad parameters."""
    from s3compliance import cli

    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "iam-policy", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["iam-policy"])
    assert cli.expected_error(KeyError("x")) is None
    assert cli.expected_error(PermissionError("ro")) == ("cannot write the output", EXIT_FAILURE)
