"""Accepted risks (issue 20): the exceptions file, its application, the contract, the CLI.

Expectations come from the issue and the findings contract (shared/spec/findings.md): a FAIL
covered by an active exception stays FAIL and carries ``exception_id``; a bucket whose FAILs are
all covered and that has no ERROR is ``accepted``; ERROR and PASS are never covered; an entry is
active through ``expires`` inclusive on the run's date; a tag can narrow an entry, never create
one.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from test_cli import compliant, params_file

from s3compliance.accepted.apply import apply_exceptions, exception_states
from s3compliance.accepted.exceptions import ExceptionsError, load_exceptions, parse_exceptions
from s3compliance.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, main
from s3compliance.outputs.contract import read_report, validate_report
from s3compliance.outputs.report import build_report, exceptions_table, run_metadata
from s3compliance.params import ParamsError, load_params
from s3compliance.scan.scanner import FINDING_COLUMNS, bucket_rows
from s3compliance.testing.demo import demo_params, run_demo

ROOT = Path(__file__).resolve().parent.parent
RUN_DAY = date(2026, 12, 1)
OWN, OTHER = "111122223333", "444455556666"


def entry(**overrides: object) -> dict:
    base = {
        "id": "RISK-1",
        "checks": ["public_access"],
        "buckets": ["web-*"],
        "reason": "public website",
        "owner": "web@example.com",
        "expires": "2027-03-31",
    }
    return {**base, **overrides}


def parsed(*entries: dict, run_date: date = RUN_DAY, max_days: int = 365):
    return parse_exceptions(
        json.dumps({"exceptions": list(entries)}), "exceptions.yaml", run_date, max_days
    )


def finding(bucket: str, check: str = "public_access", status: str = "FAIL", **kw) -> dict:
    row = dict.fromkeys(FINDING_COLUMNS, "")
    row.update(
        account_id=kw.get("account_id", OWN),
        region=kw.get("region", "us-east-1"),
        bucket=bucket,
        check_id=check,
        status=status,
        reason="why.",
        violation="Bucket policy allows public access" if status == "FAIL" else "",
        error_code="AccessDenied" if status == "ERROR" else "",
    )
    return row


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=FINDING_COLUMNS)


def covered(findings: pd.DataFrame, exceptions, tags=None) -> list[str]:
    out = apply_exceptions(findings, exceptions, tags or {})
    return list(out["exception_id"])


# --- matching --------------------------------------------------------------------------------

MATCHING = [
    # (name, entry overrides, finding kwargs, covered?)
    ("glob matches", {}, {"bucket": "web-assets"}, True),
    ("glob misses", {}, {"bucket": "data-web"}, False),
    ("glob ? one character", {"buckets": ["web-0?"]}, {"bucket": "web-01"}, True),
    ("glob ? not two", {"buckets": ["web-0?"]}, {"bucket": "web-012"}, False),
    ("glob is case-sensitive", {}, {"bucket": "WEB-assets"}, False),
    ("other check", {}, {"bucket": "web-a", "check": "versioning"}, False),
    ("account listed", {"accounts": [OWN]}, {"bucket": "web-a"}, True),
    ("account not listed", {"accounts": [OTHER]}, {"bucket": "web-a"}, False),
    ("region listed", {"regions": ["us-east-1"]}, {"bucket": "web-a"}, True),
    ("region not listed", {"regions": ["eu-west-1"]}, {"bucket": "web-a"}, False),
    ("ERROR never covered", {}, {"bucket": "web-a", "status": "ERROR"}, False),
    ("PASS never covered", {}, {"bucket": "web-a", "status": "PASS"}, False),
    ("expires on the run date: active", {"expires": "2026-12-01"}, {"bucket": "web-a"}, True),
    ("expired the day before", {"expires": "2026-11-30"}, {"bucket": "web-a"}, False),
]


@pytest.mark.parametrize(
    ("overrides", "kwargs", "expected"),
    [row[1:] for row in MATCHING],
    ids=[row[0] for row in MATCHING],
)
def test_an_exception_covers_exactly_its_scope(overrides, kwargs, expected) -> None:
    bucket = kwargs.pop("bucket")
    f = frame(finding(bucket, **kwargs))
    assert covered(f, parsed(entry(**overrides))) == (["RISK-1"] if expected else [""])


TAGGED = [
    # (name, bucket tags (None: unreadable), covered?)
    ("tag present", {"purpose": "website", "team": "web"}, True),
    ("tag absent", {"team": "web"}, False),
    ("tag with another value", {"purpose": "WEBSITE"}, False),
    ("no tags at all", {}, False),
    ("tags unreadable", None, False),
]


@pytest.mark.parametrize(
    ("tags", "expected"), [row[1:] for row in TAGGED], ids=[row[0] for row in TAGGED]
)
def test_when_tagged_narrows_an_exception(tags, expected) -> None:
    exceptions = parsed(entry(when_tagged={"purpose": "website"}))
    out = apply_exceptions(frame(finding("web-a")), exceptions, {"web-a": tags})
    assert list(out["exception_id"]) == (["RISK-1"] if expected else [""])
    unreadable_said = (
        "Exception RISK-1 not applied: it needs the bucket's tags" in out.loc[0, "reason"]
    )
    assert unreadable_said is (tags is None)


def test_a_tag_naming_an_exception_excepts_nothing() -> None:
    """A bucket owner can tag their bucket; a tag can never grant an exception, even one
    carrying an id: only the file's entries, which must name the bucket, do."""
    exceptions = parsed(entry(buckets=["web-*"], when_tagged={"purpose": "website"}))
    tags = {"data-x": {"purpose": "website", "exception": "RISK-1", "exception_id": "RISK-9"}}
    assert covered(frame(finding("data-x")), exceptions, tags) == [""]


