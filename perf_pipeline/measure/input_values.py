"""Strict checks of single values read from results files.

Each check returns the value in the one form we store, or raises ``InvalidInputError``
with ``what`` (file, benchmark and field) in the message. The rules, and why:

- numbers are JSON numbers (not booleans, not strings), finite, and representable as a
  float: ``1e400`` written as an integer would otherwise overflow deep in the analysis;
- a time or a memory size is a measurement of something that happened, so it is > 0;
  counters (GC collections, I/O bytes, CPU ticks, heap growth) may be 0; nothing is < 0;
- integers fit SQLite's INTEGER (signed 64-bit), or the driver fails at write time;
- instants are ISO-8601 and stored in UTC: history order is text order of these
  stamps, so a ``"zzzz"`` would sort after every real run and be "the newest" forever.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from perf_pipeline.errors import InvalidInputError

__all__ = ["SQLITE_INT_MAX", "checked_int", "checked_number", "checked_text", "utc_instant"]

SQLITE_INT_MAX = 2**63 - 1


def checked_number(value: object, what: str, *, zero_ok: bool = False) -> float:
    """A finite float > 0 (>= 0 with ``zero_ok``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{what} is {_show(value)}, not a number")
    try:
        number = float(value)
    except OverflowError as exc:
        raise InvalidInputError(f"{what} is an integer too large for a float") from exc
    if not math.isfinite(number):
        raise InvalidInputError(f"{what} is {value!r}, not a finite number")
    if number < 0 or (number == 0 and not zero_ok):
        raise InvalidInputError(
            f"{what} is {value!r}; it must be {'>= 0' if zero_ok else '> 0'}")
    return number


def checked_int(value: object, what: str, *, minimum: int = 1) -> int:
    """An integer in ``[minimum, 2**63 - 1]``; an integral float (``8.0``) is accepted."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{what} is {_show(value)}, not an integer")
    if not minimum <= value <= SQLITE_INT_MAX:
        raise InvalidInputError(
            f"{what} is {_show(value)}; it must be in [{minimum}, 2**63 - 1]")
    return value


def checked_text(value: object, what: str, *, optional: bool = False) -> str | None:
    """A string (or None if ``optional``); other JSON types are an error, not ``str()``-ed."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} is {_show(value)}, not a string")
    return value


def utc_instant(value: object, what: str) -> str:
    """An ISO-8601 instant as ``YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00``; naive means UTC."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} is {_show(value)}, not an ISO-8601 time")
    text = value.strip()
    if text[-1:] in ("Z", "z"):  # Python < 3.11 does not read the Z suffix
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise InvalidInputError(
            f"{what} is {_show(value)}, not an ISO-8601 time that can be put in UTC "
            f"({exc})") from exc
    return moment.isoformat()


def _show(value: object) -> str:
    """A short repr: an error message must not carry a megabyte of someone's JSON."""
    try:
        text = repr(value)
    except ValueError:  # an integer of more digits than Python will print
        return "an integer of more than 4300 digits"
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"
