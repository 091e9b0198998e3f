"""The command line: exit codes, one-line errors, artefacts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from s3compliance.cli import EXIT_FAILURE, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, main

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
    assert "Buckets: 124 total, 55 compliant, 67 non-compliant, 2 unknown, 8 high severity" in out
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
