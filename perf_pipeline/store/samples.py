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

Samples travel as ``model.Samples`` (a float64 buffer), so encoding a benchmark of ten
million samples is one numpy sort and, when it does not compress, no copy at all: the
BLOB's payload is the sorted array's own bytes (``SampleBlob``), which ingest writes
into the db in pieces (``ingest.py``) rather than as one more 80 MB ``bytes``.

Format: an empty BLOB for no samples; else one codec byte (``0``: plain float64,
``1``: zlib of float64) and the payload. The byte order is fixed so that a database
copied between machines reads the same. Databases of schema version 2 held the plain
float64 array without codec byte, in round order; migration 5 rewrites them.
"""

from __future__ import annotations

import operator
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from perf_pipeline.errors import StoreError
from perf_pipeline.model import Samples

__all__ = ["SampleBlob", "decode_legacy_samples", "decode_samples", "encode_samples",
           "encode_sorted_blob", "encode_sorted_samples"]

_LITTLE_ENDIAN_HOST = sys.byteorder == "little"
_PLAIN = 0
_ZLIB = 1
#: zlib level: 6 is within 2 % of 9 on sorted samples at a third of the time.
_LEVEL = 6
#: Fewer samples are never compressed: zlib's set-up costs more than it can save.
_MIN_COMPRESSED = 32
#: Compress when at least this share of the samples repeat an earlier value.
_MIN_REPEATED = 0.25
#: From this many samples on, repeats are counted by numpy (no float object per sample).
_NUMPY_FROM = 4096


@dataclass(frozen=True, slots=True)
class SampleBlob:
    """An encoded BLOB as its codec byte (``header``; empty for no samples) and its
    ``payload``, kept apart so a large plain one is the sorted samples' own buffer and
    can be written into the db in pieces without ever being one ``bytes`` object."""

    header: bytes
    payload: bytes | memoryview  # unsigned bytes

    @property
    def size(self) -> int:
        """The BLOB's length in bytes."""
        return len(self.header) + memoryview(self.payload).nbytes

    def tobytes(self) -> bytes:
        """The whole BLOB (one copy of the payload)."""
        return self.header + self.payload

    def pieces(self, size: int = 1 << 20) -> Iterator[bytes | memoryview]:
        """The BLOB in order, in pieces of at most ``size`` bytes (views, no copies)."""
        if self.header:
            yield self.header
        payload = memoryview(self.payload)
        for start in range(0, payload.nbytes, size):
            yield payload[start:start + size]


def _float64_bytes(values: Samples) -> memoryview:
    """Little-endian float64 bytes of ``values``: a view of their buffer where the host
    is little-endian (every CI machine), else a swapped copy."""
    if _LITTLE_ENDIAN_HOST:
        return values.buffer.cast("B")
    import array  # pragma: no cover - no big-endian CI machine

    swapped = array.array("d", values.buffer.cast("B").tobytes())  # pragma: no cover
    swapped.byteswap()  # pragma: no cover
    return memoryview(swapped).cast("B")  # pragma: no cover


def encode_samples(samples: Sequence[float]) -> bytes:
    """Sort ``samples`` and pack them as float64, compressed when that is smaller."""
    return encode_sorted_samples(Samples(samples).sorted_copy())


def encode_sorted_samples(ordered: Sequence[float]) -> bytes:
    """``encode_samples`` of samples already sorted ascending (ingest sorts them once)."""
    return encode_sorted_blob(Samples(ordered)).tobytes()


def encode_sorted_blob(ordered: Samples) -> SampleBlob:
    """``encode_sorted_samples`` as a ``SampleBlob``: a plain payload is a view of
    ``ordered``'s buffer (which must then stay unchanged: ``Samples`` are read-only)."""
    if not ordered:
        return SampleBlob(b"", b"")
    plain = _float64_bytes(ordered)
    if _repeats_enough(ordered):
        packed = zlib.compress(plain, _LEVEL)
        if len(packed) < plain.nbytes:
            return SampleBlob(bytes((_ZLIB,)), packed)
    return SampleBlob(bytes((_PLAIN,)), plain)


def _repeats_enough(ordered: Samples) -> bool:
    """Whether zlib is worth its time: only repeated values make sorted samples shrink
    much (distinct ones save ~12 % for ~50 us per row, ingest's hot path)."""
    n = len(ordered)
    if n < _MIN_COMPRESSED:
        return False
    # sorted, so a repeat is a value equal to its neighbour: counted without a set,
    # which would hold an entry per sample (a 10M-sample ingest's peak went 3.3x -> 4.7x)
    if n < _NUMPY_FROM:
        repeats = sum(map(operator.eq, ordered, islice(ordered, 1, None)))
    else:
        import numpy as np  # loaded anyway by the commands that ingest (sqlite-utils)

        values = np.asarray(ordered)
        repeats = int(np.count_nonzero(values[1:] == values[:-1]))
    return repeats >= n * _MIN_REPEATED


def _from_float64_bytes(data: bytes | memoryview, *, what: str) -> Samples:
    if memoryview(data).nbytes % 8:
        raise StoreError(f"{what}: sample blob of {memoryview(data).nbytes} bytes is not "
                         f"float64 data")
    return Samples.from_bytes(data, True)


def decode_samples(blob: bytes, *, what: str) -> Samples:
    """Unpack a BLOB written by ``encode_samples`` (ascending); ``what`` names it in errors."""
    if not blob:
        return Samples()
    codec, payload = blob[0], memoryview(blob)[1:]  # a view: no copy of a large BLOB
    if codec == _ZLIB:
        try:
            return _from_float64_bytes(zlib.decompress(payload), what=what)
        except zlib.error as exc:
            raise StoreError(f"{what}: sample blob is corrupt: {exc}") from exc
    if codec != _PLAIN:
        raise StoreError(f"{what}: sample blob has unknown codec {codec}")
    return _from_float64_bytes(payload, what=what)


def decode_legacy_samples(blob: bytes, *, what: str) -> Samples:
    """Unpack a BLOB of schema version <= 2: plain float64, no codec byte."""
    return _from_float64_bytes(blob, what=what)