def test_several_exceptions_record_the_one_expiring_last() -> None:
    exceptions = parsed(
        entry(id="SHORT", expires="2027-01-31"),
        entry(id="LONG", buckets=["web-a"], expires="2027-05-31"),
        entry(id="EXPIRED", expires="2026-11-01"),
        entry(id="TAGGED", expires="2027-11-30", when_tagged={"k": "v"}),
    )
    out = apply_exceptions(frame(finding("web-a")), exceptions, {"web-a": {}})
    assert (out.loc[0, "exception_id"], out.loc[0, "exception_expires"]) == ("LONG", "2027-05-31")
    # a tie on the date is broken by id, so the choice never depends on file order
    tie = parsed(entry(id="B"), entry(id="A"))
    assert covered(frame(finding("web-a")), tie) == ["A"]


def test_the_input_is_not_modified_and_no_file_changes_nothing() -> None:
    f = frame(finding("web-a"))
    before = f.copy()
    apply_exceptions(f, parsed(entry()), {})
    pd.testing.assert_frame_equal(f, before)
    assert covered(f, None) == [""]
    assert covered(frame(), parsed(entry())) == []
    # a frame from before exceptions existed gains the two columns, empty where not covered
    old = f.drop(columns=["exception_id", "exception_expires"])
    out = apply_exceptions(pd.concat([old, old.assign(bucket="data")]), parsed(entry()), {})
    assert list(out["exception_id"]) == ["RISK-1", ""]
    assert list(out["exception_expires"]) == ["2027-03-31", ""]


def test_a_bucket_with_some_fails_excepted_stays_non_compliant() -> None:
    exceptions = parsed(entry())
    findings = apply_exceptions(
        frame(
            finding("web-a"),  # covered
            finding("web-a", check="versioning"),  # not covered
            finding("web-b"),  # covered: web-b is accepted
            finding("web-b", check="versioning", status="PASS"),
            finding("web-c"),  # covered, but web-c has an ERROR: unknown
            finding("web-c", check="versioning", status="ERROR"),
        ),
        exceptions,
        {},
    )
    discovered = pd.DataFrame(
        {"bucket": ["web-a", "web-b", "web-c"], "region": "us-east-1", "created": None}
    )
    bases = {
        b: {"account_id": OWN, "account_name": "", "bucket_arn": f"arn:aws:s3:::{b}"}
        for b in discovered["bucket"]
    }
    rows = bucket_rows(findings, discovered, 1, bases, {}).set_index("bucket")
    assert rows.loc["web-a", ["status", "violation_count", "accepted_count"]].tolist() == [
        "non_compliant",
        1,
        1,
    ]
    assert len(rows.loc["web-a", "violations"]) == 1  # the versioning FAIL only
    assert rows.loc["web-b", ["status", "violation_count", "accepted_count"]].tolist() == [
        "accepted",
        0,
        1,
    ]
    assert rows.loc["web-b", "bucket_severity"] == "none"  # severity counts open FAILs only
    assert rows.loc["web-c", "status"] == "unknown"  # ERROR wins over accepted


