"""Delta runs (docs/tasks/history.md): a rescan of the buckets a change touched, published like any
run, and read by history as the last full run with every later delta applied per (account,
bucket).

The expectations are built from full scans, never from the code under test: after each change
to the demo account, one output folder receives a delta run of the touched bucket and another a
full scan at the same moment; every history query must answer the same in both.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from conftest import minimal_report
from test_history_queries import A, B, fails, write_run

from s3compliance.actions import securityhub
from s3compliance.cli import EXIT_FAILURE, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, main
from s3compliance.outputs import history
from s3compliance.outputs.report import write_report
from s3compliance.scan.aws import Clients
from s3compliance.scan.delta import DeltaInvalid, DeltaRequest, Event, parse_bucket_list
from s3compliance.scan.run import run_scan
from s3compliance.testing.demo import FLEET, demo_account, demo_params

DAY = "2026-11-{:02d}"


def _compare(delta_out: Path, full_out: Path) -> None:
    """Every history answer of the folder of deltas equals that of the folder of full scans."""
    pd.testing.assert_frame_equal(history.open_findings(delta_out), history.open_findings(full_out))
    for by in ("check", "account", "severity"):
        got, want = history.trend(delta_out, by=by), history.trend(full_out, by=by)
        pd.testing.assert_frame_equal(got, want)
        assert got.attrs["checks"] == want.attrs["checks"]
    got, want = history.changes(output_dir=delta_out), history.changes(output_dir=full_out)
    pd.testing.assert_frame_equal(got, want)
    assert (got.attrs["previous"], got.attrs["current"]) == (
        want.attrs["previous"],
        want.attrs["current"],
    )
    pd.testing.assert_frame_equal(
        history.remediation_times(delta_out), history.remediation_times(full_out)
    )
    pd.testing.assert_frame_equal(
        history.posture_buckets(delta_out), history.posture_buckets(full_out)
    )


def _empty_and_delete(s3: object, bucket: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):  # type: ignore[attr-defined]
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])  # type: ignore[attr-defined]
    s3.delete_bucket(Bucket=bucket)  # type: ignore[attr-defined]


def test_deltas_answer_as_full_scans_at_the_same_moments(tmp_path: Path) -> None:
    deltas, fulls = tmp_path / "deltas", tmp_path / "fulls"
    with demo_account() as session:
        clients = Clients(session, endpoint_url=None, max_workers=8)
        s3 = session.client("s3", region_name="us-east-1")
        base = demo_params(output_dir=str(deltas), max_workers=8)

        def publish(day: int, hour: int, names: list[str] | None) -> None:
            params = replace(base, run_date=DAY.format(day))
            run_id, stamp = f"{day:02d}-{hour:02d}", f"{DAY.format(day)}T{hour:02d}:00:00Z"
            full = run_scan(params, clients=clients, progress=False)
            write_report(full, fulls, run_id, generated_at=stamp)
            if names is None:
                write_report(full, deltas, run_id, generated_at=stamp)
                return
            delta = run_scan(params, clients=clients, progress=False, delta=DeltaRequest.of(names))
            assert delta.delta is not None
            write_report(delta, deltas, run_id, generated_at=stamp)
            assert set(delta.buckets["bucket"]) <= set(names)
            _compare(deltas, fulls)

        publish(1, 6, None)  # the full run both folders start from
        fixed, broken = "demo-versioning-suspended-01", "demo-compliant-01"
        s3.put_bucket_versioning(Bucket=fixed, VersioningConfiguration={"Status": "Enabled"})
        publish(2, 9, [fixed])  # resolved
        s3.put_bucket_versioning(Bucket=broken, VersioningConfiguration={"Status": "Suspended"})
        publish(2, 15, [broken])  # new: the day's last run is this second delta
        _empty_and_delete(s3, "demo-versioning-never-01")
        publish(3, 9, ["demo-versioning-never-01"])  # gone
        s3.create_bucket(Bucket="demo-created-later-01")
        publish(4, 9, ["demo-created-later-01"])  # a bucket the full run never saw
        s3.put_bucket_versioning(Bucket=fixed, VersioningConfiguration={"Status": "Suspended"})
        publish(5, 9, [fixed, broken])  # regressed, and one that did not change
    kinds = history.changes(output_dir=deltas)
    assert set(kinds.loc[kinds["kind"] == "regressed", "bucket"]) == {fixed}
    assert list(history.runs(deltas)["kind"]) == [
        "full",
        "delta",
        "delta",
        "delta",
        "delta",
        "delta",
    ]
    # a change between two deltas, named explicitly, is the same as between the two full scans
    pd.testing.assert_frame_equal(
        history.changes("02-09", "03-09", deltas), history.changes("02-09", "03-09", fulls)
    )


@pytest.fixture(scope="module")
def demo_with_a_delta(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The demo account's buckets (138 in us-east-1) scanned in full, then a delta of three of
    them: one changed, one deleted, one unchanged."""
    out = tmp_path_factory.mktemp("delta") / "output"
    with demo_account() as session:
        clients = Clients(session, endpoint_url=None, max_workers=8)
        s3 = session.client("s3", region_name="us-east-1")
        params = demo_params(output_dir=str(out), max_workers=8, run_date="2026-11-01")
        full = run_scan(params, clients=clients, progress=False)
        write_report(full, out, "full", generated_at="2026-11-01T06:00:00Z")
        s3.put_bucket_versioning(
            Bucket="demo-versioning-suspended-02", VersioningConfiguration={"Status": "Enabled"}
        )
        _empty_and_delete(s3, "demo-versioning-never-02")
        events = (Event("evt-1", "2026-11-01T08:59:58Z"), Event("evt-2", "2026-11-01T08:59:59Z"))
        request = DeltaRequest.of(
            ["demo-versioning-suspended-02", "demo-versioning-never-02", "demo-compliant-02"],
            events,
        )
        delta = run_scan(
            replace(params, run_date="2026-11-01"), clients=clients, progress=False, delta=request
        )
        folder = write_report(delta, out, "delta", generated_at="2026-11-01T09:00:00Z")
    return out, {"full": full, "delta": delta, "folder": folder}


