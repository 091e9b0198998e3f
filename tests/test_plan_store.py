"""Pulumi plans spooled to Parquet (s3compliance.iac.plan_store): read back by bucket in the
order the rows were added, documents exact, nothing from a plan ever spliced into SQL, and the
notebook shows the first rows of a spooled plan with a caption that counts every row."""

from __future__ import annotations

import gc

import pandas as pd
import pytest

from s3compliance.iac import plan_store, remediation
from s3compliance.iac.plan_store import PlanStore, PlanView, aligned

COLUMNS = ["account_id", "bucket", "check_id", "after"]


def rows(*entries: tuple[str, str, str, object]) -> pd.DataFrame:
    return pd.DataFrame(entries, columns=COLUMNS)


@pytest.fixture
def store() -> PlanStore:
    plans = PlanStore(COLUMNS, ["after"])
    # two parts, as two shards would add them: bucket "b" in both, "a" after "b"
    plans.add(
        rows(("111111111111", "b", "versioning", {"Status": "Enabled"}), ("1", "c", "x", None))
    )
    plans.add(rows(("222222222222", "a", "lifecycle", [{"ID": "é", "Days": 1.5}])))
    plans.add(rows())  # a part with nothing to plan adds no file
    plans.add(rows(("333333333333", "b", "ssl_only", {"big": 2**70})))
    return plans


def test_rows_come_back_by_bucket_then_in_the_order_they_were_added(store) -> None:
    frame = store.frame()
    assert list(frame["bucket"]) == ["a", "b", "b", "c"]
    assert list(frame["check_id"]) == ["lifecycle", "versioning", "ssl_only", "x"]
    # documents through JSON and back, exactly: key order, floats, non-ASCII, big integers, null
    assert list(frame["after"]) == [
        [{"ID": "é", "Days": 1.5}],
        {"Status": "Enabled"},
        {"big": 2**70},
        None,
    ]
    assert len(store) == 4 and len(list(store.folder.glob("*.parquet"))) == 3


def test_pieces_never_split_a_bucket(store) -> None:
    assert [list(p["bucket"]) for p in store.pieces(rows=1)] == [["a"], ["b", "b"], ["c"]]
    assert [list(p["bucket"]) for p in store.pieces(rows=2)] == [["a"], ["b", "b"], ["c"]]
    assert [list(p["bucket"]) for p in store.pieces(rows=3)] == [["a", "b", "b"], ["c"]]
    assert [list(p["bucket"]) for p in store.pieces(rows=10)] == [["a", "b", "b", "c"]]
    # a condition narrows the pieces, its values as parameters before the range's
    assert [list(p["check_id"]) for p in store.pieces("check_id <> ?", ["versioning"], 1)] == [
        ["lifecycle"],
        ["ssl_only"],
        ["x"],
    ]
    assert store.head(0).empty and list(store.head(0).dtypes) == [object] * len(COLUMNS)


def test_conditions_take_values_as_parameters_never_as_sql(store) -> None:
    assert store.count("check_id = ?", ["versioning"]) == 1
    assert store.count("check_id = ?", ["x' OR '1'='1"]) == 0
    assert store.distinct("bucket") == ["a", "b", "c"]
    assert store.distinct("account_id", "bucket = ?", ["b"]) == ["111111111111", "333333333333"]
    assert store.count_distinct("bucket", "bucket <> ?", ["a"]) == 2
    assert list(store.head(2)["check_id"]) == ["lifecycle", "versioning"]
    view = PlanView(store, "list_contains(?, check_id)", [["x", "ssl_only"]])
    assert len(view) == 2 and list(view.head(1)["bucket"]) == ["b"]


def test_an_empty_store_reads_as_an_empty_plan() -> None:
    empty = PlanStore(COLUMNS, ["after"])
    assert len(empty) == 0 and empty.count() == 0 and empty.distinct("bucket") == []
    assert list(empty.frame().columns) == COLUMNS and empty.frame().empty
    assert list(empty.pieces()) == [] and empty.head(5).empty