# --- the file ----------------------------------------------------------------------------------

BAD = [
    # (name, file text, phrase of the one-line error)
    ("not YAML", "exceptions: [", "not valid YAML at line"),
    ("not a mapping", "- a", "expected a mapping with one key, 'exceptions'"),
    ("other top key", "exceptions: []\nother: 1", "expected a mapping with one key"),
    ("not a list", "exceptions: {a: 1}", "key 'exceptions': expected a list"),
    ("unknown key", [entry(team="x")], "entry 'RISK-1', key 'team': unknown key"),
    ("missing reason", [{k: v for k, v in entry().items() if k != "reason"}], "'reason': is req"),
    ("missing owner", [{k: v for k, v in entry().items() if k != "owner"}], "'owner': is required"),
    ("missing expires", [{k: v for k, v in entry().items() if k != "expires"}], "'expires': is"),
    ("empty reason", [entry(reason="  ")], "entry 'RISK-1', key 'reason'"),
    ("bad id", [entry(id="has space")], "entry #1, key 'id': does not match"),
    ("id too long", [entry(id="x" * 65)], "key 'id'"),
    ("duplicate id", [entry(), entry(buckets=["b-*"])], "entry 'RISK-1', key 'id': duplicate id"),
    ("no checks", [entry(checks=[])], "key 'checks'"),
    ("unknown check", [entry(checks=["versionning"])], "unknown check id(s) 'versionning'"),
    (
        "account-level check",
        [entry(checks=["account_block_public_access"])],
        "is an account-level check, which cannot be excepted",
    ),
    ("no buckets", [entry(buckets=[])], "key 'buckets'"),
    ("bare star", [entry(buckets=["*"])], "a bare '*' covers every bucket"),
    ("bad account", [entry(accounts=["1234"])], "key 'accounts': item 0 does not match"),
    ("bad date", [entry(expires="2027-02-30")], "key 'expires': not a date (YYYY-MM-DD)"),
    ("date with a time", [entry(expires="2027-02-01T00:00:00")], "key 'expires': not a date"),
    ("date as a number", [entry(expires=20270201)], "key 'expires': not a date"),
    (
        "YAML timestamp",
        "exceptions:\n- {id: A, checks: [lifecycle], buckets: [b], reason: r, owner: o,"
        " expires: 2027-02-01T00:00:00Z}",
        "entry 'A', key 'expires': a date (YYYY-MM-DD), not a time",
    ),
    ("beyond the horizon", [entry(expires="2027-12-02")], "more than 365 days after the run"),
    ("when_tagged empty", [entry(when_tagged={})], "key 'when_tagged'"),
    ("when_tagged not text", [entry(when_tagged={"k": 1})], "key 'when_tagged'"),
    ("allow_all not a bool", [entry(allow_all_buckets="yes")], "key 'allow_all_buckets'"),
]


