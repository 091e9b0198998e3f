"""Pulumi plans held on disk, a spooled part at a time, and read back by bucket.

A plan row holds the document it imports or fixes: at 5,000 buckets the two plans of a scan
took 33 MiB of the report kernel, and a 100,000-bucket organization would hold about 650 MiB of
them to write one program. :func:`s3compliance.iac.pulumi_import.plan_scan` therefore adds each
part's plan rows to a :class:`PlanStore` (zstd Parquet in a private temporary folder, documents
as JSON text) and the writers read them back in bucket order, a few thousand rows at a time
(DuckDB sorts out of core); the report shows the first ``report_max_rows`` rows.

Rows keep their order: ``(bucket, seq)``, ``seq`` counting rows as they were added, which is the
order of a stable sort by bucket of every part's rows concatenated (what planning every finding at
once gives). Documents go through JSON and back: they came from the scan's evidence (JSON text in
its spool) or from a ``findings.json``, so that is exact; a value JSON cannot hold is refused.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: Rows read back at a time (a piece ends at a bucket's last row, so it may hold a few more).
PIECE_ROWS = 5000


class PlanStore:
    """Plan rows (a DataFrame's ``columns``, those in ``documents`` as JSON text) spooled as
    Parquet parts. Every read goes through DuckDB over the parts; the folder is removed on
    :meth:`close`, when the store is garbage-collected, or at exit."""

    def __init__(self, columns: Sequence[str], documents: Sequence[str]) -> None:
        if "bucket" not in columns or not set(documents) <= set(columns):
            raise ValueError(f"a plan needs a bucket column and its documents: {columns!r}")
        self.columns = list(columns)
        self.documents = frozenset(documents)
        self.folder = Path(tempfile.mkdtemp(prefix="s3compliance-plan-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.folder), True)
        self._schema = pa.schema([(c, pa.string()) for c in self.columns] + [("seq", pa.int64())])
        self._files: list[str] = []
        self._rows = 0

    @classmethod
    def of(cls, frame: pd.DataFrame, columns: Sequence[str], documents: Sequence[str]) -> PlanStore:
        """A store holding ``frame`` (a plan made in one piece, e.g. from ``findings.json``)."""
        store = cls(columns, documents)
        store.add(frame)
        return store

    def add(self, frame: pd.DataFrame) -> None:
        """Spool a part's rows (any order: reads sort by bucket, then by when rows came)."""
        if not len(frame):
            return
        arrays = [pa.array(self._texts(frame[c], c), pa.string()) for c in self.columns]
        arrays.append(pa.array(range(self._rows, self._rows + len(frame)), pa.int64()))
        path = self.folder / f"part-{len(self._files):06d}.parquet"
        pq.write_table(pa.Table.from_arrays(arrays, schema=self._schema), path, compression="zstd")
        self._files.append(str(path))
        self._rows += len(frame)

    def _texts(self, values: Iterable[Any], column: str) -> list[str | None]:
        if column in self.documents:
            return [None if v is None else json.dumps(v, allow_nan=False) for v in values]
        out: list[str | None] = []
        for v in values:
            if not isinstance(v, str):  # plans are text here: anything else would be guessed
                raise TypeError(f"plan column {column!r} holds {type(v).__name__}, not text")
            out.append(v)
        return out

    def __len__(self) -> int:
        return self._rows

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A new DuckDB connection with the view ``plan`` over the parts."""
        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")
        if self._files:  # paths as values, never as SQL text (a temp dir may hold a quote)
            con.read_parquet(self._files).create_view("plan")
        else:  # nothing planned: an empty view of the same columns
            empty = ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in self.columns)
            con.execute(f"CREATE VIEW plan AS SELECT {empty}, 0::BIGINT AS seq LIMIT 0")
        return con

    def _query(
        self,
        sql: str,
        where: str = "",
        args: Sequence[Any] = (),
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """``sql`` over the view ``plan``, by default on a connection of its own (a reader being
        streamed is never interrupted by another query); ``{where}`` in it becomes the
        condition."""
        query = sql.format(where=f"WHERE {where}" if where else "")
        return (con or self._connect()).sql(query, params=list(args) or None)

    def count(self, where: str = "", args: Sequence[Any] = ()) -> int:
        """Rows matching the SQL condition ``where`` over the plan's columns (values as ``?``
        placeholders, given in ``args``: nothing from an account is ever spliced into SQL)."""
        return int(self._query("SELECT count(*) FROM plan {where}", where, args).fetchall()[0][0])

    def count_distinct(self, column: str, where: str = "", args: Sequence[Any] = ()) -> int:
        """How many values ``column`` takes (over the rows matching ``where``)."""
        sql = f"SELECT count(DISTINCT {column}) FROM plan {{where}}"
        return int(self._query(sql, where, args).fetchall()[0][0])

    def distinct(self, column: str, where: str = "", args: Sequence[Any] = ()) -> list[str]:
        """The values of ``column``, in the order they first appear (by bucket)."""
        sql = (
            f"SELECT {column} FROM (SELECT {column}, row_number() OVER (ORDER BY bucket, seq) AS r"
            " FROM plan {where}) GROUP BY ALL ORDER BY min(r)"
        )
        return [row[0] for row in self._query(sql, where, args).fetchall()]

    def head(self, rows: int, where: str = "", args: Sequence[Any] = ()) -> pd.DataFrame:
        """The first ``rows`` rows by bucket."""
        sql = f"SELECT * FROM plan {{where}} ORDER BY bucket, seq LIMIT {int(rows)}"
        return self._frame(self._query(sql, where, args).to_arrow_table())

    def frame(self, where: str = "", args: Sequence[Any] = ()) -> pd.DataFrame:
        """Every row (matching ``where``) as one DataFrame: reads the whole plan."""
        pieces = list(self.pieces(where, args))
        return pd.concat(pieces, ignore_index=True) if pieces else self.empty()

    def empty(self) -> pd.DataFrame:
        """No row, the plan's columns."""
        return self._frame(None)

    def pieces(
        self, where: str = "", args: Sequence[Any] = (), rows: int | None = None
    ) -> Iterator[pd.DataFrame]:
        """The rows by bucket, at most ``rows`` (:data:`PIECE_ROWS`) at a time; a bucket's rows
        are never split (a bucket of more rows is a piece of its own).

        One ``ORDER BY`` over the whole plan would have DuckDB hold every row sorted until the
        last piece is read (228 MiB for the program's two plans at 100,000 buckets). Instead the
        bucket names are read in order with their row counts, cut into ranges of about
        ``rows`` rows, and each range is read and sorted on its own: memory holds one piece."""
        within = "bucket >= ? AND bucket <= ?"
        condition = f"({where}) AND {within}" if where else within
        sql = "SELECT * FROM plan {where} ORDER BY bucket, seq"
        con = self._connect()  # one for every range: each is read whole before the next
        try:
            for low, high in self._ranges(where, args, rows or PIECE_ROWS):
                table = self._query(sql, condition, [*args, low, high], con).to_arrow_table()
                yield self._frame(table)
        finally:
            con.close()

    def _ranges(self, where: str, args: Sequence[Any], rows: int) -> Iterator[tuple[str, str]]:
        """``(first, last)`` bucket of each piece: consecutive buckets by name, together at
        most ``rows`` rows (or one bucket), read a batch of names at a time."""
        sql = "SELECT bucket, count(*) FROM plan {where} GROUP BY bucket ORDER BY bucket"
        low, high, held = "", "", 0
        for batch in self._query(sql, where, args).to_arrow_reader(10_000):
            names, counts = batch.column(0).to_pylist(), batch.column(1).to_pylist()
            for bucket, count in zip(names, counts, strict=True):
                if held and held + count > rows:
                    yield low, high
                    held = 0
                if not held:
                    low = bucket
                high, held = bucket, held + count
        if held:
            yield low, high

    def _frame(self, table: pa.Table | None) -> pd.DataFrame:
        if table is None or not table.num_rows:  # as a plan of no row: object columns
            return pd.DataFrame({c: pd.Series([], dtype=object) for c in self.columns})
        data = {}
        for c in self.columns:
            values = table.column(c).to_pylist()
            data[c] = (
                [None if v is None else json.loads(v) for v in values]
                if (c in self.documents)
                else values
            )
        return pd.DataFrame(data, columns=self.columns)

    def close(self) -> None:
        """Remove the spooled parts now."""
        self._finalizer()


