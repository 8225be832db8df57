"""The part of a child's output worth keeping: its first lines and its end.

Output goes to temporary files rather than pipes (a suite may print megabytes; pipes
would fill up and block it); only what ``output_tail`` returns is kept.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["output_tail"]

_TAIL_BYTES = 4000
_HEAD_BYTES = 600
#: The bytes that continue a UTF-8 character (0b10xxxxxx): a cut may start among them.
_UTF8_CONTINUATION = bytes(range(0x80, 0xC0))


def output_tail(path: Path) -> str:
    """The end of a long output, plus its first lines.

    The end holds pytest's summary; the start holds what a crash prints first ("Fatal
    Python error: Segmentation fault" heads a stack dump that can be longer than the tail).
    Counted in bytes, the unit of the "left out" figure; an output barely over the limit
    is shown whole rather than as a head and a tail that overlap.
    """
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(0)
        if size <= _TAIL_BYTES + _HEAD_BYTES:
            return fh.read().decode("utf-8", errors="replace")
        head = fh.read(_HEAD_BYTES)
        head = head.rpartition(b"\n")[0] or head  # whole lines, if it has a line end
        fh.seek(size - _TAIL_BYTES)
        tail = fh.read().lstrip(_UTF8_CONTINUATION)  # start on a whole character
    left_out = size - len(head) - len(tail)
    return (f"{head.decode('utf-8', errors='replace')}\n[... {left_out} bytes left out ...]\n"
            f"{tail.decode('utf-8', errors='replace')}")