@pytest.mark.parametrize(("text", "phrase"), [r[1:] for r in BAD], ids=[r[0] for r in BAD])
def test_each_rule_is_refused_in_one_line(text, phrase, tmp_path, capsys) -> None:
    if not isinstance(text, str):
        text = json.dumps({"exceptions": text})
    path = tmp_path / "exceptions.yaml"
    path.write_text(text)
    with pytest.raises(ExceptionsError) as raised:
        load_exceptions(path, RUN_DAY)
    message = str(raised.value)
    assert phrase in message and "\n" not in message and message.startswith(str(path))
    # the same through the CLI's check command and through the parameters: exit 2, one line
    params = tmp_path / "p.yaml"
    params.write_text("run_date: '2026-12-01'\n")
    assert main(["exceptions", "--file", str(path), "--params", str(params)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert phrase in err and err.count("\n") == 1
    params.write_text(f"exceptions_file: {path}\nrun_date: '2026-12-01'\n")
    assert main(["scan", "--params", str(params)]) == EXIT_USAGE
    assert phrase in capsys.readouterr().err


def test_the_rules_that_allow() -> None:
    exceptions = parsed(
        entry(buckets=["*"], allow_all_buckets=True, expires="2027-12-01"),  # exactly 365 days
        entry(id="t.1_x-2", approved_by="ciso", ticket="SEC-1", when_tagged={"a": "b"}),
    )
    assert [e.id for e in exceptions.entries] == ["RISK-1", "t.1_x-2"]
    assert exceptions.needs_tags and not parsed(entry()).needs_tags
    assert parsed(entry(expires="2028-06-01"), max_days=730).entries[0].expires == date(2028, 6, 1)
    assert parse_exceptions("exceptions:\n", "f", RUN_DAY).entries == ()
    # YAML reads an unquoted date as a date: the same as the quoted text
    text = "exceptions:\n- {id: A, checks: [lifecycle], buckets: [b], reason: r, owner: o, "
    assert parse_exceptions(text + "expires: 2027-01-01}", "f", RUN_DAY).entries[0].expires == (
        date(2027, 1, 1)
    )


def test_unreadable_files_are_one_line(tmp_path) -> None:
    with pytest.raises(ExceptionsError, match="cannot read the exceptions file"):
        load_exceptions(tmp_path / "missing.yaml", RUN_DAY)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ExceptionsError, match="not UTF-8 text"):
        load_exceptions(binary, RUN_DAY)


def test_the_horizon_and_run_date_come_from_the_parameters(tmp_path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(json.dumps({"exceptions": [entry(expires="2027-06-01")]}))
    # judged on run_date: 182 days ahead is within 365, not within 100
    assert demo_params(exceptions_file=str(path), run_date="2026-12-01").exceptions()
    with pytest.raises(ParamsError, match="more than 100 days after the run's date 2026-12-01"):
        demo_params(exceptions_file=str(path), run_date="2026-12-01", max_exception_days=100)
    with pytest.raises(ParamsError, match="more than 365 days after the run's date 2025-01-01"):
        demo_params(exceptions_file=str(path), run_date="2025-01-01")


# --- the demo account ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def accepted_demo():
    return run_demo(demo_params(ROOT / "params" / "exceptions-demo.yaml"), progress=False)


def test_the_demo_shows_every_state_and_the_arithmetic_adds_up(accepted_demo) -> None:
    """Expected from the example file and the demo fleet's definition (testing/demo.py)."""
    result = accepted_demo
    states = exceptions_table(result).set_index("id")
    assert states["state"].to_dict() == {
        "RISK-0815": "expired",  # 2026-11-15 < 2026-12-01
        "RISK-2003": "unused",  # metrics-prefix-only buckets carry no env=prod tag
        "RISK-2002": "expiring",  # 9 days left, warning at 14
        "RISK-1042": "active",
        "RISK-2001": "active",
    }
    # 4 public-read buckets (public_access), 8 lifecycle-365 (lifecycle), 5 no-metrics tagged
    # env=prod (cloudwatch_metrics)
    assert states["findings"].to_dict() == {
        "RISK-0815": 0,
        "RISK-2003": 0,
        "RISK-2002": 5,
        "RISK-1042": 4,
        "RISK-2001": 8,
    }
    summary = result.summary()
    assert summary["accepted_findings"] == 17
    # accepted: 8 lifecycle-365 + 5 no-metrics; public-read also fails cloudwatch_metrics
    assert summary["accepted_buckets"] == 13
    total = sum(summary[f"{s}_buckets"] for s in ("compliant", "non_compliant", "unknown"))
    assert total + summary["accepted_buckets"] == summary["total_buckets"]
    buckets = result.buckets.set_index("bucket")
    assert buckets.loc["demo-public-read-01", "status"] == "non_compliant"
    assert buckets.loc["demo-public-read-01", "violations"] == ["CloudWatch metrics not configured"]
    assert buckets.loc["demo-lifecycle-365-01", "status"] == "accepted"
    # the expired entry no longer applies: the unencrypted buckets are non-compliant again
    assert buckets.loc["demo-unencrypted-01", "status"] == "non_compliant"
    # the truth never changes: every accepted finding is still FAIL
    accepted = result.findings[result.findings["exception_id"] != ""]
    assert set(accepted["status"]) == {"FAIL"} and len(accepted) == 17


def test_the_report_carries_exceptions_and_old_files_still_validate(accepted_demo, tmp_path):
    report = build_report(accepted_demo, "2026-12-01T06:00:00Z")
    validate_report(report)
    by_name = {b["bucket_name"]: b for b in report["buckets"]}
    lifecycle = next(
        f for f in by_name["demo-lifecycle-365-01"]["findings"] if f["check_id"] == "lifecycle"
    )
    assert (lifecycle["status"], lifecycle["exception_id"], lifecycle["exception_expires"]) == (
        "FAIL",
        "RISK-2001",
        "2027-06-30",
    )
    assert by_name["demo-lifecycle-365-01"]["accepted_count"] == 1
    names = {b["bucket_name"] for b in report["non_compliant_buckets"]}
    assert "demo-lifecycle-365-01" not in names and "demo-public-read-01" in names
    assert report["exceptions"]["sha256"] == accepted_demo.exceptions.sha256
    assert len(report["exceptions"]["sha256"]) == 64
    assert [e["id"] for e in report["exceptions"]["entries"]][:2] == ["RISK-0815", "RISK-2003"]
    meta = run_metadata(accepted_demo, "2026-12-01T06:00:00Z", "r1")
    import hashlib

    example = (ROOT / "params" / "exceptions.example.yaml").read_bytes()
    assert meta["exceptions_sha256"] == hashlib.sha256(example).hexdigest()
    # an exception on a PASS or ERROR finding breaks the contract
    broken = json.loads(json.dumps(report))
    first = broken["buckets"][0]["findings"][0]
    first.update(status="PASS", exception_id="X", exception_expires="2027-01-01")
    with pytest.raises(Exception, match="FAIL"):
        validate_report(broken)
    # a report written before exceptions existed: no accepted keys anywhere, still valid
    old = json.loads(json.dumps(report))
    old.pop("exceptions")
    for key in ("accepted_buckets", "accepted_findings"):
        old["summary"].pop(key)
    for b in old["buckets"]:
        b.pop("accepted_count")
        for f in b["findings"]:
            f.pop("exception_id", None)
            f.pop("exception_expires", None)
        if b["status"] == "accepted":
            b["status"] = "compliant"
    for a in old["accounts"]:
        a.pop("accepted_buckets")
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    assert read_report(path)["summary"]["total_buckets"] == 138


def test_without_a_file_nothing_is_accepted_and_run_json_says_null() -> None:
    result = run_demo(demo_params(include=["demo-lifecycle-365-0*"]), progress=False)
    assert result.exceptions is None and set(result.buckets["status"]) == {"non_compliant"}
    assert run_metadata(result, "2026-12-01T06:00:00Z")["exceptions_sha256"] is None
    assert "exceptions" not in build_report(result)
    assert exceptions_table(result).empty


def test_the_demo_reads_tags_only_when_an_exception_needs_them(tmp_path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(json.dumps({"exceptions": [entry(checks=["lifecycle"])]}))
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text(json.dumps({"exceptions": [entry(when_tagged={"a": "b"})]}))
    for path, reads in ((plain, 0), (tagged, 3)):
        params = demo_params(
            exceptions_file=str(path),
            run_date="2026-12-01",
            apply_tags=False,
            include=["demo-compliant-0[123]"],
        )
        result = run_demo(params, progress=False)
        assert result.api_calls.get("GetBucketTagging", 0) == reads


# --- exit codes and the CLI --------------------------------------------------------------------


def _lifecycle_365_only(tmp_path: Path, extra: str = "") -> list[str]:
    exceptions = tmp_path / "e.yaml"
    exceptions.write_text(
        json.dumps({"exceptions": [entry(checks=["lifecycle"], buckets=["demo-lifecycle-365-*"])]})
    )
    params = tmp_path / "p.yaml"
    params.write_text(
        "demo: true\nprofile: mission\nrun_date: '2026-12-01'\n"
        f"output_dir: {tmp_path / 'out'}\ninclude: ['demo-lifecycle-365-0*']\n"
        f"exceptions_file: {exceptions}\n{extra}"
    )
    return ["--params", str(params)]


def test_exit_0_when_every_fail_is_accepted(tmp_path, capsys) -> None:
    from s3compliance.cli import _exit_code

    assert main(["demo", *_lifecycle_365_only(tmp_path), "--run-id", "acc"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Accepted risks: 8 bucket(s) accepted, 8 finding(s) covered by 1 exception(s)" in out
    assert "Exceptions: 0 expiring soon, 0 expired, 0 unused" in out
    # what still makes it 3: one open FAIL, an ERROR, an account-level FAIL, a failed account
    base = {
        "non_compliant_buckets": 0,
        "unknown_buckets": 0,
        "accepted_findings": 2,
        "by_check": {"lifecycle": {"PASS": 0, "FAIL": 2, "ERROR": 0}},
    }
    assert _exit_code(base) == EXIT_OK
    assert _exit_code({**base, "accepted_findings": 1}) == EXIT_FINDINGS
    error = {"lifecycle": {"PASS": 0, "FAIL": 2, "ERROR": 1}}
    assert _exit_code({**base, "by_check": error}) == EXIT_FINDINGS
    account = {
        **base["by_check"],
        "account_block_public_access": {"PASS": 0, "FAIL": 1, "ERROR": 0},
    }
    assert _exit_code({**base, "by_check": account}) == EXIT_FINDINGS
    assert _exit_code({**base, "failed_accounts": 1}) == EXIT_FINDINGS


def test_the_check_command_against_a_findings_file(tmp_path, capsys) -> None:
    """`s3compliance exceptions` validates and says what each entry would cover, without
    scanning: usable as a CI check where exception changes are reviewed."""
    example = ROOT / "params" / "exceptions.example.yaml"
    demo = ROOT / "params" / "exceptions-demo.yaml"
    assert main(["exceptions", "--file", str(example), "--params", str(demo)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "valid, 5 exception(s) judged on 2026-12-01 (max 365 days ahead)" in out
    assert "3 active, 1 expiring, 1 expired" in out and "unused" not in out
    # against the demo's findings (written without exceptions): coverage by scope
    run = run_demo(demo_params(ROOT / "params" / "demo.yaml", apply_tags=False), progress=False)
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps(build_report(run)))
    args = [
        "exceptions",
        "--file",
        str(example),
        "--params",
        str(demo),
        "--findings",
        str(findings),
    ]
    assert main(args) == EXIT_OK
    out = capsys.readouterr().out
    assert "3 active, 1 expiring, 1 expired, 0 unused (cover no FAIL)" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("RISK-")}
    assert " active " in lines["RISK-1042"] and " 4 " in lines["RISK-1042"]
    assert "demo-public-read-01 (public_access)" in lines["RISK-1042"]
    # tags are not in a findings file: a tag-narrowed entry is counted by its scope
    assert " 5 " in lines["RISK-2002"] and " 6 " in lines["RISK-2003"]
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main([*args[:-1], str(bad)]) == EXIT_USAGE
    assert "cannot read the findings" in capsys.readouterr().err


def test_the_check_command_without_params_judges_on_today(tmp_path, capsys) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("exceptions: []\n")
    assert main(["exceptions", "--file", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"valid, 0 exception(s) judged on {date.today().isoformat()}" in out
    assert out.strip().endswith("0 active, 0 expiring, 0 expired")


def test_a_moto_server_scan_applies_the_file(moto_server, server_session, tmp_path) -> None:
    """Through real HTTP, with --endpoint-url: the file is applied to the scan's findings."""
    compliant(server_session, moto_server, "metrics-less-bucket")
    exceptions = tmp_path / "e.yaml"
    exceptions.write_text(
        json.dumps({"exceptions": [entry(checks=["cloudwatch_metrics"], buckets=["metrics-*"])]})
    )
    path = params_file(tmp_path, f"exceptions_file: {exceptions}\nrun_date: '2026-12-01'\n")
    code = main(["scan", "--params", path, "--endpoint-url", moto_server, "--run-id", "srv-acc"])
    report = json.loads((tmp_path / "out" / "srv-acc" / "findings.json").read_text())
    statuses = {b["bucket_name"]: b["status"] for b in report["buckets"]}
    assert statuses["metrics-less-bucket"] == "accepted"
    assert code in (EXIT_OK, EXIT_FINDINGS)  # other buckets of the shared server may fail
    states = exception_states(
        parsed(entry(checks=["cloudwatch_metrics"], buckets=["metrics-*"])), None
    )
    assert states["findings"].tolist() == [None] and states["state"].tolist() == ["active"]


def test_the_read_policy_grants_tag_reads_only_when_an_exception_needs_them(tmp_path, capsys):
    """GetBucketTagging is in the read-only statement exactly when an entry uses when_tagged
    (the scan calls it then, and only then)."""
    from s3compliance.iac.org_role import org_role

    granted = {}
    for name, extra in (("plain", {}), ("tagged", {"when_tagged": {"env": "prod"}})):
        exceptions = tmp_path / f"{name}.yaml"
        exceptions.write_text(json.dumps({"exceptions": [entry(**extra)]}))
        params = tmp_path / f"{name}-params.yaml"
        params.write_text(f"exceptions_file: {exceptions}\nrun_date: '2026-12-01'\n")
        assert main(["iam-policy", "--params", str(params)]) == EXIT_OK
        actions = json.loads(capsys.readouterr().out)["Statement"][0]["Action"]
        role = org_role("111122223333", ["r-ab12"], params=load_params(params))
        granted[name] = (
            "s3:GetBucketTagging" in actions,
            "s3:GetBucketTagging" in role.policy["Statement"][0]["Action"],
        )
    assert granted == {"plain": (False, False), "tagged": (True, True)}


def test_the_example_demo_shows_accepted_buckets_and_the_section(tmp_path, capsys, monkeypatch):
    """The issue's "done when": `s3compliance demo --params params/exceptions-demo.yaml`."""
    monkeypatch.chdir(ROOT)  # the params file names the example file relative to the checkout
    args = ["demo", "--params", "params/exceptions-demo.yaml", "--output-dir", str(tmp_path)]
    assert main([*args, "--run-id", "accepted"]) == EXIT_FINDINGS  # other buckets still fail
    out = capsys.readouterr().out
    assert "Accepted risks: 13 bucket(s) accepted, 17 finding(s) covered by 5 exception(s)" in out
    assert "Exceptions: 1 expiring soon [RISK-2002 (2026-12-10)], 1 expired" in out
    assert "[RISK-0815 (2026-11-15)], 1 unused" in out
    folder = tmp_path / "accepted"
    html = (folder / "report.html").read_text()
    assert "Accepted risks" in html and "RISK-2003" in html and "records-management@" in html
    meta = json.loads((folder / "run.json").read_text())
    assert len(meta["exceptions_sha256"]) == 64
    parquet = pd.read_parquet(folder / "findings.parquet")
    assert (parquet["exception_id"] != "").sum() == 17
    assert pd.read_parquet(folder / "buckets.parquet")["accepted_count"].sum() == 17


def test_the_notebook_section_and_the_overview(accepted_demo, capsys) -> None:
    from s3compliance.outputs import notebook as runner
    from s3compliance.outputs.report import overview_table

    table = runner.show_exceptions(accepted_demo)
    out = capsys.readouterr().out
    assert "13 bucket(s) accepted, 17 FAIL finding(s) covered, judged on 2026-12-01; " in out
    assert "1 expired, 1 unused, 1 expiring, 2 active" in out
    assert table is not None and list(table["id"])[:3] == ["RISK-0815", "RISK-2003", "RISK-2002"]
    overview = overview_table(accepted_demo)["count"].to_dict()
    assert (overview["accepted buckets"], overview["accepted findings"]) == (13, 17)
    plain = run_demo(demo_params(include=["demo-compliant-01"]), progress=False)
    assert runner.show_exceptions(plain) is None
    assert "No exceptions file (parameter exceptions_file)" in capsys.readouterr().out
    assert "accepted buckets" not in overview_table(plain).index
