"""Issue 27, point 1: ``findings.json`` and ``findings.ocsf.json`` are written a bucket at a time.

The streamed files must be exactly what encoding the whole document writes (the contract does
not change with the run's size), every bucket entry must still be validated, and a bucket that
breaks the contract must leave no file behind.
"""

from __future__ import annotations

import copy
import io
import json
import random
from dataclasses import replace
from datetime import date
from pathlib import Path

import fastjsonschema
import jsonschema
import pytest

from s3compliance.outputs import report as report_mod
from s3compliance.outputs.jsonstream import read_object_without, write_array, write_object
from s3compliance.outputs.ocsf import ocsf_findings
from s3compliance.outputs.report import build_report, write_findings_json, write_run_files
from s3compliance.scan.run import run_scan

NO_SLEEP = {"sleep": lambda _s: None}
GENERATED = "2026-12-01T06:00:00Z"


def _value(rng: random.Random, depth: int = 0) -> object:
    kinds = ["str", "int", "float", "bool", "none", "big"] + (
        ["list", "dict"] * 2 if depth < 3 else []
    )
    kind = rng.choice(kinds)
    if kind == "list":
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == "dict":
        return {f"k{n}é\n": _value(rng, depth + 1) for n in range(rng.randrange(4))}
    return {
        "str": lambda: rng.choice(["", "a", "é ü 日本", 'quote " and \\ back', "<b>&</b>", "\x00"]),
        "int": lambda: rng.randrange(-(10**12), 10**12),
        "float": lambda: round(rng.random() * 1e6, 3),  # orjson writes 1e16 for 1e+16
        "big": lambda: rng.choice([2**64, -(2**70)]),  # past orjson's 64 bits: json's text
        "bool": lambda: rng.random() < 0.5,
        "none": lambda: None,
    }[kind]()


def test_streamed_json_is_byte_for_byte_what_json_dumps_writes() -> None:
    """The expectation is the standard library's own encoding of the whole document."""
    rng = random.Random(27)
    for _ in range(300):
        items = [_value(rng) for _ in range(rng.randrange(5))]
        head = {"first": _value(rng), "items": None, "last": _value(rng)}
        whole = io.StringIO()
        assert write_array(whole, items) == len(items)
        assert whole.getvalue() == json.dumps(items, indent=2, ensure_ascii=False) + "\n"
        streamed = io.StringIO()
        assert write_object(streamed, head, "items", iter(items)) == len(items)
        expected = json.dumps({**head, "items": items}, indent=2, ensure_ascii=False) + "\n"
        assert streamed.getvalue() == expected


def test_a_value_that_looks_like_the_marker_is_written_as_it_is() -> None:
    """An account name is untrusted: one that imitates the placeholder changes nothing."""
    head = {"name": "streamed-00000000000000000000000000000000", "items": None}
    out = io.StringIO()
    write_object(out, head, "items", [1])
    assert json.loads(out.getvalue()) == {**head, "items": [1]}
    with pytest.raises(KeyError):
        write_object(io.StringIO(), head, "buckets", [])


def test_the_head_of_a_streamed_document_is_read_without_its_array(tmp_path: Path) -> None:
    """``s3compliance run`` reads findings.json's head (every key but ``buckets``) without
    parsing the bucket entries: the result is the whole document parsed, ``buckets`` empty,
    whatever the size of the pieces the file is read in."""
    rng = random.Random(28)
    path = tmp_path / "doc.json"
    for round_ in range(60):
        items = [_value(rng) for _ in range(1 + rng.randrange(4))]
        items.append({"buckets": [1, "  ]", "\n  ]"], "nested": [[{"buckets": []}]]})
        head = {
            "account": _value(rng),
            "lines": 'a\n  ]\n  "buckets": [\n',  # the markers inside a string
            "buckets": None,
            "after": {"buckets": [_value(rng)], "n": round_},
        }
        with path.open("w", encoding="utf-8") as fh:
            write_object(fh, head, "buckets", iter(items))
        expected = {**json.loads(path.read_text(encoding="utf-8")), "buckets": []}
        for chunk in (1, 2, 3, 5, 8, 13, 64, 1 << 22):
            assert read_object_without(path, "buckets", chunk) == expected, (round_, chunk)


def test_a_document_laid_out_otherwise_is_parsed_whole(tmp_path: Path) -> None:
    """No array on lines of its own (empty, or a file written without indentation): the whole
    document, parsed as it is. An array that is never closed is an error, not a short head."""
    path = tmp_path / "doc.json"
    empty, full = {"a": 1, "buckets": [], "z": 2}, {"a": 1, "buckets": [{"x": 1}]}
    for text, expected in (
        (json.dumps(empty, indent=2), empty),
        (json.dumps(empty), empty),
        (json.dumps(full), full),  # one line: read whole, its array too
        (json.dumps(full, indent=4), full),
        (json.dumps(full, indent=2), {"a": 1, "buckets": []}),  # the streamed layout
    ):
        path.write_text(text, encoding="utf-8")
        assert read_object_without(path, "buckets", 4) == expected
    path.write_text('{\n  "a": 1,\n  "buckets": [\n    1,\n    2\n', encoding="utf-8")
    with pytest.raises(ValueError, match="the 'buckets' array is not closed"):
        read_object_without(path, "buckets", 4)