def test_a_delta_of_three_buckets_leaves_the_others_alone(demo_with_a_delta) -> None:
    out, made = demo_with_a_delta
    total = len(made["full"].buckets)
    assert total == sum(kind.count for kind in FLEET if kind.region == "us-east-1")
    meta = json.loads((out / "delta" / "run.json").read_text())
    account = made["full"].account_id
    assert meta["kind"] == "delta" and meta["base_run_id"] == "full"
    assert meta["buckets"] == {account: ["demo-compliant-02", "demo-versioning-suspended-02"]}
    assert meta["deleted_buckets"] == {account: ["demo-versioning-never-02"]}
    assert meta["events"] == [
        {"id": "evt-1", "time": "2026-11-01T08:59:58Z"},
        {"id": "evt-2", "time": "2026-11-01T08:59:59Z"},
    ]
    report = json.loads((out / "delta" / "findings.json").read_text())
    assert report["run"]["kind"] == "delta" and report["summary"]["total_buckets"] == 2
    # latest stays on the full run; latest-state names the delta
    assert os.readlink(out / "latest") == "full"
    state = json.loads((out / "latest-state").read_text())
    assert (state["run_id"], state["kind"]) == ("delta", "delta")
    # the delta is chained and sealed like any run
    manifest = json.loads((out / "delta" / "manifest.json").read_text())
    assert manifest["previous"]["run_id"] == "full"
    assert main(["verify", str(out)]) == EXIT_OK
    changed = history.changes(output_dir=out)
    gone = changed[changed["kind"] == "gone"]
    assert set(gone["bucket"]) == {"demo-versioning-never-02"}
    resolved = changed[changed["kind"] == "resolved"]
    assert list(resolved["bucket"]) == ["demo-versioning-suspended-02"]
    assert list(resolved["check_id"]) == ["versioning"]
    assert set(changed["kind"]) == {"gone", "resolved", "persisting"}
    # the posture keeps every other bucket, less the deleted one
    posture = history.posture_buckets(out)
    assert len(posture) == total - 1 and "demo-versioning-never-02" not in set(posture["bucket"])


