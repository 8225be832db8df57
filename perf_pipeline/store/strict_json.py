"""The strict-JSON conventions of the files perf_pipeline writes (analysis, confirmation,
culprit files).

JSON has no NaN or infinity, and ``json.dumps(..., allow_nan=False)`` refuses them, yet a
comparison legitimately carries them: an undefined ratio is NaN, the interval of too few
samples is infinite. They are written as the strings ``"nan"``, ``"inf"``, ``"-inf"`` so
the file stays strict JSON, and every file that holds such numbers uses this one codec.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["decode_float", "encode_float"]


def encode_float(value: float | None) -> float | str | None:
    """``value`` as strict JSON can hold it: finite numbers and ``None`` unchanged,
    non-finite ones as ``"nan"``/``"inf"``/``"-inf"``."""
    if value is None or math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def decode_float(value: Any) -> float:
    """Inverse of ``encode_float`` for a non-``None`` value: ``float()`` parses the strings
    it writes as well as plain numbers."""
    return float(value)
