"""The sample BLOB codec: exact bits, sorted, compressed only when it pays."""

from __future__ import annotations

import math
import random
import struct

import pytest

from perf_pipeline.errors import StoreError
from perf_pipeline.store.samples import decode_samples, encode_samples


def _bits(values: tuple[float, ...]) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


def test_every_bit_comes_back_sorted() -> None:
    samples = (3e-9, 1.0000000000000002, 5e-324, -0.0, 0.1 + 0.2, math.ulp(1.0))
    blob = encode_samples(samples)
    assert blob[0] == 0  # distinct values: the plain array
    got = decode_samples(blob, what="x")
    assert _bits(got) == _bits(tuple(sorted(samples)))
    assert encode_samples(()) == b"" and decode_samples(b"", what="x") == ()


def test_repeated_values_of_a_fast_benchmark_are_compressed() -> None:
    rng = random.Random(3)
    samples = [(1000 + int(rng.expovariate(0.05))) * 1e-9 / 100 for _ in range(100_000)]
    blob = encode_samples(samples)
    assert blob[0] == 1 and len(blob) < len(samples) * 8 / 20
    assert decode_samples(blob, what="x") == tuple(sorted(samples))


@pytest.mark.parametrize(("blob", "message"), [
    (b"\x01not zlib", "corrupt"),
    (b"\x07" + bytes(8), "unknown codec 7"),
    (b"\x00" + bytes(7), "not float64"),
])
def test_a_damaged_blob_is_a_store_error_naming_it(blob: bytes, message: str) -> None:
    with pytest.raises(StoreError, match=f"run r benchmark 't'.*{message}"):
        decode_samples(blob, what="run r benchmark 't'")
