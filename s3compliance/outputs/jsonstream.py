"""JSON documents written a piece at a time, byte for byte what ``json.dumps(indent=2)`` writes.

A run's ``findings.json`` and ``findings.ocsf.json`` hold one entry per bucket or per finding: at
100,000 buckets, building either as one Python object before encoding it took gigabytes. These
functions encode one item at a time into an open file, so a writer holds one bucket's entry, not
the run's, and the file is the same as the whole-document encoding (tests compare them).

Items are encoded by ``orjson`` (``OPT_INDENT_2``): the same text as the standard library's
``indent=2, ensure_ascii=False`` for the report's values, sixty times faster (the standard
library's indenting encoder is pure Python, and was 40 % of a 2,000-bucket publish). The one
difference is a float's exponent (``1e16`` for ``1e+16``), the same number; what orjson refuses
(an integer past 64 bits, from an account's policy) is encoded by the standard library.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import orjson

INDENT = 2


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")
    except TypeError:  # what orjson refuses, e.g. an integer past 64 bits in an account's policy
        return json.dumps(value, indent=INDENT, ensure_ascii=False)


class ArrayWriter:
    """A JSON array written item by item at ``depth`` levels deep: ``[]`` when nothing was
    added, as ``json.dumps`` writes an empty list."""

    def __init__(self, fh: TextIO, depth: int = 0) -> None:
        self.fh = fh
        self.depth = depth
        self.count = 0
        self._inner = "\n" + " " * (INDENT * (depth + 1))

    def add(self, item: Any) -> None:
        self.fh.write(("[" if not self.count else ",") + self._inner)
        self.fh.write(_dumps(item).replace("\n", self._inner))
        self.count += 1

    def close(self) -> None:
        self.fh.write("[]" if not self.count else "\n" + " " * (INDENT * self.depth) + "]")


def write_array(fh: TextIO, items: Iterable[Any]) -> int:
    """Write ``json.dumps(list(items), indent=2, ensure_ascii=False) + "\\n"``; the item count."""
    array = ArrayWriter(fh)
    for item in items:
        array.add(item)
    array.close()
    fh.write("\n")
    return array.count


def write_object(fh: TextIO, head: dict[str, Any], key: str, items: Iterable[Any]) -> int:
    """Write ``json.dumps({**head, key: list(items)}, indent=2, ensure_ascii=False) + "\\n"``,
    keeping ``head``'s key order (``key`` must be one of its keys; its value is ignored); the
    item count.

    The array's place is found through a random marker, so no value of ``head`` (an account's
    name, say) can be mistaken for it."""
    if key not in head:
        raise KeyError(key)
    marker = json.dumps(f"streamed-{secrets.token_hex(16)}")
    before, after = _dumps({**head, key: json.loads(marker)}).split(marker)
    fh.write(before)
    array = ArrayWriter(fh, depth=1)
    for item in items:
        array.add(item)
    array.close()
    fh.write(after + "\n")
    return array.count


def read_object_without(path: Path, key: str, chunk: int = 1 << 22) -> dict[str, Any]:
    """The JSON object in ``path`` with ``key``'s array read as ``[]``, without parsing it.

    ``s3compliance run`` needs the head of ``findings.json`` (the account, the summary) once the
    kernel has written it; parsing the whole file for that took 1 GiB at 100,000 buckets. A file
    laid out as :func:`write_object` writes it (two spaces a level, so the array's items are
    all deeper and its closing bracket is the first line that is ``  ]``; no JSON string holds a
    newline) is read a ``chunk`` at a time and the array skipped. Any other layout is parsed whole,
    with the same result."""
    opening = b"\n" + b" " * INDENT + json.dumps(key).encode() + b": [\n"
    closing = b"\n" + b" " * INDENT + b"]"
    with path.open("rb") as fh:
        before = _read_until(fh, opening, chunk)
        if before is None:  # no such array on its own lines: parse what there is, whole
            fh.seek(0)
            return json.loads(fh.read())
        after = _read_until(fh, closing, chunk, keep=False)
        if after is None:
            raise ValueError(f"{path}: the {key!r} array is not closed")
        # ``before`` ends at the array's "[", ``after`` starts at its "]": an empty array
        return json.loads(before + after + fh.read())


def _read_until(fh: BinaryIO, marker: bytes, chunk: int, keep: bool = True) -> bytes | None:
    """Read ``fh`` until ``marker``. With ``keep``, what was read up to the marker's ``[`` (its
    last byte but the newline), leaving ``fh`` just after it; else only the tail from the
    marker's last byte, the rest dropped a chunk at a time. None at the end of the file."""
    buffer = b""
    while True:
        block = fh.read(chunk)
        searched_from = max(0, len(buffer) - len(marker) + 1)
        buffer += block
        at = buffer.find(marker, searched_from)
        if at >= 0:
            end = at + len(marker)
            if keep:  # up to and with "[": the rest of the buffer is the array's first item
                fh.seek(end - len(buffer) - 1, 1)
                return buffer[: end - 1]
            return buffer[end - 1 :]
        if not block:
            return None
        if not keep:
            buffer = buffer[-(len(marker) - 1) :]
