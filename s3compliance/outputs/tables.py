"""Interactive tables: every row of a report table, searchable, sortable, paged, offline.

Every row up to ``report_max_rows`` (default 50,000) per table: past that, :func:`cut` keeps the
worst rows and its caption says how many were left out (a browser does not open a report of
millions of rows; ``findings.parquet`` and the explore notebook hold them all).

pandas truncates a long table (10 rows and a ``...`` row) and long text (``...``); a report that
hides most of its findings is worse than none. The report and the explore notebook render their
tables with itables (DataTables) instead:

* offline: the DataTables bundle is embedded once by :func:`init_interactive_tables` (no CDN;
  audit environments often have no internet, and a report must not call out when opened);
* never downsampled: ``maxBytes=0``, ``maxRows=0``, ``maxColumns=0``;
* text, never markup: ``allow_html=False``, so a policy value such as
  ``<img src=x onerror=...>`` from the scanned account is escaped, not rendered;
* quick to open at 50,000 rows a table (``bench/scale_bench.py`` times it in Chromium): each text
  and number column's DataTables type is given (:func:`column_types`), and column widths are left
  to the browser (``autoWidth=False``). Otherwise DataTables reads every cell of every column
  twice before the first page is drawn, to detect its type and to find its longest text: 1.5 s of
  the 5.3 s a 10,000-bucket report took to open.

The same calls render the same tables in JupyterLab and in the nbconvert HTML report.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: Options every table gets: all rows and columns, escaped, searchable, 25 rows a page.
TABLE_OPTIONS: dict[str, Any] = {
    "maxBytes": 0,
    "maxRows": 0,
    "maxColumns": 0,
    "allow_html": False,
    "showIndex": False,
    "pageLength": 25,
    "lengthMenu": [10, 25, 100, -1],  # -1: "All"
    "classes": "display compact cell-border",
    "columnDefs": [{"className": "dt-left", "targets": "_all"}],
    "autoWidth": False,
    "display_logo_when_loading": False,
}


def column_types(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataTables ``columnDefs`` naming the type of each text (``string``) and number (``num``)
    column of ``frame``, so the browser does not detect them over every row. Other columns (a
    category, which itables sorts by rank; a date; a flag) are left to DataTables' detection."""
    kinds: dict[str, list[int]] = {"num": [], "string": []}
    for index, (_name, dtype) in enumerate(frame.dtypes.items()):
        if pd.api.types.is_bool_dtype(dtype):
            continue
        if pd.api.types.is_numeric_dtype(dtype):
            kinds["num"].append(index)
        elif pd.api.types.infer_dtype(frame.iloc[:, index], skipna=True) in ("string", "empty"):
            kinds["string"].append(index)
    return [{"type": kind, "targets": targets} for kind, targets in kinds.items() if targets]


#: Columns of names and codes: never wrapped, so a narrow column does not break a bucket name
#: one character a line (long free text still wraps).
NOWRAP_COLUMNS = frozenset(
    {"bucket", "bucket_name", "account_id", "region", "check_id", "status", "severity"}
)
NOWRAP_CSS = "table.dataTable td.s3c-nowrap { white-space: nowrap; }"


def _options(frame: pd.DataFrame, options: dict[str, Any]) -> dict[str, Any]:
    merged = TABLE_OPTIONS | options
    if "columnDefs" not in options:
        nowrap = [i for i, name in enumerate(frame.columns) if name in NOWRAP_COLUMNS]
        keep = [{"className": "s3c-nowrap", "targets": nowrap}] if nowrap else []
        merged["columnDefs"] = column_types(frame) + keep + TABLE_OPTIONS["columnDefs"]
        merged.setdefault("css", NOWRAP_CSS)
    return merged


def init_interactive_tables() -> None:
    """Embed the DataTables bundle into the notebook (offline), and let pandas show full text
    where a plain frame is still printed.

    itables emits two outputs: a module script that awaits the bundle, then the bundle itself.
    JupyterLab may run the first before the second is attached (a console error,
    ``Cannot destructure property 'set_or_remove_dark_class'``), so they are shown bundle first.
    """
    import itables
    from IPython.display import publish_display_data
    from IPython.utils.capture import capture_output

    with capture_output(stdout=False, stderr=False) as captured:
        itables.init_notebook_mode(all_interactive=False, connected=False)
    for output in reversed(captured.outputs):
        publish_display_data(output.data, output.metadata)
    pd.set_option("display.max_colwidth", None)


def show_table(frame: pd.DataFrame, caption: str, **options: Any) -> None:
    """Display ``frame`` as an interactive table with every row (see :data:`TABLE_OPTIONS`)."""
    import itables

    frame = frame.reset_index(drop=True)
    itables.show(frame, caption=caption, **_options(frame, options))


#: Where every row of a cut findings table is.
IN_FINDINGS = "every row is in findings.parquet and the explore notebook"


def cut(
    frame: pd.DataFrame,
    caption: str,
    max_rows: int,
    where: str = IN_FINDINGS,
    order: str = "worst first",
    total: int | None = None,
) -> tuple[pd.DataFrame, str]:
    """At most ``max_rows`` rows of a table already sorted (``order``), and its caption; a cut
    table's caption says exactly how many rows were left out and ``where`` every row is. With
    ``total``, ``frame`` is the first rows of a table of that many (read from disk)."""
    count = len(frame) if total is None else total
    if count <= max_rows:
        return frame, caption
    left_out = count - max_rows
    return frame.head(max_rows), (
        f"{caption} (the first {max_rows:,} of {count:,} rows, {order}; {left_out:,} "
        f"left out: {where})"
    )


def table_html(frame: pd.DataFrame, caption: str, **options: Any) -> str:
    """The same table as an HTML fragment (for pages assembled outside a notebook)."""
    import itables

    frame = frame.reset_index(drop=True)
    return str(itables.to_html_datatable(frame, caption=caption, **_options(frame, options)))