@pytest.fixture
def result(account, params):
    account.compliant_bucket("aaa-good")
    account.bucket("bbb-bare")
    account.compliant_bucket("ccc-denied")
    account.faults.fail("ccc-denied", "GetBucketPolicy", "AccessDenied")
    account.bucket("ddd-bare")
    # three buckets a shard: the four buckets' findings are spooled in two parts
    chosen = replace(params, profile="fsbp", shard_size=3)
    return run_scan(chosen, clients=account.clients(), **NO_SLEEP)


def test_the_run_folder_files_equal_the_whole_report_encoded_at_once(
    result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries cross the spool's part boundary; account findings (fsbp) too."""
    assert [p.buckets for p in result.spool.parts] == [3, 1]
    assert len(result.account_findings) > 0
    assert write_findings_json(result, tmp_path, GENERATED) == 4
    report = build_report(result, GENERATED)
    text = (tmp_path / "findings.json").read_text(encoding="utf-8")
    assert text == json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    ocsf = json.loads((tmp_path / "findings.ocsf.json").read_text(encoding="utf-8"))
    assert ocsf == ocsf_findings(report)
    assert len(ocsf) == len(result.findings) + len(result.account_findings)


def test_each_bucket_entry_holds_exactly_its_own_findings(
    result, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written from the contract: ``buckets[i]`` is the i-th bucket row, with that bucket's
    findings (and no other's) in the scan's order."""
    assert len(result.spool.parts) == 2
    entries = list(report_mod.bucket_entries(result))
    assert [e["bucket_name"] for e in entries] == list(result.buckets["bucket"])
    for entry in entries:
        mine = result.findings[result.findings["bucket"] == entry["bucket_name"]]
        assert [f["finding_id"] for f in entry["findings"]] == list(mine["finding_id"])
        assert [f["status"] for f in entry["findings"]] == list(mine["status"])
    denied = next(e for e in entries if e["bucket_name"] == "ccc-denied")
    assert any(f["status"] == "ERROR" for f in denied["findings"])
    errors = build_report(result, GENERATED)["errors"]
    assert {(e["bucket_name"], e["check_id"]) for e in errors} == {
        (f.bucket, f.check_id) for f in result.findings.itertuples() if f.status == "ERROR"
    }


def test_a_bucket_entry_that_breaks_the_contract_leaves_no_file(result, tmp_path: Path) -> None:
    """The entry is validated as it is written; the half-written files are removed."""
    buckets = result.buckets.copy()
    buckets.loc[buckets["bucket"] == "ddd-bare", "violation_count"] = -1
    broken = replace(result, buckets=buckets)
    with pytest.raises(jsonschema.ValidationError):
        write_run_files(broken, tmp_path, generated_at=GENERATED)
    assert list(tmp_path.iterdir()) == []


def _mutations(entry: dict) -> list[dict]:
    """Entries that each break (or keep) the contract in one place: every field of the entry
    and of its first finding removed, emptied, given another type or a value out of its set."""
    out = []
    for where in ("entry", "finding"):
        target = entry if where == "entry" else entry["findings"][0]
        for key in list(target):
            for value in (None, "", "x" * 300, -1, 3.5, [], {}, "FAIL", "2027-02-30", "0" * 16):
                changed = copy.deepcopy(entry)
                place = changed if where == "entry" else changed["findings"][0]
                place[key] = value
                out.append(changed)
            removed = copy.deepcopy(entry)
            del (removed if where == "entry" else removed["findings"][0])[key]
            out.append(removed)
    return out


def test_the_compiled_entry_check_agrees_with_the_schema(result) -> None:
    """Issue 27: the fast check (fastjsonschema) must accept and refuse what jsonschema does, on
    entries of every kind (compliant, failing, ERROR, accepted) and on hundreds of broken ones;
    the one difference allowed is that it also asserts a date's format."""
    from s3compliance.outputs import contract

    entries = list(report_mod.bucket_entries(result))
    accepted = copy.deepcopy(entries[1])
    accepted["findings"][0].update(
        status="FAIL", violation="v", exception_id="RISK-1", exception_expires="2027-01-31"
    )
    cases = [*entries, accepted, *(m for e in (*entries, accepted) for m in _mutations(e))]
    slow = contract._bucket_validator()
    fast = contract._bucket_check()
    disagreements = []
    for case in cases:
        slow_ok = slow.is_valid(case)
        try:
            fast(case)
            fast_ok = True
        except fastjsonschema.JsonSchemaValueException:
            fast_ok = False
        if slow_ok != fast_ok:
            disagreements.append(case)
    assert len(cases) > 500
    assert sum(slow.is_valid(c) for c in cases) > 10  # some mutations keep the contract
    for case in disagreements:  # only ever the compiled check refusing a date that is no date
        assert slow.is_valid(case)
        expires = case["findings"][0].get("exception_expires")
        with pytest.raises((TypeError, ValueError)):
            date.fromisoformat(expires)
    assert len(disagreements) >= 5
    for case in disagreements:  # a date that is no date: refused, with a message of one line
        with pytest.raises(jsonschema.ValidationError, match="breaks its format"):
            contract.validate_bucket_entry(case)
    with pytest.raises(jsonschema.ValidationError, match="-1 is less than the minimum"):
        contract.validate_bucket_entry({**entries[0], "violation_count": -1})
