"""A scan's bucket findings on disk, as Parquet part files, so that memory does not grow with them.

At 100,000 buckets a scan has about a million and a half findings; held as a DataFrame of Python
dicts that was gigabytes in one process (issue 27). Each shard (a few hundred buckets, on a thread
or a Dask worker) encodes its findings as one compressed Parquet part, in the storage format of
the run folder's ``findings.parquet`` (evidence as JSON text), and the driver writes the part into
the spool as it arrives: the driver holds counts, never the rows. What reads them back says how
much it reads: :meth:`FindingSpool.frame` the rows and columns asked for,
:meth:`FindingSpool.sql` an aggregate through DuckDB, :meth:`FindingSpool.tables` one part at a
time.

The spool is a temporary folder (the scan runs before its run folder is staged), removed when the
spool is closed or garbage collected. Parts are named by their index: read in that order, the
findings are in the order of the scan's bucket rows (shard after shard).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: The columns of a finding, and how ``findings.parquet`` (and each part) stores them.
FINDING_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("account_name", pa.string()),
        ("bucket", pa.string()),
        ("bucket_arn", pa.string()),
        ("region", pa.string()),
        ("check_id", pa.string()),
        ("status", pa.string()),
        ("severity", pa.string()),
        ("reason", pa.string()),
        ("violation", pa.string()),
        ("error_code", pa.string()),
        ("evidence", pa.string()),  # JSON text, keys sorted: a column of one type
        ("remediation", pa.string()),
        ("frameworks", pa.list_(pa.string())),
        ("finding_id", pa.string()),
        ("exception_id", pa.string()),  # the accepted risk a FAIL is covered by ("" when none)
        ("exception_expires", pa.string()),  # its end date, ISO ("" when none)
    ]
)
FINDING_COLUMNS = list(FINDING_SCHEMA.names)


def evidence_text(evidence: Any) -> str:
    """Evidence as stored: JSON with sorted keys (what is not JSON, e.g. a date, as text)."""
    return json.dumps(evidence, sort_keys=True, default=str)


def to_table(findings: pd.DataFrame) -> pa.Table:
    """Findings (evidence as dicts) as an Arrow table of :data:`FINDING_SCHEMA`."""
    if not len(findings):  # an empty frame's columns have no types to convert
        return FINDING_SCHEMA.empty_table()
    frame = findings[FINDING_COLUMNS].copy()
    frame["evidence"] = [evidence_text(e) for e in frame["evidence"]]
    frame["frameworks"] = [list(f) for f in frame["frameworks"]]
    return pa.Table.from_pandas(frame, schema=FINDING_SCHEMA, preserve_index=False)


def encode(findings: pd.DataFrame) -> bytes:
    """One part: the findings as compressed Parquet bytes (what a shard hands the driver: about
    a hundred bytes a finding, where the rows in memory were kilobytes)."""
    sink = io.BytesIO()
    pq.write_table(to_table(findings), sink, compression="zstd")
    return sink.getvalue()


def decode(table: pa.Table) -> pd.DataFrame:
    """Rows read back as the scan made them: evidence parsed, frameworks as lists."""
    frame = table.to_pandas()
    if "evidence" in frame:
        frame["evidence"] = [json.loads(e) for e in frame["evidence"]]
    if "frameworks" in frame:
        frame["frameworks"] = [list(f) for f in frame["frameworks"]]
    return frame


def decode_part(data: bytes) -> pd.DataFrame:
    """A part's bytes (:func:`encode`) read back as findings."""
    return decode(pq.read_table(io.BytesIO(data)))


@dataclass(frozen=True)
class Part:
    index: int
    path: Path
    buckets: int  # the bucket rows the part's shard made (a bucket may have no finding)
    rows: int


class SpoolError(RuntimeError):
    """A part could not be added (not Parquet, or not of :data:`FINDING_SCHEMA`)."""


