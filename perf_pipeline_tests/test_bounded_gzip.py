"""``inflate_bounded``: every gzip member is read within one byte budget, and anything
else after the gzip data is refused by name."""

from __future__ import annotations

import gzip

import pytest

from perf_pipeline.bounded_gzip import inflate_bounded
from perf_pipeline.errors import InvalidInputError

TEXT = b'{"benchmarks": [1, 2, 3, 4]}'


def test_a_single_member_inflates() -> None:
    assert inflate_bounded(gzip.compress(TEXT), "f.json.gz", 1 << 20) == TEXT


def test_concatenated_members_are_one_text() -> None:
    """``cat a.gz b.gz`` or ``gzip -c part >> f.gz``: only the first member was read."""
    data = gzip.compress(TEXT[:10]) + gzip.compress(TEXT[10:20]) + gzip.compress(TEXT[20:])
    assert inflate_bounded(data, "f.json.gz", 1 << 20) == TEXT == gzip.decompress(data)
    padded = gzip.compress(TEXT[:10]) + b"\0" * 7 + gzip.compress(TEXT[10:]) + b"\0\0"
    assert inflate_bounded(padded, "f.json.gz", 1 << 20) == TEXT


@pytest.mark.parametrize("tail", [b"garbage appended by a bad copy", b"\0\0x", b"\x1f"])
def test_trailing_bytes_that_are_not_gzip_are_refused(tail: bytes) -> None:
    with pytest.raises(InvalidInputError, match=r"f\.json\.gz has \d+ bytes after its gzip data"):
        inflate_bounded(gzip.compress(TEXT) + tail, "f.json.gz", 1 << 20)


def test_the_byte_budget_covers_all_members() -> None:
    data = gzip.compress(TEXT) + gzip.compress(TEXT)
    assert inflate_bounded(data, "f", 2 * len(TEXT)) == TEXT * 2
    with pytest.raises(InvalidInputError, match="more than"):
        inflate_bounded(data, "f", 2 * len(TEXT) - 1)


def test_a_truncated_second_member_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="truncated"):
        inflate_bounded(gzip.compress(TEXT) + gzip.compress(TEXT)[:-5], "f", 1 << 20)
