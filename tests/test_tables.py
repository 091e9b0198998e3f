"""Interactive tables: offline, every row, text never markup (itables options)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from s3compliance.outputs import tables


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()  # the next test in this worker sees no shell


def test_the_bundle_is_embedded_before_the_code_that_awaits_it(shell) -> None:
    with capture_output() as captured:
        tables.init_interactive_tables()
    html = [o.data["text/html"] for o in captured.outputs]
    assert len(html) == 2
    assert "injectModule" in html[0]  # the DataTables bundle, base64, no CDN
    assert "set_or_remove_dark_class" in html[1]
    assert "unpkg.com" not in html[1]  # offline: awaits the embedded bundle
    assert pd.get_option("display.max_colwidth") is None


def test_a_large_table_keeps_every_row_and_escapes_markup(shell) -> None:
    frame = pd.DataFrame(
        {"bucket": [f"bucket-{i:05d}" for i in range(20_000)], "reason": "x" * 200}
    )
    frame.loc[7, "reason"] = "<img src=x onerror=alert(1)>"
    html = tables.table_html(frame, "All")
    assert "downsampled" not in html.lower()
    assert "bucket-19999" in html and "bucket-00000" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    with capture_output() as captured:
        tables.show_table(frame.head(3), "Three")
    assert "bucket-00002" in captured.outputs[0].data["text/html"]


def test_a_table_within_the_limit_is_shown_whole() -> None:
    frame = pd.DataFrame({"bucket": ["a", "b", "c"]})
    kept, caption = tables.cut(frame, "Buckets", max_rows=3)
    assert kept is frame and caption == "Buckets"


def test_a_cut_table_says_exactly_how_many_rows_it_left_out() -> None:
    frame = pd.DataFrame({"bucket": [f"b-{i:06d}" for i in range(123_456)]})
    kept, caption = tables.cut(frame, "Buckets that fail", max_rows=50_000)
    assert kept["bucket"].tolist() == frame["bucket"].head(50_000).tolist()  # the first ones
    assert caption == (
        "Buckets that fail (the first 50,000 of 123,456 rows, worst first; 73,456 left out: "
        "every row is in findings.parquet and the explore notebook)"
    )


def test_each_text_and_number_column_has_its_type_so_the_browser_need_not_detect_it() -> None:
    """DataTables reads every cell of a column to detect its type unless ``columnDefs`` names
    it: text is ``string``, a number ``num``; a category (itables sorts it by rank), a date, a
    flag and a column of mixed values are left to DataTables' detection."""
    frame = pd.DataFrame(
        {
            "bucket": ["b-1", None],
            "violations": [10, 9],
            "rate": [0.5, float("nan")],
            "public": [True, False],
            "severity": pd.Categorical(["high", "low"]),
            "mixed": [{"k": 1}, "text"],
            "when": pd.to_datetime(["2026-01-01", "2026-02-01"]),
            "empty": [None, None],
        }
    )
    assert tables.column_types(frame) == [
        {"type": "num", "targets": [1, 2]},
        {"type": "string", "targets": [0, 7]},
    ]
    html = tables.table_html(frame, "Typed")
    assert '"autoWidth": false' in html
    assert (
        '{"targets": [1, 2], "type": "num"}, {"targets": [0, 7], "type": "string"}, '
        '{"className": "s3c-nowrap", "targets": [0, 4]}, '
        '{"className": "dt-left", "targets": "_all"}]' in html
    )  # a bucket name is never broken a character a line; free text still wraps
    assert "table.dataTable td.s3c-nowrap { white-space: nowrap; }" in html
    text_only = tables.table_html(frame[["violations", "mixed"]], "No names")
    assert "s3c-nowrap" not in text_only.split("columnDefs", 1)[1].split("\n", 1)[0]
    own = tables.table_html(frame, "Own", columnDefs=[{"targets": 0, "visible": False}])
    assert '{"targets": 0, "visible": false}]' in own  # the caller's, as given
    assert '"type": "num"' not in own
