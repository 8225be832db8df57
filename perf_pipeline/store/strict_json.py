"""The strict-JSON conventions of the files perf_pipeline writes and reads back (baseline,
analysis, confirmation, culprit, profile files, noise corpora).

JSON has no NaN or infinity, and ``json.dumps(..., allow_nan=False)`` refuses them, yet a
comparison legitimately carries them: an undefined ratio is NaN, the interval of too few
samples is infinite. They are written as the strings ``"nan"``, ``"inf"``, ``"-inf"`` so
the file stays strict JSON, and every file that holds such numbers uses this one codec.

Reading such a file back, a corrupt or hostile one must be an ``InvalidInputError`` naming
the file, never a raw exception the CLI reports as a crash: ``load_json`` turns every
failure of the parser into one (nesting past the interpreter's recursion limit is a
``RecursionError``, not a ``ValueError``), and ``MALFORMED`` lists what building the model
objects from parsed JSON raises on a file of the wrong shape (``float()`` of an integer
beyond float range is an ``OverflowError``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from perf_pipeline.errors import InvalidInputError

__all__ = ["MALFORMED", "decode_float", "encode_float", "load_json"]

#: What turning parsed JSON of the wrong shape into model objects raises: a missing key,
#: a value of the wrong type, a number beyond float range, ...
MALFORMED: tuple[type[Exception], ...] = (
    KeyError, TypeError, ValueError, AttributeError, OverflowError)


def load_json(raw: bytes | str, what: str) -> Any:
    """The parsed ``raw`` of ``what`` (e.g. "baseline file <path>"), or an
    ``InvalidInputError`` that names it: invalid UTF-8 or JSON, or nested too deep."""
    try:
        return json.loads(raw)
    except RecursionError as exc:
        raise InvalidInputError(f"{what} nests too deep to be read (corrupt?)") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInputError(
            f"{what} is not valid JSON (truncated or corrupt?): {exc}") from exc


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
