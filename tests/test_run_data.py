"""Every run kept as data: stable finding ids, Parquet copies and run.json in each run folder."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from s3compliance.outputs.report import parameters_hash, write_report
from s3compliance.params import Params
from s3compliance.scan.run import run_scan
from s3compliance.scan.scanner import finding_id
from s3compliance.testing.demo import DEMO_ACCOUNT, demo_params, run_demo

NO_SLEEP = {"sleep": lambda _s: None}


def expected_id(partition: str, account: str, bucket: str, check: str) -> str:
    """Written from the contract: 16 hex digits of SHA-256 over the four parts, unit-separated."""
    return hashlib.sha256(f"{partition}\x1f{account}\x1f{bucket}\x1f{check}".encode()).hexdigest()[
        :16
    ]


def test_finding_id_is_the_documented_hash_and_separates_every_part() -> None:
    assert finding_id("aws", "111122223333", "b", "versioning") == expected_id(
        "aws", "111122223333", "b", "versioning"
    )
    ids = {
        finding_id(*parts)
        for parts in [
            ("aws", "111122223333", "b", "versioning"),
            ("aws-cn", "111122223333", "b", "versioning"),
            ("aws", "444455556666", "b", "versioning"),
            ("aws", "111122223333", "c", "versioning"),
            ("aws", "111122223333", "b", "encryption"),
            ("aws", "11112222333", "3b", "versioning"),  # no ambiguity across the separator
        ]
    }
    assert len(ids) == 6


def test_ids_are_stable_across_runs_and_unique_within_one(account, params) -> None:
    account.bucket("keep-a", versioning="Enabled")
    account.bucket("keep-b")
    first = run_scan(params, clients=account.clients(), **NO_SLEEP)
    account.s3.put_bucket_versioning(Bucket="keep-b", VersioningConfiguration={"Status": "Enabled"})
    second = run_scan(params, clients=account.clients(), **NO_SLEEP)
    assert first.findings["finding_id"].is_unique
    by_key = lambda r: dict(  # noqa: E731
        zip(
            zip(r.findings["bucket"], r.findings["check_id"], strict=True),
            r.findings["finding_id"],
            strict=True,
        )
    )
    assert by_key(first) == by_key(second)  # a status changed, the identity did not
    assert by_key(first)[("keep-b", "versioning")] == expected_id(
        "aws", DEMO_ACCOUNT, "keep-b", "versioning"
    )


def test_account_level_findings_have_ids_of_their_own() -> None:
    result = run_demo(demo_params(profile="fsbp", include=["demo-compliant-01"]), progress=False)
    ids = set(result.account_findings["finding_id"])
    assert ids == {
        expected_id("aws", DEMO_ACCOUNT, "", check) for check in result.account_findings["check_id"]
    }
    assert not ids & set(result.findings["finding_id"])


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> tuple[Path, object]:
    result = run_demo(demo_params(include=["demo-compliant-0*", "demo-public-*"]), progress=False)
    folder = write_report(
        result, tmp_path_factory.mktemp("out"), "day-1", generated_at="2026-11-29T06:15:00Z"
    )
    return folder, result


def test_findings_parquet_holds_every_finding_with_the_json_evidence(run_folder) -> None:
    folder, result = run_folder
    table = pq.read_table(folder / "findings.parquet")
    report = json.loads((folder / "findings.json").read_text())
    entries = {f["finding_id"]: f for b in report["buckets"] for f in b["findings"]}
    rows = table.to_pylist()
    assert len(rows) == len(result.findings) + len(result.account_findings) == len(entries)
    for row in rows:
        entry = entries[row["finding_id"]]
        assert (row["check_id"], row["status"], row["reason"]) == (
            entry["check_id"],
            entry["status"],
            entry["reason"],
        )
        assert json.loads(row["evidence"]) == entry["evidence"]
        assert isinstance(row["frameworks"], list)
    assert str(table.schema.field("evidence").type) in {"string", "large_string"}  # JSON text


def test_buckets_parquet_and_run_json(run_folder) -> None:
    folder, result = run_folder
    buckets = pq.read_table(folder / "buckets.parquet").to_pandas()
    assert list(buckets["bucket"]) == list(result.buckets["bucket"])
    assert set(buckets["status"]) <= {"compliant", "non_compliant", "unknown"}
    assert str(buckets["created"].dt.tz) == "UTC"
    meta = json.loads((folder / "run.json").read_text())
    assert meta["run_id"] == "day-1" and meta["finished_at"] == "2026-11-29T06:15:00Z"
    assert meta["run_date"] == "2026-11-29"  # no run_date parameter: the day it finished
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["started_at"])
    assert meta["account_ids"] == [DEMO_ACCOUNT] == [meta["scanning_account_id"]]
    assert meta["failed_account_ids"] == []
    assert meta["check_ids"] == [
        "versioning",
        "encryption",
        "lifecycle",
        "public_access",
        "cloudwatch_metrics",
    ]
    assert meta["profile"] == "mission" and meta["regions"] == ["us-east-1"]
    assert meta["schema_version"] == "1.0" and len(meta["parameters_hash"]) == 16


def test_parameters_hash_follows_what_changes_findings_only() -> None:
    base = Params()
    same = replace(base, run_id="x", output_dir="/elsewhere", run_date="2026-01-01", max_workers=3)
    assert parameters_hash(base.to_dict()) == parameters_hash(same.to_dict())
    for changed in (
        replace(base, lifecycle_max_age_days=30),
        replace(base, profile="all"),
        replace(base, regions=["eu-west-1"]),
        replace(base, accounts="organization"),
    ):
        assert parameters_hash(changed.to_dict()) != parameters_hash(base.to_dict())


def test_a_failed_write_leaves_no_parquet_behind(tmp_path) -> None:
    result = run_demo(demo_params(include=["demo-compliant-01"]), progress=False)

    def boom(_folder: Path) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_report(result, tmp_path, "broken", extra_writers=[boom])
    assert [p.name for p in tmp_path.iterdir()] == []  # no run folder, no staging, no temp file


def test_a_binary_writer_that_fails_leaves_the_old_file_and_no_temp(tmp_path) -> None:
    from s3compliance.outputs.runfolder import atomic_write_with

    target = tmp_path / "findings.parquet"
    target.write_bytes(b"old")

    def fails(path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_with(target, fails)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["findings.parquet"]
