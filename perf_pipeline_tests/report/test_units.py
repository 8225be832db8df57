"""Human-readable numbers (``report/units.py``): a value just below a unit boundary."""

from __future__ import annotations

import pytest

from perf_pipeline.report.units import format_bytes, format_seconds


@pytest.mark.parametrize(("n_bytes", "text"), [
    (999.0, "999 B"),
    (1023.0, "1.00 KiB"),
    (1536.0, "1.50 KiB"),
    (1000 * 1024.0, "0.98 MiB"),
    (1024.0**2 - 1, "1.00 MiB"),  # was "1024 KiB"
    (1024.0**3 - 1, "1.00 GiB"),  # was "1024 MiB"
    (-(1024.0**2 - 1), "-1.00 MiB"),
    (5.0 * 1024**4, "5120 GiB"),  # no unit above GiB
    (0.0, "0 B"),
])
def test_bytes_roll_over_to_the_next_unit(n_bytes: float, text: str) -> None:
    assert format_bytes(n_bytes) == text


def test_seconds_and_bytes_roll_over_alike() -> None:
    assert format_seconds(0.0009996) == "1.00 ms"
    assert format_bytes(0.9996 * 2**20) == "1.00 MiB"
