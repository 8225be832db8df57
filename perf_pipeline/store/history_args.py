"""Checks of ``HistoryStore``'s arguments, made before any SQL runs.

A bad argument fails the same way on either backend, as an ``InvalidInputError`` that
names the parameter, instead of as whatever the database makes of it.
"""

from __future__ import annotations

from collections.abc import Sequence

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import RunStatus

__all__ = ["check_count", "check_strings", "check_timeout", "run_status"]


def check_timeout(timeout_s: object, *, name: str = "timeout_s") -> None:
    if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
        raise InvalidInputError(f"`{name}` must be > 0, not {timeout_s!r}")


def check_count(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 0):
        raise InvalidInputError(f"`{name}` must be a whole number >= 0, not {value!r}")


def check_strings(name: str, values: Sequence[str] | None, *, allow_empty: bool) -> None:
    if values is None:
        return
    if isinstance(values, (str, bytes)) or not all(isinstance(v, str) for v in values):
        raise InvalidInputError(f"`{name}` must be a sequence of strings, not {values!r}")
    if not allow_empty and not values:
        raise InvalidInputError(f"`{name}` must not be empty")


def run_status(value: RunStatus | str | None) -> RunStatus | None:
    """``value`` as a ``RunStatus`` (None stays None: any status)."""
    if value is None:
        return None
    try:
        return RunStatus(value)
    except ValueError as exc:
        raise InvalidInputError(f"`status` must be one of "
                                f"{'/'.join(s.value for s in RunStatus)}, not {value!r}") from exc