def test_what_a_plan_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a bucket column"):
        PlanStore(["name"], [])
    with pytest.raises(ValueError, match="needs a bucket column"):
        PlanStore(["bucket"], ["inputs"])
    plans = PlanStore(COLUMNS, ["after"])
    with pytest.raises(TypeError, match="'account_id' holds float, not text"):
        plans.add(rows((float("nan"), "a", "x", None)))
    with pytest.raises(ValueError):  # JSON has no NaN: a document holding one is not guessed
        plans.add(rows(("1", "a", "x", {"n": float("nan")})))
    assert len(plans) == 0


def test_a_temporary_folder_with_a_quote_in_its_path_reads_back(tmp_path, monkeypatch) -> None:
    odd = tmp_path / 'it\'s "odd"'
    odd.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(odd))
    plans = PlanStore(COLUMNS, ["after"])
    plans.add(rows(("1", "a", "x", {"k": "v"})))
    assert plans.folder.parent == odd and plans.frame()["after"].tolist() == [{"k": "v"}]


def test_the_folder_goes_on_close_and_with_the_store() -> None:
    plans = PlanStore(COLUMNS, ["after"])
    plans.add(rows(("1", "a", "x", None)))
    folder = plans.folder
    plans.close()
    assert not folder.exists()
    plans = PlanStore(COLUMNS, ["after"])
    folder = plans.folder
    del plans
    gc.collect()
    assert not folder.exists()


def test_aligned_pairs_two_plans_bucket_by_bucket(store, monkeypatch) -> None:
    monkeypatch.setattr(plan_store, "PIECE_ROWS", 1)
    other = PlanStore(COLUMNS, ["after"])
    other.add(rows(("1", "0", "x", None), ("1", "b", "y", None), ("1", "d", "z", None)))
    other.add(rows(("1", "e", "w", None), ("1", "b", "v", None)))
    pairs = [(list(a["bucket"]), list(b["check_id"])) for a, b in aligned(store, other)]
    assert pairs == [
        (["a"], ["x"]),  # "0" sorts before "a": paired with the first piece
        (["b", "b"], ["y", "v"]),
        (["c"], []),
        ([], ["z"]),  # past the first plan's last bucket: paired with an empty piece
        ([], ["w"]),
    ]
    assert list(aligned(PlanStore(COLUMNS, []), PlanStore(COLUMNS, []))) == []


def test_the_remediation_plan_chosen_from_a_spooled_plan() -> None:
    plans = PlanStore(remediation.PLAN_COLUMNS, ["before", "after"])
    row = dict.fromkeys(remediation.PLAN_COLUMNS, "")
    plans.add(
        pd.DataFrame(
            [
                {**row, "bucket": "b", "check_id": "versioning", "before": None, "after": {}},
                {**row, "bucket": "a", "check_id": "lifecycle", "before": {"Rules": []}},
            ]
        )
    )
    said = remediation.chosen(plans, [])
    assert said.startswith("Remediation is off") and "lifecycle, versioning" in said
    view = remediation.chosen(plans, ["lifecycle"])
    assert isinstance(view, PlanView) and len(view) == 1
    shown = view.readable(view.head(10))
    assert list(shown["bucket"]) == ["a"] and list(shown["before"]) == ['{"Rules":[]}']
    assert "nothing flagged" in remediation.chosen(PlanStore(remediation.PLAN_COLUMNS, []), [])


def test_the_report_shows_the_first_rows_of_a_spooled_plan_and_counts_them_all(
    store, monkeypatch
) -> None:
    from s3compliance.outputs import notebook, tables
    from s3compliance.params import Params

    shown: list[tuple[pd.DataFrame, str]] = []
    monkeypatch.setattr(tables, "show_table", lambda frame, caption: shown.append((frame, caption)))
    params = Params(report_max_rows=3)
    notebook.show_plan(store, "Pulumi import plan", params, lambda f: f[["bucket"]])
    notebook.show_plan(PlanView(store, "bucket = ?", ["b"]), "Remediation plan", params)
    (first, caption), (second, whole) = shown
    assert list(first.columns) == ["bucket"] and list(first["bucket"]) == ["a", "b", "b"]
    assert caption == (
        "Pulumi import plan (the first 3 of 4 rows, by bucket; 1 left out: every row is in "
        "the run folder's pulumi/ program)"
    )
    assert len(second) == 2 and whole == "Remediation plan"