class FindingSpool:
    """The bucket findings of one scan, one Parquet part per shard, in a temporary folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="s3compliance-spool-"))
        self._parts: dict[int, Part] = {}
        self._closer = weakref.finalize(self, shutil.rmtree, str(self.folder), True)

    @classmethod
    def of(cls, findings: pd.DataFrame, buckets: int) -> FindingSpool:
        """A spool of one part: ``findings`` (in the order of their ``buckets`` bucket rows),
        e.g. a result rebuilt around findings chosen or edited in a notebook."""
        made = cls()
        made.add_frame(0, findings, buckets)
        return made

    def add(self, index: int, data: bytes, buckets: int) -> Part:
        """Write part ``index`` (bytes from :func:`encode`) for a shard of ``buckets`` bucket
        rows; checked to be Parquet of the finding schema before it is kept."""
        if index in self._parts:
            raise SpoolError(f"part {index} was added twice")
        try:
            meta = pq.read_metadata(io.BytesIO(data))
            schema = meta.schema.to_arrow_schema()
        except (OSError, pa.ArrowException) as exc:
            raise SpoolError(f"part {index} is not Parquet: {exc}") from exc
        if not schema.equals(FINDING_SCHEMA):
            raise SpoolError(f"part {index} is not of the finding schema: {schema.names}")
        path = self.folder / f"part-{index:08d}.parquet"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        part = self._parts[index] = Part(index, path, buckets, meta.num_rows)
        return part

    def add_frame(self, index: int, findings: pd.DataFrame, buckets: int) -> Part:
        """Encode and add: the in-process path (a single account's chunks)."""
        return self.add(index, encode(findings), buckets)

    @property
    def parts(self) -> list[Part]:
        """Every part, in index order (the order of the scan's bucket rows)."""
        return [self._parts[i] for i in sorted(self._parts)]

    @property
    def count(self) -> int:
        """How many findings the spool holds (read from the parts' footers, not the rows)."""
        return sum(p.rows for p in self._parts.values())

    def tables(self, columns: list[str] | None = None) -> Iterator[tuple[Part, pa.Table]]:
        """Each part's rows, one part at a time, in order."""
        for part in self.parts:
            yield part, pq.read_table(part.path, columns=columns)

    def frame(
        self,
        columns: list[str] | None = None,
        statuses: Collection[str] | None = None,
        buckets: Collection[str] | None = None,
        parts: list[Part] | None = None,
    ) -> pd.DataFrame:
        """The findings with ``statuses`` (all when None) of ``buckets`` (all when None), in
        order, decoded (:func:`decode`), from every part (or ``parts``). It holds what it
        returns: every finding of a large scan is gigabytes; the ERROR ones, or one bucket's,
        are not."""
        wanted = list(columns or FINDING_COLUMNS)
        read = list(dict.fromkeys([*wanted, "status", "bucket"]))
        pieces = []
        chosen = self.parts if parts is None else parts
        for table in (pq.read_table(p.path, columns=read) for p in chosen):
            keep = None
            if statuses is not None:
                keep = pc.is_in(table["status"], pa.array(list(statuses), pa.string()))
            if buckets is not None:
                mine = pc.is_in(table["bucket"], pa.array(list(buckets), pa.string()))
                keep = mine if keep is None else pc.and_(keep, mine)
            pieces.append((table if keep is None else table.filter(keep)).select(wanted))
        schema = pa.schema([FINDING_SCHEMA.field(c) for c in wanted])
        return decode(pa.concat_tables(pieces) if pieces else schema.empty_table())

    def sql(self, query: str, parameters: list[Any] | None = None) -> pd.DataFrame:
        """``query`` over a DuckDB view ``findings`` of every part (aggregates read only the
        columns they name, never the rows into Python)."""
        import duckdb

        con = duckdb.connect()
        try:
            con.execute("SET preserve_insertion_order = false")
            files = [str(p.path) for p in self.parts]
            if files:
                con.read_parquet(files).create_view("findings")
            else:
                empty = FINDING_SCHEMA.empty_table()
                con.register("findings", empty)
            return con.execute(query, parameters or []).df()
        finally:
            con.close()

    def write_parquet(self, path: Path, tail: pa.Table) -> int:
        """Every part, then ``tail`` (the account-level findings), into one Parquet file at
        ``path``, a part at a time; the number of rows."""
        rows = 0
        with pq.ParquetWriter(path, FINDING_SCHEMA) as writer:
            for _, table in self.tables():
                writer.write_table(table)
                rows += table.num_rows
            writer.write_table(tail)
            rows += tail.num_rows
        return rows

    def close(self) -> None:
        """Remove the folder (also done when the spool is garbage collected, or at exit)."""
        self._closer()
