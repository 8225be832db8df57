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
    stream is corrupt or truncated, or would inflate past ``max_bytes``."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        text = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise InvalidInputError(f"{what} is corrupt gzip: {exc}") from exc
    if len(text) > max_bytes:
        raise InvalidInputError(f"{what} holds more than {max_bytes:,} bytes of text")
    if not inflater.eof:
        raise InvalidInputError(f"{what} is truncated gzip")
    return text