def test_diff_and_history_read_the_delta(demo_with_a_delta, capsys) -> None:
    out, _ = demo_with_a_delta
    assert main(["diff", "--output-dir", str(out)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "Changes from full (full run) to delta (delta run of 3 bucket(s))" in text
    assert "demo-versioning-suspended-02  versioning  medium  FAIL -> PASS" in text
    assert "gone (" in text
    assert main(["history", "--output-dir", str(out)]) == EXIT_OK
    assert "Runs: 1 full, 1 delta; newest: delta (delta)" in capsys.readouterr().out
    frame = history.runs(out)
    assert list(frame["kind"]) == ["full", "delta"] and list(frame["buckets"].fillna(-1)) == [-1, 3]


def test_security_hub_of_a_delta_archives_only_what_it_looked_at(demo_with_a_delta) -> None:
    """The import of a delta compares with what was imported before (the posture): a finding
    of a bucket the delta did not rescan is never archived as gone."""
    from s3compliance.outputs.asff import asff_findings
    from s3compliance.outputs.securityhub_import import delta_buckets

    out, _ = demo_with_a_delta
    now = "2026-11-01T10:00:00Z"
    full = json.loads((out / "full" / "findings.json").read_text())
    delta = json.loads((out / "delta" / "findings.json").read_text())
    state = securityhub.plan_import(
        asff_findings(full, "us-east-1", now), securityhub.empty_state(), now, {full["account_id"]}
    ).state
    scope = delta_buckets(delta)
    assert delta_buckets(full) is None
    plan = securityhub.plan_import(
        asff_findings(delta, "us-east-1", now), state, now, {delta["account_id"]}, False, scope
    )
    archived = plan.table[plan.table["action"] == "archive"]
    buckets = {r.split(":::")[-1] for r in archived["resource"]}
    # the deleted bucket's findings and the fixed versioning finding; nothing of the others
    assert buckets == {"demo-versioning-never-02", "demo-versioning-suspended-02"}
    fixed = archived[archived["resource"].str.endswith("demo-versioning-suspended-02")]
    assert list(fixed["check_id"]) == ["versioning"]
    # the same delta read as a full run would have archived every other bucket's findings
    unscoped = securityhub.plan_import(
        asff_findings(delta, "us-east-1", now), state, now, {delta["account_id"]}
    )
    assert (unscoped.table["action"] == "archive").sum() > 100


def test_alerts_of_a_delta_announce_only_buckets_that_became_high(demo_with_a_delta) -> None:
    out, made = demo_with_a_delta
    result = made["delta"]
    high = result.buckets.loc[0, "bucket"]
    # a bucket already high in the posture is not announced again; one that became high is
    became = result.buckets.copy()
    became["bucket_severity"] = "high"
    posture = history.posture_buckets(out).set_index("bucket")["bucket_severity"]
    assert history.buckets_to_announce(replace(result, buckets=became), out) == {
        b for b in became["bucket"] if posture.get(b) != "high"
    }
    assert history.buckets_to_announce(result, out, only_new=False) is None
    assert high in set(became["bucket"])


# --- the posture, on hand-built runs -----------------------------------------------------------


def write_delta(
    out: Path,
    day: int,
    rows: list[tuple[str, str, str, str]],
    covered: dict[str, list[str]],
    deleted: dict[str, list[str]] | None = None,
    **kwargs: object,
) -> Path:
    """A delta run folder: ``rows`` are the findings of the ``covered`` buckets."""
    write_run(out, day, rows, **kwargs)  # type: ignore[arg-type]
    folder = out / f"2026-11-{day:02d}T06-00-00Z"
    meta = json.loads((folder / "run.json").read_text())
    meta.update(kind="delta", buckets=covered, deleted_buckets=deleted or {}, events=[])
    (folder / "run.json").write_text(json.dumps(meta))
    return folder


def test_runs_without_kind_read_as_full_and_a_delta_applies_per_bucket(tmp_path) -> None:
    out = tmp_path / "output"
    write_run(out, 1, [*fails(A, 3), (A, "ok", "versioning", "PASS")])  # no kind: full
    write_delta(out, 2, [(A, "b0", "versioning", "PASS")], {A: ["b0"]}, deleted={A: ["b1"]})
    assert [r.kind for r in history.complete_runs(out)] == ["full", "delta"]
    opened = history.open_findings(out)
    assert list(opened["bucket"]) == ["b2"]  # b0 fixed, b1 deleted, b2 untouched
    assert list(opened["first_seen"]) == ["2026-11-01"]
    changed = history.changes(output_dir=out)
    assert dict(zip(changed["bucket"], changed["kind"], strict=True)) == {
        "b0": "resolved",
        "b1": "gone",
        "b2": "persisting",
    }
    assert list(history.trend(out)["FAIL"]) == [3, 1]
    assert list(history.trend(out)["PASS"]) == [1, 2]
    times = history.remediation_times(out)
    assert list(times["resolved"]) == [1] and list(times["open_now"]) == [1]


def test_a_full_run_resets_the_deltas_before_it(tmp_path) -> None:
    out = tmp_path / "output"
    write_run(out, 1, fails(A, 2))
    write_delta(out, 2, [], {}, deleted={A: ["b0"]})
    write_run(out, 3, fails(A, 2))  # b0 is back: the full run says so
    write_delta(out, 4, [(A, "b1", "versioning", "PASS")], {A: ["b1"]})
    assert list(history.open_findings(out)["bucket"]) == ["b0"]
    changed = history.changes(output_dir=out)
    assert dict(zip(changed["bucket"], changed["kind"], strict=True)) == {
        "b0": "persisting",
        "b1": "resolved",
    }
    # b0 was absent on day 2, so its streak restarts on day 3 (the bucket was gone)
    assert list(history.open_findings(out)["first_seen"]) == ["2026-11-03"]


def test_an_account_a_full_run_does_not_list_leaves_with_its_deltas(tmp_path) -> None:
    out = tmp_path / "output"
    write_run(out, 1, fails(A, 1))
    write_delta(out, 2, fails(B, 1), {B: ["b0"]})  # an account seen only by a delta
    assert set(history.open_findings(out)["account_id"]) == {A, B}
    write_run(out, 3, fails(A, 1))  # the full run lists A only: B leaves the posture
    assert set(history.open_findings(out)["account_id"]) == {A}
    assert history.changes(output_dir=out).set_index("account_id").loc[B, "kind"] == "gone"


def test_a_delta_streak_only_counts_the_buckets_it_covered(tmp_path) -> None:
    out = tmp_path / "output"
    write_run(out, 1, fails(A, 2))
    write_delta(out, 2, [(A, "b0", "versioning", "PASS")], {A: ["b0"]})
    write_delta(out, 3, [(A, "b0", "versioning", "FAIL")], {A: ["b0"]})
    opened = history.open_findings(out).set_index("bucket")
    assert opened.loc["b0", "first_seen"] == "2026-11-03"  # broken by the PASS on day 2
    assert opened.loc["b1", "first_seen"] == "2026-11-01"  # never looked at since: unbroken
    assert history.changes(output_dir=out).set_index("bucket").loc["b0", "kind"] == "regressed"


def test_an_account_in_error_in_a_delta_is_not_looked_at(tmp_path) -> None:
    out = tmp_path / "output"
    write_run(out, 1, fails(A, 1) + fails(B, 1), accounts=(A, B))
    # the delta could not reach B: what it says of B's buckets is not an observation
    write_delta(out, 2, [], {A: [], B: ["b0"]}, accounts=(A, B), failed=(B,))
    assert len(history.open_findings(out)) == 2
    assert set(history.changes(output_dir=out)["kind"]) == {"persisting"}
    assert history.changes(output_dir=out).attrs["carried_forward"] == [B]


def test_trend_carries_an_account_a_full_run_left_out_through_a_delta(tmp_path) -> None:
    out = tmp_path / "output"
    write_run(out, 1, fails(A, 2) + fails(B, 3), accounts=(A, B))
    write_run(out, 2, fails(B, 1), accounts=(B,))  # A not listed: the trend carries it
    write_delta(out, 3, [(A, "b0", "versioning", "PASS")], {A: ["b0"]})
    got = {
        (r.run_date, r.account_id): r.FAIL
        for r in history.trend(out, by="account").itertuples(index=False)
    }
    assert got[("2026-11-03", A)] == 1  # A's posture from day 1, with b0 fixed
    assert got[("2026-11-03", B)] == 1  # B carried from day 2


def test_a_corrupt_delta_is_skipped_with_one_warning(tmp_path, caplog) -> None:
    out = tmp_path / "output"
    write_run(out, 1, fails(A, 2))
    folder = write_delta(out, 2, [], {A: []}, deleted={A: ["b0"]})
    (folder / "findings.parquet").write_bytes(b"PAR1 truncated")
    (folder / "findings.json").write_text("{not json")
    bad_kind = write_delta(out, 3, [], {A: []}, deleted={A: ["b1"]})
    meta = json.loads((bad_kind / "run.json").read_text())
    (bad_kind / "run.json").write_text(json.dumps({**meta, "kind": "partial"}))
    bad_buckets = write_delta(out, 4, [], {A: []}, deleted={A: ["b1"]})
    meta = json.loads((bad_buckets / "run.json").read_text())
    (bad_buckets / "run.json").write_text(json.dumps({**meta, "buckets": {A: "b0"}}))
    not_a_map = write_delta(out, 5, [], {A: []}, deleted={A: ["b1"]})
    (not_a_map / "run.json").write_text(json.dumps({**meta, "deleted_buckets": ["b1"]}))
    # a delta whose run.json is lost and whose findings.json says delta without saying what
    json_only = write_delta(out, 6, [], {A: []}, deleted={A: ["b1"]})
    (json_only / "run.json").unlink()
    report = minimal_report()
    report["run"] = {"kind": "delta"}
    (json_only / "findings.json").write_text(json.dumps(report))
    (json_only / "findings.parquet").unlink()
    with caplog.at_level(logging.WARNING, logger="s3compliance.outputs.history"):
        known = history.complete_runs(out)
    assert [r.kind for r in known] == ["full"]
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 5 and all("skipping" in w for w in warned)
    assert len(history.open_findings(out)) == 2  # nothing read as deleted


def test_a_delta_is_read_from_its_json_when_run_json_is_lost(demo_with_a_delta, tmp_path) -> None:
    import shutil

    out, _ = demo_with_a_delta
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, symlinks=True)
    (copy / "delta" / "run.json").unlink()
    runs = history.complete_runs(copy)
    assert [(r.kind, r.source) for r in runs] == [("full", "parquet"), ("delta", "json")]
    pd.testing.assert_frame_equal(history.open_findings(copy), history.open_findings(out))


# --- the request, and the command ---------------------------------------------------------------


def test_bucket_lists_parse_and_bad_names_are_refused() -> None:
    assert parse_bucket_list(" a, b ,111111111111:c,,") == {"": ["a", "b"], A: ["c"]}
    request = DeltaRequest.of({"": ["b", "a", "b"], A: ["c"]})
    assert request.buckets == {"": ("a", "b"), A: ("c",)}
    assert request.for_account(A, own=True) == ("a", "b", "c")
    assert request.for_account(A, own=False) == ("c",)
    assert request.for_account(B, own=False) is None
    with pytest.raises(DeltaInvalid, match="'bad/name' is not an S3 bucket name"):
        DeltaRequest.of(["bad/name"])
    with pytest.raises(DeltaInvalid, match="'12345' is not an AWS account id"):
        DeltaRequest.of({"12345": ["a"]})
    with pytest.raises(DeltaInvalid, match="at least one bucket"):
        DeltaRequest.of([])


def _params_file(tmp_path: Path, text: str = "") -> str:
    path = tmp_path / "scan.yaml"
    path.write_text(
        f"output_dir: {tmp_path / 'out'}\nmax_workers: 4\nretry_attempts: 1\n"
        f"checks: [versioning, encryption]\n{text}"
    )
    return str(path)


def test_scan_buckets_publishes_a_delta_on_a_moto_server(
    moto_server, server_session, tmp_path, capsys
) -> None:
    s3 = server_session.client("s3", endpoint_url=moto_server)
    for name in ("alpha", "alpha-2", "beta", "gamma", "west-only"):
        if name == "west-only":
            s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
            )
        else:
            s3.create_bucket(Bucket=name)
    path = _params_file(tmp_path, "exclude: [beta]\n")
    base = ["scan", "--params", path, "--endpoint-url", moto_server]
    assert main([*base, "--run-id", "r1"]) == EXIT_FINDINGS
    capsys.readouterr()
    s3.put_bucket_versioning(Bucket="alpha", VersioningConfiguration={"Status": "Enabled"})
    s3.delete_bucket(Bucket="gamma")
    # alpha-2 is a prefix match of alpha: only the exact name is rescanned; beta is excluded
    # and west-only outside the regions: neither is scanned nor called deleted
    code = main([*base, "--run-id", "r2", "--buckets", "alpha,gamma,beta,west-only"])
    out = capsys.readouterr().out
    assert code == EXIT_FINDINGS  # alpha is still unencrypted
    assert "Delta run: 1 bucket(s) rescanned, 1 found deleted (123456789012:gamma)" in out
    assert "applied to full run r1" in out
    assert "1 resolved" in out and "2 gone" in out
    meta = json.loads((tmp_path / "out" / "r2" / "run.json").read_text())
    assert meta["buckets"] == {"123456789012": ["alpha"]}
    assert meta["deleted_buckets"] == {"123456789012": ["gamma"]}
    assert os.readlink(tmp_path / "out" / "latest") == "r1"
    assert main(["diff", "--output-dir", str(tmp_path / "out"), "--format", "json"]) == EXIT_OK
    changes = json.loads(capsys.readouterr().out)
    assert {(c["bucket"], c["kind"]) for c in changes if c["kind"] != "persisting"} == {
        ("alpha", "resolved"),
        ("gamma", "gone"),
    }
    assert not any(c["bucket"] == "alpha-2" and c["kind"] == "gone" for c in changes)


