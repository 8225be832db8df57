"""The nightly schedule's cron expression and time zone, checked when settings load.

Dagster checks them only when the definitions load, and a bad one there fails the whole
code location (every asset, sensor and check gone) with a Dagster traceback. Settings
refuse them first, naming the setting, as every other setting is refused. The grammar
is the five-field one Dagster accepts (no seconds field), with names for months and days
and the ``@daily``-style shorthands.
"""

from __future__ import annotations

import re
import zoneinfo

from perf_pipeline.errors import InvalidInputError

__all__ = ["check_cron", "check_timezone"]

_SHORTHANDS = frozenset({"@hourly", "@daily", "@midnight", "@weekly", "@monthly",
                         "@yearly", "@annually"})
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: (field name, lowest, highest, names from ``lowest`` on)
_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
           ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _DAYS))
#: The most days each month can have (February: a leap year's 29).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_ITEM = re.compile(r"(?P<range>[*?]|(?P<a>\w+)(?:-(?P<b>\w+))?)(?:/(?P<step>\d+))?")


def _value(token: str, low: int, high: int, names: tuple[str, ...]) -> int | None:
    if token.isdigit():
        value = int(token)
    elif token.lower() in names:
        value = names.index(token.lower()) + low
    else:
        return None
    return value if low <= value <= high else None


def _field_ok(text: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    if "?" in text.split(",") and text != "?":
        return False  # "?" ("any") stands alone: croniter refuses "?,3", Dagster with it
    for item in text.split(","):
        if (names is _DAYS and re.fullmatch(r"[0-7]#[1-5]", item)) or (
                low == 1 and high == 31 and item == "L"):
            continue  # the n-th weekday, the month's last day (croniter's extensions)
        match = _ITEM.fullmatch(item)
        if match is None or (match["step"] is not None and int(match["step"]) < 1):
            return False
        if match["range"] in ("*", "?"):
            continue
        a = _value(match["a"], low, high, names)
        b = a if match["b"] is None else _value(match["b"], low, high, names)
        if a is None or b is None:  # a reversed range wraps around (5-1: 5..59, 0..1)
            return False
    return True


def check_cron(setting: str, cron: str) -> None:
    """Raise ``InvalidInputError`` naming ``setting`` unless ``cron`` is a five-field cron
    expression (or a shorthand such as ``@daily``) with every value in its field's range."""
    if cron.strip() in _SHORTHANDS:
        return
    parts = cron.split()
    if len(parts) != len(_FIELDS):
        raise InvalidInputError(
            f"{setting} must be a cron expression of 5 fields (minute hour day-of-month "
            f"month day-of-week, e.g. '0 2 * * *') or @daily, not {cron!r}")
    for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        if not _field_ok(part, low, high, names):
            raise InvalidInputError(
                f"{setting} {cron!r}: its {name} field {part!r} is not a value, range, list "
                f"or step within {low}..{high}")
    if _mixes_nth_weekdays(parts[4]):
        # croniter refuses the mix, and with it Dagster the whole code location.
        raise InvalidInputError(
            f"{setting} {cron!r}: its day of week field {parts[4]!r} mixes an n-th "
            "weekday (1#2) with other days; list n-th weekdays alone")
    days = _expand(parts[2], 1, 31, ())
    months = _expand(parts[3], 1, 12, _MONTHS)
    weekdays = parts[4].split(",")
    weeks = {int(item[2]) for item in weekdays if "#" in item}
    if weeks and all("#" in item or item == "*" for item in weekdays) and not any(
            7 * (k - 1) < d <= 7 * k for d in days for k in weeks):
        # With only n-th weekdays croniter wants the day of month too: the 2nd Monday
        # (days 8-14) on the 20th never comes, and every tick fails.
        raise InvalidInputError(
            f"{setting} {cron!r}: no day of month {parts[2]!r} is ever the n-th weekday "
            f"{parts[4]!r}, so the schedule would never run")
    if min(days) > max(_MONTH_DAYS[m - 1] for m in months):
        # Dagster loads such a schedule (it refuses only a lone 30 or 31 February) and
        # then fails every time it looks for the next tick: the nightly run never comes.
        raise InvalidInputError(
            f"{setting} {cron!r}: its day of month {parts[2]!r} is a day its months "
            f"{parts[3]!r} never have, so the schedule would never run")


def _mixes_nth_weekdays(text: str) -> bool:
    """croniter's rule for a day-of-week list with n-th weekdays (1#2): other days may be
    listed only if they are those weekdays, or if the list makes all seven days (croniter
    counts a ``*`` listed with them as one more item, not as every day)."""
    items = text.split(",")
    nth = {int(item[0]) % 7 for item in items if "#" in item}
    plain = [item for item in items if "#" not in item and item != "*"]
    if not nth or not plain:
        return False
    listed = {d % 7 for d in _expand(",".join(plain), 0, 7, _DAYS)}
    star: set[object] = {"*"} if "*" in items else set()
    return bool(listed - nth) and len(listed | nth | star) != 7


def _expand(text: str, low: int, high: int, names: tuple[str, ...]) -> set[int]:
    """The values a field (checked by ``_field_ok``) matches; ``L``, a month's last day,
    is 28 to 31."""
    values: set[int] = set()
    for item in text.split(","):
        if item == "L":
            values.update(range(28, 32))
            continue
        match = _ITEM.fullmatch(item)
        if match is None:  # refused by _field_ok before
            continue
        step = int(match["step"] or 1)
        if match["range"] in ("*", "?"):
            a, b = low, high
        else:
            a = _value(match["a"], low, high, names)
            b = _value(match["b"], low, high, names) if match["b"] is not None else (
                high if match["step"] is not None else a)  # "5/15": from 5 on
        if a is None or b is None:  # refused by _field_ok before
            continue
        span = list(range(a, b + 1)) if a <= b else [*range(a, high + 1), *range(low, b + 1)]
        values.update(span[::step])
    return values


def check_timezone(setting: str, name: str) -> None:
    """Raise ``InvalidInputError`` naming ``setting`` unless ``name`` is an IANA time zone
    this machine knows (the one Dagster will look up)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"{setting} must be an IANA time zone such as 'UTC' or 'Europe/Berlin', not "
            f"{name!r}") from exc
