"""Human-readable numbers for every report format.

Markdown, HTML and PNG reports and the CLI must agree on how a value is written
(``1.23 ms``, ``512.0 MiB``), so the formatting lives in one place, keyed by the ``unit``
of a ``MetricSpec``. Times pick their unit (ns, µs, ms, s) from the value, so a
sub-microsecond median never shows as ``0.000 ms``.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from perf_pipeline.model import METRICS

__all__ = [
    "format_bytes",
    "format_count",
    "format_level",
    "format_metric",
    "format_p_value",
    "format_ratio",
    "format_seconds",
    "metric_label",
    "ratio_number",
    "seconds_scale",
]

_TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
_BYTE_UNITS = ((1.0, "B"), (1024.0, "KiB"), (1024.0**2, "MiB"), (1024.0**3, "GiB"))
#: From here a value shows in the next unit up: three digits at most, and no "1000 µs"
#: or "1024 KiB" where "1.00 ms" and "1.00 MiB" are meant. report.js:fmt uses the same.
_ROLLOVER = 999.5


def _three_digits(value: float) -> str:
    """Three significant digits without scientific notation for the usual range."""
    mag = abs(value)
    if mag >= 100:
        return f"{value:.0f}"
    if mag >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def seconds_scale(seconds: float) -> tuple[float, str]:
    """The divisor and unit that show ``seconds`` with 1 to 3 digits before the point."""
    mag = abs(seconds)
    for factor, unit in _TIME_UNITS:
        if mag >= factor:
            return factor, unit
    return 1e-9, "ns"


def _sign(value: float, signed: bool) -> str:
    return "+" if signed and value > 0 else ""


def format_seconds(seconds: float | None, *, signed: bool = False) -> str:
    """``0.00123`` → ``"1.23 ms"``; ``None``/NaN → ``"–"``.

    ``signed`` writes a ``+`` before positive values, for differences (``+12.3 µs``).
    """
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds == 0:
        return "0 s"
    factor, unit = seconds_scale(seconds)
    if abs(seconds) / factor >= _ROLLOVER and factor < 1:  # 999.7 µs rounds to "1.00 ms"
        factor, unit = seconds_scale(seconds * 1.001)
    return f"{_sign(seconds, signed)}{_three_digits(seconds / factor)} {unit}"


def format_bytes(n_bytes: float | None, *, signed: bool = False) -> str:
    """Binary units, because RSS and allocator figures are powers of two at heart."""
    if n_bytes is None or not math.isfinite(n_bytes):
        return "–"
    mag, i = abs(n_bytes), 0
    while i + 1 < len(_BYTE_UNITS) and mag >= _BYTE_UNITS[i + 1][0]:
        i += 1
    if i + 1 < len(_BYTE_UNITS) and mag / _BYTE_UNITS[i][0] >= _ROLLOVER:
        i += 1  # 1 MiB - 1 B is "1.00 MiB", not "1024 KiB"; 1000 KiB is "0.98 MiB"
    factor, unit = _BYTE_UNITS[i]
    if unit == "B":
        return f"{_sign(n_bytes, signed)}{n_bytes:.0f} B"
    return f"{_sign(n_bytes, signed)}{_three_digits(n_bytes / factor)} {unit}"


def format_metric(metric: str, value: float | None) -> str:
    """Format ``value`` according to the unit of ``metric`` (see ``METRICS``)."""
    if value is None or not math.isfinite(value):
        return "–"
    spec = METRICS.get(metric)
    unit = spec.unit if spec else ""
    if unit == "s":
        return format_seconds(value)
    if unit == "B":
        return format_bytes(value)
    return format_count(value)


def format_count(value: float) -> str:
    """A count (or a median of counts): ``123,456``, never ``1.235e+05``; a fraction keeps
    three significant digits."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return _three_digits(value)


def metric_label(metric: str) -> str:
    """The short human label of a metric, or its key when unknown."""
    spec = METRICS.get(metric)
    return spec.label if spec else metric


def ratio_number(ratio: float | None, *, near_one: bool = True) -> str:
    """A ratio (or an end of its interval) without the ``×``: two decimals, three within
    1 % of 1 (``near_one``), and two significant digits below 0.1, so a 250x speed-up is
    ``0.0040``, not ``0.00`` — a ratio of zero. ``None``/NaN/inf → ``"–"``.
    report.js:ratioNum writes ratios the same way."""
    if ratio is None or not math.isfinite(ratio):
        return "–"
    mag = abs(ratio)
    if 0 < mag < 0.1:
        return f"{ratio:.{1 - math.floor(math.log10(mag))}f}"
    return f"{ratio:.3f}" if near_one and abs(ratio - 1) < 0.01 else f"{ratio:.2f}"


def format_ratio(ratio: float | None) -> str:
    """``1.234`` → ``"1.23×"``; ``0.004`` → ``"0.0040×"`` (``ratio_number``)."""
    if ratio is None or not math.isfinite(ratio):
        return "–"
    return f"{ratio_number(ratio)}×"


def format_p_value(p: float | None) -> str:
    """Small p-values in scientific notation, others with three decimals."""
    if p is None or not math.isfinite(p):
        return "–"
    if p < 0.001:
        return f"{p:.1e}"
    return f"{p:.3f}"


def format_level(alpha: float) -> str:
    """The confidence level of significance ``alpha``, exactly: ``0.005`` → ``"99.5 %"``,
    ``0.05`` → ``"95 %"``.

    ``f"{1 - alpha:.0%}"`` rounded 99.5 % and 99.9 % up to "100%", an interval no test
    has. The level is worked out in decimal from ``alpha`` as written (``repr``), so no
    binary fraction shows as ``99.49999999999999``.
    """
    try:
        level = (1 - Decimal(repr(float(alpha)))) * 100
    except (InvalidOperation, TypeError, ValueError):
        return "–"
    if not level.is_finite():
        return "–"
    return f"{level.normalize():f} %"
