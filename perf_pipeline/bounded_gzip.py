"""Inflate gzip data we did not write without letting a gzip bomb fill the memory.

Results files (``measure/json_input.py``) and noise corpora (``store/noise_corpus.py``)
may both come gzipped from anywhere; one bounded inflater serves both, so the limit and
the messages for a corrupt or truncated stream are the same everywhere.
"""

from __future__ import annotations

import zlib

from perf_pipeline.errors import InvalidInputError

__all__ = ["GZIP_MAGIC", "inflate_bounded"]

#: The first two bytes of every gzip stream.
GZIP_MAGIC = b"\x1f\x8b"


def inflate_bounded(data: bytes, what: str, max_bytes: int) -> bytes:
    """The inflated bytes of gzip ``data``; ``InvalidInputError`` naming ``what`` when the
    stream is corrupt or truncated, would inflate past ``max_bytes``, or has anything but
    further gzip members after its first.

    A gzip file may hold several members (``cat a.gz b.gz``, ``gzip -c part >> f.gz``),
    whose contents are one text: all are inflated, within one budget of ``max_bytes``.
    Reading only the first dropped the rest without a word, and accepted garbage after it.
    NUL padding between and after members is skipped, as ``gzip.decompress`` does.
    """
    parts: list[bytes] = []
    budget = max_bytes
    rest = data
    while True:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            text = inflater.decompress(rest, budget + 1)
        except zlib.error as exc:
            raise InvalidInputError(f"{what} is corrupt gzip: {exc}") from exc
        if len(text) > budget:
            raise InvalidInputError(f"{what} holds more than {max_bytes:,} bytes of text")
        if not inflater.eof:
            raise InvalidInputError(f"{what} is truncated gzip")
        parts.append(text)
        budget -= len(text)
        rest = inflater.unused_data.lstrip(b"\0")
        if not rest:
            return b"".join(parts)
        if not rest.startswith(GZIP_MAGIC):
            raise InvalidInputError(
                f"{what} has {len(rest):,} bytes after its gzip data that are not gzip")