@dataclass(frozen=True)
class PlanView:
    """The rows of a :class:`PlanStore` matching ``where`` (``?`` placeholders, ``args``), as a
    report shows them: how many, the first by bucket, and how to make them ``readable``."""

    store: PlanStore
    where: str
    args: Sequence[Any] = ()
    readable: Callable[[pd.DataFrame], pd.DataFrame] | None = None

    def __len__(self) -> int:
        return self.store.count(self.where, self.args)

    def head(self, rows: int) -> pd.DataFrame:
        return self.store.head(rows, self.where, self.args)


def aligned(
    first: PlanStore, second: PlanStore, where: str = "", args: Sequence[Any] = ()
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Two plans read by bucket and paired over the same buckets: each of ``first``'s pieces
    with ``second``'s rows (matching ``where``) up to its last bucket; then the rows of
    ``second`` past ``first``'s last bucket, paired with an empty piece."""
    rest = second.pieces(where, args)
    buffer = second.empty()
    for piece in first.pieces():
        top = piece["bucket"].iloc[-1]
        while not len(buffer) or buffer["bucket"].iloc[-1] <= top:
            following = next(rest, None)
            if following is None:
                break
            buffer = pd.concat([buffer, following], ignore_index=True)
        within = (buffer["bucket"] <= top).to_numpy()
        yield piece, buffer[within].reset_index(drop=True)
        buffer = buffer[~within].reset_index(drop=True)
    for following in [buffer, *rest]:
        if len(following):
            yield first.empty(), following
