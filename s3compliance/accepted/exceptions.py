"""The exceptions file: its format, and reading it as untrusted input.

The file is YAML with one key, ``exceptions``, a list of entries (``params/exceptions.example.yaml``
documents every key). It comes from a repository where changes are reviewed, but it is read the
way a findings file is: every rule is checked before any AWS call, and the first broken one is
refused in one line naming the file, the entry and the key. The rules that make an exception a
reviewed, time-boxed, scoped fact:

* ``id`` is unique (a ticket number: ``[A-Za-z0-9._-]{1,64}``);
* ``checks`` are bucket-level catalogue ids: an account-level check cannot be excepted;
* ``buckets`` are glob patterns; a bare ``*`` needs ``allow_all_buckets: true`` on the entry;
* ``reason`` and ``owner`` are required; ``expires`` is a date no more than ``max_days`` after the
  run's date (no exception is forever), through which the entry is active, inclusive;
* ``when_tagged`` can only *narrow* an entry to buckets carrying a tag: a bucket owner who can
  tag their bucket cannot mute their own finding, since the entry must already name the bucket.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from s3compliance.checks import CATALOGUE

#: Days an exception may run past the run's date unless the parameter says otherwise.
DEFAULT_MAX_DAYS = 365
#: Days before its end at which an exception is reported as ``expiring``.
DEFAULT_WARNING_DAYS = 14

_TEXT = {"type": "string", "minLength": 1, "pattern": "\\S"}
_ID = "^[A-Za-z0-9._-]{1,64}$"
_ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "checks", "buckets", "reason", "owner", "expires"],
    "properties": {
        "id": {"type": "string", "pattern": _ID},
        "checks": {"type": "array", "minItems": 1, "uniqueItems": True, "items": _TEXT},
        "buckets": {"type": "array", "minItems": 1, "uniqueItems": True, "items": _TEXT},
        "accounts": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^\\d{12}$"},
        },
        "regions": {"type": "array", "minItems": 1, "uniqueItems": True, "items": _TEXT},
        "reason": _TEXT,
        "owner": _TEXT,
        "approved_by": _TEXT,
        "ticket": _TEXT,
        "expires": {},  # a date: checked below (YAML reads 2027-03-31 as a date, "..." as text)
        "when_tagged": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "string"},
        },
        "allow_all_buckets": {"type": "boolean"},
    },
}
#: The keys of an entry, in the order the example file documents them.
ENTRY_KEYS = tuple(_ENTRY_SCHEMA["properties"])


class ExceptionsError(ValueError):
    """The exceptions file is unreadable or breaks a rule; the message says where, in one line."""


@dataclass(frozen=True)
class RiskException:
    """One accepted risk: what it covers, who owns it, and until when."""

    id: str
    checks: tuple[str, ...]
    buckets: tuple[str, ...]
    reason: str
    owner: str
    expires: date
    accounts: tuple[str, ...] = ()  # empty: every scanned account
    regions: tuple[str, ...] = ()  # empty: every scanned region
    approved_by: str = ""
    ticket: str = ""
    when_tagged: tuple[tuple[str, str], ...] = ()
    allow_all_buckets: bool = False

    def active_on(self, day: date) -> bool:
        """Active through ``expires`` inclusive."""
        return day <= self.expires

    def scopes(self, account_id: str, region: str, bucket: str, check_id: str) -> bool:
        """Does the entry name this finding (check, bucket pattern, account, region)? Tags and
        expiry are judged separately."""
        return (
            check_id in self.checks
            and any(fnmatch.fnmatchcase(bucket, pattern) for pattern in self.buckets)
            and (not self.accounts or account_id in self.accounts)
            and (not self.regions or region in self.regions)
        )

    def tagged(self, tags: dict[str, str]) -> bool:
        """The bucket carries every tag of ``when_tagged`` with its value."""
        return all(tags.get(key) == value for key, value in self.when_tagged)

    def to_dict(self) -> dict[str, Any]:
        """The entry as the report and the CLI show it (plain JSON types)."""
        return {
            "id": self.id,
            "checks": list(self.checks),
            "buckets": list(self.buckets),
            "accounts": list(self.accounts),
            "regions": list(self.regions),
            "reason": self.reason,
            "owner": self.owner,
            "approved_by": self.approved_by,
            "ticket": self.ticket,
            "expires": self.expires.isoformat(),
            "when_tagged": dict(self.when_tagged),
        }


@dataclass(frozen=True)
class ExceptionSet:
    """The validated file: its entries, the date they are judged on, and its SHA-256."""

    entries: tuple[RiskException, ...]
    run_date: date
    sha256: str = ""
    source: str = ""
    warning_days: int = DEFAULT_WARNING_DAYS

    @property
    def needs_tags(self) -> bool:
        """Some entry is narrowed by tags: the scan must read each bucket's tags."""
        return any(e.when_tagged for e in self.entries)

    def active(self) -> list[RiskException]:
        return [e for e in self.entries if e.active_on(self.run_date)]


