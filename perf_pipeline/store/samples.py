"""Packing raw time samples into a compact, exact BLOB.

A benchmark-run's samples are stored **sorted ascending**, as little-endian IEEE-754
float64, zlib-compressed when that is smaller. Every sample's bits come back, so every
statistic that does not depend on the order in which rounds were taken is exact: the
median, any quantile, min/max, mean and standard deviation (``math.fsum``), the MAD the
baseline uses, the fastest sample the confirmation uses, the distributions the reports
plot. Nothing in perf_pipeline reads the order; it is what makes fast benchmarks cheap.

Why sorted: pytest-benchmark takes hundreds of thousands of rounds of a sub-microsecond
function, and their timer-quantised values repeat: about 2,000 distinct values in
150,000 samples. In round order that is ~7 bits of entropy per sample (zlib reaches
1.5 B/sample, lzma 0.94), so 6M samples per run could never fit in 2 MB; sorted, equal
values sit together and zlib stores the same 150,000 samples in ~10 kB (0.07 B/sample).
Samples that rarely repeat (20 rounds of a slow benchmark) would shrink by ~12 % at a
cost that would dominate ingest, so they are stored as the plain array. Figures:
``benchmarks/sample_storage.py``.

Format: an empty BLOB for no samples; else one codec byte (``0``: plain float64,
``1``: zlib of float64) and the payload. The byte order is fixed so that a database
copied between machines reads the same. Databases of schema version 2 held the plain
float64 array without codec byte, in round order; migration 5 rewrites them.
"""

from __future__ import annotations

import operator
import sys
import zlib
from array import array
from collections.abc import Sequence
from itertools import islice

from perf_pipeline.errors import StoreError

__all__ = ["decode_legacy_samples", "decode_samples", "encode_samples",
           "encode_sorted_samples"]

_BIG_ENDIAN_HOST = sys.byteorder == "big"
_PLAIN = 0
_ZLIB = 1
#: zlib level: 6 is within 2 % of 9 on sorted samples at a third of the time.
_LEVEL = 6
#: Fewer samples are never compressed: zlib's set-up costs more than it can save.
_MIN_COMPRESSED = 32
#: Compress when at least this share of the samples repeat an earlier value.
_MIN_REPEATED = 0.25


def _float64_bytes(values: Sequence[float]) -> bytes:
    packed = array("d", values)
    if _BIG_ENDIAN_HOST:  # pragma: no cover - no big-endian CI machine
        packed.byteswap()
    return packed.tobytes()


def _from_float64_bytes(data: bytes, *, what: str) -> tuple[float, ...]:
    if len(data) % 8:
        raise StoreError(f"{what}: sample blob of {len(data)} bytes is not float64 data")
    packed = array("d")
    packed.frombytes(data)
    if _BIG_ENDIAN_HOST:  # pragma: no cover
        packed.byteswap()
    return tuple(packed)


def encode_samples(samples: Sequence[float]) -> bytes:
    """Sort ``samples`` and pack them as float64, compressed when that is smaller."""
    return encode_sorted_samples(sorted(samples))


def encode_sorted_samples(ordered: Sequence[float]) -> bytes:
    """``encode_samples`` of samples already sorted ascending (ingest sorts them once)."""
    if not ordered:
        return b""
    plain = _float64_bytes(ordered)
    if _repeats_enough(ordered):
        packed = zlib.compress(plain, _LEVEL)
        if len(packed) < len(plain):
            return bytes((_ZLIB,)) + packed
    return bytes((_PLAIN,)) + plain


def _repeats_enough(ordered: Sequence[float]) -> bool:
    """Whether zlib is worth its time: only repeated values make sorted samples shrink
    much (distinct ones save ~12 % for ~50 us per row, ingest's hot path)."""
    n = len(ordered)
    if n < _MIN_COMPRESSED:
        return False
    # sorted, so a repeat is a value equal to its neighbour: counted without a set,
    # which would hold an entry per sample (a 10M-sample ingest's peak went 3.3x -> 4.7x)
    repeats = sum(map(operator.eq, ordered, islice(ordered, 1, None)))
    return repeats >= n * _MIN_REPEATED


def decode_samples(blob: bytes, *, what: str) -> tuple[float, ...]:
    """Unpack a BLOB written by ``encode_samples`` (ascending); ``what`` names it in errors."""
    if not blob:
        return ()
    codec, payload = blob[0], blob[1:]
    if codec == _ZLIB:
        try:
            payload = zlib.decompress(payload)
        except zlib.error as exc:
            raise StoreError(f"{what}: sample blob is corrupt: {exc}") from exc
    elif codec != _PLAIN:
        raise StoreError(f"{what}: sample blob has unknown codec {codec}")
    return _from_float64_bytes(payload, what=what)


def decode_legacy_samples(blob: bytes, *, what: str) -> tuple[float, ...]:
    """Unpack a BLOB of schema version <= 2: plain float64, no codec byte."""
    return _from_float64_bytes(blob, what=what)