def test_scan_buckets_refuses_bad_input_in_one_line(
    moto_server, server_session, tmp_path, capsys
) -> None:
    server_session.client("s3", endpoint_url=moto_server).create_bucket(Bucket="one")
    base = ["scan", "--params", _params_file(tmp_path), "--endpoint-url", moto_server]
    assert main([*base, "--buckets", "Bad Name"]) == EXIT_USAGE
    assert "bad arguments: 'Bad Name' is not an S3 bucket name" in capsys.readouterr().err
    assert main([*base, "--buckets", ","]) == EXIT_USAGE
    assert "at least one bucket" in capsys.readouterr().err
    assert main([*base, "--buckets", f"{A}:one"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"names account {A}, but this scan is of account 123456789012 only" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_scan_buckets_in_an_organization_needs_an_account_for_an_unknown_name(
    tmp_path, capsys
) -> None:
    path = _params_file(tmp_path, f"accounts: ['{A}']\n")
    assert main(["scan", "--params", path, "--buckets", "never-seen"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "'never-seen' is not in the last runs of" in err and "ACCOUNT:NAME" in err


def test_a_delta_of_an_organization_scans_only_the_accounts_it_names(tmp_path) -> None:
    from s3compliance.scan.org_scanner import OrgScanner
    from s3compliance.testing.org_demo import demo_organization

    with demo_organization() as organization:
        ids = organization.accounts
        member, refused = ids["payments-prod"], ids["legacy-erp"]
        s3 = organization.session.client("s3", region_name="us-east-1")
        own = s3.list_buckets()["Buckets"][0]["Name"]
        params = demo_params(demo="org", output_dir=str(tmp_path))
        request = DeltaRequest.of(
            {"": [own], member: ["no-such-bucket"], refused: ["x-bucket"], "999999999999": ["z"]}
        )
        scanner = OrgScanner(
            params, session=organization.session, hook=organization.hook, delta=request
        )
        result = scanner.check(scanner.discover(progress=False), progress=False)
    caller = result.account_id
    assert set(result.accounts["account_id"]) == {caller, member, refused}
    assert result.accounts.set_index("account_id").loc[refused, "status"] == "error"
    assert result.delta is not None
    assert result.delta.covered == {caller: (own,), member: ()}
    assert result.delta.deleted == {caller: (), member: ("no-such-bucket",)}
    assert list(result.buckets["bucket"]) == [own]


def test_bare_names_of_an_organization_delta_are_found_in_the_posture(demo_with_a_delta) -> None:
    from s3compliance.cli.runs import _delta_request

    out, made = demo_with_a_delta
    params = replace(made["full"].params, output_dir=str(out), accounts=[A])
    request = _delta_request(f"demo-compliant-01, {B}:elsewhere", params)
    assert request.buckets == {made["full"].account_id: ("demo-compliant-01",), B: ("elsewhere",)}


def test_scan_buckets_alerts_only_the_buckets_that_became_high(
    moto_server, server_session, tmp_path, capsys
) -> None:
    s3 = server_session.client("s3", endpoint_url=moto_server)
    sns = server_session.client("sns", endpoint_url=moto_server)
    sqs = server_session.client("sqs", endpoint_url=moto_server)
    topic = sns.create_topic(Name="s3-compliance")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    s3.create_bucket(Bucket="already-high")
    path = _params_file(tmp_path, f"high_severity_threshold: 2\nsns_topic_arn: {topic}\n")
    base = ["scan", "--params", path, "--endpoint-url", moto_server]
    assert main([*base, "--run-id", "r1"]) == EXIT_FINDINGS  # a full scan sends no alert
    s3.create_bucket(Bucket="became-high")
    capsys.readouterr()
    assert main([*base, "--run-id", "r2", "--buckets", "already-high,became-high"]) == (
        EXIT_FINDINGS
    )
    assert f"Alerts: sns {topic}: 1 sent, 0 failed" in capsys.readouterr().out
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    subjects = [json.loads(m["Body"])["Subject"] for m in got]
    assert subjects == ["High-Severity S3 Compliance Violation: became-high"]
    # a topic that cannot be reached is exit 1, after the delta is published
    s3.create_bucket(Bucket="third-high")
    broken = _params_file(
        tmp_path,
        "high_severity_threshold: 2\nsns_topic_arn: arn:aws:sns:us-east-1:123456789012:missing\n",
    )
    code = main(
        [
            "scan",
            "--params",
            broken,
            "--endpoint-url",
            moto_server,
            "--run-id",
            "r3",
            "--buckets",
            "third-high",
        ]
    )
    assert code == EXIT_FAILURE
    assert (tmp_path / "out" / "r3" / "manifest.json").is_file()


def test_a_delta_before_any_full_run_has_no_base_and_no_latest(
    moto_server, server_session, tmp_path, capsys
) -> None:
    from s3compliance.scan import DeltaRequest as Exported

    assert Exported is DeltaRequest
    server_session.client("s3", endpoint_url=moto_server).create_bucket(Bucket="first")
    base = ["scan", "--params", _params_file(tmp_path), "--endpoint-url", moto_server]
    assert main([*base, "--run-id", "d1", "--buckets", "first"]) == EXIT_FINDINGS
    assert "applied to full run (none yet: run a full scan)" in capsys.readouterr().out
    out = tmp_path / "out"
    assert json.loads((out / "d1" / "run.json").read_text())["base_run_id"] is None
    assert not (out / "latest").exists()
    assert json.loads((out / "latest-state").read_text())["kind"] == "delta"
    # the posture is what the delta saw
    assert set(history.open_findings(out)["bucket"]) == {"first"}


def test_a_run_is_full_or_delta(tmp_path) -> None:
    from s3compliance.outputs.runfolder import staged_run

    refused = pytest.raises(ValueError, match="a run is full or delta, not 'partial'")
    with refused, staged_run(tmp_path, "x", kind="partial"):
        pass  # pragma: no cover - never entered
    assert not any(tmp_path.iterdir())