def _where(source: str, entry: Any, index: int, key: str) -> str:
    name = entry.get("id") if isinstance(entry, dict) else None
    valid = isinstance(name, str) and re.fullmatch(_ID, name)  # an invalid id is not echoed
    label = f"entry {name!r}" if valid else f"entry #{index + 1}"
    return f"{source}: {label}" + (f", key {key!r}" if key else "")


def _expiry(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError("a date (YYYY-MM-DD), not a time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("not a date (YYYY-MM-DD)")


def _entry(raw: dict[str, Any], where: str, run_date: date, max_days: int) -> RiskException:
    """One entry, past the schema: the rules that need the catalogue or the run's date."""
    checks = tuple(raw["checks"])
    unknown = [c for c in checks if c not in CATALOGUE]
    if unknown:
        raise ExceptionsError(
            f"{where}, key 'checks': unknown check id(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(CATALOGUE)})"
        )
    account_level = [c for c in checks if CATALOGUE[c].scope != "bucket"]
    if account_level:
        raise ExceptionsError(
            f"{where}, key 'checks': {', '.join(map(repr, account_level))} is an account-level "
            "check, which cannot be excepted"
        )
    if "*" in raw["buckets"] and not raw.get("allow_all_buckets", False):
        raise ExceptionsError(
            f"{where}, key 'buckets': a bare '*' covers every bucket: name the buckets, or set "
            "allow_all_buckets: true on this entry"
        )
    try:
        expires = _expiry(raw["expires"])
    except ValueError as exc:
        raise ExceptionsError(f"{where}, key 'expires': {exc}") from None
    if (expires - run_date).days > max_days:
        raise ExceptionsError(
            f"{where}, key 'expires': {expires.isoformat()} is more than {max_days} days after "
            f"the run's date {run_date.isoformat()} (max_exception_days): no exception is forever"
        )
    return RiskException(
        id=raw["id"],
        checks=checks,
        buckets=tuple(raw["buckets"]),
        reason=raw["reason"].strip(),
        owner=raw["owner"].strip(),
        expires=expires,
        accounts=tuple(raw.get("accounts", ())),
        regions=tuple(raw.get("regions", ())),
        approved_by=raw.get("approved_by", "").strip(),
        ticket=raw.get("ticket", "").strip(),
        when_tagged=tuple(sorted(raw.get("when_tagged", {}).items())),
        allow_all_buckets=raw.get("allow_all_buckets", False),
    )


def parse_exceptions(
    text: str,
    source: str,
    run_date: date,
    max_days: int = DEFAULT_MAX_DAYS,
    warning_days: int = DEFAULT_WARNING_DAYS,
    sha256: str | None = None,
) -> ExceptionSet:
    """Validate the file's text; :class:`ExceptionsError` names the first broken rule.
    ``sha256`` is the file's digest (default: of the UTF-8 text)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ExceptionsError(f"{source}: not valid YAML{at}") from None
    if not isinstance(data, dict) or set(data) != {"exceptions"}:
        raise ExceptionsError(f"{source}: expected a mapping with one key, 'exceptions' (a list)")
    raw_entries = data["exceptions"] or []
    if not isinstance(raw_entries, list):
        raise ExceptionsError(f"{source}: key 'exceptions': expected a list of entries")
    validator = jsonschema.Draft202012Validator(_ENTRY_SCHEMA)
    entries: list[RiskException] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_entries):
        errors = sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.path)))
        if errors:
            first = errors[0]
            key = str(first.path[0]) if first.path else ""
            if first.validator == "additionalProperties":
                extra = sorted(set(raw) - set(ENTRY_KEYS))
                key = str(extra[0])
                message = f"unknown key (known keys: {', '.join(ENTRY_KEYS)})"
            elif first.validator == "required":
                key = first.message.split("'")[1]
                message = "is required"
            else:
                message = _short(first)
            raise ExceptionsError(f"{_where(source, raw, index, key)}: {message}")
        if raw["id"] in seen:
            raise ExceptionsError(f"{_where(source, raw, index, 'id')}: duplicate id")
        seen.add(raw["id"])
        entries.append(_entry(raw, _where(source, raw, index, ""), run_date, max_days))
    digest = sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest()
    return ExceptionSet(tuple(entries), run_date, digest, source, warning_days)


def _short(error: jsonschema.ValidationError) -> str:
    """The schema's complaint without echoing the value (it is untrusted input)."""
    item = f"item {error.path[1]} " if len(error.path) > 1 else ""
    if error.validator == "pattern":
        return f"{item}does not match {error.validator_value}"
    if error.validator == "type":
        return f"{item}expected {error.validator_value}"
    return f"{item}fails {error.validator} ({error.validator_value})"


def load_exceptions(
    path: str | Path,
    run_date: date,
    max_days: int = DEFAULT_MAX_DAYS,
    warning_days: int = DEFAULT_WARNING_DAYS,
) -> ExceptionSet:
    """Read and validate an exceptions file (see :func:`parse_exceptions`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExceptionsError(f"{path}: cannot read the exceptions file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ExceptionsError(f"{path}: not UTF-8 text") from None
    digest = hashlib.sha256(raw).hexdigest()
    return parse_exceptions(text, str(path), run_date, max_days, warning_days, digest)
